//! `GET /console`: the upload box and the list of every upload, newest first, filterable by
//! status; `GET /console/rows` is the list's body alone, which the page's script fetches
//! every second so rows change while events run. `PUT /console/upload/{name}` is the
//! page's upload: the upload route's own handler, once the token is checked.

use super::layout::{file_url, frame, generation_time, html_response, human_bytes, image_url};
use super::listing::{self, STATUSES, Upload};
use super::{Authorized, Loopback};
use crate::router::upload;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct Filter {
    status: Option<String>,
}

impl Filter {
    /// The status to show, if a known one was asked for.
    fn status(&self) -> Option<&'static str> {
        let wanted = self.status.as_deref()?;
        STATUSES.into_iter().find(|s| *s == wanted)
    }
}

pub(crate) async fn page(
    _: Loopback,
    filter: web::Query<Filter>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let status = filter.status();
    let rows = rows_markup(&state, status).await;
    let rows_url = match status {
        Some(s) => format!("/console/rows?status={s}"),
        None => "/console/rows".to_owned(),
    };
    let body = html! {
        section #upload {
            h1 { "Images" }
            label #drop for="files" {
                "Drop photos anywhere on this page, or "
                input #files type="file" multiple;
            }
            ul #uploads {}
        }
        nav.filter aria-label="Filter by status" {
            a href="/console" aria-current=[status.is_none().then_some("page")] { "all" }
            @for s in STATUSES {
                a href={ "/console?status=" (s) }
                    aria-current=[(status == Some(s)).then_some("page")] { (s) }
            }
        }
        table.images {
            thead { tr {
                th { "Thumbnail" } th { "Name" } th { "Status" } th { "Verdict" }
                th { "Size" } th { "Bytes" } th { "Outputs" } th { "Uploaded" }
            } }
            tbody #rows data-poll=(rows_url) { (rows) }
        }
    };
    html_response(frame("Images", body))
}

pub(crate) async fn rows(
    _: Loopback,
    filter: web::Query<Filter>,
    state: web::Data<AppState>,
) -> HttpResponse {
    html_response(rows_markup(&state, filter.status()).await)
}

pub(crate) async fn upload(
    _: Authorized,
    req: HttpRequest,
    name: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let bucket = state.settings.local.upload_bucket.clone();
    let path = web::Path::from((bucket, name.into_inner()));
    upload::upload(req, path, body, state).await
}

async fn rows_markup(state: &AppState, status: Option<&str>) -> Markup {
    match listing::uploads(state, status).await {
        Ok(uploads) if uploads.is_empty() => html! {
            tr { td.empty colspan="8" { "No uploads yet: drop some photos above." } }
        },
        Ok(uploads) => html! { @for u in &uploads { (row(u)) } },
        Err(e) => html! {
            tr { td.error colspan="8" { "The list could not be read: " (e) } }
        },
    }
}

fn row(upload: &Upload) -> Markup {
    let info = &upload.info;
    let record = upload.record.as_ref();
    let thumbnail = record.and_then(|r| r.thumbnail.as_ref());
    let verdict = record
        .and_then(|r| r.moderation.as_ref())
        .map(|m| m.verdict.as_str());
    let size = record.and_then(|r| r.width.zip(r.height));
    let outputs = record.map_or(0, |r| r.variants.len() + usize::from(r.thumbnail.is_some()));
    html! {
        tr data-name=(info.name) data-status=(upload.status) {
            td.thumb {
                @if let Some(t) = thumbnail {
                    img src=(file_url(&t.bucket, &t.name)) alt={ "thumbnail of " (info.name) }
                        width=(t.width) height=(t.height) loading="lazy";
                }
            }
            td.name { a href=(image_url(&info.name)) { (info.name) } }
            td { span class={ "status " (upload.status) } { (upload.status) } }
            td { (verdict.unwrap_or("")) }
            td { @if let Some((w, h)) = size { (w) "×" (h) } }
            td { (human_bytes(info.size_bytes)) }
            td { @if outputs > 0 { (outputs) } }
            td { time { (generation_time(info.generation)) } }
        }
    }
}
