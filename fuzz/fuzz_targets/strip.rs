//! The metadata stripper for reused originals: never a panic, never longer than its input,
//! and stripping twice changes nothing more.
#![no_main]

use image_pipeline::imaging::strip_metadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for keep_icc in [false, true] {
        if let Some(out) = strip_metadata(data, keep_icc) {
            assert!(out.len() <= data.len(), "{} > {}", out.len(), data.len());
            assert_eq!(strip_metadata(&out, keep_icc).as_deref(), Some(out.as_slice()));
        }
    }
});
