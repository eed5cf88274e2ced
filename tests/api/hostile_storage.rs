//! One hostile upload must not take an instance down (issue 22): the real binary, its
//! storage on a Cloud Storage stand-in that ignores `Range` and `Accept-Encoding` and
//! streams 1 GiB (generated, a PNG header then zeros) for an object whose event and metadata
//! say 20 MB, as decompressive transcoding of a gzip bomb does. Every route answers 2xx
//! (rejected, skipped, or the record route recording the upload) and the process's peak
//! RSS (`VmHWM`) stays under 256 MiB: each read stops at the bytes it asked for or the
//! size it admitted.

use crate::builtin_moderation::model_root;
use crate::faults::fake_gcs::{HostileGcs, HostileObject};
use crate::lifecycle::free_port;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_image-pipeline");
const MIB: u64 = 1 << 20;
const STREAMED_BYTES: u64 = 1024 * MIB;
const DECLARED_BYTES: u64 = 20 * MIB;
const MAX_PEAK_RSS_BYTES: u64 = 256 * MIB;
const ROUTES: [&str; 4] = ["/record", "/resize", "/thumbnail", "/moderate"];

/// A server process, killed if the test ends first.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first bytes of an 8-bit RGB PNG of 2000x2000 (12 MB of raster: admitted at once).
fn png_head() -> Vec<u8> {
    let mut head = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    head.extend_from_slice(&2000u32.to_be_bytes());
    head.extend_from_slice(&2000u32.to_be_bytes());
    head.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    head
}

fn serve(gcs_url: &str, data_dir: &std::path::Path, model_root: &std::path::Path) -> (Server, u16) {
    let port = free_port();
    let log = std::fs::File::create(data_dir.join("serve.log")).unwrap();
    let child = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PIPELINE_CONFIG_DIR", "/nonexistent")
        .env("PORT", port.to_string())
        .env("PIPELINE_LOCAL__DATA_DIR", data_dir)
        .env("PIPELINE_STORAGE__BACKEND", "gcs")
        .env("PIPELINE_GCP__STORAGE_ENDPOINT", gcs_url)
        .env("PIPELINE_GCP__AUTH", "none")
        .env("PIPELINE_GCP__PROJECT_ID", "hostile-project")
        .env("PIPELINE_MODERATION__BACKEND", "builtin")
        .env("PIPELINE_MODERATION__MODEL_DIR", model_root)
        .env("PIPELINE_MODERATION__TRIGGER", "original")
        .env(
            "PIPELINE_SERVER__MEMORY_BUDGET_BYTES",
            (128 * MIB).to_string(),
        )
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("binary starts");
    (Server(child), port)
}

async fn wait_healthy(client: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let url = format!("http://127.0.0.1:{port}/healthz");
        if client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become healthy within 30 s");
}

async fn finalized(client: &reqwest::Client, port: u16, route: &str) -> (u16, Value) {
    let data = json!({
        "kind": "storage#object", "bucket": "uploads", "name": "bomb.png",
        "generation": "1", "metageneration": "1", "size": DECLARED_BYTES.to_string(),
        "contentType": "image/png", "timeCreated": "2026-12-07T04:00:00.000Z",
    });
    let response = client
        .post(format!("http://127.0.0.1:{port}{route}"))
        .header("ce-id", format!("hostile-{route}"))
        .header(
            "ce-source",
            "//storage.googleapis.com/projects/_/buckets/uploads",
        )
        .header("ce-specversion", "1.0")
        .header("ce-type", "google.cloud.storage.object.v1.finalized")
        .header("ce-subject", "objects/bomb.png")
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(60))
        .body(data.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{route} did not answer within 60 s: {e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_that_ignores_range_and_streams_a_gigabyte_never_gets_into_memory() {
    // Arrange
    let Some(model_root) = model_root() else {
        return;
    };
    let gcs = HostileGcs::start(HostileObject {
        head: png_head(),
        content_bytes: STREAMED_BYTES,
        declared_bytes: DECLARED_BYTES,
        stored_gzip: false,
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (server, port) = serve(&gcs.url, dir.path(), &model_root);
    let client = reqwest::Client::new();
    wait_healthy(&client, port).await;

    // Act
    let mut answers = Vec::new();
    for route in ROUTES {
        answers.push((route, finalized(&client, port, route).await));
    }
    let peak = peak_rss_bytes(server.0.id());
    let sent = gcs.sent_bytes_when_quiet().await;

    // Assert
    let log = || std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    for (route, (status, body)) in &answers {
        assert!(
            (200..300).contains(status),
            "{route}: {status} {body}\n{}",
            log()
        );
        let outcome = body["outcome"].as_str().unwrap_or_default();
        let expected = if *route == "/record" {
            "processed"
        } else {
            "rejected"
        };
        assert_eq!(outcome, expected, "{route}: {body}");
    }
    assert!(
        peak < MAX_PEAK_RSS_BYTES,
        "peak RSS {} MiB (the server got {} MiB onto the wire)",
        peak / MIB,
        sent / MIB
    );
    assert!(sent < STREAMED_BYTES / 4, "sent {} MiB", sent / MIB);
    eprintln!(
        "hostile storage: peak RSS {} MiB, {} MiB sent by the fake",
        peak / MIB,
        sent / MIB
    );
}
