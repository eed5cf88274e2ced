//! One upload's work never lands on another's (issue 22): outputs of every upload of a name
//! share their names, so a late verdict, or a derive run whose source was deleted or
//! overwritten while it wrote, must act on its own source generation's outputs only.

use crate::derived_marker::{TEST_SIGNING_KEY, signed_meta};
use crate::fakes::MemoryStore;
use crate::helpers::*;
use crate::policies::racy;
use async_trait::async_trait;
use bytes::Bytes;
use image_pipeline::backends::{BackendResult, ObjectPage, ObjectStore, Records};
use image_pipeline::domain::PutOutcome;
use image_pipeline::domain::object::DERIVED_MARKER_KEY;
use image_pipeline::domain::record::StageEvent;
use image_pipeline::domain::{Moderation, ObjectInfo, ObjectMeta, ObjectRef, PipelineEvent};
use image_pipeline::domain::{RecordKey, StageUpdate, Verdict, WriteCondition};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

const SIGNED: [(&str, &str); 1] = [("PIPELINE_DERIVED__SIGNING_KEY", TEST_SIGNING_KEY)];

const SIZES: [&str; 3] = ["large", "medium", "small"];

fn outputs_of(name: &str) -> Vec<String> {
    SIZES
        .iter()
        .map(|size| format!("resized/{size}/{name}"))
        .collect()
}

/// What another client does to the source just before the first output is written.
enum Race {
    /// Deletes the source.
    Delete(String),
    /// Overwrites the source with new bytes, and (as that upload's own run would) writes
    /// the new generation's outputs at these names.
    Overwrite {
        name: String,
        body: Vec<u8>,
        newer_outputs: Vec<String>,
    },
}

/// The memory store with one race injected before the first write of a derived object.
struct RacingStore {
    inner: Arc<MemoryStore>,
    race: Mutex<Option<Race>>,
}

impl RacingStore {
    fn wrap(race: Race) -> impl FnOnce(Arc<MemoryStore>) -> Arc<dyn ObjectStore> {
        move |inner| {
            Arc::new(Self {
                inner,
                race: Mutex::new(Some(race)),
            })
        }
    }

    async fn run(&self, race: Race) {
        match race {
            Race::Delete(name) => {
                let deleted = self.inner.delete(&ObjectRef::new(BUCKET, name)).await;
                assert!(deleted.unwrap(), "the race deleted the source");
            }
            Race::Overwrite {
                name,
                body,
                newer_outputs,
            } => {
                let newer = self.inner.insert(BUCKET, &name, &body, &jpeg_meta());
                // Written as the service writes its outputs: signed, they share the bucket.
                for output in newer_outputs {
                    let meta = signed_meta(&output, newer.generation);
                    self.inner.insert(BUCKET, &output, b"newer output", &meta);
                }
            }
        }
    }
}

#[async_trait]
impl ObjectStore for RacingStore {
    async fn stat(&self, obj: &ObjectRef) -> BackendResult<ObjectInfo> {
        self.inner.stat(obj).await
    }
    async fn read(&self, obj: &ObjectRef) -> BackendResult<Bytes> {
        self.inner.read(obj).await
    }
    async fn read_prefix(&self, obj: &ObjectRef, max_bytes: u64) -> BackendResult<Bytes> {
        self.inner.read_prefix(obj, max_bytes).await
    }
    async fn put(
        &self,
        bucket: &str,
        name: &str,
        body: Bytes,
        meta: &ObjectMeta,
        condition: WriteCondition,
    ) -> BackendResult<PutOutcome> {
        let race = if meta
            .metadata
            .get(DERIVED_MARKER_KEY)
            .is_some_and(|v| v == "true")
        {
            self.race.lock().unwrap().take()
        } else {
            None
        };
        if let Some(race) = race {
            self.run(race).await;
        }
        self.inner.put(bucket, name, body, meta, condition).await
    }
    async fn delete(&self, obj: &ObjectRef) -> BackendResult<bool> {
        self.inner.delete(obj).await
    }
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        page_token: Option<&str>,
    ) -> BackendResult<ObjectPage> {
        self.inner.list(bucket, prefix, page_token).await
    }
}

