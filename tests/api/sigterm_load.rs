//! SIGTERM under load (issue 13): the real binary, local profile, several uploads in work.
//! In-flight events finish or come back, no half-written object is ever visible, and the
//! next process on the same data dir finishes the work: every upload ends with all its
//! outputs and a processed record.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::lifecycle::{free_port, sigterm};

const BIN: &str = env!("CARGO_BIN_EXE_image-pipeline");
const UPLOADS: usize = 8;
const IN_FLIGHT: &str = "image_pipeline_requests_in_flight ";
const QUEUE_DEPTH: &str = "image_pipeline_local_queue_depth ";

/// A server process that is killed if the test ends before it stops it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(data_dir: &Path, port: u16) -> Server {
    let log_path = data_dir.join(format!("serve-{port}.log"));
    let log = std::fs::File::create(log_path).unwrap();
    let child = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PIPELINE_CONFIG_DIR", "/nonexistent")
        .env("PORT", port.to_string())
        .env("PIPELINE_LOCAL__DATA_DIR", data_dir)
        .env("PIPELINE_LOG_FORMAT", "json")
        .env("PIPELINE_MODERATION__BACKEND", "none")
        // One decode at a time, so a few uploads keep the server busy for a while.
        .env("PIPELINE_SERVER__CPU_CONCURRENCY", "1")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("binary starts");
    Server(child)
}

/// The servers' logs, for a failure message.
fn logs(data_dir: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(data_dir).unwrap().map(Result::unwrap) {
        if entry.file_name().to_string_lossy().ends_with(".log") {
            all += &std::fs::read_to_string(entry.path()).unwrap_or_default();
        }
    }
    all
}

/// Waits for the process to exit (bounded); how long it took.
fn wait_exit(child: &mut Child, limit: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status:?}");
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    panic!("still running {limit:?} after SIGTERM");
}

async fn metric(client: &reqwest::Client, port: u16, series: &str) -> Option<f64> {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let text = client.get(url).send().await.ok()?.text().await.ok()?;
    crate::metrics::sample(&text, series)
}

/// Polls until `done` holds (bounded by `limit`).
async fn wait_for(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Every object file under `dir`, recursively (hidden temp files excluded: never visible
/// as objects).
fn object_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries.map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(object_files(&path));
        } else if !entry.file_name().to_string_lossy().starts_with('.') {
            files.push(path);
        }
    }
    files
}

fn assert_every_output_is_a_whole_image(bucket_dir: &Path) {
    for prefix in ["resized", "thumbnails"] {
        for file in object_files(&bucket_dir.join(prefix)) {
            let bytes = std::fs::read(&file).unwrap();
            let decoded = image::load_from_memory(&bytes);
            assert!(decoded.is_ok(), "half-written output {file:?}: {decoded:?}");
        }
    }
}

fn record_status(data_dir: &Path, name: &str) -> Option<String> {
    let db = rusqlite::Connection::open(data_dir.join("pipeline.sqlite")).unwrap();
    let json: Option<String> = db
        .query_row(
            "SELECT record_json FROM records WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .ok();
    let record: serde_json::Value = serde_json::from_str(&json?).unwrap();
    record["status"].as_str().map(str::to_owned)
}

#[actix_web::test]
async fn sigterm_under_load_loses_nothing_and_the_next_process_finishes_the_work() {
    // Arrange: a server with uploads in work.
    image_pipeline::backends::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    // A fresh connection per request: a pooled one may meet the server's keep-alive expiry
    // on this loaded machine (hyper's IncompleteMessage), which is not what this tests.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let port = free_port();
    let mut first = serve(dir.path(), port);
    let health = format!("http://127.0.0.1:{port}/healthz");
    wait_for("the first server", Duration::from_secs(20), async || {
        client.get(&health).send().await.is_ok()
    })
    .await;
    let names: Vec<String> = (0..UPLOADS).map(|i| format!("photo-{i}.jpg")).collect();
    for name in &names {
        let url = format!("http://127.0.0.1:{port}/local/buckets/uploads/objects/{name}");
        let body = crate::helpers::jpeg(2400, 1800);
        let answer = client.put(url).body(body).send().await;
        let answer = answer.unwrap_or_else(|e| panic!("{e:?}; server log: {}", logs(dir.path())));
        assert_eq!(answer.status(), 200);
    }
    wait_for("an event in work", Duration::from_secs(30), async || {
        metric(&client, port, IN_FLIGHT)
            .await
            .is_some_and(|n| n > 0.0)
    })
    .await;

    // Act: SIGTERM with events in work, then a second process on the same data dir.
    sigterm(&first.0);
    let stopped_in = wait_exit(&mut first.0, Duration::from_secs(15));
    let bucket_dir = dir.path().join("buckets").join("uploads");
    assert_every_output_is_a_whole_image(&bucket_dir);
    let unfinished = names
        .iter()
        .filter(|n| record_status(dir.path(), n).as_deref() != Some("processed"))
        .count();
    let port = free_port();
    let mut second = serve(dir.path(), port);
    let every_record_final = || {
        let statuses: Vec<_> = names.iter().map(|n| record_status(dir.path(), n)).collect();
        statuses.iter().all(|s| s.as_deref() == Some("processed"))
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline && !every_record_final() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for("the queue to drain", Duration::from_secs(30), async || {
        let depth = metric(&client, port, QUEUE_DEPTH).await;
        let in_flight = metric(&client, port, IN_FLIGHT).await;
        depth == Some(0.0) && in_flight == Some(0.0)
    })
    .await;
    sigterm(&second.0);
    wait_exit(&mut second.0, Duration::from_secs(15));

    // Assert
    assert!(stopped_in < Duration::from_secs(10), "took {stopped_in:?}");
    assert!(
        unfinished > 0,
        "SIGTERM came too late to interrupt anything"
    );
    assert_every_output_is_a_whole_image(&bucket_dir);
    for name in &names {
        let stem = name.trim_end_matches(".jpg");
        let outputs: Vec<PathBuf> = ["resized", "thumbnails"]
            .iter()
            .flat_map(|p| object_files(&bucket_dir.join(p)))
            .filter(|f| f.to_string_lossy().contains(stem))
            .collect();
        let dead_letters = object_files(&dir.path().join("dead-letter"));
        let status = record_status(dir.path(), name);
        assert_eq!(
            outputs.len(),
            4,
            "{name}: {outputs:?}, record {status:?}, dead letters {dead_letters:?}"
        );
        assert_eq!(
            record_status(dir.path(), name).as_deref(),
            Some("processed")
        );
    }
}
