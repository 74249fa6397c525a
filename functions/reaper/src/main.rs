//! Stale-environment reaper, run by an EventBridge schedule: plans keep / warn / delete / skip
//! for every stack, notifies owners, keeps marks, deletes only what is provably temporary, and
//! returns the JSON report of what it decided.

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use lifeguard_common::load_config;
use lifeguard_reaper::aws::{CloudFormationClient, DynamoDbMarks, SnsNotifier};
use lifeguard_reaper::{Reaper, ReaperConfig, Timestamp, handle};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let sdk = load_config().await;
    let reaper = ReaperConfig::from_env().map(|config| Reaper {
        stacks: CloudFormationClient::new(&sdk),
        marks: config.marks_table.as_deref().map(|table| DynamoDbMarks::new(&sdk, table)),
        notifier: config.topic_arn.as_deref().map(|topic| SnsNotifier::new(&sdk, topic)),
        config,
    });
    if let Err(problem) = &reaper {
        tracing::error!(%problem, "every invocation will fail until this is fixed");
    }
    let reaper = reaper.as_ref();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(reaper, &event.payload, Timestamp::now()).await
    }))
    .await
}
