//! The in-flight judge end to end through `InFlightJudge::run`, with the real SDK clients signing
//! as its role from the hooks application's template, against the local AWS: deployments in
//! progress found through CodeDeploy, canary against baseline on seeded `AWS/Lambda` minutes, the
//! verdict published as `Lifeguard/CanaryFailing`, and the consumer's alarm on it, among the
//! deployment group's alarms, stopping and rolling back the deployment at CodeDeploy's next
//! traffic-shifting step (the local CodeDeploy checks the group's alarms before each step, as
//! CodeDeploy monitors them while it shifts).
//!
//! Each case backdates its deployment by eleven minutes, seeds the ten minutes since for both
//! versions, and runs the judge with its clock a minute ago, so that its datapoint lands in the
//! last whole minute the local CloudWatch evaluates the alarm on now. A case that reads the alarm
//! starts early in a minute ([`early_in_a_minute`]), so that the whole case sees the same last
//! whole minute: started in a minute's first second, or read after the minute turned, the alarm
//! had no datapoint to evaluate (it failed so on a loaded CI machine).

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use lifeguard_common::time::Timestamp;
use lifeguard_hooks::in_flight::{CANARY_FAILING_METRIC, InFlightVerdict, JUDGEMENT_NAMESPACE, JudgeReport};
use lifeguard_tests::{
    DeploymentSpec, FunctionSpec, GET_METRIC_DATA_TARGET, LocalAws, Noise, SeededDeployment, Traffic, unique,
};
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

const LOGICAL_ID: &str = "SampleFunction";
const ALIAS: &str = "live";
const HOOK: &str = "lifeguard-post-traffic";
const JUDGE: &str = "canary-judge";
/// Default rules for the function: an empty analysis entry.
const CHECKS: &str = "analysis:\n  SampleFunction: {}\n";

const BASELINE: Traffic =
    Traffic { invocations: 300, error_rate: 0.01, duration_ms: 120.0, jitter: 0.05, tail_ms: None };
const CANARY: Traffic = Traffic { invocations: 40, ..BASELINE };

/// A function mid-deployment from version 1 to 2, with the consumer's alarm on the judge's metric
/// as the deployment group's alarm.
struct Case {
    aws: LocalAws,
    function: String,
    application: String,
    alarm: String,
    deployment: SeededDeployment,
}

impl Case {
    /// Seeds the function, the alarm and the deployment (backdated eleven minutes), and ten
    /// minutes of both versions' traffic (none for a version whose traffic is `None`).
    async fn new(
        label: &str,
        baseline: Option<Traffic>,
        canary: Option<Traffic>,
        current: Option<&str>,
    ) -> Self {
        let aws = LocalAws::connect().await;
        let function = unique(label);
        let spec = FunctionSpec { alias_version: Some("1"), ..FunctionSpec::new(&function, 2, LOGICAL_ID) };
        aws.seed_function(spec).await;
        let alarm = format!("{function}-canary-failing");
        aws.put_canary_failing_alarm(&alarm, &function, ALIAS).await;
        let mut spec = DeploymentSpec::post_traffic(&function, current, "2", HOOK);
        spec.application = unique(&format!("{label}-app"));
        spec.resource = LOGICAL_ID.into();
        spec.group_alarms = vec![alarm.clone()];
        let mut deployment = aws.seed_deployment(&spec).await;
        aws.backdate(&mut deployment, Duration::from_mins(11));
        let mut noise = Noise::new(11);
        for (version, traffic) in [("1", baseline), ("2", canary)] {
            if let Some(traffic) = traffic {
                let minutes = traffic.minutes(10, &mut noise);
                aws.put_lambda_metrics(&function, ALIAS, version, deployment.create_time, &minutes).await;
            }
        }
        Self { aws, function, application: spec.application, alarm, deployment }
    }

    /// One run of the judge under its role, its clock a minute ago.
    async fn judge(&self) -> JudgeReport {
        let judge = self.aws.canary_judge(CHECKS, &self.application);
        let now = Timestamp::now().minus(Duration::from_secs(61));
        let deadline = Instant::now() + Duration::from_secs(30);
        judge
            .run(now, &self.aws.function_arn(JUDGE), deadline)
            .await
            .expect("the judge lists the deployments")
    }

    /// The alarm's state as CloudWatch evaluates it now.
    async fn alarm_state(&self) -> String {
        self.aws.alarm_state(&self.alarm).await
    }

