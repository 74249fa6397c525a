//! CodeDeploy `AfterAllowTraffic` hook: checks alarms, compares the new version with the old one on
//! CloudWatch metrics, probes the alias, and reports one verdict.

use lifeguard_common::load_config;
use lifeguard_hooks::aws::{CloudWatchClient, CodeDeployClient, LambdaClient, SnsVerdictTopic};
use lifeguard_hooks::lambda::serve_post_traffic;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = load_config().await;
    serve_post_traffic(
        CodeDeployClient::new(&sdk),
        LambdaClient::new(&sdk),
        CloudWatchClient::new(&sdk),
        |topic| SnsVerdictTopic::new(&sdk, topic),
    )
    .await
}
