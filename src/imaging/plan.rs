//! `process`: the whole job for one source, in two stages. [`prepare`] decides everything
//! the header allows (each target's layout and encoding, the JPEG decode scale); the
//! memory estimate uses the same decisions. Then one decode, the alpha and metadata
//! decisions ([`Job::new`]), and each target rendered in turn ([`Job::render`]): a cascade
//! of resizes in the stored orientation, rotation of the small outputs, encoding, and reuse
//! of the (stripped) original bytes where nothing changes.

use super::animation;
use super::avif;
use super::decode::{DecodeScale, Decoded, decode};
use super::encode::{Carry, Encoding, encode};
use super::geometry::{self, Layout};
use super::header::{self, Header};
use super::metadata::Exif;
use super::orient;
use super::pixels::Raster;
use super::placeholder::{self, Summary};
use super::resize::{Resampler, Window, premultiply_in_place, unpremultiplied};
use super::smart_crop;
use super::targets::{
    carried_icc, checkpoint, cover_window, output_of, pick_hub, render_order, reusable_original,
};
use super::ycbcr;
use super::{Fit, ImagingError, Output, Plan, Processed, StageTimings, Target};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// The decode keeps at least this many source pixels per output pixel (per axis) for the
/// largest output, so Lanczos has detail to work with beyond the DCT scaling's own filter.
/// Measured with compare.py (large output's PSNR against a full-decode Lanczos reference),
/// a 1/2 DCT decode cost 0.00 dB at 1.59x (Pexels 17.7 MP), 0.11 dB at 1.40x (Olympus
/// 12 MP) and 0.29 dB at 1.11x (a 3200x2400 crop of it), for 20-40% less CPU. 1.25 keeps
/// clear of the 0.3 dB budget; libvips keeps 2x and so pays for full decodes.
pub(crate) const DECODE_HEADROOM: f64 = 1.25;

/// What the header and the plan decide before any pixel is decoded.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub header: Header,
    /// One per target, in the plan's order, in stored orientation.
    pub layouts: Vec<Layout>,
    pub encodings: Vec<Encoding>,
    pub scale: DecodeScale,
    /// The image stays in YCbCr planes from decode to encode (`ycbcr`).
    pub planar: bool,
}

/// Decodes `input` once and produces every target of `plan`, in the plan's order.
pub fn process(input: &[u8], plan: &Plan) -> Result<Processed, ImagingError> {
    process_until(input, plan, &AtomicBool::new(false))
}

/// [`process`] that stops at the next stage boundary (after the decode, after each output)
/// once `stop` is set: a job nobody awaits any more gives its CPU and memory back early.
pub fn process_until(
    input: &[u8],
    plan: &Plan,
    stop: &AtomicBool,
) -> Result<Processed, ImagingError> {
    run(input, plan, stop, false)
}

/// [`process_until`] that also fills [`Processed::summary`] (placeholders and perceptual
/// hash) from a small rendering of the smallest fit-inside output: no second decode.
pub fn process_summarised(
    input: &[u8],
    plan: &Plan,
    stop: &AtomicBool,
) -> Result<Processed, ImagingError> {
    run(input, plan, stop, true)
}

