//! What every lifeguard crate shares: the [`AwsError`] an adapter reports, the SDK
//! configuration ([`sdk`]), the one time type ([`time`]), the metric log line ([`emf`]) and text fit for mail
//! ([`mail_text`]).

pub mod emf;
pub mod mail_text;
pub mod sdk;
pub mod time;

pub use sdk::{aws_error, load_config};
pub use time::Timestamp;

/// A failed AWS call, reduced to what a report needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {code}: {message}")]
pub struct AwsError {
    /// The API operation.
    pub operation: &'static str,
    /// The service's error code, or `Timeout` / `RequestFailed` when no answer came.
    pub code: String,
    /// The service's message, or what went wrong on the way.
    pub message: String,
}

impl AwsError {
    /// The call did not finish in the time it had.
    pub fn timeout(operation: &'static str) -> Self {
        Self { operation, code: "Timeout".into(), message: "no answer before the hook's deadline".into() }
    }
}
