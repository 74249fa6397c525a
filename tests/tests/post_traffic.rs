//! The post-traffic (`AfterAllowTraffic`) hook end to end through `PostTrafficHook::handle`, with
//! the real SDK clients (CodeDeploy, Lambda, CloudWatch over rpcv2Cbor) against the local AWS:
//! alarms, canary-versus-baseline analysis on seeded `AWS/Lambda` series, probes on the alias,
//! the status it reports (read back from the launcher) and the JSON report it returns.
//!
//! Each case seeds ten minutes of per-minute metrics for both versions from the deployment's
//! creation on, and hands the hook `now` = creation + 10 minutes, the end of its window.

use aws_sdk_cloudwatch::types::StateValue;
use lifeguard_common::time::Timestamp;
use lifeguard_tests::behaviour::{answer, api};
use lifeguard_tests::{
    DeploymentSpec, FunctionSpec, GET_METRIC_DATA_TARGET, LocalAws, Minute, Noise, PostHook,
    SeededDeployment, Traffic, summary, unique,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const HOOK: &str = "CodeDeployHook_lifeguard-post-traffic";
const LOGICAL_ID: &str = "SampleFunction";
const ALIAS: &str = "live";
/// Time the tests give the hook, as Lambda would (the hook's own timeout).
const REMAINING: Duration = Duration::from_mins(1);
/// Minutes of metrics seeded, one datapoint per minute from the deployment's creation on.
const MINUTES: usize = 10;
/// When the hook runs, after the deployment's creation: the end of the analysis window.
const HOOK_RUNS_AFTER: Duration = Duration::from_mins(10);

/// The old version's traffic before and while the canary gets its share.
const BASELINE: Traffic =
    Traffic { invocations: 300, error_rate: 0.01, duration_ms: 120.0, jitter: 0.05, tail_ms: None };
/// A healthy canary: a smaller share of the same traffic, behaving the same.
const CANARY: Traffic = Traffic { invocations: 120, ..BASELINE };

/// One probe on the alias, and the analysis entry for the function: its extra alarm and rules
/// (default rules when `rules` is empty; otherwise YAML list items indented by 6).
fn check_file(alarm: &str, rules: &str, expect_version: Option<&str>) -> String {
    let version = expect_version.map_or(String::new(), |v| format!(", /body/version: \"{v}\""));
    let rules = if rules.is_empty() { String::new() } else { format!("    rules:\n{rules}") };
    format!(
        "functions:\n  {LOGICAL_ID}:\n    - name: answers-ok\n      payload: {{probe: 1}}\n      \
         expect:\n        statusCode: 200\n        values: {{/body/ok: true{version}}}\n\
         analysis:\n  {LOGICAL_ID}:\n    alarms: [{alarm}]\n{rules}"
    )
}

/// What a healthy version `version` answers.
fn healthy(version: &str) -> Value {
    answer(api(200, json!({"ok": true, "version": version})))
}

/// How a case is set up.
struct Setup<'a> {
    label: &'a str,
    /// Published versions ("1", "2", ...).
    versions: u32,
    current: Option<&'a str>,
    target: &'a str,
    /// Where the alias points when the hook runs (CodeDeploy moved it to the target).
    alias_version: &'a str,
    /// Traffic of the current version and of the target version; `None`: no metrics at all.
    baseline: Option<Traffic>,
    canary: Option<Traffic>,
    /// Rules for the check file (see [`check_file`]); empty: the default rules.
    rules: &'a str,
    /// A probe that also requires the answer's `/body/version`.
    expect_version: Option<&'a str>,
    /// Seed of the metrics' noise.
    seed: u64,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Self {
            label: "post",
            versions: 2,
            current: Some("1"),
            target: "2",
            alias_version: "2",
            baseline: Some(BASELINE),
            canary: Some(CANARY),
            rules: "",
            expect_version: None,
            seed: 1,
        }
    }
}

/// A test's function, alarms, seeded metrics, deployment and hook.
struct Case {
    aws: LocalAws,
    function: String,
    deployment: SeededDeployment,
    /// The alarm the check file names (OK unless the test drives it).
    alarm: String,
    /// The deployment group's alarm (OK unless the test drives it).
    group_alarm: String,
    baseline: Vec<Minute>,
    canary: Vec<Minute>,
    hook: PostHook,
}

