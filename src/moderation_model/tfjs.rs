//! Reading a TensorFlow.js layers-format model: `model.json` (the Keras topology and the
//! weights manifest) and its weight shard, dequantised the way tfjs-core's `io_utils` does
//! (`q * scale + min`, computed in f64 and stored as f32). Owns parsing and size checks only;
//! what the layers mean is `graph`'s.

use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

/// One Keras layer as the topology lists it.
#[derive(Debug)]
pub(crate) struct Layer {
    pub name: String,
    pub class_name: String,
    pub config: Value,
    /// Names of the layers whose outputs feed this one (in order).
    pub inputs: Vec<String>,
}

/// A dequantised weight tensor.
#[derive(Debug)]
pub(crate) struct Weight {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// The topology (in the file's order, which Keras writes topologically) and the weights by name.
#[derive(Debug)]
pub(crate) struct Model {
    pub layers: Vec<Layer>,
    pub output: String,
    pub weights: HashMap<String, Weight>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelJson {
    model_topology: Topology,
    weights_manifest: Vec<ManifestGroup>,
}

#[derive(Deserialize)]
struct Topology {
    model_config: ModelConfig,
}

#[derive(Deserialize)]
struct ModelConfig {
    class_name: String,
    config: FunctionalConfig,
}

#[derive(Deserialize)]
struct FunctionalConfig {
    layers: Vec<LayerJson>,
    output_layers: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
struct LayerJson {
    name: String,
    class_name: String,
    config: Value,
    inbound_nodes: Vec<Vec<Vec<Value>>>,
}

#[derive(Deserialize)]
struct ManifestGroup {
    paths: Vec<String>,
    weights: Vec<WeightSpec>,
}

#[derive(Deserialize)]
struct WeightSpec {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    quantization: Option<Quantization>,
}

#[derive(Deserialize)]
struct Quantization {
    min: f64,
    scale: f64,
    dtype: String,
}

impl Model {
    /// Parses `model.json` and slices `weights` (the one shard) by the manifest.
    pub fn parse(model_json: &[u8], weights: &[u8]) -> Result<Self, String> {
        let json: ModelJson = serde_json::from_slice(model_json)
            .map_err(|e| format!("{} is not a TensorFlow.js model: {e}", super::MODEL_JSON))?;
        let config = json.model_topology.model_config;
        if config.class_name != "Model" && config.class_name != "Functional" {
            return Err(format!(
                "model class {:?} is not a Keras functional model",
                config.class_name
            ));
        }
        let layers = config
            .config
            .layers
            .into_iter()
            .map(layer)
            .collect::<Result<Vec<_>, _>>()?;
        let output = match config.config.output_layers.as_slice() {
            [only] => first_name(only).ok_or("output_layers names no layer")?,
            other => return Err(format!("{} outputs; one expected", other.len())),
        };
        let weights = dequantise_all(json.weights_manifest, weights)?;
        Ok(Self {
            layers,
            output,
            weights,
        })
    }
}

fn first_name(entry: &[Value]) -> Option<String> {
    entry.first()?.as_str().map(str::to_owned)
}

fn layer(json: LayerJson) -> Result<Layer, String> {
    let inputs = match json.inbound_nodes.as_slice() {
        [] => Vec::new(),
        [node] => node
            .iter()
            .map(|t| {
                first_name(t).ok_or_else(|| format!("layer {}: unreadable inbound node", json.name))
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(format!(
                "layer {} is shared (called more than once)",
                json.name
            ));
        }
    };
    Ok(Layer {
        name: json.name,
        class_name: json.class_name,
        config: json.config,
        inputs,
    })
}

fn dequantise_all(
    manifest: Vec<ManifestGroup>,
    bytes: &[u8],
) -> Result<HashMap<String, Weight>, String> {
    let [group] = <[ManifestGroup; 1]>::try_from(manifest)
        .map_err(|m| format!("{} weight groups; one expected", m.len()))?;
    if group.paths != [super::WEIGHTS_FILE] {
        return Err(format!(
            "weight shards {:?}; expected [{:?}]",
            group.paths,
            super::WEIGHTS_FILE
        ));
    }
    let mut offset = 0usize;
    let mut out = HashMap::new();
    for spec in group.weights {
        let count: usize = spec.shape.iter().product();
        let (data, used) = dequantise(&spec, count, bytes.get(offset..).unwrap_or_default())?;
        offset += used;
        out.insert(
            spec.name,
            Weight {
                shape: spec.shape,
                data,
            },
        );
    }
    if offset != bytes.len() {
        return Err(format!(
            "the weights file is {} bytes; the manifest describes {offset}",
            bytes.len()
        ));
    }
    Ok(out)
}

/// One weight's values and the bytes it took.
fn dequantise(spec: &WeightSpec, count: usize, bytes: &[u8]) -> Result<(Vec<f32>, usize), String> {
    if spec.dtype != "float32" {
        return Err(format!(
            "weight {} has dtype {}; float32 expected",
            spec.name, spec.dtype
        ));
    }
    let width = match spec.quantization.as_ref().map(|q| q.dtype.as_str()) {
        None => 4,
        Some("uint8") => 1,
        Some("uint16") => 2,
        Some(other) => {
            return Err(format!(
                "weight {}: unsupported quantization {other}",
                spec.name
            ));
        }
    };
    let used = count * width;
    let Some(raw) = bytes.get(..used) else {
        return Err(format!(
            "the weights file ends inside weight {} (truncated?)",
            spec.name
        ));
    };
    let data = match (&spec.quantization, width) {
        (None, _) => raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        (Some(q), 1) => raw
            .iter()
            .map(|&v| (f64::from(v) * q.scale + q.min) as f32)
            .collect(),
        (Some(q), _) => raw
            .chunks_exact(2)
            .map(|b| (f64::from(u16::from_le_bytes([b[0], b[1]])) * q.scale + q.min) as f32)
            .collect(),
    };
    Ok((data, used))
}
