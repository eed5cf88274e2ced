//! What every console page shares: the frame (head, navigation, the token in a `<meta>`),
//! the response headers that keep pages and files on this origin, and small formatters.

use super::Console;
use actix_web::HttpResponse;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use maud::{DOCTYPE, Markup, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Scripts, styles and pictures from this origin only; no framing, no foreign forms.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
    base-uri 'none'; frame-ancestors 'none'";

/// Characters kept as they are in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A whole page inside the console's frame.
pub(crate) fn frame(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="console-token" content=(Console::get().token());
                title { (title) " · image-pipeline console" }
                link rel="icon" href="/console/assets/favicon.svg";
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                header {
                    strong { "image-pipeline" }
                    nav {
                        a href="/console" { "Images" }
                        a href="/console/queue" { "Queue and dead letters" }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A 200 HTML answer with the console's security headers.
pub(crate) fn html_response(markup: Markup) -> HttpResponse {
    let mut response = HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .body(markup.into_string());
    no_sniff(&mut response);
    response
}

/// `X-Content-Type-Options: nosniff`, `no-cache` and no referrer on any console answer.
pub(crate) fn no_sniff(response: &mut HttpResponse) {
    let headers = response.headers_mut();
    headers.insert(
        actix_web::http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        actix_web::http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// An object name as a URL path: each `/`-separated segment percent-encoded.
pub(crate) fn encode_name(name: &str) -> String {
    name.split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The URL the file route serves an object at.
pub(crate) fn file_url(bucket: &str, name: &str) -> String {
    format!(
        "/console/files/{}/{}",
        encode_name(bucket),
        encode_name(name)
    )
}

/// The URL of an upload's page.
pub(crate) fn image_url(name: &str) -> String {
    format!("/console/images/{}", encode_name(name))
}

/// `1.2 MB`, `640 kB`, `12 B` (decimal units, as file managers show them).
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    match value < 10.0 {
        true => format!("{value:.1} {}", UNITS[unit]),
        false => format!("{value:.0} {}", UNITS[unit]),
    }
}

/// The upload time a generation encodes (microseconds since the epoch), as
/// `2026-12-07 03:41:07 UTC`; empty when it is not a time.
pub(crate) fn generation_time(generation: i64) -> String {
    let nanos = i128::from(generation) * 1000;
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp_nanos(nanos) else {
        return String::new();
    };
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    at.format(&format).unwrap_or_default()
}
