//! `image-pipeline models fetch`: gets the nsfwjs package through the ordinary npm client
//! (`npm pack nsfwjs@4.4.0`, which uses npm's own cache and registry settings), refuses it
//! unless its sha256 is the pinned one, and writes the MobileNetV2 model (`model.json`, the
//! weight shard) and the package's LICENSE into `<cache root>/nsfwjs-4.4.0-mobilenet_v2/`.
//! The folder appears whole or not at all (staged, checked by loading it, then renamed).
//! Runs only when asked: moderation never downloads.

use super::{
    Classifier, LICENSE_FILE, MODEL_JSON, NSFWJS_PACKAGE, NSFWJS_TARBALL_SHA256, NSFWJS_VERSION,
    SOURCE_FILE, WEIGHTS_FILE, jslit, model_dir,
};
use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files taken from the package, by their path inside the tarball.
const MODEL_BUNDLE: &str = "package/dist/models/mobilenet_v2/model.min.js";
const SHARD_BUNDLE: &str = "package/dist/models/mobilenet_v2/group1-shard1of1.min.js";
const PACKAGE_LICENSE: &str = "package/LICENSE";
/// Entries above this are not model files (the whole tarball is about 25 MB).
const MAX_ENTRY_BYTES: u64 = 16 * 1024 * 1024;

/// Where the package comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Run this npm client (normally `npm` on the PATH).
    Npm(PathBuf),
    /// A tarball already on disk (an offline mirror); checked against the same sha256.
    Tarball(PathBuf),
}

/// What `fetch` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Fetched {
    Installed(PathBuf),
    AlreadyPresent(PathBuf),
}

/// Installs the model under `cache_root` unless a loadable copy is already there.
pub fn fetch(cache_root: &Path, source: &Source) -> anyhow::Result<Fetched> {
    let dir = model_dir(cache_root);
    if Classifier::load(&dir).is_ok() {
        return Ok(Fetched::AlreadyPresent(dir));
    }
    std::fs::create_dir_all(cache_root)
        .with_context(|| format!("could not create the model cache {}", cache_root.display()))?;
    let staging = Staging::create(cache_root)?;
    let tarball = match source {
        Source::Npm(npm) => npm_pack(npm, staging.path())?,
        Source::Tarball(path) => path.clone(),
    };
    let bytes =
        std::fs::read(&tarball).with_context(|| format!("could not read {}", tarball.display()))?;
    let digest = hex(&Sha256::digest(&bytes));
    if digest != NSFWJS_TARBALL_SHA256 {
        bail!(
            "{} has sha256 {digest}, not the pinned {NSFWJS_TARBALL_SHA256} of \
             {NSFWJS_PACKAGE}@{NSFWJS_VERSION}: refusing it",
            tarball.display()
        );
    }
    let model = staging.path().join("model");
    std::fs::create_dir(&model).context("could not create the staging folder")?;
    unpack(&bytes, &model)?;
    Classifier::load(&model).context("the unpacked model does not load")?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("could not replace the unloadable {}", dir.display()))?;
    }
    std::fs::rename(&model, &dir)
        .with_context(|| format!("could not move the model into {}", dir.display()))?;
    Ok(Fetched::Installed(dir))
}

/// `npm pack nsfwjs@VERSION` into `dest`; the tarball's path.
fn npm_pack(npm: &Path, dest: &Path) -> anyhow::Result<PathBuf> {
    let spec = format!("{NSFWJS_PACKAGE}@{NSFWJS_VERSION}");
    let output = Command::new(npm)
        .args(["pack", &spec, "--silent", "--pack-destination"])
        .arg(dest)
        .output()
        .with_context(|| {
            format!(
                "could not run {} (install Node.js and npm, or pass --tarball)",
                npm.display()
            )
        })?;
    if !output.status.success() {
        bail!(
            "`{} pack {spec}` failed ({}): {}",
            npm.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let name = String::from_utf8_lossy(&output.stdout)
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.ends_with(".tgz"))
        .map(str::to_owned)
        .with_context(|| format!("`npm pack {spec}` did not name a tarball"))?;
    Ok(dest.join(name))
}

/// Provenance written beside the model.
fn source_note() -> String {
    format!(
        "{NSFWJS_PACKAGE} {NSFWJS_VERSION} from npm (`npm pack {NSFWJS_PACKAGE}@{NSFWJS_VERSION}`), \
         tarball sha256 {NSFWJS_TARBALL_SHA256}.\nFiles: {MODEL_JSON} and {WEIGHTS_FILE} unwrapped \
         from {MODEL_BUNDLE} and {SHARD_BUNDLE}.\nCode and weights: MIT licence, see {LICENSE_FILE} \
         (https://github.com/infinitered/nsfwjs).\n"
    )
}

/// Writes the model files and the licence from the (verified) tarball into `dir`.
fn unpack(tgz: &[u8], dir: &Path) -> anyhow::Result<()> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    let (mut model, mut shard, mut license) = (None, None, None);
    for entry in archive
        .entries()
        .context("the tarball is not a gzip'd tar")?
    {
        let mut entry = entry.context("the tarball is damaged")?;
        let path = entry.path().context("a tarball entry has no path")?;
        let slot = match path.to_str() {
            Some(MODEL_BUNDLE) => &mut model,
            Some(SHARD_BUNDLE) => &mut shard,
            Some(PACKAGE_LICENSE) => &mut license,
            _ => continue,
        };
        if entry.size() > MAX_ENTRY_BYTES {
            bail!("a model file in the tarball is over {MAX_ENTRY_BYTES} bytes");
        }
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .context("a model file in the tarball is not UTF-8 text")?;
        *slot = Some(text);
    }
    let missing = |what: &str| format!("the package has no {what}");
    let model = jslit::model_json(&model.with_context(|| missing(MODEL_BUNDLE))?)
        .map_err(anyhow::Error::msg)
        .context("could not unwrap model.json")?;
    let weights = jslit::shard_bytes(&shard.with_context(|| missing(SHARD_BUNDLE))?)
        .map_err(anyhow::Error::msg)
        .context("could not unwrap the weights")?;
    let license = license.with_context(|| missing(PACKAGE_LICENSE))?;
    for (name, body) in [
        (MODEL_JSON, model.as_bytes()),
        (WEIGHTS_FILE, weights.as_slice()),
        (LICENSE_FILE, license.as_bytes()),
        (SOURCE_FILE, source_note().as_bytes()),
    ] {
        std::fs::write(dir.join(name), body)
            .with_context(|| format!("could not write {}", dir.join(name).display()))?;
    }
    Ok(())
}

/// A scratch folder in the cache root, removed when dropped (also on error).
struct Staging(PathBuf);

impl Staging {
    fn create(cache_root: &Path) -> anyhow::Result<Self> {
        let path = cache_root.join(format!(".fetch-{}", std::process::id()));
        // A leftover from a killed run with the same pid: start clean.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path)
            .with_context(|| format!("could not create {}", path.display()))?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "fetch_tests.rs"]
mod tests;
