//! The console over actix's test service on a local data dir: what it lists, what the file
//! route will and will not serve, and which requests need the token. The browser tests
//! (`tests/api/console_browser.rs`) drive the same pages in Chromium.

use super::*;
use crate::backends::Backends;
use crate::config::{EnvMap, Settings};
use crate::domain::{ObjectMeta, WriteCondition};
use crate::state::AppState;
use actix_web::dev::ServiceResponse;
use actix_web::{App, test as actix_test};
use std::sync::Arc;

/// The local profile's state on a temp data dir, with no triggers (nothing runs).
async fn app_state(dir: &std::path::Path) -> AppState {
    let env = EnvMap::from([
        ("PIPELINE_CONFIG_DIR".to_owned(), "/nonexistent".to_owned()),
        ("PIPELINE_LOCAL__TRIGGERS".to_owned(), "[]".to_owned()),
        (
            "PIPELINE_LOCAL__DATA_DIR".to_owned(),
            dir.display().to_string(),
        ),
    ]);
    let settings = Settings::load_from(&env).unwrap();
    let (backends, local) = Backends::from_settings(&settings).await.unwrap();
    AppState::new(Arc::new(settings), backends).with_local(local)
}

/// A GET of `uri` on a loopback `Host`.
fn get(uri: &str) -> actix_test::TestRequest {
    actix_test::TestRequest::get()
        .uri(uri)
        .insert_header((HOST, "127.0.0.1"))
}

/// The console alone, as the router mounts it.
macro_rules! console_app {
    ($state:expr) => {
        actix_test::init_service(
            App::new()
                .app_data(web::Data::new($state.clone()))
                .configure(configure),
        )
        .await
    };
}

async fn put(state: &AppState, name: &str, body: &'static [u8]) {
    let meta = ObjectMeta {
        content_type: "application/octet-stream".to_owned(),
        ..ObjectMeta::default()
    };
    state
        .backends
        .store
        .put(
            "uploads",
            name,
            bytes::Bytes::from_static(body),
            &meta,
            WriteCondition::Overwrite,
        )
        .await
        .unwrap();
}

fn header(response: &ServiceResponse, name: &str) -> String {
    let value = response.headers().get(name);
    value
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

#[actix_web::test]
async fn the_list_shows_an_unrecorded_image_as_pending_and_a_text_file_as_skipped() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let state = app_state(dir.path()).await;
    put(&state, "photo.png", PNG_SIGNATURE).await;
    put(&state, "notes.txt", b"just some words").await;
    let app = console_app!(state);

    // Act
    let request = actix_test::TestRequest::get()
        .uri("/console/rows")
        .insert_header((HOST, "127.0.0.1:8080"))
        .to_request();
    let body = actix_test::call_and_read_body(&app, request).await;

    // Assert
    let html = String::from_utf8_lossy(&body);
    assert!(
        html.contains(r#"data-name="photo.png" data-status="pending""#),
        "{html}"
    );
    assert!(
        html.contains(r#"data-name="notes.txt" data-status="skipped""#),
        "{html}"
    );
}

#[actix_web::test]
async fn a_console_page_asked_for_under_another_host_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = app_state(dir.path()).await;
    let app = console_app!(state);

    let request = actix_test::TestRequest::get()
        .uri("/console")
        .insert_header((HOST, "attacker.example:8080"))
        .to_request();
    let response = actix_test::call_service(&app, request).await;

    assert_eq!(response.status().as_u16(), 403);
}

#[actix_web::test]
async fn an_upload_with_a_wrong_token_is_refused_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = app_state(dir.path()).await;
    let app = console_app!(state);

    let request = actix_test::TestRequest::put()
        .uri("/console/upload/evil.png")
        .insert_header((HOST, "localhost:8080"))
        .insert_header((TOKEN_HEADER, "0".repeat(32)))
        .set_payload(PNG_SIGNATURE)
        .to_request();
    let response = actix_test::call_service(&app, request).await;

    assert_eq!(response.status().as_u16(), 403);
    assert!(!dir.path().join("buckets/uploads/evil.png").exists());
}

