//! The real binary as a process: check-config, Cloud Logging JSON with trace fields, and a
//! graceful SIGTERM that lets an in-flight request finish.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_image-pipeline");

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(data_dir: &std::path::Path, port: u16) -> Child {
    Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PIPELINE_CONFIG_DIR", "/nonexistent")
        .env("PIPELINE_SERVER__HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("PIPELINE_LOCAL__DATA_DIR", data_dir)
        .env("PIPELINE_LOG_FORMAT", "json")
        .env("PIPELINE_ROUTES", "record")
        .env("PIPELINE_LOCAL__TRIGGERS", "[]")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts")
}

fn wait_until_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ =
                stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("server did not become healthy on port {port}");
}

pub(crate) fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn check_config_fails_with_a_clear_message_for_an_unknown_route() {
    let output = Command::new(BIN)
        .arg("check-config")
        .env("PIPELINE_CONFIG_DIR", "/nonexistent")
        .env("PIPELINE_ROUTES", "nope")
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown route \"nope\""), "{stderr}");
}

#[test]
fn check_config_prints_the_resolved_configuration_for_a_valid_setup() {
    let output = Command::new(BIN)
        .arg("check-config")
        .env("PIPELINE_CONFIG_DIR", "/nonexistent")
        .env("PIPELINE_ROUTES", "resize")
        .output()
        .unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("routes = [\"resize\"]"), "{stdout}");
}

#[test]
fn check_config_names_the_key_of_a_misspelt_value() {
    let output = Command::new(BIN)
        .arg("check-config")
        .env("PIPELINE_CONFIG_DIR", "/nonexistent")
        .env("PIPELINE_THUMBNAIL__ANCHOR", "smrt")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`thumbnail.anchor`"), "{stderr}");
    assert!(stderr.contains("PIPELINE_THUMBNAIL__ANCHOR"), "{stderr}");
    assert!(stderr.contains("smrt"), "{stderr}");
}

#[test]
fn check_config_prints_real_toml_with_nested_tables() {
    let output = Command::new(BIN)
        .arg("check-config")
        .env("PIPELINE_CONFIG_DIR", "/nonexistent")
        .output()
        .unwrap();

    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let table: toml::Table = stdout.parse().unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(
        table["resize"]["sizes"]["large"].as_str(),
        Some("1920x1080")
    );
    assert_eq!(
        table["moderation"]["thresholds"]["adult"].as_str(),
        Some("LIKELY")
    );
    assert_eq!(table["local"]["triggers"].as_array().map(Vec::len), Some(8));
}

#[test]
fn log_lines_are_cloud_logging_json_with_trace_and_event_fields() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = start_server(dir.path(), port);
    wait_until_healthy(port);

    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = "POST /record HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
        ce-id: trace-me\r\nce-source: //test\r\nce-specversion: 1.0\r\n\
        ce-type: google.cloud.storage.object.v1.finalized\r\ncontent-type: application/json\r\n\
        X-Cloud-Trace-Context: 105445aa7843bc8bf206b12000100000/1;o=1\r\n\
        Content-Length: 5\r\n\r\n{bad}";
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    sigterm(&child);
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<serde_json::Value> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    child.wait().unwrap();

    let line = lines
        .iter()
        .find(|l| l["logging.googleapis.com/labels"]["ce_id"] == "trace-me")
        .unwrap_or_else(|| panic!("no log line for the event in {lines:?}"));
    assert_eq!(line["severity"], "ERROR");
    assert_eq!(
        line["logging.googleapis.com/trace"],
        "105445aa7843bc8bf206b12000100000"
    );
    assert_eq!(line["logging.googleapis.com/spanId"], "0000000000000001");
    assert_eq!(line["logging.googleapis.com/trace_sampled"], true);
    assert_eq!(line["logging.googleapis.com/labels"]["route"], "record");
    assert!(
        line["message"].as_str().unwrap().contains("rejected"),
        "{line}"
    );
    assert!(line["time"].as_str().unwrap().ends_with('Z'), "{line}");
}

#[test]
fn sigterm_during_a_slow_request_lets_it_finish_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = start_server(dir.path(), port);
    wait_until_healthy(port);
    let body = "{\"bucket\":\"uploads\",\"name\":\"slow.txt\",\"generation\":\"1\"}";
    let head = format!(
        "POST /record HTTP/1.1\r\nHost: x\r\nConnection: close\r\nce-id: slow\r\n\
         ce-source: //test\r\nce-specversion: 1.0\r\nce-type: com.example.unknown\r\n\
         content-type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    sigterm(&child);
    std::thread::sleep(Duration::from_millis(500));
    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let started = Instant::now();
    let status = child.wait().unwrap();

    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"outcome\":\"skipped\""), "{answer}");
    assert!(status.success(), "exit status {status:?}");
    assert!(started.elapsed() < Duration::from_secs(9));
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting after SIGTERM"
    );
}
