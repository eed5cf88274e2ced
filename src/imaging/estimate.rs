//! The peak-memory estimate of one job, from the object's size and its header, before the
//! object is downloaded. Pure arithmetic over the same decisions [`process`](super::process)
//! makes (`plan::prepare`: each target's layout, the JPEG decode scale), so admission can
//! weigh a job by what it will really hold.
//!
//! # How it is computed
//! With `P` the stored pixel count and `c` the channels of the raster (3, or 4 with alpha):
//!
//! `peak = object_bytes + FIXED_OVERHEAD_BYTES + max(decode, resize)`
//!
//! - **decode** (what the decoder holds at its peak, raster included):
//!   - JPEG through libjpeg-turbo: the raster at the decode scale (`ceil(W·s)·ceil(H·s)·3`),
//!     plus the whole-image coefficient buffer when the file is progressive or multi-scan
//!     (2 bytes per coefficient, every component at its own sampling: `3·P` for 4:2:0,
//!     `6·P` for 4:4:4), plus row buffers (`384·W`).
//!   - JPEG on the YCbCr path (`ycbcr`): the planes at the decode scale instead of the
//!     raster (each component at its own size: `1.5·P` for 4:2:0 unscaled; a scaled decode
//!     gives chroma luma's size), the same coefficient and row buffers, and
//!     `PLANAR_OVERHEAD_BYTES` of code and tables; its outputs count 1.5 bytes per pixel
//!     and its resize scratch one channel, twice over (`resize_plane` packs a copy).
//!   - CMYK JPEG through `image`: `15·P` (4:4:4 coefficients, the CMYK planes, the RGB copy).
//!   - PNG: the 8-bit raster (`3·P` or `4·P`; 16-bit samples are stripped while decoding, so
//!     bit depth does not count), plus the grey raster when grey is widened to RGB (`1·P`,
//!     `2·P` with alpha), plus the `png` crate's bounded auxiliary memory. A tRNS chunk
//!     counts as alpha (RGB+tRNS decodes as RGBA, grey+tRNS as grey+alpha: `6·P` in all).
//!   - GIF: the screen raster `4·P` plus the first frame's own buffer and its palette
//!     indices (`5·w·h`).
//!   - WebP: the raster plus `8·P` of decoder planes (YUV and alpha, or lossless ARGB).
//!   - BMP: the raster. TIFF: twice the stored raster at its depth (strips and the
//!     image) plus the 8-bit copy.
//! - alpha adds nothing: dropping or flattening it rewrites the raster in place, and
//!   resizes premultiply it once, in place (the **resize** term holds the raster once).
//! - **resize**: the source raster; every fit-inside output kept as a cascade hub; for the
//!   largest target, the resizer's intermediate buffer (output width × source height, or
//!   the transpose), the resized raster, its rotated copy, and `10` bytes per output pixel
//!   for the encoder's buffers; and every encoded output (bounded by its raw size, or by the
//!   object's size when the original is reused). Targets are counted in both orientations
//!   when a prefix could not tell the orientation.
//!
//! The estimate is checked against measured peaks (`VmHWM` in a child process) for every
//! format and the hostile mix in `tests/peak_memory.rs`: it must never be below, and is
//! allowed at most [`MAX_OVERESTIMATE`] times above (so admission does not starve).

use super::animation::{self, Animated};
use super::container;
use super::encode::Encoding;
use super::header::{self, Header, Probe};
use super::plan::{self, Prepared};
use super::ycbcr_decode::plane_size;
use super::{Fit, ImageFormat, ImagingError, Plan};

/// Codec contexts, Huffman and quantisation tables, thread-local scratch, allocator slack,
/// and the code pages a first decode of a format faults in. A 200x200 thumbnail of a
/// baseline JPEG measured 7.6 MiB in a fresh process, of which 1.7 MiB are input, raster
/// and row buffers.
pub const FIXED_OVERHEAD_BYTES: u64 = 8 << 20;

