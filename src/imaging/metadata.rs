//! Byte-level metadata: JPEG marker segments, the EXIF fields we read (orientation, artist,
//! copyright) and ICC profiles, with the bound on what an output may carry. Stripping the
//! originals lives in `strip`.
//! Parsing only walks segment headers, so it is microseconds even on large files.
//! Must not decode pixels.

/// The largest ICC profile an output carries. Matrix/TRC profiles (sRGB, Display P3, Adobe
/// RGB, ProPhoto: 0.5-4 KB) and small LUT profiles fit; larger ones (printer and camera
/// profiles, up to 16 MB in a JPEG) are dropped with a warning, because every output would
/// repeat them (a 16 MB thumbnail) and the medium one must stay under Vision's inline limit.
pub(crate) const MAX_CARRIED_ICC_BYTES: usize = 128 * 1024;

/// What the marker walk of a JPEG found before its first scan.
#[derive(Debug, Default, Clone)]
pub(crate) struct JpegHeader {
    pub width: u32,
    pub height: u32,
    pub components: u8,
    /// Bits per sample from the frame header (8; 12 and 16 exist).
    pub precision: u8,
    /// The frame header was found.
    pub has_frame: bool,
    /// A start-of-scan marker was found (there is entropy-coded data to decode).
    pub has_scan: bool,
    /// libjpeg keeps every DCT coefficient of the image in memory: a progressive frame, or a
    /// first scan that holds only some of the components (a multi-scan sequential file).
    pub buffers_coefficients: bool,
    /// Bytes of that whole-image coefficient buffer (64 16-bit coefficients per block, every
    /// component at its own sampling), whether or not it is needed.
    pub coefficient_bytes: u64,
    pub exif: Option<Exif>,
    /// The ICC profile, reassembled from its APP2 chunks.
    pub icc: Option<Vec<u8>>,
}

/// The EXIF fields the engine uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Exif {
    pub orientation: u8,
    pub artist: Option<String>,
    pub copyright: Option<String>,
}

/// Walks the marker segments of a JPEG up to its first scan.
pub(crate) fn jpeg_header(bytes: &[u8]) -> JpegHeader {
    let mut header = JpegHeader::default();
    let mut icc_chunks: Vec<(u8, &[u8])> = Vec::new();
    for (marker, body) in JpegSegments::new(bytes) {
        match marker {
            // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF
                if !matches!(marker, 0xC4 | 0xC8 | 0xCC)
                    && body.len() >= 6
                    && !header.has_frame =>
            {
                header.height = u32::from(u16::from_be_bytes([body[1], body[2]]));
                header.width = u32::from(u16::from_be_bytes([body[3], body[4]]));
                header.components = body[5];
                header.precision = body[0];
                header.has_frame = true;
                // SOF2, SOF6, SOF10 and SOF14 are the progressive ones.
                header.buffers_coefficients = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                header.coefficient_bytes = coefficient_bytes(&header, body);
            }
            0xE1 if body.starts_with(b"Exif\0\0") && header.exif.is_none() => {
                header.exif = parse_exif(&body[6..]);
            }
            0xE2 if body.starts_with(b"ICC_PROFILE\0") && body.len() > 14 => {
                icc_chunks.push((body[12], &body[14..]));
            }
            0xDA => {
                header.has_scan = true;
                let scan_components = body.first().copied().unwrap_or(0);
                header.buffers_coefficients |= scan_components < header.components;
                break;
            }
            _ => {}
        }
    }
    if !icc_chunks.is_empty() {
        icc_chunks.sort_by_key(|(seq, _)| *seq);
        header.icc = Some(
            icc_chunks
                .iter()
                .flat_map(|(_, d)| d.iter().copied())
                .collect(),
        );
    }
    header
}