impl Case {
    async fn new(setup: Setup<'_>) -> Self {
        let aws = LocalAws::connect().await;
        let function = unique(setup.label);
        let spec = FunctionSpec {
            alias_version: Some(setup.alias_version),
            ..FunctionSpec::new(&function, setup.versions, LOGICAL_ID)
        };
        aws.seed_function(spec).await;
        for version in 1..=setup.versions {
            aws.script(&function, &version.to_string(), vec![healthy(&version.to_string())]);
        }
        let (alarm, group_alarm) = (format!("{function}-errors"), format!("{function}-group"));
        aws.put_alarm(&alarm, &function, setup.target, StateValue::Ok).await;
        aws.put_alarm(&group_alarm, &function, setup.target, StateValue::Ok).await;

        let mut spec = DeploymentSpec::post_traffic(&function, setup.current, setup.target, HOOK);
        spec.resource = LOGICAL_ID.into();
        spec.group_alarms = vec![group_alarm.clone()];
        let deployment = aws.seed_deployment(&spec).await;

        // Datapoints at creation + 0, 1, ... 9 minutes: within [createTime, now], one per period.
        let mut noise = Noise::new(setup.seed);
        let mut seed = async |version: Option<&str>, traffic: Option<Traffic>| {
            let (Some(version), Some(traffic)) = (version, traffic) else { return Vec::new() };
            let minutes = traffic.minutes(MINUTES, &mut noise);
            aws.put_lambda_metrics(&function, ALIAS, version, deployment.create_time, &minutes).await;
            minutes
        };
        let baseline = seed(setup.current, setup.baseline).await;
        let canary = seed(Some(setup.target), setup.canary).await;

        let checks = check_file(&alarm, setup.rules, setup.expect_version);
        let hook = aws.post_traffic_hook(&checks, HOOK, &deployment.application);
        Self { aws, function, deployment, alarm, group_alarm, baseline, canary, hook }
    }

    /// The hook's `now`: ten minutes after the deployment was created.
    fn now(&self) -> Timestamp {
        self.deployment.create_time.plus(HOOK_RUNS_AFTER)
    }

    async fn handle(&self) -> Value {
        self.handle_with(REMAINING).await
    }

    async fn handle_with(&self, remaining: Duration) -> Value {
        let report = self
            .hook
            .handle(self.deployment.event(), remaining, self.now(), &self.aws.function_arn(HOOK))
            .await;
        let report = report.unwrap_or_else(|e| panic!("the hook returned an error: {e}"));
        let json = serde_json::to_value(&report).expect("the report serializes");
        assert_eq!(json["deploymentId"], self.deployment.deployment_id.as_str());
        assert_eq!(json["lifecycleEventHookExecutionId"], self.deployment.execution_id.as_str());
        assert_eq!(json["hook"], HOOK);
        assert_eq!(json["lifecycleEvent"], "AfterAllowTraffic", "{json:#}");
        assert_eq!(
            (json["functionName"].as_str(), json["alias"].as_str()),
            (Some(self.function.as_str()), Some(ALIAS))
        );
        json
    }

    fn assert_reported_once(&self, expected: &str) {
        self.aws.assert_reported_once(&self.deployment.deployment_id, expected);
    }

    /// The analysis covered the whole deployment window in one `GetMetricData` call.
    fn assert_analysed(&self, report: &Value) {
        let analysis = &report["analysis"];
        assert_eq!(analysis["getMetricDataCalls"], 1, "{analysis:#}");
        let start = self.deployment.create_time.unix_seconds().div_euclid(60) * 60;
        let end = (self.now().unix_seconds_rounded_up() + 59).div_euclid(60) * 60;
        assert_eq!(analysis["window"], json!({"start": start, "end": end}), "{analysis:#}");
    }

