//! PLACEHOLDER: replaced by the imaging branch (pure CPU image engine). Same API, no work.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    WebP,
    Gif,
    Bmp,
    Tiff,
}
impl ImageFormat {
    pub fn as_str(self) -> &'static str {
        "jpeg"
    }
    pub fn content_type(self) -> &'static str {
        "image/jpeg"
    }
}
pub fn sniff(_bytes: &[u8]) -> Option<ImageFormat> {
    None
}
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_input_bytes: u64,
    pub max_width: u32,
    pub max_height: u32,
    pub max_pixels: u64,
    pub max_frames: u32,
}
#[derive(Debug, Clone, Copy)]
pub enum Anchor {
    Centre,
    Smart,
}
#[derive(Debug, Clone, Copy)]
pub enum Fit {
    Inside,
    Cover { anchor: Anchor },
}
#[derive(Debug, Clone, Copy)]
pub enum OutputFormat {
    Original,
    Jpeg,
    Png,
    WebP,
    WebPLossless,
}
#[derive(Debug, Clone, Copy)]
pub enum ResizeFilter {
    Lanczos3,
    CatmullRom,
    Mitchell,
    Bilinear,
    Box,
}
#[derive(Debug, Clone)]
pub struct Target {
    pub label: String,
    pub width: u32,
    pub height: u32,
    pub fit: Fit,
    pub format: OutputFormat,
}
#[derive(Debug, Clone)]
pub struct EncodeOptions {
    pub jpeg_quality: u8,
    pub jpeg_progressive: bool,
    pub webp_quality: f32,
    pub background_rgb: [u8; 3],
    pub keep_copyright: bool,
    pub filter: ResizeFilter,
}
#[derive(Debug, Clone)]
pub struct Plan {
    pub limits: Limits,
    pub encode: EncodeOptions,
    pub targets: Vec<Target>,
}
#[derive(Debug, Clone)]
pub struct SourceInfo {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub orientation: u8,
}
#[derive(Debug, Clone)]
pub struct Output {
    pub label: String,
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
    pub reused_original: bool,
}
#[derive(Debug, Clone)]
pub struct Processed {
    pub source: SourceInfo,
    pub outputs: Vec<Output>,
    pub warnings: Vec<String>,
}
#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    #[error("not an image")]
    NotAnImage,
}
impl ImagingError {
    pub fn is_not_an_image(&self) -> bool {
        true
    }
}
pub fn process(_input: &[u8], _plan: &Plan) -> Result<Processed, ImagingError> {
    Err(ImagingError::NotAnImage)
}
pub fn blur(_input: &[u8], _sigma: f32, _encode: &EncodeOptions) -> Result<Output, ImagingError> {
    Err(ImagingError::NotAnImage)
}
pub mod bench {
    pub fn run(_i: &std::path::Path, _o: &std::path::Path, _n: u32) -> anyhow::Result<String> {
        anyhow::bail!("not built")
    }
}