/// How many leading bytes to read for the estimate: every PNG, BMP, WebP and nearly every
/// JPEG header fits (a JPEG with a large ICC profile or a GIF whose frames are far in needs
/// more, and [`PeakEstimate::NeedMoreBytes`] says so).
pub const HEADER_PREFIX_BYTES: u64 = 64 * 1024;

/// The tests allow the estimate to exceed the measured peak by at most this factor.
#[cfg(test)]
pub(crate) const MAX_OVERESTIMATE: f64 = 3.0;

/// Encoder working memory per output pixel (libjpeg-turbo's output buffer, libwebp's YUV
/// planes and statistics, the PNG filter rows and deflate window spread over the image).
const ENCODER_BYTES_PER_PIXEL: u64 = 10;

/// rav1e's working memory per AVIF output pixel: ravif's RGB copy and 10-bit YUV 4:4:4
/// planes, rav1e's source, reconstruction and reference frames with their padding, and its
/// per-block statistics (checked by imaging/tests/peak_memory.rs).
const AVIF_ENCODER_BYTES_PER_PIXEL: u64 = 64;

/// The animation path's own code and tables on top of [`FIXED_OVERHEAD_BYTES`]: the GIF
/// decoder and encoder, libwebp's animation encoder and muxer, the quantiser, faulted in
/// by the job (a 200x200 animated thumbnail measured within 4% of its estimate without).
const ANIMATION_OVERHEAD_BYTES: u64 = 2 << 20;

/// libwebp's animation encoder beyond its own ARGB copy of every frame: its previous and
/// current canvases, the candidate sub-frames it tries and their encodings.
const WEBP_ANIMATION_ENCODER_BYTES_PER_PIXEL: u64 = 40;

/// What the YCbCr path (`ycbcr`) touches beyond the RGB path's fixed overhead: its own code
/// (libjpeg's raw-data paths, the plane resizer's passes) and their first-use tables. A
/// 3000x2000 JPEG's 200x200 thumbnail measured 1.2 MiB above the RGB path's estimate, and
/// 2.4 MiB with the packed horizontal pass (`resize_plane`).
const PLANAR_OVERHEAD_BYTES: u64 = 4 << 20;

/// A job's peak memory, as far as the bytes read so far tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeakEstimate {
    /// The job will hold at most this many bytes at once.
    Bytes(u64),
    /// The header fields lie past the prefix: read the whole object (admitting its size
    /// first) and estimate again from all of it.
    NeedMoreBytes,
}

/// Estimates the peak memory of processing an object of `object_bytes` with `plan`, from
/// its first bytes (`prefix` may be the whole object). Limits are checked as far as the
/// prefix allows, so a bomb is refused here, before anything is downloaded.
pub fn estimate_peak(
    prefix: &[u8],
    object_bytes: u64,
    plan: &Plan,
) -> Result<PeakEstimate, ImagingError> {
    let whole = prefix.len() as u64 >= object_bytes;
    match header::read_prefix(prefix, object_bytes, &plan.limits)? {
        Probe::NeedMore => Ok(PeakEstimate::NeedMoreBytes),
        // An animated WebP's frames are counted from every chunk, past any prefix; they
        // matter only when some output keeps the animation.
        Probe::Known(_) if !whole && container::webp_is_animated(prefix) && animates(plan) => {
            Ok(PeakEstimate::NeedMoreBytes)
        }
        Probe::Known(header) => {
            if animation::keeps_animation(&header, plan) {
                animation::check_limits(&header, &plan.limits)?;
            }
            Ok(PeakEstimate::Bytes(peak_bytes(
                header,
                object_bytes,
                plan,
                whole,
            )))
        }
    }
}

/// Some target of `plan` would keep a WebP's animation.
fn animates(plan: &Plan) -> bool {
    (plan.targets.iter()).any(|t| Animated::resolve(t.format, ImageFormat::WebP).is_some())
}

