//! `resize.formats`: every size is written in every listed format, the first under today's
//! name and the others under `<prefix>/<size>@<format>/<name>.<ext>`; the record lists each
//! variant with its size and format; deleting the source removes them all.

use crate::helpers::*;
use image_pipeline::domain::StageUpdate;

const FORMATS: (&str, &str) = ("PIPELINE_RESIZE__FORMATS", "original,webp,avif");

/// (name suffix folder, extension, content type) of each listed format.
const WRITTEN: [(&str, &str, &str); 3] = [
    ("", "", "image/jpeg"),
    ("@webp", ".webp", "image/webp"),
    ("@avif", ".avif", "image/avif"),
];

fn avif_size(avif: &[u8]) -> (u32, u32) {
    assert_eq!(&avif[4..12], b"ftypavif", "not an AVIF");
    let at = avif
        .windows(4)
        .position(|w| w == b"ispe")
        .expect("an ispe box");
    let be = |i: usize| u32::from_be_bytes(avif[i..i + 4].try_into().unwrap());
    (be(at + 8), be(at + 12))
}

#[actix_web::test]
async fn every_size_is_written_in_every_listed_format_with_the_same_dimensions() {
    let app = spawn_app(&[FORMATS]).await;

    let (_, status, body) = app
        .upload_and_notify("/resize", "cats/tom.jpg", &jpeg(2400, 1600), "image/jpeg")
        .await;

    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    for (size, expected) in [
        ("large", (1620, 1080)),
        ("medium", (800, 533)),
        ("small", (400, 267)),
    ] {
        for (folder, ext, content_type) in WRITTEN {
            let name = format!("resized/{size}{folder}/cats/tom.jpg{ext}");
            let (meta, bytes) = app
                .store
                .get(BUCKET, &name)
                .unwrap_or_else(|| panic!("{name}"));
            let got = match ext {
                ".avif" => avif_size(&bytes),
                _ => dimensions(&bytes),
            };
            assert_eq!(got, expected, "{name}");
            assert_eq!(meta.content_type.as_deref(), Some(content_type), "{name}");
        }
    }
    let published = app.publisher.take();
    let StageUpdate::Resized { variants, .. } = &published[0].data.update else {
        panic!("expected image.resized, got {published:?}");
    };
    assert_eq!(variants.len(), 9);
    let webp_large = variants
        .iter()
        .find(|v| v.name == "resized/large@webp/cats/tom.jpg.webp");
    let webp_large = webp_large.expect("the large WebP in the record");
    assert_eq!(
        (webp_large.size.as_str(), webp_large.format.as_str()),
        ("large", "webp")
    );
    assert_eq!((webp_large.width, webp_large.height), (1620, 1080));
}

#[actix_web::test]
async fn deleting_the_source_removes_the_outputs_of_every_format() {
    let app = spawn_app(&[FORMATS]).await;
    let (info, _, _) = app
        .upload_and_notify("/resize", "tom.jpg", &jpeg(900, 600), "image/jpeg")
        .await;

    let (status, _) = app
        .storage_event("/resize", DELETED, &info, &next_event_id())
        .await;

    assert_eq!(status, 200);
    for (folder, ext, _) in WRITTEN {
        let name = format!("resized/small{folder}/tom.jpg{ext}");
        assert!(
            app.store.get(BUCKET, &name).is_none(),
            "{name} is still there"
        );
    }
}
