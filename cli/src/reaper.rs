//! `lifeguard reaper plan`: what the reaper would decide for every stack of the caller's account
//! and region, read the way a run reads it and planned by the same code, changing nothing.

use crate::args::Flags;
use lifeguard_common::time::Timestamp;
use lifeguard_common::{aws_error, load_config};
use lifeguard_reaper::aws::{CloudFormationClient, DynamoDbMarks, SnsNotifier};
use lifeguard_reaper::{Outlook, Reaper, ReaperConfig};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::ExitCode;

const USAGE: &str = "\
usage: lifeguard reaper plan [--function NAME] [--at INSTANT] [--json]

Reads what a reaper run reads (its marks, today's deletions, who its topic reaches in enforce mode,
the stacks, and the doubts a run would settle) with the caller's credentials, account and region,
and prints what the run would decide for each stack: keep, warn, delete or skip, and why. Nothing
is changed: no lease, mark, notice or deletion.

The settings are the deployed reaper's (the REAPER_* environment of the Lambda function NAME)
with --function, else this process's REAPER_* environment. --at plans a run at that instant
(RFC 3339 UTC, e.g. 2026-12-24T09:00:00Z) instead of now: what the next runs will do.

Exit status: 0 when planned, 1 when the settings or AWS stop the run (the reason is printed, as
the run would report it), 2 on bad arguments.";

/// Runs `lifeguard reaper SUBCOMMAND` with its arguments.
pub fn reaper(mut args: impl Iterator<Item = String>) -> ExitCode {
    match args.next().as_deref() {
        Some("plan") => plan(args),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => usage_error(&format!("unknown subcommand {other}")),
        None => usage_error("a subcommand is required"),
    }
}

fn plan(args: impl Iterator<Item = String>) -> ExitCode {
    let flags = match Flags::parse(args, &["--function", "--at"], &["--json"]) {
        Ok(Some(flags)) => flags,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => return usage_error(&problem),
    };
    let now = match flags.value("--at").map(Timestamp::parse_rfc3339) {
        None => Timestamp::now(),
        Some(Ok(at)) => at,
        Some(Err(error)) => return usage_error(&format!("--at: {error}")),
    };
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
    let planned = runtime.block_on(async {
        let sdk = load_config().await;
        let config = match flags.value("--function") {
            Some(function) => deployed_config(&sdk, function).await?,
            None => ReaperConfig::from_env().map_err(|e| format!("the REAPER_* environment: {e}"))?,
        };
        let reaper = Reaper {
            stacks: CloudFormationClient::new(&sdk),
            marks: config.marks_table.as_deref().map(|table| DynamoDbMarks::new(&sdk, table)),
            notifier: config.topic_arn.as_deref().map(|topic| SnsNotifier::new(&sdk, topic)),
            config,
        };
        if reaper.config.disabled {
            return Err("the kill switch is on (REAPER_DISABLED): a run reads and changes nothing".to_owned());
        }
        let outlook = reaper
            .outlook(now, &Timestamp::now().utc_day())
            .await
            .map_err(|e| format!("a run would stop: {e}"))?;
        Ok((reaper.config, outlook))
    });
    let (config, outlook) = match planned {
        Ok(planned) => planned,
        Err(problem) => {
            eprintln!("lifeguard reaper plan: {problem}");
            return ExitCode::from(1);
        }
    };
    let report = plan_report(&config, now, &outlook);
    if flags.set("--json") {
        println!("{report:#}");
    } else {
        print_table(&report);
    }
    ExitCode::SUCCESS
}

/// The deployed reaper's settings: its function's `REAPER_*` environment, read as it reads it.
async fn deployed_config(sdk: &aws_config::SdkConfig, function: &str) -> Result<ReaperConfig, String> {
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let configuration =
        lambda.get_function_configuration().function_name(function).send().await.map_err(|e| {
            format!("reading function {function}'s settings: {}", aws_error("GetFunctionConfiguration", e))
        })?;
    let variables: HashMap<String, String> =
        configuration.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
    ReaperConfig::from_lookup(|name| variables.get(name).cloned())
        .map_err(|e| format!("function {function}'s REAPER_* environment: {e}"))
}

/// The plan as JSON: the run's mode and instant, each stack's decision, and the counts.
fn plan_report(config: &ReaperConfig, now: Timestamp, outlook: &Outlook) -> Value {
    let decisions: Vec<Value> = outlook
        .plan
        .decisions
        .iter()
        .map(|d| {
            json!({
                "stack": d.stack_name,
                "action": d.action.as_str(),
                "reason": d.reason.as_str(),
                "detail": d.detail,
                "owner": d.owner,
                "expiry": d.expiry.map(|t| t.to_string()),
                "deleteAfter": d.delete_after.map(|t| t.to_string()),
            })
        })
        .collect();
    let mut counts = serde_json::Map::new();
    for decision in &outlook.plan.decisions {
        let count = counts.entry(decision.action.as_str()).or_insert(json!(0));
        *count = json!(count.as_u64().unwrap_or(0) + 1);
    }
    json!({
        "mode": config.mode.as_str(),
        "at": now.to_string(),
        "stacks": decisions,
        "counts": counts,
        "marksRead": outlook.marks.len(),
        "deletionCapReached": outlook.plan.deletion_cap_reached,
    })
}

fn print_table(report: &Value) {
    println!(
        "reaper plan at {} ({} mode)",
        report["at"].as_str().unwrap_or(""),
        report["mode"].as_str().unwrap_or("")
    );
    let text = |value: &Value| value.as_str().unwrap_or("-").to_owned();
    let rows: Vec<[String; 5]> = report["stacks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            [
                text(&s["stack"]),
                text(&s["action"]),
                text(&s["reason"]),
                text(&s["deleteAfter"]),
                text(&s["detail"]),
            ]
        })
        .collect();
    let header = ["STACK", "ACTION", "REASON", "DELETE AFTER", "DETAIL"].map(str::to_owned);
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().chain([&header]).map(|row| row[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in [&header].into_iter().chain(&rows) {
        println!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
    }
    let counts = report["counts"]
        .as_object()
        .map(|c| c.iter().map(|(action, n)| format!("{action} {n}")).collect::<Vec<_>>().join(", "));
    println!("{} stacks: {}", rows.len(), counts.unwrap_or_default());
    if report["deletionCapReached"] == true {
        println!("the deletion cap holds back some deletions: later runs carry them out");
    }
}

fn usage_error(problem: &str) -> ExitCode {
    eprintln!("lifeguard reaper: {problem}\n\n{USAGE}");
    ExitCode::from(2)
}
