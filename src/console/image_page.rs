//! `GET /console/images/{name}`: one upload: the original, every variant and the thumbnail
//! side by side with their dimensions, bytes and format; what the record gives a web page
//! (`web_fields`); the verdict and its likelihoods;
//! the error if it failed; the events this process ran for it; the record as JSON.

use super::Loopback;
use super::events::events_table;
use super::layout::{file_url, frame, generation_time, html_response, human_bytes};
use super::listing::{self, Upload};
use super::probabilities::{self, ClassProbabilities};
use crate::domain::{ImageRecord, Moderation, SafeSearchCategory};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

/// The built-in model's class probabilities, when the verdict is its.
type Classes = Result<ClassProbabilities, String>;

/// One picture on the page.
struct Picture {
    label: String,
    bucket: String,
    name: String,
    width: Option<u32>,
    height: Option<u32>,
    bytes: Option<u64>,
    format: Option<String>,
}

pub(crate) async fn page(
    _: Loopback,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let name = name.into_inner();
    let upload = match listing::upload(&state, &name).await {
        Ok(Some(upload)) => upload,
        Ok(None) => {
            let body = html! { h1 { (name) } p { "There is no upload of this name." } };
            let mut response = html_response(frame(&name, body));
            *response.status_mut() = actix_web::http::StatusCode::NOT_FOUND;
            return response;
        }
        Err(e) => {
            let body = html! { h1 { (name) } p.error { "Could not read it: " (e) } };
            let mut response = html_response(frame(&name, body));
            *response.status_mut() = actix_web::http::StatusCode::SERVICE_UNAVAILABLE;
            return response;
        }
    };
    let events = state.journal.for_image(&upload.info.bucket, &name);
    let classes = match &upload.record {
        Some(record) => probabilities::for_record(&state, record).await,
        None => None,
    };
    let body = html! {
        h1 { (name) " " span class={ "status " (upload.status) } { (upload.status) } }
        p.meta {
            "gs://" (upload.info.bucket) "/" (name) " · generation " (upload.info.generation)
            " · uploaded " (generation_time(upload.info.generation))
        }
        @match &upload.record {
            Some(record) => (record_sections(record, classes)),
            None => (no_record(&upload)),
        }
        section #events {
            h2 { "Events" }
            (events_table(&events, "This process has run no event for this image (yet)."))
        }
        @if let Some(record) = &upload.record {
            section #record {
                h2 { "Record" }
                pre { (serde_json::to_string_pretty(record).unwrap_or_default()) }
            }
        }
    };
    html_response(frame(&name, body))
}

fn record_sections(record: &ImageRecord, classes: Option<Classes>) -> Markup {
    html! {
        @if let Some(error) = &record.error {
            section #error { h2 { "Error" } p.error { (error) } }
        }
        @if !record.warnings.is_empty() {
            section #warnings { h2 { "Warnings" } ul { @for w in &record.warnings { li { (w) } } } }
        }
        section #pictures {
            h2 { "Pictures" }
            div.pictures { @for p in pictures(record) { (figure(&p)) } }
        }
        (super::web_fields::section(record))
        section #verdict {
            h2 { "Verdict" }
            @match &record.moderation {
                Some(m) => div.verdict-tables { div { (verdict(m)) } (class_table(classes)) },
                None => p { "Not moderated yet." },
            }
        }
    }
}

fn no_record(upload: &Upload) -> Markup {
    let explanation = match upload.status {
        "skipped" => "This upload is not an image: the pipeline skipped it and keeps no record.",
        _ => "No record yet: the pipeline has not reached this upload.",
    };
    html! {
        p { (explanation) }
        p { a href=(file_url(&upload.info.bucket, &upload.info.name)) { "Download the upload" }
            " (" (human_bytes(upload.info.size_bytes)) ")" }
    }
}

/// The original, each variant, then the thumbnail.
fn pictures(record: &ImageRecord) -> Vec<Picture> {
    let original = Picture {
        label: "original".to_owned(),
        bucket: record.bucket.clone(),
        name: record.name.clone(),
        width: record.width,
        height: record.height,
        bytes: record.size_bytes,
        format: record.format.clone(),
    };
    let derived = record
        .variants
        .iter()
        .chain(&record.thumbnail)
        .chain(&record.thumbnail_formats)
        .map(|v| Picture {
            label: v.size.clone(),
            bucket: v.bucket.clone(),
            name: v.name.clone(),
            width: Some(v.width),
            height: Some(v.height),
            bytes: Some(v.bytes),
            format: Some(v.format.clone()),
        });
    std::iter::once(original).chain(derived).collect()
}

fn figure(p: &Picture) -> Markup {
    let url = file_url(&p.bucket, &p.name);
    html! {
        figure data-label=(p.label) {
            a href=(url) {
                img src=(url) alt={ (p.label) " of " (p.name) }
                    width=[p.width] height=[p.height];
            }
            figcaption {
                strong { (p.label) }
                br;
                @if let (Some(w), Some(h)) = (p.width, p.height) { (w) "×" (h) " · " }
                @if let Some(b) = p.bytes { (human_bytes(b)) " · " }
                (p.format.as_deref().unwrap_or("?"))
            }
        }
    }
}

fn verdict(m: &Moderation) -> Markup {
    html! {
        p {
            strong class={ "verdict " (m.verdict.as_str()) } { (m.verdict.as_str()) }
            " by " (m.backend)
            @if let Some(action) = &m.action { " · action: " (action) }
            @if let Some(from) = &m.reused_from { " · reused from " (from) " (identical bytes)" }
        }
        @if let Some(error) = &m.error { p.error { "Moderator error: " (error) } }
        @if let Some(l) = &m.likelihoods {
            table.likelihoods {
                @for c in SafeSearchCategory::ALL {
                    tr { th { (c.as_str()) } td { (l.get(c).as_api_name()) } }
                }
            }
        }
    }
}

/// The class probabilities' table, or why they could not be computed.
fn class_table(classes: Option<Classes>) -> Markup {
    html! {
        @match classes {
            Some(Ok(p)) => table.classes {
                caption { "Class probabilities of the " (p.picture) " picture (built-in model)" }
                @for (class, probability) in &p.classes {
                    tr { th { (class) } td { (format!("{:.1} %", probability * 100.0)) } }
                }
            },
            Some(Err(e)) => p.error { "Class probabilities: " (e) },
            None => {},
        }
    }
}
