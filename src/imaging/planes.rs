//! A YCbCr image as separate 8-bit planes (the JPEG path's raster): luma at the image's
//! resolution, Cb and Cr each at their own, and how the chroma grid lies over the luma one.
//! Resizing (each plane at its own resolution, outputs always 4:2:0 with chroma centred
//! as JPEG places it), orientation (per plane), and the small RGB conversion the summary
//! needs. Must not decode or encode.

use super::orient;
use super::pixels::Raster;
use super::resize::{Resampler, Window};
use super::{ImagingError, ResizeFilter};

/// A YCbCr image: three one-channel rasters (or luma alone for grey).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Planes {
    /// Luma, one channel.
    pub y: Raster,
    /// Cb and Cr, one channel each; `None` for a grey image.
    pub chroma: Option<[Raster; 2]>,
    /// The part of the luma plane that maps onto the image, in luma pixels: after a
    /// DCT-scaled decode its last row and column cover a fraction of a pixel.
    pub extent: (f64, f64),
    /// Chroma pixels per luma pixel, per axis (0.5 for 4:2:0, 1 for 4:4:4).
    pub chroma_ratio: (f64, f64),
    /// Where chroma pixel 0 starts, in luma pixels (0, or -1 where an odd output that
    /// is mirrored later got its extra chroma line at the start).
    pub chroma_origin: (f64, f64),
}

/// One axis of a chroma resize.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ChromaAxis {
    /// The source span, in chroma pixels of the source.
    start: f64,
    len: f64,
    /// Chroma pixels to resize to.
    out: u32,
    /// One more line is replicated: at the start (`Some(true)`) or the end (`Some(false)`).
    pad_start: Option<bool>,
}

impl Planes {
    pub fn width(&self) -> u32 {
        self.y.width
    }

    pub fn height(&self) -> u32 {
        self.y.height
    }

    /// Resizes `window` of the luma plane (in luma pixels; the whole extent when `None`) to
    /// `width`×`height`, with 4:2:0 chroma. `mirrored` says per axis (x, y) whether this
    /// axis is reversed when oriented later: an odd size's extra chroma line (half outside
    /// the image) must end up at the far side of the displayed image, where JPEG puts it.
    #[allow(clippy::too_many_arguments)] // one resize: source, window, size, filter, scratch
    pub fn resize(
        &self,
        resampler: &mut Resampler,
        window: Option<Window>,
        width: u32,
        height: u32,
        filter: ResizeFilter,
        mirrored: (bool, bool),
    ) -> Result<Planes, ImagingError> {
        let (ex, ey) = self.extent;
        let (left, top, ww, wh) = window.unwrap_or((0.0, 0.0, ex, ey));
        let y = resampler.resize(&self.y, Some((left, top, ww, wh)), width, height, filter)?;
        let chroma = match &self.chroma {
            None => None,
            Some([cb, cr]) => {
                let ax = chroma_axis(
                    (left, ww),
                    width,
                    self.chroma_origin.0,
                    self.chroma_ratio.0,
                    cb.width,
                    mirrored.0,
                );
                let ay = chroma_axis(
                    (top, wh),
                    height,
                    self.chroma_origin.1,
                    self.chroma_ratio.1,
                    cb.height,
                    mirrored.1,
                );
                let mut one = |plane: &Raster| -> Result<Raster, ImagingError> {
                    let window = (ax.start, ay.start, ax.len, ay.len);
                    let resized = resampler.resize(plane, Some(window), ax.out, ay.out, filter)?;
                    Ok(pad(resized, ax.pad_start, ay.pad_start))
                };
                Some([one(cb)?, one(cr)?])
            }
        };
        let origin = |pad_start: bool, odd: bool| if pad_start && odd { -1.0 } else { 0.0 };
        Ok(Planes {
            y,
            chroma,
            extent: (f64::from(width), f64::from(height)),
            chroma_ratio: (0.5, 0.5),
            chroma_origin: (
                origin(mirrored.0, !width.is_multiple_of(2)),
                origin(mirrored.1, !height.is_multiple_of(2)),
            ),
        })
    }