    /// The check-file alarm and (when the local AWS returns the group's alarm configuration)
    /// the deployment group's alarm were read, with their states.
    fn assert_alarms(&self, report: &Value, state: &str) {
        let alarms = report["alarms"].as_array().expect("alarms");
        assert!(alarms.contains(&json!({"name": self.alarm, "state": state})), "{alarms:#?}");
        for alarm in alarms {
            let name = alarm["name"].as_str().expect("an alarm name");
            assert!(name == self.alarm || name == self.group_alarm, "unexpected alarm {alarm}");
            assert_eq!(alarm["state"], if name == self.alarm { state } else { "OK" }, "{alarm}");
        }
    }

    /// The probe on the alias passed.
    fn assert_probes_passed(report: &Value) {
        let checks = report["probes"]["checks"].as_array().expect("probe checks");
        assert_eq!(report["probes"]["checkKey"], LOGICAL_ID);
        assert_eq!(checks.len(), 1, "{checks:#?}");
        assert_eq!(
            (checks[0]["name"].as_str(), checks[0]["passed"].as_bool()),
            (Some("answers-ok"), Some(true))
        );
    }
}

/// Verdict, `reported` and a reason that mentions `mentions`.
fn assert_report(report: &Value, verdict: &str, mentions: &str) {
    assert_eq!(report["verdict"], verdict, "{report:#}");
    assert_eq!(report["reported"], "accepted", "{report:#}");
    let reason = report["reason"].as_str().expect("a reason");
    assert!(reason.contains(mentions), "reason {reason:?} does not mention {mentions:?}");
    assert!(report["durationMs"].is_u64(), "{report:#}");
}

/// The result of rule `name` in the report.
fn rule<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["analysis"]["rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["rule"] == name))
        .unwrap_or_else(|| panic!("no rule {name} in {report:#}"))
}

fn close(actual: &Value, expected: f64) -> bool {
    actual.as_f64().is_some_and(|a| (a - expected).abs() <= 1e-9 * expected.abs().max(1.0))
}

/// Decision, outcome and a reason of rule `name`; the result, for more checks.
fn assert_rule(report: &Value, name: &str, decision: &str, outcome: &str) -> Value {
    let result = rule(report, name).clone();
    assert_eq!(
        (result["decision"].as_str(), result["outcome"].as_str()),
        (Some(decision), Some(outcome)),
        "{result:#}"
    );
    assert!(result["reason"].as_str().is_some_and(|r| !r.is_empty()), "{result:#}");
    result
}

/// Error-rate rule: both versions' rates and invocation counts as seeded, and a test.
fn assert_error_rate_values(result: &Value, baseline: &[Minute], canary: &[Minute]) {
    assert!(close(&result["baselineValue"], summary::error_rate(baseline)), "{result:#}");
    assert!(close(&result["canaryValue"], summary::error_rate(canary)), "{result:#}");
    assert_eq!(result["baselineSamples"], summary::invocations(baseline), "{result:#}");
    assert_eq!(result["canarySamples"], summary::invocations(canary), "{result:#}");
    assert!(["twoProportionZ", "fisherExact"].contains(&result["test"].as_str().unwrap_or("")), "{result:#}");
    assert!(result["pValue"].as_f64().is_some_and(|p| (0.0..=1.0).contains(&p)), "{result:#}");
    assert!(result["statistic"].is_number(), "{result:#}");
}

/// Latency rule: both versions' medians of per-minute averages as seeded, ten periods each.
fn assert_latency_values(result: &Value, baseline: &[Minute], canary: &[Minute]) {
    assert!(close(&result["baselineValue"], summary::median_duration(baseline)), "{result:#}");
    assert!(close(&result["canaryValue"], summary::median_duration(canary)), "{result:#}");
    assert_eq!((result["baselineSamples"].as_u64(), result["canarySamples"].as_u64()), (Some(10), Some(10)));
    assert!(
        ["mannWhitneyExact", "mannWhitneyNormal"].contains(&result["test"].as_str().unwrap_or("")),
        "{result:#}"
    );
    assert!(result["pValue"].as_f64().is_some_and(|p| (0.0..=1.0).contains(&p)), "{result:#}");
}

