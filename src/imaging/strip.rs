//! The metadata stripper for reused originals: an allow-list per format, and the output
//! ends where the image ends. What an uploader appends (MPF secondary images, a Motion
//! Photo video, any payload after EOI, IEND or the RIFF size) and every segment we did not
//! choose (EXIF, XMP, IPTC, comments, private APPn, C2PA, MPF) never reaches an output.
//! Byte-level only: must not decode pixels. `None` means "do not reuse, re-encode".

use super::ImageFormat;
use super::metadata::JpegSegments;
use super::sniff::sniff;

/// The original without everything we do not choose to keep, for any format that can be
/// reused; `None` when it cannot be (other formats, malformed or animated files). The ICC
/// profile is kept only when `keep_icc` (the caller decided it is carried: not sRGB, within
/// the bound).
pub fn strip_metadata(input: &[u8], keep_icc: bool) -> Option<Vec<u8>> {
    match sniff(input)? {
        ImageFormat::Jpeg => strip_jpeg(input, keep_icc),
        ImageFormat::Png => strip_png(input, keep_icc),
        ImageFormat::WebP => strip_webp(input, keep_icc),
        ImageFormat::Gif | ImageFormat::Bmp | ImageFormat::Tiff | ImageFormat::Avif => None,
    }
}

/// The JPEG's frame, tables and scans through its first EOI. Kept: SOFn, DHT, DAC, DQT, DRI,
/// DNL, SOS and the entropy-coded data; APP14 "Adobe" (it says how to convert the colours);
/// APP0 JFIF without its thumbnail; the ICC APP2 chunks when `keep_icc`. Everything else,
/// and everything after EOI, is dropped.
pub(crate) fn strip_jpeg(bytes: &[u8], keep_icc: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len().min(64 << 20));
    out.extend_from_slice(bytes.get(..2)?);
    let mut segments = JpegSegments::new(bytes);
    let mut start = 2;
    while let Some((marker, body)) = segments.next() {
        let whole = bytes.get(start..segments.pos)?;
        // A marker must follow 0xFF; a segment without it is garbage the parser read as a
        // marker, and copying it would leave a broken file (found by fuzzing): re-encode.
        if whole.first() != Some(&0xFF) {
            return None;
        }
        match marker {
            0xC0..=0xCF | 0xDA..=0xDD => out.extend_from_slice(whole),
            0xE0 if body.starts_with(b"JFIF\0") && body.len() >= 14 => {
                // Version, units and density; the thumbnail size set to 0x0.
                out.extend_from_slice(&[0xFF, 0xE0, 0, 16]);
                out.extend_from_slice(&body[..12]);
                out.extend_from_slice(&[0, 0]);
            }
            0xE2 if keep_icc && body.starts_with(b"ICC_PROFILE\0") => out.extend_from_slice(whole),
            0xEE if body.starts_with(b"Adobe") => out.extend_from_slice(whole),
            0xD9 => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                return Some(out);
            }
            _ => {}
        }
        if marker == 0xDA {
            let end = entropy_end(bytes, segments.pos)?;
            out.extend_from_slice(&bytes[segments.pos..end]);
            segments = JpegSegments::new(bytes);
            segments.pos = end;
        }
        start = segments.pos;
    }
    None
}

/// Where the entropy-coded data that starts at `from` ends: the next marker other than a
/// stuffed zero (FF 00), a restart marker (FF D0-D7) or fill bytes. `None` if the file ends
/// first (a truncated file is re-encoded, never passed on).
fn entropy_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        i += bytes.get(i..)?.iter().position(|&b| b == 0xFF)?;
        let mut next = i + 1;
        while bytes.get(next) == Some(&0xFF) {
            next += 1;
        }
        match *bytes.get(next)? {
            0x00 | 0xD0..=0xD7 => i = next + 1,
            _ => return Some(next - 1),
        }
    }
}

