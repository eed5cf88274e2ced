//! `image-pipeline dead-letters list|replay [--id ID]`: the settings (the local profile
//! unless `PIPELINE_PROFILE=gcp`), then the job (`crate::dead_letters`: local files or the
//! gcp dead-letter subscription) and one line per dead letter on stdout.

use super::{CommandResult, Ending};
use crate::config::{EnvMap, Profile, Settings};
use crate::dead_letters::{self, gcp};
use crate::startup::Interrupt;
use clap::Subcommand;

#[derive(Debug, Clone, Subcommand)]
pub enum DeadLetterAction {
    /// One line per dead letter, oldest first.
    List,
    /// Run each dead letter's route again; `--id` replays one (by CloudEvent id).
    Replay {
        #[arg(long)]
        id: Option<String>,
    },
}

/// The settings for the command ([`Settings::in_process`]); the local profile must run its
/// pipeline on this machine.
pub fn settings(env: &EnvMap) -> anyhow::Result<Settings> {
    let settings = Settings::in_process(env)?;
    if settings.profile != Profile::Gcp {
        crate::process::require_local_pipeline(&settings)?;
    }
    Ok(settings)
}

/// `list`: one line per dead letter; `replay`: one line per replayed one, `SomeFailed`
/// unless every one was removed (or acknowledged).
pub async fn run(
    settings: Settings,
    action: DeadLetterAction,
    interrupt: &Interrupt,
) -> CommandResult {
    let on_gcp = settings.profile == Profile::Gcp;
    match action {
        DeadLetterAction::Replay { id } => {
            let replayed = match on_gcp {
                true => gcp::replay_until(settings, id.as_deref(), interrupt).await?,
                false => {
                    dead_letters::replay_local_until(settings, id.as_deref(), interrupt).await?
                }
            };
            for r in &replayed {
                println!("{}", r.line(on_gcp));
            }
            let all_removed = replayed.iter().all(|r| r.removed);
            Ok(Ending::of(all_removed, interrupt.is_raised()))
        }
        DeadLetterAction::List if on_gcp => {
            let drained = gcp::list(&settings).await?;
            for line in drained.lines() {
                println!("{line}");
            }
            eprintln!("image-pipeline: {}", drained.summary());
            Ok(Ending::Success)
        }
        DeadLetterAction::List => {
            let letters = dead_letters::list_local(&settings).await?;
            for l in &letters {
                println!(
                    "{}  {}  {}  {} attempts  {}  {}",
                    l.delivery_id, l.dead_at, l.path, l.attempts, l.event_type, l.last_error
                );
            }
            eprintln!("image-pipeline: {} dead letter(s)", letters.len());
            Ok(Ending::Success)
        }
    }
}