#[actix_web::test]
async fn an_upload_with_the_pages_token_is_stored_in_the_upload_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let state = app_state(dir.path()).await;
    let app = console_app!(state);

    let request = actix_test::TestRequest::put()
        .uri("/console/upload/a%20photo.png")
        .insert_header((HOST, "[::1]:8080"))
        .insert_header((TOKEN_HEADER, Console::get().token()))
        .set_payload(PNG_SIGNATURE)
        .to_request();
    let response = actix_test::call_service(&app, request).await;

    assert_eq!(response.status().as_u16(), 200);
    assert!(dir.path().join("buckets/uploads/a photo.png").is_file());
}

#[actix_web::test]
async fn the_file_route_serves_an_image_as_its_type_and_anything_else_as_a_download() {
    let dir = tempfile::tempdir().unwrap();
    let state = app_state(dir.path()).await;
    put(&state, "photo.png", PNG_SIGNATURE).await;
    put(&state, "page.html", b"<script>alert(1)</script>").await;
    let app = console_app!(state);

    let image =
        actix_test::call_service(&app, get("/console/files/uploads/photo.png").to_request()).await;
    let html =
        actix_test::call_service(&app, get("/console/files/uploads/page.html").to_request()).await;

    assert_eq!(header(&image, "content-type"), "image/png");
    assert_eq!(header(&image, "x-content-type-options"), "nosniff");
    assert_eq!(header(&html, "content-type"), "application/octet-stream");
    assert_eq!(header(&html, "content-disposition"), "attachment");
    assert_eq!(header(&html, "x-content-type-options"), "nosniff");
}

#[actix_web::test]
async fn the_file_route_refuses_a_path_with_dot_dot() {
    let dir = tempfile::tempdir().unwrap();
    let state = app_state(dir.path()).await;
    std::fs::write(dir.path().join("pipeline-secret.txt"), "secret").unwrap();
    let app = console_app!(state);

    let request = actix_test::TestRequest::get()
        .uri("/console/files/uploads/../../pipeline-secret.txt")
        .insert_header((HOST, "127.0.0.1"))
        .to_request();
    let response = actix_test::call_service(&app, request).await;

    assert_eq!(response.status().as_u16(), 400);
}

#[actix_web::test]
async fn the_file_route_serves_only_what_the_store_wrote_found_by_its_percent_encoded_name() {
    let dir = tempfile::tempdir().unwrap();
    let state = app_state(dir.path()).await;
    put(&state, "resized/large@webp/My Cat #1?Ä.PNG", PNG_SIGNATURE).await;
    // Planted beside the store's files: no row, so never served (a symlink out included).
    let uploads = dir.path().join("buckets/uploads");
    std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), uploads.join("link.txt")).unwrap();
    std::fs::write(uploads.join("planted.png"), PNG_SIGNATURE).unwrap();
    let app = console_app!(state);

    let encoded = "/console/files/uploads/resized/large%40webp/My%20Cat%20%231%3F%C3%84.PNG";
    let served = actix_test::call_service(&app, get(encoded).to_request()).await;
    let link =
        actix_test::call_service(&app, get("/console/files/uploads/link.txt").to_request()).await;
    let planted =
        actix_test::call_service(&app, get("/console/files/uploads/planted.png").to_request())
            .await;
    let dotted =
        actix_test::call_service(&app, get("/console/files/uploads/a/./b.png").to_request()).await;

    assert_eq!(served.status().as_u16(), 200);
    assert_eq!(header(&served, "content-type"), "image/png");
    assert_eq!(link.status().as_u16(), 404);
    assert_eq!(planted.status().as_u16(), 404);
    assert_eq!(dotted.status().as_u16(), 400);
}

#[test]
fn only_the_exact_token_is_accepted() {
    let console = Console::default();
    let token = console.token().to_owned();

    assert!(console.accepts(token.as_bytes()));
    assert!(!console.accepts(&token.as_bytes()[..31]));
    assert!(!console.accepts(b""));
    assert_ne!(Console::default().token(), token, "a token per process");
}
