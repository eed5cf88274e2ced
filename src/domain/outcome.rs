//! What became of one event: [`Outcome`], a handler's answer, and [`WireOutcome`], the five
//! names every caller sees (design.md §2: HTTP bodies, metrics labels, the CLI's lines).
//! Pure vocabulary: mapping an outcome to an HTTP status is `router::respond`'s alone.

use serde::Serialize;

/// What a handler did with an event (its errors are `error::HandlerError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Work done.
    Processed(String),
    /// This event, or this object generation, was handled before; nothing done again.
    Duplicate(String),
    /// Not for this route (another event type, a derived object, not an image).
    Skipped { reason: String, warn: bool },
}

impl Outcome {
    pub fn processed(detail: impl Into<String>) -> Self {
        Self::Processed(detail.into())
    }

    pub fn duplicate(detail: impl Into<String>) -> Self {
        Self::Duplicate(detail.into())
    }

    /// Skipped as a matter of course (a derived object, another stage's event): logged at INFO.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self::Skipped {
            reason: reason.into(),
            warn: false,
        }
    }

    /// Skipped for a reason an operator may want to see (not an image): logged at WARN.
    pub fn skipped_warn(reason: impl Into<String>) -> Self {
        Self::Skipped {
            reason: reason.into(),
            warn: true,
        }
    }
}

/// The outcome names on the wire (design.md §2), in order of seriousness: `POST /` answers
/// with the greatest of its routes' outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WireOutcome {
    Skipped,
    Duplicate,
    Processed,
    Rejected,
    Retry,
}

impl WireOutcome {
    /// The name on the wire and in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skipped => "skipped",
            Self::Duplicate => "duplicate",
            Self::Processed => "processed",
            Self::Rejected => "rejected",
            Self::Retry => "retry",
        }
    }

    /// The event needs nothing more: it was handled now or before, or it was not for the
    /// route. `rejected` (it can never succeed as sent) and `retry` are not settled.
    pub fn is_settled(self) -> bool {
        matches!(self, Self::Processed | Self::Duplicate | Self::Skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_name_is_the_serialised_name_and_only_successes_are_settled() {
        for outcome in [
            WireOutcome::Skipped,
            WireOutcome::Duplicate,
            WireOutcome::Processed,
            WireOutcome::Rejected,
            WireOutcome::Retry,
        ] {
            let json = serde_json::to_value(outcome).unwrap_or_default();
            assert_eq!(json.as_str(), Some(outcome.as_str()));
        }
        assert!(WireOutcome::Skipped.is_settled());
        assert!(!WireOutcome::Rejected.is_settled());
        assert!(!WireOutcome::Retry.is_settled());
    }
}
