//! AVIF output through ravif (rav1e, pure Rust with nasm assembly), single-threaded: the
//! service already runs one job per core, so encoder threads would only contend. Must not
//! decide when AVIF is wanted; [`encode_avif`] only encodes.

use super::pixels::Raster;

/// The rav1e speed preset used unless a plan asks otherwise: 10 is the fastest. Measured on
/// this machine (dependencies.md) at ~0.74 s for one 1440x1080 frame; slower presets cost
/// 5-7x more CPU for ~10% smaller files, which the one-second budget per photo cannot pay.
pub const DEFAULT_AVIF_SPEED: u8 = 10;

/// Encodes `raster` (upright, straight alpha when RGBA) as AVIF at `quality` (1-100) and
/// `speed` (1-10). A fully opaque RGBA raster is written without an alpha plane.
pub(crate) fn encode_avif(raster: &Raster, quality: f32, speed: u8) -> Result<Vec<u8>, String> {
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
    encoded.map(|e| e.avif_file).map_err(|e| e.to_string())
}
