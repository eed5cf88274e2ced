//! Format detection from magic bytes. Never looks at names or declared content types.

use super::ImageFormat;

/// The content type to store for bytes that came without a usable one: the sniffed
/// format's, else `application/octet-stream`.
pub fn content_type_of(bytes: &[u8]) -> &'static str {
    sniff(bytes).map_or("application/octet-stream", |f| f.content_type())
}

/// The format of `bytes` from its magic number; `None` for anything this engine does not
/// decode (SVG, HTML, AVIF, random bytes, an empty slice). Reads at most the first 64 bytes.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    let head = &bytes[..bytes.len().min(64)];
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(ImageFormat::Gif)
    } else if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        Some(ImageFormat::Tiff)
    } else if is_bmp(head) {
        Some(ImageFormat::Bmp)
    } else {
        None
    }
}

/// "BM" alone is two ASCII letters (a text file can start with them), so the DIB header
/// size must also be one of the sizes the BMP versions define.
fn is_bmp(head: &[u8]) -> bool {
    if head.len() < 18 || !head.starts_with(b"BM") {
        return false;
    }
    let dib = u32::from_le_bytes([head[14], head[15], head[16], head[17]]);
    matches!(dib, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124)
}

/// A short description of what non-image bytes look like, for the error message.
pub(crate) fn describe_unknown(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(512)];
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if bytes.is_empty() {
        "the object is empty (0 bytes)".to_owned()
    } else if trimmed.starts_with("<svg") || (trimmed.starts_with("<?xml") && text.contains("<svg"))
    {
        "SVG is a vector format and is not processed".to_owned()
    } else if trimmed.starts_with("<!doctype html") || trimmed.starts_with("<html") {
        "the bytes are an HTML document".to_owned()
    } else if head.len() >= 12 && &head[4..8] == b"ftyp" {
        "an ISO media file (AVIF/HEIC/MP4) is not supported by this build".to_owned()
    } else {
        format!(
            "no known image signature in the first bytes ({})",
            head.iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    }
}
