//! Which objects are the pipeline's own outputs (the loop guard), decided in one place for
//! the routes, backfill and validation. Where outputs go to a bucket of their own, their
//! names and the derived marker are trusted: no uploader writes there. Where outputs share a
//! bucket with uploads, an uploader can pick any name and set any metadata, so only a
//! signature counts: an HMAC-SHA256 of bucket, name and source generation under a key the
//! services hold (`derived.signing_key`). Pure: the key and the places come from the caller.

use super::naming::derived_prefix_of;
use super::object::{DERIVED_MARKER_KEY, SOURCE_GENERATION_KEY};
use super::{ObjectInfo, ObjectMeta, ObjectRef};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Custom-metadata key holding a derived object's signature (hex HMAC-SHA256).
pub const SIGNATURE_KEY: &str = "image-pipeline-signature";

/// Versions the signed message, so a later format cannot be confused with this one.
const SIGNATURE_CONTEXT: &[u8] = b"image-pipeline derived object v1";

type HmacSha256 = Hmac<Sha256>;

/// The secret that signs derived objects. Never printed: `Debug` shows `REDACTED`.
#[derive(Clone)]
pub struct SigningKey {
    bytes: Arc<[u8]>,
    /// The HMAC with the key already absorbed; each signature starts from a copy.
    keyed: HmacSha256,
}

impl SigningKey {
    /// Shortest key accepted: 32 bytes, the size of the HMAC-SHA256 output.
    pub const MIN_BYTES: usize = 32;

    pub fn new(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < Self::MIN_BYTES {
            return Err(format!(
                "a signing key needs at least {} bytes, this one has {} \
                 (e.g. `openssl rand -base64 48`)",
                Self::MIN_BYTES,
                bytes.len()
            ));
        }
        let keyed = HmacSha256::new_from_slice(bytes).map_err(|e| e.to_string())?;
        Ok(Self {
            bytes: bytes.into(),
            keyed,
        })
    }

    fn mac(&self, bucket: &str, name: &str, source_generation: &str) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(SIGNATURE_CONTEXT);
        // Each field with its length first: no two (bucket, name, generation) sign alike.
        for field in [bucket, name, source_generation] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac
    }

    /// The hex signature of an output at `bucket`/`name` made from `source_generation`
    /// (the metadata's value as written; empty when there is none).
    pub fn sign(&self, bucket: &str, name: &str, source_generation: &str) -> String {
        let tag = self.mac(bucket, name, source_generation).finalize();
        tag.into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// True when `signature` is this key's for those fields (compared in constant time).
    fn verifies(&self, bucket: &str, name: &str, source_generation: &str, signature: &str) -> bool {
        let Some(tag) = from_hex(signature) else {
            return false;
        };
        self.mac(bucket, name, source_generation)
            .verify_slice(&tag)
            .is_ok()
    }
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for SigningKey {}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(REDACTED)")
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// Where one kind of output lives: under `prefix`, in `bucket` (`None`: the source's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPlace {
    pub prefix: String,
    pub bucket: Option<String>,
}

impl OutputPlace {
    pub fn new(prefix: impl Into<String>, bucket: Option<String>) -> Self {
        Self {
            prefix: prefix.into(),
            bucket,
        }
    }

    /// The bucket this output of `source` goes to.
    pub fn bucket_for<'a>(&'a self, source: &'a ObjectRef) -> &'a str {
        output_bucket(self.bucket.as_deref(), source)
    }
}

/// The bucket an output of `source` goes to: the configured one, or the source's.
pub fn output_bucket<'a>(configured: Option<&'a str>, source: &'a ObjectRef) -> &'a str {
    configured.unwrap_or(&source.bucket)
}

/// The rule "is this one of our outputs", from where outputs go and the signing key.
#[derive(Debug, Clone)]
pub struct DerivedOutputs {
    places: Vec<OutputPlace>,
    /// Buckets named as an output bucket that uploads also land in (a local trigger
    /// watches them): there, as in the source's own bucket, only a signature counts.
    shared_buckets: Vec<String>,
    key: Option<SigningKey>,
}

impl DerivedOutputs {
    pub fn new(places: Vec<OutputPlace>, key: Option<SigningKey>) -> Self {
        Self {
            places,
            shared_buckets: Vec::new(),
            key,
        }
    }

