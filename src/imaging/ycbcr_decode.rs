//! JPEG to [`Planes`] through libjpeg's raw-data interface (`jpeg_read_raw_data`): the
//! planes as stored, at the DCT scale the plan picked, with no upsampling and no colour
//! conversion. Same error manager, scan limit and damage warnings as `decode` (through
//! `libjpeg::guarded`). Must not resize or encode.
//!
//! The `mozjpeg` crate's raw reader assumes unscaled 8x8 blocks (it panics on a scaled
//! decode), so this module drives libjpeg itself: its unsafe is the object's life
//! (create, destroy on every exit including an unwinding error) and the row pointers of
//! one iMCU row, each into a buffer sized for unscaled blocks, which any scale fits.
#![allow(unsafe_code)]

use std::os::raw::c_ulong;

use mozjpeg_sys::{
    DCTSIZE, J_COLOR_SPACE, jpeg_component_info, jpeg_create_decompress, jpeg_decompress_struct,
    jpeg_destroy_decompress, jpeg_error_mgr, jpeg_finish_decompress, jpeg_mem_src,
    jpeg_read_header, jpeg_read_raw_data, jpeg_start_decompress,
};

use super::decode::{check_declared_size, damage_warning};
use super::header::Header;
use super::libjpeg;
use super::pixels::Raster;
use super::planes::Planes;
use super::{ImageFormat, ImagingError};

/// A JPEG decoded to planes, and what was learnt while decoding it.
#[derive(Debug)]
pub(crate) struct DecodedPlanes {
    pub planes: Planes,
    pub warnings: Vec<String>,
}

/// The DCT size libjpeg gives a component at a scaled decode: chroma is scaled up through
/// the IDCT rather than upsampled where the sampling allows (`jpeg_calc_output_dimensions`
/// in jdmaster.c, transcribed), so at 4/8 a 4:2:0 file's chroma is as large as its luma.
pub(crate) fn component_dct_size(
    (h, v): (u32, u32),
    (max_h, max_v): (u32, u32),
    eighths: u32,
) -> u32 {
    let mut size = eighths;
    while size < 8
        && (max_h * eighths).is_multiple_of(h * size * 2)
        && (max_v * eighths).is_multiple_of(v * size * 2)
    {
        size *= 2;
    }
    size
}

/// A component's plane size at a decode of `eighths` (libjpeg's `downsampled_width` and
/// `downsampled_height`).
pub(crate) fn plane_size(
    (w, h): (u32, u32),
    sampling: (u32, u32),
    max: (u32, u32),
    eighths: u32,
) -> (u32, u32) {
    let size = u64::from(component_dct_size(sampling, max, eighths));
    let side = |n: u32, s: u32, m: u32| {
        (u64::from(n) * u64::from(s) * size).div_ceil(u64::from(m) * 8) as u32
    };
    (side(w, sampling.0, max.0), side(h, sampling.1, max.1))
}

/// The sampling factors the raw path handles: grey, or luma at 1 or 2 per axis over chroma
/// at 1 (4:4:4, 4:2:2, 4:4:0, 4:2:0).
pub(crate) fn sampling_supported(factors: &[(u32, u32)]) -> bool {
    matches!(factors, [(1..=4, 1..=4)] | [(1..=2, 1..=2), (1, 1), (1, 1)])
}

/// Decodes `input` to planes at `eighths`/8, or `None` when libjpeg does not see a YCbCr
/// or grey image with a supported sampling (the caller decodes to RGB instead).
pub(crate) fn decode_planes(
    input: &[u8],
    header: &Header,
    eighths: u8,
) -> Result<Option<DecodedPlanes>, ImagingError> {
    let eighths = u32::from(eighths.clamp(1, 8));
    let (planes, report) = libjpeg::guarded(|errors| read(input, header, eighths, errors))
        .map_err(|reason| ImagingError::corrupt(ImageFormat::Jpeg, reason))?;
    Ok(planes?.map(|planes| DecodedPlanes {
        planes,
        warnings: damage_warning(&report).into_iter().collect(),
    }))
}

