//! Builds a [`Graph`](super::graph::Graph)'s operations from the Keras layers, one layer at a
//! time: checks each layer's configuration and weights, folds batch norm into the convolution
//! before it and fuses ReLU6. Refuses any layer or option the engine cannot run; never guesses.

use super::graph::{Kind, Op};
use super::kernels::{Activation, ConvParams};
use super::preprocess::INPUT_SIZE;
use super::tfjs::{Layer, Model, Weight};
use serde_json::Value;
use std::collections::HashMap;

pub(super) struct Builder<'m> {
    model: &'m Model,
    pub(super) ops: Vec<Op>,
    /// Shape (h, w, c) of each value.
    shapes: Vec<(usize, usize, usize)>,
    /// Layer name -> value (fused layers share their producer's value).
    by_name: HashMap<&'m str, usize>,
    /// How many layers read each layer's output.
    readers: HashMap<&'m str, usize>,
}

impl<'m> Builder<'m> {
    pub(super) fn new(model: &'m Model) -> Self {
        let mut readers = HashMap::new();
        for layer in &model.layers {
            for input in &layer.inputs {
                *readers.entry(input.as_str()).or_default() += 1;
            }
        }
        Self {
            model,
            ops: Vec::new(),
            shapes: Vec::new(),
            by_name: HashMap::new(),
            readers,
        }
    }

