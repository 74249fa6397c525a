//! The REAL binaries behind the Lambda Runtime API (`cargo lambda watch`): `pre-traffic` and
//! `post-traffic` with the repository's `examples/loyalty/checks/checks.yaml`, judging sample-app deployments on
//! the local AWS (the sample app's answers come from the real `loyalty` binary, served by the same
//! watch), and `reaper` replaying scheduled runs over stacks of the local AWS.

use aws_sdk_cloudwatch::types::StateValue;
use lifeguard_hooks::deployment::LifecycleEvent;
use lifeguard_reaper::tags::{OWNER_TAG, TEMPORARY_TAG, TTL_TAG};
use lifeguard_reaper::{Mode, ReaperConfig, Timestamp};
use lifeguard_tests::behaviour::{answer, api};
use lifeguard_tests::iam::{Principal, RoleBinding};
use lifeguard_tests::watch::{
    ORDERS_CHECKS, ORDERS_CODE, POST_TRAFFIC_HOOK, PRE_TRAFFIC_HOOK, Watch, check_payloads,
    example_check_file, loyalty_behaviours, post_traffic_event, pre_traffic_event, python_behaviours,
    repo_check_file, says_silver_for_alice,
};
use lifeguard_tests::{
    DeploymentSpec, FunctionSpec, LocalAws, Noise, SeededDeployment, Traffic, repo_root, scheduled_event,
    stack_template, summary, unique,
};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

/// These tests run one after another. The hooks judge each probe's wall-clock latency against the
/// check file's budgets; on a 2-core CI machine, a second test's `cargo run` and seeding of the
/// local AWS once took a 5 ms probe past its 1,000 ms budget.
async fn one_test_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::const_new(());
    TURN.lock().await
}

/// The stacks the reaper binary may delete (`lifeguard` is kept by its protection).
const ALLOWED_STACKS: &str = "app-*";

/// A deployment 1 → 2 of a new `LoyaltyFunction` whose pre-traffic hook is the real binary, and a
/// watch serving the binaries under the pre-traffic hook's role for that deployment's application.
fn pre_traffic_setup(aws: &LocalAws, label: &str) -> (DeploymentSpec, Watch) {
    let spec = DeploymentSpec::new(&unique(label), Some("1"), "2", PRE_TRAFFIC_HOOK);
    let role = aws.as_role(&RoleBinding::pre_traffic_hook(&spec.application, &aws.region()));
    (spec, Watch::start_with_repo_checks(&role))
}

/// Seeds the function of `spec` with versions 1 (answering like the sample app) and 2 (answering
/// as `bad_target` says, or like the sample app) and its deployment.
async fn seed(
    aws: &LocalAws,
    watch: &Watch,
    spec: &DeploymentSpec,
    bad_target: Option<Vec<Value>>,
) -> SeededDeployment {
    let checks = repo_check_file();
    let function = &spec.function;
    aws.seed_function(FunctionSpec::new(function, 2, "LoyaltyFunction")).await;
    aws.script(function, "1", loyalty_behaviours(watch, &checks, "1"));
    aws.script(function, "2", bad_target.unwrap_or_else(|| loyalty_behaviours(watch, &checks, "2")));
    aws.seed_deployment(spec).await
}

fn run_hook(watch: &Watch, deployment: &SeededDeployment) -> Value {
    let event = pre_traffic_event(&deployment.deployment_id, &deployment.execution_id);
    invoke_hook(watch, PRE_TRAFFIC_HOOK, event.path())
}

/// Invokes `hook` under the watch with the event in `file`; its JSON report.
fn invoke_hook(watch: &Watch, hook: &str, file: &std::path::Path) -> Value {
    let invoked = watch.invoke_file(hook, file);
    assert!(
        invoked.success,
        "invoke failed: {}\n{}\nwatch log:\n{}",
        invoked.stdout,
        invoked.stderr,
        watch.log_tail()
    );
    invoked.json()
}

