//! The container image's defaults (the `Dockerfile`'s runtime `ENV`): the unauthenticated
//! local profile is never exposed beyond loopback unless the operator asks (issue 22); on
//! Cloud Run (the `gcp` profile) it listens on every interface, as Cloud Run requires.

use image_pipeline::config::{EnvMap, Profile, Settings};
use image_pipeline::startup::exposure_warning;
use std::path::Path;

/// The `KEY=VALUE` pairs of the `ENV` instructions in the Dockerfile's last stage.
fn runtime_env() -> EnvMap {
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile");
    let text = std::fs::read_to_string(dockerfile).unwrap();
    let last_stage = text.rsplit("\nFROM ").next().unwrap();
    let joined = last_stage.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|line| line.trim().strip_prefix("ENV "))
        .flat_map(str::split_whitespace)
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The settings the binary in the image loads, with `extra` set by the platform or user.
fn image_settings(extra: &[(&str, &str)]) -> Settings {
    let mut env = runtime_env();
    assert!(
        env.contains_key("PIPELINE_LOCAL__DATA_DIR"),
        "parsed: {env:?}"
    );
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    env.insert("PIPELINE_CONFIG_DIR".into(), config.display().to_string());
    env.extend(extra.iter().map(|(k, v)| ((*k).into(), (*v).into())));
    Settings::load_from(&env).unwrap()
}

#[test]
fn the_image_keeps_the_local_profile_on_loopback_by_default() {
    let settings = image_settings(&[]);

    assert_eq!(settings.profile, Profile::Local);
    assert_eq!(settings.server.host, "127.0.0.1");
    assert_eq!(exposure_warning(&settings), None);
}

#[test]
fn the_image_listens_on_every_interface_under_the_gcp_profile() {
    for platform in [
        [("K_SERVICE", "image-resizer")],
        [("PIPELINE_PROFILE", "gcp")],
    ] {
        let settings = image_settings(&platform);

        assert_eq!(settings.profile, Profile::Gcp, "{platform:?}");
        assert_eq!(settings.server.host, "0.0.0.0", "{platform:?}");
    }
}

#[test]
fn exposing_the_local_profile_from_the_image_is_an_explicit_choice_that_is_warned_about() {
    let settings = image_settings(&[("PIPELINE_SERVER__HOST", "0.0.0.0")]);

    let warning = exposure_warning(&settings).expect("a warning");
    assert!(warning.contains("-p 127.0.0.1:"), "{warning}");
}
