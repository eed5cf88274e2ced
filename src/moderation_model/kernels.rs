//! The numeric kernels, on NHWC tensors of one image: convolution (im2col + GEMM through
//! ndarray/matrixmultiply), depthwise convolution, padding, clamp, add, average pooling and
//! dense layers. Pure CPU code: no I/O, no allocation beyond the output (and im2col's patches).

use ndarray::{ArrayView2, ArrayViewMut2, linalg::general_mat_mul};

/// One image's activations, `h x w x c`, channels last.
#[derive(Debug, Clone)]
pub(crate) struct Tensor {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn zeros(h: usize, w: usize, c: usize) -> Self {
        Self {
            h,
            w,
            c,
            data: vec![0.0; h * w * c],
        }
    }
}

/// A convolution with batch norm folded in (`bias`) and ReLU fused (`clamp`).
#[derive(Debug)]
pub(crate) struct ConvParams {
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    /// Leading (top, left) zero padding; trailing padding follows from `out`.
    pub pad: (usize, usize),
    pub out: (usize, usize, usize),
    /// Keras layout: `[kh, kw, cin, cout]` (conv) or `[kh, kw, c]` (depthwise).
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub clamp: Option<(f32, f32)>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Activation {
    Linear,
    Relu,
    Softmax,
}

/// `c = a (m x k) * b (k x n)`, row-major, overwriting `c`.
fn matmul(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    let (Ok(a), Ok(b), Ok(mut c)) = (
        ArrayView2::from_shape((m, k), a),
        ArrayView2::from_shape((k, n), b),
        ArrayViewMut2::from_shape((m, n), c),
    ) else {
        // Unreachable: shapes are checked when the graph is compiled.
        return;
    };
    general_mat_mul(1.0, &a, &b, 0.0, &mut c);
}

/// Adds the bias to every pixel and clamps, in place.
fn bias_clamp(data: &mut [f32], bias: &[f32], clamp: Option<(f32, f32)>) {
    let (lo, hi) = clamp.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
    for px in data.chunks_exact_mut(bias.len()) {
        for (v, b) in px.iter_mut().zip(bias) {
            *v = (*v + b).clamp(lo, hi);
        }
    }
}

pub(crate) fn conv2d(input: &Tensor, p: &ConvParams) -> Tensor {
    let (oh, ow, cout) = p.out;
    let (kh, kw) = p.kernel;
    let mut out = Tensor::zeros(oh, ow, cout);
    let pointwise = (kh, kw) == (1, 1) && p.stride == (1, 1) && p.pad == (0, 0);
    if pointwise {
        matmul(
            &input.data,
            &p.weights,
            &mut out.data,
            oh * ow,
            input.c,
            cout,
        );
    } else {
        let patch = kh * kw * input.c;
        let mut cols = vec![0.0f32; oh * ow * patch];
        for (i, row) in cols.chunks_exact_mut(patch).enumerate() {
            for (tap, px) in taps(p, input, i / ow, i % ow) {
                let (src, dst) = (px * input.c, tap * input.c);
                row[dst..dst + input.c].copy_from_slice(&input.data[src..src + input.c]);
            }
        }
        matmul(&cols, &p.weights, &mut out.data, oh * ow, patch, cout);
    }
    bias_clamp(&mut out.data, &p.bias, p.clamp);
    out
}

/// The input row/column a kernel tap reads, or `None` in the zero padding.
fn tap(out: usize, stride: usize, k: usize, pad: usize, len: usize) -> Option<usize> {
    (out * stride + k).checked_sub(pad).filter(|&i| i < len)
}

/// The kernel taps of output pixel (`oy`, `ox`) that fall inside the input, as
/// (tap index `ky * kw + kx`, input pixel index); taps in the zero padding contribute nothing.
fn taps<'a>(
    p: &'a ConvParams,
    input: &'a Tensor,
    oy: usize,
    ox: usize,
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let (kh, kw) = p.kernel;
    (0..kh)
        .filter_map(move |ky| tap(oy, p.stride.0, ky, p.pad.0, input.h).map(|iy| (ky, iy)))
        .flat_map(move |(ky, iy)| {
            (0..kw).filter_map(move |kx| {
                tap(ox, p.stride.1, kx, p.pad.1, input.w)
                    .map(|ix| (ky * kw + kx, iy * input.w + ix))
            })
        })
}

