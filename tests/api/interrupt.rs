//! Ctrl-C in a command that runs the pipeline in-process (the real binary): the first
//! SIGINT stops it starting new work and lets what is in flight finish briefly; it does not
//! go on through its snapshot, nor wait out the 600 s idle timeout.

use crate::helpers::{jpeg, local_env};
use image_pipeline::config::Settings;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_image-pipeline");
const IMAGES: usize = 12;

/// `IMAGES` photos already in the upload bucket (and through the pipeline).
fn existing_images(dir: &Path) {
    let files: Vec<PathBuf> = (0..IMAGES)
        .map(|i| {
            let path = dir.join(format!("p{i:02}.jpg"));
            std::fs::write(&path, jpeg(64 + i as u32, 48)).unwrap();
            path
        })
        .collect();
    let settings = Settings::in_process(&local_env(dir)).unwrap();
    actix_web::rt::System::new()
        .block_on(image_pipeline::process::process_files(settings, &files))
        .unwrap();
}

fn sigint(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits up to `limit` for the child; kills it (and fails) if it is still running then.
fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("still running {limit:?} after Ctrl-C");
}

#[test]
fn ctrl_c_stops_a_backfill_from_starting_more_objects_and_it_exits_soon() {
    // Arrange: a slow backfill (2 objects/s) of 12 objects.
    let dir = tempfile::tempdir().unwrap();
    existing_images(dir.path());
    let mut child = Command::new(BIN)
        .args([
            "backfill",
            "--bucket",
            "uploads",
            "--rate",
            "2",
            "--concurrency",
            "1",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(local_env(dir.path()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("\"outcome\""), "{first}");

    // Act
    sigint(&child);
    let status = wait_exit(&mut child, Duration::from_secs(30));

    // Assert: interrupted (130), and most of the snapshot never started.
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let handled = 1 + rest.lines().filter(|l| l.contains("\"outcome\"")).count();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        handled < IMAGES / 2,
        "{handled} objects handled after Ctrl-C:\n{rest}"
    );
    assert!(stderr.contains("interrupted"), "{stderr}");
}
