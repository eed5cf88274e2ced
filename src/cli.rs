//! The command line (design.md §2): `serve` (default), `process`, `check-config`, `bench`.
//! Parses arguments, loads settings, and hands off; the work lives in other modules.

use crate::config::Settings;
use crate::startup::Application;
use clap::{Parser, Subcommand};
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
        /// Stop after this many objects.
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
    },
    /// The built-in moderator's model: `models fetch` (once, through npm), `models classify`.
    Models {
        #[command(subcommand)]
        command: crate::moderation_model::command::ModelsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum DeadLetterAction {
    /// One line per dead letter, oldest first.
    List,
    /// Run each dead letter's route again; `--id` replays one (by CloudEvent id).
    Replay {
        #[arg(long)]
        id: Option<String>,
    },
}

/// Runs the command line; the process exit code.
pub fn run() -> ExitCode {
    crate::backends::install_tls_provider();
    // Before any thread exists: every command decodes images (crate::memory says why).
    let buffers_kept = crate::memory::keep_freed_image_buffers();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(buffers_kept),
        Command::CheckConfig => check_config(),
        Command::DeadLetters { action } => dead_letters(action),
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
            match load_settings() {
                Ok(settings) => crate::backfill::command::run(settings, options),
                Err(code) => code,
            }
        }
        Command::Process {
            json,
            verbose,
            open,
            files,
        } => crate::process::run(json, verbose, open, files),
        Command::Bench {
            input,
            outdir,
            iterations,
        } => bench(&input, &outdir, iterations),
        Command::Models { command } => crate::moderation_model::command::run(command),
    }
}

fn load_settings() -> Result<Settings, ExitCode> {
    Settings::load().map_err(|e| {
        eprintln!("image-pipeline: {e}");
        ExitCode::from(2)
    })
}

fn serve(buffers_kept: bool) -> ExitCode {
    let settings = match load_settings() {
        Ok(s) => s,
        Err(code) => return code,
    };
    crate::telemetry::init(
        settings.log_format,
        &settings.log_level,
        &settings.gcp.project_id,
    );
    if !buffers_kept {
        tracing::info!("the C library refused the allocator policy; image buffers are not reused");
    }
    if let Some(warning) = crate::startup::exposure_warning(&settings) {
        tracing::warn!("{warning}");
    }
    let result = actix_web::rt::System::new().block_on(async move {
        Application::build(settings)
            .await?
            .run_until_stopped()
            .await?;
        anyhow::Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "Server stopped: {e:#}");
            eprintln!("image-pipeline: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check_config() -> ExitCode {
    let settings = match load_settings() {
        Ok(s) => s,
        Err(code) => return code,
    };
    match settings.to_pretty_toml() {
        Ok(toml) => {
            println!("# profile: {}", settings.profile.as_str());
            print!("{toml}");
            eprintln!("image-pipeline: configuration is valid");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("image-pipeline: {e}");
            ExitCode::from(2)
        }
    }
}

fn dead_letters(action: DeadLetterAction) -> ExitCode {
    let env: crate::config::EnvMap = std::env::vars().collect();
    let settings = match crate::dead_letters::command_settings(&env) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("image-pipeline: {e:#}");
            return ExitCode::from(2);
        }
    };
    match action {
        DeadLetterAction::List => crate::dead_letters::run(settings, false, None),
        DeadLetterAction::Replay { id } => crate::dead_letters::run(settings, true, id),
    }
}

fn bench(input: &std::path::Path, outdir: &std::path::Path, iterations: u32) -> ExitCode {
    match crate::imaging::bench::run(input, outdir, iterations) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("image-pipeline bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
