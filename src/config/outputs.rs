//! Where outputs go, as the one `DerivedOutputs` rule the routes, backfill and validation
//! share; where they are served from (`resize.public_base_url`, for the record's `srcset`);
//! and the local profile's signing key. That key is the one thing config writes:
//! `<data_dir>/derived-signing.key`, made once on the first start of the local profile, so
//! outputs written before a restart are still recognised after it.

use super::{ConfigError, Profile, Settings};
use crate::domain::naming::thumbnail_format_prefix;
use crate::domain::{DerivedOutputs, OutputPlace, SigningKey};
use std::io::Write;
use std::path::Path;

/// The local profile's key file, inside `local.data_dir`.
pub const LOCAL_SIGNING_KEY_FILE: &str = "derived-signing.key";

impl DerivedOutputs {
    /// The rule from the settings: resize, thumbnail and quarantine outputs (an unset
    /// bucket means the source's bucket) and `derived.signing_key`. In the local
    /// profile the buckets its triggers watch hold uploads, even when named as outputs.
    pub fn from_settings(settings: &Settings) -> Self {
        let (resize, thumbnail) = (&settings.resize, &settings.thumbnail);
        let moderation = &settings.moderation;
        let mut places = vec![
            OutputPlace::new(&resize.prefix, resize.bucket.clone()),
            OutputPlace::new(&thumbnail.prefix, thumbnail.bucket.clone()),
            OutputPlace::new(
                &moderation.quarantine_prefix,
                moderation.quarantine_bucket.clone(),
            ),
        ];
        // The thumbnail's further formats live beside its prefix (`domain::naming`).
        let further = thumbnail.output_formats().into_iter().skip(1);
        places.extend(further.map(|format| {
            let prefix = thumbnail_format_prefix(&thumbnail.prefix, format.as_str());
            OutputPlace::new(prefix, thumbnail.bucket.clone())
        }));
        let rule = Self::new(places, settings.derived.signing_key.clone());
        match settings.profile {
            Profile::Gcp => rule,
            Profile::Local => {
                let local = &settings.local;
                let watched = local.triggers.iter().filter_map(|t| t.bucket.clone());
                rule.with_upload_buckets(watched.chain([local.upload_bucket.clone()]))
            }
        }
    }

    /// The rule a running service uses: [`Self::from_settings`]; when outputs share a bucket
    /// with uploads and still no key is set (start-up resolves one: the gcp profile refuses
    /// to start without it, the local profile reads its data folder's), as when tests or
    /// an embedding build the state themselves, a random key for this process, with a
    /// warning: what it signs is recognised only until the process exits.
    pub fn for_service(settings: &Settings) -> Self {
        let rule = Self::from_settings(settings);
        if !rule.needs_signing_key() {
            return rule;
        }
        tracing::warn!(
            "outputs share the upload bucket and no derived.signing_key is set: signing them \
             with a key for this process only"
        );
        match SigningKey::new(&rand::random::<[u8; 32]>()) {
            Ok(key) => rule.with_signing_key(key),
            Err(_) => rule, // 32 bytes are always long enough
        }
    }
}

/// Cloud Storage's public URL of an object in `{bucket}` (objects readable by `allUsers`).
pub const GCS_PUBLIC_BASE_URL: &str = "https://storage.googleapis.com/{bucket}/";

impl Settings {
    /// Fills an empty `resize.public_base_url` with the profile's: Cloud Storage's public
    /// URL on `gcp`; on `local` the console's file route on this configuration's port
    /// (resolved at load, so the commands that run the server in-process on a random port
    /// still name the one `serve` listens on), or a root-relative one when the port is 0.
    pub(super) fn resolve_public_base_url(&mut self) {
        if !self.resize.public_base_url.is_empty() {
            return;
        }
        self.resize.public_base_url = match (self.profile, self.server.port) {
            (Profile::Gcp, _) => GCS_PUBLIC_BASE_URL.to_owned(),
            (Profile::Local, 0) => "/console/files/{bucket}/".to_owned(),
            (Profile::Local, port) => format!("http://127.0.0.1:{port}/console/files/{{bucket}}/"),
        };
    }

    /// In the local profile without `derived.signing_key`: the key of this data folder,
    /// read from its key file or made and written there (readable by the owner only).
    /// Other settings are returned as they are.
    pub fn with_local_signing_key(mut self) -> Result<Self, ConfigError> {
        if self.profile == Profile::Local && self.derived.signing_key.is_none() {
            let path = self.local.data_dir.join(LOCAL_SIGNING_KEY_FILE);
            let key = read_or_create_key(&path).map_err(|e| {
                ConfigError::Load(format!(
                    "the local signing key {}: {e} (or set PIPELINE_DERIVED__SIGNING_KEY)",
                    path.display()
                ))
            })?;
            self.derived.signing_key = Some(key);
        }
        Ok(self)
    }
}

fn read_or_create_key(path: &Path) -> std::io::Result<SigningKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_key(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(path),
        Err(e) => Err(e),
    }
}

fn parse_key(text: &str) -> std::io::Result<SigningKey> {
    SigningKey::new(text.trim().as_bytes()).map_err(std::io::Error::other)
}

/// Writes a fresh random key create-only; when another process made it first, reads theirs.
fn create_key(path: &Path) -> std::io::Result<SigningKey> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let text: String = rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            parse_key(&text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            parse_key(&std::fs::read_to_string(path)?)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
#[path = "outputs_tests.rs"]
mod tests;