    /// The same rule, knowing that uploads also land in `buckets`.
    pub fn with_upload_buckets(mut self, buckets: impl IntoIterator<Item = String>) -> Self {
        self.shared_buckets.extend(buckets);
        self
    }

    /// The same rule, signing and verifying with `key`.
    pub fn with_signing_key(mut self, key: SigningKey) -> Self {
        self.key = Some(key);
        self
    }

    /// True when `bucket` holds outputs and never uploads: names and markers are trusted.
    fn dedicated(&self, bucket: &str) -> bool {
        !self.shared_buckets.iter().any(|b| b == bucket)
            && self
                .places
                .iter()
                .any(|p| p.bucket.as_deref() == Some(bucket))
    }

    /// The places whose outputs share a bucket with uploads (only a signature marks them).
    pub fn shared_places(&self) -> impl Iterator<Item = &OutputPlace> {
        self.places.iter().filter(|p| match &p.bucket {
            None => true,
            Some(bucket) => !self.dedicated(bucket),
        })
    }

    /// True when outputs share a bucket with uploads and no key signs them, so the
    /// pipeline could not tell its outputs from uploads there.
    pub fn needs_signing_key(&self) -> bool {
        self.key.is_none() && self.shared_places().next().is_some()
    }

    /// Metadata for an output of `source` written to `bucket`/`name`: the marker, the
    /// source, and (with a key) the signature over exactly these.
    pub fn output_meta(
        &self,
        source: &ObjectRef,
        bucket: &str,
        name: &str,
        content_type: impl Into<String>,
    ) -> ObjectMeta {
        let mut meta = ObjectMeta::derived_from(source, content_type);
        self.sign(&mut meta.metadata, bucket, name);
        meta
    }

    /// Signs derived metadata for `bucket`/`name` (replacing any signature); no-op without a key.
    pub fn sign(&self, metadata: &mut BTreeMap<String, String>, bucket: &str, name: &str) {
        let Some(key) = &self.key else {
            return;
        };
        let generation = metadata
            .get(SOURCE_GENERATION_KEY)
            .map_or("", String::as_str);
        let signature = key.sign(bucket, name, generation);
        metadata.insert(SIGNATURE_KEY.to_owned(), signature);
    }

    /// Why the object at `bucket`/`name` is one of the pipeline's own outputs, if it is:
    /// a valid signature anywhere; in a dedicated output bucket also the marker or a
    /// name under an output prefix of that bucket.
    pub fn reason(
        &self,
        bucket: &str,
        name: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Option<String> {
        if self.signed(bucket, name, metadata) {
            return Some(format!("{name} is a derived object (signed marker)"));
        }
        if !self.dedicated(bucket) {
            return None;
        }
        if metadata
            .get(DERIVED_MARKER_KEY)
            .is_some_and(|v| v == "true")
        {
            return Some(format!("{name} is a derived object (metadata marker)"));
        }
        let prefixes: Vec<&str> = (self.places.iter())
            .filter(|p| p.bucket.as_deref() == Some(bucket))
            .map(|p| p.prefix.as_str())
            .collect();
        derived_prefix_of(&prefixes, name)
            .map(|folder| format!("{name} is under the derived prefix {folder}"))
    }

    /// True when the object is one of the pipeline's own outputs ([`Self::reason`]).
    pub fn is_derived(
        &self,
        bucket: &str,
        name: &str,
        metadata: &BTreeMap<String, String>,
    ) -> bool {
        self.reason(bucket, name, metadata).is_some()
    }

    /// [`Self::is_derived`] for a listed or stat'ed object.
    pub fn is_derived_object(&self, info: &ObjectInfo) -> bool {
        self.is_derived(&info.bucket, &info.name, &info.metadata)
    }

    /// The source generation an existing output was made from, only when the output is
    /// really ours: an uploader's object at an output name claims nothing.
    pub fn source_generation_of(&self, info: &ObjectInfo) -> Option<i64> {
        self.is_derived_object(info)
            .then(|| info.source_generation())
            .flatten()
    }

    fn signed(&self, bucket: &str, name: &str, metadata: &BTreeMap<String, String>) -> bool {
        let (Some(key), Some(signature)) = (&self.key, metadata.get(SIGNATURE_KEY)) else {
            return false;
        };
        let generation = metadata
            .get(SOURCE_GENERATION_KEY)
            .map_or("", String::as_str);
        key.verifies(bucket, name, generation, signature)
    }
}

#[cfg(test)]
#[path = "derived_tests.rs"]
mod tests;