/// The estimate for a header already read; `whole` is false when it came from a prefix.
pub(crate) fn peak_bytes(header: Header, object_bytes: u64, plan: &Plan, whole: bool) -> u64 {
    let format = header.info.format;
    // Without the whole file, PNG/WebP/TIFF orientation may sit past the prefix.
    let orientation_known = whole || matches!(format, ImageFormat::Jpeg | ImageFormat::Gif);
    let mut peak = resize_bytes(&plan::prepare(header.clone(), plan), plan, object_bytes);
    if !orientation_known {
        let mut turned = header.clone();
        turned.info.orientation = 6;
        peak = peak.max(resize_bytes(
            &plan::prepare(turned, plan),
            plan,
            object_bytes,
        ));
    }
    let prepared = plan::prepare(header, plan);
    let planar = match prepared.planar {
        true => PLANAR_OVERHEAD_BYTES,
        false => 0,
    };
    // The still targets run first, then the animated ones: the larger of the two peaks.
    let animated = match animation::keeps_animation(&prepared.header, plan) {
        true => animated_bytes(&prepared, plan, object_bytes),
        false => 0,
    };
    object_bytes + FIXED_OVERHEAD_BYTES + planar + decode_bytes(&prepared).max(peak).max(animated)
}

/// Bytes of the decoded YCbCr planes at the decode scale (`ycbcr_decode::plane_size`):
/// 1.5 per pixel for 4:2:0 at full scale, 3 when a scaled decode brings chroma to luma's
/// size or the file is 4:4:4.
fn plane_bytes(prepared: &Prepared) -> Option<u64> {
    let h = &prepared.header;
    let factors = h.jpeg_sampling.as_ref().filter(|_| prepared.planar)?;
    let max = factors
        .iter()
        .fold((1, 1), |m, f| (m.0.max(f.0), m.1.max(f.1)));
    let eighths = u32::from(prepared.scale.eighths.clamp(1, 8));
    let size = (h.stored_width, h.stored_height);
    Some(
        factors
            .iter()
            .map(|&f| {
                let (w, ht) = plane_size(size, f, max, eighths);
                u64::from(w) * u64::from(ht)
            })
            .sum(),
    )
}

/// The decoded raster's width, height and channels (JPEG at its decode scale; 4 channels
/// when the format may carry alpha).
fn raster(prepared: &Prepared) -> (u64, u64, u64) {
    let h = &prepared.header;
    let (w, ht) = (u64::from(h.stored_width), u64::from(h.stored_height));
    let (eighths, channels) = match h.info.format {
        ImageFormat::Jpeg if h.jpeg_cmyk => (8, 3),
        ImageFormat::Jpeg => (u64::from(prepared.scale.eighths.clamp(1, 8)), 3),
        _ => (8, 3 + u64::from(h.pixels.alpha || h.pixels.channels == 4)),
    };
    (
        (w * eighths).div_ceil(8),
        (ht * eighths).div_ceil(8),
        channels,
    )
}

fn decode_bytes(prepared: &Prepared) -> u64 {
    let h = &prepared.header;
    let (rw, rh, c) = raster(prepared);
    let out = plane_bytes(prepared).unwrap_or(rw * rh * c);
    let (w, p) = (
        u64::from(h.stored_width),
        u64::from(h.stored_width) * u64::from(h.stored_height),
    );
    let facts = h.pixels;
    match h.info.format {
        ImageFormat::Jpeg if h.jpeg_cmyk => 15 * p,
        ImageFormat::Jpeg => out + facts.jpeg_coefficient_bytes + 384 * w,
        ImageFormat::Png => {
            // The decoder's grey raster: one sample, or two when alpha comes with it
            // (grey+alpha, or grey with tRNS), beside its RGB(A) widening.
            let grey_samples = facts.channels.max(1 + u8::from(facts.alpha));
            let grey = if facts.grey {
                p * u64::from(grey_samples)
            } else {
                0
            };
            out + grey + png_row_bytes(h)
        }
        ImageFormat::Gif => {
            // The frame's own RGBA buffer and the `gif` crate's buffer of palette indices.
            let frame = facts
                .first_frame
                .map_or(0, |(fw, fh)| u64::from(fw) * u64::from(fh) * 5);
            out + frame
        }
        ImageFormat::WebP => out + 8 * p,
        ImageFormat::Bmp | ImageFormat::Avif => out,
        ImageFormat::Tiff => {
            let sample = u64::from(facts.bits_per_sample.max(8) / 8);
            2 * p * u64::from(facts.channels.max(1)) * sample + out
        }
    }
}

