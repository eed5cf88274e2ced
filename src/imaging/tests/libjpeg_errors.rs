//! libjpeg's fatal errors, warnings and scan cap (`imaging::libjpeg`): an error unwinds out
//! of the C code and becomes a typed error, never a panic or an abort.

use super::*;
use crate::imaging::encode::{Carry, Encoding, encode};
use crate::imaging::pixels::Raster;
use crate::imaging::{ImagingError, process};

fn small_plan() -> Plan {
    plan(vec![target("t", 32, 32, Fit::Inside, OutputFormat::Jpeg)])
}

/// Where the first SOS segment starts, and where its entropy-coded data ends (the next
/// marker that is neither a stuffed 0xFF00 nor a restart marker).
fn first_scan(jpeg: &[u8]) -> (usize, usize) {
    let sos = jpeg.windows(2).position(|m| m == [0xFF, 0xDA]).unwrap();
    let header_len = usize::from(u16::from_be_bytes([jpeg[sos + 2], jpeg[sos + 3]]));
    let mut end = sos + 2 + header_len;
    while jpeg[end] != 0xFF || matches!(jpeg[end + 1], 0x00 | 0xD0..=0xD7) {
        end += 1;
    }
    (sos, end)
}

#[test]
fn a_scan_naming_an_undefined_huffman_table_is_corrupt_with_libjpegs_message() {
    // Arrange: the first component's DC/AC tables become 3, which the file never defines.
    let mut input = jpeg(&gradient(64, 48), 90);
    let (sos, _) = first_scan(&input);
    input[sos + 6] = 0x33;

    // Act
    let err = process(&input, &small_plan()).unwrap_err();

    // Assert
    assert!(matches!(err, ImagingError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("Huffman table 0x03"), "{err}");
}

#[test]
fn a_progressive_jpeg_with_more_than_500_scans_is_refused() {
    // Arrange: the first (DC) scan repeated 600 times; libjpeg only warns about each repeat.
    let full = compressed_jpeg(
        gradient(64, 48).as_raw(),
        (64, 48),
        mozjpeg::ColorSpace::JCS_RGB,
        (2, 2),
        true,
        90,
    );
    let (sos, end) = first_scan(&full);
    let mut input = full[..sos].to_vec();
    for _ in 0..600 {
        input.extend_from_slice(&full[sos..end]);
    }
    input.extend_from_slice(&[0xFF, 0xD9]);

    // Act
    let err = process(&input, &small_plan()).unwrap_err();

    // Assert
    assert!(matches!(err, ImagingError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("more than 500 scans"), "{err}");
}

#[test]
fn damaged_scan_data_ends_in_an_output_or_an_error_every_time() {
    // Arrange: 300 copies of one JPEG, each with 4 bytes of its scan data overwritten.
    let full = jpeg(&gradient(96, 64), 85);
    let (sos, end) = first_scan(&full);
    let mut state = 0x9E37_79B9_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as usize
    };
    let (mut damaged, mut refused) = (0, 0);

    for _ in 0..300 {
        let mut input = full.clone();
        for _ in 0..4 {
            let at = sos + 14 + next() % (end - sos - 14);
            input[at] = next() as u8;
        }

        // Act
        let result = process(&input, &small_plan());

        // Assert: either way the call returned (a panic would fail the test).
        match result {
            Ok(out) if !out.warnings.is_empty() => damaged += 1,
            Ok(_) => {}
            Err(ImagingError::Corrupt { .. }) => refused += 1,
            Err(other) => panic!("unexpected error kind: {other:?}"),
        }
    }
    // Both of libjpeg's paths were taken: warnings (104 of 300 when written) and fatal
    // errors (29).
    assert!(
        damaged > 0 && refused > 0,
        "{damaged} damaged, {refused} refused"
    );
}

#[test]
fn a_clean_decode_after_a_failed_one_reports_no_leftover_warnings() {
    // Arrange
    let full = jpeg(&gradient(64, 48), 90);
    let (sos, end) = first_scan(&full);
    let truncated = &full[..sos + (end - sos) / 2];

    // Act
    let first = process(truncated, &small_plan()).unwrap();
    let second = process(&full, &small_plan()).unwrap();

    // Assert
    assert_eq!(first.warnings.len(), 1, "{:?}", first.warnings);
    assert!(second.warnings.is_empty(), "{:?}", second.warnings);
}

#[test]
fn an_encoder_error_is_an_encode_error_not_a_panic() {
    // Arrange: libjpeg refuses an image without pixels ("Empty JPEG image").
    let empty = Raster {
        width: 0,
        height: 0,
        channels: 3,
        data: Vec::new(),
    };

    // Act
    let err = encode(
        &empty,
        Encoding::Jpeg,
        &EncodeOptions::default(),
        Carry::default(),
    )
    .unwrap_err();

    // Assert
    assert!(matches!(err, ImagingError::Encode { .. }), "{err:?}");
    assert!(err.to_string().contains("Empty JPEG image"), "{err}");
}
