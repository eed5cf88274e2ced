//! The imaging engine: sniff, guard, decode once, orient, resize in a cascade, encode.
//!
//! Owns every pixel operation of the service. It is pure CPU code: no I/O (except
//! [`bench::run`], the benchmark protocol), no async, no knowledge of buckets, events or
//! configuration files. Callers run it in `spawn_blocking` under a concurrency limit.
//! Every error it returns is permanent: the same bytes fail the same way on a retry.
//!
//! # API
//! - [`sniff`]: the format from the magic bytes (≤ 64 bytes needed), never from a name.
//! - [`probe`]: header only (dimensions after EXIF orientation, limits checked), no decode.
//! - [`process`]: decode once, then produce every [`Target`] of a [`Plan`].
//! - [`process_summarised`]: [`process_until`] plus placeholders and a perceptual hash.
//! - [`blur`]: a strongly blurred re-encode in the source's format (moderation "blur" policy).
//! - [`estimate_peak`]: a job's peak memory from the first [`HEADER_PREFIX_BYTES`] (admission).
//! - [`strip_metadata`]: the allow-list stripper reused originals go through.
//!
//! # Supported input
//! JPEG (8-bit: baseline, progressive, grayscale, CMYK/YCCK, any chroma subsampling), PNG
//! (8/16 bit, palette, grey, alpha, Adam7 interlaced), WebP (lossy, lossless, alpha,
//! animated), GIF (animated or not), BMP, TIFF. 12- and 16-bit JPEG, AVIF and HEIC are
//! `Unsupported` (no decoder in this build); SVG, HTML, empty and unknown bytes are
//! `NotAnImage`. Outputs: JPEG (4:2:0, baseline or progressive), PNG, WebP lossy and
//! lossless (animated too), AVIF, and animated GIF (only from an animated GIF).
//!
//! # Decisions
//! - **Decode once, cascade.** The largest fit-inside output is resized from the decoded
//!   source; each smaller target from the smallest earlier output at least 3x its size, else
//!   from the largest (the thumbnail goes through the medium size, the rest are a star like
//!   libvips' cascade). Chaining every size lost 0.4 dB on text.
//! - **DCT-scaled JPEG decode.** libjpeg-turbo decodes at the smallest M/8 scale (1, 2, 4, 8:
//!   the ones with SIMD) that still leaves at least [`plan::DECODE_HEADROOM`] times the
//!   largest output's resolution, so the Lanczos step has real pixels to work with. The
//!   resize reads exactly the part of the scaled raster that maps onto the source (its last
//!   row and column cover a fraction of a pixel). Subsampled chroma is replicated rather
//!   than interpolated when every output is shrunk 1.25x or more.
//! - **Photos stay in YCbCr.** A YCbCr or grey JPEG whose every output is a JPEG is
//!   decoded to libjpeg's raw planes (at the DCT scale above), each plane resized at its
//!   own resolution (output chroma at half size, 4:2:0, centred as JPEG places it, the
//!   extra line of an odd size on the displayed far side), oriented per plane and handed
//!   to libjpeg's raw-data encoder (`ycbcr.rs`, `planes.rs`): no colour conversion either
//!   way, chroma resized at the resolution it is stored and written at, each plane's
//!   horizontal pass run four rows at a time (`resize_plane.rs`). Everything else
//!   (alpha, PNG/GIF/WebP/BMP/TIFF sources, CMYK and RGB-stored JPEGs, any WebP, AVIF or
//!   PNG output) takes the RGB path. Against a Lanczos reference every bench output is
//!   0.00-0.35 dB closer than the RGB path's, for 0.65-0.91x its CPU and 1.5 bytes per
//!   decoded pixel instead of 3 (docs/performance.md).
//! - **Orientation.** EXIF orientation 1-8 is read from the header. Resizing happens in the
//!   stored orientation with the box swapped; only the small outputs are rotated. Outputs
//!   carry no orientation tag.
//! - **Metadata.** EXIF, XMP, IPTC and comments are stripped (GPS never leaks);
//!   [`EncodeOptions::keep_copyright`] writes a minimal EXIF block holding only Artist and
//!   Copyright into JPEG outputs.
//! - **ICC profiles** are carried, not converted: a non-sRGB profile up to 128 KiB
//!   (`metadata::MAX_CARRIED_ICC_BYTES`: every matrix profile and small LUT ones) is copied
//!   into JPEG and PNG outputs (exact and cheap; conversion would need a colour-management
//!   engine). sRGB profiles are dropped because sRGB is what every viewer assumes. Where a
//!   profile cannot be carried (WebP outputs, CMYK sources, one over the bound) a warning
//!   says so: it is never dropped silently.
//! - **Alpha.** When an output keeps alpha, resizing is premultiplied. When no output keeps
//!   alpha, the image is flattened onto [`EncodeOptions::background_rgb`] right after decode
//!   (exact, because flattening and resizing are both linear, and cheaper: 3 channels).
//! - **Truncated JPEGs** (a known failure of some phone cameras) are processed from what
//!   decodes; the missing part is grey and [`Processed::warnings`] says why. A JPEG cut before
//!   its first scan has no pixels at all and is refused as corrupt.
//! - **Unchanged originals.** When the image already fits a box, needs no rotation and the
//!   format is unchanged, the variant is the original bytes through [`strip_metadata`]: an
//!   allow-list of segments/chunks, ending at EOI, IEND or the RIFF size, so appended data
//!   (MPF secondary images, Motion Photo video, any trailer) never reaches an output
//!   (lossless, never bigger than the source); [`Output::reused_original`] is set.
//! - **Animations** (`animation.rs`). An animated GIF or WebP (more than one frame in the
//!   container) stays animated in GIF and WebP outputs: `original` of a GIF is an animated
//!   GIF, of a WebP an animated WebP; `webp`/`webp_lossless` an animated WebP. Each frame is
//!   composited onto the canvas by the decoder (GIF disposal, WebP blending and disposal),
//!   resized like a still (fit, cover, never enlarged; a cover window is placed on the first
//!   frame), and encoded with its duration; the loop count is kept. Frames stream: one
//!   canvas at a time is decoded. JPEG, PNG and AVIF outputs are the first frame as a
//!   still, as before. Frames are counted from the container (no decode) and checked
//!   against [`Limits::max_frames`]; when some output keeps the animation, frames × canvas
//!   against [`Limits::max_animation_pixels`] too (also in [`estimate_peak`], before any
//!   download); every GIF frame's size is checked against the pixel limits, not only the
//!   logical screen. [`Output::frames`] says how many frames an output holds.
//! - **Memory.** [`estimate_peak`] bounds a job's peak bytes from its header (the same
//!   layout and decode-scale decisions `process` makes); `max_pixels` stays the hard limit
//!   for one image, and the admission budget (`crate::admission`) bounds how many run at
//!   once. Bit depth does not raise the cost: 16-bit PNG is decoded straight to 8 bits.

