//! The YCbCr path: a photo stays in planes from decode to encode. libjpeg's raw planes at
//! the plan's DCT scale (`ycbcr_decode`), luma and chroma each resized at their own
//! resolution in the same cascade as the RGB path (`planes`), oriented per plane, and
//! written by libjpeg's raw-data encoder (`ycbcr_encode`): no colour conversion either way
//! and half the resize work. Which images take it is decided from the header
//! ([`eligible`], in `plan::prepare`, so the memory estimate sees the same choice); the
//! RGB path in `plan` stays for everything else. Must not know about RGB rasters beyond
//! the summary's small conversion.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::encode::{Carry, Encoding};
use super::geometry::Layout;
use super::header::Header;
use super::metadata::{Exif, JpegSegments};
use super::orient;
use super::placeholder::{self, Summary};
use super::plan::Prepared;
use super::planes::{Planes, mirrored_axes};
use super::resize::Resampler;
use super::smart_crop;
use super::targets;
use super::ycbcr_decode::{decode_planes, sampling_supported};
use super::ycbcr_encode::encode_jpeg_planes;
use super::ycbcr_webp::encode_webp_planes;
use super::{
    Fit, ImageFormat, ImagingError, Output, Plan, Processed, ResizeFilter, StageTimings, Target,
};

/// The sampling factors (h, v) of a JPEG's components when libjpeg will see a YCbCr or
/// grey image the planar path handles (its colour-space guess in jdapimin.c: JFIF means
/// YCbCr, else an Adobe marker's transform, else the component ids; 'R','G','B' is RGB).
pub(crate) fn planar_sampling(jpeg: &[u8]) -> Option<Vec<(u32, u32)>> {
    let (mut jfif, mut adobe_transform, mut frame) = (false, None, None);
    for (marker, body) in JpegSegments::new(jpeg) {
        match marker {
            0xE0 if body.len() >= 14 && body.starts_with(b"JFIF\0") => jfif = true,
            0xEE if body.len() >= 12 && body.starts_with(b"Adobe") => {
                adobe_transform = Some(body[11]);
            }
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) && frame.is_none() => {
                frame = Some(body);
            }
            0xDA => break,
            _ => {}
        }
    }
    let frame = frame?;
    let count = usize::from(*frame.get(5)?);
    let components = frame.get(6..6 + 3 * count)?;
    let ids: Vec<u8> = components.chunks_exact(3).map(|c| c[0]).collect();
    let factors: Vec<(u32, u32)> = components
        .chunks_exact(3)
        .map(|c| (u32::from(c[1] >> 4), u32::from(c[1] & 15)))
        .collect();
    let rgb = !jfif
        && match adobe_transform {
            Some(transform) => transform == 0,
            None => ids == b"RGB",
        };
    (count == 1 || (count == 3 && !rgb))
        .then_some(factors)
        .filter(|f| sampling_supported(f))
}

#[cfg(test)]
thread_local! {
    /// Tests compare the two paths: set, this thread's jobs take the RGB path.
    pub(crate) static RGB_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a source takes the YCbCr path: a YCbCr or grey JPEG whose every output is a
/// JPEG or a lossy WebP (`ycbcr_webp`), at any size (with the packed horizontal pass, `resize_plane`, it measured 0.65-0.91x
/// the RGB path's CPU from a 200x150 photo to 12 MP). A non-sRGB ICC profile is carried
/// into JPEG outputs and reported as missing from WebP ones as on the RGB path (neither path
/// converts colours), so it does not matter here.
pub(crate) fn eligible(header: &Header, encodings: &[Encoding]) -> bool {
    #[cfg(test)]
    if RGB_ONLY.get() {
        return false;
    }
    header.info.format == ImageFormat::Jpeg
        && !header.jpeg_cmyk
        && header.jpeg_sampling.is_some()
        && !encodings.is_empty()
        && encodings
            .iter()
            .all(|e| matches!(e, Encoding::Jpeg | Encoding::WebP { lossless: false }))
}

/// Runs the whole job on planes; `None` when libjpeg disagrees with the header about the
/// colour space or sampling (the caller takes the RGB path).
pub(crate) fn run(
    input: &[u8],
    plan: &Plan,
    prepared: &Prepared,
    stop: &AtomicBool,
    summarise: bool,
) -> Result<Option<Processed>, ImagingError> {
    let started = Instant::now();
    let Some(decoded) = decode_planes(input, &prepared.header, prepared.scale.eighths)? else {
        return Ok(None);
    };
    targets::checkpoint(stop, "decode")?;
    let mut warnings = decoded.warnings;
    let header = &prepared.header;
    let mut job = PlanarJob {
        input,
        plan,
        prepared,
        clean: warnings.is_empty(),
        icc: targets::carried_icc(header.jpeg_icc.clone(), &prepared.encodings, &mut warnings),
        copyright: header.exif.clone().filter(|_| plan.encode.keep_copyright),
        source: decoded.planes,
        resampler: Resampler::default(),
        hubs: Vec::new(),
        cropped: None,
        timings: StageTimings {
            decode: started.elapsed(),
            ..StageTimings::default()
        },
    };
    let mut outputs: Vec<Option<Output>> = vec![None; plan.targets.len()];
    for i in targets::render_order(prepared) {
        outputs[i] = Some(job.render(i)?);
        targets::checkpoint(stop, "an output")?;
    }
    let (summary, cover_summary) = match summarise {
        true => job.summaries()?,
        false => (None, None),
    };
    Ok(Some(Processed {
        source: header.info,
        outputs: outputs.into_iter().flatten().collect(),
        warnings,
        timings: job.timings,
        summary,
        cover_summary,
    }))
}

/// One decoded source in planes and what every output shares (`plan::Job`'s twin).
struct PlanarJob<'a> {
    input: &'a [u8],
    plan: &'a Plan,
    prepared: &'a Prepared,
    source: Planes,
    /// A damaged source is re-encoded, never passed on as is.
    clean: bool,
    icc: Option<Vec<u8>>,
    copyright: Option<Exif>,
    resampler: Resampler,
    /// Fit-inside outputs made so far, largest first, in stored orientation.
    hubs: Vec<Planes>,
    /// The first cover crop made, kept for the summary when there is no fit-inside output
    /// (a thumbnail job summarises its square, not the whole photo).
    cropped: Option<Planes>,
    timings: StageTimings,
}

