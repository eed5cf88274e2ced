//! `process`: the whole job for one source. Header and limits, one decode (DCT-scaled for
//! JPEG), alpha decision, a cascade of resizes in the stored orientation, rotation of
//! the small outputs, encoding, and reuse of the original bytes where nothing changes.

use super::decode::{DecodeScale, decode};
use super::encode::{Carry, Encoding, encode};
use super::geometry::{self, Layout};
use super::header::{self, Header};
use super::metadata;
use super::orient;
use super::pixels::Raster;
use super::resize::{Resampler, Window};
use super::smart_crop;
use super::{Anchor, Fit, ImageFormat, ImagingError, Output, Plan, Processed, StageTimings};
use std::time::Instant;

/// The decode keeps at least this many source pixels per output pixel (per axis) for the
/// largest output, so Lanczos has detail to work with beyond the DCT scaling's own filter.
/// Measured with compare.py (large output's PSNR against a full-decode Lanczos reference),
/// a 1/2 DCT decode cost 0.00 dB at 1.59x (Pexels 17.7 MP), 0.11 dB at 1.40x (Olympus
/// 12 MP) and 0.29 dB at 1.11x (a 3200x2400 crop of it), for 20-40% less CPU. 1.25 keeps
/// clear of the 0.3 dB budget; libvips keeps 2x and so pays for full decodes.
pub(crate) const DECODE_HEADROOM: f64 = 1.25;

/// An output is resized from the smallest earlier fit-inside output at least this many times
/// its size per axis, else from the largest (a star). 3 sends the thumbnail through the medium
/// size: 1 ms less on a 1920x1080 cascade for 0.12 dB on text; chaining every size (2x
/// steps) lost 0.4 dB there.
const CASCADE_MIN_SHRINK: f64 = 3.0;

/// Decodes `input` once and produces every target of `plan`, in the plan's order.
pub fn process(input: &[u8], plan: &Plan) -> Result<Processed, ImagingError> {
    let header = header::read(input, &plan.limits)?;
    let (sw, sh) = (header.stored_width, header.stored_height);
    let orientation = header.info.orientation;
    let layouts: Vec<Layout> = plan
        .targets
        .iter()
        .map(|t| {
            let (bw, bh) = if orient::transposes(orientation) {
                (t.height, t.width)
            } else {
                (t.width, t.height)
            };
            geometry::layout(sw, sh, bw, bh, t.fit)
        })
        .collect();
    let encodings: Vec<Encoding> = plan
        .targets
        .iter()
        .map(|t| Encoding::resolve(t.format, header.info.format))
        .collect();

    let max_scale = layouts
        .iter()
        .map(|l| l.scale(sw, sh))
        .fold(0.0f64, f64::max);
    let eighths = geometry::jpeg_eighths(max_scale, DECODE_HEADROOM);
    let scale = DecodeScale {
        eighths,
        fast_chroma: geometry::chroma_replication_is_invisible(max_scale, eighths),
    };
    let mut timings = StageTimings::default();
    let started = Instant::now();
    let decoded = decode(input, &header, &plan.limits, scale)?;
    timings.decode = started.elapsed();
    let mut warnings = decoded.warnings;
    // A damaged source is re-encoded, never passed on as is.
    let clean = warnings.is_empty();

    // Alpha: keep it only if some output can hold it and some pixel uses it.
    let any_alpha_output = encodings.iter().any(|e| e.keeps_alpha());
    // The exact part of the raster that maps onto the source: resizing the rounded-up raster
    // instead would shift a DCT-scaled decode by up to a pixel (0.2-2 dB on sharp photos).
    let source_extent = (f64::from(sw) * decoded.scale, f64::from(sh) * decoded.scale);
    let mut source = decoded.raster;
    if source.has_alpha() {
        source = if source.is_opaque() {
            source.drop_alpha()
        } else if !any_alpha_output {
            source.flatten(plan.encode.background_rgb)
        } else {
            source
        };
    }

    let icc = decoded.icc.filter(|p| !metadata::icc_is_srgb(p));
    if icc.is_some() && encodings.iter().any(|e| matches!(e, Encoding::WebP { .. })) {
        warnings.push(
            "the source's non-sRGB ICC profile is not carried into WebP outputs; their colours \
             may look less saturated"
                .to_owned(),
        );
    }
    let copyright = if plan.encode.keep_copyright {
        header.exif.clone()
    } else {
        None
    };
    let carry = Carry {
        icc: icc.as_deref(),
        copyright: copyright.as_ref(),
    };

    // Largest first, so fit-inside results can feed the smaller outputs (see `pick_hub`).
    let mut order: Vec<usize> = (0..plan.targets.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(u64::from(layouts[i].out_width) * u64::from(layouts[i].out_height))
    });
    let mut resampler = Resampler::default();
    let mut hubs: Vec<Raster> = Vec::new();
    let mut outputs: Vec<Option<Output>> = vec![None; plan.targets.len()];
    for i in order {
        let target = &plan.targets[i];
        let layout = layouts[i];
        let encoding = encodings[i];
        let (display_w, display_h) = if orient::transposes(orientation) {
            (layout.out_height, layout.out_width)
        } else {
            (layout.out_width, layout.out_height)
        };
        if clean
            && orientation == 1
            && layout.is_identity(sw, sh)
            && let Some(bytes) = reuse_original(input, &header, encoding, carry)
        {
            outputs[i] = Some(Output {
                label: target.label.clone(),
                bytes,
                width: display_w,
                height: display_h,
                format: encoding.format(),
                reused_original: true,
            });
            continue;
        }
        // Resize from an earlier output when one is larger than this one, else from the decode.
        let from_hub = pick_hub(&hubs, layout);
        let (src, (ex, ey)) = match from_hub {
            Some(h) => (h, (f64::from(h.width), f64::from(h.height))),
            None => (&source, source_extent),
        };
        let window = match (layout.window, target.fit) {
            (Some((ww, wh)), Fit::Cover { anchor }) => {
                let (ww, wh) = (ww * ex / f64::from(sw), wh * ey / f64::from(sh));
                let (left, top) = match anchor {
                    Anchor::Centre => geometry::centred(ex, ey, ww, wh),
                    Anchor::Smart => smart_crop::anchor(src, ww, wh)?,
                };
                let window: Window = (left, top, ww, wh);
                Some(window)
            }
            _ if (ex, ey) != (f64::from(src.width), f64::from(src.height)) => {
                Some((0.0, 0.0, ex, ey))
            }
            _ => None,
        };
        let started = Instant::now();
        let resized = if window.is_none()
            && (src.width, src.height) == (layout.out_width, layout.out_height)
        {
            None
        } else {
            Some(resampler.resize(
                src,
                window,
                layout.out_width,
                layout.out_height,
                plan.encode.filter,
            )?)
        };
        timings.resize += started.elapsed();
        let stored = resized.as_ref().unwrap_or(src);
        let upright;
        let upright_ref = if orientation == 1 {
            stored
        } else {
            upright = orient::apply(stored.clone(), orientation);
            &upright
        };
        let started = Instant::now();
        let bytes = encode(upright_ref, encoding, &plan.encode, carry)?;
        timings.encode += started.elapsed();
        outputs[i] = Some(Output {
            label: target.label.clone(),
            bytes,
            width: display_w,
            height: display_h,
            format: encoding.format(),
            reused_original: false,
        });
        if target.fit == Fit::Inside
            && let Some(r) = resized
        {
            hubs.push(r);
        }
    }
    Ok(Processed {
        source: header.info,
        outputs: outputs.into_iter().flatten().collect(),
        warnings,
        timings,
    })
}

