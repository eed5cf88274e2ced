//! Reading a download's body under a bound (gcp-contracts.md §7.1): chunk by chunk, at most
//! the bytes asked for, and not one chunk further, whatever the server sends. A server that
//! ignores `Range`, or sends more than the object's size, costs a closed connection, never
//! memory.
//!
//! Decompressive transcoding: an object stored with `Content-Encoding: gzip` is served
//! inflated to a client that does not accept gzip, and Cloud Storage then ignores `Range`;
//! the object's `size` (and its event's) is the stored, compressed size. So downloads ask
//! for the stored bytes (`Accept-Encoding: gzip`, `storage.rs`) and inflate them here,
//! counting the INFLATED bytes against the bound: a 20 MB gzip of zeros stops at the bound,
//! not at gigabytes. A content coding other than gzip is refused (`Unreadable`). Must not
//! decide what a short or refused body means for the caller.

use bytes::Bytes;
use flate2::write::GzDecoder;
use reqwest::header::{CONTENT_ENCODING, HeaderValue};
use reqwest::{Response, StatusCode};
use std::io::Write;

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The connection failed or the body was cut short (transient).
    Transport(reqwest::Error),
    /// The body arrived but cannot be read (a broken gzip stream, an unknown coding).
    Unreadable(String),
}

/// At most `max_bytes` of the answer's body (inflated when it is gzip-encoded). Stops
/// reading as soon as it has them; the rest of the body is never received (the connection
/// is closed instead of reused).
pub(crate) async fn read_at_most(
    mut response: Response,
    max_bytes: u64,
) -> Result<Bytes, BodyError> {
    let max = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    // A ranged answer of a gzip object may end mid-stream: a prefix, not a broken stream.
    let ranged = response.status() == StatusCode::PARTIAL_CONTENT;
    let size_hint = response.content_length().unwrap_or(0);
    let capacity = usize::try_from(size_hint).unwrap_or(0).min(max);
    let encoding = response.headers().get(CONTENT_ENCODING);
    let mut sink = Sink::for_encoding(encoding, Capped::new(max, capacity))?;
    while !sink.is_full() {
        match response.chunk().await.map_err(BodyError::Transport)? {
            Some(chunk) => sink.push(&chunk)?,
            None => return sink.finish(ranged),
        }
    }
    Ok(sink.into_bytes())
}

/// A buffer that takes bytes until it holds `max`, then refuses more.
struct Capped {
    bytes: Vec<u8>,
    max: usize,
}

impl Capped {
    fn new(max: usize, capacity: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(capacity),
            max,
        }
    }

    fn is_full(&self) -> bool {
        self.bytes.len() >= self.max
    }
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = self.max.saturating_sub(self.bytes.len());
        if room == 0 && !data.is_empty() {
            return Err(std::io::Error::other("the download's bound is reached"));
        }
        let taken = room.min(data.len());
        self.bytes.extend_from_slice(&data[..taken]);
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where the body's bytes go: straight into the buffer, or through an inflater into it.
enum Sink {
    Plain(Capped),
    Gzip(Box<GzDecoder<Capped>>),
}

impl Sink {
    fn for_encoding(encoding: Option<&HeaderValue>, capped: Capped) -> Result<Self, BodyError> {
        let coding = encoding
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        match coding.as_str() {
            "" | "identity" => Ok(Self::Plain(capped)),
            "gzip" | "x-gzip" => Ok(Self::Gzip(Box::new(GzDecoder::new(capped)))),
            other => Err(BodyError::Unreadable(format!(
                "the object is served with Content-Encoding {other:?}, which this service \
                 does not read"
            ))),
        }
    }

    fn capped(&self) -> &Capped {
        match self {
            Self::Plain(capped) => capped,
            Self::Gzip(decoder) => decoder.get_ref(),
        }
    }

    fn is_full(&self) -> bool {
        self.capped().is_full()
    }

    fn push(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
        let written = match self {
            Self::Plain(capped) => capped.write(chunk).map(drop),
            Self::Gzip(decoder) => decoder.write_all(chunk),
        };
        match written {
            Ok(()) => Ok(()),
            // The bound was reached inside this chunk: what is held is the answer.
            Err(_) if self.is_full() => Ok(()),
            Err(e) => Err(not_gzip(&e)),
        }
    }

    /// The end of the body: a gzip stream must be complete unless the answer was a range.
    fn finish(mut self, ranged: bool) -> Result<Bytes, BodyError> {
        if let Self::Gzip(decoder) = &mut self
            && let Err(e) = decoder.try_finish()
            && !(ranged || decoder.get_ref().is_full())
        {
            return Err(not_gzip(&e));
        }
        Ok(self.into_bytes())
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Self::Plain(capped) => Bytes::from(capped.bytes),
            Self::Gzip(mut decoder) => {
                let capped = decoder.get_mut();
                // Nothing more may land in it while the decoder is dropped (it flushes).
                capped.max = 0;
                Bytes::from(std::mem::take(&mut capped.bytes))
            }
        }
    }
}

fn not_gzip(error: &std::io::Error) -> BodyError {
    BodyError::Unreadable(format!(
        "the object is stored gzip-encoded but its bytes do not inflate: {error}"
    ))
}