/// The `png` crate's row buffers (two rows at the stored depth) and its bounded extras.
fn png_row_bytes(h: &Header) -> u64 {
    let row = u64::from(h.stored_width) * 8;
    2 * row + super::decode_png::AUXILIARY_BYTES as u64
}

/// The source raster, the hubs, the largest target's transient buffers, and the outputs.
fn resize_bytes(prepared: &Prepared, plan: &Plan, object_bytes: u64) -> u64 {
    let (rw, rh, c) = raster(prepared);
    let (sw, sh) = (prepared.header.stored_width, prepared.header.stored_height);
    let planes = plane_bytes(prepared);
    let mut held = planes.unwrap_or(rw * rh * c);
    // Planes are resized one at a time (the luma's is the largest): the vertical pass's
    // output and its packed copy, then that copy with the packed and unpacked result
    // (`resize_plane`); outputs are 4:2:0, 1.5 bytes per pixel.
    let out_halves = match planes {
        Some(_) => 3,
        None => 2 * c,
    };
    let mut transient = 0u64;
    let targets = prepared.layouts.iter().zip(&prepared.encodings);
    for ((layout, encoding), target) in targets.zip(&plan.targets) {
        let (ow, oh) = (u64::from(layout.out_width), u64::from(layout.out_height));
        let out = (ow * oh * out_halves).div_ceil(2);
        let scratch = match planes {
            Some(_) => rw * oh + (rw * oh).max(2 * ow * oh),
            None => (ow * rh).max(rw * oh) * c,
        };
        let encoder = match encoding {
            Encoding::Avif => AVIF_ENCODER_BYTES_PER_PIXEL,
            _ => ENCODER_BYTES_PER_PIXEL,
        };
        transient = transient.max(scratch + 2 * out + ow * oh * encoder);
        if layout.is_identity(sw, sh) {
            // Possibly the stripped original, which is at most the object.
            held += object_bytes.max(out);
        } else {
            held += out;
            if target.fit == Fit::Inside {
                held += out; // kept as a cascade hub
            }
        }
    }
    held + transient
}

/// An animation kept animated (`animation.rs`), one canvas-sized frame at a time: the
/// decoder's canvases, the largest lane's resize buffers and GIF quantiser copy, every
/// output's frames or bytes held until the end, and the largest WebP finish (libwebp's
/// copies of every frame and its encoder state).
fn animated_bytes(prepared: &Prepared, plan: &Plan, object_bytes: u64) -> u64 {
    let h = &prepared.header;
    let (sw, sh) = (u64::from(h.stored_width), u64::from(h.stored_height));
    let frames = h.pixels.frames;
    let canvas = sw * sh;
    let decoder = match h.info.format {
        // The kept canvas, the composited frame, the frame's own RGBA and index buffers.
        ImageFormat::Gif => 13 * canvas,
        // The canvas, the frame handed out (and its RGB original), the VP8/VP8L buffers,
        // and the copy of the file with its alpha flag set.
        _ => 16 * canvas + object_bytes,
    };
    let (mut held, mut transient, mut finish) = (0u64, 0u64, 0u64);
    for (layout, target) in prepared.layouts.iter().zip(&plan.targets) {
        let Some(kind) = Animated::resolve(target.format, h.info.format) else {
            continue;
        };
        let out = u64::from(layout.out_width) * u64::from(layout.out_height);
        let scratch = (u64::from(layout.out_width) * sh).max(sw * u64::from(layout.out_height));
        // Resized, straight-alpha and upright copies; the GIF quantiser's copy and indices.
        transient = transient.max(4 * scratch + 12 * out + 5 * out);
        let encoded = frames * out * encoded_bytes_per_pixel(kind);
        held += match kind {
            Animated::Gif => encoded,
            // Its RGBA frames until it is finished, then its bytes.
            Animated::WebP { .. } => frames * out * 4,
        };
        if let Animated::WebP { .. } = kind {
            // libwebp's ARGB copy of every frame, its encoder, the encoded animation three
            // times over (the encoder's, the muxer's and ours).
            let encoder = WEBP_ANIMATION_ENCODER_BYTES_PER_PIXEL * out;
            finish = finish.max(frames * out * 4 + encoder + 3 * encoded);
        }
    }
    ANIMATION_OVERHEAD_BYTES + decoder + held + transient.max(finish)
}