#[tokio::test]
async fn healthy_canary_passes_with_both_versions_measured() {
    let case = Case::new(Setup { label: "post-healthy", ..Setup::default() }).await;
    let report = case.handle().await;

    assert_report(&report, "Succeeded", "4 rules passed");
    assert_eq!((report["currentVersion"].as_str(), report["targetVersion"].as_str()), (Some("1"), Some("2")));
    case.assert_alarms(&report, "OK");
    case.assert_analysed(&report);
    let names: Vec<_> =
        report["analysis"]["rules"].as_array().unwrap().iter().map(|r| r["rule"].clone()).collect();
    assert_eq!(names, ["error-rate", "latency", "latency-p99", "throttles"], "the default rules");
    let errors = assert_rule(&report, "error-rate", "pass", "pass");
    assert_error_rate_values(&errors, &case.baseline, &case.canary);
    let latency = assert_rule(&report, "latency", "pass", "pass");
    assert_latency_values(&latency, &case.baseline, &case.canary);
    let throttles = assert_rule(&report, "throttles", "pass", "pass");
    assert_eq!(
        (throttles["baselineValue"].as_f64(), throttles["canaryValue"].as_f64()),
        (Some(0.0), Some(0.0))
    );
    assert_eq!(throttles["canarySamples"], 10);
    Case::assert_probes_passed(&report);
    case.assert_reported_once("Succeeded");
}

#[tokio::test]
async fn canary_error_rate_five_times_the_baseline_fails_naming_the_rule() {
    let canary = Traffic { error_rate: 0.05, ..CANARY };
    let case = Case::new(Setup { label: "post-errors", canary: Some(canary), ..Setup::default() }).await;
    let report = case.handle().await;

    assert_report(&report, "Failed", "rule error-rate: canary error rate");
    case.assert_analysed(&report);
    let errors = assert_rule(&report, "error-rate", "fail", "fail");
    assert_error_rate_values(&errors, &case.baseline, &case.canary);
    assert!(errors["pValue"].as_f64().unwrap() < 1e-6, "{errors:#}");
    let ratio = summary::error_rate(&case.canary) / summary::error_rate(&case.baseline);
    assert!(ratio > 3.0 && close(&errors["effectSize"], ratio), "{errors:#}");
    assert!(errors["reason"].as_str().unwrap().ends_with(": fail"), "{errors:#}");
    assert_rule(&report, "latency", "pass", "pass");
    // Everything else was healthy: the reason names the rule alone.
    let reason = report["reason"].as_str().unwrap();
    assert!(
        !reason.contains("alarm") && !reason.contains("probes") && !reason.contains("latency"),
        "{reason}"
    );
    case.assert_alarms(&report, "OK");
    Case::assert_probes_passed(&report);
    case.assert_reported_once("Failed");
}

#[tokio::test]
async fn canary_latency_sixty_percent_higher_fails() {
    let canary = Traffic { duration_ms: BASELINE.duration_ms * 1.6, ..CANARY };
    let case = Case::new(Setup { label: "post-latency", canary: Some(canary), ..Setup::default() }).await;
    let report = case.handle().await;

    assert_report(&report, "Failed", "rule latency: canary median");
    case.assert_analysed(&report);
    let latency = assert_rule(&report, "latency", "fail", "fail");
    assert_latency_values(&latency, &case.baseline, &case.canary);
    assert!(latency["pValue"].as_f64().unwrap() < 0.001, "{latency:#}");
    let effect = latency["effectSize"].as_f64().unwrap();
    assert!((1.45..1.75).contains(&effect), "{latency:#}");
    assert_rule(&report, "error-rate", "pass", "pass");
    case.assert_reported_once("Failed");
}

