//! The local rehearsal (`./dev rehearse`, which starts the local AWS and sets the environment):
//! deploys the sample app on the local AWS and runs the REAL hook binaries through the Lambda
//! Runtime API (`cargo lambda watch`) with `checks/checks.yaml`:
//!
//! - pre-traffic (BeforeAllowTraffic) for a good and a bad release (wrong answers);
//! - post-traffic (AfterAllowTraffic), once traffic has moved to the new version, for a good
//!   canary (the same error rate as the old version) and a bad one (five times the error rate),
//!   judged on the `AWS/Lambda` metrics put for both versions.
//!
//! It shows what each hook decided and what CodeDeploy recorded, and exits non-zero unless the
//! good releases were let through and the bad ones stopped.

use lifeguard_shared::deployment::LifecycleEvent;
use lifeguard_tests::watch::{
    POST_TRAFFIC_HOOK, PRE_TRAFFIC_HOOK, Watch, loyalty_behaviours, post_traffic_event, pre_traffic_event,
    repo_check_file, says_silver_for_alice,
};
use lifeguard_tests::{DeploymentSpec, FunctionSpec, LocalAws, Noise, SeededDeployment, Traffic, unique};
use serde_json::Value;
use std::process::ExitCode;

/// One rehearsed hook run.
struct Rehearsal {
    label: &'static str,
    hook: &'static str,
    event: LifecycleEvent,
    current: &'static str,
    target: &'static str,
    expected: &'static str,
    deployment: SeededDeployment,
    report: Result<Value, String>,
}

impl Rehearsal {
    fn verdict(&self) -> &str {
        self.report.as_ref().ok().and_then(|r| r["verdict"].as_str()).unwrap_or("error")
    }

    /// Runs the hook binary on the deployment's event for this hook.
    fn run(&mut self, watch: &Watch) {
        eprintln!(
            "==> {}: {} -> {}, running the {} hook",
            self.deployment.deployment_id, self.current, self.target, self.hook
        );
        let execution_id = self.deployment.execution_id_for(self.event);
        let event = match self.event {
            LifecycleEvent::BeforeAllowTraffic => {
                pre_traffic_event(&self.deployment.deployment_id, execution_id)
            }
            LifecycleEvent::AfterAllowTraffic => {
                post_traffic_event(&self.deployment.deployment_id, execution_id)
            }
        };
        let invoked = watch.invoke_file(self.hook, event.path());
        self.report = if invoked.success {
            serde_json::from_str(invoked.stdout.trim()).map_err(|e| format!("unreadable report ({e})"))
        } else {
            Err(format!("{}{}", invoked.stdout.trim(), invoked.stderr.trim()))
        };
    }
}

/// Traffic of the sample app's versions over the minute the post-traffic hooks look at.
const HEALTHY: Traffic = Traffic { invocations: 4000, error_rate: 0.01, duration_ms: 85.0, jitter: 0.1 };
const ERRATIC: Traffic = Traffic { error_rate: 0.05, ..HEALTHY };

