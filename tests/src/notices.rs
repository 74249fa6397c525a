//! The reaper's notices: an SNS topic with an SQS queue subscribed to it, to read back what was
//! published.

use crate::local_aws::LocalAws;
use crate::names::unique;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

impl LocalAws {
    /// Creates a unique topic with an SQS queue subscribed to it (the SNS envelope, not raw
    /// delivery, so the message attributes travel in the body); returns (topic ARN, queue URL).
    pub async fn topic_with_queue(&self, label: &str) -> (String, String) {
        let name = unique(label);
        let topic =
            self.sns.create_topic().name(&name).send().await.unwrap_or_else(|e| panic!("CreateTopic: {e:?}"));
        let topic_arn = topic.topic_arn().expect("topic ARN").to_owned();
        let queue_url = self.sqs("CreateQueue", &json!({"QueueName": name}))["QueueUrl"]
            .as_str()
            .expect("CreateQueue gives the queue URL")
            .to_owned();
        let attributes =
            self.sqs("GetQueueAttributes", &json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]}));
        let queue_arn = attributes["Attributes"]["QueueArn"].as_str().expect("queue ARN");
        self.sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("Subscribe: {e:?}"));
        (topic_arn, queue_url)
    }

    /// Sets the filter policy (message attributes) of every subscription of `topic_arn`.
    pub async fn filter_subscriptions(&self, topic_arn: &str, policy: &Value) {
        let listed = self
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(topic_arn)
            .send()
            .await
            .expect("ListSubscriptionsByTopic");
        for subscription in listed.subscriptions() {
            let arn = subscription.subscription_arn().expect("a subscription ARN");
            self.sns
                .set_subscription_attributes()
                .subscription_arn(arn)
                .attribute_name("FilterPolicy")
                .attribute_value(policy.to_string())
                .send()
                .await
                .unwrap_or_else(|e| panic!("SetSubscriptionAttributes {arn}: {e:?}"));
        }
    }

    /// Subscribes `address` by email to `topic_arn` with `policy` as filter policy: pending until
    /// [`confirm_email`](Self::confirm_email).
    pub async fn subscribe_email(&self, topic_arn: &str, address: &str, policy: &Value) {
        self.sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("email")
            .endpoint(address)
            .attributes("FilterPolicy", policy.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("Subscribe {address}: {e:?}"));
    }

    /// Confirms the email subscription of `address`, as following the link SNS mails does.
    pub fn confirm_email(&self, topic_arn: &str, address: &str) {
        let body = json!({"topicArn": topic_arn, "endpoint": address});
        self.control("POST", "/_lifeguard/sns/confirm-subscription", Some(&body));
    }

    /// The SNS envelopes waiting in the queue (bodies parsed as JSON), read once.
    pub fn received(&self, queue_url: &str) -> Vec<Value> {
        let answer = self.sqs(
            "ReceiveMessage",
            &json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}),
        );
        let messages = answer["Messages"].as_array().cloned().unwrap_or_default();
        messages
            .iter()
            .map(|m| {
                let body = m["Body"].as_str().unwrap_or_else(|| panic!("message without a body: {m}"));
                serde_json::from_str(body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {body}"))
            })
            .collect()
    }

    /// One SQS call over its JSON protocol (the tests need no SQS SDK for three operations).
    fn sqs(&self, operation: &str, body: &Value) -> Value {
        let body = body.to_string();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.0\r\n\
             X-Amz-Target: AmazonSQS.{operation}\r\nAuthorization: AWS4-HMAC-SHA256 \
             Credential=testing/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let mut stream = TcpStream::connect(&self.addr).expect("connect to the local AWS");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
        stream.write_all(request.as_bytes()).expect("send SQS request");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read SQS answer");
        let (head, content) =
            answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("SQS {operation}: {answer}"));
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "SQS {operation}: {answer}"
        );
        serde_json::from_str(content)
            .unwrap_or_else(|e| panic!("SQS {operation} answer is not JSON ({e}): {answer}"))
    }
}