    /// The planes as displayed under EXIF `orientation` (see `orient::apply`).
    pub fn oriented(self, orientation: u8) -> Planes {
        if !(2..=8).contains(&orientation) {
            return self;
        }
        let swap = |(a, b): (f64, f64)| match orient::transposes(orientation) {
            true => (b, a),
            false => (a, b),
        };
        Planes {
            y: orient::apply(self.y, orientation),
            chroma: self.chroma.map(|[cb, cr]| {
                [
                    orient::apply(cb, orientation),
                    orient::apply(cr, orientation),
                ]
            }),
            extent: swap(self.extent),
            chroma_ratio: swap(self.chroma_ratio),
            // Mirrored odd outputs put their extra line where the display needs it.
            chroma_origin: (0.0, 0.0),
        }
    }

    /// RGB (JPEG's full-range BT.601), chroma taken from the nearest chroma pixel: only for
    /// small images (the summary is made from the smallest output).
    pub fn to_rgb(&self) -> Raster {
        let (w, h) = (self.y.width as usize, self.y.height as usize);
        let mut data = Vec::with_capacity(w * h * 3);
        for row in 0..h {
            for col in 0..w {
                let luma = f32::from(self.y.data[row * w + col]);
                let (cb, cr) = match &self.chroma {
                    None => (0.0, 0.0),
                    Some([cb, cr]) => {
                        let at = |origin: f64, ratio: f64, i: usize, len: u32| {
                            let c = ((i as f64 + 0.5 - origin) * ratio).floor();
                            (c.max(0.0) as usize).min(len as usize - 1)
                        };
                        let cx = at(self.chroma_origin.0, self.chroma_ratio.0, col, cb.width);
                        let cy = at(self.chroma_origin.1, self.chroma_ratio.1, row, cb.height);
                        let i = cy * cb.width as usize + cx;
                        (f32::from(cb.data[i]) - 128.0, f32::from(cr.data[i]) - 128.0)
                    }
                };
                let clamp = |v: f32| v.round().clamp(0.0, 255.0) as u8;
                data.push(clamp(luma + 1.402 * cr));
                data.push(clamp(luma - 0.344_136 * cb - 0.714_136 * cr));
                data.push(clamp(luma + 1.772 * cb));
            }
        }
        Raster {
            width: w as u32,
            height: h as u32,
            channels: 3,
            data,
        }
    }
}

/// Where the output's chroma comes from along one axis. An even output of `out` luma
/// pixels has `out / 2` chroma pixels, each over two output pixels. An odd one has one
/// more, half outside the image, replicated from its neighbour (as libjpeg's own
/// downsampling pads the edge): the rest is resized from the part of the window under
/// whole chroma pixels, so chroma stays centred on the luma it belongs to.
fn chroma_axis(
    (luma_start, luma_len): (f64, f64),
    out: u32,
    origin: f64,
    ratio: f64,
    plane_len: u32,
    pad_start: bool,
) -> ChromaAxis {
    let whole = out / 2;
    let plane = f64::from(plane_len);
    // Clamped to the plane: float rounding must not step outside it.
    let span = |start: f64, len: f64| {
        let start = ((start - origin) * ratio).clamp(0.0, plane - 1e-6);
        (start, (len * ratio).min(plane - start))
    };
    if out.is_multiple_of(2) || whole == 0 {
        let (start, len) = span(luma_start, luma_len);
        return ChromaAxis {
            start,
            len,
            out: out.div_ceil(2),
            pad_start: None,
        };
    }
    let per_out = luma_len / f64::from(out);
    let skipped = if pad_start { per_out } else { 0.0 };
    let (start, len) = span(luma_start + skipped, luma_len - per_out);
    ChromaAxis {
        start,
        len,
        out: whole,
        pad_start: Some(pad_start),
    }
}

/// `plane` with one replicated column and/or row added at the side each axis says.
fn pad(plane: Raster, column: Option<bool>, row: Option<bool>) -> Raster {
    let plane = match column {
        None => plane,
        Some(at_start) => {
            let (w, h) = (plane.width as usize, plane.height as usize);
            let mut data = Vec::with_capacity((w + 1) * h);
            for line in plane.data.chunks_exact(w) {
                if at_start {
                    data.push(line[0]);
                }
                data.extend_from_slice(line);
                if !at_start {
                    data.push(line[w - 1]);
                }
            }
            Raster {
                width: plane.width + 1,
                height: plane.height,
                channels: 1,
                data,
            }
        }
    };
    match row {
        None => plane,
        Some(at_start) => {
            let w = plane.width as usize;
            let mut data = Vec::with_capacity(plane.data.len() + w);
            if at_start {
                data.extend_from_slice(&plane.data[..w]);
            }
            data.extend_from_slice(&plane.data);
            if !at_start {
                data.extend_from_slice(&plane.data[plane.data.len() - w..]);
            }
            Raster {
                width: plane.width,
                height: plane.height + 1,
                channels: 1,
                data,
            }
        }
    }
}

