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
    pub fn flatten(self, background: [u8; 3]) -> Raster {
        if self.channels != 4 {
            return self;
        }
        let mut out = Vec::with_capacity(self.data.len() / 4 * 3);
        for px in self.data.chunks_exact(4) {
            let a = u32::from(px[3]);
            for c in 0..3 {
                // Rounded (v*a + bg*(255-a)) / 255, exact for a = 0 and a = 255.
                let v = u32::from(px[c]) * a + u32::from(background[c]) * (255 - a);
                out.push(((v + 127) / 255) as u8);
            }
        }
        Raster {
            width: self.width,
            height: self.height,
            channels: 3,
            data: out,
        }
    }

    /// True when every pixel is fully opaque (the alpha channel carries no information).
    pub fn is_opaque(&self) -> bool {
        self.channels != 4 || self.data.chunks_exact(4).all(|px| px[3] == 255)
    }

    /// Drops the alpha channel without compositing (only for fully opaque images).
    pub fn drop_alpha(self) -> Raster {
        if self.channels != 4 {
            return self;
        }
        let data = self
            .data
            .chunks_exact(4)
            .flat_map(|px| [px[0], px[1], px[2]])
            .collect();
        Raster {
            width: self.width,
            height: self.height,
            channels: 3,
            data,
        }
    }
}