fn run(
    input: &[u8],
    plan: &Plan,
    stop: &AtomicBool,
    summarise: bool,
) -> Result<Processed, ImagingError> {
    let check = |stage: &'static str| checkpoint(stop, stage);
    let header = header::read(input, &plan.limits)?;
    if animation::keeps_animation(&header, plan) {
        return animation::run(input, plan, header, stop, summarise);
    }
    let prepared = prepare(header, plan);
    if prepared.planar
        && let Some(processed) = ycbcr::run(input, plan, &prepared, stop, summarise)?
    {
        return Ok(processed);
    }
    let started = Instant::now();
    let decoded = decode(input, &prepared.header, &plan.limits, prepared.scale)?;
    check("decode")?;
    let decode_time = started.elapsed();
    let mut job = Job::new(input, plan, &prepared, decoded, summarise)?;
    job.timings.decode = decode_time;
    let mut outputs: Vec<Option<Output>> = vec![None; plan.targets.len()];
    for i in render_order(&prepared) {
        match job.render(i) {
            Ok(output) => outputs[i] = Some(output),
            // An AVIF that cannot be made costs that output only (`avif.rs`).
            Err(e @ ImagingError::Encode { format: "avif", .. }) => {
                let warning = avif::not_written(&plan.targets[i].label, &e);
                job.warnings.push(warning);
            }
            Err(e) => return Err(e),
        }
        check("an output")?;
    }
    let (summary, cover_summary) = match summarise {
        true => job.summaries()?,
        false => (None, None),
    };
    Ok(Processed {
        source: prepared.header.info,
        outputs: outputs.into_iter().flatten().collect(),
        warnings: job.warnings,
        timings: job.timings,
        summary,
        cover_summary,
    })
}

/// Each target's layout and encoding, and the decode scale the largest output needs.
pub(crate) fn prepare(header: Header, plan: &Plan) -> Prepared {
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
    Prepared {
        planar: ycbcr::eligible(&header, &encodings),
        header,
        layouts,
        encodings,
        scale,
    }
}

/// One decoded source and what every output shares.
struct Job<'a> {
    input: &'a [u8],
    plan: &'a Plan,
    prepared: &'a Prepared,
    source: Raster,
    /// The exact part of the raster that maps onto the source: resizing the rounded-up
    /// raster instead would shift a DCT-scaled decode by up to a pixel (0.2-2 dB).
    source_extent: (f64, f64),
    /// A damaged source is re-encoded, never passed on as is.
    clean: bool,
    icc: Option<Vec<u8>>,
    copyright: Option<Exif>,
    resampler: Resampler,
    /// Fit-inside outputs made so far, largest first, that smaller ones may be resized from.
    hubs: Vec<Raster>,
    /// The first cropped (cover) output made: a thumbnail's own summary comes from it.
    cropped: Option<Raster>,
    warnings: Vec<String>,
    /// Where the time went, for the service's stage metrics.
    timings: StageTimings,
}

impl<'a> Job<'a> {
    fn new(
        input: &'a [u8],
        plan: &'a Plan,
        prepared: &'a Prepared,
        decoded: Decoded,
        summarise: bool,
    ) -> Result<Self, ImagingError> {
        let header = &prepared.header;
        let mut warnings = decoded.warnings;
        let clean = warnings.is_empty();
        // Alpha: keep it only if some output (or the ThumbHash) can hold it and some pixel
        // uses it.
        let any_alpha_output = summarise || prepared.encodings.iter().any(|e| e.keeps_alpha());
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
        // Premultiplied once here, so no resize copies the whole raster to premultiply it.
        let resampler = match source.has_alpha() {
            true => {
                premultiply_in_place(&mut source)?;
                Resampler::premultiplied()
            }
            false => Resampler::default(),
        };
        let icc = carried_icc(decoded.icc, &prepared.encodings, &mut warnings);
        let (sw, sh) = (header.stored_width, header.stored_height);
        Ok(Job {
            input,
            plan,
            prepared,
            source,
            source_extent: (f64::from(sw) * decoded.scale, f64::from(sh) * decoded.scale),
            clean,
            icc,
            copyright: header.exif.clone().filter(|_| plan.encode.keep_copyright),
            resampler,
            hubs: Vec::new(),
            cropped: None,
            warnings,
            timings: StageTimings::default(),
        })
    }

