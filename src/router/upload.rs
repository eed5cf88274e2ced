//! `PUT /local/buckets/{bucket}/objects/{name...}`: the local profile's upload endpoint, so
//! `curl -T photo.jpg` starts the pipeline. Writes through the `ObjectStore` seam
//! (`Overwrite`; content type from the request, else sniffed) and answers 200 with
//! bucket/name/generation. Mounted by the router in the local profile only, never under `gcp`.
//! HTTP code: it picks the statuses for its own answers (not event outcomes, which
//! `router::respond` maps).

use crate::backends::BackendError;
use crate::domain::{ObjectMeta, PutOutcome, WriteCondition};
use crate::imaging;
use crate::state::AppState;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};

/// The upload path, relative to the server root.
pub const UPLOAD_PATH: &str = "/local/buckets/{bucket}/objects/{name:.+}";

/// Mounts the upload route; expects `web::Data<AppState>` to be registered by the caller.
pub(crate) fn configure_upload_route(cfg: &mut web::ServiceConfig) {
    cfg.route(UPLOAD_PATH, web::put().to(upload));
}

/// The content type to store: the request's, unless absent or generic, then a sniffed one.
pub(crate) fn content_type_for(header: Option<&str>, body: &[u8]) -> String {
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty() && !h.starts_with("application/octet-stream"))
        .filter(|h| !h.starts_with("application/x-www-form-urlencoded"));
    match header {
        Some(h) => h.to_owned(),
        None => imaging::content_type_of(body).to_owned(),
    }
}

/// The upload route's handler (the console's upload calls it too, once its token is checked).
pub(crate) async fn upload(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (bucket, name) = path.into_inner();
    // curl sends form-urlencoded for -d; -T sends none. Both mean "look at the bytes".
    let header = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let meta = ObjectMeta {
        content_type: content_type_for(header, &body),
        ..ObjectMeta::default()
    };
    let size = body.len();
    let result = state
        .backends
        .store
        .put(&bucket, &name, body, &meta, WriteCondition::Overwrite)
        .await;
    match result {
        Ok(PutOutcome::Written(info)) => {
            tracing::info!(
                bucket,
                name,
                generation = info.generation,
                size,
                "Object uploaded"
            );
            HttpResponse::Ok().json(serde_json::json!({
                "bucket": info.bucket,
                "name": info.name,
                "generation": info.generation.to_string(),
                "size": info.size_bytes.to_string(),
                "contentType": info.content_type,
            }))
        }
        Ok(PutOutcome::ConditionNotMet) => HttpResponse::Conflict()
            .json(serde_json::json!({"error": "the object changed during the upload; retry"})),
        Err(e @ BackendError::Invalid(_)) => {
            HttpResponse::BadRequest().json(serde_json::json!({"error": e.to_string()}))
        }
        Err(e) if e.is_transient() => {
            tracing::warn!(bucket, name, "Upload failed, the client may retry: {e}");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({"error": e.to_string()}))
        }
        Err(e) => {
            tracing::error!(bucket, name, "Upload failed: {e}");
            HttpResponse::InternalServerError().json(serde_json::json!({"error": e.to_string()}))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::backends::Backends;
    use crate::config::{EnvMap, Settings};
    use crate::domain::ObjectRef;
    use actix_web::{App, test as actix_test};
    use std::sync::Arc;

    /// The local profile's backends on a temp data dir.
    async fn app_state(dir: &std::path::Path) -> AppState {
        let env = EnvMap::from([
            ("PIPELINE_CONFIG_DIR".to_owned(), "/nonexistent".to_owned()),
            (
                "PIPELINE_LOCAL__DATA_DIR".to_owned(),
                dir.display().to_string(),
            ),
        ]);
        let settings = Settings::load_from(&env).unwrap();
        let (backends, local) = Backends::from_settings(&settings).await.unwrap();
        AppState::new(Arc::new(settings), backends).with_local(local)
    }

    #[actix_web::test]
    async fn a_put_stores_the_body_and_answers_with_its_generation() {
        // Arrange
        let dir = tempfile::tempdir().unwrap();
        let state = app_state(dir.path()).await;
        let app = actix_test::init_service(
            App::new()
                .app_data(web::Data::new(state.clone()))
                .configure(configure_upload_route),
        )
        .await;
        let request = actix_test::TestRequest::put()
            .uri("/local/buckets/uploads/objects/in/a%20b.txt")
            .insert_header((CONTENT_TYPE, "text/plain"))
            .set_payload("hello")
            .to_request();

        // Act
        let response: serde_json::Value = actix_test::call_and_read_body_json(&app, request).await;

        // Assert
        assert_eq!(response["bucket"], "uploads");
        assert_eq!(response["name"], "in/a b.txt");
        let info = state
            .backends
            .store
            .stat(&ObjectRef::new("uploads", "in/a b.txt"))
            .await
            .unwrap();
        assert_eq!(response["generation"], info.generation.to_string());
        assert_eq!(info.content_type.as_deref(), Some("text/plain"));
        assert!(dir.path().join("buckets/uploads/in/a b.txt").is_file());
    }

    #[actix_web::test]
    async fn a_put_with_a_name_that_escapes_the_bucket_is_a_400() {
        let dir = tempfile::tempdir().unwrap();
        let state = app_state(dir.path()).await;
        let app = actix_test::init_service(
            App::new()
                .app_data(web::Data::new(state))
                .configure(configure_upload_route),
        )
        .await;
        let request = actix_test::TestRequest::put()
            .uri("/local/buckets/uploads/objects/a/../../escape.txt")
            .set_payload("x")
            .to_request();

        let response = actix_test::call_service(&app, request).await;

        assert_eq!(response.status().as_u16(), 400);
        assert!(!dir.path().join("escape.txt").exists());
    }

    #[test]
    fn a_missing_or_generic_content_type_falls_back_to_the_sniffed_or_octet_stream() {
        assert_eq!(content_type_for(Some("image/png"), b"x"), "image/png");
        assert_eq!(
            content_type_for(Some("application/x-www-form-urlencoded"), b"plain text"),
            "application/octet-stream"
        );
        assert_eq!(
            content_type_for(None, b"plain text"),
            "application/octet-stream"
        );
    }
}