fn jpeg_meta() -> ObjectMeta {
    ObjectMeta {
        content_type: "image/jpeg".into(),
        ..ObjectMeta::default()
    }
}

/// The verdict the moderate route makes durable before its policy acts.
fn flagged_verdict(generation: i64, name: &str, action: &str) -> StageEvent {
    StageEvent {
        key: RecordKey::new(BUCKET, name),
        generation,
        event_id: next_event_id(),
        update: StageUpdate::Moderated {
            moderation: Moderation {
                verdict: Verdict::Flagged,
                likelihoods: Some(racy()),
                backend: "fake".to_owned(),
                action: Some(action.to_owned()),
                error: None,
                reused_from: None,
            },
        },
    }
}

/// Every output of `name` as (name, generation, bytes), to compare before and after.
fn snapshot(app: &TestApp, name: &str) -> Vec<(String, i64, Bytes)> {
    outputs_of(name)
        .into_iter()
        .map(|output| {
            let (info, body) = app.store.get(BUCKET, &output).expect("output exists");
            (output, info.generation, body)
        })
        .collect()
}

/// Delivers an older upload's late `image.resized` to /moderate: skipped, and the
/// moderator never asked about the newer upload's variant (inline or by URI).
async fn late_moderation_skips_without_asking(app: &TestApp, resized: &PipelineEvent) {
    let (status, body) = app.deliver("/moderate", resized, &next_event_id()).await;

    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("skipped")),
        "{body}"
    );
    let moderator = app.moderator.as_ref().unwrap();
    assert_eq!(
        moderator.calls.load(Ordering::SeqCst),
        0,
        "judged another upload"
    );
    assert!(moderator.uris.lock().unwrap().is_empty());
}

#[actix_web::test]
async fn a_late_verdict_on_an_overwritten_upload_leaves_the_newer_uploads_outputs_alone() {
    // Arrange: G1 is resized; G2 overwrites it and is resized too; G1's image.resized
    // reaches /moderate only now (the fake moderator flags whatever it is shown).
    let env = [("PIPELINE_MODERATION__POLICY", "quarantine")];
    let app = spawn_app_with_moderator(&env, Some(racy())).await;
    app.upload_and_notify("/resize", "x.jpg", &jpeg(1200, 900), "image/jpeg")
        .await;
    let g1_resized = app.publisher.take().remove(0);
    let (g2, _, _) = app
        .upload_and_notify("/resize", "x.jpg", &jpeg(1000, 800), "image/jpeg")
        .await;
    let before = snapshot(&app, "x.jpg");

    // Act and assert
    late_moderation_skips_without_asking(&app, &g1_resized).await;
    assert_eq!(snapshot(&app, "x.jpg"), before, "G2's outputs were touched");
    assert_eq!(
        app.store.get(BUCKET, "x.jpg").unwrap().0.generation,
        g2.generation
    );
    let quarantined: Vec<String> = app
        .store
        .names()
        .into_iter()
        .filter(|n| n.starts_with("quarantine/"))
        .collect();
    assert!(quarantined.is_empty(), "{quarantined:?}");
}

#[actix_web::test]
async fn a_verdict_made_durable_before_an_overwrite_never_blurs_the_newer_uploads_outputs() {
    // Arrange: G1's verdict (flagged, blur) is durable, then its moderation stopped short
    // of the policy; G2 overwrites the image and is resized before the redelivery.
    let env = [("PIPELINE_MODERATION__POLICY", "blur")];
    let app = spawn_app_with_moderator(&env, Some(racy())).await;
    let (g1, _, _) = app
        .upload_and_notify("/resize", "y.jpg", &jpeg(1200, 900), "image/jpeg")
        .await;
    let g1_resized = app.publisher.take().remove(0);
    let verdict = flagged_verdict(g1.generation, "y.jpg", "blurred");
    app.records.apply(&verdict).await.unwrap();
    app.upload_and_notify("/resize", "y.jpg", &jpeg(1000, 800), "image/jpeg")
        .await;
    let before = snapshot(&app, "y.jpg");

    // Act
    let (status, body) = app
        .deliver("/moderate", &g1_resized, &next_event_id())
        .await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        snapshot(&app, "y.jpg"),
        before,
        "G1's verdict blurred G2's outputs"
    );
}

