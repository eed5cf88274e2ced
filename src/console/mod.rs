//! The local console (`GET /console` and pages under it): the image list, uploads, an image's
//! page, the queue and dead letters, and the object files they show. Local profile only: the
//! router mounts it beside the upload route, never under `gcp`. Server-rendered HTML (maud)
//! with one small hand-written script; no request leaves the machine (no CDN, no fonts).
//!
//! Safety: every console request must name a loopback host (`Host: 127.0.0.1:…`), so a page
//! that re-binds its own DNS name to 127.0.0.1 cannot read it; state-changing requests
//! (upload, replay) must also carry this process's token (`X-Console-Token`), which only the
//! console's own pages hold, so a page on another origin cannot drive them.
//! It owns the console's HTTP face; uploads and replays go through the code the upload
//! route and `dead-letters replay` use, never a copy of it.

mod assets;
mod events;
mod files;
mod image_page;
mod layout;
mod list_page;
mod listing;
mod probabilities;
mod queue_page;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests;
mod web_fields;

use actix_web::dev::Payload;
use actix_web::http::header::HOST;
use actix_web::{FromRequest, HttpRequest, web};
use std::future::{Ready, ready};
use std::sync::OnceLock;

/// Where the console lives, relative to the server root.
pub const CONSOLE_PATH: &str = "/console";
/// The header that carries the per-process token on state-changing requests.
pub const TOKEN_HEADER: &str = "x-console-token";

/// What the console keeps per process: its token, and the built-in model it loads on first
/// use. One per process ([`Console::get`]), so every worker and every server of the process
/// agrees on the token.
#[derive(Debug)]
pub struct Console {
    token: String,
    /// The built-in model for class probabilities, loaded on first use.
    model: probabilities::Model,
}

impl Default for Console {
    fn default() -> Self {
        Self {
            token: format!("{:032x}", rand::random::<u128>()),
            model: probabilities::Model::new(),
        }
    }
}

static CONSOLE: OnceLock<Console> = OnceLock::new();

impl Console {
    /// This process's console.
    pub fn get() -> &'static Self {
        CONSOLE.get_or_init(Self::default)
    }

    /// The token state-changing requests must carry (the console's pages hold it).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// True when `offered` is this process's token (compared in constant time).
    fn accepts(&self, offered: &[u8]) -> bool {
        let expected = self.token.as_bytes();
        offered.len() == expected.len()
            && offered
                .iter()
                .zip(expected)
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

/// The console's address on a server listening on `port`.
pub fn console_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}{CONSOLE_PATH}")
}

/// Mounts the console; expects `web::Data<AppState>` to be registered by the caller.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(CONSOLE_PATH, web::get().to(list_page::page))
        .route("/console/rows", web::get().to(list_page::rows))
        .route(
            "/console/upload/{name:.+}",
            web::put().to(list_page::upload),
        )
        .route("/console/images/{name:.+}", web::get().to(image_page::page))
        .route("/console/queue", web::get().to(queue_page::page))
        .route("/console/queue/live", web::get().to(queue_page::live))
        .route(
            "/console/dead-letters/{id}/replay",
            web::post().to(queue_page::replay),
        )
        .route(
            "/console/files/{bucket}/{name:.+}",
            web::get().to(files::file),
        )
        .route("/console/assets/{file}", web::get().to(assets::asset));
}

/// A console request whose `Host` is a loopback name; anything else is refused with 403.
pub(crate) struct Loopback;

impl FromRequest for Loopback {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match is_loopback_host(req) {
            true => Ok(Self),
            false => Err(actix_web::error::ErrorForbidden(
                "the console answers only on a loopback address (open it at 127.0.0.1)",
            )),
        })
    }
}

/// A state-changing console request: a loopback `Host` and this process's token.
pub(crate) struct Authorized;

impl FromRequest for Authorized {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let offered = req.headers().get(TOKEN_HEADER).map(|v| v.as_bytes());
        let token_ok = offered.is_some_and(|offered| Console::get().accepts(offered));
        ready(match (is_loopback_host(req), token_ok) {
            (true, true) => Ok(Self),
            _ => Err(actix_web::error::ErrorForbidden(
                "this request changes state and needs the console's token \
                 (X-Console-Token, which the console's own pages carry)",
            )),
        })
    }
}

/// True when the request's `Host` (without its port) is `localhost` or a loopback address.
fn is_loopback_host(req: &HttpRequest) -> bool {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
        .unwrap_or_default();
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
