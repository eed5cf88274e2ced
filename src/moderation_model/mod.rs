//! The built-in moderation model: nsfwjs's MobileNetV2 classifier (MIT code and weights,
//! <https://github.com/infinitered/nsfwjs>), read from the TensorFlow.js layers-format files
//! that `image-pipeline models fetch` put in the cache folder, and run on the CPU by a narrow
//! engine that knows exactly the layers this model uses (`graph`, `kernels`).
//!
//! Owns: the pinned package version and checksum, the model files' names, loading
//! (`Classifier::load`) and classifying decoded pixels. Must not download anything (that is
//! `fetch`, run by hand or by CI) and must not decide verdicts (the domain does).

mod build;
pub mod fetch;
mod graph;
mod jslit;
mod kernels;
mod preprocess;
mod tfjs;

#[cfg(test)]
mod graph_tests;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

use crate::domain::SafeSearch;
use crate::domain::moderation::NudityScores;
use std::path::{Path, PathBuf};

pub use preprocess::INPUT_SIZE;

/// The npm package and version the weights come from.
pub const NSFWJS_PACKAGE: &str = "nsfwjs";
pub const NSFWJS_VERSION: &str = "4.4.0";
/// sha256 of `npm pack nsfwjs@4.4.0` (the registry tarball); `fetch` refuses anything else.
pub const NSFWJS_TARBALL_SHA256: &str =
    "585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382";
/// What judged an image, as recorded in the verdict.
pub const MODEL_ID: &str = "nsfwjs-4.4.0/mobilenet_v2";

/// Files in the model folder (`<cache>/nsfwjs-4.4.0-mobilenet_v2/`).
pub const MODEL_JSON: &str = "model.json";
pub const WEIGHTS_FILE: &str = "group1-shard1of1";
pub const LICENSE_FILE: &str = "LICENSE";
/// Where the files came from (package, version, checksum, licence).
pub const SOURCE_FILE: &str = "SOURCE.txt";

/// The classes, in the model's output order (nsfwjs `NSFW_CLASSES`).
pub const CLASSES: [&str; 5] = ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"];

/// The folder holding this model's files under a cache root.
pub fn model_dir(cache_root: &Path) -> PathBuf {
    cache_root.join(format!("{NSFWJS_PACKAGE}-{NSFWJS_VERSION}-mobilenet_v2"))
}

/// The default cache root: `$XDG_CACHE_HOME/image-pipeline/models`, else
/// `~/.cache/image-pipeline/models`, else `./models` (no home directory).
pub fn default_cache_root() -> PathBuf {
    match crate::cache_dir::project_cache_dir() {
        Some(dir) => dir.join("models"),
        None => PathBuf::from("models"),
    }
}

/// Why the model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model folder or one of its files does not exist: `models fetch` has not run.
    #[error("the moderation model is not in {dir} (run `image-pipeline models fetch`)")]
    Missing { dir: PathBuf },
    #[error("could not read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file is there but is not what this engine expects (truncated, edited, another model).
    #[error(
        "the moderation model in {dir} is corrupt or unsupported: {reason} (run `image-pipeline models fetch` again)"
    )]
    Corrupt { dir: PathBuf, reason: String },
    /// The image could not be decoded.
    #[error("could not decode the image: {0}")]
    Decode(String),
}

/// Widest and tallest image [`Classifier::classify_encoded`] decodes.
pub const MAX_DECODE_SIDE_PIXELS: u32 = 8192;
/// Most bytes its decoder may allocate (the `image` crate's own default; the service's
/// copies are 640 px, this bounds `models classify` on a photo).
pub const MAX_DECODE_ALLOC_BYTES: u64 = 512 << 20;

/// Class probabilities for one image, in [`CLASSES`] order (they sum to 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probabilities(pub [f32; 5]);

impl Probabilities {
    pub fn drawing(&self) -> f32 {
        self.0[0]
    }
    pub fn hentai(&self) -> f32 {
        self.0[1]
    }
    pub fn neutral(&self) -> f32 {
        self.0[2]
    }
    pub fn porn(&self) -> f32 {
        self.0[3]
    }
    pub fn sexy(&self) -> f32 {
        self.0[4]
    }

    /// The SafeSearch answer for these probabilities (the mapping is the domain's).
    pub fn safe_search(&self) -> SafeSearch {
        NudityScores {
            porn: self.porn(),
            hentai: self.hentai(),
            sexy: self.sexy(),
        }
        .safe_search()
    }

    /// `{"Drawing": p, ...}` for `models classify --json` and the reference script.
    pub fn to_json(&self) -> serde_json::Value {
        CLASSES
            .iter()
            .zip(self.0)
            .map(|(name, p)| ((*name).to_owned(), serde_json::Value::from(f64::from(p))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// The loaded model, ready to classify; immutable, so one instance serves every thread.
#[derive(Debug)]
pub struct Classifier {
    graph: graph::Graph,
}

impl Classifier {
    /// Reads and checks `model.json` and the weights in `dir`, folding batch norms into the
    /// convolutions. Done once per process.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let model_json = read(dir, MODEL_JSON)?;
        let weights = read(dir, WEIGHTS_FILE)?;
        let corrupt = |reason: String| ModelError::Corrupt {
            dir: dir.to_path_buf(),
            reason,
        };
        let model = tfjs::Model::parse(&model_json, &weights).map_err(corrupt)?;
        let graph = graph::Graph::compile(&model).map_err(corrupt)?;
        Ok(Self { graph })
    }

    /// Class probabilities for encoded image bytes (any format the `image` crate reads),
    /// looking at the pixels as stored, as nsfwjs does. The decode is refused past
    /// [`MAX_DECODE_SIDE_PIXELS`] and [`MAX_DECODE_ALLOC_BYTES`] (the service hands it images
    /// already made small under its memory budget; this bounds every other caller).
    pub fn classify_encoded(&self, bytes: &[u8]) -> Result<Probabilities, ModelError> {
        let decode_error = |e: image::ImageError| ModelError::Decode(e.to_string());
        let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| ModelError::Decode(e.to_string()))?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_DECODE_SIDE_PIXELS);
        limits.max_image_height = Some(MAX_DECODE_SIDE_PIXELS);
        limits.max_alloc = Some(MAX_DECODE_ALLOC_BYTES);
        reader.limits(limits);
        let rgb = reader.decode().map_err(decode_error)?.into_rgb8();
        Ok(self.classify_rgb(&rgb))
    }

    /// Class probabilities for decoded 8-bit RGB pixels.
    pub fn classify_rgb(&self, rgb: &image::RgbImage) -> Probabilities {
        let input = preprocess::to_model_input(rgb);
        let out = self.graph.run(input);
        let mut p = [0.0f32; 5];
        for (slot, v) in p.iter_mut().zip(out) {
            *slot = v;
        }
        Probabilities(p)
    }
}

fn read(dir: &Path, file: &str) -> Result<Vec<u8>, ModelError> {
    let path = dir.join(file);
    std::fs::read(&path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ModelError::Missing {
                dir: dir.to_path_buf(),
            }
        } else {
            ModelError::Io { path, source }
        }
    })
}
