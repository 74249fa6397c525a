//! Stale-environment reaper, run by an EventBridge schedule: plans keep / warn / delete / skip
//! for every stack, notifies owners, keeps marks, deletes only what is provably temporary, and
//! returns the JSON report of what it decided.

use lifeguard_common::load_config;
use lifeguard_reaper::Reaper;
use lifeguard_reaper::aws::{CloudFormationClient, DynamoDbMarks, SnsNotifier};
use lifeguard_reaper::lambda::serve;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = load_config().await;
    serve(|config| Reaper {
        stacks: CloudFormationClient::new(&sdk),
        marks: config.marks_table.as_deref().map(|table| DynamoDbMarks::new(&sdk, table)),
        notifier: config.topic_arn.as_deref().map(|topic| SnsNotifier::new(&sdk, topic)),
        config,
    })
    .await
}
