//! `imaging::probe` and the peak-memory estimate on arbitrary bytes, whole and as a 64 KiB
//! prefix: never a panic, and a prefix never admits what the whole file refuses.
#![no_main]

use image_pipeline::imaging::{
    Fit, HEADER_PREFIX_BYTES, Limits, OutputFormat, PeakEstimate, Plan, Target, estimate_peak,
    probe,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let plan = Plan {
        targets: vec![Target {
            label: "t".to_owned(),
            width: 400,
            height: 300,
            fit: Fit::Inside,
            format: OutputFormat::Original,
        }],
        ..Plan::default()
    };
    let probed = probe(data, &Limits::default());
    let whole = estimate_peak(data, data.len() as u64, &plan);
    let cut = data.len().min(HEADER_PREFIX_BYTES as usize);
    let prefix = estimate_peak(&data[..cut], data.len() as u64, &plan);
    if let (Ok(PeakEstimate::Bytes(_)), Err(e)) = (&prefix, &whole) {
        // Only frames past the prefix may be missed (counted when the file is processed).
        if let image_pipeline::imaging::ImagingError::TooLarge { what, .. } = e {
            assert_eq!(*what, "the frame count", "the prefix admitted a bomb: {e}");
        }
    }
    if probed.is_ok() {
        assert!(whole.is_ok(), "probe accepted but the estimate refused: {whole:?}");
    }
});
