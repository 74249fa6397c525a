//! The local rehearsal (`./dev rehearse`, which starts the local AWS and sets the environment):
//! deploys both example apps on the local AWS as SAM deploys them and runs the REAL hook binaries
//! through the Lambda Runtime API (`cargo lambda watch`), each signing as its own role from the
//! hooks application's template (the local AWS refuses anything those policies do not allow),
//! with the example's own check file:
//!
//! - `examples/loyalty` (Rust): answers from the real `loyalty` binary;
//! - `examples/python-orders` (Python): answers from its real handlers, run by `python3`.
//!
//! For each: pre-traffic (`BeforeAllowTraffic`) for a good and a bad release (wrong answers), and
//! post-traffic (`AfterAllowTraffic`), once traffic has moved to the new version, for a good canary
//! (the same error rate as the old version) and a bad one (five times the error rate), judged on
//! the `AWS/Lambda` metrics put for both versions. It shows what each hook decided and what
//! CodeDeploy recorded.
//!
//! Then the REAL `reaper` binary, through a watch of its own in a region of its own
//! (`eu-central-2`, cleared first) in enforce mode: a dozen stacks are seeded (protected,
//! out of scope, blocked, young, and three expired ones with an owner), and scheduled runs are
//! replayed on advancing event times (seeding + 2 days: first notices; + 4.5 days: final
//! notices; + 5 days 1 hour: deletions). Each run's JSON report is printed as a table.
//!
//! It exits non-zero unless the good releases were let through, the bad ones stopped, and
//! exactly the expired stacks with an owner and nothing blocking are gone.

