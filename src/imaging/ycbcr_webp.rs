//! Lossy WebP from [`Planes`] through libwebp's YUV picture (`use_argb = 0`): 4:2:0 planes
//! go in as they are, mapped by a table from JPEG's full-range YCbCr to the limited range
//! VP8 codes (Y 16-235, chroma 16-240, both BT.601, as libwebp's own RGB import makes
//! them), so a photo never becomes RGB on its way to WebP either. The settings are the RGB
//! encoder's (`encode::encode_webp`: libwebp's defaults at the plan's quality). Must not
//! resize.

#![allow(unsafe_code)] // libwebp's C API: the picture's planes, the encoder, its memory writer

use std::ffi::c_void;
use std::mem::MaybeUninit;

use libwebp_sys::{
    WebPConfig, WebPEncCSP, WebPEncode, WebPMemoryWrite, WebPMemoryWriter, WebPMemoryWriterClear,
    WebPMemoryWriterInit, WebPPicture, WebPPictureAlloc, WebPPictureFree, WebPValidateConfig,
};

use super::pixels::Raster;
use super::planes::Planes;
use super::{ImageFormat, ImagingError};

/// Encodes upright, final-size `planes` (4:2:0 chroma, or grey) as a lossy WebP.
pub(crate) fn encode_webp_planes(planes: &Planes, quality: f32) -> Result<Vec<u8>, ImagingError> {
    let fail = |e: &dyn std::fmt::Display| ImagingError::encode(ImageFormat::WebP, e);
    if planes.chroma.is_some() && planes.chroma_ratio != (0.5, 0.5) {
        return Err(fail(&"the planes are not 4:2:0"));
    }
    let mut config = WebPConfig::new().map_err(|()| fail(&"no default configuration"))?;
    config.lossless = 0;
    config.alpha_compression = 1;
    config.quality = quality.clamp(0.0, 100.0);
    let mut picture = Picture::new(planes.width(), planes.height()).map_err(|e| fail(&e))?;
    picture.fill(planes);
    picture.encode(&config).map_err(|e| fail(&e))
}

/// A libwebp picture with its own YUV planes, freed on drop.
struct Picture(WebPPicture);

impl Picture {
    fn new(width: u32, height: u32) -> Result<Self, String> {
        let mut picture = WebPPicture::new().map_err(|()| "libwebp's ABI does not match")?;
        picture.use_argb = 0;
        picture.colorspace = WebPEncCSP::WEBP_YUV420;
        picture.width = i32::try_from(width).map_err(|e| e.to_string())?;
        picture.height = i32::try_from(height).map_err(|e| e.to_string())?;
        // SAFETY: an initialised picture of a set size; libwebp allocates its planes (and
        // frees them in `WebPPictureFree`, called on drop once this wrapper owns them).
        if unsafe { WebPPictureAlloc(&mut picture) } == 0 {
            return Err(format!("no memory for a {width}x{height} picture"));
        }
        Ok(Self(picture))
    }

    /// Plane `index` (Y, U, V) of the picture as a slice of whole rows.
    fn plane_mut(&mut self, index: usize) -> &mut [u8] {
        let p = &self.0;
        let (rows, chroma_rows) = (p.height as usize, (p.height as usize).div_ceil(2));
        let (pointer, stride, rows) = match index {
            0 => (p.y, p.y_stride, rows),
            1 => (p.u, p.uv_stride, chroma_rows),
            _ => (p.v, p.uv_stride, chroma_rows),
        };
        let len = usize::try_from(stride).unwrap_or(0) * rows;
        // SAFETY: `WebPPictureAlloc` gave each plane `stride` bytes for each of its rows;
        // the slice borrows the picture, which owns them until it drops.
        unsafe { std::slice::from_raw_parts_mut(pointer, len) }
    }

    /// Copies `planes` in, mapped to VP8's limited range; grey gets neutral chroma.
    fn fill(&mut self, planes: &Planes) {
        let (width, height) = (planes.width() as usize, planes.height() as usize);
        let chroma_size = (width.div_ceil(2), height.div_ceil(2));
        let (y_stride, uv_stride) = (self.0.y_stride as usize, self.0.uv_stride as usize);
        copy_mapped(
            &planes.y,
            self.plane_mut(0),
            y_stride,
            (width, height),
            &LUMA,
        );
        for index in 1..=2 {
            let target = self.plane_mut(index);
            match &planes.chroma {
                Some(chroma) => {
                    copy_mapped(&chroma[index - 1], target, uv_stride, chroma_size, &CHROMA);
                }
                None => target.fill(128),
            }
        }
    }

    fn encode(&mut self, config: &WebPConfig) -> Result<Vec<u8>, String> {
        let mut writer = MaybeUninit::<WebPMemoryWriter>::uninit();
        // SAFETY: the writer is initialised before use and cleared after the copy; the
        // picture and config are valid (`WebPValidateConfig` checks the latter).
        unsafe {
            if WebPValidateConfig(config) == 0 {
                return Err("libwebp refused the configuration".into());
            }
            WebPMemoryWriterInit(writer.as_mut_ptr());
            let mut writer = writer.assume_init();
            self.0.writer = Some(WebPMemoryWrite);
            self.0.custom_ptr = (&mut writer as *mut WebPMemoryWriter).cast::<c_void>();
            let encoded = WebPEncode(config, &mut self.0);
            let result = match encoded {
                0 => Err(format!("libwebp failed: {:?}", self.0.error_code)),
                _ if writer.mem.is_null() => Err("libwebp wrote nothing".into()),
                _ => Ok(std::slice::from_raw_parts(writer.mem, writer.size).to_vec()),
            };
            self.0.custom_ptr = std::ptr::null_mut();
            WebPMemoryWriterClear(&mut writer);
            result
        }
    }
}

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: the picture's planes were allocated by `WebPPictureAlloc`.
        unsafe { WebPPictureFree(&mut self.0) };
    }
}

/// `size` of `source` into `target` rows of `stride` bytes through `table`, repeating the
/// last column and row where `source` is smaller (it never is for 4:2:0 outputs).
fn copy_mapped(
    source: &Raster,
    target: &mut [u8],
    stride: usize,
    (width, height): (usize, usize),
    table: &[u8; 256],
) {
    let (source_width, source_height) = (source.width as usize, source.height as usize);
    for (row, line) in target.chunks_exact_mut(stride).take(height).enumerate() {
        let from = row.min(source_height.saturating_sub(1)) * source_width;
        let source_line = &source.data[from..from + source_width];
        for (col, value) in line[..width].iter_mut().enumerate() {
            *value = table[usize::from(source_line[col.min(source_width - 1)])];
        }
    }
}

/// Full-range luma 0-255 to VP8's 16-235.
static LUMA: [u8; 256] = range_table(219, 16);
/// Full-range chroma (128 neutral) to VP8's 16-240.
static CHROMA: [u8; 256] = range_table(224, 16);

/// `v` scaled by `span`/255 and offset by `low`, rounded: the BT.601 studio range.
const fn range_table(span: u32, low: u32) -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut v = 0;
    while v < 256 {
        table[v] = (low + (v as u32 * span + 127) / 255) as u8;
        v += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::{CHROMA, LUMA};

    #[test]
    fn the_range_tables_map_black_white_and_neutral_chroma_to_vp8_s_codes() {
        assert_eq!((LUMA[0], LUMA[255]), (16, 235));
        assert_eq!((CHROMA[0], CHROMA[128], CHROMA[255]), (16, 128, 240));
    }
}
