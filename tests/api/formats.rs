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

const THUMBNAIL_FORMATS: (&str, &str) = ("PIPELINE_THUMBNAIL__FORMATS", "original,webp,avif");

#[actix_web::test]
async fn the_thumbnail_is_written_in_every_listed_format_with_its_own_placeholder() {
    let app = spawn_app(&[THUMBNAIL_FORMATS]).await;

    let (_, status, body) = app
        .upload_and_notify("/thumbnail", "cats/tom.jpg", &jpeg(900, 600), "image/jpeg")
        .await;

    assert_eq!(status, 200, "{body}");
    for (name, content_type) in [
        ("thumbnails/cats/tom.jpg", "image/jpeg"),
        ("thumbnails@webp/cats/tom.jpg.webp", "image/webp"),
        ("thumbnails@avif/cats/tom.jpg.avif", "image/avif"),
    ] {
        let (meta, bytes) = app
            .store
            .get(BUCKET, name)
            .unwrap_or_else(|| panic!("{name}"));
        let size = match content_type {
            "image/avif" => avif_size(&bytes),
            _ => dimensions(&bytes),
        };
        assert_eq!(size, (200, 200), "{name}");
        assert_eq!(meta.content_type.as_deref(), Some(content_type), "{name}");
    }
    let published = app.publisher.take();
    let StageUpdate::Thumbnailed {
        thumbnail,
        formats,
        placeholder,
        warnings,
    } = &published[0].data.update
    else {
        panic!("expected image.thumbnailed, got {published:?}");
    };
    assert_eq!(thumbnail.name, "thumbnails/cats/tom.jpg");
    let further: Vec<(&str, &str)> = formats
        .iter()
        .map(|v| (v.size.as_str(), v.format.as_str()))
        .collect();
    assert_eq!(further, [("thumbnail", "webp"), ("thumbnail", "avif")]);
    // BlurHash 4x4 (`U`): the square thumbnail's, not the 3:2 photo's.
    let placeholder = placeholder.as_ref().expect("a placeholder");
    assert!(placeholder.blurhash.starts_with('U'), "{placeholder:?}");
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[actix_web::test]
async fn deleting_the_source_removes_the_thumbnail_in_every_format() {
    let app = spawn_app(&[THUMBNAIL_FORMATS]).await;
    let (info, _, _) = app
        .upload_and_notify("/thumbnail", "tom.jpg", &jpeg(900, 600), "image/jpeg")
        .await;

    let (status, _) = app
        .storage_event("/thumbnail", DELETED, &info, &next_event_id())
        .await;

    assert_eq!(status, 200);
    for name in [
        "thumbnails/tom.jpg",
        "thumbnails@webp/tom.jpg.webp",
        "thumbnails@avif/tom.jpg.avif",
    ] {
        assert!(
            app.store.get(BUCKET, name).is_none(),
            "{name} is still there"
        );
    }
}

#[actix_web::test]
async fn image_resized_carries_a_srcset_per_format_of_the_widths_really_written() {
    let base = (
        "PIPELINE_RESIZE__PUBLIC_BASE_URL",
        "https://cdn.example/{bucket}",
    );
    let app = spawn_app(&[("PIPELINE_RESIZE__FORMATS", "original,webp"), base]).await;

    // 640x480 under boxes of 1920x1080, 800x600 and 400x300: large and medium both stay
    // 640 wide (never enlarged).
    app.upload_and_notify("/resize", "my cat #1.jpg", &jpeg(640, 480), "image/jpeg")
        .await;

    let published = app.publisher.take();
    let StageUpdate::Resized { srcset, .. } = &published[0].data.update else {
        panic!("expected image.resized, got {published:?}");
    };
    let url = |folder: &str, ext: &str| {
        format!("https://cdn.example/uploads/resized/{folder}/my%20cat%20%231.jpg{ext}")
    };
    assert_eq!(
        srcset["jpeg"],
        format!("{} 400w, {} 640w", url("small", ""), url("large", ""))
    );
    assert_eq!(
        srcset["webp"],
        format!(
            "{} 400w, {} 640w",
            url("small@webp", ".webp"),
            url("large@webp", ".webp")
        )
    );
}

/// The real photos the done-when check runs on (`../shared/bench-images`, or
/// BENCH_IMAGES_DIR): a 12 MP JPEG and a 2 MP one.
fn bench_photos() -> Vec<std::path::PathBuf> {
    let dir = std::env::var_os("BENCH_IMAGES_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/bench-images").into());
    ["olympus-ep3-4032x3024.jpg", "casio-exm2-1600x1200.jpg"]
        .iter()
        .map(|name| dir.join(name))
        .inspect(|path| assert!(path.is_file(), "{} is missing", path.display()))
        .collect()
}

/// The format an output's bytes are, from their magic numbers.
fn sniffed(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xFF, 0xD8, ..] => "jpeg",
        [0x89, b'P', b'N', b'G', ..] => "png",
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => "webp",
        _ if bytes.get(4..12) == Some(b"ftypavif") => "avif",
        _ => "unknown",
    }
}

