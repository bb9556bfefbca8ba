//! One error type for the whole engine; every variant carries a message that names the
//! column, line or setting at fault, so the CLI and the C ABI can show it as it is.

use std::fmt;

/// What went wrong, by category; the category becomes a stable status code in the C ABI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input data are unusable as given (empty, ragged, bad values, unsuitable columns).
    Data,
    /// An option or argument is out of range or inconsistent.
    InvalidArgument,
    /// A model file or byte string is not a valid model (truncated, corrupted, other version).
    Format,
    /// Reading or writing a file failed.
    Io,
    /// The caller cancelled a long call.
    Cancelled,
    /// Training diverged or another numerical failure.
    Numerical,
    /// The compute device asked for is not available or failed (no GPU, a missing driver or
    /// library, device memory exhausted).
    Device,
    /// The request needs more memory or time than the engine allows or the machine has; the
    /// message names the limit and how to stay within it.
    Resources,
}

/// An engine error: a kind and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Data, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub fn format(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Format, message)
    }
    pub fn io(context: impl fmt::Display, err: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, format!("{context}: {err}"))
    }
    pub fn cancelled() -> Self {
        Self::new(ErrorKind::Cancelled, "cancelled by the caller")
    }
    pub fn numerical(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Numerical, message)
    }
    pub fn device(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Device, message)
    }
    pub fn resources(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Resources, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Result with the engine's error.
pub type Result<T> = std::result::Result<T, Error>;
