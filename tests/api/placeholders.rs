//! Resize's summary of the source: `sha256:` content hash of the uploaded bytes, the
//! perceptual hash and the placeholders, in image.resized and on the record.

use crate::helpers::*;
use image_pipeline::domain::StageUpdate;
use sha2::{Digest, Sha256};

#[actix_web::test]
async fn image_resized_and_the_record_carry_the_content_hash_phash_and_placeholders() {
    let app = spawn_app(&[]).await;
    let upload = jpeg(1200, 800);
    let want_hash: String = Sha256::digest(&upload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    app.upload_and_notify("/resize", "p.jpg", &upload, "image/jpeg")
        .await;
    let published = app.publisher.take();
    let (status, _) = app
        .deliver("/record", &published[0], &next_event_id())
        .await;

    assert_eq!(status, 200);
    let StageUpdate::Resized { summary, .. } = &published[0].data.update else {
        panic!("expected image.resized, got {published:?}");
    };
    let summary = summary.as_ref().expect("a summary in image.resized");
    assert_eq!(
        summary.content_hash.as_deref(),
        Some(format!("sha256:{want_hash}").as_str())
    );
    let record = app.records.record(BUCKET, "p.jpg").unwrap();
    assert_eq!(record.content_hash, summary.content_hash);
    let phash = record.phash.expect("a perceptual hash on the record");
    assert!(
        phash.len() == 16 && phash.chars().all(|c| c.is_ascii_hexdigit()),
        "{phash}"
    );
    let placeholder = record.placeholder.expect("placeholders on the record");
    assert_eq!(Some(&placeholder), summary.placeholder.as_ref());
    assert!(placeholder.color.starts_with('#') && placeholder.color.len() == 7);
    assert!(placeholder.blurhash.len() >= 6 && !placeholder.thumbhash.is_empty());
}
