//! Container parsers for the formats whose header is not a JPEG marker walk: PNG's IHDR,
//! GIF's screen and frame descriptors, WebP's chunks and BMP's info header. Each reads only
//! fixed fields or skips blocks by their lengths (no LZW, no inflate), works on a prefix of
//! the file, and says when the prefix was too short. Must not decode pixels.

/// What a PNG's IHDR declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PngIhdr {
    pub width: u32,
    pub height: u32,
    /// Bits per sample: 1, 2, 4, 8 or 16.
    pub bit_depth: u8,
    /// 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA.
    pub color_type: u8,
}

impl PngIhdr {
    /// Samples per pixel as stored (palette entries expand to 3 or 4 later).
    pub fn channels(self) -> u8 {
        match self.color_type {
            0 | 3 => 1,
            4 => 2,
            2 => 3,
            _ => 4,
        }
    }
}

/// IHDR is always the first chunk, at byte 8.
pub(crate) fn png_ihdr(b: &[u8]) -> Option<PngIhdr> {
    (b.get(12..16)? == b"IHDR").then_some(())?;
    Some(PngIhdr {
        width: be32(b, 16)?,
        height: be32(b, 20)?,
        bit_depth: *b.get(24)?,
        color_type: *b.get(25)?,
    })
}

/// One GIF image descriptor's size, as the limits see it.
pub(crate) type FrameSize = (u32, u32);

/// What a walk over a GIF's blocks found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GifScan {
    /// The logical screen (what the decoder's output raster is).
    pub screen: (u32, u32),
    /// Image descriptors seen (the walk stops one past `max_frames`).
    pub frames: u64,
    /// The first frame's size: the only one decoded, into its own buffer.
    pub first_frame: Option<FrameSize>,
    /// The largest frame by pixel count, so no frame can escape the limits.
    pub largest_frame: Option<FrameSize>,
    /// The bytes ended before the trailer (a prefix, or a truncated file).
    pub ran_out: bool,
}

/// Walks every block of a GIF (skipping sub-blocks by length, no LZW decoding) and records
/// each image descriptor's size. Stops once past `max_frames`, so a GIF of a million frames
/// costs no more than one of `max_frames`.
pub(crate) fn gif_scan(b: &[u8], max_frames: u32) -> Option<GifScan> {
    let mut scan = GifScan {
        screen: (le16(b, 6)?, le16(b, 8)?),
        ..GifScan::default()
    };
    let Some(&flags) = b.get(10) else {
        scan.ran_out = true;
        return Some(scan);
    };
    let mut pos = 13 + colour_table_len(flags);
    while scan.frames <= u64::from(max_frames) {
        let next = match b.get(pos) {
            Some(0x2C) => gif_descriptor(b, pos, &mut scan),
            Some(0x21) => skip_sub_blocks(b, pos + 2),
            Some(0x3B) => return Some(scan),
            Some(_) => return Some(scan), // junk after the last block: the decoder stops too
            None => None,
        };
        match next {
            Some(p) => pos = p,
            None => {
                scan.ran_out = true;
                break;
            }
        }
    }
    Some(scan)
}

/// Records the image descriptor at `pos` and returns where the next block starts.
fn gif_descriptor(b: &[u8], pos: usize, scan: &mut GifScan) -> Option<usize> {
    let size = (le16(b, pos + 5)?, le16(b, pos + 7)?);
    let local = *b.get(pos + 9)?;
    scan.frames += 1;
    scan.first_frame.get_or_insert(size);
    let pixels = |(w, h): FrameSize| u64::from(w) * u64::from(h);
    if scan.largest_frame.is_none_or(|l| pixels(size) > pixels(l)) {
        scan.largest_frame = Some(size);
    }
    // Descriptor (10 bytes), local colour table, LZW minimum code size, then sub-blocks.
    skip_sub_blocks(b, pos + 10 + colour_table_len(local) + 1)
}

fn colour_table_len(flags: u8) -> usize {
    if flags & 0x80 != 0 {
        3 << ((flags & 7) + 1)
    } else {
        0
    }
}

fn skip_sub_blocks(b: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = usize::from(*b.get(pos)?);
        pos += 1 + len;
        if len == 0 {
            return Some(pos);
        }
    }
}

