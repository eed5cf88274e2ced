//! One download and one decode per request (issue 25): `POST /` on a service with resize and
//! thumbnail runs one imaging job for both, and each route still writes, announces and
//! fails on its own.

use crate::fakes::MemoryStore;
use crate::helpers::*;
use crate::metrics::{sample, scrape};
use image_pipeline::domain::StageUpdate;
use std::sync::atomic::Ordering;

const BOTH: &[(&str, &str)] = &[("PIPELINE_ROUTES", "resize,thumbnail")];
const RESIZED: [&str; 3] = [
    "resized/large/p.jpg",
    "resized/medium/p.jpg",
    "resized/small/p.jpg",
];
const THUMBNAIL: &str = "thumbnails/p.jpg";

/// How many decodes the service timed, over every route.
async fn decodes(app: &TestApp) -> f64 {
    let text = scrape(app).await;
    ["resize", "thumbnail"]
        .iter()
        .filter_map(|route| {
            let series = format!(
                r#"image_pipeline_stage_duration_seconds_count{{route="{route}",stage="decode"}}"#
            );
            sample(&text, &series)
        })
        .sum()
}

fn body_of(store: &MemoryStore, name: &str) -> Vec<u8> {
    let (_, body) = store
        .get(BUCKET, name)
        .unwrap_or_else(|| panic!("{name} was not written"));
    body.to_vec()
}

/// Mean absolute difference per channel of two equally sized images.
fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    let (a, b) = (
        image::load_from_memory(a).unwrap().to_rgb8(),
        image::load_from_memory(b).unwrap().to_rgb8(),
    );
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

/// A PNG whose pixel data is damaged: a valid header, a decode that fails.
fn png_with_damaged_pixels() -> Vec<u8> {
    let mut bytes = png_with_alpha(640, 480);
    let idat = bytes.windows(4).position(|w| w == b"IDAT").unwrap();
    for byte in &mut bytes[idat + 100..idat + 300] {
        *byte ^= 0x55;
    }
    bytes
}

#[actix_web::test]
async fn post_to_root_downloads_and_decodes_once_for_resize_and_thumbnail() {
    let combined = spawn_app(BOTH).await;
    let separate = spawn_app(BOTH).await;
    let photo = jpeg(2400, 1600);

    let (_, status, body) = combined
        .upload_and_notify("/", "p.jpg", &photo, "image/jpeg")
        .await;
    let (info, _, _) = separate
        .upload_and_notify("/resize", "p.jpg", &photo, "image/jpeg")
        .await;
    separate
        .storage_event("/thumbnail", FINALIZED, &info, &next_event_id())
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "processed", "{body}");
    assert_eq!(
        combined.store.reads.load(Ordering::SeqCst),
        1,
        "one download for both routes"
    );
    assert_eq!(decodes(&combined).await, 1.0, "one decode for both routes");
    assert_eq!(
        separate.store.reads.load(Ordering::SeqCst),
        2,
        "the two-route path downloads twice"
    );
    assert_eq!(decodes(&separate).await, 2.0);
    for name in RESIZED {
        assert_eq!(
            body_of(&combined.store, name),
            body_of(&separate.store, name),
            "{name} differs"
        );
    }
    // The thumbnail is cut from the raster decoded for the largest size (alone it decodes at
    // 1/8 scale), so its bytes differ; it must be the same picture.
    let (shared, alone) = (
        body_of(&combined.store, THUMBNAIL),
        body_of(&separate.store, THUMBNAIL),
    );
    assert_eq!(dimensions(&shared), (200, 200));
    assert!(
        mean_abs_diff(&shared, &alone) < 3.0,
        "the shared thumbnail is another picture"
    );
    let mut types = combined.publisher.types();
    types.sort_unstable();
    assert_eq!(types, ["image.resized", "image.thumbnailed"]);
    // Cut in the same job as the sizes, the thumbnail still gets its square's placeholder
    // (BlurHash `U`: 4x4 components), as when it runs alone, not the 4:3 photo's (`L`).
    for app in [&combined, &separate] {
        let blurhash = thumbnail_blurhash(&app.publisher.take());
        assert!(blurhash.starts_with('U'), "{blurhash}");
    }
}