#[actix_web::test]
async fn a_source_deleted_while_its_outputs_were_written_leaves_none_of_them_behind() {
    // Arrange: the source is deleted after it was read, just before the outputs are written.
    let race = Race::Delete("gone.jpg".to_owned());
    let app = spawn_app_with_store(&[], None, RacingStore::wrap(race)).await;

    // Act
    let (_, status, body) = app
        .upload_and_notify("/resize", "gone.jpg", &jpeg(1200, 900), "image/jpeg")
        .await;

    // Assert
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("skipped")),
        "{body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("deleted or replaced"),
        "{body}"
    );
    let left: Vec<String> = app.store.names();
    assert!(left.is_empty(), "public outputs left behind: {left:?}");
    assert!(
        app.publisher.types().is_empty(),
        "announced: {:?}",
        app.publisher.types()
    );
}

#[actix_web::test]
async fn a_source_overwritten_while_its_outputs_were_written_keeps_only_the_newer_uploads_outputs()
{
    // Arrange: G2 replaces the source while G1's outputs are being written, and G2's run
    // has already written its `large` output.
    let race = Race::Overwrite {
        name: "z.jpg".to_owned(),
        body: jpeg(1000, 800),
        newer_outputs: vec!["resized/large/z.jpg".to_owned()],
    };
    let app = spawn_app_with_store(&SIGNED, None, RacingStore::wrap(race)).await;

    // Act
    let (g1, status, body) = app
        .upload_and_notify("/resize", "z.jpg", &jpeg(1200, 900), "image/jpeg")
        .await;

    // Assert
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("skipped")),
        "{body}"
    );
    let (large, large_body) = app.store.get(BUCKET, "resized/large/z.jpg").unwrap();
    assert_eq!(large_body, Bytes::from_static(b"newer output"));
    assert!(large.source_generation() > Some(g1.generation));
    for gone in ["resized/medium/z.jpg", "resized/small/z.jpg"] {
        assert!(
            app.store.get(BUCKET, gone).is_none(),
            "G1's {gone} left behind"
        );
    }
    assert!(
        app.publisher.types().is_empty(),
        "announced: {:?}",
        app.publisher.types()
    );
}

#[actix_web::test]
async fn a_finalized_event_without_a_generation_still_makes_the_outputs_of_a_source_that_exists() {
    // Arrange: the re-check after writing can only ask whether the source still exists.
    let app = spawn_app(&[]).await;
    let info = app
        .store
        .insert(BUCKET, "nogen.jpg", &jpeg(1200, 900), &jpeg_meta());
    let mut data = storage_data(&info);
    data.as_object_mut().unwrap().remove("generation");
    let source = format!("//storage.googleapis.com/projects/_/buckets/{BUCKET}");

    // Act
    let (status, body) = app
        .post_event("/resize", FINALIZED, &source, &next_event_id(), &data)
        .await;

    // Assert
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    for output in outputs_of("nogen.jpg") {
        assert!(app.store.get(BUCKET, &output).is_some(), "{output} missing");
    }
}

#[actix_web::test]
async fn a_variant_of_a_newer_upload_is_never_handed_to_the_moderator_by_its_uri() {
    // Arrange: G1's image.resized claims variants too big to send inline (the moderator
    // would read them itself), but G2 has replaced them by the time it arrives.
    let app = spawn_app_with_moderator(&[], Some(racy())).await;
    app.upload_and_notify("/resize", "big.jpg", &jpeg(1200, 900), "image/jpeg")
        .await;
    let mut g1_resized = app.publisher.take().remove(0);
    let StageUpdate::Resized { variants, .. } = &mut g1_resized.data.update else {
        panic!("not image.resized: {g1_resized:?}");
    };
    variants.iter_mut().for_each(|v| v.bytes = 5 << 20);
    app.upload_and_notify("/resize", "big.jpg", &jpeg(1000, 800), "image/jpeg")
        .await;

    // Act and assert
    late_moderation_skips_without_asking(&app, &g1_resized).await;
}
