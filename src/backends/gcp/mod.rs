//! The Google Cloud backends over REST (gcp-contracts.md §4-§8): Cloud Storage ([`GcsStore`]),
//! Firestore ([`FirestoreRecords`]), Pub/Sub ([`PubSubPublisher`]) and Vision
//! ([`VisionModerator`]), sharing one [`GcpContext`]: one pooled reqwest client, one token
//! source, one retry policy. These modules speak the wire and classify errors
//! (`BackendError::is_transient`); they never parse CloudEvents or decide HTTP statuses.

mod auth;
mod firestore;
mod firestore_value;
mod http;
mod pubsub;
mod retry;
mod storage;
mod storage_download;
mod storage_upload;
mod subscriber;
mod verdict_index;
mod vision;

#[cfg(test)]
mod fake_gcs;
#[cfg(test)]
mod test_support;

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod cut_answer_tests;
#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod firestore_tests;
#[cfg(test)]
mod pubsub_tests;
#[cfg(test)]
mod retry_tests;
#[cfg(test)]
mod storage_download_tests;
#[cfg(test)]
mod storage_tests;
#[cfg(test)]
mod verdict_index_tests;
#[cfg(test)]
mod vision_tests;

pub use firestore::FirestoreRecords;
pub use pubsub::PubSubPublisher;
pub use storage::GcsStore;
pub use subscriber::{PULL_WAIT_SECS, PubSubSubscriber, PubsubMessage, ReceivedMessage};
pub use verdict_index::FirestoreVerdicts;
pub use vision::VisionModerator;

use crate::config::{GcpAuth, GcpSettings};
use anyhow::Context as _;
use auth::TokenSource;
use retry::RetryPolicy;
use std::sync::Arc;
use std::time::Duration;

/// The four Google services this module speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Storage,
    Firestore,
    PubSub,
    Vision,
}

impl Service {
    /// The name used in error messages (`BackendError`'s `service`).
    pub(crate) fn display_name(self) -> &'static str {
        match self {
            Self::Storage => "Cloud Storage",
            Self::Firestore => "Firestore",
            Self::PubSub => "Pub/Sub",
            Self::Vision => "Cloud Vision",
        }
    }

    /// The name in `GcpSettings::emulated` (set by the `*_EMULATOR_HOST` variables).
    fn emulator_name(self) -> Option<&'static str> {
        match self {
            Self::Storage => Some("storage"),
            Self::Firestore => Some("firestore"),
            Self::PubSub => Some("pubsub"),
            Self::Vision => None,
        }
    }
}

/// What every Google backend shares: the settings, one pooled HTTP client (connection reuse
/// across all four services), the token source and the retry policy.
pub struct GcpContext {
    pub(crate) settings: GcpSettings,
    pub(crate) client: reqwest::Client,
    tokens: TokenSource,
    /// `None` when neither the settings nor the credentials name one; Firestore and Pub/Sub
    /// then refuse with an operator-readable error (Storage and Vision do not need it).
    pub(crate) project_id: Option<String>,
    pub(crate) retry: RetryPolicy,
}

impl GcpContext {
    /// Builds the context from settings. With `auth = "auto"` this resolves gcp_auth's
    /// provider chain (key file in `GOOGLE_APPLICATION_CREDENTIALS`, gcloud ADC, metadata
    /// server, gcloud CLI); with `auth = "none"` no token is ever requested.
    pub async fn new(settings: &GcpSettings) -> anyhow::Result<Arc<Self>> {
        let tokens = match settings.auth {
            GcpAuth::None => TokenSource::None,
            // Every emulated service skips tokens; resolve the chain only if Vision asks.
            GcpAuth::Auto if all_emulated(settings) => TokenSource::lazy(),
            GcpAuth::Auto => TokenSource::Provider(gcp_auth::provider().await.context(
                "no Google credentials found (set GOOGLE_APPLICATION_CREDENTIALS, run \
                 `gcloud auth application-default login`, or set PIPELINE_GCP__AUTH=none \
                 for emulators)",
            )?),
        };
        Self::build(settings, tokens).await
    }

    /// Builds the context with a given token provider (tests, or callers that manage
    /// credentials themselves, e.g. a `gcp_auth::CustomServiceAccount`).
    pub async fn with_token_provider(
        settings: &GcpSettings,
        provider: Arc<dyn gcp_auth::TokenProvider>,
    ) -> anyhow::Result<Arc<Self>> {
        Self::build(settings, TokenSource::Provider(provider)).await
    }

    async fn build(settings: &GcpSettings, tokens: TokenSource) -> anyhow::Result<Arc<Self>> {
        crate::backends::install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.request_timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(settings.connect_timeout_secs.max(1)))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("image-pipeline/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("could not build the HTTP client for Google APIs")?;
        let project_id = if settings.project_id.is_empty() {
            tokens.project_id().await
        } else {
            Some(settings.project_id.clone())
        };
        Ok(Arc::new(Self {
            settings: settings.clone(),
            client,
            tokens,
            project_id,
            retry: RetryPolicy::from_settings(settings),
        }))
    }

    fn is_emulated(&self, service: Service) -> bool {
        service
            .emulator_name()
            .is_some_and(|name| self.settings.emulated.iter().any(|e| e == name))
    }

    /// The project id, or an error telling the operator how to set it.
    pub(crate) fn require_project(&self) -> Result<&str, super::BackendError> {
        self.project_id.as_deref().ok_or_else(|| {
            super::BackendError::Invalid(
                "no Google Cloud project id: set PIPELINE_GCP__PROJECT_ID or \
                 GOOGLE_CLOUD_PROJECT"
                    .to_owned(),
            )
        })
    }
}

/// True when Storage, Firestore and Pub/Sub all point at emulators (local development):
/// then only Vision, which has no emulator, could need a token.
fn all_emulated(settings: &GcpSettings) -> bool {
    ["storage", "firestore", "pubsub"]
        .iter()
        .all(|s| settings.emulated.iter().any(|e| e == s))
}

/// Trims the trailing `/` of a configured base URL.
pub(crate) fn base_url(endpoint: &str) -> &str {
    endpoint.trim_end_matches('/')
}
