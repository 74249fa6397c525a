//! SNS adapter: a hook's verdicts, published to one topic with their message attributes.

use crate::verdicts::{VerdictMessage, VerdictTopic};
use aws_sdk_sns::types::MessageAttributeValue;
use lifeguard_common::{AwsError, aws_error};

/// The verdict topic through the SDK, with the shared configuration's retries and timeouts.
#[derive(Debug, Clone)]
pub struct SnsVerdictTopic {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsVerdictTopic {
    /// Builds the client from the shared SDK configuration, for the topic.
    pub fn new(sdk: &aws_config::SdkConfig, topic_arn: impl Into<String>) -> Self {
        Self { client: aws_sdk_sns::Client::new(sdk), topic_arn: topic_arn.into() }
    }
}

impl VerdictTopic for SnsVerdictTopic {
    async fn publish(&self, message: &VerdictMessage) -> Result<(), AwsError> {
        let mut publish =
            self.client.publish().topic_arn(&self.topic_arn).subject(&message.subject).message(&message.text);
        for (name, value) in &message.attributes {
            let value =
                MessageAttributeValue::builder().data_type("String").string_value(value).build().map_err(
                    |e| AwsError {
                        operation: "Publish",
                        code: "InvalidParameter".into(),
                        message: e.to_string(),
                    },
                )?;
            publish = publish.message_attributes(*name, value);
        }
        publish.send().await.map_err(|e| aws_error("Publish", e))?;
        Ok(())
    }
}
