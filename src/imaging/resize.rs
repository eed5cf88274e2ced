//! Resampling through fast_image_resize (SIMD picked at run time). RGBA is resized
//! premultiplied, so transparent pixels never bleed their colour into opaque ones. An
//! image's own raster is premultiplied once, in place ([`premultiply_in_place`]), and
//! resized by a [`Resampler::premultiplied`]: otherwise the library premultiplies a copy of
//! the whole source for every output (a second 4-byte-per-pixel raster, measured 244 MiB on
//! a 64 MP RGBA PNG).
//! A [`Resampler`] is reused across one image's outputs so its scratch buffer is allocated
//! (and zeroed) once, not per output.

use std::sync::LazyLock;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{Filter, FilterType, MulDiv, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::pixels::Raster;
use super::resize_plane::resize_plane;
use super::{ImagingError, ResizeFilter};

/// A source window in source pixels: (left, top, width, height).
pub(crate) type Window = (f64, f64, f64, f64);

/// A resizer whose scratch buffer outlives one call.
#[derive(Default)]
pub(crate) struct Resampler {
    resizer: Resizer,
    /// The rasters it is given are premultiplied already; its outputs stay premultiplied.
    premultiplied: bool,
}

/// Multiplies an RGBA raster's colours by its alpha, in place. RGB is left as it is.
pub(crate) fn premultiply_in_place(raster: &mut Raster) -> Result<(), ImagingError> {
    with_rgba_view(raster, |view| {
        MulDiv::default().multiply_alpha_inplace(view)
    })
}

/// A straight-alpha copy of a premultiplied raster, for the encoder.
pub(crate) fn unpremultiplied(raster: &Raster) -> Result<Raster, ImagingError> {
    let mut straight = raster.clone();
    with_rgba_view(&mut straight, |view| {
        MulDiv::default().divide_alpha_inplace(view)
    })?;
    Ok(straight)
}

fn with_rgba_view<E: std::fmt::Display>(
    raster: &mut Raster,
    op: impl FnOnce(&mut Image<'_>) -> Result<(), E>,
) -> Result<(), ImagingError> {
    if !raster.has_alpha() {
        return Ok(());
    }
    let failed = |e: &dyn std::fmt::Display| ImagingError::Encode {
        format: "premultiplied",
        reason: e.to_string(),
    };
    let (w, h) = (raster.width, raster.height);
    let mut view =
        Image::from_slice_u8(w, h, &mut raster.data, PixelType::U8x4).map_err(|e| failed(&e))?;
    op(&mut view).map_err(|e| failed(&e))
}

impl Resampler {
    /// A resampler for rasters premultiplied by [`premultiply_in_place`].
    pub fn premultiplied() -> Self {
        Self {
            resizer: Resizer::new(),
            premultiplied: true,
        }
    }

    /// Resizes `src` (or the `window` of it) to exactly `width`×`height`.
    pub fn resize(
        &mut self,
        src: &Raster,
        window: Option<Window>,
        width: u32,
        height: u32,
        filter: ResizeFilter,
    ) -> Result<Raster, ImagingError> {
        let failed = |e: &dyn std::fmt::Display| ImagingError::Encode {
            format: "resized",
            reason: e.to_string(),
        };
        let (filter, support) = match filter {
            ResizeFilter::Lanczos3 => (FilterType::Custom(lanczos3_one_sine()), 3.0),
            ResizeFilter::CatmullRom => (FilterType::CatmullRom, 2.0),
            ResizeFilter::Mitchell => (FilterType::Mitchell, 2.0),
            ResizeFilter::Bilinear => (FilterType::Bilinear, 1.0),
            ResizeFilter::Box => (FilterType::Box, 0.5),
        };
        if src.channels == 1 {
            // A plane of `planes::Planes`.
            let whole = (0.0, 0.0, f64::from(src.width), f64::from(src.height));
            let window = window.unwrap_or(whole);
            return resize_plane(
                &mut self.resizer,
                src,
                window,
                (width, height),
                filter,
                support,
            )
            .map_err(|e| failed(&e));
        }
        let pixel_type = match src.channels {
            4 => PixelType::U8x4,
            _ => PixelType::U8x3,
        };
        let src_image =
            ImageRef::new(src.width, src.height, &src.data, pixel_type).map_err(|e| failed(&e))?;
        let mut dst = Image::new(width.max(1), height.max(1), pixel_type);
        let mut options = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(filter))
            .use_alpha(!self.premultiplied);
        if let Some((left, top, w, h)) = window {
            options = options.crop(left, top, w, h);
        }
        self.resizer
            .resize(&src_image, &mut dst, &options)
            .map_err(|e| failed(&e))?;
        Ok(Raster {
            width: dst.width(),
            height: dst.height(),
            channels: src.channels,
            data: dst.into_vec(),
        })
    }
}

/// Lanczos3 as fast_image_resize defines it (see [`lanczos3`]), read from a table.
fn lanczos3_one_sine() -> Filter {
    #[allow(clippy::expect_used)] // a constant, finite, positive support
    Filter::new("Lanczos3", lanczos3_from_table, 3.0).expect("support 3 is valid")
}

/// Samples of [`lanczos3`] per unit of `x` in [`LANCZOS3_TABLE`].
const LANCZOS3_STEPS_PER_UNIT: usize = 4096;

/// [`lanczos3`] at `i / LANCZOS3_STEPS_PER_UNIT` for `x` in [0, 3], and one zero past it.
static LANCZOS3_TABLE: LazyLock<Vec<f64>> = LazyLock::new(|| {
    (0..=3 * LANCZOS3_STEPS_PER_UNIT + 1)
        .map(|i| lanczos3(i as f64 / LANCZOS3_STEPS_PER_UNIT as f64))
        .collect()
});

/// [`lanczos3`] interpolated linearly between table samples (within 1e-7 of it, far below
/// the 1/16384 steps the library rounds weights to). Weights are computed per output pixel
/// and tap, and the sine was 5 % of a 2 MP job's CPU.
fn lanczos3_from_table(x: f64) -> f64 {
    let at = x.abs() * LANCZOS3_STEPS_PER_UNIT as f64;
    if at >= (3 * LANCZOS3_STEPS_PER_UNIT) as f64 {
        return 0.0;
    }
    let i = at as usize;
    let fraction = at - i as f64;
    let table = &*LANCZOS3_TABLE;
    table[i] + (table[i + 1] - table[i]) * fraction
}

/// `sinc(x)·sinc(x/3)` on (-3, 3) with one sine instead of two: sin(πx) = s(3 - 4s²) for
/// s = sin(πx/3).
fn lanczos3(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else if (-3.0..3.0).contains(&x) {
        let s = (std::f64::consts::FRAC_PI_3 * x).sin();
        let pi_x = std::f64::consts::PI * x;
        3.0 * s * s * (3.0 - 4.0 * s * s) / (pi_x * pi_x)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::{lanczos3, lanczos3_from_table};

    /// fast_image_resize's own definition, with two sines.
    fn lanczos3_reference(x: f64) -> f64 {
        let sinc = |x: f64| {
            if x == 0.0 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            }
        };
        if (-3.0..3.0).contains(&x) {
            sinc(x) * sinc(x / 3.0)
        } else {
            0.0
        }
    }

    #[test]
    fn one_sine_lanczos3_equals_the_two_sine_definition() {
        for i in -400..=400 {
            let x = f64::from(i) / 100.0;
            let (got, want) = (lanczos3(x), lanczos3_reference(x));
            assert!((got - want).abs() < 1e-12, "x = {x}: {got} vs {want}");
        }
    }

    #[test]
    fn the_lanczos3_table_is_within_a_ten_millionth_of_the_function_everywhere() {
        for i in -30_011..=30_011 {
            let x = f64::from(i) / 10_000.3;
            let (got, want) = (lanczos3_from_table(x), lanczos3(x));
            assert!((got - want).abs() < 1e-7, "x = {x}: {got} vs {want}");
        }
        assert_eq!(lanczos3_from_table(3.0), 0.0);
        assert_eq!(lanczos3_from_table(-7.5), 0.0);
    }
}
