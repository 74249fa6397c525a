//! SNS adapter: the reaper's notices, published to one topic.
//!
//! Every message carries the String message attribute [`OWNER_ATTRIBUTE`] (`owner`): the stack
//! owner's email address for an owner notice, [`DIGEST_OWNER`] (`*digest*`, which no email
//! address can be) for the operators' digest. Subscribers filter on it, e.g. a subscription
//! filter policy `{"owner": ["alice@example.com"]}` or `{"owner": ["*digest*"]}`.
//!
//! SNS subjects must be ASCII without control characters and at most 100 characters: other
//! characters become `?` and longer subjects are cut (the message itself is sent as given).

use crate::ports::Notifier;
use aws_sdk_sns::types::MessageAttributeValue;
use lifeguard_common::AwsError;
use lifeguard_common::aws_error;

/// Name of the message attribute that says whom a message is for.
pub const OWNER_ATTRIBUTE: &str = "owner";
/// The [`OWNER_ATTRIBUTE`] value of the operators' digest.
pub const DIGEST_OWNER: &str = "*digest*";
/// Longest subject SNS takes.
const MAX_SUBJECT_CHARS: usize = 100;

/// The notices topic through the SDK, with the shared configuration's retries and timeouts.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    /// Builds the client from the shared SDK configuration, for the topic.
    pub fn new(sdk: &aws_config::SdkConfig, topic_arn: impl Into<String>) -> Self {
        Self { client: aws_sdk_sns::Client::new(sdk), topic_arn: topic_arn.into() }
    }

    async fn publish(&self, owner: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        let owner =
            MessageAttributeValue::builder().data_type("String").string_value(owner).build().map_err(
                |e| AwsError {
                    operation: "Publish",
                    code: "InvalidParameter".into(),
                    message: e.to_string(),
                },
            )?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(sns_subject(subject))
            .message(message)
            .message_attributes(OWNER_ATTRIBUTE, owner)
            .send()
            .await
            .map_err(|e| aws_error("Publish", e))?;
        Ok(())
    }
}

/// A subject SNS accepts: printable ASCII, at most 100 characters.
fn sns_subject(subject: &str) -> String {
    subject
        .chars()
        .map(|c| if c == ' ' || c.is_ascii_graphic() { c } else { '?' })
        .take(MAX_SUBJECT_CHARS)
        .collect()
}

impl Notifier for SnsNotifier {
    async fn notify(&self, owner: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        self.publish(owner, subject, message).await
    }

    async fn digest(&self, subject: &str, message: &str) -> Result<(), AwsError> {
        self.publish(DIGEST_OWNER, subject, message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_printable_ascii_of_at_most_100_characters() {
        assert_eq!(sns_subject("Stack «demo» expires\n"), "Stack ?demo? expires?");
        assert_eq!(sns_subject(&"x".repeat(150)).len(), 100);
    }
}
