//! `image-pipeline process --open` as a user runs it: the report, then the console's URL,
//! a server that keeps answering on it, and a clean stop on Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_image-pipeline");

#[actix_web::test]
async fn process_open_keeps_serving_the_console_after_the_report_until_ctrl_c() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.png");
    image::RgbImage::from_fn(320, 240, |x, y| image::Rgb([x as u8, y as u8, 99]))
        .save(&photo)
        .unwrap();

    // Act
    let mut child = Command::new(BIN)
        .args(["process", "--open"])
        .arg(&photo)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PIPELINE_CONFIG_DIR", "/nonexistent")
        .env("PIPELINE_LOCAL__DATA_DIR", dir.path().join("data"))
        .env(
            "PIPELINE_MODERATION__MODEL_DIR",
            dir.path().join("no-model"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let url = stderr
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            let start = line.find("http://")?;
            line[start..].split_whitespace().next().map(str::to_owned)
        })
        .expect("process --open prints the console's URL");

    // Assert: the report came first, and the console answers with the processed photo
    image_pipeline::backends::install_tls_provider();
    let client = reqwest::Client::new();
    let rows = client.get(format!("{url}/rows")).send().await.unwrap();
    assert_eq!(rows.status().as_u16(), 200);
    let rows = rows.text().await.unwrap();
    assert!(
        rows.contains(r#"data-name="photo.png" data-status="processed""#),
        "{rows}"
    );
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = wait_with_timeout(&mut child, Duration::from_secs(20));
    let mut report = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut report).unwrap();
    assert!(report.contains("processed 1"), "{report}");
    assert!(status.success(), "{status:?}");
}

fn wait_with_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            panic!("process --open did not stop on SIGINT within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
