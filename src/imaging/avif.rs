//! AVIF output through ravif (rav1e, pure Rust with nasm assembly), single-threaded: the
//! service already runs one job per core, so encoder threads would only contend. Must not
//! decide when AVIF is wanted; [`encode_avif`] only encodes. An AVIF that cannot be made
//! costs that one output, never the job: its error (a rav1e panic included) becomes a
//! warning naming the output ([`not_written`], called by `plan`).

use super::ImagingError;
use super::pixels::Raster;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The rav1e speed preset used unless a plan asks otherwise: 10 is the fastest. Measured on
/// this machine (dependencies.md) at ~0.74 s for one 1440x1080 frame; slower presets cost
/// 5-7x more CPU for ~10% smaller files, which the one-second budget per photo cannot pay.
pub const DEFAULT_AVIF_SPEED: u8 = 10;

/// Encodes `raster` (upright, straight alpha when RGBA) as AVIF at `quality` (1-100) and
/// `speed` (1-10). A fully opaque RGBA raster is written without an alpha plane. A panic
/// inside the encoder is returned as an error: it concerns this output only.
pub(crate) fn encode_avif(raster: &Raster, quality: f32, speed: u8) -> Result<Vec<u8>, String> {
    let (w, h) = (raster.width, raster.height);
    match catch_unwind(AssertUnwindSafe(|| encode(raster, quality, speed))) {
        Ok(encoded) => encoded.map_err(|e| format!("{e} ({w}x{h})")),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(format!(
                "the AVIF encoder crashed on a {w}x{h} image: {what}"
            ))
        }
    }
}

/// The warning for an AVIF output (target `label`) that could not be encoded.
pub(crate) fn not_written(label: &str, error: &ImagingError) -> String {
    format!("{label}: no AVIF was written for this size ({error}); its other formats were")
}

fn encode(raster: &Raster, quality: f32, speed: u8) -> Result<Vec<u8>, ravif::Error> {
    #[cfg(test)]
    tests::fail_if_asked(raster.width);
    let encoder = ravif::Encoder::new()
        .with_quality(quality.clamp(1.0, 100.0))
        .with_alpha_quality(quality.clamp(1.0, 100.0))
        .with_speed(speed.clamp(1, 10))
        .with_num_threads(Some(1))
        .with_alpha_color_mode(ravif::AlphaColorMode::UnassociatedClean);
    let (w, h) = (raster.width as usize, raster.height as usize);
    let encoded = if raster.has_alpha() {
        let pixels: Vec<ravif::RGBA8> = raster
            .data
            .chunks_exact(4)
            .map(|p| ravif::RGBA8::new(p[0], p[1], p[2], p[3]))
            .collect();
        encoder.encode_rgba(ravif::Img::new(pixels.as_slice(), w, h))
    } else {
        let pixels: Vec<ravif::RGB8> = raster
            .data
            .chunks_exact(3)
            .map(|p| ravif::RGB8::new(p[0], p[1], p[2]))
            .collect();
        encoder.encode_rgb(ravif::Img::new(pixels.as_slice(), w, h))
    };
    encoded.map(|e| e.avif_file)
}

/// The test seam: within the service's limits rav1e refuses no input (1x1, 65535x1,
/// 1x65535 and 65535x16 all encode), so what can really go wrong is a crash inside it.
/// [`fail_at_width`] makes the encoder panic, as a rav1e bug would, for outputs of one
/// width on this thread; `encode_avif` must turn that into an error.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        static FAIL_AT_WIDTH: Cell<Option<u32>> = const { Cell::new(None) };
    }

    /// Makes the AVIF encoder crash for outputs `width` wide on this thread (`None`: never).
    pub(crate) fn fail_at_width(width: Option<u32>) {
        FAIL_AT_WIDTH.with(|w| w.set(width));
    }

    pub(super) fn fail_if_asked(width: u32) {
        if FAIL_AT_WIDTH.with(Cell::get) == Some(width) {
            panic!("induced rav1e crash at width {width}");
        }
    }

    #[test]
    fn a_crash_inside_the_encoder_is_an_error_for_that_image_only() {
        let raster = |width| Raster {
            width,
            height: 16,
            channels: 3,
            data: vec![90; width as usize * 16 * 3],
        };
        fail_at_width(Some(24));

        let crashed = encode_avif(&raster(24), 70.0, 10);
        let fine = encode_avif(&raster(16), 70.0, 10);
        fail_at_width(None);

        let error = crashed.expect_err("the induced crash");
        assert!(error.contains("crashed on a 24x16 image"), "{error}");
        assert!(fine.is_ok_and(|bytes| &bytes[4..12] == b"ftypavif"));
    }
}