    fn carry(&self) -> Carry<'_> {
        Carry {
            icc: self.icc.as_deref(),
            copyright: self.copyright.as_ref(),
        }
    }

    /// Produces target `i`: the stripped original when nothing changes, else a resize.
    fn render(&mut self, i: usize) -> Result<Output, ImagingError> {
        let (plan, prepared) = (self.plan, self.prepared);
        let target = &plan.targets[i];
        let layout = prepared.layouts[i];
        let encoding = prepared.encodings[i];
        let header = &prepared.header;
        let orientation = header.info.orientation;
        let output = |bytes, reused_original| output_of(plan, prepared, i, bytes, reused_original);
        if self.clean
            && let Some(bytes) = reusable_original(self.input, prepared, i, self.carry())
        {
            return Ok(output(bytes, true));
        }
        let started = Instant::now();
        let resized = self.resize(target, layout)?;
        self.timings.resize += started.elapsed();
        let stored = resized
            .as_ref()
            .unwrap_or_else(|| self.hub_or_source(layout));
        // The job's rasters are premultiplied (`Job::new`); encoders take straight alpha,
        // and the upright orientation. At most one copy is made for both.
        let owned = match (stored.has_alpha(), orientation) {
            (false, 1) => None,
            (true, 1) => Some(unpremultiplied(stored)?),
            (false, o) => Some(orient::apply(stored.clone(), o)),
            (true, o) => Some(orient::apply(unpremultiplied(stored)?, o)),
        };
        let upright_ref = owned.as_ref().unwrap_or(stored);
        let started = Instant::now();
        let bytes = encode(upright_ref, encoding, &plan.encode, self.carry())?;
        self.timings.encode += started.elapsed();
        match (target.fit, resized) {
            (Fit::Inside, Some(r)) => self.hubs.push(r),
            (Fit::Cover { .. }, Some(r)) if self.cropped.is_none() => self.cropped = Some(r),
            _ => {}
        }
        Ok(output(bytes, false))
    }

    /// Placeholders and perceptual hash from the smallest fit-inside output made (else the
    /// cropped one, else the decoded source), in display orientation; and the crop's own
    /// when there was a fit-inside output too ([`Processed::cover_summary`]).
    fn summaries(&mut self) -> Result<(Option<Summary>, Option<Summary>), ImagingError> {
        let started = Instant::now();
        let (orientation, background) = (
            self.prepared.header.info.orientation,
            self.plan.encode.background_rgb,
        );
        let of = |r: &Raster| placeholder::summarise(r, r.has_alpha(), orientation, background);
        let smallest = self.hubs.last().or(self.cropped.as_ref());
        let summary = of(smallest.unwrap_or(&self.source))?;
        let cover = match (self.hubs.is_empty(), &self.cropped) {
            (false, Some(cropped)) => Some(of(cropped)?),
            _ => None,
        };
        // Mostly the small resize; counted there so the metrics' stages stay three.
        self.timings.resize += started.elapsed();
        Ok((Some(summary), cover))
    }

    /// The raster a target is resized from: an earlier output larger than it, else the decode.
    fn hub_or_source(&self, layout: Layout) -> &Raster {
        pick_hub(&self.hubs, layout, raster_size).unwrap_or(&self.source)
    }

    /// Resizes (and crops) for `target`; `None` when the source already is the output.
    fn resize(&mut self, target: &Target, layout: Layout) -> Result<Option<Raster>, ImagingError> {
        let from_hub = pick_hub(&self.hubs, layout, raster_size);
        let (src, (ex, ey)) = match from_hub {
            Some(h) => (h, (f64::from(h.width), f64::from(h.height))),
            None => (&self.source, self.source_extent),
        };
        let cover = cover_window(&self.prepared.header, target, layout, (ex, ey), |ww, wh| {
            smart_crop::anchor(src, ww, wh)
        })?;
        let window: Option<Window> = match cover {
            Some(w) => Some(w),
            None if (ex, ey) != (f64::from(src.width), f64::from(src.height)) => {
                Some((0.0, 0.0, ex, ey))
            }
            None => None,
        };
        if window.is_none() && (src.width, src.height) == (layout.out_width, layout.out_height) {
            return Ok(None);
        }
        let (w, h, filter) = (layout.out_width, layout.out_height, self.plan.encode.filter);
        self.resampler.resize(src, window, w, h, filter).map(Some)
    }
}

fn raster_size(r: &Raster) -> (u32, u32) {
    (r.width, r.height)
}
