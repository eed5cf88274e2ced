//! For tests: small hand-made TensorFlow.js models (written as the real files would be), and
//! the real model where CI fetched it.
//!
//! The real model: `MODERATION_MODEL_CACHE` names the cache root that `models fetch` filled
//! (`.ci/fetch-model.sh` prints it). Unset, the default cache is tried. A test that needs the
//! model FAILS when it is not there, unless `SKIP_MODERATION_MODEL_TESTS=1` says to skip on
//! purpose: it is never skipped silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{Classifier, MODEL_JSON, WEIGHTS_FILE, default_cache_root, model_dir};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub(crate) const CACHE_ENV: &str = "MODERATION_MODEL_CACHE";
pub(crate) const SKIP_ENV: &str = "SKIP_MODERATION_MODEL_TESTS";

/// The real model's cache root, or `None` when the tests were told to skip it.
pub(crate) fn real_model_root() -> Option<PathBuf> {
    let explicit = std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty());
    let root = explicit
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(default_cache_root);
    match Classifier::load(&model_dir(&root)) {
        Ok(_) => Some(root),
        Err(e) if explicit.is_some() => {
            panic!("{CACHE_ENV} is set but the model does not load: {e}")
        }
        Err(_) if std::env::var(SKIP_ENV).as_deref() == Ok("1") => {
            eprintln!("SKIPPED on purpose ({SKIP_ENV}=1): this test needs the real model");
            None
        }
        Err(e) => panic!(
            "this test needs the real model: {e}. Run `.ci/fetch-model.sh` (or `image-pipeline \
             models fetch`) and set {CACHE_ENV}, or set {SKIP_ENV}=1 to skip it on purpose"
        ),
    }
}

pub(crate) fn real_classifier() -> Option<Classifier> {
    real_model_root().map(|root| Classifier::load(&model_dir(&root)).unwrap())
}

/// Builds a Keras functional model layer by layer, with float32 (unquantised) weights.
#[derive(Default)]
pub(crate) struct TinyModel {
    layers: Vec<Value>,
    specs: Vec<Value>,
    weights: Vec<u8>,
}

impl TinyModel {
    /// Starts with the 224x224x3 input layer `input_1`.
    pub fn new() -> Self {
        let mut m = Self::default();
        m.layer(
            "input_1",
            "InputLayer",
            json!({"batch_input_shape": [null, 224, 224, 3]}),
            &[],
        );
        m
    }

    pub fn layer(
        &mut self,
        name: &str,
        class: &str,
        mut config: Value,
        inputs: &[&str],
    ) -> &mut Self {
        config["name"] = json!(name);
        let inbound: Vec<Value> = inputs.iter().map(|i| json!([i, 0, 0, {}])).collect();
        let nodes = if inbound.is_empty() {
            json!([])
        } else {
            json!([inbound])
        };
        self.layers.push(
            json!({"name": name, "class_name": class, "config": config, "inbound_nodes": nodes}),
        );
        self
    }

    /// `pool`: a 224x224 average pool of the input (one pixel of its mean colour).
    pub fn pool_input(&mut self) -> &mut Self {
        let config = json!({"pool_size": [224, 224], "strides": [224, 224], "padding": "valid"});
        self.layer("pool", "AveragePooling2D", config, &["input_1"])
    }

    pub fn weight(&mut self, name: &str, shape: &[usize], values: &[f32]) -> &mut Self {
        assert_eq!(shape.iter().product::<usize>(), values.len(), "{name}");
        self.specs
            .push(json!({"name": name, "shape": shape, "dtype": "float32"}));
        self.weights
            .extend(values.iter().flat_map(|v| v.to_le_bytes()));
        self
    }

    /// A uint8-quantised weight: value = q * scale + min.
    pub fn quantised(
        &mut self,
        name: &str,
        shape: &[usize],
        q: &[u8],
        min: f64,
        scale: f64,
    ) -> &mut Self {
        self.specs
            .push(json!({"name": name, "shape": shape, "dtype": "float32",
            "quantization": {"min": min, "scale": scale, "dtype": "uint8"}}));
        self.weights.extend_from_slice(q);
        self
    }

    pub fn model_json(&self, output: &str) -> Vec<u8> {
        let json = json!({
            "modelTopology": {"model_config": {"class_name": "Model", "config": {
                "layers": self.layers, "input_layers": [["input_1", 0, 0]],
                "output_layers": [[output, 0, 0]]}}},
            "weightsManifest": [{"paths": [WEIGHTS_FILE], "weights": self.specs}],
        });
        serde_json::to_vec(&json).unwrap()
    }

    /// Writes `model.json` and the shard into `dir`.
    pub fn write(&self, dir: &Path, output: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(MODEL_JSON), self.model_json(output)).unwrap();
        std::fs::write(dir.join(WEIGHTS_FILE), &self.weights).unwrap();
    }
}

/// input -> 224x224 average pool -> flatten -> dense(3 -> 5, softmax) with these weights.
pub(crate) fn pooled_dense_model(kernel: &[f32; 15], bias: &[f32; 5]) -> TinyModel {
    let mut m = TinyModel::new();
    m.pool_input()
        .layer("flat", "Flatten", json!({}), &["pool"])
        .layer(
            "out",
            "Dense",
            json!({"units": 5, "activation": "softmax", "use_bias": true}),
            &["flat"],
        )
        .weight("out/kernel", &[3, 5], kernel)
        .weight("out/bias", &[5], bias);
    m
}
