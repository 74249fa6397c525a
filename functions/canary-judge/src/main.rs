//! The in-flight judge: while CodeDeploy shifts a deployment's traffic, judges the canary against
//! the baseline every minute on the post-traffic rules and publishes the `Lifeguard/CanaryFailing`
//! metric whose alarm, among the deployment group's alarms, stops and rolls back a bad canary.

use lifeguard_common::load_config;
use lifeguard_hooks::aws::{CloudWatchClient, CodeDeployClient, LambdaClient};
use lifeguard_hooks::lambda::serve_in_flight_judge;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = load_config().await;
    serve_in_flight_judge(CodeDeployClient::new(&sdk), LambdaClient::new(&sdk), CloudWatchClient::new(&sdk))
        .await
}
