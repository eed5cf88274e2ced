//! Content moderation with Cloud Vision SafeSearch over REST (gcp-contracts.md §4):
//! `images:annotate` with `SAFE_SEARCH_DETECTION` from bytes or a `gs://` URI. A per-image
//! error inside an HTTP 200 is `ItemError` (transient only for DEADLINE_EXCEEDED,
//! RESOURCE_EXHAUSTED, UNAVAILABLE); a missing likelihood is `UNKNOWN`. No verdict here:
//! thresholds are the domain's. A refusal of the deployment rather than of the image (HTTP
//! 401/403: the API not enabled, a missing role; per-image PERMISSION_DENIED: no read access
//! to the `gs://` object) is `Misconfigured`: retried and logged at ERROR, never a verdict
//! failure that `fail_closed` would flag (and `quarantine` move) every upload for.

use super::retry::Idempotency;
use super::{GcpContext, Service, base_url};
use crate::backends::{BackendError, BackendResult, ModerationImage, Moderator};
use crate::domain::{Likelihood, SafeSearch};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Inline images above this are refused before sending: base64 grows them by a third and
/// Vision's JSON request limit is about 10 MB; send a downscaled variant or a `gs://` URI.
pub(crate) const MAX_INLINE_IMAGE_BYTES: usize = 7 * 1024 * 1024;

/// gRPC codes worth retrying (DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE).
const TRANSIENT_ITEM_CODES: [i32; 3] = [4, 8, 14];
/// gRPC PERMISSION_DENIED: Vision may not read the `gs://` object (IAM), whatever the image.
const PERMISSION_DENIED: i32 = 7;

/// SafeSearch through Cloud Vision.
pub struct VisionModerator {
    ctx: Arc<GcpContext>,
}

impl VisionModerator {
    pub fn new(ctx: Arc<GcpContext>) -> Self {
        Self { ctx }
    }
}

#[derive(Deserialize)]
struct AnnotateResponse {
    #[serde(default)]
    responses: Vec<ImageResponse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageResponse {
    #[serde(default)]
    safe_search_annotation: Option<Annotation>,
    #[serde(default)]
    error: Option<ItemStatus>,
}

#[derive(Deserialize, Default)]
struct Annotation {
    adult: Option<String>,
    spoof: Option<String>,
    medical: Option<String>,
    violence: Option<String>,
    racy: Option<String>,
}

#[derive(Deserialize)]
struct ItemStatus {
    #[serde(default)]
    code: i32,
    #[serde(default)]
    message: String,
}

fn likelihood(name: Option<&String>) -> Likelihood {
    name.map_or(Likelihood::Unknown, |n| Likelihood::from_api_name(n))
}

/// The `requests[0]` entry for one image.
pub(crate) fn annotate_request(image: &ModerationImage) -> BackendResult<Value> {
    let image = match image {
        ModerationImage::Bytes(bytes) => {
            if bytes.len() > MAX_INLINE_IMAGE_BYTES {
                return Err(BackendError::Invalid(format!(
                    "image of {} bytes is over the {MAX_INLINE_IMAGE_BYTES}-byte limit for \
                     inline Vision requests; moderate a smaller variant",
                    bytes.len()
                )));
            }
            json!({ "content": STANDARD.encode(bytes) })
        }
        ModerationImage::StorageUri { bucket, name } => {
            json!({ "source": { "imageUri": format!("gs://{bucket}/{name}") } })
        }
    };
    Ok(json!({
        "requests": [{
            "image": image,
            "features": [{ "type": "SAFE_SEARCH_DETECTION" }],
        }]
    }))
}

/// 401/403 say the deployment is refused (API disabled, IAM), not that the image is bad.
fn refused_deployment(error: BackendError) -> BackendError {
    match error {
        BackendError::Http {
            status: 401 | 403,
            message,
            ..
        } => misconfigured(message),
        other => other,
    }
}

/// `Misconfigured`, logged at ERROR: every image waits until an operator fixes access.
fn misconfigured(message: String) -> BackendError {
    let error = BackendError::Misconfigured {
        service: Service::Vision.display_name(),
        message,
    };
    tracing::error!(
        error = %error,
        "Cloud Vision refuses this service: enable the Vision API and grant its role \
         (and read access to the bucket for gs:// images); moderation is retried until then"
    );
    error
}

#[async_trait]
impl Moderator for VisionModerator {
    async fn assess(&self, image: &ModerationImage) -> BackendResult<SafeSearch> {
        let body = annotate_request(image)?;
        let url = format!(
            "{}/v1/images:annotate",
            base_url(&self.ctx.settings.vision_endpoint)
        );
        // Annotating is a read: safe to repeat.
        let answer = self
            .ctx
            .send(Service::Vision, Idempotency::Idempotent, || {
                self.ctx.client.post(&url).json(&body)
            })
            .await
            .map_err(refused_deployment)?;
        let answer: AnnotateResponse = answer.json(Service::Vision)?;
        let Some(first) = answer.responses.into_iter().next() else {
            return Err(BackendError::Malformed {
                service: Service::Vision.display_name(),
                message: "the answer holds no response for the image".to_owned(),
            });
        };
        if let Some(error) = first.error {
            if error.code == PERMISSION_DENIED {
                return Err(misconfigured(format!(
                    "PERMISSION_DENIED: {}",
                    error.message
                )));
            }
            return Err(BackendError::ItemError {
                service: Service::Vision.display_name(),
                code: error.code,
                message: error.message,
                transient: TRANSIENT_ITEM_CODES.contains(&error.code),
            });
        }
        let a = first.safe_search_annotation.unwrap_or_default();
        Ok(SafeSearch {
            adult: likelihood(a.adult.as_ref()),
            spoof: likelihood(a.spoof.as_ref()),
            medical: likelihood(a.medical.as_ref()),
            violence: likelihood(a.violence.as_ref()),
            racy: likelihood(a.racy.as_ref()),
        })
    }

    fn name(&self) -> &'static str {
        "vision"
    }
}
