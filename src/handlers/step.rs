//! [`Step`]: one stage of a handler, which either hands a value on or halts the handler early,
//! with an outcome (a skip, a duplicate) or an error. `?` does the early return, so a
//! handler reads as its stages in order; [`finish`] turns the last step into the route's result.

use super::{HandlerResult, Outcome};
use crate::backends::BackendError;
use crate::error::HandlerError;

/// Why a handler stopped before its last stage.
#[derive(Debug)]
pub enum Halt {
    /// Nothing (more) to do: the event is answered with this outcome.
    Done(Outcome),
    /// The handler failed (permanent or transient).
    Failed(HandlerError),
}

/// The result of one handler stage.
pub type Step<T> = Result<T, Halt>;

impl From<HandlerError> for Halt {
    fn from(error: HandlerError) -> Self {
        Self::Failed(error)
    }
}

impl From<BackendError> for Halt {
    fn from(error: BackendError) -> Self {
        Self::Failed(error.into())
    }
}

impl From<Outcome> for Halt {
    fn from(outcome: Outcome) -> Self {
        Self::Done(outcome)
    }
}

/// Halts with `outcome` (for `return halt(...)`).
pub fn halt<T>(outcome: Outcome) -> Step<T> {
    Err(Halt::Done(outcome))
}

/// The route's result: the final outcome, or the one a stage halted with.
pub fn finish(step: Step<Outcome>) -> HandlerResult {
    match step {
        Ok(outcome) | Err(Halt::Done(outcome)) => Ok(outcome),
        Err(Halt::Failed(error)) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(value: Option<u32>) -> Step<u32> {
        value.ok_or_else(|| Halt::Done(Outcome::skipped("nothing there")))
    }

    fn handler(value: Option<u32>, fail: bool) -> Step<Outcome> {
        let n = stage(value)?;
        if fail {
            Err(HandlerError::Transient(anyhow::anyhow!("down")))?;
        }
        Ok(Outcome::processed(format!("got {n}")))
    }

    #[test]
    fn a_halted_stage_ends_the_handler_with_its_outcome_and_errors_pass_through() {
        assert_eq!(
            finish(handler(Some(2), false)).ok(),
            Some(Outcome::processed("got 2"))
        );
        assert_eq!(
            finish(handler(None, false)).ok(),
            Some(Outcome::skipped("nothing there"))
        );
        assert!(finish(handler(Some(2), true)).is_err_and(|e| e.is_transient()));
    }
}
