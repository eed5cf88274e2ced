//! The "smart" cover anchor: places the crop window over the region with the most edge
//! energy (like libvips' `attention`, without the skin-tone term). Works on a small
//! grey copy, so it costs a fraction of the resize itself.

use super::ImagingError;
use super::ResizeFilter;
use super::pixels::Raster;
use super::resize::Resampler;

/// Longest side of the analysis copy: enough to find a face or a text block, cheap to scan.
const ANALYSIS_SIDE_PX: u32 = 128;

/// Top-left corner (in `src` pixels) of the `ww`×`wh` window with the most detail. `src` is
/// one of the job's rasters, premultiplied when it has alpha (`plan::Job`), so it is read
/// as such: no premultiplied copy of the whole source just for a 128 px analysis image.
pub(crate) fn anchor(src: &Raster, ww: f64, wh: f64) -> Result<(f64, f64), ImagingError> {
    let (w, h) = (f64::from(src.width), f64::from(src.height));
    if ww >= w - 0.5 && wh >= h - 0.5 {
        return Ok((0.0, 0.0));
    }
    let k = (f64::from(ANALYSIS_SIDE_PX) / w.max(h)).min(1.0);
    let (sw, sh) = (
        ((w * k).round() as u32).max(3),
        ((h * k).round() as u32).max(3),
    );
    let small = Resampler::premultiplied().resize(src, None, sw, sh, ResizeFilter::Box)?;
    let energy = edge_energy(&small);
    // Summed-area table, so each window's energy is four lookups.
    let (swu, shu) = (sw as usize, sh as usize);
    let mut sat = vec![0f64; (swu + 1) * (shu + 1)];
    for y in 0..shu {
        let mut row = 0.0;
        for x in 0..swu {
            row += energy[y * swu + x];
            sat[(y + 1) * (swu + 1) + x + 1] = sat[y * (swu + 1) + x + 1] + row;
        }
    }
    let kx = f64::from(sw) / w;
    let ky = f64::from(sh) / h;
    let win_w = ((ww * kx).round() as usize).clamp(1, swu);
    let win_h = ((wh * ky).round() as usize).clamp(1, shu);
    let centre = ((swu - win_w) as f64 / 2.0, (shu - win_h) as f64 / 2.0);
    let mut best = (f64::MIN, 0usize, 0usize);
    for y in 0..=shu - win_h {
        for x in 0..=swu - win_w {
            let at = |xx: usize, yy: usize| sat[yy * (swu + 1) + xx];
            let sum = at(x + win_w, y + win_h) - at(x, y + win_h) - at(x + win_w, y) + at(x, y);
            // A slight pull to the centre breaks ties on flat images the way users expect.
            let dist = ((x as f64 - centre.0).powi(2) + (y as f64 - centre.1).powi(2)).sqrt();
            let score = sum - dist * 1e-3 * (sum.abs() + 1.0) / (swu.max(shu) as f64);
            if score > best.0 {
                best = (score, x, y);
            }
        }
    }
    let left = (best.1 as f64 / kx).clamp(0.0, (w - ww).max(0.0));
    let top = (best.2 as f64 / ky).clamp(0.0, (h - wh).max(0.0));
    Ok((left, top))
}

/// Gradient magnitude of luma (plus a saturation term, so colourful subjects beat grey
/// texture), one value per pixel.
fn edge_energy(img: &Raster) -> Vec<f64> {
    let (w, h, ch) = (
        img.width as usize,
        img.height as usize,
        usize::from(img.channels),
    );
    // A one-channel raster is the luma plane of the YCbCr path (no saturation term).
    let luma: Vec<f64> = match ch {
        1 => img.data.iter().map(|&v| f64::from(v)).collect(),
        _ => img
            .data
            .chunks_exact(ch)
            .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
            .collect(),
    };
    let mut out = vec![0f64; w * h];
    for y in 0..h {
        for x in 0..w {
            let l = |xx: usize, yy: usize| luma[yy * w + xx];
            let dx = l((x + 1).min(w - 1), y) - l(x.saturating_sub(1), y);
            let dy = l(x, (y + 1).min(h - 1)) - l(x, y.saturating_sub(1));
            let p = &img.data[(y * w + x) * ch..(y * w + x) * ch + ch.min(3)];
            let max = f64::from(*p.iter().max().unwrap_or(&0));
            let min = f64::from(*p.iter().min().unwrap_or(&0));
            out[y * w + x] = dx.abs() + dy.abs() + 0.25 * (max - min);
        }
    }
    out
}
