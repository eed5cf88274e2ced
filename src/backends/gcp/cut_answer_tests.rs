//! Answers cut off in the middle of the body (gcp-contracts.md Appendix A): a connection
//! reset after half the body, or a body shorter than its `Content-Length`. Both are transport
//! failures, retried within the call and transient when they persist; only a complete body
//! that does not parse is `Malformed`. The server is a raw loopback TCP listener, because an
//! HTTP mock cannot send half an answer.

use super::test_support::context;
use super::{FirestoreRecords, GcsStore, VisionModerator};
use crate::backends::{BackendError, ModerationImage, Moderator, ObjectStore, Records};
use crate::domain::{ObjectRef, RecordKey};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the server answers one request.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// Headers and half the body, then a TCP reset.
    HalfThenReset,
    /// Headers with the full `Content-Length`, half the body, then a clean close.
    ShortBody,
    /// The whole answer.
    Whole,
}

struct RawServer {
    url: String,
    /// Requests answered so far (each on its own connection).
    calls: Arc<AtomicUsize>,
}

/// Answers request `n` as `script[n]` (the last entry repeats), always `200` with `body`.
async fn raw_server(body: &'static [u8], script: Vec<Cut>) -> RawServer {
    raw_server_with_status("200 OK", body, script).await
}

async fn raw_server_with_status(
    status: &'static str,
    body: &'static [u8],
    script: Vec<Cut>,
) -> RawServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let cut = script[n.min(script.len() - 1)];
            tokio::spawn(answer(stream, status, body, cut));
        }
    });
    RawServer { url, calls }
}

async fn answer(mut stream: TcpStream, status: &str, body: &[u8], cut: Cut) {
    read_request(&mut stream).await;
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let half = &body[..body.len() / 2];
    match cut {
        Cut::Whole => {
            let _ = stream.write_all(body).await;
            let _ = stream.shutdown().await;
        }
        Cut::ShortBody => {
            let _ = stream.write_all(half).await;
            let _ = stream.shutdown().await;
        }
        Cut::HalfThenReset => {
            let _ = stream.write_all(half).await;
            let _ = stream.flush().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            // SO_LINGER 0: closing sends RST instead of FIN.
            let _ = stream.set_zero_linger();
            drop(stream);
        }
    }
}

/// Reads the request head and its `Content-Length` body (requests here are small).
async fn read_request(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&chunk[..n]);
        if let Some(at) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while seen.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A Firestore read against `server`, which must fail.
async fn firestore_get_error(server: &RawServer) -> BackendError {
    FirestoreRecords::new(context(&server.url).await, "images")
        .get(&RecordKey::new("uploads", "a.png"))
        .await
        .unwrap_err()
}

/// A transport failure (retried, transient) after all 3 attempts (`retry_max_attempts`).
fn assert_transient_after_every_attempt(error: &BackendError, server: &RawServer) {
    assert!(
        matches!(error, BackendError::Connection { .. }),
        "{error:?}"
    );
    assert!(error.is_transient(), "{error}");
    assert_eq!(server.calls.load(Ordering::SeqCst), 3);
}

const OBJECT_BYTES: &[u8] = &[7u8; 64 * 1024];
const DOCUMENT: &[u8] = br#"{"fields": {}, "updateTime": "2026-11-25T04:00:00.000000Z"}"#;
const ANNOTATION: &[u8] =
    br#"{"responses": [{"safeSearchAnnotation": {"adult": "VERY_UNLIKELY"}}]}"#;

#[tokio::test]
async fn a_download_reset_halfway_is_retried_and_the_next_whole_answer_is_used() {
    let server = raw_server(OBJECT_BYTES, vec![Cut::HalfThenReset, Cut::Whole]).await;
    let store = GcsStore::new(context(&server.url).await);

    let body = store
        .read(&ObjectRef::new("uploads", "a.jpg").at_generation(1))
        .await;

    assert_eq!(body.unwrap(), Bytes::from_static(OBJECT_BYTES));
    assert_eq!(server.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_download_that_keeps_being_reset_ends_transient_after_every_attempt() {
    let server = raw_server(OBJECT_BYTES, vec![Cut::HalfThenReset]).await;
    let store = GcsStore::new(context(&server.url).await);

    let error = store
        .read(&ObjectRef::new("uploads", "a.jpg"))
        .await
        .unwrap_err();

    assert_transient_after_every_attempt(&error, &server);
    assert!(error.is_transient(), "{error}");
    assert_eq!(server.calls.load(Ordering::SeqCst), 3, "retry_max_attempts");
}

#[tokio::test]
async fn a_json_answer_shorter_than_its_content_length_is_transient_not_malformed() {
    let server = raw_server(DOCUMENT, vec![Cut::ShortBody]).await;

    let error = firestore_get_error(&server).await;

    assert_transient_after_every_attempt(&error, &server);
    assert!(error.is_transient(), "{error}");
    assert_eq!(server.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_json_answer_reset_halfway_is_retried_to_success() {
    let server = raw_server(ANNOTATION, vec![Cut::HalfThenReset, Cut::Whole]).await;
    let vision = VisionModerator::new(context(&server.url).await);

    let verdict = vision
        .assess(&ModerationImage::Bytes(Bytes::from_static(b"x")))
        .await;

    assert!(verdict.is_ok(), "{verdict:?}");
    assert_eq!(server.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_complete_answer_that_is_not_json_is_malformed_and_not_retried() {
    let server = raw_server(b"<html>proxy error page</html>", vec![Cut::Whole]).await;

    let error = firestore_get_error(&server).await;

    assert!(matches!(error, BackendError::Malformed { .. }), "{error:?}");
    assert!(!error.is_transient());
    assert_eq!(server.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_error_answer_cut_off_is_transient_not_taken_at_its_status() {
    // A 400 FAILED_PRECONDITION tells a conflict (re-read and retry) from a bad request;
    // with its body cut off nobody can tell, so it must not become a permanent 400.
    let conflict: &[u8] = br#"{"error": {"code": 400, "message": "the stored version does not match", "status": "FAILED_PRECONDITION"}}"#;
    let server =
        raw_server_with_status("400 Bad Request", conflict, vec![Cut::HalfThenReset]).await;

    let error = firestore_get_error(&server).await;

    assert_transient_after_every_attempt(&error, &server);
    assert!(error.is_transient(), "{error}");
    assert_eq!(server.calls.load(Ordering::SeqCst), 3);
}
