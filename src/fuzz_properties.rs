//! A quick property-based pass over the entry points the `fuzz/` targets exercise (the
//! image header and memory estimate, the metadata stripper, the CloudEvent parser, the
//! event payload parsers), bounded so it runs in `cargo test`. The long runs are
//! `fuzz/README.md`'s. Inputs are mutations of valid seeds, so the parsers get past their
//! first checks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use proptest::prelude::*;

use crate::cloudevent::CloudEvent;
use crate::events;
use crate::imaging::{
    self, Fit, HEADER_PREFIX_BYTES, ImagingError, Limits, OutputFormat, PeakEstimate, Plan, Target,
};

/// Small valid files of each format the header reads, to mutate.
fn image_seeds() -> Vec<Vec<u8>> {
    use image::{DynamicImage, ImageFormat, RgbImage};
    let img = DynamicImage::ImageRgb8(RgbImage::from_fn(24, 16, |x, y| {
        image::Rgb([(x * 9) as u8, (y * 13) as u8, 77])
    }));
    let formats = [
        ImageFormat::Png,
        ImageFormat::Gif,
        ImageFormat::WebP,
        ImageFormat::Bmp,
        ImageFormat::Tiff,
    ];
    let mut seeds: Vec<Vec<u8>> = formats
        .iter()
        .map(|f| {
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, *f).unwrap();
            out.into_inner()
        })
        .collect();
    let rgb = img.to_rgb8();
    let mut jpeg = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
    jpeg.set_size(24, 16);
    jpeg.set_fastest_defaults();
    jpeg.set_quality(80.0);
    let mut started = jpeg.start_compress(Vec::new()).unwrap();
    started.write_scanlines(rgb.as_raw()).unwrap();
    let jpeg = started.finish().unwrap();
    seeds.push(jpeg.to_vec());
    seeds
}

/// A seed with up to 8 bytes overwritten, a cut, and some bytes appended.
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    (
        0..n,
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        any::<usize>(),
        prop::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(move |(i, edits, cut, tail)| {
            let mut bytes = seeds[i].clone();
            for (at, b) in edits {
                let len = bytes.len().max(1);
                if let Some(slot) = bytes.get_mut(at % len) {
                    *slot = b;
                }
            }
            bytes.truncate(cut % (bytes.len() + 1) + bytes.len() / 2);
            bytes.extend_from_slice(&tail);
            bytes
        })
}

fn one_target_plan() -> Plan {
    Plan {
        targets: vec![Target {
            label: "t".to_owned(),
            width: 10,
            height: 10,
            fit: Fit::Inside,
            format: OutputFormat::Original,
        }],
        ..Plan::default()
    }
}

fn headers_from(lines: &[(String, String)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in lines {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    headers
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_header_and_the_estimate_never_panic_and_a_prefix_never_admits_a_bomb(
        input in mutated(image_seeds())
    ) {
        let plan = one_target_plan();
        let probed = imaging::probe(&input, &Limits::default());
        let whole = imaging::estimate_peak(&input, input.len() as u64, &plan);
        let cut = input.len().min(HEADER_PREFIX_BYTES as usize);
        let prefix = imaging::estimate_peak(&input[..cut], input.len() as u64, &plan);
        // Frames past the prefix are counted when the whole file is processed.
        if let (Ok(PeakEstimate::Bytes(_)), Err(ImagingError::TooLarge { what, .. })) =
            (&prefix, &whole)
        {
            prop_assert!(*what == "the frame count", "the prefix admitted a bomb: {whole:?}");
        }
        prop_assert!(probed.is_err() || whole.is_ok(), "{whole:?}");
    }

    #[test]
    fn the_stripper_never_grows_its_input_and_is_idempotent(
        input in mutated(image_seeds()),
        keep_icc in any::<bool>(),
    ) {
        if let Some(out) = imaging::strip_metadata(&input, keep_icc) {
            prop_assert!(out.len() <= input.len());
            prop_assert_eq!(imaging::strip_metadata(&out, keep_icc), Some(out));
        }
    }

    #[test]
    fn the_cloudevent_parser_never_panics_on_any_headers_and_body(
        lines in prop::collection::vec(
            (prop::sample::select(vec![
                "ce-id", "ce-source", "ce-specversion", "ce-type", "ce-subject", "ce-time",
                "content-type", "ce-datacontenttype", "ce-x",
            ]).prop_map(str::to_owned), "[ -~%]{0,24}"),
            0..8,
        ),
        body in prop::collection::vec(any::<u8>(), 0..256),
        structured in any::<bool>(),
    ) {
        let mut headers = headers_from(&lines);
        if structured {
            headers.insert(
                actix_web::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/cloudevents+json"),
            );
        }
        if let Ok(event) = CloudEvent::from_http(&headers, Bytes::from(body)) {
            let _ = events::parse(&event);
        }
    }

    #[test]
    fn the_payload_parsers_never_panic_on_any_data(
        ty in prop::sample::select(vec![
            "google.cloud.storage.object.v1.finalized",
            "google.cloud.pubsub.topic.v1.messagePublished",
            "google.cloud.firestore.document.v1.written",
            "google.cloud.audit.log.v1.written",
        ]),
        content_type in prop::sample::select(vec!["application/json", "application/protobuf", ""]),
        data in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            "\\{\"(bucket|name|generation|message|data|value)\":[ -~]{0,40}\\}"
                .prop_map(String::into_bytes),
        ],
    ) {
        let content_type = (!content_type.is_empty()).then(|| content_type.to_owned());
        let event = CloudEvent::new("id", "//test", ty, Bytes::from(data), content_type);
        if let Ok(events::EventData::PubSub(message)) = events::parse(&event) {
            let _ = message.decoded_data();
        }
    }
}