// The gap a mean hides: the canary's mean latency is 5% higher (within the latency rule's
// minimum effect), while its slowest 2% take three times the baseline's p99. The default
// tail-latency rule reads CloudWatch's per-minute p99 of Duration and fails it.
#[tokio::test]
async fn canary_p99_tripled_with_its_mean_within_ten_percent_fails() {
    let baseline_p99 = BASELINE.duration_ms * 1.45;
    let canary =
        Traffic { duration_ms: BASELINE.duration_ms * 1.05, tail_ms: Some(3.0 * baseline_p99), ..CANARY };
    let case = Case::new(Setup { label: "post-p99", canary: Some(canary), ..Setup::default() }).await;
    let report = case.handle().await;

    assert_report(&report, "Failed", "rule latency-p99: canary median");
    let mean = assert_rule(&report, "latency", "pass", "pass");
    assert!((1.0..1.1).contains(&mean["effectSize"].as_f64().unwrap()), "{mean:#}");
    let tail = assert_rule(&report, "latency-p99", "fail", "fail");
    let (baseline, canary) = (tail["baselineValue"].as_f64().unwrap(), tail["canaryValue"].as_f64().unwrap());
    assert!(
        (baseline / baseline_p99 - 1.0).abs() < 0.06,
        "baseline p99 {baseline} ~ {baseline_p99}: {tail:#}"
    );
    assert!((canary / (3.0 * baseline_p99) - 1.0).abs() < 0.06, "canary p99 {canary}: {tail:#}");
    assert_eq!((tail["baselineSamples"].as_u64(), tail["canarySamples"].as_u64()), (Some(10), Some(10)));
    assert_rule(&report, "error-rate", "pass", "pass");
    case.assert_reported_once("Failed");
}

// The same canary with the tail rule in observe mode (how a team tries a rule before it may
// veto): the rule still reads p99 and says it failed, but the deployment succeeds.
#[tokio::test]
async fn an_observed_tail_rule_reports_its_failure_without_rolling_back() {
    let rules = "      - {name: latency, kind: seriesComparison, metric: {name: Duration}}\n      \
                 - {name: latency-p99, kind: seriesComparison, mode: observe, minRatio: 1.5,\n         \
                 metric: {name: Duration, statistic: p99}}\n";
    let canary = Traffic {
        duration_ms: BASELINE.duration_ms * 1.05,
        tail_ms: Some(3.0 * 1.45 * BASELINE.duration_ms),
        ..CANARY
    };
    let case =
        Case::new(Setup { label: "post-observe", canary: Some(canary), rules, ..Setup::default() }).await;
    let report = case.handle().await;

    assert_report(&report, "Succeeded", "1 rules passed; observe mode, not counted: latency-p99 failed");
    let tail = assert_rule(&report, "latency-p99", "fail", "pass");
    assert_eq!(tail["mode"], "observe", "{tail:#}");
    assert!(
        tail["reason"].as_str().unwrap().ends_with("(observe mode: never fails the deployment)"),
        "{tail:#}"
    );
    case.assert_reported_once("Succeeded");
}