mod animation;
mod animation_encode;
mod avif;
mod blur;
mod container;
mod decode;
mod decode_png;
mod encode;
mod error;
mod estimate;
mod geometry;
mod header;
mod libjpeg;
mod metadata;
mod orient;
mod pixels;
mod placeholder;
mod plan;
mod planes;
mod resize;
mod resize_plane;
mod smart_crop;
mod sniff;
mod strip;
mod targets;
mod types;
mod ycbcr;
mod ycbcr_decode;
mod ycbcr_encode;
mod ycbcr_webp;

pub mod bench;

#[cfg(test)]
mod tests;

pub use avif::DEFAULT_AVIF_SPEED;
pub use blur::blur;
pub use error::ImagingError;
pub use estimate::{HEADER_PREFIX_BYTES, PeakEstimate, estimate_peak};
pub use header::probe;
pub use placeholder::{Placeholder, Summary, blurhash_components, phash_distance};
pub use plan::{process, process_summarised, process_until};
pub use sniff::{content_type_of, sniff};
pub use strip::strip_metadata;
pub use types::{
    Anchor, DEFAULT_AVIF_QUALITY, DEFAULT_MAX_ANIMATION_PIXELS, EncodeOptions, Fit, ImageFormat,
    Limits, Output, OutputFormat, Plan, Processed, ResizeFilter, SourceInfo, StageTimings, Target,
};