/// Canvas size, frame count and alpha flag of a WebP from its chunks (VP8X, VP8, VP8L,
/// ANMF). The frame count walks every chunk; on a prefix it counts what the prefix holds.
pub(crate) fn webp_size(b: &[u8]) -> Option<(u32, u32, u64, bool)> {
    let first = b.get(12..16)?;
    let body = 20;
    match first {
        b"VP8X" => {
            let alpha = b.get(body)? & 0x10 != 0;
            let w = le24(b, body + 4)? + 1;
            let h = le24(b, body + 7)? + 1;
            let mut frames = 0u64;
            let mut pos = 12;
            while pos + 8 <= b.len() {
                let len = usize::try_from(le32(b, pos + 4)?).ok()?;
                if &b[pos..pos + 4] == b"ANMF" {
                    frames += 1;
                }
                pos = pos.checked_add(8 + len + (len & 1))?;
            }
            Some((w, h, frames.max(1), alpha))
        }
        b"VP8 " => {
            // Key frame start code 9d 01 2a, then 14-bit width and height.
            (b.get(body + 3..body + 6)? == [0x9d, 0x01, 0x2a]).then_some(())?;
            let (w, h) = (le16(b, body + 6)? & 0x3FFF, le16(b, body + 8)? & 0x3FFF);
            Some((w, h, 1, false))
        }
        b"VP8L" => {
            (*b.get(body)? == 0x2F).then_some(())?;
            let bits = le32(b, body + 1)?;
            let alpha = bits & (1 << 28) != 0;
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 1, alpha))
        }
        _ => None,
    }
}

/// Whether a WebP says it is an animation (VP8X's animation flag): its frame count is only
/// known once every chunk has been read.
pub(crate) fn webp_is_animated(b: &[u8]) -> bool {
    b.get(12..16) == Some(b"VP8X") && b.get(20).is_some_and(|flags| flags & 0x02 != 0)
}

/// Sets VP8X's alpha flag. libwebp's animation encoder leaves it unset when every frame it
/// writes is opaque, even where frames leave parts of the canvas transparent; the `image`
/// crate's decoder then reads the animation as RGB, with those parts black.
pub(crate) fn set_webp_alpha_flag(b: &mut [u8]) {
    if b.get(12..16) == Some(b"VP8X")
        && let Some(flags) = b.get_mut(20)
    {
        *flags |= 0x10;
    }
}

/// Whether a WebP's VP8X says it has alpha.
pub(crate) fn webp_declares_alpha(b: &[u8]) -> bool {
    b.get(12..16) == Some(b"VP8X") && b.get(20).is_some_and(|flags| flags & 0x10 != 0)
}

/// Each ANMF chunk's frame duration in milliseconds, in order.
#[cfg(test)]
pub(crate) fn webp_frame_durations(b: &[u8]) -> Vec<u32> {
    anmf_duration_offsets(b)
        .into_iter()
        .filter_map(|at| le24(b, at))
        .collect()
}

/// Sets the last ANMF frame's duration so that all frames last `total_ms`. libwebp's
/// animation encoder gives the last frame the average duration unless told when the
/// animation ends, which the `webp` crate does not tell it; merged identical frames only
/// ever lengthen earlier frames, so the earlier durations are right as they are.
pub(crate) fn set_webp_total_duration(b: &mut [u8], total_ms: u64) {
    let offsets = anmf_duration_offsets(b);
    let Some((&last, earlier)) = offsets.split_last() else {
        return;
    };
    let before: u64 = earlier
        .iter()
        .filter_map(|&at| le24(b, at))
        .map(u64::from)
        .sum();
    let duration = total_ms.saturating_sub(before).min(0xFF_FFFF);
    if let Some(field) = b.get_mut(last..last + 3) {
        field.copy_from_slice(&duration.to_le_bytes()[..3]);
    }
}

/// Where each ANMF chunk's 24-bit duration lies (after its x, y, width and height).
fn anmf_duration_offsets(b: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut pos = 12;
    while pos + 8 <= b.len() {
        let Some(len) = le32(b, pos + 4).and_then(|l| usize::try_from(l).ok()) else {
            break;
        };
        if &b[pos..pos + 4] == b"ANMF" && pos + 8 + 15 <= b.len() {
            offsets.push(pos + 8 + 12);
        }
        match pos.checked_add(8 + len + (len & 1)) {
            Some(next) => pos = next,
            None => break,
        }
    }
    offsets
}

/// Width, height and bits per pixel from a BMP's info header.
pub(crate) fn bmp_size(b: &[u8]) -> Option<(u32, u32, u16)> {
    if le32(b, 14)? == 12 {
        let bits = le16(b, 24)? as u16;
        return Some((le16(b, 18)?, le16(b, 20)?, bits));
    }
    let w = i32::from_le_bytes(b.get(18..22)?.try_into().ok()?);
    // A negative height means rows are stored top-down.
    let h = i32::from_le_bytes(b.get(22..26)?.try_into().ok()?);
    let bits = le16(b, 28)? as u16;
    Some((w.unsigned_abs(), h.unsigned_abs(), bits))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    )))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(3)?)?;
    Some(u32::from(s[0]) | u32::from(s[1]) << 8 | u32::from(s[2]) << 16)
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
