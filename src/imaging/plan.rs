//! `process`: the whole job for one source. Header and limits, one decode (DCT-scaled for
//! JPEG), alpha decision, a star cascade of resizes in the stored orientation, rotation of
//! the small outputs, encoding, and reuse of the original bytes where nothing changes.

use super::decode::decode;
use super::encode::{Carry, Encoding, encode};
use super::geometry::{self, Layout};
use super::header::{self, Header};
use super::metadata;
use super::orient;
use super::pixels::Raster;
use super::resize::{Window, resize};
use super::smart_crop;
use super::{Anchor, Fit, ImageFormat, ImagingError, Output, Plan, Processed};

/// The decode keeps at least this many source pixels per output pixel (per axis) for the
/// largest output, so Lanczos has real detail to work with; libvips keeps the same 2x.
/// Measured with compare.py: 1.4 (a 1/2 DCT decode for 1920x1080 from 12-16 MP) cut CPU by
/// a third but cost 0.1 dB on the Olympus photo and 2.2 dB on the Pexels one (Pillow's draft
/// mode loses the same), far over the 0.3 dB quality budget.
pub(crate) const DECODE_HEADROOM: f64 = 2.0;

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
    let decoded = decode(input, &header, &plan.limits, eighths)?;
    let mut warnings = decoded.warnings;
    // A damaged source is re-encoded, never passed on as is.
    let clean = warnings.is_empty();

    // Alpha: keep it only if some output can hold it and some pixel uses it.
    let any_alpha_output = encodings.iter().any(|e| e.keeps_alpha());
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

    // Largest first, so the first fit-inside result can feed the smaller ones (star cascade).
    let mut order: Vec<usize> = (0..plan.targets.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(u64::from(layouts[i].out_width) * u64::from(layouts[i].out_height))
    });
    let mut hub: Option<Raster> = None;
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
        // Resize from the hub when it is larger than this output, else from the decode.
        let from_hub = hub
            .as_ref()
            .filter(|h| h.width > layout.out_width && h.height > layout.out_height);
        let src = from_hub.unwrap_or(&source);
        let window = match (layout.window, target.fit) {
            (Some((ww, wh)), Fit::Cover { anchor }) => {
                let (kx, ky) = (
                    f64::from(src.width) / f64::from(sw),
                    f64::from(src.height) / f64::from(sh),
                );
                let (ww, wh) = (ww * kx, wh * ky);
                let (left, top) = match anchor {
                    Anchor::Centre => {
                        geometry::centred(f64::from(src.width), f64::from(src.height), ww, wh)
                    }
                    Anchor::Smart => smart_crop::anchor(src, ww, wh)?,
                };
                let window: Window = (left, top, ww, wh);
                Some(window)
            }
            _ => None,
        };
        let resized = if window.is_none()
            && (src.width, src.height) == (layout.out_width, layout.out_height)
        {
            None
        } else {
            Some(resize(
                src,
                window,
                layout.out_width,
                layout.out_height,
                plan.encode.filter,
            )?)
        };
        let stored = resized.as_ref().unwrap_or(src);
        let upright;
        let upright_ref = if orientation == 1 {
            stored
        } else {
            upright = orient::apply(stored.clone(), orientation);
            &upright
        };
        let bytes = encode(upright_ref, encoding, &plan.encode, carry)?;
        outputs[i] = Some(Output {
            label: target.label.clone(),
            bytes,
            width: display_w,
            height: display_h,
            format: encoding.format(),
            reused_original: false,
        });
        if hub.is_none() && target.fit == Fit::Inside {
            hub = resized;
        }
    }
    Ok(Processed {
        source: header.info,
        outputs: outputs.into_iter().flatten().collect(),
        warnings,
    })
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