use lifeguard_hooks::deployment::LifecycleEvent;
use lifeguard_reaper::aws::{DIGEST_OWNER, OWNER_ATTRIBUTE};
use lifeguard_reaper::tags::{EXPIRES_AT_TAG, OWNER_TAG, TEMPORARY_TAG, TTL_TAG};
use lifeguard_reaper::{Mode, ReaperConfig, Timestamp};
use lifeguard_tests::iam::RoleBinding;
use lifeguard_tests::watch::{
    LOYALTY_CHECKS, ORDERS_CHECKS, ORDERS_CODE, POST_TRAFFIC_HOOK, PRE_TRAFFIC_HOOK, Watch, check_payloads,
    example_check_file, loyalty_behaviours, post_traffic_event, pre_traffic_event, python_behaviours,
    says_silver_for_alice,
};
use lifeguard_tests::{
    DeploymentSpec, FunctionSpec, LocalAws, Noise, SeededDeployment, Traffic, repo_root, scheduled_event,
    stack_template, unique,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

/// One rehearsed hook run.
struct Rehearsal {
    label: &'static str,
    logical_id: &'static str,
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
            "==> {}: {} {} -> {}, running the {} hook",
            self.deployment.deployment_id, self.logical_id, self.current, self.target, self.hook
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

/// Traffic of a version over the minute the post-traffic hooks look at.
const HEALTHY: Traffic =
    Traffic { invocations: 4000, error_rate: 0.01, duration_ms: 85.0, jitter: 0.1, tail_ms: None };
const ERRATIC: Traffic = Traffic { error_rate: 0.05, ..HEALTHY };

const PRE: LifecycleEvent = LifecycleEvent::BeforeAllowTraffic;
const POST: LifecycleEvent = LifecycleEvent::AfterAllowTraffic;

/// An example app deployed on the local AWS as SAM deploys it: one CodeDeploy application, the
/// hooks application's two hooks, each a real binary under a watch of its own signing as its own
/// role, reading the example's check file.
struct Deployed {
    name: &'static str,
    checks: &'static str,
    application: String,
    pre: Watch,
    post: Watch,
}

impl Deployed {
    fn start(aws: &LocalAws, name: &'static str, checks: &'static str) -> Self {
        let application = unique(name);
        let region = aws.region();
        eprintln!("==> {name}: starting the hooks under their roles (the first invocation compiles them)");
        let pre = aws.as_role(&RoleBinding::pre_traffic_hook(&application, &region));
        let post = aws.as_role(&RoleBinding::post_traffic_hook(&application, &region));
        let pre = Watch::start_for_example(&pre, checks);
        let post = Watch::start_for_example(&post, checks);
        Self { name, checks, application, pre, post }
    }
}

/// A guarded function of an example: its logical id and, per version from "1", its answers.
struct Guarded {
    logical_id: &'static str,
    versions: Vec<Vec<Value>>,
}

/// One planned deployment: label, function, hook event, versions, expected verdict.
type Planned = (&'static str, &'static str, LifecycleEvent, &'static str, &'static str, &'static str);

#[tokio::main]
async fn main() -> ExitCode {
    let hooks_ok = rehearse_hooks().await;
    let in_flight_ok = rehearse_in_flight().await;
    let reaper_ok = rehearse_reaper().await;
    println!();
    if hooks_ok && in_flight_ok && reaper_ok {
        println!(
            "rehearsal passed: the good release and canary were let through, the bad ones stopped; \
             the bad canary was rolled back mid-shift; the reaper deleted exactly the expired stacks \
             it may delete"
        );
        ExitCode::SUCCESS
    } else {
        let mut failures = Vec::new();
        if !hooks_ok {
            failures.push("a hook's verdict or reported status is not what was expected");
        }
        if !in_flight_ok {
            failures.push("the in-flight judge did not roll back exactly the bad canary mid-shift");
        }
        if !reaper_ok {
            failures.push("a reaper run failed, or the stacks gone are not exactly the expected ones");
        }
        println!("rehearsal FAILED: {}", failures.join("; "));
        ExitCode::FAILURE
    }
}

/// The hooks' part: both examples, each with a good and a bad release and a good and a bad
/// canary; returns whether every verdict and report is the expected one.
async fn rehearse_hooks() -> bool {
    let aws = LocalAws::connect().await;

    // The Rust sample: versions 1-4 of LoyaltyFunction answer like the real loyalty binary, but
    // version 3 says Silver for alice and version 4 fails 5% of real traffic.
    let loyalty = Deployed::start(&aws, "loyalty", LOYALTY_CHECKS);
    let checks = example_check_file(LOYALTY_CHECKS);
    eprintln!("==> loyalty: answers of versions 1-4 from the real loyalty binary");
    let mut versions: Vec<Vec<Value>> =
        (1..=4).map(|v| loyalty_behaviours(&loyalty.pre, &checks, &v.to_string())).collect();
    versions[2] = says_silver_for_alice(versions[2].clone());
    let loyalty_ok = rehearse_example(
        &aws,
        &loyalty,
        vec![Guarded { logical_id: "LoyaltyFunction", versions }],
        &[
            ("good release (answers like the sample app)", "LoyaltyFunction", PRE, "1", "2", "Succeeded"),
            ("bad release (says Silver for alice)", "LoyaltyFunction", PRE, "2", "3", "Failed"),
            ("good canary (error rate as before)", "LoyaltyFunction", POST, "1", "2", "Succeeded"),
            ("bad canary (error rate 5x)", "LoyaltyFunction", POST, "2", "4", "Failed"),
        ],
        &[
            ("LoyaltyFunction", "1", HEALTHY),
            ("LoyaltyFunction", "2", HEALTHY),
            ("LoyaltyFunction", "4", ERRATIC),
        ],
    )
    .await;

    // The Python app: its handlers run for real by python3. Version 3 of GetOrderFunction loses
    // the order's total; version 3 of ListOrdersFunction answers right but fails 5% of traffic.
    let orders = Deployed::start(&aws, "python-orders", ORDERS_CHECKS);
    let checks = example_check_file(ORDERS_CHECKS);
    let code = repo_root().join(ORDERS_CODE);
    eprintln!("==> python-orders: answers of versions 1-3 from the real Python handlers");
    let answers = |logical_id: &str, handler: &str, version: u32| {
        python_behaviours(&code, handler, &check_payloads(&checks, logical_id), &version.to_string())
    };
    let mut get_order: Vec<Vec<Value>> =
        (1..=3).map(|v| answers("GetOrderFunction", "app.get_order", v)).collect();
    get_order[2] = without_order_total(get_order[2].clone());
    let list_orders = (1..=3).map(|v| answers("ListOrdersFunction", "app.list_orders", v)).collect();
    let orders_ok = rehearse_example(
        &aws,
        &orders,
        vec![
            Guarded { logical_id: "GetOrderFunction", versions: get_order },
            Guarded { logical_id: "ListOrdersFunction", versions: list_orders },
        ],
        &[
            ("good release (answers like the app)", "GetOrderFunction", PRE, "1", "2", "Succeeded"),
            ("bad release (loses the total)", "GetOrderFunction", PRE, "2", "3", "Failed"),
            ("good canary (error rate as before)", "ListOrdersFunction", POST, "1", "2", "Succeeded"),
            ("bad canary (error rate 5x)", "ListOrdersFunction", POST, "2", "3", "Failed"),
        ],
        &[
            ("ListOrdersFunction", "1", HEALTHY),
            ("ListOrdersFunction", "2", HEALTHY),
            ("ListOrdersFunction", "3", ERRATIC),
        ],
    )
    .await;
    loyalty_ok && orders_ok
}

/// The in-flight judge's part: the REAL `canary-judge` binary, under its role, with the loyalty
/// example's check file, judging two deployments of the example's function while CodeDeploy
/// shifts their traffic: a good canary and a bad one (five times the error rate). Each
/// deployment's group alarm is the example's `LoyaltyCanaryFailingAlarm`. The deployments are
/// backdated ten minutes (their metrics are put for the minutes since), shifted to 10 %, judged
/// once; once CloudWatch has the minute of the judge's datapoint, CodeDeploy's next steps (25 %,
/// 50 %, 100 %) check the alarm first. Returns whether the bad canary was stopped and rolled back
/// before the full shift and the good one went all the way.
async fn rehearse_in_flight() -> bool {
    let aws = LocalAws::connect().await;
    let application = unique("inflight");
    let principal = aws.as_role(&RoleBinding::canary_judge(&application, &aws.region()));
    let checks = repo_root().join(LOYALTY_CHECKS);
    eprintln!("==> in-flight judge: starting the real canary-judge binary under its role");
    let watch = Watch::start(&[
        ("LIFEGUARD_CHECKS_FILE", checks.to_str().expect("a UTF-8 path")),
        ("AWS_ACCESS_KEY_ID", &principal.access_key),
        ("LIFEGUARD_CODEDEPLOY_APPLICATION", &application),
    ]);
    let mut noise = Noise::new(2027);
    let mut cases = Vec::new();
    for (label, canary, rolled_back) in [
        ("good canary (error rate as before)", HEALTHY, false),
        ("bad canary (error rate 5x)", ERRATIC, true),
    ] {
        let function = unique("rehearsal-inflight");
        aws.seed_function(FunctionSpec {
            alias_version: Some("1"),
            ..FunctionSpec::new(&function, 2, "LoyaltyFunction")
        })
        .await;
        let alarm = format!("{function}-LoyaltyCanaryFailingAlarm");
        aws.put_canary_failing_alarm(&alarm, &function, "live").await;
        let mut spec = DeploymentSpec::new(&function, Some("1"), "2", PRE_TRAFFIC_HOOK);
        spec.application = application.clone();
        // One function of the app each: a deployment group each, with its own alarm.
        spec.resource = if rolled_back { "BadLoyaltyFunction" } else { "GoodLoyaltyFunction" }.into();
        spec.group_alarms = vec![alarm.clone()];
        let mut deployment = aws.seed_deployment(&spec).await;
        aws.backdate(&mut deployment, Duration::from_mins(11));
        for (version, traffic) in [("1", HEALTHY), ("2", canary)] {
            let minutes = traffic.minutes(10, &mut noise);
            aws.put_lambda_metrics(&function, "live", version, deployment.create_time, &minutes).await;
        }
        eprintln!("==> {label}: {} shifts 10% of alias live to version 2", deployment.deployment_id);
        aws.shift(&deployment.deployment_id, 10);
        cases.push((label, function, alarm, deployment, rolled_back));
    }
    let invoked = watch.invoke_json("canary-judge", &scheduled_event(Timestamp::now()));
    let report: Value = serde_json::from_str(invoked.stdout.trim()).unwrap_or_else(|_| {
        json!({"error": format!("{}{}", invoked.stdout.trim(), invoked.stderr.trim()), "deployments": []})
    });
    // The judge's datapoint is in the current minute: CloudWatch evaluates the alarm on it once
    // that minute is over.
    let second = Timestamp::now().unix_seconds() % 60;
    tokio::time::sleep(Duration::from_secs(62 - second.unsigned_abs())).await;
    println!();
    println!("in-flight judge (real canary-judge binary, every minute while CodeDeploy shifts traffic):");
    println!(
        "{:<36} {:<14} {:<8} {:<10} {:<18} {:<10} alias live",
        "deployment", "judged", "datapoint", "alarm", "steps", "status"
    );
    let mut ok = report.get("error").is_none();
    for (label, function, alarm, deployment, rolled_back) in &cases {
        let judged = report["deployments"]
            .as_array()
            .and_then(|all| all.iter().find(|d| d["deploymentId"] == deployment.deployment_id.as_str()))
            .cloned()
            .unwrap_or(Value::Null);
        let alarm_state = aws.alarm_state(alarm).await;
        let mut steps = Vec::new();
        let mut status = String::from("InProgress");
        for percent in [25, 50, 100] {
            let step = aws.shift(&deployment.deployment_id, percent);
            step["status"].as_str().unwrap_or("?").clone_into(&mut status);
            if status != "InProgress" {
                steps.push(format!("stop at {percent}%"));
                break;
            }
            steps.push(format!("{percent}%"));
        }
        let (version, weights) = aws.alias_routing(function, "live").await;
        let datapoint = if judged["verdict"] == "failing" {
            "1"
        } else if judged["verdict"] == "passing" {
            "0"
        } else {
            "-"
        };
        println!(
            "{:<36} {:<14} {:<8} {:<10} {:<18} {:<10} version {version}{}",
            label,
            judged["verdict"].as_str().unwrap_or("missing"),
            datapoint,
            alarm_state,
            steps.join(" "),
            status,
            weights.map(|w| format!(" + {w}")).unwrap_or_default()
        );
        if judged["verdict"] == "failing" {
            println!("    {}", judged["reason"].as_str().unwrap_or_default());
        }
        ok &= if *rolled_back {
            judged["verdict"] == "failing" && status == "Stopped" && version == "1"
        } else {
            judged["verdict"] == "passing" && status == "InProgress" && version == "2"
        };
    }
    if !ok {
        eprintln!("judge report: {report:#}\ncanary-judge watch log:\n{}", watch.log_tail());
    }
    ok
}

/// A broken release of the orders app: `behaviours` with the known order's total gone.
fn without_order_total(mut behaviours: Vec<Value>) -> Vec<Value> {
    for behaviour in &mut behaviours {
        let body = behaviour["payload"]["body"].as_str().and_then(|b| serde_json::from_str::<Value>(b).ok());
        if let Some(mut body) = body.filter(|b| b["order"].get("total").is_some()) {
            body["order"].as_object_mut().expect("an order").remove("total");
            behaviour["payload"]["body"] = json!(body.to_string());
        }
    }
    behaviours
}

/// Seeds `functions` (tagged as CloudFormation tags them in the example's stack), runs `plan`
/// through the example's hooks (pre-traffic runs first; then the `traffic` metrics are put and,
/// for each post-traffic run, the alias moves to the target as CodeDeploy moves it), prints what
/// each hook decided and what CodeDeploy recorded; returns whether all is as expected.
async fn rehearse_example(
    aws: &LocalAws,
    example: &Deployed,
    functions: Vec<Guarded>,
    plan: &[Planned],
    traffic: &[(&str, &str, Traffic)],
) -> bool {
    let mut names = std::collections::BTreeMap::new();
    for guarded in &functions {
        let name = unique(&format!("rehearsal-{}", guarded.logical_id));
        let count = u32::try_from(guarded.versions.len()).expect("a few versions");
        aws.seed_function(FunctionSpec::new(&name, count, guarded.logical_id)).await;
        for (i, answers) in guarded.versions.iter().enumerate() {
            aws.script(&name, &(i + 1).to_string(), answers.clone());
        }
        names.insert(guarded.logical_id, name);
    }
    let mut rehearsals = Vec::new();
    for &(label, logical_id, event, current, target, expected) in plan {
        let mut spec = DeploymentSpec::new(&names[logical_id], Some(current), target, PRE_TRAFFIC_HOOK);
        spec.application = example.application.clone();
        spec.resource = logical_id.into();
        spec.hooks.push((POST, POST_TRAFFIC_HOOK.into()));
        let deployment = aws.seed_deployment(&spec).await;
        let hook = if event == PRE { PRE_TRAFFIC_HOOK } else { POST_TRAFFIC_HOOK };
        rehearsals.push(Rehearsal {
            label,
            logical_id,
            hook,
            event,
            current,
            target,
            expected,
            deployment,
            report: Err("not run".into()),
        });
    }
    for rehearsal in rehearsals.iter_mut().filter(|r| r.event == PRE) {
        rehearsal.run(&example.pre);
    }
    // Lambda's metrics of the versions in the canary deployments, put once every deployment
    // exists: within each one's window (from its creation to when its hook runs).
    let created = rehearsals.iter().map(|r| r.deployment.create_time).max().expect("rehearsed deployments");
    let mut noise = Noise::new(2026);
    for &(logical_id, version, traffic) in traffic {
        eprintln!(
            "==> putting AWS/Lambda metrics of {logical_id} version {version} ({:.0}% errors)",
            traffic.error_rate * 100.0
        );
        aws.put_lambda_metrics(&names[logical_id], "live", version, created, &traffic.minutes(1, &mut noise))
            .await;
    }
    for rehearsal in rehearsals.iter_mut().filter(|r| r.event == POST) {
        eprintln!(
            "==> CodeDeploy moves alias live of {} to version {}",
            rehearsal.logical_id, rehearsal.target
        );
        aws.point_alias(&names[rehearsal.logical_id], "live", rehearsal.target).await;
        rehearsal.run(&example.post);
    }
    print_rehearsals(aws, example, &rehearsals)
}

/// Prints the runs of one example and what CodeDeploy recorded; whether all is as expected.
fn print_rehearsals(aws: &LocalAws, example: &Deployed, rehearsals: &[Rehearsal]) -> bool {
    println!();
    println!(
        "lifeguard rehearsal: example {} ({}), real hook binaries under their roles",
        example.name, example.checks
    );
    println!();
    println!(
        "{:<13} {:<19} {:<13} {:<9} {:<10} {:<10} {:<17} {:>8}  reason",
        "deployment", "function", "hook", "versions", "expected", "verdict", "reported", "took"
    );
    for r in rehearsals {
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
            "{:<13} {:<19} {:<13} {versions:<9} {:<10} {:<10} {reported:<17} {took:>8}  {reason}",
            r.deployment.deployment_id,
            r.logical_id,
            r.hook,
            r.expected,
            r.verdict()
        );
    }
    for r in rehearsals {
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
    for r in rehearsals {
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
    if !ok && rehearsals.iter().any(|r| r.report.is_err()) {
        eprintln!("pre-traffic watch log:\n{}", example.pre.log_tail());
        eprintln!("post-traffic watch log:\n{}", example.post.log_tail());
    }
    ok
}

// ------------------------------------------------------------------------------------- reaper

/// The reaper's region: its own, cleared first, so the reaper lists only the stacks seeded here
/// (CloudFormation lists a whole region).
const REAPER_REGION: &str = "eu-central-2";
/// The reaper's mode: it deletes.
const REAPER_MODE: &str = "enforce";
/// The reaper's own protected pattern, besides the built-in `lifeguard` and `lifeguard-reaper`.
const PROTECTED: &str = "shared-*";
/// The stacks the reaper may delete at all (`shared-*` and `lifeguard*` are kept by protection).
const ALLOWED: &str = "app-*,shared-*,lifeguard*";
const HOUR: u64 = 3_600;
const DAY: u64 = 24 * HOUR;
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.com";

/// The scheduled runs replayed, as (time after seeding, what that time is for, full table).
const REAPER_RUNS: [(u64, &str, &str, bool); 3] = [
    (2 * DAY, "seeding + 2d", "first notices", true),
    (4 * DAY + 12 * HOUR, "seeding + 4.5d", "final notices", false),
    (5 * DAY + HOUR, "seeding + 5d 1h", "deletions", true),
];

/// One replayed run of the reaper binary.
struct ReaperRun {
    when: &'static str,
    purpose: &'static str,
    full: bool,
    /// Live stacks just before the run.
    before: BTreeSet<String>,
    /// The JSON report, or why there is none.
    report: Result<Value, String>,
    /// Who the notices of the run went to, in the order received (`*digest*` for the operators).
    notices: Vec<String>,
}

/// Seeds a mixed inventory in [`REAPER_REGION`]; returns every stack name and those that must be
/// gone after the last run (expired, owned, nothing blocking).
async fn seed_stacks(aws: &LocalAws, t0: Timestamp) -> (BTreeSet<String>, BTreeSet<String>) {
    let template = stack_template(&[], &[]);
    let temporary = |owner: &'static str, ttl: &'static str| {
        vec![(TEMPORARY_TAG, "true"), (OWNER_TAG, owner), (TTL_TAG, ttl)]
    };
    let alice_1d = temporary(ALICE, "1d");
    // Opted in and expired too: only the rules of protection, scope and status keep these.
    let production = aws.create_stack("lifeguard", &template, &alice_1d, false).await;
    aws.create_stack("lifeguard-reaper", &template, &alice_1d, false).await;
    aws.create_stack("shared-network", &template, &alice_1d, false).await;
    aws.create_stack("app-not-opted-in", &template, &[(OWNER_TAG, ALICE), (TTL_TAG, "1d")], false).await;
    aws.create_stack("app-nested", &template, &alice_1d, false).await;
    aws.set_stack_state("app-nested", None, Some(&production));
    aws.create_stack("app-in-progress", &template, &alice_1d, false).await;
    aws.set_stack_state("app-in-progress", Some("UPDATE_IN_PROGRESS"), None);
    // Expired, but blocked: reported on every run, never deleted.
    aws.create_stack("app-no-owner", &template, &[(TEMPORARY_TAG, "true"), (TTL_TAG, "1d")], false).await;
    aws.create_stack("app-bad-ttl", &template, &temporary(BOB, "3 days"), false).await;
    aws.create_stack("app-termination-protected", &template, &alice_1d, true).await;
    aws.create_stack("app-exporter", &stack_template(&["app-exporter-url"], &[]), &alice_1d, false).await;
    aws.create_stack("app-importer", &stack_template(&[], &["app-exporter-url"]), &[], false).await;
    // Not expired.
    aws.create_stack("app-young", &template, &temporary(ALICE, "30d"), false).await;
    // Expired after a day, owned, nothing blocking: these go.
    let expires_at = t0.plus(Duration::from_secs(DAY)).to_string();
    let expired = [
        ("app-expired-alice", temporary(ALICE, "1d")),
        ("app-expired-bob", temporary(BOB, "1d")),
        (
            "app-expired-carol",
            vec![(TEMPORARY_TAG, "true"), (OWNER_TAG, CAROL), (EXPIRES_AT_TAG, &expires_at)],
        ),
    ];
    for (name, tags) in &expired {
        aws.create_stack(name, &template, tags, false).await;
    }
    let gone = expired.iter().map(|(name, _)| (*name).to_owned()).collect();
    (aws.stack_names().await, gone)
}

/// The reaper's part: seeds stacks, replays scheduled runs of the real `reaper` binary on
/// advancing event times, prints each run's report as a table, and returns whether exactly the
/// expected stacks are gone.
async fn rehearse_reaper() -> bool {
    let aws = LocalAws::connect_isolated(REAPER_REGION).await;
    let t0 = Timestamp::now().whole_seconds();
    let (seeded, expected_gone) = seed_stacks(&aws, t0).await;
    eprintln!("==> seeded {} stacks in {REAPER_REGION}", seeded.len());
    let table = aws.create_marks_table("rehearsal-marks").await;
    let (topic, queue) = aws.topic_with_queue("rehearsal-notices").await;
    // The reaper application's role, deployed in enforce mode with its defaults otherwise.
    let role = aws.reaper_principal(&ReaperConfig {
        mode: Mode::Enforce,
        allowed_stacks: Some(ALLOWED.split(',').map(str::to_owned).collect()),
        topic_arn: Some(topic.clone()),
        marks_table: Some(table.clone()),
        ..ReaperConfig::default()
    });
    eprintln!(
        "==> starting cargo lambda watch for the reaper under its role (its first invocation compiles it)"
    );
    let watch = Watch::start(&[
        ("AWS_REGION", REAPER_REGION),
        ("AWS_DEFAULT_REGION", REAPER_REGION),
        ("AWS_ACCESS_KEY_ID", &role.access_key),
        ("REAPER_MODE", REAPER_MODE),
        ("REAPER_ALLOWED_STACKS", ALLOWED),
        // The runs are replayed at later event times.
        ("REAPER_ALLOW_REPLAY", "true"),
        ("REAPER_TOPIC_ARN", &topic),
        ("REAPER_MARKS_TABLE", &table),
        ("REAPER_PROTECTED_STACKS", PROTECTED),
    ]);

    let mut runs = Vec::new();
    for (offset, when, purpose, full) in REAPER_RUNS {
        let at = t0.plus(Duration::from_secs(offset));
        eprintln!("==> reaper run at {at} ({when}: {purpose})");
        let before = aws.stack_names().await;
        let invoked = watch.invoke_json("reaper", &scheduled_event(at));
        let report = if invoked.success {
            serde_json::from_str(invoked.stdout.trim()).map_err(|e| format!("unreadable report ({e})"))
        } else {
            Err(format!("{}{}", invoked.stdout.trim(), invoked.stderr.trim()))
        };
        let notices = notice_recipients(&aws, &queue);
        runs.push(ReaperRun { when, purpose, full, before, report, notices });
    }
    let left = aws.stack_names().await;

    println!();
    println!(
        "lifeguard reaper rehearsal: {} stacks in {REAPER_REGION}, real reaper binary, {REAPER_MODE} mode, \
         REAPER_PROTECTED_STACKS={PROTECTED}, default grace and ttl; times UTC",
        seeded.len()
    );
    for (i, run) in runs.iter().enumerate() {
        println!();
        print_run(i + 1, runs.len(), run);
    }

    let gone: Vec<&str> = seeded.difference(&left).map(String::as_str).collect();
    let expected: Vec<&str> = expected_gone.iter().map(String::as_str).collect();
    let ok = gone == expected && runs.iter().all(|r| r.report.is_ok());
    println!();
    println!(
        "gone after the last run: {}{}",
        if gone.is_empty() { "none".to_owned() } else { gone.join(", ") },
        if gone == expected {
            " (exactly the expired stacks with an owner and nothing blocking)".to_owned()
        } else {
            format!(" (expected exactly: {})", expected.join(", "))
        }
    );
    if runs.iter().any(|r| r.report.is_err()) {
        eprintln!("reaper watch log:\n{}", watch.log_tail());
    }
    ok
}

/// The recipients of the notices waiting in the topic's queue (read once, every message).
fn notice_recipients(aws: &LocalAws, queue: &str) -> Vec<String> {
    let mut recipients = Vec::new();
    loop {
        let batch = aws.received(queue);
        if batch.is_empty() {
            return recipients;
        }
        recipients.extend(batch.iter().map(|envelope| {
            envelope["MessageAttributes"][OWNER_ATTRIBUTE]["Value"].as_str().unwrap_or("?").to_owned()
        }));
    }
}

/// `2026-11-28T06:00:00Z` as `11-28 06:00`; `-` when absent.
fn short_time(value: &Value) -> String {
    value.as_str().map_or_else(|| "-".to_owned(), |t| t.get(5..16).unwrap_or(t).replacen('T', " ", 1))
}

/// Prints one run: a header line with the mode, the run's time and the counts, then the stacks
/// (all of them, or only those whose mark or existence changed), then who was notified.
fn print_run(number: usize, of: usize, run: &ReaperRun) {
    let report = match &run.report {
        Ok(report) => report,
        Err(error) => {
            println!(
                "run {number} of {of}, {} ({}): the reaper returned an error: {error}",
                run.when, run.purpose
            );
            return;
        }
    };
    let counts = &report["counts"];
    let count = |key: &str| counts[key].as_u64().unwrap_or(0);
    println!(
        "run {number} of {of}, {} ({}): {} mode, now {}; {} stacks listed, {} temporary: {} keep, {} warn, \
         {} delete, {} skip; {} owners notified, {} marks written, {} cleared, {} deletions requested{}{}",
        run.when,
        run.purpose,
        report["mode"].as_str().unwrap_or("?"),
        report["now"].as_str().unwrap_or("?"),
        count("stacks"),
        count("temporary"),
        count("keep"),
        count("warn"),
        count("delete"),
        count("skip"),
        count("ownersNotified"),
        count("marksWritten"),
        count("marksCleared"),
        count("deletionsRequested"),
        if report["deletionCapReached"] == true { ", deletion cap reached" } else { "" },
        if report["digestSent"] == true { ", digest sent" } else { ", NO digest" },
    );
    let stacks = report["stacks"].as_array().map(Vec::as_slice).unwrap_or_default();
    let changed = |stack: &&Value| {
        !matches!(stack["mark"]["change"].as_str(), None | Some("kept"))
            || stack.get("deletion").is_some()
            || stack.get("problems").is_some()
    };
    let shown: Vec<&Value> = stacks.iter().filter(|s| run.full || changed(s)).collect();
    if !run.full {
        println!("  changes only ({} of {} stacks):", shown.len(), stacks.len());
    }
    let width = shown.iter().filter_map(|s| s["name"].as_str()).map(str::len).max().unwrap_or(0).max(5);
    println!(
        "  {:<width$} {:<8} {:<21} {:<17} {:<11} {:<11} {:<12} {:<9} detail",
        "stack", "decision", "reason", "owner", "expiry", "mark", "delete after", "deletion"
    );
    for stack in shown {
        let mut detail: Vec<String> = stack["detail"].as_str().map(str::to_owned).into_iter().collect();
        let deletion = &stack["deletion"];
        if let Some(changed) = deletion["changed"].as_array() {
            let changed: Vec<&str> = changed.iter().filter_map(Value::as_str).collect();
            detail.push(format!("changed since the listing: {}", changed.join(", ")));
        }
        if let Some(error) = deletion["error"].as_str() {
            detail.push(error.to_owned());
        }
        detail.extend(
            stack["problems"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned),
        );
        let line = format!(
            "  {:<width$} {:<8} {:<21} {:<17} {:<11} {:<11} {:<12} {:<9} {}",
            stack["name"].as_str().unwrap_or("?"),
            stack["decision"].as_str().unwrap_or("?"),
            stack["reason"].as_str().unwrap_or("?"),
            stack["owner"].as_str().unwrap_or("-"),
            short_time(&stack["expiry"]),
            stack["mark"]["change"].as_str().unwrap_or("-"),
            short_time(&stack["mark"]["deleteAfter"]),
            deletion["result"].as_str().unwrap_or("-"),
            detail.join("; ")
        );
        println!("{}", line.trim_end());
    }
    if run.full {
        let reported: BTreeSet<&str> = stacks.iter().filter_map(|s| s["name"].as_str()).collect();
        let unreported: Vec<&str> =
            run.before.iter().map(String::as_str).filter(|name| !reported.contains(name)).collect();
        if !unreported.is_empty() {
            println!("  not in the report (not opted in, counted only): {}", unreported.join(", "));
        }
    }
    for problem in report["problems"].as_array().into_iter().flatten() {
        println!("  problem: {}", problem.as_str().unwrap_or_default());
    }
    // Owners in order, then the digest (the notices go out concurrently, in no set order).
    let mut distinct: Vec<&String> = run.notices.iter().collect();
    distinct.sort_by_key(|r| (r.as_str() == DIGEST_OWNER, r.as_str()));
    distinct.dedup();
    let recipients: Vec<String> = distinct
        .into_iter()
        .map(|recipient| {
            let name = if recipient == DIGEST_OWNER { "the operators' digest" } else { recipient.as_str() };
            match run.notices.iter().filter(|r| *r == recipient).count() {
                1 => name.to_owned(),
                times => format!("{name} ({times})"),
            }
        })
        .collect();
    println!(
        "  notices sent: {}",
        if recipients.is_empty() { "none".to_owned() } else { recipients.join(", ") }
    );
}
