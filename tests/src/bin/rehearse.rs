//! The local rehearsal (`./dev rehearse`, which starts the local AWS and sets the environment):
//! deploys the sample app on the local AWS, runs the REAL pre-traffic binary through the Lambda
//! Runtime API (`cargo lambda watch`) with `checks/checks.yaml` for a good and a bad release, and
//! shows what it decided and what CodeDeploy recorded. Exits non-zero unless the good release
//! was let through and the bad one stopped.

use lifeguard_tests::watch::{
    PRE_TRAFFIC_HOOK, Watch, loyalty_behaviours, pre_traffic_event, repo_check_file, says_silver_for_alice,
};
use lifeguard_tests::{DeploymentSpec, FunctionSpec, LocalAws, SeededDeployment, unique};
use serde_json::Value;
use std::process::ExitCode;

/// One rehearsed deployment.
struct Rehearsal {
    label: &'static str,
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
}

#[tokio::main]
async fn main() -> ExitCode {
    let aws = LocalAws::connect().await;
    let checks = repo_check_file();
    eprintln!("==> starting cargo lambda watch (the first invocation compiles the functions)");
    let watch = Watch::start_with_repo_checks();

    // The sample app, as SAM would deploy it: LoyaltyFunction with three published versions.
    let function = unique("rehearsal-loyalty");
    aws.seed_function(FunctionSpec::new(&function, 3, "LoyaltyFunction")).await;
    eprintln!("==> scripting versions 1-3 of {function} with the answers of the real loyalty binary");
    aws.script(&function, "1", loyalty_behaviours(&watch, &checks, "1"));
    aws.script(&function, "2", loyalty_behaviours(&watch, &checks, "2"));
    aws.script(&function, "3", says_silver_for_alice(loyalty_behaviours(&watch, &checks, "3")));

    let plan = [
        ("good release (answers like the sample app)", "1", "2", "Succeeded"),
        ("bad release (says Silver for alice)", "2", "3", "Failed"),
    ];
    let mut rehearsals = Vec::new();
    for (label, current, target, expected) in plan {
        let spec = DeploymentSpec::new(&function, Some(current), target, PRE_TRAFFIC_HOOK);
        let deployment = aws.seed_deployment(&spec).await;
        eprintln!("==> {}: {current} -> {target}, running the pre-traffic hook", deployment.deployment_id);
        let event = pre_traffic_event(&deployment.deployment_id, &deployment.execution_id);
        let invoked = watch.invoke_file(PRE_TRAFFIC_HOOK, event.path());
        let report = if invoked.success {
            serde_json::from_str(invoked.stdout.trim()).map_err(|e| format!("unreadable report ({e})"))
        } else {
            Err(format!("{}{}", invoked.stdout.trim(), invoked.stderr.trim()))
        };
        rehearsals.push(Rehearsal { label, current, target, expected, deployment, report });
    }

    println!();
    println!(
        "lifeguard rehearsal: {function} (LoyaltyFunction), checks/checks.yaml, real pre-traffic binary"
    );
    println!();
    println!(
        "{:<13} {:<9} {:<10} {:<10} {:<17} {:>8}",
        "deployment", "versions", "expected", "verdict", "reported", "took"
    );
    for r in &rehearsals {
        let (reported, took) = match &r.report {
            Ok(report) => (
                report["reported"].as_str().unwrap_or("?").to_owned(),
                format!("{} ms", report["durationMs"].as_u64().unwrap_or(0)),
            ),
            Err(_) => ("not reported".to_owned(), "-".to_owned()),
        };
        let versions = format!("{} -> {}", r.current, r.target);
        println!(
            "{:<13} {versions:<9} {:<10} {:<10} {reported:<17} {took:>8}",
            r.deployment.deployment_id,
            r.expected,
            r.verdict()
        );
    }
    for r in &rehearsals {
        println!();
        println!("{} ({}):", r.deployment.deployment_id, r.label);
        match &r.report {
            Ok(report) => {
                println!("  {}", report["reason"].as_str().unwrap_or_default());
                for check in report["checks"].as_array().into_iter().flatten() {
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
            .find(|e| e["lifecycleEvent"] == "BeforeAllowTraffic")
            .and_then(|e| e["status"].as_str())
            .unwrap_or("?");
        println!(
            "  {id}  BeforeAllowTraffic ({PRE_TRAFFIC_HOOK}): {recorded:<9}  accepted reports: {}",
            if accepted.is_empty() { "none".to_owned() } else { accepted.join(", ") }
        );
        ok &= r.verdict() == r.expected && accepted == [r.expected];
    }
    println!();
    if ok {
        println!("rehearsal passed: the good release was let through, the bad one stopped");
        ExitCode::SUCCESS
    } else {
        println!("rehearsal FAILED: a verdict or a reported status is not what was expected");
        if rehearsals.iter().any(|r| r.report.is_err()) {
            eprintln!("watch log:\n{}", watch.log_tail());
        }
        ExitCode::FAILURE
    }
}