/// Encoded bytes per pixel of every frame, at worst (noise): GIF's LZW codes of at most 12
/// bits per 8-bit index, plus slack; WebP lossy at high quality, and lossless near the raw
/// size.
fn encoded_bytes_per_pixel(kind: Animated) -> u64 {
    match kind {
        Animated::Gif => 2,
        Animated::WebP { lossless: false } => 2,
        Animated::WebP { lossless: true } => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::{Limits, Target};

    const SIDE: u32 = 1000;
    const PIXELS: u64 = SIDE as u64 * SIDE as u64;

    /// A PNG of `color` (grey or RGB), with a tRNS chunk when `trns` says which value is
    /// transparent.
    fn png(color: png::ColorType, trns: Option<Vec<u8>>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, SIDE, SIDE);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        if let Some(trns) = trns {
            encoder.set_trns(trns);
        }
        let samples = if color == png::ColorType::Grayscale {
            1
        } else {
            3
        };
        let data = vec![0u8; PIXELS as usize * samples];
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&data).unwrap();
        writer.finish().unwrap();
        out
    }

    fn peak(bytes: &[u8]) -> u64 {
        let plan = Plan {
            limits: Limits::default(),
            targets: vec![Target {
                label: "s".into(),
                width: 100,
                height: 100,
                fit: Fit::Inside,
                format: crate::imaging::OutputFormat::Png,
            }],
            ..Plan::default()
        };
        match estimate_peak(bytes, bytes.len() as u64, &plan).unwrap() {
            PeakEstimate::Bytes(b) => b,
            PeakEstimate::NeedMoreBytes => panic!("a whole PNG has its header"),
        }
    }

    #[test]
    fn grey_with_trns_counts_its_grey_alpha_raster_and_the_rgba_widening() {
        let plain = peak(&png(png::ColorType::Grayscale, None));
        let with_trns = peak(&png(png::ColorType::Grayscale, Some(vec![0, 0])));

        // 2 bytes of grey+alpha and 4 of RGBA per pixel, against 1 + 3 without tRNS.
        assert!(with_trns >= plain + 2 * PIXELS, "{with_trns} vs {plain}");
    }

    #[test]
    fn rgb_with_trns_counts_an_rgba_raster() {
        let plain = peak(&png(png::ColorType::Rgb, None));
        let with_trns = peak(&png(png::ColorType::Rgb, Some(vec![0, 0, 0, 0, 0, 0])));

        assert!(with_trns >= plain + PIXELS, "{with_trns} vs {plain}");
    }

    #[test]
    fn a_prefix_that_ends_before_idat_assumes_trns() {
        let whole = png(png::ColorType::Rgb, None);
        // IHDR only: the chunks that could hold tRNS are not in the prefix.
        let prefix = &whole[..33];
        let plan = Plan {
            targets: vec![],
            ..Plan::default()
        };

        let from_prefix = estimate_peak(prefix, whole.len() as u64, &plan).unwrap();
        let from_whole = estimate_peak(&whole, whole.len() as u64, &plan).unwrap();

        match (from_prefix, from_whole) {
            (PeakEstimate::Bytes(p), PeakEstimate::Bytes(w)) => assert!(p >= w + PIXELS),
            other => panic!("{other:?}"),
        }
    }
}