/// The earlier fit-inside output (largest first) that `layout` is resized from, if any: the
/// smallest one at least [`CASCADE_MIN_SHRINK`] times larger, else the largest one.
fn pick_hub(hubs: &[Raster], layout: Layout) -> Option<&Raster> {
    let larger = || {
        hubs.iter()
            .filter(|h| h.width > layout.out_width && h.height > layout.out_height)
    };
    let far_enough = |h: &&Raster| {
        f64::from(h.width) >= CASCADE_MIN_SHRINK * f64::from(layout.out_width)
            && f64::from(h.height) >= CASCADE_MIN_SHRINK * f64::from(layout.out_height)
    };
    larger().rfind(far_enough).or_else(|| larger().next())
}

/// The source bytes minus metadata, when they can serve as the output unchanged.
fn reuse_original(
    input: &[u8],
    header: &Header,
    encoding: Encoding,
    carry: Carry<'_>,
) -> Option<Vec<u8>> {
    match (header.info.format, encoding) {
        (ImageFormat::Jpeg, Encoding::Jpeg) => {
            let stripped = metadata::strip_jpeg(input)?;
            let app1 = carry
                .copyright
                .and_then(metadata::copyright_app1)
                .unwrap_or_default();
            Some(metadata::insert_after_soi(stripped, &app1))
        }
        // The PNG encoder writes copyright as eXIf; a stripped original would lose it.
        (ImageFormat::Png, Encoding::Png) if carry.copyright.is_none() => {
            metadata::strip_png(input)
        }
        // WebP is reused only when it carries no EXIF or XMP chunk to strip.
        (ImageFormat::WebP, Encoding::WebP { lossless: false }) => {
            let has_meta = input.windows(4).any(|w| w == b"EXIF" || w == b"XMP ");
            (!has_meta).then(|| input.to_vec())
        }
        _ => None,
    }
}
