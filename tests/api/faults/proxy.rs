//! The fault-injecting front: a raw HTTP/1.1 server on loopback that the service's Google
//! backends talk to. It reads each request, asks the [`Plan`] for a fault, and either
//! answers for the upstream (503, 429), cuts the connection (before the upstream acts, or
//! after), sends half an answer, delays it, or passes the upstream's answer through. Raw
//! TCP because an HTTP library would not send half an answer or a reset. One request per
//! connection (`Connection: close`).

use super::plan::{Fault, Plan};
use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest request the proxy reads (uploads of derived images are far smaller).
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl HttpRequest {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl HttpAnswer {
    pub fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Bytes::from(body.to_string()),
        }
    }

    /// Google's error envelope (gcp-contracts.md Appendix A).
    pub fn error(status: u16, rpc_status: &str, message: &str) -> Self {
        Self::json(
            status,
            &json!({"error": {"code": status, "message": message, "status": rpc_status}}),
        )
    }
}

/// Whatever answers behind the proxy (fake-gcs-server, the in-process fakes).
#[async_trait]
pub trait Upstream: Send + Sync {
    async fn call(&self, request: HttpRequest) -> HttpAnswer;
}

/// Binds the proxy's port first, so its URL can go into the service's settings before the
/// upstream (which needs the service's URL for its events) exists.
pub async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// Serves on `listener` until the runtime stops. `slow_max_ms` bounds a slow answer's delay.
pub fn serve(
    listener: TcpListener,
    upstream: Arc<dyn Upstream>,
    plan: Arc<Plan>,
    slow_max_ms: u64,
) {
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (upstream, plan) = (upstream.clone(), plan.clone());
            tokio::spawn(async move {
                let Some(request) = read_request(&mut stream).await else {
                    return;
                };
                let (fault, detail) = plan.decide(&request.method, request.path());
                handle(
                    request,
                    stream,
                    fault,
                    detail,
                    upstream.as_ref(),
                    slow_max_ms,
                )
                .await;
            });
        }
    });
}

async fn handle(
    request: HttpRequest,
    mut stream: TcpStream,
    fault: Option<Fault>,
    detail: f64,
    upstream: &dyn Upstream,
    slow_max_ms: u64,
) {
    let answer = match fault {
        Some(Fault::Unavailable) => HttpAnswer::error(503, "UNAVAILABLE", "injected fault"),
        Some(Fault::TooManyRequests) => {
            let mut answer = HttpAnswer::error(429, "RESOURCE_EXHAUSTED", "injected fault");
            answer.headers.push(("Retry-After".into(), "1".into()));
            answer
        }
        Some(Fault::ResetBeforeAnswer) => return reset(stream),
        _ => upstream.call(request).await,
    };
    let head = head_of(&answer);
    match fault {
        Some(Fault::AnswerLost) => reset(stream),
        Some(Fault::HalfBodyThenReset) => {
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream
                .write_all(&answer.body[..answer.body.len() / 2])
                .await;
            let _ = stream.flush().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
            reset(stream);
        }
        _ => {
            if fault == Some(Fault::Slow) {
                let delay = (detail * slow_max_ms as f64) as u64;
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&answer.body).await;
            let _ = stream.shutdown().await;
        }
    }
}

/// Closes with a TCP reset (SO_LINGER 0) instead of a clean FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

fn head_of(answer: &HttpAnswer) -> String {
    let mut head = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
    for (name, value) in &answer.headers {
        let lower = name.to_ascii_lowercase();
        if !["content-length", "transfer-encoding", "connection"].contains(&lower.as_str()) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        answer.body.len()
    ));
    head
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Reads one request (head, then a `Content-Length` body); `None` if the client went away.
pub async fn read_request(stream: &mut TcpStream) -> Option<HttpRequest> {
    let mut seen = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let head_end = loop {
        if let Some(at) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || seen.len() > MAX_REQUEST_BYTES {
            return None;
        }
        seen.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, target) = (request_line.next()?, request_line.next()?);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while seen.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        seen.extend_from_slice(&chunk[..n]);
    }
    Some(HttpRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body: Bytes::copy_from_slice(&seen[head_end..head_end + length]),
    })
}
