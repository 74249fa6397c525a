//! CodeDeploy AfterAllowTraffic hook: checks alarms, compares the new version with the old one on
//! CloudWatch metrics, probes the alias, and reports one verdict.

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use lifeguard_common::load_config;
use lifeguard_hooks::aws::{CloudWatchClient, CodeDeployClient, LambdaClient};
use lifeguard_hooks::deadline::remaining;
use lifeguard_hooks::post_traffic::PostTrafficHook;
use lifeguard_hooks::settings::HookSettings;
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let sdk = load_config().await;
    let hook = PostTrafficHook {
        codedeploy: CodeDeployClient::new(&sdk),
        functions: LambdaClient::new(&sdk),
        metrics: CloudWatchClient::new(&sdk),
        settings: HookSettings::from_env(),
        hook_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "post-traffic".into()),
    };
    if let Err(problem) = &hook.settings.checks {
        tracing::error!(%problem, "every invocation will report Failed until this is fixed");
    }
    let hook = &hook;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let left = remaining(event.context.deadline, now.as_millis() as u64);
        hook.handle(event.payload, left, now.as_secs_f64(), &event.context.invoked_function_arn).await
    }))
    .await
}