    pub(super) fn value(&self, name: &str) -> Result<usize, String> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| format!("unknown input layer {name:?}"))
    }

    fn weight(&self, layer: &Layer, suffix: &str) -> Result<&'m Weight, String> {
        let name = format!("{}/{suffix}", layer.name);
        self.model
            .weights
            .get(&name)
            .ok_or_else(|| format!("weight {name} is missing"))
    }

    fn push(
        &mut self,
        layer: &'m Layer,
        kind: Kind,
        inputs: Vec<usize>,
        shape: (usize, usize, usize),
    ) {
        self.ops.push(Op { kind, inputs });
        self.shapes.push(shape);
        self.by_name.insert(&layer.name, self.ops.len() - 1);
    }

    /// The single input's value and shape.
    fn single_input(&self, layer: &Layer) -> Result<(usize, (usize, usize, usize)), String> {
        match layer.inputs.as_slice() {
            [one] => {
                let v = self.value(one)?;
                Ok((v, self.shapes[v]))
            }
            other => Err(format!("{} inputs; one expected", other.len())),
        }
    }

    /// The conv op that produced `layer`'s only input, if nothing else reads it (so it may fuse).
    fn fusable_conv(&mut self, layer: &Layer) -> Option<&mut ConvParams> {
        let [input] = layer.inputs.as_slice() else {
            return None;
        };
        if self.readers.get(input.as_str()) != Some(&1) {
            return None;
        }
        let v = *self.by_name.get(input.as_str())?;
        match &mut self.ops[v].kind {
            Kind::Conv(p) | Kind::Depthwise(p) => Some(p),
            _ => None,
        }
    }

    fn alias(&mut self, layer: &'m Layer) -> Result<(), String> {
        let (v, _) = self.single_input(layer)?;
        self.by_name.insert(&layer.name, v);
        Ok(())
    }

    pub(super) fn add(&mut self, layer: &'m Layer) -> Result<(), String> {
        match layer.class_name.as_str() {
            "InputLayer" => self.input(layer)?,
            "ZeroPadding2D" => self.pad(layer)?,
            "Conv2D" | "DepthwiseConv2D" => self.conv(layer)?,
            "BatchNormalization" => self.batch_norm(layer)?,
            "ReLU" => self.relu(layer)?,
            "Add" => self.sum(layer)?,
            "AveragePooling2D" => self.avg_pool(layer)?,
            "Flatten" | "Dropout" => self.alias(layer)?,
            "Dense" => self.dense(layer)?,
            other => {
                return Err(format!(
                    "layer type {other} is not supported by this engine"
                ));
            }
        }
        Ok(())
    }

    fn input(&mut self, layer: &'m Layer) -> Result<(), String> {
        let shape = layer
            .config
            .get("batch_input_shape")
            .and_then(Value::as_array)
            .map(|s| s.iter().skip(1).map(Value::as_u64).collect::<Vec<_>>());
        let want = u64::from(INPUT_SIZE);
        if shape != Some(vec![Some(want), Some(want), Some(3)]) {
            return Err(format!(
                "input shape {shape:?}; [{want}, {want}, 3] expected"
            ));
        }
        let s = INPUT_SIZE as usize;
        self.push(layer, Kind::Input, Vec::new(), (s, s, 3));
        Ok(())
    }

    fn pad(&mut self, layer: &'m Layer) -> Result<(), String> {
        let (v, (h, w, ch)) = self.single_input(layer)?;
        let p = pairs(layer.config.get("padding"))
            .ok_or("padding is not [[top, bottom], [left, right]]")?;
        let kind = Kind::Pad {
            top: p[0],
            bottom: p[1],
            left: p[2],
            right: p[3],
        };
        self.push(layer, kind, vec![v], (h + p[0] + p[1], w + p[2] + p[3], ch));
        Ok(())
    }

    fn sum(&mut self, layer: &'m Layer) -> Result<(), String> {
        let [a, b] = layer.inputs.as_slice() else {
            return Err("Add needs two inputs".into());
        };
        let (a, b) = (self.value(a)?, self.value(b)?);
        if self.shapes[a] != self.shapes[b] {
            return Err(format!(
                "Add of {:?} and {:?}",
                self.shapes[a], self.shapes[b]
            ));
        }
        let shape = self.shapes[a];
        self.push(layer, Kind::Add, vec![a, b], shape);
        Ok(())
    }

    fn avg_pool(&mut self, layer: &'m Layer) -> Result<(), String> {
        let c = &layer.config;
        let (v, (h, w, ch)) = self.single_input(layer)?;
        let size = pair(c.get("pool_size")).ok_or("pool_size")?;
        let stride = pair(c.get("strides")).ok_or("strides")?;
        if str_field(c, "padding") != Some("valid") || size.0 > h || size.1 > w {
            return Err("only valid pooling inside the input is supported".into());
        }
        let shape = ((h - size.0) / stride.0 + 1, (w - size.1) / stride.1 + 1, ch);
        self.push(layer, Kind::AvgPool { size, stride }, vec![v], shape);
        Ok(())
    }

    fn conv(&mut self, layer: &'m Layer) -> Result<(), String> {
        let c = &layer.config;
        let (v, (h, w, cin)) = self.single_input(layer)?;
        let depthwise = layer.class_name == "DepthwiseConv2D";
        if str_field(c, "activation") != Some("linear")
            || pair(c.get("dilation_rate")) != Some((1, 1))
        {
            return Err("only linear, undilated convolutions are supported".into());
        }
        if c.get("use_bias").and_then(Value::as_bool) != Some(false) {
            return Err("convolutions with a bias are not supported".into());
        }
        let kernel = self.weight(
            layer,
            if depthwise {
                "depthwise_kernel"
            } else {
                "kernel"
            },
        )?;
        let (kh, kw, kin, cout) = match kernel.shape.as_slice() {
            &[kh, kw, kin, k3] if depthwise && k3 == 1 => (kh, kw, kin, kin),
            &[kh, kw, kin, cout] if !depthwise => (kh, kw, kin, cout),
            other => return Err(format!("kernel shape {other:?}")),
        };
        let (sh, sw) = pair(c.get("strides")).ok_or("strides")?;
        if kin != cin || pair(c.get("kernel_size")) != Some((kh, kw)) || sh == 0 || sw == 0 {
            return Err(format!(
                "kernel {:?} does not fit input channels {cin}",
                kernel.shape
            ));
        }
        let (oh, top) = out_len(h, kh, sh, str_field(c, "padding"))?;
        let (ow, left) = out_len(w, kw, sw, str_field(c, "padding"))?;
        let params = ConvParams {
            kernel: (kh, kw),
            stride: (sh, sw),
            pad: (top, left),
            out: (oh, ow, cout),
            weights: kernel.data.clone(),
            bias: vec![0.0; cout],
            clamp: None,
        };
        let kind = if depthwise {
            Kind::Depthwise(params)
        } else {
            Kind::Conv(params)
        };
        self.push(layer, kind, vec![v], (oh, ow, cout));
        Ok(())
    }

    /// Folds `gamma * (x - mean) / sqrt(var + eps) + beta` into the convolution before it.
    fn batch_norm(&mut self, layer: &'m Layer) -> Result<(), String> {
        let c = &layer.config;
        let eps = c.get("epsilon").and_then(Value::as_f64).ok_or("epsilon")?;
        let axis = c.get("axis").and_then(Value::as_i64);
        let flags = (
            c.get("center").and_then(Value::as_bool),
            c.get("scale").and_then(Value::as_bool),
        );
        if axis != Some(-1) && axis != Some(3) || flags != (Some(true), Some(true)) {
            return Err("only channel-axis batch norm with centre and scale is supported".into());
        }
        let [gamma, beta, mean, var] =
            ["gamma", "beta", "moving_mean", "moving_variance"].map(|s| self.weight(layer, s));
        let (gamma, beta, mean, var) = (gamma?, beta?, mean?, var?);
        let Some(conv) = self.fusable_conv(layer) else {
            return Err("batch norm must follow a convolution read by nothing else".into());
        };
        let channels = conv.out.2;
        if [gamma, beta, mean, var]
            .iter()
            .any(|w| w.data.len() != channels)
            || conv.clamp.is_some()
        {
            return Err("batch norm does not match the convolution's channels".into());
        }
        for ch in 0..channels {
            let scale = f64::from(gamma.data[ch]) / (f64::from(var.data[ch]) + eps).sqrt();
            for wv in conv.weights.iter_mut().skip(ch).step_by(channels) {
                *wv = (f64::from(*wv) * scale) as f32;
            }
            let bias = f64::from(conv.bias[ch]);
            conv.bias[ch] =
                ((bias - f64::from(mean.data[ch])) * scale + f64::from(beta.data[ch])) as f32;
        }
        self.alias(layer)
    }

    fn relu(&mut self, layer: &'m Layer) -> Result<(), String> {
        let c = &layer.config;
        let slope = c
            .get("negative_slope")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let threshold = c.get("threshold").and_then(Value::as_f64).unwrap_or(0.0);
        if slope != 0.0 || threshold != 0.0 {
            return Err("only ReLU without slope or threshold is supported".into());
        }
        let hi = c
            .get("max_value")
            .and_then(Value::as_f64)
            .map_or(f32::INFINITY, |m| m as f32);
        if let Some(conv) = self.fusable_conv(layer).filter(|p| p.clamp.is_none()) {
            conv.clamp = Some((0.0, hi));
            return self.alias(layer);
        }
        let (v, shape) = self.single_input(layer)?;
        self.push(layer, Kind::Clamp { lo: 0.0, hi }, vec![v], shape);
        Ok(())
    }

    fn dense(&mut self, layer: &'m Layer) -> Result<(), String> {
        let (v, (h, w, ch)) = self.single_input(layer)?;
        let activation = match str_field(&layer.config, "activation") {
            Some("linear") => Activation::Linear,
            Some("relu") => Activation::Relu,
            Some("softmax") => Activation::Softmax,
            other => return Err(format!("dense activation {other:?} is not supported")),
        };
        let kernel = self.weight(layer, "kernel")?;
        let bias = self.weight(layer, "bias")?;
        let inputs = h * w * ch;
        let outputs = match kernel.shape.as_slice() {
            &[i, o] if i == inputs && bias.data.len() == o => o,
            other => return Err(format!("kernel {other:?} does not fit {inputs} inputs")),
        };
        let kind = Kind::Dense {
            weights: kernel.data.clone(),
            bias: bias.data.clone(),
            outputs,
            activation,
        };
        self.push(layer, kind, vec![v], (1, 1, outputs));
        Ok(())
    }
}

