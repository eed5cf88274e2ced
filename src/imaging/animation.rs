//! Animations kept animated. An animated GIF or WebP (more than one frame in its container)
//! whose target asks for GIF or WebP ([`Animated::resolve`]) is rendered frame by frame:
//! the decoder composites each frame onto the full canvas as the format's disposal and
//! blending rules say, the canvas-sized frame is resized like a still (same resampler,
//! premultiplied, fit and cover the same, never enlarged; a cover window is placed once,
//! on the first frame, so it does not jump) and handed to that target's encoder
//! (`animation_encode.rs`) with its duration; the loop count is kept. Every other target
//! (JPEG, PNG, AVIF) is the first frame as a still, made by the still pipeline
//! (`plan.rs`), which also makes the summary.
//!
//! Frames stream from the decoder: one canvas at a time, never the whole animation
//! decoded. Bounded by [`Limits::max_animation_pixels`] (frames × canvas area, from the
//! container, checked before any decode). Must not do I/O.

use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use image::codecs::gif::GifDecoder;
use image::codecs::webp::WebPDecoder;
use image::metadata::LoopCount;
use image::{AnimationDecoder, Frames, ImageDecoder};

use super::animation_encode::Sink;
use super::container;
use super::geometry::{self, Layout};
use super::header::Header;
use super::orient;
use super::pixels::Raster;
use super::plan;
use super::resize::{Resampler, Window, premultiply_in_place, unpremultiplied};
use super::smart_crop;
use super::{
    Anchor, Fit, ImageFormat, ImagingError, Limits, Output, OutputFormat, Plan, Processed,
    StageTimings,
};

/// An animated output's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Animated {
    Gif,
    WebP { lossless: bool },
}

impl Animated {
    /// The animated encoding a target of an animated `source` gets; `None`: a still of its
    /// first frame (JPEG, PNG, AVIF have no animation here).
    pub fn resolve(requested: OutputFormat, source: ImageFormat) -> Option<Self> {
        match requested {
            OutputFormat::Original if source == ImageFormat::Gif => Some(Self::Gif),
            OutputFormat::Original | OutputFormat::WebP => Some(Self::WebP { lossless: false }),
            OutputFormat::WebPLossless => Some(Self::WebP { lossless: true }),
            OutputFormat::Jpeg | OutputFormat::Png | OutputFormat::Avif => None,
        }
    }

    pub fn format(self) -> ImageFormat {
        match self {
            Self::Gif => ImageFormat::Gif,
            Self::WebP { .. } => ImageFormat::WebP,
        }
    }
}

/// The source is an animation: a GIF or WebP whose container holds more than one frame.
pub(crate) fn is_animation(header: &Header) -> bool {
    matches!(header.info.format, ImageFormat::Gif | ImageFormat::WebP) && header.pixels.frames > 1
}

/// Some target of `plan` keeps `header`'s animation (so the animation path runs).
pub(crate) fn keeps_animation(header: &Header, plan: &Plan) -> bool {
    is_animation(header)
        && plan
            .targets
            .iter()
            .any(|t| Animated::resolve(t.format, header.info.format).is_some())
}

/// Frames × canvas area against [`Limits::max_animation_pixels`], from the container alone.
pub(crate) fn check_limits(header: &Header, limits: &Limits) -> Result<(), ImagingError> {
    let canvas = u64::from(header.stored_width) * u64::from(header.stored_height);
    let actual = header.pixels.frames.saturating_mul(canvas);
    if actual > limits.max_animation_pixels {
        return Err(ImagingError::TooLarge {
            what: "the animation's frames x canvas pixels (imaging.max_animation_pixels)",
            actual,
            limit: limits.max_animation_pixels,
        });
    }
    Ok(())
}

