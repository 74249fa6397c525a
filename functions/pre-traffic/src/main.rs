//! CodeDeploy BeforeAllowTraffic hook: finds the target version from the deployment, probes that
//! exact version with the configured checks, and reports one verdict.

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use lifeguard_common::load_config;
use lifeguard_hooks::aws::{CodeDeployClient, LambdaClient};
use lifeguard_hooks::deadline::remaining;
use lifeguard_hooks::pre_traffic::PreTrafficHook;
use lifeguard_hooks::settings::HookSettings;
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let sdk = load_config().await;
    let hook = PreTrafficHook {
        codedeploy: CodeDeployClient::new(&sdk),
        functions: LambdaClient::new(&sdk),
        settings: HookSettings::from_env(),
        hook_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "pre-traffic".into()),
    };
    if let Err(problem) = &hook.settings.checks {
        tracing::error!(%problem, "every invocation will report Failed until this is fixed");
    }
    let hook = &hook;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        hook.handle(
            event.payload,
            remaining(event.context.deadline, now_ms),
            &event.context.invoked_function_arn,
        )
        .await
    }))
    .await
}
