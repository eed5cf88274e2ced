//! The commands of the command line (design.md §2), one module and one `run` each: `serve`,
//! `process`, `backfill`, `dead_letters`, `check_config`, `bench`, `models`. A `run` takes
//! its settings and arguments already parsed and returns how it ended; `cli` owns the one
//! runtime, loading settings and turning an [`Ending`] or [`CommandError`] into the exit
//! code. The work itself lives below (`startup`, `process`, `backfill`, `dead_letters`).

pub mod backfill;
pub mod bench;
pub mod check_config;
pub mod dead_letters;
pub mod models;
pub mod process;
pub mod serve;

/// How a command that did its job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Everything it was asked to do succeeded.
    Success,
    /// It ran to the end, and some items failed (reported on the way).
    SomeFailed,
    /// The operator interrupted it; it stopped starting new work and drained.
    Interrupted,
}

/// Why a command could not do its job (printed on stderr by `cli`).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The settings do not load or are not valid for this command (exit status 2).
    #[error("{0}")]
    Settings(String),
    /// The command failed (exit status 1).
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for CommandError {
    fn from(error: anyhow::Error) -> Self {
        Self::Failed(error)
    }
}

impl From<crate::config::ConfigError> for CommandError {
    fn from(error: crate::config::ConfigError) -> Self {
        Self::Settings(error.to_string())
    }
}

pub type CommandResult = Result<Ending, CommandError>;

impl Ending {
    /// `Success` when `all_ok`, else `SomeFailed`; `Interrupted` wins over both.
    pub fn of(all_ok: bool, interrupted: bool) -> Self {
        match (interrupted, all_ok) {
            (true, _) => Self::Interrupted,
            (false, true) => Self::Success,
            (false, false) => Self::SomeFailed,
        }
    }
}
