//! Turns the Keras topology into a list of operations this engine can run, and runs them.
//! Supports exactly the layers nsfwjs's MobileNetV2 uses: InputLayer, ZeroPadding2D, Conv2D,
//! DepthwiseConv2D, BatchNormalization (folded into the convolution before it), ReLU with
//! `max_value` (fused into that convolution), Add, AveragePooling2D, Flatten, Dense
//! (linear/relu/softmax) and Dropout (identity at inference). Anything else is refused at
//! load time, never guessed.

use super::build::Builder;
use super::kernels::{self, Activation, ConvParams, Tensor};
use super::tfjs::Model;

#[derive(Debug)]
pub(super) enum Kind {
    Input,
    Pad {
        top: usize,
        bottom: usize,
        left: usize,
        right: usize,
    },
    Conv(ConvParams),
    Depthwise(ConvParams),
    Clamp {
        lo: f32,
        hi: f32,
    },
    Add,
    AvgPool {
        size: (usize, usize),
        stride: (usize, usize),
    },
    Dense {
        weights: Vec<f32>,
        bias: Vec<f32>,
        outputs: usize,
        activation: Activation,
    },
}

#[derive(Debug)]
pub(super) struct Op {
    pub(super) kind: Kind,
    pub(super) inputs: Vec<usize>,
}

/// The compiled model: operations in order; value `i` is the output of op `i`.
#[derive(Debug)]
pub(crate) struct Graph {
    ops: Vec<Op>,
    /// Values no later op reads, freed after op `i`.
    last_uses: Vec<Vec<usize>>,
    output: usize,
}

impl Graph {
    pub fn compile(model: &Model) -> Result<Self, String> {
        let mut builder = Builder::new(model);
        for layer in &model.layers {
            builder
                .add(layer)
                .map_err(|e| format!("layer {}: {e}", layer.name))?;
        }
        let output = builder.value(&model.output)?;
        let Builder { ops, .. } = builder;
        if !matches!(
            ops.get(output).map(|o| &o.kind),
            Some(Kind::Dense { outputs: 5, .. })
        ) {
            return Err("the model's output is not a 5-class dense layer".to_owned());
        }
        let mut last_use = vec![0usize; ops.len()];
        for (i, op) in ops.iter().enumerate() {
            for &v in &op.inputs {
                last_use[v] = i;
            }
        }
        let mut last_uses = vec![Vec::new(); ops.len()];
        for (value, &at) in last_use.iter().enumerate() {
            if value != output {
                last_uses[at].push(value);
            }
        }
        Ok(Self {
            ops,
            last_uses,
            output,
        })
    }

    /// Runs the model on a 224x224x3 input; the output layer's values.
    pub fn run(&self, input: Tensor) -> Vec<f32> {
        let mut values: Vec<Option<Tensor>> = Vec::with_capacity(self.ops.len());
        let mut input = Some(input);
        for (i, op) in self.ops.iter().enumerate() {
            let arg = |n: usize| values[op.inputs[n]].as_ref();
            let out = match &op.kind {
                Kind::Input => input.take(),
                Kind::Pad {
                    top,
                    bottom,
                    left,
                    right,
                } => arg(0).map(|t| kernels::pad(t, *top, *bottom, *left, *right)),
                Kind::Conv(p) => arg(0).map(|t| kernels::conv2d(t, p)),
                Kind::Depthwise(p) => arg(0).map(|t| kernels::depthwise(t, p)),
                Kind::Clamp { lo, hi } => arg(0).map(|t| kernels::clamp(t, *lo, *hi)),
                Kind::Add => arg(0).zip(arg(1)).map(|(a, b)| kernels::add(a, b)),
                Kind::AvgPool { size, stride } => {
                    arg(0).map(|t| kernels::avg_pool(t, *size, *stride))
                }
                Kind::Dense {
                    weights,
                    bias,
                    outputs,
                    activation,
                } => arg(0).map(|t| kernels::dense(t, weights, bias, *outputs, *activation)),
            };
            values.push(out);
            for &dead in &self.last_uses[i] {
                values[dead] = None;
            }
        }
        values
            .get_mut(self.output)
            .and_then(Option::take)
            .map(|t| t.data)
            .unwrap_or_default()
    }
}