impl PlanarJob<'_> {
    fn carry(&self) -> Carry<'_> {
        Carry {
            icc: self.icc.as_deref(),
            copyright: self.copyright.as_ref(),
        }
    }

    fn render(&mut self, i: usize) -> Result<Output, ImagingError> {
        let (plan, prepared) = (self.plan, self.prepared);
        let target = &plan.targets[i];
        if self.clean
            && let Some(bytes) = targets::reusable_original(self.input, prepared, i, self.carry())
        {
            return Ok(targets::output_of(plan, prepared, i, bytes, true));
        }
        let started = Instant::now();
        let resized = self.resize(target, prepared.layouts[i])?;
        self.timings.resize += started.elapsed();
        let stored = resized.as_ref().unwrap_or_else(|| self.same_size_hub(i));
        let orientation = prepared.header.info.orientation;
        let owned = (orientation != 1).then(|| stored.clone().oriented(orientation));
        let started = Instant::now();
        let upright = owned.as_ref().unwrap_or(stored);
        let bytes = match prepared.encodings[i] {
            Encoding::WebP { .. } => encode_webp_planes(upright, plan.encode.webp_quality)?,
            _ => encode_jpeg_planes(upright, &plan.encode, self.carry())?,
        };
        self.timings.encode += started.elapsed();
        match (target.fit, resized) {
            (Fit::Inside, Some(r)) => self.hubs.push(r),
            (Fit::Cover { .. }, Some(r)) if self.cropped.is_none() => self.cropped = Some(r),
            _ => {}
        }
        Ok(targets::output_of(plan, prepared, i, bytes, false))
    }

    /// The earlier output of exactly target `i`'s size (`resize` returned `None`).
    fn same_size_hub(&self, i: usize) -> &Planes {
        targets::pick_hub(&self.hubs, self.prepared.layouts[i], planes_size).unwrap_or(&self.source)
    }

    /// Resizes (and crops) for `target`; `None` when an earlier output already is it.
    fn resize(&mut self, target: &Target, layout: Layout) -> Result<Option<Planes>, ImagingError> {
        let hub = targets::pick_hub(&self.hubs, layout, planes_size);
        let src = hub.unwrap_or(&self.source);
        let window = targets::cover_window(
            &self.prepared.header,
            target,
            layout,
            src.extent,
            |ww, wh| smart_crop::anchor(&src.y, ww, wh),
        )?;
        if hub.is_some()
            && window.is_none()
            && planes_size(src) == (layout.out_width, layout.out_height)
        {
            return Ok(None);
        }
        let mirrored = mirrored_axes(self.prepared.header.info.orientation);
        let (w, h, filter) = (layout.out_width, layout.out_height, self.plan.encode.filter);
        src.resize(&mut self.resampler, window, w, h, filter, mirrored)
            .map(Some)
    }

    /// Placeholders and perceptual hash from the smallest fit-inside output (else the first
    /// cover crop, else the source), and the crop's own beside a fit-inside output
    /// (`Processed::cover_summary`), each shrunk in planes to the summary's size and only
    /// then converted to RGB: the only RGB this path makes.
    fn summaries(&mut self) -> Result<(Option<Summary>, Option<Summary>), ImagingError> {
        let started = Instant::now();
        let smallest = self.hubs.last().or(self.cropped.as_ref());
        let summary = self.summary_of(smallest.unwrap_or(&self.source))?;
        let cover = match (self.hubs.is_empty(), &self.cropped) {
            (false, Some(cropped)) => Some(self.summary_of(cropped)?),
            _ => None,
        };
        self.timings.resize += started.elapsed();
        Ok((Some(summary), cover))
    }

    fn summary_of(&self, planes: &Planes) -> Result<Summary, ImagingError> {
        let (width, height) = placeholder::summary_size(planes.width(), planes.height());
        let filter = ResizeFilter::CatmullRom;
        let small = planes.resize(
            &mut Resampler::default(),
            None,
            width,
            height,
            filter,
            (false, false),
        )?;
        let upright = orient::apply(small.to_rgb(), self.prepared.header.info.orientation);
        Ok(placeholder::summarise_small(
            &upright,
            self.plan.encode.background_rgb,
        ))
    }
}

fn planes_size(p: &Planes) -> (u32, u32) {
    (p.width(), p.height())
}
