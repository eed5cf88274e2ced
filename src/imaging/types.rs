//! The vocabulary of the imaging API: formats, limits, targets, options and results.
//! Plain data only; no pixel work happens here.

/// An image format recognised from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Jpeg,
    Png,
    WebP,
    Gif,
    Bmp,
    Tiff,
    /// Output only: no AVIF decoder in this build (`sniff` reports AVIF input as unsupported).
    Avif,
}

impl ImageFormat {
    /// Lower-case name used in records and logs (`jpeg`, `png`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::WebP => "webp",
            Self::Gif => "gif",
            Self::Bmp => "bmp",
            Self::Tiff => "tiff",
            Self::Avif => "avif",
        }
    }

    /// The MIME type to store an object of this format with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::WebP => "image/webp",
            Self::Gif => "image/gif",
            Self::Bmp => "image/bmp",
            Self::Tiff => "image/tiff",
            Self::Avif => "image/avif",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::WebP => "webp",
            Self::Gif => "gif",
            Self::Bmp => "bmp",
            Self::Tiff => "tif",
            Self::Avif => "avif",
        }
    }
}

impl std::fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Guards checked from the header before any pixel is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes (default 64 MiB).
    pub max_input_bytes: u64,
    /// Largest accepted width in pixels, as stored (default 30000).
    pub max_width: u32,
    /// Largest accepted height in pixels, as stored (default 30000).
    pub max_height: u32,
    /// Largest accepted width × height (default 100 megapixels).
    pub max_pixels: u64,
    /// Most animation frames accepted (default 10000).
    pub max_frames: u32,
    /// Largest accepted frames × canvas area of an animation kept animated (default
    /// [`DEFAULT_MAX_ANIMATION_PIXELS`]); checked from the container only when some output
    /// keeps the animation (a still output decodes the first frame alone).
    pub max_animation_pixels: u64,
}

/// 15 million pixels: about 115 frames of 480x270 (a five-second clip), or 60 frames of
/// 500x500. What sets it is memory (`estimate.rs`): a GIF output holds its encoded frames
/// (up to 2 bytes per pixel), and a WebP output holds all its frames (RGBA) until libwebp's
/// animation encoder, which takes them at once, copies them again (ARGB) and encodes them:
/// about 10 bytes per output pixel of every frame at its finish. With `resize.formats =
/// original,webp` and a canvas the size of the large and medium outputs, an animation at
/// this limit is estimated at about 24 bytes per pixel, 370 MiB: within the 384 MiB budget
/// of a 512 MiB instance (GIF outputs alone: about 5 bytes per pixel; checked by
/// `imaging::tests::animation`).
pub const DEFAULT_MAX_ANIMATION_PIXELS: u64 = 15_000_000;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 64 * 1024 * 1024,
            max_width: 30_000,
            max_height: 30_000,
            max_pixels: 100_000_000,
            max_frames: 10_000,
            max_animation_pixels: DEFAULT_MAX_ANIMATION_PIXELS,
        }
    }
}

/// Where a cover crop keeps its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Anchor {
    /// The middle of the image.
    #[default]
    Centre,
    /// The most detailed region (edge energy, like libvips' `attention`).
    Smart,
}

/// How an image is fitted to a target box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Fit inside the box, aspect kept, never enlarged.
    Inside,
    /// Fill the box exactly and crop the overflow (never enlarged: a smaller image is only
    /// cropped to the box).
    Cover { anchor: Anchor },
}

/// The encoding of one output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// JPEG→JPEG, PNG→PNG, WebP→WebP; GIF, BMP and TIFF→PNG; an animated GIF stays an
    /// animated GIF (`animation.rs`).
    #[default]
    Original,
    Jpeg,
    Png,
    WebP,
    WebPLossless,
    /// AVIF through rav1e at its fastest preset (see `avif::DEFAULT_AVIF_SPEED`).
    Avif,
}

/// The resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResizeFilter {
    #[default]
    Lanczos3,
    CatmullRom,
    Mitchell,
    Bilinear,
    Box,
}

/// One output to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The caller's name for this output (`large`, `thumb`, ...), copied into [`Output`].
    pub label: String,
    /// Box width in pixels, in display orientation.
    pub width: u32,
    /// Box height in pixels, in display orientation.
    pub height: u32,
    pub fit: Fit,
    pub format: OutputFormat,
}

/// ravif's quality (1-100) for AVIF outputs unless the settings say otherwise. Chosen by
/// `tests/api/avif_quality.rs`: every size of the bench photos at 32 dB or more against a
/// Lanczos reference (decoded by libavif), and still smaller than the JPEG q85 of that size.
pub const DEFAULT_AVIF_QUALITY: f32 = 80.0;

/// Encoder settings shared by every output of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeOptions {
    /// JPEG quality 1-100 (default 85), 4:2:0 chroma.
    pub jpeg_quality: u8,
    /// Progressive JPEG (default false: baseline encodes faster).
    pub jpeg_progressive: bool,
    /// Lossy WebP quality 0-100 (default 80).
    pub webp_quality: f32,
    /// AVIF quality 1-100 (ravif's scale; default [`DEFAULT_AVIF_QUALITY`]).
    pub avif_quality: f32,
    /// What alpha is flattened onto when the output format has none (default white).
    pub background_rgb: [u8; 3],
    /// Keep the EXIF Artist and Copyright tags in JPEG outputs (default false: all EXIF stripped).
    pub keep_copyright: bool,
    pub filter: ResizeFilter,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            jpeg_quality: 85,
            jpeg_progressive: false,
            webp_quality: 80.0,
            avif_quality: DEFAULT_AVIF_QUALITY,
            background_rgb: [255, 255, 255],
            keep_copyright: false,
            filter: ResizeFilter::Lanczos3,
        }
    }
}

/// Everything [`process`](super::process) needs besides the bytes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub limits: Limits,
    pub encode: EncodeOptions,
    pub targets: Vec<Target>,
}

/// What the header says about a source image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceInfo {
    pub format: ImageFormat,
    /// Width in pixels after EXIF orientation (as displayed).
    pub width: u32,
    /// Height in pixels after EXIF orientation (as displayed).
    pub height: u32,
    /// EXIF orientation 1-8 (1 when absent).
    pub orientation: u8,
}

/// One encoded output.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub label: String,
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
    /// True when `bytes` are the source bytes (metadata segments removed), not a re-encode.
    pub reused_original: bool,
    /// Frames in `bytes`: 1 for a still, more for an animation kept animated.
    pub frames: u32,
}

/// The result of [`process`](super::process).
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    pub source: SourceInfo,
    /// One per target, in the plan's order.
    pub outputs: Vec<Output>,
    /// Things an operator should know about that did not stop processing
    /// (a truncated JPEG, a colour profile that could not be carried, ...).
    pub warnings: Vec<String>,
    /// Where the CPU time went (for the service's stage metrics; not part of the result).
    pub timings: StageTimings,
    /// Placeholders and perceptual hash, when asked for
    /// ([`process_summarised`](super::process_summarised)).
    pub summary: Option<super::Summary>,
    /// The first cover (cropped) output's own summary, when the job also made a fit-inside
    /// output (`summary` is then the whole image's): a thumbnail cut in the same job as the
    /// sizes gets its square's placeholder. `None` when `summary` already is the crop's.
    pub cover_summary: Option<super::Summary>,
}

/// Wall time of [`process`](super::process)'s stages, summed over the targets.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimings {
    pub decode: std::time::Duration,
    pub resize: std::time::Duration,
    pub encode: std::time::Duration,
}

/// Timings are measurements, not results: two equal results may take different times.
impl PartialEq for StageTimings {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}
