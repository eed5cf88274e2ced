//! What the RGB job (`plan`) and the YCbCr job (`ycbcr`) decide alike for each target: the
//! order targets are rendered in, the earlier output a target is resized from (the
//! cascade), a cover target's window, its `Output`, the unchanged original reused as an
//! output, the ICC profile carried, and the stop checkpoints. Pure decisions on the
//! plan's `Prepared` layouts: must not decode, resize or encode pixels itself.

use std::sync::atomic::{AtomicBool, Ordering};

use super::encode::{Carry, Encoding};
use super::geometry::{self, Layout};
use super::header::Header;
use super::metadata::{self, MAX_CARRIED_ICC_BYTES};
use super::orient;
use super::plan::Prepared;
use super::resize::Window;
use super::strip;
use super::{Anchor, Fit, ImageFormat, ImagingError, Output, Plan, Target};

/// An output is resized from the smallest earlier fit-inside output at least this many times
/// its size per axis, else from the largest (a star). 3 sends the thumbnail through the medium
/// size: 1 ms less on a 1920x1080 cascade for 0.12 dB on text; chaining every size (2x
/// steps) lost 0.4 dB there.
const CASCADE_MIN_SHRINK: f64 = 3.0;

/// Ends the job with `Stopped` at a stage boundary once `stop` is set.
pub(crate) fn checkpoint(stop: &AtomicBool, stage: &'static str) -> Result<(), ImagingError> {
    match stop.load(Ordering::Relaxed) {
        true => Err(ImagingError::Stopped { stage }),
        false => Ok(()),
    }
}

/// The targets largest first, so fit-inside results can feed the smaller outputs (see
/// `pick_hub`).
pub(crate) fn render_order(prepared: &Prepared) -> Vec<usize> {
    let mut order: Vec<usize> = (0..prepared.layouts.len()).collect();
    order.sort_by_key(|&i| {
        let l = prepared.layouts[i];
        std::cmp::Reverse(u64::from(l.out_width) * u64::from(l.out_height))
    });
    order
}

/// A cover target's window over a source (or hub) whose image spans `extent` pixels;
/// `smart` finds the detailed region for [`Anchor::Smart`]. `None` for fit-inside.
pub(crate) fn cover_window(
    header: &Header,
    target: &Target,
    layout: Layout,
    (ex, ey): (f64, f64),
    smart: impl FnOnce(f64, f64) -> Result<(f64, f64), ImagingError>,
) -> Result<Option<Window>, ImagingError> {
    let (sw, sh) = (
        f64::from(header.stored_width),
        f64::from(header.stored_height),
    );
    let (Some((ww, wh)), Fit::Cover { anchor }) = (layout.window, target.fit) else {
        return Ok(None);
    };
    let (ww, wh) = (ww * ex / sw, wh * ey / sh);
    let (left, top) = match anchor {
        Anchor::Centre => geometry::centred(ex, ey, ww, wh),
        Anchor::Smart => smart(ww, wh)?,
    };
    Ok(Some((left, top, ww, wh)))
}

/// Target `i`'s output around its encoded `bytes`, in display orientation.
pub(crate) fn output_of(
    plan: &Plan,
    prepared: &Prepared,
    i: usize,
    bytes: Vec<u8>,
    reused_original: bool,
) -> Output {
    let layout = prepared.layouts[i];
    let (width, height) = match orient::transposes(prepared.header.info.orientation) {
        true => (layout.out_height, layout.out_width),
        false => (layout.out_width, layout.out_height),
    };
    Output {
        label: plan.targets[i].label.clone(),
        bytes,
        width,
        height,
        format: prepared.encodings[i].format(),
        reused_original,
        frames: 1,
    }
}

/// The stripped original bytes when target `i` is the upright source unchanged (the
/// caller checks that the source decoded clean).
pub(crate) fn reusable_original(
    input: &[u8],
    prepared: &Prepared,
    i: usize,
    carry: Carry<'_>,
) -> Option<Vec<u8>> {
    let header = &prepared.header;
    let identity = prepared.layouts[i].is_identity(header.stored_width, header.stored_height);
    if header.info.orientation != 1 || !identity {
        return None;
    }
    reuse_original(input, header, prepared.encodings[i], carry)
}

/// The ICC profile outputs carry: not sRGB (viewers assume it) and within
/// [`MAX_CARRIED_ICC_BYTES`]; a profile that is dropped or cannot reach a WebP or AVIF
/// output among `encodings` is reported.
pub(crate) fn carried_icc(
    icc: Option<Vec<u8>>,
    encodings: &[Encoding],
    warnings: &mut Vec<String>,
) -> Option<Vec<u8>> {
    let icc = icc.filter(|p| !metadata::icc_is_srgb(p))?;
    if icc.len() > MAX_CARRIED_ICC_BYTES {
        warnings.push(format!(
            "the source's ICC profile of {} bytes is over the {MAX_CARRIED_ICC_BYTES}-byte bound \
             and was not carried into any output; colours may shift",
            icc.len()
        ));
        return None;
    }
    let cannot_carry = |e: &Encoding| matches!(e, Encoding::WebP { .. } | Encoding::Avif);
    if encodings.iter().any(cannot_carry) {
        warnings.push(
            "the source's non-sRGB ICC profile is not carried into WebP or AVIF outputs; their \
             colours may look less saturated"
                .to_owned(),
        );
    }
    Some(icc)
}

/// The earlier fit-inside output (largest first) that `layout` is resized from, if any: one
/// of exactly its size (used as it is), else the smallest one at least
/// [`CASCADE_MIN_SHRINK`] times larger, else the largest one.
pub(crate) fn pick_hub<T>(
    hubs: &[T],
    layout: Layout,
    size: impl Fn(&T) -> (u32, u32),
) -> Option<&T> {
    // The same size in another format (`resize.formats`) is that output, not a new resize.
    let same_size = |h: &&T| size(h) == (layout.out_width, layout.out_height);
    if let Some(same) = hubs.iter().find(same_size) {
        return Some(same);
    }
    let larger = || {
        hubs.iter().filter(|h| {
            let (w, ht) = size(h);
            w > layout.out_width && ht > layout.out_height
        })
    };
    let far_enough = |h: &&T| {
        let (w, ht) = size(h);
        f64::from(w) >= CASCADE_MIN_SHRINK * f64::from(layout.out_width)
            && f64::from(ht) >= CASCADE_MIN_SHRINK * f64::from(layout.out_height)
    };
    larger().rfind(far_enough).or_else(|| larger().next())
}

/// The source bytes with only what we choose to keep, ending at the image's end, when they
/// can serve as the output unchanged.
fn reuse_original(
    input: &[u8],
    header: &Header,
    encoding: Encoding,
    carry: Carry<'_>,
) -> Option<Vec<u8>> {
    let keep_icc = carry.icc.is_some();
    match (header.info.format, encoding) {
        (ImageFormat::Jpeg, Encoding::Jpeg) => {
            let stripped = strip::strip_jpeg(input, keep_icc)?;
            let app1 = carry
                .copyright
                .and_then(metadata::copyright_app1)
                .unwrap_or_default();
            Some(metadata::insert_after_soi(stripped, &app1))
        }
        // The PNG encoder writes copyright as eXIf; a stripped original would lose it.
        (ImageFormat::Png, Encoding::Png) if carry.copyright.is_none() => {
            strip::strip_png(input, keep_icc)
        }
        (ImageFormat::WebP, Encoding::WebP { lossless: false }) => {
            strip::strip_webp(input, keep_icc)
        }
        _ => None,
    }
}
