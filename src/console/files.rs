//! `GET /console/files/{bucket}/{name}`: an object's bytes, read from the local bucket
//! folder (`<data dir>/buckets/<bucket>/`), for the console's pictures and downloads. The
//! path cannot leave that folder: `..`, `.`, empty segments, backslashes and NUL are
//! refused before the file system is asked, and the resolved path (symlinks followed) must
//! still lie inside the bucket folder, itself inside `buckets/`. Images are served as what
//! their bytes are; anything else as an `application/octet-stream` attachment, so an
//! uploaded HTML or SVG file never runs on the console's origin.

use super::Loopback;
use super::layout::no_sniff;
use crate::state::AppState;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use actix_web::{HttpResponse, web};
use std::path::{Path, PathBuf};

/// Why a file is not served.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The name could point outside the bucket folder.
    Unsafe,
    /// There is no such file inside it.
    Missing,
}

pub(crate) async fn file(
    _: Loopback,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (bucket, name) = path.into_inner();
    let buckets = state.settings.local.data_dir.join("buckets");
    let read = web::block(move || {
        let file = resolve(&buckets, &bucket, &name)?;
        std::fs::read(file).map_err(|_| Refused::Missing)
    })
    .await;
    let mut response = match read {
        Ok(Ok(bytes)) => serve(bytes),
        Ok(Err(Refused::Unsafe)) => {
            HttpResponse::BadRequest().body("this name would leave the bucket folder")
        }
        Ok(Err(Refused::Missing)) => HttpResponse::NotFound().body("no such object file"),
        Err(e) => HttpResponse::ServiceUnavailable().body(format!("could not read it: {e}")),
    };
    no_sniff(&mut response);
    response
}

/// The answer for an object's bytes: an image as its sniffed type, the rest as a download.
fn serve(bytes: Vec<u8>) -> HttpResponse {
    match crate::imaging::sniff(&bytes) {
        Some(format) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, format.content_type()))
            .body(bytes),
        None => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "application/octet-stream"))
            .insert_header((CONTENT_DISPOSITION, HeaderValue::from_static("attachment")))
            .body(bytes),
    }
}

/// The file of `bucket`/`name` under `buckets`, if it is a regular file inside the bucket
/// folder once every symlink is resolved.
pub(crate) fn resolve(buckets: &Path, bucket: &str, name: &str) -> Result<PathBuf, Refused> {
    if !safe_segment(bucket) || !name.split('/').all(safe_segment) {
        return Err(Refused::Unsafe);
    }
    let buckets = buckets.canonicalize().map_err(|_| Refused::Missing)?;
    let bucket_dir = buckets
        .join(bucket)
        .canonicalize()
        .map_err(|_| Refused::Missing)?;
    if !bucket_dir.starts_with(&buckets) {
        return Err(Refused::Unsafe);
    }
    let mut path = bucket_dir.clone();
    path.extend(name.split('/'));
    let real = path.canonicalize().map_err(|_| Refused::Missing)?;
    if !real.starts_with(&bucket_dir) {
        return Err(Refused::Unsafe);
    }
    match real.is_file() {
        true => Ok(real),
        false => Err(Refused::Missing),
    }
}

/// One path segment that names an entry of its folder and nothing else.
fn safe_segment(segment: &str) -> bool {
    !matches!(segment, "" | "." | "..")
        && !segment.contains(['\\', '\0'])
        && !segment.chars().any(char::is_control)
}