    /// Where the alias points: (version, additional version weights).
    async fn alias(&self) -> (String, Option<Value>) {
        self.aws.alias_routing(&self.function, ALIAS).await
    }

    /// The judge's datapoints for this function, as CloudWatch returns them (Maximum per minute).
    async fn published(&self) -> Vec<f64> {
        let now = Timestamp::now();
        let stats = self
            .aws
            .cloudwatch
            .get_metric_statistics()
            .namespace(JUDGEMENT_NAMESPACE)
            .metric_name(CANARY_FAILING_METRIC)
            .dimensions(Dimension::builder().name("FunctionName").value(&self.function).build())
            .dimensions(Dimension::builder().name("Alias").value(ALIAS).build())
            .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_millis(
                now.minus(Duration::from_mins(15)).unix_millis(),
            ))
            .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_millis(now.unix_millis()))
            .period(60)
            .statistics(Statistic::Maximum)
            .send()
            .await
            .unwrap();
        stats.datapoints().iter().filter_map(aws_sdk_cloudwatch::types::Datapoint::maximum).collect()
    }
}

/// The report's entry for the case's deployment.
fn entry<'a>(report: &'a JudgeReport, case: &Case) -> &'a lifeguard_hooks::in_flight::JudgedDeployment {
    let entries: Vec<_> =
        report.deployments.iter().filter(|d| d.deployment_id == case.deployment.deployment_id).collect();
    assert_eq!(entries.len(), 1, "{report:#?}");
    entries[0]
}

/// Waits, when needed, until the clock is between 2 and 20 seconds into a minute.
async fn early_in_a_minute() {
    let second = Timestamp::now().unix_millis().rem_euclid(60_000) / 1000;
    if !(2..20).contains(&second) {
        tokio::time::sleep(Duration::from_secs(u64::try_from((62 - second) % 60).unwrap_or(0))).await;
    }
}

#[tokio::test]
async fn a_bad_canary_is_rolled_back_before_the_full_shift() {
    let canary = Traffic { error_rate: 0.08, ..CANARY };
    let case = Case::new("inflight-bad", Some(BASELINE), Some(canary), Some("1")).await;
    early_in_a_minute().await;
    assert_eq!(case.aws.shift(&case.deployment.deployment_id, 10)["status"], "InProgress");
    assert_eq!(case.alias().await, ("1".to_owned(), Some(serde_json::json!({"2": 0.1}))));

    let report = case.judge().await;
    let judged = entry(&report, &case);
    assert_eq!(judged.verdict, InFlightVerdict::Failing, "{judged:#?}");
    assert!(judged.reason.starts_with("rule error-rate: canary error rate"), "{}", judged.reason);
    assert_eq!(
        (judged.baseline_version.as_deref(), judged.canary_version.as_deref()),
        (Some("1"), Some("2"))
    );
    assert!(report.published && report.problems.is_empty(), "{report:#?}");
    assert_eq!(case.published().await, [1.0]);
    assert_eq!(case.alarm_state().await, "ALARM");

    // CodeDeploy's next step finds the alarm: stopped, and the alias back on version 1 alone.
    let step = case.aws.shift(&case.deployment.deployment_id, 20);
    assert_eq!(
        (step["status"].as_str(), step["alarms"].clone()),
        (Some("Stopped"), serde_json::json!([case.alarm]))
    );
    assert_eq!(case.alias().await, ("1".to_owned(), None));
    let info = case
        .aws
        .codedeploy
        .get_deployment()
        .deployment_id(&case.deployment.deployment_id)
        .send()
        .await
        .unwrap();
    let info = info.deployment_info().unwrap();
    assert_eq!(info.status().map(aws_sdk_codedeploy::types::DeploymentStatus::as_str), Some("Stopped"));
    assert_eq!(
        info.error_information().and_then(|e| e.code()).map(aws_sdk_codedeploy::types::ErrorCode::as_str),
        Some("ALARM_ACTIVE")
    );
    // A stopped deployment is no longer judged.
    assert!(case.judge().await.deployments.iter().all(|d| d.deployment_id != case.deployment.deployment_id));
}

