//! `GET /images/{bucket}/{name}`: the image's record as JSON, the same document the records
//! backend holds (Firestore's `images` document in the gcp profile); 404 when there is none.
//! Mounted by the router in the local profile, and in the gcp profile only with
//! `server.status_api = true` (then for Cloud Run's IAM-authenticated callers).
//! HTTP code: it picks the statuses of its own answers (not event outcomes).

use crate::domain::RecordKey;
use crate::state::AppState;
use actix_web::{HttpResponse, web};

/// The status path, relative to the server root.
pub const STATUS_PATH: &str = "/images/{bucket}/{name:.+}";

/// Mounts the status route; expects `web::Data<AppState>` to be registered by the caller.
pub(crate) fn configure_status_route(cfg: &mut web::ServiceConfig) {
    cfg.route(STATUS_PATH, web::get().to(status));
}

async fn status(path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    let (bucket, name) = path.into_inner();
    let key = RecordKey::new(&bucket, &name);
    match state.backends.records.get(&key).await {
        Ok(Some(record)) => HttpResponse::Ok().json(record),
        Ok(None) => HttpResponse::NotFound()
            .json(serde_json::json!({"error": format!("no record of gs://{bucket}/{name}")})),
        Err(e) if e.is_transient() => {
            tracing::warn!(
                bucket,
                name,
                "Status read failed, the client may retry: {e}"
            );
            HttpResponse::ServiceUnavailable().json(serde_json::json!({"error": e.to_string()}))
        }
        Err(e) => {
            tracing::error!(bucket, name, "Status read failed: {e}");
            HttpResponse::InternalServerError().json(serde_json::json!({"error": e.to_string()}))
        }
    }
}