/// One variant of a `process --json` record, checked against its file and its box: it
/// decodes as its format at the record's dimensions, fits its box, is never larger than
/// the source and keeps its aspect ratio (within the rounding of one pixel).
fn check_variant(data: &std::path::Path, source: (u64, u64), variant: &serde_json::Value) {
    let name = variant["name"].as_str().unwrap();
    let bytes = std::fs::read(data.join("buckets/uploads").join(name)).unwrap();
    let format = variant["format"].as_str().unwrap();
    assert_eq!(sniffed(&bytes), format, "{name}");
    let (w, h) = match format {
        "avif" => avif_size(&bytes),
        _ => dimensions(&bytes),
    };
    let recorded = (
        variant["width"].as_u64().unwrap(),
        variant["height"].as_u64().unwrap(),
    );
    assert_eq!((u64::from(w), u64::from(h)), recorded, "{name}");
    let (bw, bh) = match variant["size"].as_str().unwrap() {
        "large" => (1920, 1080),
        "medium" => (800, 600),
        _ => (400, 300),
    };
    let (w, h, (sw, sh)) = (u64::from(w), u64::from(h), source);
    assert!(w <= bw && h <= bh, "{name}: {w}x{h} is outside {bw}x{bh}");
    assert!(w <= sw && h <= sh, "{name}: {w}x{h} enlarges {sw}x{sh}");
    assert!(
        w == sw || w == bw || h == bh,
        "{name}: {w}x{h} does not fill its box"
    );
    let off = (w * sh).abs_diff(h * sw);
    assert!(
        off <= sw.max(sh),
        "{name}: {w}x{h} loses the aspect of {sw}x{sh}"
    );
}

/// The widths a srcset string lists, in its order.
fn srcset_widths(srcset: &str) -> Vec<u64> {
    srcset
        .split(", ")
        .map(|candidate| {
            let (_, width) = candidate.rsplit_once(' ').unwrap();
            width.trim_end_matches('w').parse().unwrap()
        })
        .collect()
}

/// The done-when check: `process --json` with `original,webp,avif` on real photos
/// and an RGBA PNG writes every size in every format, each decoding as its format at the
/// record's dimensions, never enlarged, aspect kept; the AVIF is smaller than the JPEG of
/// the same size, at 32 dB or more against a Lanczos reference (`avif_quality`); the
/// record's srcset lists the widths written.
#[test]
fn process_writes_every_size_of_real_photos_and_an_rgba_png_in_every_listed_format() {
    let dir = tempfile::tempdir().unwrap();
    let rgba = dir.path().join("sticker.png");
    std::fs::write(&rgba, png_with_alpha(640, 480)).unwrap();
    let mut inputs = bench_photos();
    inputs.push(rgba);
    let no_model = dir.path().join("no-model");

    let (records, stderr) =
        crate::builtin_moderation::run_process(dir.path(), &no_model, &[FORMATS], &inputs);

    let data = dir.path().join("data");
    for record in &records {
        let source = (
            record["width"].as_u64().unwrap(),
            record["height"].as_u64().unwrap(),
        );
        let variants = record["variants"].as_array().unwrap();
        assert_eq!(variants.len(), 9, "{record} {stderr}");
        assert_eq!(record["warnings"], serde_json::json!([]), "{record}");
        for variant in variants {
            check_variant(&data, source, variant);
        }
        let first = variants[0]["format"].as_str().unwrap();
        for format in [first, "webp", "avif"] {
            let of_format = variants.iter().filter(|v| v["format"] == format);
            let mut widths: Vec<u64> = of_format.map(|v| v["width"].as_u64().unwrap()).collect();
            widths.sort_unstable();
            widths.dedup();
            let srcset = record["srcset"][format].as_str().unwrap();
            assert_eq!(srcset_widths(srcset), widths, "{srcset}");
        }
        for field in ["contentHash", "phash"] {
            assert!(record[field].is_string(), "{field} in {record}");
        }
    }
    let named = |name: &str| records.iter().find(|r| r["name"] == name).unwrap();
    for source in &inputs[..2] {
        let name = source.file_name().unwrap().to_str().unwrap();
        crate::avif_quality::check_avif_quality(&data, source, named(name));
    }
    let photo = named("olympus-ep3-4032x3024.jpg");
    for size in ["large", "medium", "small"] {
        let bytes_of = |format: &str| {
            let variants = photo["variants"].as_array().unwrap();
            let found = variants
                .iter()
                .find(|v| v["size"] == size && v["format"] == format);
            found.unwrap()["bytes"].as_u64().unwrap()
        };
        assert!(bytes_of("avif") < bytes_of("jpeg"), "{size}: {photo}");
    }
    // The small PNG is never enlarged: large and medium are both 640 wide, listed once.
    let sticker = named("sticker.png");
    assert_eq!(
        srcset_widths(sticker["srcset"]["png"].as_str().unwrap()),
        [400, 640]
    );
    // Its alpha is kept in AVIF (an auxiliary alpha image) and WebP.
    let file = |folder: &str, ext: &str| {
        std::fs::read(data.join(format!(
            "buckets/uploads/resized/small{folder}/sticker.png{ext}"
        )))
        .unwrap()
    };
    let alpha_marker: &[u8] = b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha";
    assert!(
        file("@avif", ".avif")
            .windows(alpha_marker.len())
            .any(|w| w == alpha_marker)
    );
    let webp = image::load_from_memory(&file("@webp", ".webp")).unwrap();
    assert!(webp.color().has_alpha());
}