#[tokio::main]
async fn main() -> ExitCode {
    let aws = LocalAws::connect().await;
    let checks = repo_check_file();
    eprintln!("==> starting cargo lambda watch (the first invocation compiles the functions)");
    let watch = Watch::start_with_repo_checks();

    // The sample app, as SAM would deploy it: LoyaltyFunction with four published versions.
    // Version 3 says Silver for alice; version 4 answers right but fails 5% of real traffic.
    let function = unique("rehearsal-loyalty");
    aws.seed_function(FunctionSpec::new(&function, 4, "LoyaltyFunction")).await;
    eprintln!("==> scripting versions 1-4 of {function} with the answers of the real loyalty binary");
    aws.script(&function, "1", loyalty_behaviours(&watch, &checks, "1"));
    aws.script(&function, "2", loyalty_behaviours(&watch, &checks, "2"));
    aws.script(&function, "3", says_silver_for_alice(loyalty_behaviours(&watch, &checks, "3")));
    aws.script(&function, "4", loyalty_behaviours(&watch, &checks, "4"));

    let pre = LifecycleEvent::BeforeAllowTraffic;
    let post = LifecycleEvent::AfterAllowTraffic;
    let plan = [
        ("good release (answers like the sample app)", PRE_TRAFFIC_HOOK, pre, "1", "2", "Succeeded"),
        ("bad release (says Silver for alice)", PRE_TRAFFIC_HOOK, pre, "2", "3", "Failed"),
        ("good canary (error rate as before)", POST_TRAFFIC_HOOK, post, "1", "2", "Succeeded"),
        ("bad canary (error rate 5x)", POST_TRAFFIC_HOOK, post, "2", "4", "Failed"),
    ];
    let mut rehearsals = Vec::new();
    for (label, hook, event, current, target, expected) in plan {
        let mut spec = DeploymentSpec::new(&function, Some(current), target, PRE_TRAFFIC_HOOK);
        if event == post {
            spec.hooks.push((post, POST_TRAFFIC_HOOK.into()));
        }
        let deployment = aws.seed_deployment(&spec).await;
        rehearsals.push(Rehearsal {
            label,
            hook,
            event,
            current,
            target,
            expected,
            deployment,
            report: Err("not run".into()),
        });
    }

    for rehearsal in rehearsals.iter_mut().filter(|r| r.event == pre) {
        rehearsal.run(&watch);
    }

    // Lambda's metrics of the versions in the canary deployments, put once both deployments
    // exist: within each one's window (from its creation to when its hook runs).
    let created = rehearsals.iter().map(|r| r.deployment.create_time).fold(0.0, f64::max);
    let mut noise = Noise::new(2026);
    for (version, traffic) in [("1", HEALTHY), ("2", HEALTHY), ("4", ERRATIC)] {
        eprintln!(
            "==> putting AWS/Lambda metrics of version {version} ({:.0}% errors)",
            traffic.error_rate * 100.0
        );
        aws.put_lambda_metrics(&function, "live", version, created, &traffic.minutes(1, &mut noise)).await;
    }
    for rehearsal in rehearsals.iter_mut().filter(|r| r.event == post) {
        eprintln!("==> CodeDeploy moves alias live to version {}", rehearsal.target);
        aws.point_alias(&function, "live", rehearsal.target).await;
        rehearsal.run(&watch);
    }

    println!();
    println!("lifeguard rehearsal: {function} (LoyaltyFunction), checks/checks.yaml, real hook binaries");
    println!();
    println!(
        "{:<13} {:<13} {:<9} {:<10} {:<10} {:<17} {:>8}  reason",
        "deployment", "hook", "versions", "expected", "verdict", "reported", "took"
    );
    for r in &rehearsals {
        let (reported, took, reason) = match &r.report {
            Ok(report) => (
                report["reported"].as_str().unwrap_or("?").to_owned(),
                format!("{} ms", report["durationMs"].as_u64().unwrap_or(0)),
                report["reason"].as_str().unwrap_or_default().to_owned(),
            ),
            Err(_) => ("not reported".to_owned(), "-".to_owned(), "the hook returned an error".to_owned()),
        };
        let versions = format!("{} -> {}", r.current, r.target);
        println!(
            "{:<13} {:<13} {versions:<9} {:<10} {:<10} {reported:<17} {took:>8}  {reason}",
            r.deployment.deployment_id,
            r.hook,
            r.expected,
            r.verdict()
        );
    }
    for r in &rehearsals {
        println!();
        println!("{} ({}, {}):", r.deployment.deployment_id, r.hook, r.label);
        match &r.report {
            Ok(report) => {
                println!("  {}", report["reason"].as_str().unwrap_or_default());
                for alarm in report["alarms"].as_array().into_iter().flatten() {
                    println!("  alarm {:<8} {}", alarm["state"].as_str().unwrap_or("?"), alarm["name"]);
                }
                for rule in report["analysis"]["rules"].as_array().into_iter().flatten() {
                    let outcome = if rule["outcome"] == "fail" { "FAIL" } else { "pass" };
                    println!(
                        "  {outcome}  rule {:<15} {}",
                        rule["rule"].as_str().unwrap_or("?"),
                        rule["reason"].as_str().unwrap_or_default()
                    );
                }
                let checks = report.get("probes").map_or(&report["checks"], |probes| &probes["checks"]);
                for check in checks.as_array().into_iter().flatten() {
                    let outcome = if check["passed"] == true { "pass" } else { "FAIL" };
                    let detail: Vec<&str> = ["problems", "notes"]
                        .iter()
                        .flat_map(|k| check[*k].as_array().into_iter().flatten())
                        .filter_map(Value::as_str)
                        .collect();
                    let line = format!(
                        "  {outcome}  {:<20} {} invocation(s), {:>5} ms  {}",
                        check["name"].as_str().unwrap_or("?"),
                        check["invocations"],
                        check["durationMs"],
                        detail.join("; ")
                    );
                    println!("{}", line.trim_end());
                }
            }
            Err(error) => println!("  the hook returned an error: {error}"),
        }
    }

    println!();
    println!("Reported to the local AWS (PutLifecycleEventHookExecutionStatus), read back:");
    let mut ok = true;
    for r in &rehearsals {
        let id = &r.deployment.deployment_id;
        let accepted = aws.accepted_statuses(id);
        let events = aws.lifecycle_events(id);
        let recorded = events
            .iter()
            .find(|e| e["lifecycleEvent"] == r.event.to_string())
            .and_then(|e| e["status"].as_str())
            .unwrap_or("?");
        println!(
            "  {id}  {:<18} ({:<12}): {recorded:<9}  accepted reports: {}",
            r.event.to_string(),
            r.hook,
            if accepted.is_empty() { "none".to_owned() } else { accepted.join(", ") }
        );
        ok &= r.verdict() == r.expected && accepted == [r.expected];
    }
    println!();
    if ok {
        println!("rehearsal passed: the good release and canary were let through, the bad ones stopped");
        ExitCode::SUCCESS
    } else {
        println!("rehearsal FAILED: a verdict or a reported status is not what was expected");
        if rehearsals.iter().any(|r| r.report.is_err()) {
            eprintln!("watch log:\n{}", watch.log_tail());
        }
        ExitCode::FAILURE
    }
}
