//! What resize records about the source as a whole besides its sizes: the content hash of
//! the uploaded bytes and imaging's perceptual hash and placeholders, in the record's
//! vocabulary (`domain::ImageSummary`). Computed inside the CPU job (`derive::render`).

use sha2::{Digest, Sha256};

use crate::domain::{ImageSummary, Placeholder};
use crate::imaging::Processed;

/// What a route records about the source besides its outputs. The thumbnail keeps only
/// its crop's placeholder, so it must not pay for hashing the whole upload (2 ms of
/// SHA-256 on a 3 MB photo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Summarise {
    /// Nothing.
    No,
    /// Imaging's placeholders and perceptual hash.
    Placeholders,
    /// Those and the content hash of the uploaded bytes.
    WithContentHash,
}

impl Summarise {
    pub fn placeholders(self) -> bool {
        self >= Self::Placeholders
    }

    pub fn content_hash(self) -> bool {
        self == Self::WithContentHash
    }
}

/// An imaging result and, when the route summarises, the hash of the bytes it came from.
pub struct Rendered {
    pub processed: Processed,
    pub content_hash: Option<String>,
}

impl From<Processed> for Rendered {
    fn from(processed: Processed) -> Self {
        Self {
            processed,
            content_hash: None,
        }
    }
}

impl Rendered {
    /// `processed` with the content hash of `input`, the bytes it was made from.
    pub fn with_hash(processed: Processed, input: &[u8]) -> Self {
        Self {
            processed,
            content_hash: Some(content_hash(input)),
        }
    }
}

/// `sha256:<lower-case hex>` of `bytes`.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The record's summary; `None` when the route did not summarise.
pub fn of(rendered: &Rendered) -> Option<ImageSummary> {
    let summary = rendered.processed.summary.as_ref();
    if summary.is_none() && rendered.content_hash.is_none() {
        return None;
    }
    Some(ImageSummary {
        content_hash: rendered.content_hash.clone(),
        phash: summary.map(|s| s.phash_hex()),
        placeholder: summary.map(|s| Placeholder {
            thumbhash: s.placeholder.thumbhash.clone(),
            blurhash: s.placeholder.blurhash.clone(),
            color: s.placeholder.color.clone(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::content_hash;

    #[test]
    fn the_content_hash_is_sha256_in_hex_with_its_algorithm_named() {
        assert_eq!(
            content_hash(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
