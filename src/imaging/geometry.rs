//! Output geometry: fit-inside sizes (rounded exactly as Pillow's `thumbnail`, which the
//! benchmark's reference and the other libraries agree with), cover crops, and the DCT
//! scale a JPEG can be decoded at. Pure arithmetic.

use super::Fit;

/// Where one target's pixels come from and what size they end up, in stored orientation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Layout {
    pub out_width: u32,
    pub out_height: u32,
    /// For cover: the window (width, height) in full-resolution source pixels.
    pub window: Option<(f64, f64)>,
}

impl Layout {
    /// Output pixels per source pixel (≤ 1: never enlarged).
    pub fn scale(&self, src_width: u32, src_height: u32) -> f64 {
        match self.window {
            Some((ww, _)) => f64::from(self.out_width) / ww,
            None => (f64::from(self.out_width) / f64::from(src_width))
                .max(f64::from(self.out_height) / f64::from(src_height)),
        }
    }

    /// The output is the source itself: same size, nothing cropped.
    pub fn is_identity(&self, src_width: u32, src_height: u32) -> bool {
        self.out_width == src_width && self.out_height == src_height
    }
}

/// Lays out a target box (already swapped into stored orientation) over a `w`×`h` source.
pub(crate) fn layout(w: u32, h: u32, box_w: u32, box_h: u32, fit: Fit) -> Layout {
    let (box_w, box_h) = (box_w.max(1), box_h.max(1));
    match fit {
        Fit::Inside => {
            let (out_width, out_height) = fit_inside(w, h, box_w, box_h);
            Layout {
                out_width,
                out_height,
                window: None,
            }
        }
        Fit::Cover { .. } => {
            let scale = (f64::from(box_w) / f64::from(w)).max(f64::from(box_h) / f64::from(h));
            if scale >= 1.0 {
                // Never enlarge: crop the box (or less) out of the source at full size.
                let (ow, oh) = (box_w.min(w), box_h.min(h));
                let window = (ow != w || oh != h).then_some((f64::from(ow), f64::from(oh)));
                Layout {
                    out_width: ow,
                    out_height: oh,
                    window,
                }
            } else {
                let ww = (f64::from(box_w) / scale).min(f64::from(w));
                let wh = (f64::from(box_h) / scale).min(f64::from(h));
                Layout {
                    out_width: box_w,
                    out_height: box_h,
                    window: Some((ww, wh)),
                }
            }
        }
    }
}

/// Pillow's `Image.thumbnail` size: aspect kept, never enlarged, the free side rounded to
/// whichever of floor/ceil keeps the aspect closest.
pub(crate) fn fit_inside(w: u32, h: u32, box_w: u32, box_h: u32) -> (u32, u32) {
    if box_w >= w && box_h >= h {
        return (w, h);
    }
    let aspect = f64::from(w) / f64::from(h);
    let (x, y) = (f64::from(box_w), f64::from(box_h));
    if x / y >= aspect {
        let n = closest(y * aspect, |n| (aspect - n / y).abs());
        (n, box_h)
    } else {
        let n = closest(x / aspect, |n| {
            if n == 0.0 {
                0.0
            } else {
                (aspect - x / n).abs()
            }
        });
        (box_w, n)
    }
}

fn closest(value: f64, key: impl Fn(f64) -> f64) -> u32 {
    let (lo, hi) = (value.floor(), value.ceil());
    let pick = if key(hi) < key(lo) { hi } else { lo };
    (pick as u32).max(1)
}

/// The JPEG DCT scales worth decoding at, in eighths. libjpeg-turbo has SIMD IDCTs for
/// 8/8, 4/8, 2/8 and 1/8; the others run in plain C and cost more than they save.
const JPEG_EIGHTHS: [u8; 4] = [1, 2, 4, 8];

/// The smallest decode scale (in eighths) that still leaves `headroom` times the largest
/// output's resolution for the resampling filter.
pub(crate) fn jpeg_eighths(max_scale: f64, headroom: f64) -> u8 {
    let need = (max_scale * headroom).min(1.0);
    JPEG_EIGHTHS
        .into_iter()
        .find(|&m| f64::from(m) / 8.0 >= need - 1e-9)
        .unwrap_or(8)
}

/// Top-left corner of a `ww`×`wh` window centred in a `w`×`h` image.
pub(crate) fn centred(w: f64, h: f64, ww: f64, wh: f64) -> (f64, f64) {
    (((w - ww) / 2.0).max(0.0), ((h - wh) / 2.0).max(0.0))
}

/// Whether every output shrinks the `eighths`-scaled decode by at least 1.25x (so the Lanczos
/// step averages replicated chroma away); `max_scale` is the largest output's scale.
pub(crate) fn chroma_replication_is_invisible(max_scale: f64, eighths: u8) -> bool {
    max_scale * 8.0 / f64::from(eighths.max(1)) <= 0.8
}