pub(crate) fn depthwise(input: &Tensor, p: &ConvParams) -> Tensor {
    let (oh, ow, c) = p.out;
    let mut out = Tensor::zeros(oh, ow, c);
    for (i, px) in out.data.chunks_exact_mut(c).enumerate() {
        px.copy_from_slice(&p.bias);
        for (tap, at) in taps(p, input, i / ow, i % ow) {
            let src = &input.data[at * c..][..c];
            let k = &p.weights[tap * c..][..c];
            for ((o, x), w) in px.iter_mut().zip(src).zip(k) {
                *o += x * w;
            }
        }
        if let Some((lo, hi)) = p.clamp {
            for v in px.iter_mut() {
                *v = v.clamp(lo, hi);
            }
        }
    }
    out
}

pub(crate) fn pad(input: &Tensor, top: usize, bottom: usize, left: usize, right: usize) -> Tensor {
    let (w, c) = (input.w + left + right, input.c);
    let mut out = Tensor::zeros(input.h + top + bottom, w, c);
    for y in 0..input.h {
        let src = &input.data[y * input.w * c..][..input.w * c];
        out.data[((y + top) * w + left) * c..][..input.w * c].copy_from_slice(src);
    }
    out
}

pub(crate) fn clamp(input: &Tensor, lo: f32, hi: f32) -> Tensor {
    let mut out = input.clone();
    out.data.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
    out
}

pub(crate) fn add(a: &Tensor, b: &Tensor) -> Tensor {
    let mut out = a.clone();
    out.data.iter_mut().zip(&b.data).for_each(|(o, x)| *o += x);
    out
}

pub(crate) fn avg_pool(input: &Tensor, size: (usize, usize), stride: (usize, usize)) -> Tensor {
    let c = input.c;
    let oh = (input.h - size.0) / stride.0 + 1;
    let ow = (input.w - size.1) / stride.1 + 1;
    let mut out = Tensor::zeros(oh, ow, c);
    let count = (size.0 * size.1) as f64;
    // Summed in f64 as tfjs's CPU backend does (JavaScript numbers): f32 drifts on big pools.
    let mut sum = vec![0.0f64; c];
    for (i, px) in out.data.chunks_exact_mut(c).enumerate() {
        let (oy, ox) = (i / ow, i % ow);
        sum.fill(0.0);
        for y in oy * stride.0..oy * stride.0 + size.0 {
            for x in ox * stride.1..ox * stride.1 + size.1 {
                let src = &input.data[(y * input.w + x) * c..][..c];
                sum.iter_mut()
                    .zip(src)
                    .for_each(|(o, v)| *o += f64::from(*v));
            }
        }
        px.iter_mut()
            .zip(&sum)
            .for_each(|(o, s)| *o = (s / count) as f32);
    }
    out
}

/// `activation(x * W + b)` with Keras's `[inputs, outputs]` kernel.
pub(crate) fn dense(
    input: &Tensor,
    weights: &[f32],
    bias: &[f32],
    outputs: usize,
    activation: Activation,
) -> Tensor {
    // Summed in f64, as tfjs's CPU backend does (JavaScript numbers); these layers are small.
    let mut sum: Vec<f64> = bias.iter().map(|b| f64::from(*b)).collect();
    for (x, row) in input.data.iter().zip(weights.chunks_exact(outputs)) {
        let x = f64::from(*x);
        sum.iter_mut()
            .zip(row)
            .for_each(|(o, w)| *o += x * f64::from(*w));
    }
    let mut out = Tensor {
        h: 1,
        w: 1,
        c: outputs,
        data: sum.iter().map(|v| *v as f32).collect(),
    };
    match activation {
        Activation::Linear => {}
        Activation::Relu => out.data.iter_mut().for_each(|v| *v = v.max(0.0)),
        Activation::Softmax => softmax(&mut out.data),
    }
    out
}

fn softmax(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    values.iter_mut().for_each(|v| *v = (*v - max).exp());
    let sum: f32 = values.iter().sum();
    values.iter_mut().for_each(|v| *v /= sum);
}
