//! Settings and their layered loading (design.md §2 "Configuration"): the compiled-in copy of
//! `config/default.toml` and `config/<profile>.toml`, then those files from the config folder,
//! then `PIPELINE_*` environment variables (`__` between nested keys), then Cloud Run's `PORT`,
//! the emulator variables and `GOOGLE_CLOUD_PROJECT`. Loading reads files and the given
//! environment map only; `validate` is pure. Nothing here touches the network.

mod fields;
mod outputs;
mod sections;
mod validate;
mod values;

pub use sections::*;
pub use validate::ConfigError;
pub use values::*;

use crate::routes::RouteName;
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
const LOCAL_TOML: &str = include_str!("../../config/local.toml");
const GCP_TOML: &str = include_str!("../../config/gcp.toml");

/// Environment variables with the `PIPELINE_` prefix that are not settings keys.
const NON_SETTING_ENV: [&str; 1] = ["PIPELINE_CONFIG_DIR"];

/// All settings, resolved.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub profile: Profile,
    /// Enabled routes (`PIPELINE_ROUTES=resize,thumbnail`); a name the binary has no route
    /// for fails the load.
    #[serde(deserialize_with = "route_list")]
    pub routes: Vec<RouteName>,
    pub log_format: LogFormat,
    /// A tracing-subscriber filter (`RUST_LOG` overrides it).
    pub log_level: String,
    pub server: ServerSettings,
    pub imaging: ImagingSettings,
    pub resize: ResizeSettings,
    pub thumbnail: ThumbnailSettings,
    pub moderation: ModerationSettings,
    /// The signing key of derived objects (a secret).
    #[serde(default)]
    pub derived: DerivedSettings,
    pub pipeline: PipelineSettings,
    pub storage: StorageSettings,
    pub records: RecordsSettings,
    pub publisher: PublisherSettings,
    pub gcp: GcpSettings,
    pub local: LocalSettings,
    /// True on Cloud Run (`K_SERVICE` set); the project id may then come from the metadata server.
    #[serde(default)]
    pub on_cloud_run: bool,
}

/// The environment a load sees; tests pass their own map instead of touching the process's.
pub type EnvMap = BTreeMap<String, String>;

impl Settings {
    /// Loads from `env` (the process environment) and the config folder, then validates:
    /// the settings of `serve`, `check-config` and `backfill`.
    pub fn load(env: &EnvMap) -> Result<Self, ConfigError> {
        let settings = Self::load_from(env)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Loads from `env` (not validated). The config folder is `PIPELINE_CONFIG_DIR` or `./config`;
    /// a missing folder or file is fine, the compiled-in defaults cover everything.
    pub fn load_from(env: &EnvMap) -> Result<Self, ConfigError> {
        Self::load_profile(env, profile_from_env(env)?)
    }

    /// The settings of a command that runs the pipeline inside itself (`process`,
    /// `backfill`, `dead-letters`): loaded from `env` in the profile `PIPELINE_PROFILE`
    /// names, else `local` (never chosen by `K_SERVICE`), with the server on a free loopback
    /// port whatever `PORT` and `server.*` say. Validated.
    pub fn in_process(env: &EnvMap) -> Result<Self, ConfigError> {
        let profile = named_profile(env)?.unwrap_or(Profile::Local);
        let mut settings = Self::load_profile(env, profile)?;
        settings.server.host = "127.0.0.1".to_owned();
        settings.server.port = 0;
        settings.validate()?;
        Ok(settings)
    }

    fn load_profile(env: &EnvMap, profile: Profile) -> Result<Self, ConfigError> {
        let config_dir = env
            .get("PIPELINE_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("config"));
        let profile_toml = match profile {
            Profile::Local => LOCAL_TOML,
            Profile::Gcp => GCP_TOML,
        };
        let figment = Figment::new()
            .merge(Toml::string(DEFAULT_TOML))
            .merge(Toml::string(profile_toml))
            .merge(Toml::file(config_dir.join("default.toml")))
            .merge(Toml::file(
                config_dir.join(format!("{}.toml", profile.as_str())),
            ))
            .merge(Serialized::globals(env_dict(env)))
            .merge(Serialized::globals(platform_overrides(env)))
            .merge(Serialized::default("profile", profile));
        let mut settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Load(format_figment_error(&e, &config_dir)))?;
        settings.on_cloud_run = env.contains_key("K_SERVICE");
        apply_emulators(&mut settings.gcp, env)?;
        if settings.gcp.project_id.is_empty() {
            settings.gcp.project_id = ["GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"]
                .iter()
                .find_map(|k| env.get(*k).filter(|v| !v.is_empty()).cloned())
                .unwrap_or_default();
        }
        settings.keep_moderate_trigger_of_its_setting();
        settings.resolve_public_base_url();
        Ok(settings)
    }

    /// The local triggers give `/moderate` the event `moderation.trigger` names and not the
    /// other (the upload for `original`, `image.resized` for `resized`), as one Eventarc
    /// trigger would: a delivery the route can only skip would also be a dead letter no
    /// replay could clear.
    fn keep_moderate_trigger_of_its_setting(&mut self) {
        let wanted = match self.moderation.trigger {
            ModerationTrigger::Original => TriggerEventType::StorageFinalized,
            ModerationTrigger::Resized => TriggerEventType::PubsubPublished,
        };
        self.local.triggers.retain(|t| {
            let moderate = t.path.trim_end_matches('/') == "/moderate";
            let judged = matches!(
                t.event_type,
                TriggerEventType::StorageFinalized | TriggerEventType::PubsubPublished
            );
            !(moderate && judged) || t.event_type == wanted
        });
    }

    /// Whether the route called `name` is enabled.
    pub fn route_enabled(&self, name: &str) -> bool {
        self.routes.iter().any(|r| r.as_str() == name)
    }

    /// The resolved settings as TOML for `check-config`, secrets redacted. Settings hold no
    /// credentials (key files are read by gcp_auth from `GOOGLE_APPLICATION_CREDENTIALS`);
    /// the secrets are `derived.signing_key` (always written as `REDACTED`) and a password
    /// inside an endpoint URL.
    pub fn to_pretty_toml(&self) -> Result<String, ConfigError> {
        let mut shown = self.clone();
        let g = &mut shown.gcp;
        for endpoint in [
            &mut g.storage_endpoint,
            &mut g.firestore_endpoint,
            &mut g.pubsub_endpoint,
            &mut g.vision_endpoint,
        ] {
            *endpoint = endpoint.redacted();
        }
        toml::to_string(&shown)
            .map_err(|e| ConfigError::Invalid(format!("the settings do not print as TOML: {e}")))
    }
}

fn profile_from_env(env: &EnvMap) -> Result<Profile, ConfigError> {
    match named_profile(env)? {
        Some(profile) => Ok(profile),
        None if env.contains_key("K_SERVICE") => Ok(Profile::Gcp),
        None => Ok(Profile::Local),
    }
}

/// The profile `PIPELINE_PROFILE` names, if it names one.
fn named_profile(env: &EnvMap) -> Result<Option<Profile>, ConfigError> {
    match env
        .get("PIPELINE_PROFILE")
        .map(|s| s.trim().to_ascii_lowercase())
    {
        Some(p) if p == "local" => Ok(Some(Profile::Local)),
        Some(p) if p == "gcp" => Ok(Some(Profile::Gcp)),
        Some(p) if !p.is_empty() => Err(ConfigError::Invalid(format!(
            "PIPELINE_PROFILE={p:?} is not a profile; use \"local\" or \"gcp\""
        ))),
        _ => Ok(None),
    }
}

/// `PIPELINE_A__B=v` → `{a: {b: v}}`, values parsed like figment's `Env` (numbers, booleans,
/// arrays `[..]`, tables `{..}`, else strings).
fn env_dict(env: &EnvMap) -> Dict {
    let mut root = Dict::new();
    for (key, raw) in env {
        let Some(rest) = key.strip_prefix("PIPELINE_") else {
            continue;
        };
        if NON_SETTING_ENV.contains(&key.as_str()) || rest.is_empty() || rest == "PROFILE" {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.clone()));
        insert_path(&mut root, &path, value);
    }
    root
}