/// Output length and leading padding of a convolution along one axis (TensorFlow's rules).
fn out_len(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: Option<&str>,
) -> Result<(usize, usize), String> {
    match padding {
        Some("valid") if input >= kernel => Ok(((input - kernel) / stride + 1, 0)),
        Some("same") => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + kernel).saturating_sub(input);
            Ok((out, total / 2))
        }
        other => Err(format!("padding {other:?} with kernel {kernel} on {input}")),
    }
}

fn str_field<'a>(config: &'a Value, key: &str) -> Option<&'a str> {
    config.get(key).and_then(Value::as_str)
}

fn usizes(value: Option<&Value>) -> Option<Vec<usize>> {
    value?
        .as_array()?
        .iter()
        .map(|v| v.as_u64().and_then(|n| usize::try_from(n).ok()))
        .collect()
}

fn pair(value: Option<&Value>) -> Option<(usize, usize)> {
    match usizes(value)?.as_slice() {
        &[a, b] => Some((a, b)),
        _ => None,
    }
}

/// `[[top, bottom], [left, right]]` as `[top, bottom, left, right]`.
fn pairs(value: Option<&Value>) -> Option<[usize; 4]> {
    let rows = value?.as_array()?;
    match rows.as_slice() {
        [a, b] => {
            let (t, bo) = pair(Some(a))?;
            let (l, r) = pair(Some(b))?;
            Some([t, bo, l, r])
        }
        _ => None,
    }
}
