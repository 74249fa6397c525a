//! The SDK configuration every function loads once at cold start, and the reduction of any SDK
//! error to an [`AwsError`].

use crate::AwsError;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::time::Duration;

/// Loads the SDK configuration the standard way (environment, profile, container/instance role),
/// honouring `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`. Every client built from it
/// retries throttling and server errors with backoff (6 attempts) and gives each attempt 10 s;
/// Lambda invocations opt out (the hooks' Lambda adapter).
pub async fn load_config() -> aws_config::SdkConfig {
    let retries =
        RetryConfig::standard().with_max_attempts(6).with_initial_backoff(Duration::from_millis(200));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(retries)
        .timeout_config(timeouts)
        .load()
        .await
}

/// Converts any SDK error into an [`AwsError`] that names the operation and the cause.
pub fn aws_error<E, R>(operation: &'static str, error: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let code = match &error {
        SdkError::ServiceError(_) => error.code().unwrap_or("Unknown").to_owned(),
        SdkError::TimeoutError(_) => "Timeout".to_owned(),
        _ => "RequestFailed".to_owned(),
    };
    let message = match error.message() {
        Some(message) => message.to_owned(),
        None => DisplayErrorContext(&error).to_string(),
    };
    AwsError { operation, code, message }
}
