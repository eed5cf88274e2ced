//! `GET /console/files/{bucket}/{name}`: an object's bytes, for the console's pictures and
//! downloads and the local profile's `srcset` URLs (`resize.public_base_url`). Read through
//! the object store, so only objects written through it are served (a file planted in the
//! data folder, a symlink included, has no row and is not), and each is found where the
//! store keeps it (names with capitals or non-ASCII letters are percent-encoded on disk).
//! `..`, `.`, empty segments, backslashes, NUL and control characters are refused before
//! the store is asked. Images are served as what their bytes are; anything else as an
//! `application/octet-stream` attachment, so an uploaded HTML or SVG file never runs on
//! the console's origin.

use super::Loopback;
use super::layout::no_sniff;
use crate::domain::ObjectRef;
use crate::state::AppState;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use actix_web::{HttpResponse, web};

pub(crate) async fn file(
    _: Loopback,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (bucket, name) = path.into_inner();
    let mut response = if !safe_segment(&bucket) || !name.split('/').all(safe_segment) {
        HttpResponse::BadRequest().body("this name would leave the bucket folder")
    } else {
        match state
            .backends
            .store
            .read(&ObjectRef::new(bucket, name))
            .await
        {
            Ok(bytes) => serve(bytes.to_vec()),
            Err(e) if e.is_not_found() => HttpResponse::NotFound().body("no such object"),
            Err(e) if !e.is_transient() => HttpResponse::BadRequest().body(e.to_string()),
            Err(e) => HttpResponse::ServiceUnavailable().body(format!("could not read it: {e}")),
        }
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

/// One path segment that names an entry of its folder and nothing else.
fn safe_segment(segment: &str) -> bool {
    !matches!(segment, "" | "." | "..")
        && !segment.contains(['\\', '\0'])
        && !segment.chars().any(char::is_control)
}