/// Whether orientation `o` reverses the stored x and y axes (EXIF table in `orient`).
pub(crate) fn mirrored_axes(orientation: u8) -> (bool, bool) {
    (
        matches!(orientation, 2 | 3 | 7 | 8),
        matches!(orientation, 3 | 4 | 6 | 7),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn plane(w: u32, h: u32, value: impl Fn(u32, u32) -> u8) -> Raster {
        let data = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| value(x, y))
            .collect();
        Raster {
            width: w,
            height: h,
            channels: 1,
            data,
        }
    }

    #[test]
    fn an_odd_output_gets_one_more_chroma_line_replicated_at_the_far_side() {
        let even = chroma_axis((0.0, 100.0), 10, 0.0, 0.5, 50, false);
        let odd = chroma_axis((0.0, 100.0), 11, 0.0, 0.5, 50, false);
        let odd_mirrored = chroma_axis((0.0, 100.0), 11, 0.0, 0.5, 50, true);

        assert_eq!(
            (even.start, even.len, even.out, even.pad_start),
            (0.0, 50.0, 5, None)
        );
        // 10 of 11 output pixels are under whole chroma pixels: 10/11 of the window.
        assert_eq!((odd.out, odd.pad_start), (5, Some(false)));
        assert!((odd.start - 0.0).abs() < 1e-9 && (odd.len - 50.0 * 10.0 / 11.0).abs() < 1e-9);
        assert_eq!((odd_mirrored.out, odd_mirrored.pad_start), (5, Some(true)));
        assert!((odd_mirrored.start - 50.0 / 11.0).abs() < 1e-9);
    }

    #[test]
    fn resized_planes_keep_a_horizontal_colour_edge_where_the_luma_edge_is() {
        // A 4:2:0 source: the left half red-ish in chroma, the right half blue-ish.
        let (w, h) = (400, 200);
        let source = Planes {
            y: plane(w, h, |_, _| 128),
            chroma: Some([
                plane(w / 2, h / 2, |x, _| if x < w / 4 { 90 } else { 200 }),
                plane(w / 2, h / 2, |x, _| if x < w / 4 { 200 } else { 90 }),
            ]),
            extent: (f64::from(w), f64::from(h)),
            chroma_ratio: (0.5, 0.5),
            chroma_origin: (0.0, 0.0),
        };
        for (out_w, mirrored) in [(101, false), (101, true), (100, false)] {
            let out = source
                .resize(
                    &mut Resampler::default(),
                    None,
                    out_w,
                    51,
                    ResizeFilter::Lanczos3,
                    (mirrored, false),
                )
                .unwrap();

            let cb = &out.chroma.as_ref().unwrap()[0];
            assert_eq!((cb.width, cb.height), (out_w.div_ceil(2), 26));
            let rgb = out.to_rgb();
            // The edge sits at half the width: red (high Cr) left of it, not right of it.
            let at = |x: u32| rgb.data[(10 * out_w as usize + x as usize) * 3];
            let (left, right) = (at(out_w / 2 - 3), at(out_w / 2 + 3));
            assert!(
                left > 200 && right < 100,
                "{out_w} {mirrored}: {left} {right}"
            );
        }
    }

    #[test]
    fn padding_replicates_the_edge_line_on_the_side_asked() {
        let p = plane(2, 2, |x, y| (10 * y + x) as u8);

        let end = pad(p.clone(), Some(false), Some(false));
        let start = pad(p, Some(true), Some(true));

        assert_eq!(end.data, vec![0, 1, 1, 10, 11, 11, 10, 11, 11]);
        assert_eq!(start.data, vec![0, 0, 1, 0, 0, 1, 10, 10, 11]);
    }
}
