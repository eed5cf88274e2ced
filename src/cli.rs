//! The command line (design.md §2): parses arguments, loads each command's settings, runs
//! the command (`commands::*::run`) on THE runtime of the process, and maps how it ended
//! to the exit code: 0 success, 1 a failure (or some items failed), 2 settings that do not
//! load or validate, 130 interrupted. The work lives in `commands` and below.

use crate::commands::backfill as backfill_command;
use crate::commands::dead_letters::{self as dead_letters_command, DeadLetterAction};
use crate::commands::models::ModelsCommand;
use crate::commands::process::Args as ProcessArgs;
use crate::commands::{self, CommandError, CommandResult, Ending};
use crate::config::{EnvMap, Settings};
use crate::startup::Interrupt;
use clap::{Parser, Subcommand};
use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "image-pipeline",
    version,
    about = "Event-driven image pipeline for Cloud Run"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve CloudEvents over HTTP on $PIPELINE_SERVER__HOST:$PORT (the default).
    Serve,
    /// Run the whole pipeline locally on FILEs and folders (their images, recursively) and
    /// print what was made.
    Process {
        /// One JSON object (the record) per line instead of a table.
        #[arg(long)]
        json: bool,
        /// The service's log on stderr (otherwise it goes to <data dir>/process.log).
        #[arg(short, long)]
        verbose: bool,
        /// Keep serving after the run and print the console's URL (Ctrl-C stops).
        #[arg(long)]
        open: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The events the pipeline gave up on (local: data/dead-letter/; PIPELINE_PROFILE=gcp:
    /// the dead-letter subscription): list them, or replay them in-process (a dead letter
    /// is removed, or acknowledged, only when its route succeeds).
    DeadLetters {
        #[command(subcommand)]
        action: DeadLetterAction,
    },
    /// Run the configured routes on images already in a bucket (either profile).
    Backfill {
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value = "")]
        prefix: String,
        /// Print counts, bytes and Vision calls (with their list price); change nothing.
        #[arg(long)]
        dry_run: bool,
        /// At most this many objects per second (0 = no limit).
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Stop after this many objects (the next run goes on after them).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Load and validate the configuration, print it resolved, exit non-zero if invalid.
    CheckConfig,
    /// The fixed benchmark job of ../shared/bench/compare.py.
    Bench {
        input: PathBuf,
        outdir: PathBuf,
        #[arg(default_value_t = 8)]
        iterations: u32,
        /// Also make the resize route's summary (placeholders, perceptual hash) each run,
        /// to measure what it costs.
        #[arg(long)]
        summary: bool,
    },
    /// The built-in moderator's model: `models fetch` (once, through npm), `models classify`.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
}

impl Command {
    /// What goes before an error message of this command.
    fn label(&self) -> &'static str {
        match self {
            Self::Backfill { .. } => "image-pipeline backfill",
            Self::Bench { .. } => "image-pipeline bench",
            Self::Models { command } => command.label(),
            _ => "image-pipeline",
        }
    }
}

/// Runs the command line; the process exit code.
pub fn run() -> ExitCode {
    crate::backends::install_tls_provider();
    // Before any thread exists: every command decodes images (crate::memory says why).
    let buffers_kept = crate::memory::keep_freed_image_buffers();
    let command = Cli::parse().command.unwrap_or(Command::Serve);
    let label = command.label();
    let env: EnvMap = std::env::vars().collect();
    let ended = actix_web::rt::System::new().block_on(run_command(command, &env, buffers_kept));
    exit_code(label, ended)
}

/// THE map from how a command ended to the exit code (errors printed on stderr).
fn exit_code(label: &str, ended: CommandResult) -> ExitCode {
    match ended {
        Ok(Ending::Success) => ExitCode::SUCCESS,
        Ok(Ending::SomeFailed) => ExitCode::FAILURE,
        Ok(Ending::Interrupted) => ExitCode::from(Interrupt::EXIT_STATUS),
        Err(CommandError::Settings(e)) => {
            eprintln!("{label}: {e}");
            ExitCode::from(2)
        }
        Err(CommandError::Failed(e)) => {
            eprintln!("{label}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_command(command: Command, env: &EnvMap, buffers_kept: bool) -> CommandResult {
    match command {
        Command::Serve => commands::serve::run(Settings::load(env)?, buffers_kept).await,
        Command::CheckConfig => commands::check_config::run(&Settings::load(env)?),
        Command::Bench {
            input,
            outdir,
            iterations,
            summary,
        } => commands::bench::run(&input, &outdir, iterations, summary),
        Command::Models { command } => commands::models::run(command),
        Command::Process {
            json,
            verbose,
            open,
            files,
        } => {
            let settings = settings_of(crate::process::process_settings(env))?;
            let args = ProcessArgs {
                json,
                verbose,
                open,
                files,
            };
            interruptible(|i| async move { commands::process::run(settings, args, &i).await }).await
        }
        Command::DeadLetters { action } => {
            let settings = settings_of(dead_letters_command::settings(env))?;
            interruptible(|i| async move { dead_letters_command::run(settings, action, &i).await })
                .await
        }
        Command::Backfill {
            bucket,
            prefix,
            dry_run,
            rate,
            concurrency,
            limit,
        } => {
            let options = crate::backfill::Options {
                bucket,
                prefix,
                dry_run,
                rate_per_sec: rate,
                concurrency,
                limit,
            };
            let settings = Settings::load(env)?;
            interruptible(|i| async move { backfill_command::run(settings, options, &i).await })
                .await
        }
    }
}

/// Runs a command that can be interrupted (Ctrl-C) on this runtime.
async fn interruptible<F, Fut>(command: F) -> CommandResult
where
    F: FnOnce(Interrupt) -> Fut,
    Fut: Future<Output = CommandResult>,
{
    command(Interrupt::listen()).await
}

fn settings_of(settings: anyhow::Result<Settings>) -> Result<Settings, CommandError> {
    settings.map_err(|e| CommandError::Settings(format!("{e:#}")))
}
