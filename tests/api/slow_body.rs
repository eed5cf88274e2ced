//! A client that sends its headers and then trickles (or never sends) its body is cut off
//! after `server.body_read_timeout_secs`, instead of holding a connection forever.

use crate::helpers::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[actix_web::test]
async fn a_body_never_finished_is_cut_off_after_the_body_read_timeout() {
    // Arrange
    let app = spawn_app(&[("PIPELINE_SERVER__BODY_READ_TIMEOUT_SECS", "1")]).await;
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = "POST /resize HTTP/1.1\r\nHost: x\r\nce-id: slow-body\r\n\
        ce-source: //storage.googleapis.com/projects/_/buckets/uploads\r\nce-specversion: 1.0\r\n\
        ce-type: google.cloud.storage.object.v1.finalized\r\ncontent-type: application/json\r\n\
        content-length: 1000\r\n\r\n{\"bucket\":";
    let started = Instant::now();

    // Act: send the headers and 10 of the 1000 bytes promised, then nothing.
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    let read_head = async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await.unwrap() {
                0 => break,
                n => answer.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let within = tokio::time::timeout(Duration::from_secs(10), read_head).await;

    // Assert
    assert!(within.is_ok(), "the connection was still held after 10 s");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 4"), "{text}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "cut off too early"
    );
    assert!(app.publisher.types().is_empty(), "nothing was handled");
}