/// The whole-image coefficient buffer of a frame header: per component, its blocks at its
/// sampling (rounded up to whole MCUs) times 64 coefficients of 2 bytes.
fn coefficient_bytes(header: &JpegHeader, sof: &[u8]) -> u64 {
    let sampling: Vec<(u64, u64)> = sof
        .get(6..)
        .unwrap_or_default()
        .chunks_exact(3)
        .take(usize::from(header.components))
        .map(|c| (u64::from(c[1] >> 4).max(1), u64::from(c[1] & 15).max(1)))
        .collect();
    let h_max = sampling.iter().map(|s| s.0).max().unwrap_or(1);
    let v_max = sampling.iter().map(|s| s.1).max().unwrap_or(1);
    let mcus_w = u64::from(header.width).div_ceil(8 * h_max);
    let mcus_h = u64::from(header.height).div_ceil(8 * v_max);
    sampling
        .iter()
        .map(|(h, v)| mcus_w * h * mcus_h * v * 128)
        .sum()
}

/// Iterator over (marker, segment body) pairs from SOI up to and including SOS.
pub(crate) struct JpegSegments<'a> {
    bytes: &'a [u8],
    /// Where the next marker starts (after the segment just returned).
    pub pos: usize,
    done: bool,
}

impl<'a> JpegSegments<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 2,
            done: bytes.len() < 4,
        }
    }
}

impl<'a> Iterator for JpegSegments<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // Markers may be preceded by any number of 0xFF fill bytes.
        while self.pos < self.bytes.len() && self.bytes[self.pos] == 0xFF {
            self.pos += 1;
        }
        let marker = *self.bytes.get(self.pos)?;
        self.pos += 1;
        if matches!(marker, 0x01 | 0xD0..=0xD9) {
            // Standalone markers; EOI ends the image.
            self.done = marker == 0xD9;
            return Some((marker, &[]));
        }
        let len_bytes = self.bytes.get(self.pos..self.pos + 2)?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if len < 2 {
            self.done = true;
            return None;
        }
        let end = (self.pos + len).min(self.bytes.len());
        let body = &self.bytes[self.pos + 2..end.max(self.pos + 2)];
        self.pos += len;
        if marker == 0xDA {
            self.done = true;
        }
        Some((marker, body))
    }
}

/// A TIFF block's integers in its declared byte order (`II` little, `MM` big endian).
struct TiffReader<'a> {
    bytes: &'a [u8],
    little_endian: bool,
}

impl TiffReader<'_> {
    fn u16_at(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if self.little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if self.little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// An ASCII entry's text (inline when it fits in 4 bytes, else at its offset); `None`
    /// when blank.
    fn ascii(&self, entry: usize, len: u32) -> Option<Option<String>> {
        let len = usize::try_from(len).ok()?;
        let at = if len <= 4 {
            entry + 8
        } else {
            usize::try_from(self.u32_at(entry + 8)?).ok()?
        };
        Some(
            self.bytes
                .get(at..at.saturating_add(len))
                .map(|b| String::from_utf8_lossy(b).trim_end_matches('\0').to_owned())
                .filter(|s| !s.trim().is_empty()),
        )
    }
}

/// Parses a TIFF-structured EXIF block (after the `Exif\0\0` prefix): IFD0 only, which is
/// where orientation, artist and copyright live.
pub(crate) fn parse_exif(tiff: &[u8]) -> Option<Exif> {
    let little_endian = match tiff.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let reader = TiffReader {
        bytes: tiff,
        little_endian,
    };
    let ifd = usize::try_from(reader.u32_at(4)?).ok()?;
    let count = usize::from(reader.u16_at(ifd)?);
    let mut exif = Exif {
        orientation: 1,
        ..Exif::default()
    };
    for i in 0..count.min(512) {
        let entry = ifd + 2 + i * 12;
        let (Some(tag), Some(kind), Some(len)) = (
            reader.u16_at(entry),
            reader.u16_at(entry + 2),
            reader.u32_at(entry + 4),
        ) else {
            break;
        };
        match (tag, kind) {
            (0x0112, 3) => {
                let value = reader.u16_at(entry + 8).unwrap_or(1);
                exif.orientation = if (1..=8).contains(&value) {
                    value as u8
                } else {
                    1
                };
            }
            (0x013B, 2) => exif.artist = reader.ascii(entry, len)?,
            (0x8298, 2) => exif.copyright = reader.ascii(entry, len)?,
            _ => {}
        }
    }
    Some(exif)
}

