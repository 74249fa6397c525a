//! CodeDeploy `BeforeAllowTraffic` hook: finds the target version from the deployment, probes that
//! exact version with the configured checks, and reports one verdict.

use lifeguard_common::load_config;
use lifeguard_hooks::aws::{CodeDeployClient, LambdaClient, SnsVerdictTopic};
use lifeguard_hooks::lambda::serve_pre_traffic;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = load_config().await;
    serve_pre_traffic(CodeDeployClient::new(&sdk), LambdaClient::new(&sdk), |topic| {
        SnsVerdictTopic::new(&sdk, topic)
    })
    .await
}