/// [`plan::process`] for a source that [`keeps_animation`]: the still targets (and the
/// summary) through the still pipeline, the animated ones here; outputs in the plan's order.
pub(crate) fn run(
    input: &[u8],
    plan: &Plan,
    header: Header,
    stop: &AtomicBool,
    summarise: bool,
) -> Result<Processed, ImagingError> {
    check_limits(&header, &plan.limits)?;
    let source_format = header.info.format;
    let kinds: Vec<Option<Animated>> = plan
        .targets
        .iter()
        .map(|t| Animated::resolve(t.format, source_format))
        .collect();
    let still_plan = Plan {
        targets: (plan.targets.iter().zip(&kinds))
            .filter(|(_, kind)| kind.is_none())
            .map(|(t, _)| t.clone())
            .collect(),
        ..plan.clone()
    };
    let still = match (still_plan.targets.is_empty(), summarise) {
        (_, true) => Some(plan::process_summarised(input, &still_plan, stop)?),
        (false, false) => Some(plan::process_until(input, &still_plan, stop)?),
        (true, false) => None,
    };
    let animated = render(input, plan, &header, &kinds, stop)?;
    let (mut warnings, mut timings, summary, cover_summary, still_outputs) = match still {
        Some(p) => (p.warnings, p.timings, p.summary, p.cover_summary, p.outputs),
        None => (Vec::new(), StageTimings::default(), None, None, Vec::new()),
    };
    warnings.extend(animated.warnings);
    timings.decode += animated.timings.decode;
    timings.resize += animated.timings.resize;
    timings.encode += animated.timings.encode;
    let mut stills = still_outputs.into_iter();
    let mut moving: Vec<Option<Output>> = vec![None; plan.targets.len()];
    for (i, output) in animated.outputs {
        moving[i] = Some(output);
    }
    let outputs = (kinds.iter().zip(moving))
        .map(|(kind, animated)| match kind {
            None => stills.next(),
            Some(_) => animated,
        })
        .map(|o| o.ok_or_else(|| ImagingError::encode(source_format, "an output went missing")))
        .collect::<Result<Vec<Output>, _>>()?;
    Ok(Processed {
        source: header.info,
        outputs,
        warnings,
        timings,
        summary,
        cover_summary,
    })
}

/// The animated targets' outputs, by target index.
struct Rendered {
    outputs: Vec<(usize, Output)>,
    warnings: Vec<String>,
    timings: StageTimings,
}

/// One resize per frame for every target of the same layout and fit (`resize.formats`
/// writes one size in several formats), feeding each of those targets' encoders.
struct Lane {
    layout: Layout,
    fit: Fit,
    /// The cover window, placed on the first frame and kept for the others.
    window: Option<Option<Window>>,
    sinks: Vec<(usize, Sink)>,
}

fn lanes(plan: &Plan, header: &Header, kinds: &[Option<Animated>], loops: LoopCount) -> Vec<Lane> {
    let layouts = plan::prepare(header.clone(), plan).layouts;
    let mut lanes: Vec<Lane> = Vec::new();
    for (i, (target, kind)) in plan.targets.iter().zip(kinds).enumerate() {
        let Some(kind) = kind else { continue };
        let sink = Sink::new(*kind, loops, &plan.encode);
        let (layout, fit) = (layouts[i], target.fit);
        match lanes
            .iter_mut()
            .find(|l| l.layout == layout && l.fit == fit)
        {
            Some(lane) => lane.sinks.push((i, sink)),
            None => lanes.push(Lane {
                layout,
                fit,
                window: None,
                sinks: vec![(i, sink)],
            }),
        }
    }
    lanes
}

impl Lane {
    /// The frame (premultiplied, canvas-sized) at this lane's size, straight alpha, upright.
    fn resize(
        &mut self,
        resampler: &mut Resampler,
        frame: &Raster,
        plan: &Plan,
        orientation: u8,
    ) -> Result<Raster, ImagingError> {
        let (w, h) = (f64::from(frame.width), f64::from(frame.height));
        let window = match self.window {
            Some(window) => window,
            None => {
                let window = match (self.layout.window, self.fit) {
                    (Some((ww, wh)), Fit::Cover { anchor }) => {
                        let (left, top) = match anchor {
                            Anchor::Centre => geometry::centred(w, h, ww, wh),
                            Anchor::Smart => smart_crop::anchor(frame, ww, wh)?,
                        };
                        Some((left, top, ww, wh))
                    }
                    _ => None,
                };
                *self.window.insert(window)
            }
        };
        let (ow, oh) = (self.layout.out_width, self.layout.out_height);
        let straight = if window.is_none() && (frame.width, frame.height) == (ow, oh) {
            unpremultiplied(frame)?
        } else {
            unpremultiplied(&resampler.resize(frame, window, ow, oh, plan.encode.filter)?)?
        };
        Ok(orient::apply(straight, orientation))
    }
}

