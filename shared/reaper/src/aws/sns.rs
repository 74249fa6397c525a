//! SNS adapter: the reaper's notices, published to one topic.
//!
//! Every message carries the String message attribute [`OWNER_ATTRIBUTE`] (`owner`): the stack
//! owner's email address for an owner notice, [`DIGEST_OWNER`] (`*digest*`, which no email
//! address can be) for the operators' digest. Subscribers filter on it, e.g. a subscription
//! filter policy `{"owner": ["alice@example.com"]}` or `{"owner": ["*digest*"]}`.
//!
//! Subjects and messages come made to SNS's limits (see the notices' `mail_text`); they are
//! sent as given.
//!
//! Who the topic reaches is read from its subscriptions (`ListSubscriptionsByTopic`, then
//! `GetSubscriptionAttributes` of each confirmed one for its filter policy).

use crate::ports::Notifier;
pub use crate::recipients::DIGEST_OWNER;
use crate::recipients::{Recipients, admission};
use aws_sdk_sns::types::MessageAttributeValue;
use lifeguard_common::AwsError;
use lifeguard_common::aws_error;

/// Name of the message attribute that says whom a message is for.
pub const OWNER_ATTRIBUTE: &str = "owner";

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
            .subject(subject)
            .message(message)
            .message_attributes(OWNER_ATTRIBUTE, owner)
            .send()
            .await
            .map_err(|e| aws_error("Publish", e))?;
        Ok(())
    }
}

impl Notifier for SnsNotifier {
    async fn notify(&self, owner: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        self.publish(owner, subject, message).await
    }

    async fn digest(&self, subject: &str, message: &str) -> Result<(), AwsError> {
        self.publish(DIGEST_OWNER, subject, message).await
    }

    async fn recipients(&self) -> Result<Recipients, AwsError> {
        let mut pages =
            self.client.list_subscriptions_by_topic().topic_arn(&self.topic_arn).into_paginator().send();
        let mut subscriptions = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("ListSubscriptionsByTopic", e))?;
            for subscription in page.subscriptions() {
                // A subscription waiting for its confirmation has no ARN yet.
                let Some(arn) = subscription.subscription_arn().filter(|arn| arn.starts_with("arn:")) else {
                    continue;
                };
                let attributes = self
                    .client
                    .get_subscription_attributes()
                    .subscription_arn(arn)
                    .send()
                    .await
                    .map_err(|e| aws_error("GetSubscriptionAttributes", e))?;
                let attributes = attributes.attributes().cloned().unwrap_or_default();
                if attributes.get("PendingConfirmation").is_some_and(|p| p == "true") {
                    continue;
                }
                let scope_is_body = attributes.get("FilterPolicyScope").is_some_and(|s| s == "MessageBody");
                subscriptions
                    .push(admission(attributes.get("FilterPolicy").map(String::as_str), scope_is_body));
            }
        }
        Ok(Recipients { subscriptions })
    }
}
