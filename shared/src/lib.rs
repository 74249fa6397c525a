//! Shared logic of the lifeguard functions.
//!
//! Domain modules ([`deployment`], [`checks`], [`deadline`]) are plain functions over plain data;
//! [`probe`] and [`hook`] orchestrate them behind small traits; [`aws`] holds the thin adapters
//! that implement those traits with the AWS SDK.

pub mod analysis;
pub mod aws;
pub mod checks;
pub mod deadline;
pub mod deployment;
pub mod guarded;
pub mod hook;
pub mod metrics;
pub mod post_traffic;
pub mod pre_traffic;
pub mod probe;
pub mod reaper;
pub mod settings;

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
