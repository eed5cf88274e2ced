//! The console's script, styles and icon, compiled into the binary (nothing is fetched from
//! elsewhere, so the console works offline).

use super::Loopback;
use super::layout::no_sniff;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpResponse, web};

const SCRIPT: &str = include_str!("assets/console.js");
const STYLES: &str = include_str!("assets/console.css");
const ICON: &str = include_str!("assets/favicon.svg");

pub(crate) async fn asset(_: Loopback, file: web::Path<String>) -> HttpResponse {
    let (content_type, body) = match file.as_str() {
        "console.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "console.css" => ("text/css; charset=utf-8", STYLES),
        "favicon.svg" => ("image/svg+xml", ICON),
        _ => return HttpResponse::NotFound().body("no such asset"),
    };
    let mut response = HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .body(body);
    no_sniff(&mut response);
    response
}
