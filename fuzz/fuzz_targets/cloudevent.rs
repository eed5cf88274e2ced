//! `CloudEvent::from_http` (binary and structured mode), then the payload parser. The input
//! is an HTTP head and body: `name: value` lines, an empty line, the body.
#![no_main]

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use image_pipeline::cloudevent::CloudEvent;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(data.len());
    let mut headers = HeaderMap::new();
    for line in data[..split].split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = line[colon + 1..].trim_ascii_start();
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(n, v);
        }
    }
    let body = Bytes::copy_from_slice(data.get(split + 2..).unwrap_or_default());
    if let Ok(event) = CloudEvent::from_http(&headers, body) {
        let _ = image_pipeline::events::parse(&event);
        let _ = event.binary_headers();
    }
});