/// A libjpeg decompressor and the error manager it points at, destroyed on every exit.
struct Decompressor {
    cinfo: Box<jpeg_decompress_struct>,
    _errors: Box<jpeg_error_mgr>,
}

impl Decompressor {
    fn new(errors: jpeg_error_mgr, input: &[u8]) -> Self {
        let mut errors = Box::new(errors);
        // SAFETY: all zeroes is the state libjpeg expects before jpeg_create_decompress
        // (C data: integers, raw pointers, optional function pointers).
        let mut cinfo: Box<jpeg_decompress_struct> = Box::new(unsafe { std::mem::zeroed() });
        cinfo.common.err = &mut *errors;
        // SAFETY: the struct and the manager are boxed (they never move) and the manager
        // outlives the struct (destroyed first, in `drop`). `input` outlives the object:
        // it is borrowed for the whole of `read`, which owns the decompressor.
        unsafe {
            jpeg_create_decompress(&mut *cinfo);
            jpeg_mem_src(&mut cinfo, input.as_ptr(), input.len() as c_ulong);
        }
        Decompressor {
            cinfo,
            _errors: errors,
        }
    }

    fn components(&self) -> &[jpeg_component_info] {
        let n = usize::try_from(self.cinfo.num_components).unwrap_or(0);
        if self.cinfo.comp_info.is_null() {
            return &[];
        }
        // SAFETY: after jpeg_read_header, comp_info points at num_components entries that
        // libjpeg keeps until the object is destroyed.
        unsafe { std::slice::from_raw_parts(self.cinfo.comp_info, n) }
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: created in `new`; destroying is valid in every state, also after an error.
        unsafe { jpeg_destroy_decompress(&mut self.cinfo) };
    }
}

/// One component being read: its iMCU-row buffer and the plane it fills.
struct Component {
    /// Rows of one iMCU row, each `stride` bytes (room for unscaled blocks).
    buffer: Vec<u8>,
    stride: usize,
    /// Rows libjpeg writes per iMCU row at this scale.
    rows: usize,
    plane: Raster,
}

fn read(
    input: &[u8],
    header: &Header,
    eighths: u32,
    errors: jpeg_error_mgr,
) -> Result<Option<Planes>, ImagingError> {
    let mut jpeg = Decompressor::new(errors, input);
    // SAFETY: a created object with a source; errors unwind through `guarded`.
    unsafe { jpeg_read_header(&mut jpeg.cinfo, 1) };
    let (w, h) = (jpeg.cinfo.image_width, jpeg.cinfo.image_height);
    check_declared_size((w as usize, h as usize), header)?;
    let factors: Vec<(u32, u32)> = jpeg
        .components()
        .iter()
        .map(|c| (c.h_samp_factor as u32, c.v_samp_factor as u32))
        .collect();
    let colour = jpeg.cinfo.jpeg_color_space;
    let planar = matches!(
        (colour, factors.len()),
        (J_COLOR_SPACE::JCS_YCbCr, 3) | (J_COLOR_SPACE::JCS_GRAYSCALE, 1)
    );
    if !planar || !sampling_supported(&factors) {
        return Ok(None);
    }
    jpeg.cinfo.scale_num = eighths;
    jpeg.cinfo.scale_denom = 8;
    jpeg.cinfo.raw_data_out = 1;
    // SAFETY: as above; the header has been read.
    unsafe { jpeg_start_decompress(&mut jpeg.cinfo) };
    let max = (
        jpeg.cinfo.max_h_samp_factor as u32,
        jpeg.cinfo.max_v_samp_factor as u32,
    );
    let mut components: Vec<Component> = jpeg
        .components()
        .iter()
        .zip(&factors)
        .map(|(c, &sampling)| Component::new(c, sampling, max, eighths, (w, h)))
        .collect();
    while jpeg.cinfo.output_scanline < jpeg.cinfo.output_height {
        if read_imcu_row(&mut jpeg, &mut components) == 0 {
            break; // a memory source never suspends; never loop on nothing
        }
        for c in &mut components {
            let (pw, ph) = (c.plane.width as usize, c.plane.height as usize);
            let left = ph - c.plane.data.len() / pw.max(1);
            for row in c.buffer.chunks_exact(c.stride).take(c.rows.min(left)) {
                c.plane.data.extend_from_slice(&row[..pw]);
            }
        }
    }
    // SAFETY: as above; every scanline was read (or libjpeg warned and filled them).
    unsafe { jpeg_finish_decompress(&mut jpeg.cinfo) };
    let scale = f64::from(eighths) / 8.0;
    let extent = (f64::from(w) * scale, f64::from(h) * scale);
    let ratio = chroma_ratio(&factors, max, eighths);
    Ok(Some(into_planes(components, extent, ratio)))
}

