//! `lifeguard explain`: what each lifeguard hook decided for a deployment and why, from the
//! deployment itself (CodeDeploy) and the reports the hooks logged (CloudWatch Logs).

use crate::args::Flags;
use aws_sdk_cloudwatchlogs::Client as LogsClient;
use lifeguard_common::time::Timestamp;
use lifeguard_common::{aws_error, load_config};
use lifeguard_hooks::aws::CodeDeployClient;
use lifeguard_hooks::deployment::LifecycleEvent;
use lifeguard_hooks::hook::discover;
use lifeguard_hooks::verdicts::findings_lines;
use serde_json::{Value, json};
use std::process::ExitCode;

const USAGE: &str = "\
usage: lifeguard explain DEPLOYMENT_ID [--json]

With the caller's credentials, account and region: the deployment's status, error and rollback
(CodeDeploy), what it deploys (its AppSpec), and for each hook the AppSpec names, the report the
hook logged for this deployment (found in the hook function's log group, read from its logging
configuration): verdict, reason, whether CodeDeploy accepted it, and each probe check, alarm and
analysis rule with its own reason.

Exit status: 0 when explained (hooks without a report are listed as such), 1 when the deployment
cannot be read, 2 on bad arguments.";

/// Log events read per hook at most (pages of `FilterLogEvents`): the report is near the start.
const MAX_PAGES: usize = 20;

/// Runs the subcommand with its arguments.
pub fn explain(mut args: impl Iterator<Item = String>) -> ExitCode {
    let deployment_id = match args.next() {
        Some(help) if help == "-h" || help == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(id) if !id.starts_with('-') => id,
        _ => return usage_error("a deployment id is required (d-...)"),
    };
    let flags = match Flags::parse(args, &[], &["--json"]) {
        Ok(Some(flags)) => flags,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => return usage_error(&problem),
    };
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
    let explained = runtime.block_on(explanation(&deployment_id));
    let explanation = match explained {
        Ok(explanation) => explanation,
        Err(problem) => {
            eprintln!("lifeguard explain: {problem}");
            return ExitCode::from(1);
        }
    };
    if flags.set("--json") {
        println!("{explanation:#}");
    } else {
        print_explanation(&explanation);
    }
    ExitCode::SUCCESS
}

/// The deployment, its target and every hook's report, as JSON.
async fn explanation(deployment_id: &str) -> Result<Value, String> {
    let sdk = load_config().await;
    let info = aws_sdk_codedeploy::Client::new(&sdk)
        .get_deployment()
        .deployment_id(deployment_id)
        .send()
        .await
        .map_err(|e| aws_error("GetDeployment", e).to_string())?;
    let info = info.deployment_info().ok_or("GetDeployment answered without deploymentInfo")?;
    let discovered = discover(&CodeDeployClient::new(&sdk), deployment_id).await?;
    let since = discovered
        .deployment
        .create_time
        .unwrap_or_else(Timestamp::now)
        .minus(std::time::Duration::from_mins(1));
    let (lambda, logs) = (aws_sdk_lambda::Client::new(&sdk), LogsClient::new(&sdk));
    let mut hooks = Vec::new();
    for (event, function) in &discovered.target.hooks {
        hooks.push(hook_explanation(&lambda, &logs, deployment_id, *event, function, since).await);
    }
    let target = &discovered.target;
    Ok(json!({
        "deploymentId": deployment_id,
        "status": info.status().map(aws_sdk_codedeploy::types::DeploymentStatus::as_str),
        "application": discovered.deployment.application_name,
        "deploymentGroup": discovered.deployment.deployment_group,
        "created": discovered.deployment.create_time.map(|t| t.to_string()),
        // CodeDeploy may send these objects empty: only what they say is kept.
        "error": info.error_information().filter(|e| e.code().is_some() || e.message().is_some()).map(|e| json!({
            "code": e.code().map(aws_sdk_codedeploy::types::ErrorCode::as_str), "message": e.message(),
        })),
        "rollback": info.rollback_info().filter(|r| r.rollback_deployment_id().is_some() || r.rollback_message().is_some()).map(|r| json!({
            "deploymentId": r.rollback_deployment_id(),
            "triggeredBy": r.rollback_triggering_deployment_id(),
            "message": r.rollback_message(),
        })),
        "function": target.function_name,
        "alias": target.alias,
        "currentVersion": target.current_version,
        "targetVersion": target.target_version,
        "hooks": hooks,
    }))
}