// A canary too small to show the rule's own minimum effect: the error-rate rule passes on the
// data but says what it could have detected; with requirePower the pass is inconclusive, and
// onInconclusive: fail rolls back.
#[tokio::test]
async fn an_underpowered_pass_is_inconclusive_when_the_rule_requires_power() {
    let rules = "      - {name: error-rate, kind: errorRate, requirePower: true, onInconclusive: fail}\n\
                 \x20     - {name: lenient, kind: errorRate}\n";
    let canary = Traffic { invocations: 7, ..CANARY };
    let case =
        Case::new(Setup { label: "post-power", canary: Some(canary), rules, ..Setup::default() }).await;
    let report = case.handle().await;

    assert_report(&report, "Failed", "rule error-rate: ");
    let strict = assert_rule(&report, "error-rate", "inconclusive", "fail");
    assert_eq!(strict["underpowered"], true, "{strict:#}");
    let reason = strict["reason"].as_str().unwrap();
    assert!(
        reason.contains("could have detected ≥ ") && reason.contains("underpowered (requirePower)"),
        "{reason}"
    );
    let ratio = strict["detectableEffect"].as_f64().unwrap();
    assert!(ratio > 1.5, "{strict:#}");
    // The same data without requirePower: a pass that says how little it could see.
    let lenient = assert_rule(&report, "lenient", "pass", "pass");
    assert_eq!(lenient["underpowered"], true);
    assert!(
        lenient["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("could have detected ≥ {ratio:.2}x error rate")),
        "{lenient:#}"
    );
    case.assert_reported_once("Failed");
}

#[tokio::test]
async fn noisy_but_equal_versions_pass() {
    let noisy = |invocations| Traffic {
        invocations,
        error_rate: 0.02,
        duration_ms: 250.0,
        jitter: 0.35,
        tail_ms: None,
    };
    let case = Case::new(Setup {
        label: "post-noisy",
        baseline: Some(noisy(200)),
        canary: Some(noisy(80)),
        seed: 2024,
        ..Setup::default()
    })
    .await;
    let report = case.handle().await;

    assert_report(&report, "Succeeded", "4 rules passed");
    case.assert_analysed(&report);
    let errors = assert_rule(&report, "error-rate", "pass", "pass");
    assert_error_rate_values(&errors, &case.baseline, &case.canary);
    let latency = assert_rule(&report, "latency", "pass", "pass");
    assert_latency_values(&latency, &case.baseline, &case.canary);
    // The series really are noisy: per-minute latencies spread widely on both sides.
    for minutes in [&case.baseline, &case.canary] {
        let (low, high) = minutes
            .iter()
            .fold((f64::MAX, 0.0_f64), |(l, h), m| (l.min(m.duration_ms), h.max(m.duration_ms)));
        assert!(high / low > 1.3, "{minutes:?}");
    }
    case.assert_reported_once("Succeeded");
}

#[tokio::test]
async fn no_canary_invocations_follow_the_no_data_policy() {
    // Default rules: no data is inconclusive (throttles: pass), counted as pass.
    let case = Case::new(Setup { label: "post-nodata", canary: None, ..Setup::default() }).await;
    let report = case.handle().await;
    assert_report(&report, "Succeeded", "4 rules passed");
    case.assert_analysed(&report);
    let errors = assert_rule(&report, "error-rate", "inconclusive", "pass");
    assert_eq!(
        errors["reason"],
        "no canary invocations in the window: inconclusive (onNoData), counted as pass"
    );
    assert_eq!((errors["canarySamples"].as_u64(), errors["canaryValue"].as_f64()), (Some(0), None));
    let latency = assert_rule(&report, "latency", "inconclusive", "pass");
    assert!(latency["reason"].as_str().unwrap().starts_with("no canary data in the window"), "{latency:#}");
    assert_rule(&report, "throttles", "pass", "pass");
    case.assert_reported_once("Succeeded");

    // One rule with `onNoData: fail`: the same silence fails the deployment, naming the rule.
    let strict = "      - name: error-rate\n        kind: errorRate\n        onNoData: fail\n      \
                  - name: latency\n        kind: seriesComparison\n        metric: {name: Duration}\n";
    let case =
        Case::new(Setup { label: "post-nodata-strict", canary: None, rules: strict, ..Setup::default() })
            .await;
    let report = case.handle().await;
    assert_report(&report, "Failed", "rule error-rate: no canary invocations in the window: fail (onNoData)");
    assert_rule(&report, "error-rate", "fail", "fail");
    assert_rule(&report, "latency", "inconclusive", "pass");
    assert_eq!(report["analysis"]["rules"].as_array().unwrap().len(), 2, "the configured rules only");
    case.assert_reported_once("Failed");
}

#[tokio::test]
async fn alarm_in_alarm_fails_naming_it() {
    let case = Case::new(Setup { label: "post-alarm", ..Setup::default() }).await;
    case.aws.set_alarm_state(&case.alarm, StateValue::Alarm).await;
    let report = case.handle().await;

    assert_report(&report, "Failed", &format!("alarm {} is ALARM", case.alarm));
    case.assert_alarms(&report, "ALARM");
    // The metrics and probes were still judged, and were fine.
    case.assert_analysed(&report);
    assert!(
        rule(&report, "error-rate")["outcome"] == "pass" && rule(&report, "latency")["outcome"] == "pass"
    );
    Case::assert_probes_passed(&report);
    case.assert_reported_once("Failed");
}

#[tokio::test]
async fn deployment_group_alarm_in_alarm_fails_naming_it() {
    let case = Case::new(Setup { label: "post-group-alarm", ..Setup::default() }).await;
    assert_eq!(
        case.aws.deployment_group_alarms(&case.deployment).await,
        [case.group_alarm.as_str()],
        "GetDeploymentGroup must return the alarm configuration the group was created with"
    );
    case.aws.set_alarm_state(&case.group_alarm, StateValue::Alarm).await;
    let report = case.handle().await;
    assert_report(&report, "Failed", &format!("alarm {} is ALARM", case.group_alarm));
    let alarms = report["alarms"].as_array().unwrap();
    assert!(alarms.contains(&json!({"name": case.group_alarm, "state": "ALARM"})), "{alarms:#?}");
    assert!(alarms.contains(&json!({"name": case.alarm, "state": "OK"})), "{alarms:#?}");
    case.assert_reported_once("Failed");
}

#[tokio::test]
async fn cloudwatch_throttling_then_recovering_passes() {
    let case = Case::new(Setup { label: "post-cw-throttled", ..Setup::default() }).await;
    case.aws.inject_fault(GET_METRIC_DATA_TARGET, &case.function, 2, 400, "Throttling");
    let report = case.handle().await;

    assert_report(&report, "Succeeded", "4 rules passed");
    case.assert_analysed(&report); // one call: the SDK retried it
    let errors = assert_rule(&report, "error-rate", "pass", "pass");
    assert_error_rate_values(&errors, &case.baseline, &case.canary);
    let pending = case.aws.control("GET", "/_lifeguard/faults", None);
    assert!(!pending.to_string().contains(&case.function), "both faults were used up: {pending}");
    case.assert_reported_once("Succeeded");
}

#[tokio::test]
async fn cloudwatch_down_until_the_deadline_fails_in_time() {
    let case = Case::new(Setup { label: "post-cw-down", ..Setup::default() }).await;
    case.aws.inject_fault(GET_METRIC_DATA_TARGET, &case.function, 50, 500, "InternalFailure");
    let remaining = Duration::from_secs(4);
    let started = Instant::now();
    let report = case.handle_with(remaining).await;
    let took = started.elapsed();

    assert!(took < remaining, "the hook took {took:?}, past Lambda's deadline of {remaining:?}");
    // Either the SDK gave up first ("metrics unreadable: ... InternalFailure") or the deadline
    // came first ("metrics unread at the deadline").
    assert_report(&report, "Failed", "metrics unread");
    assert_eq!(report["analysis"], Value::Null, "{report:#}");
    case.assert_alarms(&report, "OK");
    Case::assert_probes_passed(&report);
    case.assert_reported_once("Failed");
}

#[tokio::test]
async fn probes_go_through_the_alias_to_the_target_version() {
    let case = Case::new(Setup { label: "post-alias", expect_version: Some("2"), ..Setup::default() }).await;
    let report = case.handle().await;
    assert_report(&report, "Succeeded", "1 checks passed on alias live (version 2)");
    Case::assert_probes_passed(&report);

    let calls = case.aws.invocations(&case.function);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let call = &calls[0];
    assert_eq!(
        (call["qualifier"].as_str(), call["executedVersion"].as_str()),
        (Some(ALIAS), Some("2")),
        "{call:#}"
    );
    assert_eq!((call["payload"].clone(), call["status"].as_u64()), (json!({"probe": 1}), Some(200)));
    case.assert_reported_once("Succeeded");
}

#[tokio::test]
async fn probes_fail_when_the_alias_still_serves_the_old_version() {
    let case = Case::new(Setup { label: "post-alias-old", alias_version: "1", ..Setup::default() }).await;
    let report = case.handle().await;
    assert_report(&report, "Failed", "probes on alias live: 1 of 1 checks failed");
    assert!(
        report["reason"].as_str().unwrap().contains("answered by version 1, not the target version 2"),
        "{report:#}"
    );
    let calls = case.aws.invocations(&case.function);
    assert_eq!(
        (calls[0]["qualifier"].as_str(), calls[0]["executedVersion"].as_str()),
        (Some(ALIAS), Some("1"))
    );
    case.assert_reported_once("Failed");
}

#[tokio::test]
async fn first_deployment_skips_the_analysis_saying_why() {
    let case = Case::new(Setup {
        label: "post-first",
        versions: 1,
        current: None,
        target: "1",
        alias_version: "1",
        baseline: None,
        ..Setup::default()
    })
    .await;
    let report = case.handle().await;

    assert_report(&report, "Succeeded", "no baseline version to compare with");
    assert_eq!(report["currentVersion"], Value::Null, "{report:#}");
    assert_eq!(report["analysis"], Value::Null, "analysis skipped: {report:#}");
    case.assert_alarms(&report, "OK");
    Case::assert_probes_passed(&report);
    case.assert_reported_once("Succeeded");
}