#[tokio::test]
async fn good_noisy_and_silent_canaries_shift_all_the_way() {
    let noisy = Traffic { jitter: 0.35, error_rate: 0.02, ..CANARY };
    let noisy_baseline = Traffic { jitter: 0.35, error_rate: 0.02, ..BASELINE };
    for (label, baseline, canary) in [
        ("inflight-good", BASELINE, Some(CANARY)),
        ("inflight-noisy", noisy_baseline, Some(noisy)),
        ("inflight-silent", BASELINE, None),
    ] {
        let case = Case::new(label, Some(baseline), canary, Some("1")).await;
        case.aws.shift(&case.deployment.deployment_id, 10);
        let report = case.judge().await;
        let judged = entry(&report, &case);
        assert_eq!(judged.verdict, InFlightVerdict::Passing, "{label}: {judged:#?}");
        assert_eq!(case.published().await, [0.0], "{label}");
        assert_eq!(case.alarm_state().await, "OK", "{label}");
        for percent in [20, 50, 100] {
            let step = case.aws.shift(&case.deployment.deployment_id, percent);
            assert_eq!(
                (step["status"].as_str(), step["percent"].as_f64()),
                (Some("InProgress"), Some(f64::from(percent))),
                "{label}"
            );
        }
        assert_eq!(case.alias().await, ("2".to_owned(), None), "{label}: all traffic on the canary");
    }
}

#[tokio::test]
async fn what_cannot_be_judged_publishes_nothing_and_says_why() {
    // A first deployment has no baseline.
    let first = Case::new("inflight-first", None, Some(CANARY), None).await;
    let report = first.judge().await;
    let judged = entry(&report, &first);
    assert_eq!(judged.verdict, InFlightVerdict::NotJudged);
    assert_eq!(judged.reason, "not judged: no baseline version (a first deployment)");
    assert!(!report.published);
    assert_eq!(first.published().await, Vec::<f64>::new());

    // Metrics that cannot be read: nothing published, so the alarm (missing data not breaching)
    // stays OK; the report names the error.
    let unread =
        Case::new("inflight-unread", Some(BASELINE), Some(Traffic { error_rate: 0.08, ..CANARY }), Some("1"))
            .await;
    unread.aws.inject_fault(GET_METRIC_DATA_TARGET, &unread.function, 20, 500, "InternalServiceError");
    let report = unread.judge().await;
    let judged = entry(&report, &unread);
    assert_eq!(judged.verdict, InFlightVerdict::NotJudged, "{judged:#?}");
    assert!(
        judged.reason.starts_with("not judged: metrics unreadable: GetMetricData failed"),
        "{}",
        judged.reason
    );
    assert_eq!(unread.published().await, Vec::<f64>::new());
    assert_eq!(unread.alarm_state().await, "OK");
    assert_eq!(unread.aws.shift(&unread.deployment.deployment_id, 20)["status"], "InProgress");
}

// `lifeguard plan`'s reading: a function's invocations and errors of the last days, all versions
// together (dimension FunctionName alone, as Lambda publishes them), and what each deployment
// preference could detect at that traffic.
#[tokio::test]
async fn plan_reads_a_functions_traffic_and_says_what_each_preference_can_detect() {
    let aws = LocalAws::connect().await;
    let function = unique("plan");
    let now = Timestamp::now();
    let hour_ago = |hours: u64| now.minus(Duration::from_hours(hours));
    // Two days at 280 invocations a minute and 1% errors.
    aws.put_function_totals(&function, hour_ago(48), 48 * 60, 280, 3).await;
    let metrics = lifeguard_hooks::aws::CloudWatchClient::new(&aws.sdk);
    let since = now.minus(Duration::from_hours(48) + Duration::from_mins(30));
    let traffic = lifeguard_hooks::metrics::function_traffic(&metrics, &function, since, now).await.unwrap();
    assert_eq!((traffic.invocations, traffic.errors), (48 * 60 * 280, 48 * 60 * 3));
    assert!((265.0..285.0).contains(&traffic.per_minute()), "{traffic:?}");
    let plans =
        lifeguard_hooks::analysis::planning::plans(traffic.per_minute(), traffic.error_rate(), 0.01, 2.5);
    let by_name = |name: &str| plans.iter().find(|p| p.preference == name).unwrap();
    assert!(!by_name("Canary10Percent5Minutes").detects);
    assert!(by_name("Canary10Percent30Minutes").detects);
    assert!(by_name("Linear10PercentEvery10Minutes").in_flight_minute.is_some_and(|m| m < 90));
    assert!(!by_name("AllAtOnce").detects);
}
