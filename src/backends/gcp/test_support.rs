//! Test helpers for the Google backends: settings pointing at loopback servers, a context
//! without tokens, a fake-gcs-server process (`fake_gcs.rs`, shared with `tests/api`), and a
//! throwaway service account whose token endpoint is a loopback wiremock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::GcpContext;
use crate::config::{GcpAuth, GcpSettings};
use std::process::Command;
use std::sync::Arc;

pub(crate) use super::fake_gcs::{FakeGcs, PROJECT};

/// Settings with every endpoint at `endpoint`, no auth, short timeouts and fast retries.
pub(crate) fn settings(endpoint: &str) -> GcpSettings {
    crate::backends::install_tls_provider();
    let endpoint: crate::config::Endpoint = endpoint.parse().unwrap();
    GcpSettings {
        project_id: PROJECT.to_owned(),
        auth: GcpAuth::None,
        storage_endpoint: endpoint.clone(),
        firestore_endpoint: endpoint.clone(),
        pubsub_endpoint: endpoint.clone(),
        vision_endpoint: endpoint.clone(),
        firestore_database: "(default)".to_owned(),
        request_timeout_secs: 1,
        connect_timeout_secs: 1,
        retry_max_attempts: 3,
        retry_initial_backoff_ms: 10,
        retry_budget_secs: 5,
        emulated: Vec::new(),
    }
}

pub(crate) async fn context(endpoint: &str) -> Arc<GcpContext> {
    GcpContext::new(&settings(endpoint)).await.unwrap()
}

/// A service-account key JSON (fresh RSA key from `openssl genpkey`) whose `token_uri` is
/// `token_uri`, for `gcp_auth::CustomServiceAccount::from_json`.
pub(crate) fn service_account_json(token_uri: &str) -> String {
    let output = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl is needed to make a throwaway service-account key");
    assert!(output.status.success(), "openssl genpkey failed");
    serde_json::json!({
        "type": "service_account",
        "project_id": "key-project",
        "private_key_id": "test",
        "private_key": String::from_utf8(output.stdout).unwrap(),
        "client_email": "pipeline@key-project.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    })
    .to_string()
}