/// One hook: its function, log group, and the last report it logged for the deployment (or why
/// there is none).
async fn hook_explanation(
    lambda: &aws_sdk_lambda::Client,
    logs: &LogsClient,
    deployment_id: &str,
    event: LifecycleEvent,
    function: &str,
    since: Timestamp,
) -> Value {
    let mut explained = json!({"lifecycleEvent": event.to_string(), "function": function});
    let log_group = match lambda.get_function_configuration().function_name(function).send().await {
        Ok(configuration) => configuration
            .logging_config()
            .and_then(|c| c.log_group())
            .map_or_else(|| format!("/aws/lambda/{}", short_name(function)), str::to_owned),
        Err(error) => {
            explained["problem"] = json!(aws_error("GetFunctionConfiguration", error).to_string());
            return explained;
        }
    };
    explained["logGroup"] = json!(log_group);
    match logged_report(logs, &log_group, deployment_id, event, since).await {
        Ok(Some(report)) => explained["report"] = report,
        Ok(None) => {
            explained["problem"] = json!(format!(
                "no report for {deployment_id} in {log_group} since {since}: the hook did not run for it, \
                 or its logs are gone (retention)"
            ));
        }
        Err(problem) => explained["problem"] = json!(problem),
    }
    explained
}

/// The function name in a function name or ARN.
fn short_name(function: &str) -> &str {
    if function.starts_with("arn:") { function.split(':').nth(6).unwrap_or(function) } else { function }
}

/// The last report in `log_group` a hook logged for `deployment_id` and `event`: the `report`
/// member of its metrics line (see `lifeguard_common::emf`).
async fn logged_report(
    logs: &LogsClient,
    log_group: &str,
    deployment_id: &str,
    event: LifecycleEvent,
    since: Timestamp,
) -> Result<Option<Value>, String> {
    let mut found = None;
    let mut pages = logs
        .filter_log_events()
        .log_group_name(log_group)
        .start_time(since.unix_millis())
        .filter_pattern(format!("\"{deployment_id}\""))
        .into_paginator()
        .send();
    let mut read = 0;
    while let Some(page) = pages.next().await {
        let page = match page.map_err(|e| aws_error("FilterLogEvents", e)) {
            Ok(page) => page,
            Err(error) if error.code == "ResourceNotFoundException" => {
                return Err(format!("log group {log_group} does not exist: the hook has never logged there"));
            }
            Err(error) => return Err(error.to_string()),
        };
        for message in page.events().iter().filter_map(|e| e.message()) {
            let line =
                message.find('{').and_then(|start| serde_json::from_str::<Value>(&message[start..]).ok());
            if let Some(report) = line.map(|mut line| line["report"].take())
                && report["deploymentId"] == deployment_id
                && report["lifecycleEvent"] == event.to_string()
            {
                found = Some(report);
            }
        }
        read += 1;
        if read == MAX_PAGES {
            break;
        }
    }
    Ok(found)
}

fn print_explanation(explanation: &Value) {
    let text = |value: &Value| value.as_str().map_or_else(|| "-".to_owned(), str::to_owned);
    println!(
        "deployment {}: {} (application {}, group {}), created {}",
        text(&explanation["deploymentId"]),
        text(&explanation["status"]),
        text(&explanation["application"]),
        text(&explanation["deploymentGroup"]),
        text(&explanation["created"])
    );
    println!(
        "  {} alias {}: {} -> {}",
        text(&explanation["function"]),
        text(&explanation["alias"]),
        text(&explanation["currentVersion"]),
        text(&explanation["targetVersion"])
    );
    if let Some(error) = explanation["error"].as_object() {
        println!("  error {}: {}", text(&error["code"]), text(&error["message"]));
    }
    if let Some(rollback) = explanation["rollback"].as_object() {
        println!("  rollback: {} {}", text(&rollback["deploymentId"]), text(&rollback["message"]));
    }
    for hook in explanation["hooks"].as_array().into_iter().flatten() {
        println!();
        let report = &hook["report"];
        if report.is_null() {
            println!(
                "{} {}: {}",
                text(&hook["lifecycleEvent"]),
                text(&hook["function"]),
                text(&hook["problem"])
            );
            continue;
        }
        println!(
            "{} {}: {} (reported: {}) {}",
            text(&hook["lifecycleEvent"]),
            text(&hook["function"]),
            text(&report["verdict"]),
            text(&report["reported"]),
            text(&report["reason"])
        );
        for line in findings_lines(report, str::to_owned) {
            println!("{line}");
        }
    }
}

fn usage_error(problem: &str) -> ExitCode {
    eprintln!("lifeguard explain: {problem}\n\n{USAGE}");
    ExitCode::from(2)
}