#[tokio::test(flavor = "multi_thread")]
async fn real_binary_passes_a_good_version() {
    let _turn = one_test_at_a_time().await;
    let aws = LocalAws::connect().await;
    let (spec, watch) = pre_traffic_setup(&aws, "rt-good");
    let deployment = seed(&aws, &watch, &spec, None).await;

    let report = run_hook(&watch, &deployment);
    assert_eq!(report["verdict"], "Succeeded", "{report:#}");
    assert_eq!(report["reported"], "accepted");
    assert_eq!(report["hook"], PRE_TRAFFIC_HOOK);
    assert_eq!(
        report["lifecycleEvent"], "BeforeAllowTraffic",
        "the AppSpec names the hook by its function name"
    );
    assert_eq!(report["checkKey"], "LoyaltyFunction");
    let checks = report["checks"].as_array().expect("checks");
    let names: Vec<_> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gold-member", "bronze-member", "unknown-customer", "missing-customer-id"]);
    assert!(checks.iter().all(|c| c["passed"] == true), "{report:#}");
    assert_eq!(checks[0]["invocations"], 3, "gold-member repeats 3 times");
    assert_eq!(aws.accepted_statuses(&deployment.deployment_id), ["Succeeded"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn real_binary_fails_a_bad_version() {
    let _turn = one_test_at_a_time().await;
    let aws = LocalAws::connect().await;
    let (spec, watch) = pre_traffic_setup(&aws, "rt-bad");
    // Version 2 says Silver for alice, and everything else like the sample app.
    let bad = says_silver_for_alice(loyalty_behaviours(&watch, &repo_check_file(), "2"));
    let deployment = seed(&aws, &watch, &spec, Some(bad)).await;

    let report = run_hook(&watch, &deployment);
    assert_eq!(report["verdict"], "Failed", "{report:#}");
    assert_eq!(report["reported"], "accepted");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("gold-member") && reason.contains("Silver"), "{reason}");
    assert_eq!(aws.accepted_statuses(&deployment.deployment_id), ["Failed"]);
    let reports = aws.hook_reports(&deployment.deployment_id);
    assert!(reports.iter().all(|r| r["status"] == "Failed"), "{reports:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn real_binary_judges_a_python_function_with_its_apps_checks() {
    let _turn = one_test_at_a_time().await;
    let aws = LocalAws::connect().await;
    let checks = example_check_file(ORDERS_CHECKS);
    let code = repo_root().join(ORDERS_CODE);
    let payloads = check_payloads(&checks, "GetOrderFunction");
    // Versions 1 and 2 answer as the real Python handler does; version 3 says every order is lost.
    let function = unique("rt-orders");
    aws.seed_function(FunctionSpec::new(&function, 3, "GetOrderFunction")).await;
    for version in ["1", "2"] {
        aws.script(&function, version, python_behaviours(&code, "app.get_order", &payloads, version));
    }
    aws.script(&function, "3", vec![answer(api(404, json!({"message": "lost", "version": "3"})))]);
    let application = unique("orders");
    let role = aws.as_role(&RoleBinding::pre_traffic_hook(&application, &aws.region()));
    let watch = Watch::start_for_example(&role, ORDERS_CHECKS);
    for (current, target, verdict) in [("1", "2", "Succeeded"), ("2", "3", "Failed")] {
        let mut spec = DeploymentSpec::new(&function, Some(current), target, PRE_TRAFFIC_HOOK);
        spec.application = application.clone();
        spec.resource = "GetOrderFunction".into();
        let deployment = aws.seed_deployment(&spec).await;
        let report = run_hook(&watch, &deployment);
        assert_eq!(report["verdict"], verdict, "{report:#}");
        assert_eq!(report["checkKey"], "GetOrderFunction", "{report:#}");
        assert_eq!(aws.accepted_statuses(&deployment.deployment_id), [verdict]);
        let reason = report["reason"].as_str().unwrap();
        if verdict == "Succeeded" {
            assert_eq!(reason, "3 checks passed on version 2 in 5 invocations", "{report:#}");
        } else {
            assert!(
                reason.contains("known-order") && reason.contains("statusCode 404, expected 200"),
                "{reason}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn real_binary_rejects_the_malformed_event() {
    let _turn = one_test_at_a_time().await;
    let aws = LocalAws::connect().await;
    let (_spec, watch) = pre_traffic_setup(&aws, "rt-malformed");
    let invoked = watch.invoke_file(PRE_TRAFFIC_HOOK, &repo_root().join("events/pre-traffic-malformed.json"));
    assert!(!invoked.success, "a malformed event must be an error: {}", invoked.stdout);
    let output = format!("{}{}", invoked.stdout, invoked.stderr);
    assert!(output.contains("LifecycleEventHookExecutionId"), "{output}");
    assert!(output.contains("MalformedEvent"), "{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn real_post_traffic_binary_passes_a_healthy_deployment() {
    let _turn = one_test_at_a_time().await;
    let aws = LocalAws::connect().await;
    let function = unique("rt-post");
    // As SAM writes it: both hooks, the real binaries' names.
    let mut spec = DeploymentSpec::post_traffic(&function, Some("1"), "2", POST_TRAFFIC_HOOK);
    spec.hooks.insert(0, (LifecycleEvent::BeforeAllowTraffic, PRE_TRAFFIC_HOOK.into()));
    let role = aws.as_role(&RoleBinding::post_traffic_hook(&spec.application, &aws.region()));
    let watch = Watch::start_with_repo_checks(&role);
    let checks = repo_check_file();
    // Traffic has moved: the alias serves version 2.
    let moved =
        FunctionSpec { alias_version: Some("2"), ..FunctionSpec::new(&function, 2, "LoyaltyFunction") };
    aws.seed_function(moved).await;
    aws.script(&function, "1", loyalty_behaviours(&watch, &checks, "1"));
    aws.script(&function, "2", loyalty_behaviours(&watch, &checks, "2"));
    let group_alarm = format!("{function}-errors");
    aws.put_alarm(&group_alarm, &function, "2", StateValue::Ok).await;
    spec.group_alarms = vec![group_alarm];
    let deployment = aws.seed_deployment(&spec).await;

    // The binary's window ends at its own clock: the metrics are put at the deployment's
    // creation, which is before that.
    let traffic =
        Traffic { invocations: 400, error_rate: 0.01, duration_ms: 80.0, jitter: 0.1, tail_ms: None };
    let mut noise = Noise::new(11);
    let (baseline, canary) = (traffic.minutes(1, &mut noise), traffic.minutes(1, &mut noise));
    aws.put_lambda_metrics(&function, "live", "1", deployment.create_time, &baseline).await;
    aws.put_lambda_metrics(&function, "live", "2", deployment.create_time, &canary).await;

    let execution_id = deployment.execution_id_for(LifecycleEvent::AfterAllowTraffic);
    let file = post_traffic_event(&deployment.deployment_id, execution_id);
    let report = invoke_hook(&watch, POST_TRAFFIC_HOOK, file.path());

    assert_eq!(report["verdict"], "Succeeded", "{report:#}");
    assert_eq!(report["reported"], "accepted");
    assert_eq!(report["hook"], POST_TRAFFIC_HOOK);
    assert_eq!(
        report["lifecycleEvent"], "AfterAllowTraffic",
        "the AppSpec names the hook by its function name"
    );
    assert_eq!(report["lifecycleEventHookExecutionId"], execution_id);
    assert!(report["alarms"].as_array().expect("alarms").iter().all(|a| a["state"] == "OK"), "{report:#}");
    // Its metrics: one EMF line, as CloudWatch Logs reads it, with the report as an object.
    let lines = lifeguard_tests::emf::lines_in(&watch.log());
    let emf = lines
        .iter()
        .find(|line| line.line["report"]["deploymentId"] == deployment.deployment_id.as_str())
        .unwrap_or_else(|| panic!("no EMF line for the deployment in:\n{}", watch.log_tail()));
    assert_eq!(emf.namespace, "Lifeguard");
    assert_eq!(emf.dimensions["Hook"], "AfterAllowTraffic");
    assert_eq!(emf.dimensions["Function"], function);
    assert_eq!(emf.metrics["Failed"], 0.0);
    assert!(emf.metrics["DurationMs"] >= 0.0);
    assert_eq!(
        emf.metrics["Rule error-rate PValue"],
        report["analysis"]["rules"][0]["pValue"].as_f64().unwrap()
    );
    assert_eq!(emf.line["report"]["verdict"], "Succeeded", "the report is logged as an object");
    let analysis = &report["analysis"];
    assert_eq!(analysis["getMetricDataCalls"], 1, "{analysis:#}");
    let rules = analysis["rules"].as_array().expect("rules");
    let names: Vec<_> = rules.iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["error-rate", "latency", "latency-p99", "throttles"],
        "the rules of examples/loyalty/checks/checks.yaml"
    );
    assert!(rules.iter().all(|r| r["outcome"] == "pass"), "{analysis:#}");
    let errors = &rules[0];
    assert_eq!(errors["decision"], "pass", "{errors:#}");
    assert_eq!(
        (errors["baselineSamples"].as_u64(), errors["canarySamples"].as_u64()),
        (Some(u64::from(summary::invocations(&baseline))), Some(u64::from(summary::invocations(&canary))))
    );
    let checks_run = report["probes"]["checks"].as_array().expect("probe checks");
    assert_eq!(checks_run.len(), 4, "{report:#}");
    assert!(checks_run.iter().all(|c| c["passed"] == true), "{report:#}");
    assert_eq!(aws.accepted_statuses(&deployment.deployment_id), ["Succeeded"]);
    let recorded = aws.lifecycle_events(&deployment.deployment_id);
    let after =
        recorded.iter().find(|e| e["lifecycleEvent"] == "AfterAllowTraffic").expect("the hook execution");
    assert_eq!(after["status"], "Succeeded", "{recorded:?}");
    let calls = aws.invocations(&function);
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|c| c["qualifier"] == "live" && c["executedVersion"] == "2"), "{calls:#?}");
}

// The real canary-judge binary through the Runtime API, under its role, with the loyalty example's
// check file: a deployment in progress whose canary fails five times as often is judged failing
// and its datapoint (1) published; the event (CodeDeploy's state change) is not read.
#[tokio::test(flavor = "multi_thread")]
async fn real_canary_judge_binary_publishes_a_failing_verdict() {
    let _turn = one_test_at_a_time().await;
    let aws = LocalAws::connect().await;
    let function = unique("rt-judge");
    let mut spec = DeploymentSpec::post_traffic(&function, Some("1"), "2", POST_TRAFFIC_HOOK);
    spec.resource = "LoyaltyFunction".into();
    let role = aws.as_role(&RoleBinding::canary_judge(&spec.application, &aws.region()));
    let checks = repo_root().join(lifeguard_tests::watch::LOYALTY_CHECKS);
    let watch = Watch::start(&[
        ("LIFEGUARD_CHECKS_FILE", checks.to_str().expect("a UTF-8 path")),
        ("AWS_ACCESS_KEY_ID", &role.access_key),
        ("LIFEGUARD_CODEDEPLOY_APPLICATION", &spec.application),
    ]);
    aws.seed_function(FunctionSpec {
        alias_version: Some("1"),
        ..FunctionSpec::new(&function, 2, "LoyaltyFunction")
    })
    .await;
    let mut deployment = aws.seed_deployment(&spec).await;
    aws.backdate(&mut deployment, Duration::from_mins(11));
    let baseline =
        Traffic { invocations: 600, error_rate: 0.01, duration_ms: 80.0, jitter: 0.1, tail_ms: None };
    let canary = Traffic { invocations: 150, error_rate: 0.06, ..baseline };
    let mut noise = Noise::new(5);
    aws.put_lambda_metrics(&function, "live", "1", deployment.create_time, &baseline.minutes(10, &mut noise))
        .await;
    aws.put_lambda_metrics(&function, "live", "2", deployment.create_time, &canary.minutes(10, &mut noise))
        .await;

    let event = repo_root().join("events/canary-judge-deployment-start.json");
    let report = invoke_hook(&watch, "canary-judge", &event);
    assert_eq!(report["application"], spec.application.as_str(), "{report:#}");
    let judged: Vec<&Value> = report["deployments"].as_array().expect("deployments").iter().collect();
    assert_eq!(judged.len(), 1, "{report:#}");
    assert_eq!(judged[0]["deploymentId"], deployment.deployment_id.as_str());
    assert_eq!(judged[0]["verdict"], "failing", "{report:#}");
    assert!(
        judged[0]["reason"].as_str().unwrap().starts_with("rule error-rate: canary error rate"),
        "{report:#}"
    );
    assert_eq!(report["published"], true, "{report:#}");
    let rules: Vec<&str> = judged[0]["analysis"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["error-rate", "latency", "latency-p99", "throttles"], "the loyalty example's rules");
    let lines = lifeguard_tests::emf::lines_in(&watch.log());
    let emf = lines.last().unwrap_or_else(|| panic!("no EMF line:\n{}", watch.log_tail()));
    assert_eq!(emf.dimensions["Application"], spec.application);
    assert_eq!(
        (emf.metrics["Deployments"], emf.metrics["Failing"], emf.metrics["NotJudged"]),
        (1.0, 1.0, 0.0)
    );
    assert_eq!(emf.line["report"]["deployments"][0]["verdict"], "failing");
}

/// A marks table and topic for the reaper, and a watch whose functions talk to `aws`'s region
/// signing as the reaper application's role deployed in `mode` for them, with `REAPER_*` settings
/// for them and `reaper_env` added.
async fn reaper_watch(aws: &LocalAws, mode: Mode, reaper_env: &[(&str, &str)]) -> (Watch, Principal) {
    let table = aws.create_marks_table("rt-marks").await;
    let (topic, _queue) = aws.topic_with_queue("rt-notices").await;
    let config = ReaperConfig {
        mode,
        allowed_stacks: Some(vec![ALLOWED_STACKS.into()]),
        topic_arn: Some(topic.clone()),
        marks_table: Some(table.clone()),
        ..ReaperConfig::default()
    };
    let role = aws.reaper_principal(&config);
    let region = aws.region();
    let mode = if mode == Mode::Enforce { "enforce" } else { "report" };
    let mut env = vec![
        ("AWS_REGION", region.as_str()),
        ("AWS_DEFAULT_REGION", region.as_str()),
        ("AWS_ACCESS_KEY_ID", role.access_key.as_str()),
        ("REAPER_MODE", mode),
        ("REAPER_TOPIC_ARN", topic.as_str()),
        ("REAPER_MARKS_TABLE", table.as_str()),
        ("REAPER_ALLOWED_STACKS", ALLOWED_STACKS),
    ];
    env.extend_from_slice(reaper_env);
    (Watch::start(&env), role)
}

#[tokio::test(flavor = "multi_thread")]
async fn real_reaper_binary_replays_runs_and_deletes_only_the_ripe_stack() {
    let _turn = one_test_at_a_time().await;
    let aws = LocalAws::connect_isolated("eu-south-1").await;
    let template = stack_template(&[], &[]);
    let t0 = Timestamp::now().whole_seconds();
    let owned = [(TEMPORARY_TAG, "true"), (OWNER_TAG, "alice@example.com"), (TTL_TAG, "1d")];
    aws.create_stack("app-expired", &template, &owned, false).await;
    aws.create_stack("app-protected", &template, &owned, true).await;
    aws.create_stack("lifeguard", &template, &owned, false).await;
    // Lambda's JSON log format, as the template sets it (LoggingConfig).
    let env = [("REAPER_ALLOW_REPLAY", "true"), ("AWS_LAMBDA_LOG_FORMAT", "JSON")];
    let (watch, _role) = reaper_watch(&aws, Mode::Enforce, &env).await;
    let run = |days: u64, hours: u64| {
        let at = t0.plus(Duration::from_secs(days * 86_400 + hours * 3_600));
        let invoked = watch.invoke_json("reaper", &scheduled_event(at));
        assert!(invoked.success, "{}\n{}\nwatch log:\n{}", invoked.stdout, invoked.stderr, watch.log_tail());
        let report = invoked.json();
        assert_eq!(report["now"], at.to_string(), "the event's time is the run's now");
        report
    };
    let reason = |report: &Value, name: &str| {
        let stacks = report["stacks"].as_array().expect("stacks");
        let stack = stacks.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("{name}: {report:#}"));
        format!("{}/{}", stack["decision"].as_str().unwrap(), stack["reason"].as_str().unwrap())
    };

    let first = run(2, 0);
    assert_eq!(first["mode"], "enforce");
    assert_eq!(reason(&first, "app-expired"), "warn/expired-first-notice");
    assert_eq!(reason(&first, "app-protected"), "warn/termination-protected");
    assert_eq!(reason(&first, "lifeguard"), "skip/protected-name");
    assert_eq!(first["counts"]["stacks"], 3, "{first:#}");
    let expired = first["stacks"].as_array().unwrap().iter().find(|s| s["name"] == "app-expired").unwrap();
    assert_eq!(expired["mark"]["change"], "written");
    assert_eq!(expired["owner"], "alice@example.com");
    assert_eq!(reason(&run(4, 12), "app-expired"), "warn/final-notice");
    let last = run(5, 1);
    assert_eq!(reason(&last, "app-expired"), "delete/delete");
    let deleted = last["stacks"].as_array().unwrap().iter().find(|s| s["name"] == "app-expired").unwrap();
    assert_eq!(deleted["deletion"]["result"], "requested", "{last:#}");
    assert_eq!(last["counts"]["deletionsRequested"], 1, "{last:#}");
    let left: Vec<String> = aws.stack_names().await.into_iter().collect();
    assert_eq!(left, ["app-protected", "lifeguard"]);

    // The line the template's metric filter reads: { $.fields.message = "run finished" &&
    // $.fields.problems > 0 }, with the problem count as a JSON number.
    let tail = watch.log_tail();
    let finished: Vec<Value> = tail
        .lines()
        .filter_map(|line| {
            line.find('{').and_then(|start| serde_json::from_str::<Value>(&line[start..]).ok())
        })
        .filter(|line| line["fields"]["message"] == "run finished")
        .collect();
    let last_run = finished.last().unwrap_or_else(|| panic!("no JSON \"run finished\" line:\n{tail}"));
    assert!(last_run["fields"]["problems"].is_u64(), "{last_run}");
    assert_eq!(last_run["fields"]["deletions_requested"], 1, "{last_run}");
    // And its metrics: one EMF line per run, as CloudWatch Logs reads it.
    let runs = lifeguard_tests::emf::lines_in(&watch.log());
    let emf = runs.last().unwrap_or_else(|| panic!("no EMF line:\n{tail}"));
    assert_eq!((emf.namespace.as_str(), emf.dimensions["Mode"].as_str()), ("Lifeguard", "enforce"));
    assert_eq!(emf.metrics["DeletionsRequested"], 1.0);
    assert_eq!(emf.metrics["Problems"], last_run["fields"]["problems"].as_f64().unwrap());
    assert_eq!(emf.line["counts"]["deletionsRequested"], 1, "the counts as an object");
}

#[tokio::test(flavor = "multi_thread")]
async fn real_reaper_binary_stops_on_a_bad_setting_before_any_aws_call() {
    let _turn = one_test_at_a_time().await;
    let aws = LocalAws::connect_isolated("il-central-1").await;
    let (watch, role) = reaper_watch(&aws, Mode::Report, &[("REAPER_GRACE", "3 days")]).await;
    let invoked = watch.invoke_json("reaper", &scheduled_event(Timestamp::now()));
    assert!(!invoked.success, "a bad setting must fail the run: {}", invoked.stdout);
    let output = format!("{}{}", invoked.stdout, invoked.stderr);
    assert!(output.contains("InvalidConfiguration") && output.contains("REAPER_GRACE"), "{output}");
    let calls = aws.request_counts_of(&role);
    assert!(calls.is_empty(), "no AWS call: {calls:?}");
}
