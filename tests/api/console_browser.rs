//! The console in a real headless Chromium (through chromedriver): the server runs the local
//! profile on a temp data dir, with the real routes and the local event router, and the
//! browser does what a person would: picks files, watches rows change, opens an image's
//! page, replays a dead letter. Screenshots of the list and the image page are kept in
//! `<target dir>/console-screenshots/`.

use crate::console_webdriver::{Browser, screenshot_dir};
use image_pipeline::backends::Backends;
use image_pipeline::config::{EnvMap, Settings};
use image_pipeline::domain::{ObjectMeta, WriteCondition};
use image_pipeline::startup::Application;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CASIO: &str = "casio-exm2-1600x1200.jpg";
const CANON: &str = "canon-sx60-2048x1536-orient6.jpg";

/// The real photos the suite shares (`BENCH_IMAGES_DIR`, else `../shared/bench-images`).
fn photo(name: &str) -> PathBuf {
    let dir = std::env::var_os("BENCH_IMAGES_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-images"),
        PathBuf::from,
    );
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: the console tests upload the shared bench photos \
         (../shared/bench-images beside the clone, or set BENCH_IMAGES_DIR)",
        path.display()
    );
    // ChromeDriver takes only canonical paths for a file input (no `..`).
    path.canonicalize().unwrap()
}

