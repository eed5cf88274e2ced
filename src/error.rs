//! The handler-layer error: permanent (acked as `rejected`) or transient (`retry`, 503).
//! Classification happens where the knowledge is: backend errors carry `is_transient`, and a
//! call site can override with [`Classify::permanent`] / [`Classify::transient`].
//! Mapping to HTTP is `router::respond`'s job, not this module's.

use crate::backends::BackendError;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A retry would fail the same way (corrupt image, over limits, bad event data).
    #[error("{0:#}")]
    Permanent(anyhow::Error),
    /// A dependency is unavailable for now; Eventarc should redeliver.
    #[error("{0:#}")]
    Transient(anyhow::Error),
}

impl HandlerError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

impl From<BackendError> for HandlerError {
    fn from(error: BackendError) -> Self {
        if error.is_transient() {
            Self::Transient(error.into())
        } else {
            Self::Permanent(error.into())
        }
    }
}

/// Marks a result's error as permanent or transient at the call site, with context.
pub trait Classify<T> {
    fn permanent(self, context: &str) -> Result<T, HandlerError>;
    fn transient(self, context: &str) -> Result<T, HandlerError>;
}

impl<T, E> Classify<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn permanent(self, context: &str) -> Result<T, HandlerError> {
        self.map_err(|e| HandlerError::Permanent(anyhow::Error::new(e).context(context.to_owned())))
    }

    fn transient(self, context: &str) -> Result<T, HandlerError> {
        self.map_err(|e| HandlerError::Transient(anyhow::Error::new(e).context(context.to_owned())))
    }
}

/// Adds operator-facing context to a backend error while keeping its class.
pub trait BackendContext<T> {
    fn context_for(self, context: impl FnOnce() -> String) -> Result<T, HandlerError>;
}

impl<T> BackendContext<T> for Result<T, BackendError> {
    fn context_for(self, context: impl FnOnce() -> String) -> Result<T, HandlerError> {
        self.map_err(|e| {
            let transient = e.is_transient();
            let error = anyhow::Error::new(e).context(context());
            if transient {
                HandlerError::Transient(error)
            } else {
                HandlerError::Permanent(error)
            }
        })
    }
}
