//! The in-memory raster every stage passes around (8-bit RGB or RGBA, tightly packed) and
//! the alpha flattening. Must not know about formats or files.

/// A tightly packed 8-bit raster with 3 (RGB) or 4 (RGBA, straight alpha) channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Raster {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub data: Vec<u8>,
}

impl Raster {
    pub fn has_alpha(&self) -> bool {
        self.channels == 4
    }

    /// Composites RGBA onto an opaque background, giving RGB. RGB input is returned as is.
    /// In place: a 4-channel raster never lives beside its 3-channel copy (the peak-memory
    /// estimate counts the raster once).
    pub fn flatten(self, background: [u8; 3]) -> Raster {
        self.into_rgb(|px| {
            let a = u32::from(px[3]);
            // Rounded (v*a + bg*(255-a)) / 255, exact for a = 0 and a = 255.
            let blend = |c: usize| {
                let v = u32::from(px[c]) * a + u32::from(background[c]) * (255 - a);
                ((v + 127) / 255) as u8
            };
            [blend(0), blend(1), blend(2)]
        })
    }

    /// Rewrites each RGBA pixel as the RGB one `pixel` gives, in the same buffer: pixel `i`
    /// moves from `4i` to `3i`, which never overwrites a pixel not yet read.
    fn into_rgb(mut self, pixel: impl Fn([u8; 4]) -> [u8; 3]) -> Raster {
        if self.channels != 4 {
            return self;
        }
        let pixels = self.data.len() / 4;
        for i in 0..pixels {
            let from = 4 * i;
            let rgba = [
                self.data[from],
                self.data[from + 1],
                self.data[from + 2],
                self.data[from + 3],
            ];
            self.data[3 * i..3 * i + 3].copy_from_slice(&pixel(rgba));
        }
        self.data.truncate(3 * pixels);
        self.data.shrink_to_fit();
        Raster {
            width: self.width,
            height: self.height,
            channels: 3,
            data: self.data,
        }
    }

    /// True when every pixel is fully opaque (the alpha channel carries no information).
    pub fn is_opaque(&self) -> bool {
        self.channels != 4 || self.data.chunks_exact(4).all(|px| px[3] == 255)
    }

    /// Drops the alpha channel without compositing (only for fully opaque images), in place.
    pub fn drop_alpha(self) -> Raster {
        self.into_rgb(|px| [px[0], px[1], px[2]])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn rgba(pixels: &[[u8; 4]]) -> Raster {
        Raster {
            width: pixels.len() as u32,
            height: 1,
            channels: 4,
            data: pixels.concat(),
        }
    }

    #[test]
    fn flattening_in_place_composites_every_pixel_onto_the_background() {
        let source = rgba(&[[200, 100, 0, 255], [200, 100, 0, 0], [255, 0, 0, 128]]);

        let flat = source.flatten([0, 0, 255]);

        assert_eq!(flat.channels, 3);
        assert_eq!(flat.data, vec![200, 100, 0, 0, 0, 255, 128, 0, 127]);
    }

    #[test]
    fn dropping_alpha_in_place_keeps_the_colours_in_order() {
        let source = rgba(&[[1, 2, 3, 255], [4, 5, 6, 255], [7, 8, 9, 255]]);

        let rgb = source.drop_alpha();

        assert_eq!((rgb.channels, rgb.data.len()), (3, 9));
        assert_eq!(rgb.data, (1..=9).collect::<Vec<u8>>());
    }
}