/// Streams the frames through every lane; each animated target's encoded output.
fn render(
    input: &[u8],
    plan: &Plan,
    header: &Header,
    kinds: &[Option<Animated>],
    stop: &AtomicBool,
) -> Result<Rendered, ImagingError> {
    let format = header.info.format;
    // A WebP without VP8X's alpha flag decodes as RGB, turning the canvas outside its
    // frames black (`container::set_webp_alpha_flag`): decode a flagged copy as RGBA.
    let flagged: Vec<u8>;
    let input = match format == ImageFormat::WebP && !container::webp_declares_alpha(input) {
        true => {
            flagged = with_alpha_flag(input);
            flagged.as_slice()
        }
        false => input,
    };
    let (frames, loops) = decode_frames(input, format, &plan.limits)?;
    let mut lanes = lanes(plan, header, kinds, loops);
    let mut resampler = Resampler::premultiplied();
    let mut timings = StageTimings::default();
    let mut warnings = Vec::new();
    let mut started = Instant::now();
    for (index, frame) in frames.enumerate() {
        let (mut raster, delay_ms) = match frame {
            Ok(frame) => frame_raster(frame),
            Err(e) if index == 0 => return Err(ImagingError::corrupt(format, e)),
            Err(e) => {
                warnings.push(format!(
                    "the animation is damaged after frame {index} ({e}); its outputs keep the \
                     {index} frames before"
                ));
                break;
            }
        };
        premultiply_in_place(&mut raster)?;
        timings.decode += started.elapsed();
        for lane in &mut lanes {
            let resizing = Instant::now();
            let resized = lane.resize(&mut resampler, &raster, plan, header.info.orientation)?;
            timings.resize += resizing.elapsed();
            let encoding = Instant::now();
            for (_, sink) in &mut lane.sinks {
                sink.push(&resized, delay_ms)?;
            }
            timings.encode += encoding.elapsed();
        }
        if stop.load(Ordering::Relaxed) {
            return Err(ImagingError::Stopped {
                stage: "an animation frame",
            });
        }
        started = Instant::now();
    }
    let mut outputs = Vec::new();
    let encoding = Instant::now();
    for (i, sink) in lanes.into_iter().flat_map(|l| l.sinks) {
        let label = plan.targets[i].label.clone();
        outputs.push((i, sink.finish(label)?));
    }
    timings.encode += encoding.elapsed();
    Ok(Rendered {
        outputs,
        warnings,
        timings,
    })
}

fn with_alpha_flag(input: &[u8]) -> Vec<u8> {
    let mut copy = input.to_vec();
    container::set_webp_alpha_flag(&mut copy);
    copy
}

/// The source's composited frames (canvas-sized RGBA) and its loop count.
fn decode_frames<'a>(
    input: &'a [u8],
    format: ImageFormat,
    limits: &Limits,
) -> Result<(Frames<'a>, LoopCount), ImagingError> {
    let corrupt = |e: image::ImageError| ImagingError::corrupt(format, e);
    // The header checked every frame descriptor; this guards what the decoder allocates.
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_width);
    image_limits.max_image_height = Some(limits.max_height);
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(12));
    if format == ImageFormat::Gif {
        let mut decoder = GifDecoder::new(Cursor::new(input)).map_err(corrupt)?;
        decoder.set_limits(image_limits).map_err(corrupt)?;
        let loops = decoder.loop_count();
        Ok((decoder.into_frames(), loops))
    } else {
        let mut decoder = WebPDecoder::new(Cursor::new(input)).map_err(corrupt)?;
        decoder.set_limits(image_limits).map_err(corrupt)?;
        let loops = decoder.loop_count();
        Ok((decoder.into_frames(), loops))
    }
}

/// A decoded frame as an RGBA raster and its duration in whole milliseconds.
fn frame_raster(frame: image::Frame) -> (Raster, u32) {
    let (numer, denom) = frame.delay().numer_denom_ms();
    let delay_ms = (numer + denom.max(1) / 2) / denom.max(1);
    let buffer = frame.into_buffer();
    let raster = Raster {
        width: buffer.width(),
        height: buffer.height(),
        channels: 4,
        data: buffer.into_raw(),
    };
    (raster, delay_ms)
}
