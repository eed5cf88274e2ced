//! The record's `srcset`: one HTML `srcset` string per output format, from the variants the
//! resize route really wrote (`URL 400w, URL 800w, ...`). Widths are the written ones, not
//! the configured boxes: a small source is never enlarged, so two sizes can come out at the
//! same width (listed once) or narrower than their box. Pure string rules; the base URL
//! comes from the settings (`resize.public_base_url`).

use super::VariantInfo;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::BTreeMap;

/// Characters kept as they are in a path segment: RFC 3986 unreserved ones and `@` (a
/// path character there, and the size/format separator of output names, kept readable);
/// everything else, `,` and spaces included (separators in a `srcset`), is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'@');

/// The placeholder in `resize.public_base_url` replaced by an output's bucket.
pub const BUCKET_PLACEHOLDER: &str = "{bucket}";

/// The public URL of `bucket`/`name` under `base_url`: `{bucket}` replaced by the bucket, a
/// `/` added when the base has none at its end, and every `/`-separated segment of the name
/// percent-encoded (the slashes kept).
pub fn object_url(base_url: &str, bucket: &str, name: &str) -> String {
    let mut url = base_url.replace(BUCKET_PLACEHOLDER, &encode_segment(bucket));
    if !url.ends_with('/') {
        url.push('/');
    }
    let segments: Vec<String> = name.split('/').map(encode_segment).collect();
    url.push_str(&segments.join("/"));
    url
}

fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// `format` → `"URL 400w, URL 800w"` for every format among `variants`, widths ascending;
/// of two variants of one format and width (sizes that came out alike) the first listed
/// is kept. Formats without a variant are absent.
pub fn srcsets(variants: &[VariantInfo], base_url: &str) -> BTreeMap<String, String> {
    let mut by_format: BTreeMap<&str, BTreeMap<u32, &VariantInfo>> = BTreeMap::new();
    for v in variants {
        by_format
            .entry(v.format.as_str())
            .or_default()
            .entry(v.width)
            .or_insert(v);
    }
    by_format
        .into_iter()
        .map(|(format, by_width)| {
            let candidates: Vec<String> = by_width
                .into_iter()
                .map(|(width, v)| format!("{} {width}w", object_url(base_url, &v.bucket, &v.name)))
                .collect();
            (format.to_owned(), candidates.join(", "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://storage.googleapis.com/{bucket}/";

    fn variant(size: &str, format: &str, name: &str, width: u32) -> VariantInfo {
        VariantInfo {
            size: size.to_owned(),
            bucket: "out".to_owned(),
            name: name.to_owned(),
            width,
            height: width * 2 / 3,
            bytes: 1,
            format: format.to_owned(),
            frames: None,
        }
    }

    #[test]
    fn each_format_lists_its_written_widths_in_ascending_order() {
        let variants = [
            variant("large", "jpeg", "r/large/a.jpg", 1440),
            variant("small", "jpeg", "r/small/a.jpg", 400),
            variant("medium", "jpeg", "r/medium/a.jpg", 800),
            variant("small", "webp", "r/small@webp/a.jpg.webp", 400),
        ];

        let srcset = srcsets(&variants, BASE);

        assert_eq!(
            srcset["jpeg"],
            "https://storage.googleapis.com/out/r/small/a.jpg 400w, \
             https://storage.googleapis.com/out/r/medium/a.jpg 800w, \
             https://storage.googleapis.com/out/r/large/a.jpg 1440w"
        );
        assert_eq!(
            srcset["webp"],
            "https://storage.googleapis.com/out/r/small@webp/a.jpg.webp 400w"
        );
        assert_eq!(srcset.len(), 2);
    }

    #[test]
    fn a_small_source_lists_the_widths_it_really_got_not_the_configured_boxes() {
        // A 640 px wide source under boxes of 1920, 800 and 400: never enlarged, so the
        // large and medium sizes are both 640 wide.
        let variants = [
            variant("large", "jpeg", "r/large/a.jpg", 640),
            variant("medium", "jpeg", "r/medium/a.jpg", 640),
            variant("small", "jpeg", "r/small/a.jpg", 400),
        ];

        let srcset = srcsets(&variants, "https://cdn.example/");

        assert_eq!(
            srcset["jpeg"],
            "https://cdn.example/r/small/a.jpg 400w, https://cdn.example/r/large/a.jpg 640w"
        );
    }

    #[test]
    fn names_are_percent_encoded_per_segment_with_the_slashes_kept() {
        let url = object_url(BASE, "out", "r/large/My cat #1?ä,b.jpg");

        assert_eq!(
            url,
            "https://storage.googleapis.com/out/r/large/My%20cat%20%231%3F%C3%A4%2Cb.jpg"
        );
    }

    #[test]
    fn a_base_url_with_or_without_its_trailing_slash_gives_the_same_url() {
        let with = object_url("https://cdn.example/img/", "b", "a.jpg");
        let without = object_url("https://cdn.example/img", "b", "a.jpg");

        assert_eq!(with, "https://cdn.example/img/a.jpg");
        assert_eq!(without, with);
    }

    #[test]
    fn the_bucket_placeholder_is_replaced_wherever_it_is() {
        let url = object_url(
            "http://127.0.0.1:8080/console/files/{bucket}",
            "up",
            "a.jpg",
        );

        assert_eq!(url, "http://127.0.0.1:8080/console/files/up/a.jpg");
    }

    #[test]
    fn no_variants_give_no_srcset() {
        assert!(srcsets(&[], BASE).is_empty());
    }
}