impl Component {
    /// The buffers for component `c` of an image of `size` decoded at `eighths`.
    fn new(
        c: &jpeg_component_info,
        sampling: (u32, u32),
        max: (u32, u32),
        eighths: u32,
        size: (u32, u32),
    ) -> Self {
        let (pw, ph) = plane_size(size, sampling, max, eighths);
        let stride = (c.width_in_blocks as usize).next_multiple_of(sampling.0 as usize) * DCTSIZE;
        Component {
            buffer: vec![0u8; stride * sampling.1 as usize * DCTSIZE],
            stride,
            rows: (sampling.1 * component_dct_size(sampling, max, eighths)) as usize,
            plane: Raster {
                width: pw,
                height: ph,
                channels: 1,
                data: Vec::with_capacity(pw as usize * ph as usize),
            },
        }
    }
}

/// Chroma pixels per luma pixel per axis: sampling times DCT size, chroma over luma.
fn chroma_ratio(factors: &[(u32, u32)], max: (u32, u32), eighths: u32) -> (f64, f64) {
    let grid = |f: (u32, u32)| {
        let size = component_dct_size(f, max, eighths);
        (f64::from(f.0 * size), f64::from(f.1 * size))
    };
    match factors {
        [luma, chroma, _] => {
            let (l, c) = (grid(*luma), grid(*chroma));
            (c.0 / l.0, c.1 / l.1)
        }
        _ => (1.0, 1.0),
    }
}

/// Reads one iMCU row into the components' buffers; returns libjpeg's row count.
fn read_imcu_row(jpeg: &mut Decompressor, components: &mut [Component]) -> u32 {
    // Row pointers for up to 4 components of up to 4·8 rows (sampling factors are 1-4).
    let mut rows = [[std::ptr::null_mut::<u8>(); 4 * DCTSIZE]; 4];
    let mut per_component = [std::ptr::null_mut::<*mut u8>(); 4];
    for ((c, rows), first) in components.iter_mut().zip(&mut rows).zip(&mut per_component) {
        for (pointer, row) in rows.iter_mut().zip(c.buffer.chunks_exact_mut(c.stride)) {
            *pointer = row.as_mut_ptr();
        }
        *first = rows.as_mut_ptr();
    }
    let max_lines = jpeg.cinfo.max_v_samp_factor as u32 * DCTSIZE as u32;
    // SAFETY: each component gets v_samp·8 row pointers of `stride` bytes, which is
    // what libjpeg writes at most (v_samp·DCT_scaled_size rows of width_in_blocks·
    // DCT_scaled_size samples, DCT_scaled_size ≤ 8); the buffers outlive the call.
    unsafe { jpeg_read_raw_data(&mut jpeg.cinfo, per_component.as_mut_ptr(), max_lines) }
}

/// The planes of a finished decode: luma, then Cb and Cr.
fn into_planes(components: Vec<Component>, extent: (f64, f64), chroma_ratio: (f64, f64)) -> Planes {
    let mut planes = components.into_iter().map(|c| c.plane);
    let y = planes.next().unwrap_or(Raster {
        width: 0,
        height: 0,
        channels: 1,
        data: Vec::new(),
    });
    let chroma = match (planes.next(), planes.next()) {
        (Some(cb), Some(cr)) => Some([cb, cr]),
        _ => None,
    };
    Planes {
        y,
        chroma,
        extent,
        chroma_ratio,
        chroma_origin: (0.0, 0.0),
    }
}
