//! The model's input, made exactly as nsfwjs 4.4.0's `infer` makes it: the pixels as float32
//! divided by 255, then (unless already 224x224) `tf.image.resizeBilinear(.., [224, 224],
//! alignCorners = true)` as tfjs-backend-cpu computes it (f64 arithmetic, stored as f32).
//! No antialiasing: that is what the model was trained and published with.

use super::kernels::Tensor;

/// Width and height of the model's input.
pub const INPUT_SIZE: u32 = 224;

/// The model's input. The pixels are scaled to [0, 1] as they are read (the same f32
/// values nsfwjs computes), never copied whole as floats: that copy was 12 bytes a pixel.
pub(crate) fn to_model_input(rgb: &image::RgbImage) -> Tensor {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let size = INPUT_SIZE as usize;
    if (w, h) == (size, size) {
        return Tensor {
            h,
            w,
            c: 3,
            data: rgb.as_raw().iter().map(|&v| unit(v)).collect(),
        };
    }
    resize_bilinear_align_corners(rgb.as_raw(), w, h, size)
}

/// A channel value as nsfwjs' float input: `v / 255` in f32.
fn unit(v: u8) -> f32 {
    f32::from(v) / 255.0
}

/// tfjs's `resizeBilinear` with `alignCorners = true` and no half-pixel centres.
fn resize_bilinear_align_corners(src: &[u8], w: usize, h: usize, size: usize) -> Tensor {
    let ratio = |old: usize| {
        if size > 1 {
            (old - 1) as f64 / (size - 1) as f64
        } else {
            old as f64 / size as f64
        }
    };
    let (row_ratio, col_ratio) = (ratio(h), ratio(w));
    // (floor, ceil, fraction) of the source position of each output column.
    let cols: Vec<(usize, usize, f64)> =
        (0..size).map(|c| source(col_ratio * c as f64, w)).collect();
    let mut out = Tensor::zeros(size, size, 3);
    for (r, row) in out.data.chunks_exact_mut(size * 3).enumerate() {
        let (top, bottom, row_frac) = source(row_ratio * r as f64, h);
        for (px, &(left, right, col_frac)) in row.chunks_exact_mut(3).zip(&cols) {
            for (d, v) in px.iter_mut().enumerate() {
                let at = |y: usize, x: usize| f64::from(unit(src[(y * w + x) * 3 + d]));
                let t = at(top, left) + (at(top, right) - at(top, left)) * col_frac;
                let b = at(bottom, left) + (at(bottom, right) - at(bottom, left)) * col_frac;
                *v = (t + (b - t) * row_frac) as f32;
            }
        }
    }
    out
}

fn source(frac: f64, len: usize) -> (usize, usize, f64) {
    let floor = frac.floor().max(0.0);
    let ceil = (frac.ceil() as usize).min(len - 1);
    (floor as usize, ceil, frac - floor)
}
