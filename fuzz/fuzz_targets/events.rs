//! The event payload parsers (`events::parse`) on arbitrary data. The input is the
//! `ce-type` line, the content-type line, then the data.
#![no_main]

use bytes::Bytes;
use image_pipeline::cloudevent::CloudEvent;
use image_pipeline::events::{self, EventData};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let ty = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let content_type = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let data = Bytes::copy_from_slice(parts.next().unwrap_or_default());
    let content_type = (!content_type.is_empty()).then_some(content_type);
    let event = CloudEvent::new("id", "//fuzz", ty, data, content_type);
    if let Ok(EventData::PubSub(message)) = events::parse(&event) {
        let _ = message.decoded_data();
    }
});
