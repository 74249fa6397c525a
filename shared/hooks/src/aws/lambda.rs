//! Lambda adapter: invoking exact versions and reading a function's logical id from its tags.

use crate::checks::Answer;
use crate::probe::{Functions, InvokeError};
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::error::SdkError;
use aws_sdk_lambda::primitives::Blob;
use lifeguard_common::AwsError;
use lifeguard_common::aws_error;

/// Tag CloudFormation puts on every resource it creates, holding the logical id.
const LOGICAL_ID_TAG: &str = "aws:cloudformation:logical-id";

/// Error codes after which the same invocation is worth another try.
const TRANSIENT_CODES: [&str; 5] = [
    "TooManyRequestsException",
    "ServiceException",
    "EC2ThrottledException",
    "ResourceNotReadyException",
    "ResourceConflictException",
];

/// Lambda through the SDK. Invocations are not retried by the SDK: the probe retries transient
/// failures itself, so that latency is measured per attempt and retries end at the deadline.
/// Nor do they have an attempt timeout: the probe's deadline bounds them. Other calls use the
/// shared configuration's retries and timeouts.
#[derive(Debug, Clone)]
pub struct LambdaClient {
    client: aws_sdk_lambda::Client,
}

impl LambdaClient {
    /// Builds the client from the shared SDK configuration.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self { client: aws_sdk_lambda::Client::new(sdk) }
    }
}

impl Functions for LambdaClient {
    async fn invoke(&self, function: &str, qualifier: &str, payload: &[u8]) -> Result<Answer, InvokeError> {
        let sent = self
            .client
            .invoke()
            .function_name(function)
            .qualifier(qualifier)
            .payload(Blob::new(payload))
            .customize()
            .config_override(
                aws_sdk_lambda::Config::builder()
                    .retry_config(RetryConfig::disabled())
                    .timeout_config(TimeoutConfig::disabled()),
            )
            .send()
            .await;
        match sent {
            Ok(output) => Ok(Answer {
                function_error: output.function_error().map(str::to_owned),
                executed_version: output.executed_version().map(str::to_owned),
                payload: output.payload().map(|p| p.as_ref().to_vec()).unwrap_or_default(),
            }),
            Err(error) => {
                let server_fault = match &error {
                    SdkError::ServiceError(e) => e.raw().status().is_server_error(),
                    SdkError::ConstructionFailure(_) => false,
                    // Timeouts, dispatch failures and unreadable responses.
                    _ => true,
                };
                let error = aws_error("Invoke", error);
                if server_fault || TRANSIENT_CODES.contains(&error.code.as_str()) {
                    Err(InvokeError::Transient(error.to_string()))
                } else {
                    Err(InvokeError::Fatal(error.to_string()))
                }
            }
        }
    }

    async fn logical_id(&self, function_arn: &str) -> Result<Option<String>, AwsError> {
        // ListTags, not GetFunction: GetFunction returns tags only to callers also allowed
        // lambda:ListTags (and answers a TagsError otherwise), and it exposes the function's
        // code location and environment, which a hook has no business reading.
        let output = self
            .client
            .list_tags()
            .resource(function_arn)
            .send()
            .await
            .map_err(|e| aws_error("ListTags", e))?;
        Ok(output.tags().and_then(|tags| tags.get(LOGICAL_ID_TAG)).cloned())
    }
}
