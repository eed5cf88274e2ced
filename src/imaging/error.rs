//! The imaging layer's error type. Every variant but [`ImagingError::Stopped`] is
//! permanent: a retry with the same bytes fails the same way, so callers record it and move
//! on (a `rejected` or `skipped` outcome).

/// Why an image could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    /// The bytes are not a raster image this service reads (empty, HTML, SVG, random bytes).
    #[error("not an image: {reason}")]
    NotAnImage { reason: String },

    /// A limit from [`Limits`](super::Limits) was exceeded; checked from the header.
    #[error("image too large: {what} is {actual}, the limit is {limit}")]
    TooLarge {
        what: &'static str,
        actual: u64,
        limit: u64,
    },

    /// The format was recognised but the data is broken.
    #[error("corrupt {format} image: {reason}")]
    Corrupt {
        format: &'static str,
        reason: String,
    },

    /// A real image in a format or variant this build does not handle (AVIF, HEIC, ...).
    #[error("unsupported image: {reason}")]
    Unsupported { reason: String },

    /// The caller asked the job to stop (its request was abandoned); checked between
    /// stages. Not about the image: the same job run again can succeed.
    #[error("stopped after {stage}: the request that asked for this work is gone")]
    Stopped { stage: &'static str },

    /// An encoder failed to write an output.
    #[error("could not encode {format} output: {reason}")]
    Encode {
        format: &'static str,
        reason: String,
    },
}

impl ImagingError {
    /// True when the input is simply not an image (a `skipped` outcome upstream, not a failure).
    pub fn is_not_an_image(&self) -> bool {
        matches!(self, Self::NotAnImage { .. })
    }

    pub(crate) fn corrupt(format: super::ImageFormat, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            format: format.as_str(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn encode(format: super::ImageFormat, reason: impl std::fmt::Display) -> Self {
        Self::Encode {
            format: format.as_str(),
            reason: reason.to_string(),
        }
    }
}