/// The PNG's chunks through IEND, keeping only the critical ones and those that change how
/// it renders (tRNS, gAMA, cHRM, sRGB, sBIT, pHYs; iCCP when `keep_icc`). Text, EXIF, time,
/// APNG animation control, C2PA and private chunks are dropped.
pub(crate) fn strip_png(bytes: &[u8], keep_icc: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len().min(64 << 20));
    out.extend_from_slice(bytes.get(..8)?);
    let mut pos = 8;
    loop {
        let len = usize::try_from(u32::from_be_bytes(
            bytes.get(pos..pos + 4)?.try_into().ok()?,
        ))
        .ok()?;
        let end = pos.checked_add(12)?.checked_add(len)?;
        let kind = bytes.get(pos + 4..pos + 8)?;
        let chunk = bytes.get(pos..end)?;
        let keep = matches!(
            kind,
            b"IHDR"
                | b"PLTE"
                | b"IDAT"
                | b"IEND"
                | b"tRNS"
                | b"gAMA"
                | b"cHRM"
                | b"sRGB"
                | b"sBIT"
                | b"pHYs"
        ) || (keep_icc && kind == b"iCCP");
        if keep {
            out.extend_from_slice(chunk);
        }
        pos = end;
        if kind == b"IEND" {
            return Some(out);
        }
    }
}

/// VP8X flags that announce chunks we drop.
const VP8X_ICC: u8 = 0x20;
const VP8X_EXIF: u8 = 0x08;
const VP8X_XMP: u8 = 0x04;

/// The WebP's image chunks (VP8X, ALPH, VP8, VP8L; ICCP when `keep_icc`) within its RIFF
/// size, with the VP8X flags and the RIFF size rewritten to match. `None` for animations
/// (only the first frame is an output) and malformed files.
pub(crate) fn strip_webp(bytes: &[u8], keep_icc: bool) -> Option<Vec<u8>> {
    let riff_len = usize::try_from(u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?)).ok()?;
    let body = bytes.get(12..riff_len.checked_add(8)?)?;
    let mut chunks = Vec::with_capacity(body.len());
    let mut vp8x_at = None;
    let mut pos = 0;
    while pos + 8 <= body.len() {
        let kind = &body[pos..pos + 4];
        let len =
            usize::try_from(u32::from_le_bytes(body[pos + 4..pos + 8].try_into().ok()?)).ok()?;
        let end = pos.checked_add(8 + len + (len & 1))?.min(body.len());
        match kind {
            b"ANIM" | b"ANMF" => return None,
            b"VP8X" => {
                vp8x_at = Some(chunks.len());
                chunks.extend_from_slice(&body[pos..end]);
            }
            b"ALPH" | b"VP8 " | b"VP8L" => chunks.extend_from_slice(&body[pos..end]),
            b"ICCP" if keep_icc => chunks.extend_from_slice(&body[pos..end]),
            _ => {}
        }
        pos = end;
    }
    if let Some(at) = vp8x_at {
        let flags = chunks.get_mut(at + 8)?;
        *flags &= !(VP8X_EXIF | VP8X_XMP);
        if !keep_icc {
            *flags &= !VP8X_ICC;
        }
    }
    let size = u32::try_from(chunks.len() + 4).ok()?;
    let mut out = Vec::with_capacity(chunks.len() + 12);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&chunks);
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    /// SOI, a DQT-less frame is enough: the stripper works on segments, not pixels.
    fn jpeg_with(after_soi: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8];
        bytes.extend_from_slice(after_soi);
        bytes.extend_from_slice(&[0xFF, 0xC0, 0, 5, 8, 0, 1]);
        bytes.extend_from_slice(&[0xFF, 0xDA, 0, 2, 0x12, 0x34, 0xFF, 0xD9]);
        bytes
    }

    #[test]
    fn a_segment_whose_marker_lacks_its_ff_is_not_reused_but_re_encoded() {
        // 0xC5 where a marker should start, without the 0xFF before it.
        let input = jpeg_with(&[0xC5, 0, 4, 0xAA, 0xBB]);

        assert_eq!(strip_jpeg(&input, false), None);
    }

    #[test]
    fn a_well_formed_jpeg_strips_to_a_fixed_point() {
        let input = jpeg_with(&[0xFF, 0xE1, 0, 6, b'E', b'x', b'i', b'f']);

        let once = strip_jpeg(&input, false).unwrap();

        assert!(!once.windows(4).any(|w| w == b"Exif"));
        assert_eq!(strip_jpeg(&once, false), Some(once.clone()));
    }
}