fn insert_path(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// Cloud Run's `PORT` wins over everything (gcp-contracts.md §9).
fn platform_overrides(env: &EnvMap) -> Dict {
    let mut root = Dict::new();
    if let Some(port) = env.get("PORT").and_then(|p| p.parse::<u16>().ok()) {
        insert_path(
            &mut root,
            &["server".to_owned(), "port".to_owned()],
            Value::from(port),
        );
    }
    root
}

/// Emulator variables as Google's clients read them (gcp-contracts.md §0.10, §8).
fn apply_emulators(gcp: &mut GcpSettings, env: &EnvMap) -> Result<(), ConfigError> {
    let services = [
        (
            "STORAGE_EMULATOR_HOST",
            EmulatedService::Storage,
            &mut gcp.storage_endpoint,
        ),
        (
            "FIRESTORE_EMULATOR_HOST",
            EmulatedService::Firestore,
            &mut gcp.firestore_endpoint,
        ),
        (
            "PUBSUB_EMULATOR_HOST",
            EmulatedService::Pubsub,
            &mut gcp.pubsub_endpoint,
        ),
    ];
    for (variable, service, endpoint) in services {
        let Some(host) = env.get(variable).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        *endpoint = with_scheme(host)
            .parse()
            .map_err(|e| ConfigError::Load(format!("{variable}: {e}")))?;
        gcp.emulated.push(service);
    }
    Ok(())
}

fn with_scheme(host: &str) -> String {
    let host = host.trim().trim_end_matches('/');
    if host.contains("://") {
        host.to_owned()
    } else {
        format!("http://{host}")
    }
}

/// A comma list (or a TOML array) of route names, trimmed and lower-cased; empty entries
/// are dropped (an empty list is `validate`'s to refuse).
fn route_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<RouteName>, D::Error> {
    comma_list(d)?
        .into_iter()
        .map(|name| {
            RouteName::parse(&name).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown route {name:?} in PIPELINE_ROUTES; known routes: {}",
                    crate::routes::names()
                ))
            })
        })
        .collect()
}

/// A comma list (or a TOML array) of output formats (`original,webp,avif`).
fn format_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<FormatSetting>, D::Error> {
    use serde::de::IntoDeserializer;
    comma_list(d)?
        .into_iter()
        .map(|name| FormatSetting::deserialize(name.as_str().into_deserializer()))
        .collect()
}

fn comma_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s.split(',').map(str::to_owned).collect(),
        OneOrMany::Many(v) => v,
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect())
}

fn format_figment_error(error: &figment::Error, config_dir: &Path) -> String {
    let mut out = String::new();
    for e in error.clone() {
        if !out.is_empty() {
            out.push_str("; ");
        }
        let key = e.path.join(".");
        let source = e
            .metadata
            .as_ref()
            .map(|m| m.name.to_string())
            .unwrap_or_default();
        if key.is_empty() {
            out.push_str(&format!("{} ({source})", e.kind));
        } else {
            let env_name = format!("PIPELINE_{}", e.path.join("__").to_ascii_uppercase());
            out.push_str(&format!(
                "setting `{key}` (env {env_name}, from {source}): {}",
                e.kind
            ));
        }
    }
    format!("{out} [config folder: {}]", config_dir.display())
}

#[cfg(test)]
mod tests;
