//! Animated encoders for `animation.rs`: GIF through the `gif` crate (each frame written
//! whole as it arrives, its own NeuQuant palette, restore-to-background disposal so a
//! transparent pixel never shows the frame before) and WebP through libwebp's animation
//! encoder (the `webp` crate's `AnimEncoder`, which takes every frame at once, so a WebP
//! output keeps its frames until the end). Frames come resized, upright, straight RGBA.
//! Must not resize or decode.

use image::metadata::LoopCount;

use super::animation::Animated;
use super::container;
use super::pixels::Raster;
use super::{EncodeOptions, ImageFormat, ImagingError, Output};

/// NeuQuant's sampling factor (1 best .. 30 fastest): 10 is the `gif` crate's suggestion
/// for a good palette at a tenth of the best setting's time.
const GIF_QUANTISER_SPEED: i32 = 10;

/// GIF has one bit of alpha: a resized edge at least this opaque is drawn, else left out.
const GIF_ALPHA_THRESHOLD: u8 = 128;

/// One animated output being written.
pub(crate) struct Sink {
    kind: Animated,
    loops: LoopCount,
    webp_quality: f32,
    /// Display size, from the first frame.
    size: Option<(u32, u32)>,
    gif: Option<gif::Encoder<Vec<u8>>>,
    /// WebP: every frame and when it starts (ms), until `finish`.
    kept: Vec<(Raster, u64)>,
    frames: u32,
    elapsed_ms: u64,
    /// Some frame has a pixel that is not fully opaque.
    transparent: bool,
}

impl Sink {
    pub fn new(kind: Animated, loops: LoopCount, options: &EncodeOptions) -> Self {
        Self {
            kind,
            loops,
            webp_quality: options.webp_quality.clamp(0.0, 100.0),
            size: None,
            gif: None,
            kept: Vec::new(),
            frames: 0,
            elapsed_ms: 0,
            transparent: false,
        }
    }

    fn fail(&self, reason: impl std::fmt::Display) -> ImagingError {
        ImagingError::encode(self.kind.format(), reason)
    }

    /// Adds the next frame, shown for `delay_ms`.
    pub fn push(&mut self, frame: &Raster, delay_ms: u32) -> Result<(), ImagingError> {
        let size = *self.size.get_or_insert((frame.width, frame.height));
        if size != (frame.width, frame.height) || frame.channels != 4 {
            return Err(self.fail("frames of one animation differ in size or layout"));
        }
        match self.kind {
            Animated::Gif => self.push_gif(frame, delay_ms)?,
            Animated::WebP { .. } => {
                self.transparent = self.transparent || !frame.is_opaque();
                self.kept.push((frame.clone(), self.elapsed_ms));
            }
        }
        self.frames += 1;
        self.elapsed_ms += u64::from(delay_ms);
        Ok(())
    }

    fn push_gif(&mut self, frame: &Raster, delay_ms: u32) -> Result<(), ImagingError> {
        let (Ok(w), Ok(h)) = (u16::try_from(frame.width), u16::try_from(frame.height)) else {
            return Err(self.fail("GIF frames are at most 65535 pixels a side"));
        };
        if self.gif.is_none() {
            let mut encoder = gif::Encoder::new(Vec::new(), w, h, &[]).map_err(|e| self.fail(e))?;
            let repeat = match self.loops {
                LoopCount::Infinite => gif::Repeat::Infinite,
                LoopCount::Finite(n) => gif::Repeat::Finite(u16::try_from(n.get()).unwrap_or(0)),
            };
            encoder.set_repeat(repeat).map_err(|e| self.fail(e))?;
            self.gif = Some(encoder);
        }
        let mut pixels = frame.data.clone();
        for pixel in pixels.chunks_exact_mut(4) {
            if pixel[3] < GIF_ALPHA_THRESHOLD {
                pixel[3] = 0;
            }
        }
        let mut gif_frame = gif::Frame::from_rgba_speed(w, h, &mut pixels, GIF_QUANTISER_SPEED);
        // GIF counts in hundredths of a second.
        gif_frame.delay = u16::try_from(delay_ms.div_ceil(10)).unwrap_or(u16::MAX);
        gif_frame.dispose = gif::DisposalMethod::Background;
        let written = match self.gif.as_mut() {
            Some(encoder) => encoder.write_frame(&gif_frame).map_err(|e| e.to_string()),
            None => Err("no encoder".to_owned()),
        };
        written.map_err(|e| self.fail(e))
    }

    /// The encoded animation as `label`'s output.
    pub fn finish(self, label: String) -> Result<Output, ImagingError> {
        let (width, height) = self.size.unwrap_or_default();
        let bytes = match self.kind {
            Animated::Gif => match self.gif {
                Some(encoder) => encoder
                    .into_inner()
                    .map_err(|e| ImagingError::encode(ImageFormat::Gif, e))?,
                None => return Err(ImagingError::encode(ImageFormat::Gif, "no frames")),
            },
            Animated::WebP { lossless } => self.encode_webp(width, height, lossless)?,
        };
        Ok(Output {
            label,
            bytes,
            width,
            height,
            format: self.kind.format(),
            reused_original: false,
            frames: self.frames,
        })
    }

    fn encode_webp(
        &self,
        width: u32,
        height: u32,
        lossless: bool,
    ) -> Result<Vec<u8>, ImagingError> {
        if self.kept.is_empty() {
            return Err(self.fail("the animation has no frames"));
        }
        let mut config =
            webp::WebPConfig::new().map_err(|()| self.fail("libwebp refused its defaults"))?;
        config.lossless = i32::from(lossless);
        config.alpha_compression = i32::from(!lossless);
        config.quality = self.webp_quality;
        let mut encoder = webp::AnimEncoder::new(width, height, &config);
        encoder.set_bgcolor([0, 0, 0, 0]);
        // WebP: 0 loops forever; otherwise how many times it plays.
        encoder.set_loop_count(match self.loops {
            LoopCount::Infinite => 0,
            LoopCount::Finite(n) => i32::try_from(n.get()).unwrap_or(0),
        });
        for (frame, start_ms) in &self.kept {
            let Ok(start_ms) = i32::try_from(*start_ms) else {
                return Err(self.fail("the animation is longer than 24 days"));
            };
            encoder.add_frame(webp::AnimFrame::from_rgba(
                &frame.data,
                width,
                height,
                start_ms,
            ));
        }
        let memory = encoder
            .try_encode()
            .map_err(|e| self.fail(format!("{e:?}")))?;
        let mut bytes = memory.to_vec();
        container::set_webp_total_duration(&mut bytes, self.elapsed_ms);
        if self.transparent {
            container::set_webp_alpha_flag(&mut bytes);
        }
        Ok(bytes)
    }
}
