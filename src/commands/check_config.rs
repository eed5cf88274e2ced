//! `image-pipeline check-config`: the resolved settings as TOML on stdout (secrets
//! redacted), a verdict on stderr. Loading and validating are `config`'s.

use super::{CommandResult, Ending};
use crate::config::Settings;

pub fn run(settings: &Settings) -> CommandResult {
    let toml = settings.to_pretty_toml()?;
    println!("# profile: {}", settings.profile.as_str());
    print!("{toml}");
    eprintln!("image-pipeline: configuration is valid");
    Ok(Ending::Success)
}