/// The BlurHash of the thumbnail's placeholder in the published `image.thumbnailed`.
fn thumbnail_blurhash(published: &[image_pipeline::domain::PipelineEvent]) -> String {
    published
        .iter()
        .find_map(|e| match &e.data.update {
            StageUpdate::Thumbnailed { placeholder, .. } => {
                placeholder.as_ref().map(|p| p.blurhash.clone())
            }
            _ => None,
        })
        .expect("an image.thumbnailed with a placeholder")
}

#[actix_web::test]
async fn a_named_route_on_a_service_with_both_makes_only_its_own_outputs() {
    let app = spawn_app(BOTH).await;

    let (_, status, body) = app
        .upload_and_notify("/thumbnail", "p.jpg", &jpeg(2400, 1600), "image/jpeg")
        .await;

    assert_eq!(status, 200, "{body}");
    assert!(app.store.get(BUCKET, THUMBNAIL).is_some());
    assert!(
        RESIZED
            .iter()
            .all(|name| app.store.get(BUCKET, name).is_none()),
        "resize ran too"
    );
    assert_eq!(app.publisher.types(), ["image.thumbnailed"]);
}

#[actix_web::test]
async fn a_corrupt_image_fails_both_routes_with_the_same_reason_from_one_download() {
    let app = spawn_app(BOTH).await;

    let (_, status, body) = app
        .upload_and_notify("/", "p.png", &png_with_damaged_pixels(), "image/png")
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "rejected", "{body}");
    assert_eq!(
        app.store.reads.load(Ordering::SeqCst),
        1,
        "the second route downloaded again"
    );
    let failures: Vec<(String, String)> = app
        .publisher
        .take()
        .into_iter()
        .map(|event| match event.data.update {
            StageUpdate::Failed {
                failed_stage,
                reason,
            } => (failed_stage, reason),
            other => panic!("not a failure: {other:?}"),
        })
        .collect();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(
        (failures[0].0.as_str(), failures[1].0.as_str()),
        ("resize", "thumbnail")
    );
    assert_eq!(
        failures[0].1, failures[1].1,
        "the two routes tell different stories"
    );
}

#[actix_web::test]
async fn a_failed_write_of_one_route_costs_the_other_no_decode_and_a_redelivery_finishes_it() {
    let app = spawn_app(BOTH).await;
    *app.store.fail_once_for.lock().unwrap() = Some(RESIZED[1].to_owned());
    let info = app
        .store
        .insert(BUCKET, "p.jpg", &jpeg(2400, 1600), &Default::default());
    let id = next_event_id();

    let (first_status, first) = app.storage_event("/", FINALIZED, &info, &id).await;
    let thumbnail_after_first = app.store.get(BUCKET, THUMBNAIL);
    let reads_after_first = app.store.reads.load(Ordering::SeqCst);
    let (second_status, second) = app.storage_event("/", FINALIZED, &info, &id).await;

    assert_eq!(first_status, 503, "{first}");
    assert_eq!(first["results"][0]["outcome"], "retry", "{first}");
    assert_eq!(first["results"][1]["outcome"], "processed", "{first}");
    assert!(
        thumbnail_after_first.is_some(),
        "the thumbnail waited for resize's write"
    );
    assert_eq!(
        reads_after_first, 1,
        "the thumbnail decoded again after resize's failed write"
    );
    assert_eq!(second_status, 200, "{second}");
    assert_eq!(second["results"][0]["outcome"], "processed", "{second}");
    assert_eq!(second["results"][1]["outcome"], "duplicate", "{second}");
    for name in RESIZED {
        assert!(
            app.store.get(BUCKET, name).is_some(),
            "{name} missing after the redelivery"
        );
    }
    let (thumbnail, _) = app.store.get(BUCKET, THUMBNAIL).unwrap();
    assert_eq!(
        thumbnail.generation,
        thumbnail_after_first.unwrap().0.generation,
        "rewritten"
    );
    let mut types = app.publisher.types();
    types.sort_unstable();
    assert_eq!(
        types,
        ["image.resized", "image.thumbnailed"],
        "announced twice or not at all"
    );
}