/// A minimal big-endian EXIF APP1 segment holding only Artist and Copyright; `None` when
/// neither is set. Orientation is deliberately absent: outputs are already upright.
pub(crate) fn copyright_app1(exif: &Exif) -> Option<Vec<u8>> {
    let tags: Vec<(u16, Vec<u8>)> = [(0x013B, &exif.artist), (0x8298, &exif.copyright)]
        .into_iter()
        .filter_map(|(tag, v)| v.as_ref().map(|s| (tag, [s.as_bytes(), b"\0"].concat())))
        .collect();
    if tags.is_empty() {
        return None;
    }
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    let ifd_len = 2 + tags.len() * 12 + 4;
    let mut data_at = 8 + ifd_len;
    let mut data = Vec::new();
    tiff.extend_from_slice(&(tags.len() as u16).to_be_bytes());
    for (tag, value) in &tags {
        tiff.extend_from_slice(&tag.to_be_bytes());
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&(value.len() as u32).to_be_bytes());
        if value.len() <= 4 {
            let mut inline = value.clone();
            inline.resize(4, 0);
            tiff.extend_from_slice(&inline);
        } else {
            tiff.extend_from_slice(&(data_at as u32).to_be_bytes());
            data.extend_from_slice(value);
            data_at += value.len();
        }
    }
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(&data);
    let body = [b"Exif\0\0".as_slice(), &tiff].concat();
    segment(0xE1, &body)
}

/// ICC profile as APP2 segments (split at 65519 bytes per chunk, as the ICC spec says).
pub(crate) fn icc_app2(icc: &[u8]) -> Vec<u8> {
    let chunks: Vec<&[u8]> = icc.chunks(65_519).collect();
    let total = chunks.len().min(255) as u8;
    let mut out = Vec::with_capacity(icc.len() + 18 * chunks.len());
    for (i, chunk) in chunks.iter().take(255).enumerate() {
        let body = [b"ICC_PROFILE\0".as_slice(), &[i as u8 + 1, total], chunk].concat();
        if let Some(seg) = segment(0xE2, &body) {
            out.extend_from_slice(&seg);
        }
    }
    out
}

fn segment(marker: u8, body: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(body.len() + 2).ok()?;
    let mut out = vec![0xFF, marker];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    Some(out)
}

/// Inserts already-encoded marker segments right after SOI (and a JFIF APP0 if present).
pub(crate) fn insert_after_soi(jpeg: Vec<u8>, segments: &[u8]) -> Vec<u8> {
    if segments.is_empty() || jpeg.len() < 2 {
        return jpeg;
    }
    let mut at = 2;
    if jpeg.get(2..4) == Some(&[0xFF, 0xE0])
        && let Some(l) = jpeg.get(4..6)
    {
        at = 4 + usize::from(u16::from_be_bytes([l[0], l[1]]));
    }
    let at = at.min(jpeg.len());
    let mut out = Vec::with_capacity(jpeg.len() + segments.len());
    out.extend_from_slice(&jpeg[..at]);
    out.extend_from_slice(segments);
    out.extend_from_slice(&jpeg[at..]);
    out
}

/// True when an ICC profile describes sRGB (by its description), which viewers assume anyway.
pub(crate) fn icc_is_srgb(icc: &[u8]) -> bool {
    let utf16: Vec<u8> = "sRGB".bytes().flat_map(|b| [0, b]).collect();
    contains(icc, b"sRGB") || contains(icc, &utf16)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
