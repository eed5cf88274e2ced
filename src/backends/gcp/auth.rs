//! Where access tokens come from: nowhere (`auth = "none"`, emulators) or gcp_auth's provider
//! (which caches and refreshes tokens itself). Owns the `Authorization` header each service
//! gets; must not log or expose token values.

use super::http::error_chain;
use super::{GcpContext, Service};
use crate::backends::{BackendError, BackendResult};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The one OAuth scope every call uses (gcp-contracts.md §9).
pub(crate) const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// What the Firestore emulator expects instead of a token (gcp-contracts.md §8).
const FIRESTORE_EMULATOR_AUTHORIZATION: &str = "Bearer owner";

pub(crate) enum TokenSource {
    /// No tokens at all (`PIPELINE_GCP__AUTH=none`).
    None,
    /// A resolved provider (service-account key, ADC, metadata server, gcloud).
    Provider(Arc<dyn gcp_auth::TokenProvider>),
    /// The provider chain, resolved on first use (only when everything else is emulated).
    Lazy(OnceCell<Arc<dyn gcp_auth::TokenProvider>>),
}

impl TokenSource {
    pub(crate) fn lazy() -> Self {
        Self::Lazy(OnceCell::new())
    }

    /// The project id the credentials name, if any (a key file's `project_id`, or the
    /// metadata server on Cloud Run).
    pub(crate) async fn project_id(&self) -> Option<String> {
        match self {
            Self::Provider(p) => p.project_id().await.ok().map(|id| id.to_string()),
            Self::None | Self::Lazy(_) => None,
        }
    }

    async fn provider(&self) -> BackendResult<Option<&Arc<dyn gcp_auth::TokenProvider>>> {
        match self {
            Self::None => Ok(None),
            Self::Provider(p) => Ok(Some(p)),
            Self::Lazy(cell) => cell
                .get_or_try_init(gcp_auth::provider)
                .await
                .map(Some)
                .map_err(|e| BackendError::Auth(error_chain(&e))),
        }
    }
}

impl GcpContext {
    /// The `Authorization` header value for a call to `service`, if any. A token failure is
    /// `BackendError::Auth` (transient: the metadata server or token endpoint may recover).
    pub(crate) async fn authorization(&self, service: Service) -> BackendResult<Option<String>> {
        if self.is_emulated(service) {
            return Ok((service == Service::Firestore)
                .then(|| FIRESTORE_EMULATOR_AUTHORIZATION.to_owned()));
        }
        let Some(provider) = self.tokens.provider().await? else {
            return Ok(None);
        };
        let token = provider
            .token(&[CLOUD_PLATFORM_SCOPE])
            .await
            .map_err(|e| BackendError::Auth(error_chain(&e)))?;
        Ok(Some(format!("Bearer {}", token.as_str())))
    }
}