/// The local profile on `data_dir`: its triggers, the built-in model when CI fetched it
/// (`MODERATION_MODEL_CACHE`), short delivery backoffs.
fn local_settings(data_dir: &Path, extra: &[(&str, &str)]) -> Settings {
    let model = std::env::var("MODERATION_MODEL_CACHE")
        .unwrap_or_else(|_| data_dir.join("no-model").display().to_string());
    let mut env: EnvMap = [
        ("PIPELINE_PROFILE", "local"),
        ("PIPELINE_CONFIG_DIR", "/nonexistent"),
        ("PIPELINE_SERVER__HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("PIPELINE_LOCAL__DELIVERY_INITIAL_BACKOFF_MS", "50"),
        ("PIPELINE_LOCAL__DELIVERY_MAX_BACKOFF_MS", "200"),
        ("PIPELINE_MODERATION__MODEL_DIR", model.as_str()),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.insert(
        "PIPELINE_LOCAL__DATA_DIR".to_owned(),
        data_dir.display().to_string(),
    );
    let settings = Settings::load_from(&env).unwrap();
    settings.validate().unwrap();
    settings
}

/// Starts the server (and local delivery) on this runtime; its base URL.
async fn start_server(settings: Settings) -> String {
    let app = Application::build(settings).await.unwrap();
    let base = app.loopback_url();
    actix_web::rt::spawn(app.run_until_stopped());
    base
}

/// What the list shows: row name → status.
const ROW_STATUSES: &str = "const s = {}; \
    for (const r of document.querySelectorAll('#rows tr[data-name]')) s[r.dataset.name] = r.dataset.status; \
    return s;";

/// True once every `<img>` on the page has loaded with pixels.
const ALL_PICTURES_LOADED: &str = "const images = Array.from(document.images); \
    return images.length > 0 && images.every(i => i.complete && i.naturalWidth > 0);";

#[actix_web::test]
async fn uploads_through_the_file_input_reach_processed_and_skipped_without_a_reload() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let base = start_server(local_settings(&dir.path().join("data"), &[])).await;
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not a photo, just words\n").unwrap();
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/console")).await;
    browser
        .execute("window.sameDocument = true; return true;")
        .await;

    // Act
    let input = browser.find("input#files[type=file][multiple]").await;
    let paths = [photo(CASIO), photo(CANON), notes];
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    browser.send_keys(&input, &paths.join("\n")).await;

    // Assert: the rows change by themselves, in the same document
    let done = format!(
        "const s = (() => {{ {ROW_STATUSES} }})(); \
         return s['{CASIO}'] === 'processed' && s['{CANON}'] === 'processed' \
             && s['notes.txt'] === 'skipped';"
    );
    let waited = browser
        .wait_for(
            "two photos processed, the text skipped",
            Duration::from_secs(60),
            &done,
        )
        .await;
    if let Err(last) = waited {
        panic!(
            "{last}: the list showed {}",
            browser.execute(ROW_STATUSES).await
        );
    }
    let same = browser
        .execute("return window.sameDocument === true;")
        .await;
    assert_eq!(same, Value::Bool(true), "the page was reloaded");
    let thumbnails = "return document.querySelectorAll('#rows img').length === 2";
    browser
        .wait_for("both thumbnails", Duration::from_secs(10), thumbnails)
        .await
        .unwrap();
    browser
        .wait_for(
            "thumbnails loaded",
            Duration::from_secs(10),
            ALL_PICTURES_LOADED,
        )
        .await
        .unwrap();
    let shots = screenshot_dir();
    browser.screenshot(&shots.join("console-list.png")).await;

    // Act: the image's page
    browser
        .goto(&format!("{base}/console/images/{CASIO}"))
        .await;

    // Assert: the original, three sizes and the thumbnail, all loaded; the verdict
    browser
        .wait_for(
            "pictures loaded",
            Duration::from_secs(10),
            ALL_PICTURES_LOADED,
        )
        .await
        .unwrap();
    let pictures = browser
        .execute("return document.querySelectorAll('#pictures img').length;")
        .await;
    assert!(pictures.as_u64().unwrap() >= 4, "{pictures} pictures");
    let verdict = browser
        .execute("return document.querySelector('#verdict .verdict').textContent;")
        .await;
    assert!(
        ["safe", "flagged", "unmoderated"].contains(&verdict.as_str().unwrap()),
        "verdict {verdict}"
    );
    if std::env::var_os("MODERATION_MODEL_CACHE").is_some() {
        let classes = "return document.querySelectorAll('table.classes tr').length;";
        assert_eq!(
            browser.execute(classes).await,
            5,
            "the model's class probabilities"
        );
    }
    // What the record gives a web page, as a person sees it: the placeholder's colour as a
    // swatch of that colour, and the srcset of the JPEG sizes.
    let swatch = "return document.querySelector('#web svg.swatch rect').getAttribute('fill');";
    let colour = browser.execute(swatch).await;
    let colour = colour.as_str().unwrap();
    assert!(
        colour.len() == 7 && colour.starts_with('#'),
        "swatch {colour}"
    );
    let srcset = "return document.querySelector('#web').textContent;";
    let web = browser.execute(srcset).await;
    assert!(web.as_str().unwrap().contains("srcset jpeg"), "{web}");
    browser.screenshot(&shots.join("console-image.png")).await;
    browser.assert_no_errors().await;
    browser.quit().await;
}

/// Uploads a photo while the event router reaches nobody: its three deliveries die.
async fn dead_letters_for_a_photo(settings: &Settings) {
    let (backends, local) = Backends::from_settings(settings).await.unwrap();
    let local = local.unwrap();
    // Port 9 (discard) on loopback: nothing listens, every connection is refused.
    local.start("http://127.0.0.1:9".to_owned());
    let meta = ObjectMeta {
        content_type: "image/jpeg".into(),
        ..ObjectMeta::default()
    };
    let body = bytes::Bytes::from(std::fs::read(photo(CASIO)).unwrap());
    backends
        .store
        .put(
            "uploads",
            "late.jpg",
            body,
            &meta,
            WriteCondition::Overwrite,
        )
        .await
        .unwrap();
    assert!(local.wait_idle(Duration::from_secs(30)).await.unwrap());
    local.stop();
}

#[actix_web::test]
async fn a_dead_letter_is_replayed_from_the_queue_page_and_requests_without_the_token_are_refused()
{
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let settings = local_settings(&data, &[("PIPELINE_LOCAL__DELIVERY_MAX_ATTEMPTS", "1")]);
    dead_letters_for_a_photo(&settings).await;
    let letters = || std::fs::read_dir(data.join("dead-letter")).unwrap().count();
    assert_eq!(letters(), 3);
    let base = start_server(settings).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/console/queue")).await;

    browser
        .screenshot(&screenshot_dir().join("console-queue.png"))
        .await;

    // Act
    let button = browser.find("button[data-replay]").await;
    browser.click(&button).await;

    // Assert
    let removed = "const r = document.getElementById('replay-result'); \
                   return r.dataset.outcome === 'removed';";
    browser
        .wait_for("the replay's answer", Duration::from_secs(60), removed)
        .await
        .unwrap();
    let two_left = "return document.querySelectorAll('tr[data-delivery]').length === 2;";
    browser
        .wait_for("the list without it", Duration::from_secs(10), two_left)
        .await
        .unwrap();
    assert_eq!(letters(), 2);
    browser.assert_no_errors().await;
    browser.quit().await;

    // Without the token (as a page on another origin would send them): refused
    let client = reqwest::Client::new();
    let id = std::fs::read_dir(data.join("dead-letter"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let id = id.file_stem().unwrap().to_str().unwrap();
    let replay = client
        .post(format!("{base}/console/dead-letters/{id}/replay"))
        .send()
        .await
        .unwrap();
    let upload = client
        .put(format!("{base}/console/upload/forged.jpg"))
        .header("x-console-token", "not-the-token")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status().as_u16(), 403);
    assert_eq!(upload.status().as_u16(), 403);
    assert_eq!(letters(), 2);
    assert!(!data.join("buckets/uploads/forged.jpg").exists());
}
