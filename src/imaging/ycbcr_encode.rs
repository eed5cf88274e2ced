//! JPEG from [`Planes`] through libjpeg's raw-data interface (`jpeg_write_raw_data`, the
//! `mozjpeg` crate's safe wrapper): 4:2:0 planes go in as they are, with no colour
//! conversion and no downsampling; grey planes make a grey JPEG. The settings, quality,
//! progression and carried metadata are the RGB encoder's (`encode`). Must not resize.

use mozjpeg::{ColorSpace, CompInfoExt};

use super::encode::{Carry, jpeg_compressor, with_carried};
use super::libjpeg;
use super::pixels::Raster;
use super::planes::Planes;
use super::{EncodeOptions, ImageFormat, ImagingError};

/// Encodes upright, final-size `planes` (4:2:0 chroma, or grey) as a JPEG.
pub(crate) fn encode_jpeg_planes(
    planes: &Planes,
    options: &EncodeOptions,
    carry: Carry<'_>,
) -> Result<Vec<u8>, ImagingError> {
    let fail = |e: &dyn std::fmt::Display| ImagingError::encode(ImageFormat::Jpeg, e);
    let (jpeg, _warnings) = libjpeg::guarded(|errors| {
        let input = match planes.chroma {
            Some(_) => ColorSpace::JCS_YCbCr,
            None => ColorSpace::JCS_GRAYSCALE,
        };
        let mut jpeg = jpeg_compressor(errors, input, &planes.y, options);
        if planes.chroma.is_some() {
            jpeg.set_chroma_sampling_pixel_sizes((2, 2), (2, 2));
        }
        jpeg.set_raw_data_in(true);
        let capacity = planes.y.data.len() / 4;
        let mut started = jpeg.start_compress(Vec::with_capacity(capacity))?;
        let sources: Vec<&Raster> = match &planes.chroma {
            Some([cb, cr]) => vec![&planes.y, cb, cr],
            None => vec![&planes.y],
        };
        // libjpeg reads whole 8x8 blocks: each plane padded to its blocks, edges repeated.
        let padded: Vec<Vec<u8>> = started
            .components()
            .iter()
            .zip(sources)
            .map(|(c, plane)| padded(plane, c.row_stride(), c.col_stride()))
            .collect();
        let rows: Vec<&[u8]> = padded.iter().map(Vec::as_slice).collect();
        if !started.write_raw_data(&rows) {
            return Err(std::io::Error::other("libjpeg took no raw rows"));
        }
        started.finish()
    })
    .map_err(|e| fail(&e))?;
    Ok(with_carried(jpeg.map_err(|e| fail(&e))?, carry))
}

/// `plane` in a `stride`×`rows` buffer, its last column and row repeated into the padding.
fn padded(plane: &Raster, stride: usize, rows: usize) -> Vec<u8> {
    let (w, h) = (plane.width as usize, plane.height as usize);
    let mut out = Vec::with_capacity(stride * rows);
    for line in plane.data.chunks_exact(w.max(1)).take(h) {
        out.extend_from_slice(line);
        out.resize(out.len() + stride.saturating_sub(w), line[w - 1]);
    }
    let last = out.len().saturating_sub(stride);
    while out.len() < stride * rows {
        out.extend_from_within(last..last + stride);
    }
    out
}
