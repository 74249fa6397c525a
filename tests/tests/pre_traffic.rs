//! The pre-traffic hook end to end through `PreTrafficHook::handle`, with the real SDK clients
//! against the local AWS: what it reports (read back from the launcher), what it invokes, and the
//! JSON report it returns.

use lifeguard_hooks::deployment::LifecycleEvent;
use lifeguard_hooks::hook::HookError;
use lifeguard_hooks::settings::{CHECKS_FILE_VAR, HookSettings};
use lifeguard_tests::behaviour::{answer, api, delayed, function_error, throttle};
use lifeguard_tests::iam::RoleBinding;
use lifeguard_tests::{
    AppSpecFormat, DeploymentSpec, FunctionSpec, Hook, LocalAws, REPORT_TARGET, RevisionForm,
    SeededDeployment, TempFile, settings_with_checks, unique,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const HOOK: &str = "CodeDeployHook_lifeguard-pre-traffic";
const LOGICAL_ID: &str = "SampleFunction";
/// Time the tests give the hook, as Lambda would (the hook's own timeout).
const REMAINING: Duration = Duration::from_mins(1);

/// One check, compared with the current version, keyed by the function's logical id.
const CHECKS: &str = r"
functions:
  SampleFunction:
    - name: answers-ok
      payload: {probe: 1}
      expect:
        statusCode: 200
        values: {/body/ok: true}
      compareWithCurrent: {ignore: [/body/version]}
";

/// What a healthy version `version` answers.
fn healthy(version: &str) -> Value {
    answer(api(200, json!({"ok": true, "version": version})))
}

/// A test's function, deployment and hook.
struct Case {
    aws: LocalAws,
    function: String,
    deployment: SeededDeployment,
    hook: Hook,
}

impl Case {
    /// A function with `versions` versions, each answering healthily unless re-scripted, and a
    /// deployment from `current` to `target` as `adjust` leaves the spec.
    async fn new(
        label: &str,
        versions: u32,
        current: Option<&str>,
        target: &str,
        checks: &str,
        adjust: impl FnOnce(&mut DeploymentSpec),
    ) -> Self {
        let aws = LocalAws::connect().await;
        let function = unique(label);
        aws.seed_function(FunctionSpec::new(&function, versions, LOGICAL_ID)).await;
        for version in 1..=versions {
            aws.script(&function, &version.to_string(), vec![healthy(&version.to_string())]);
        }
        let mut spec = DeploymentSpec::new(&function, current, target, HOOK);
        spec.resource = LOGICAL_ID.into();
        adjust(&mut spec);
        let deployment = aws.seed_deployment(&spec).await;
        let hook = aws.hook_with_checks(checks, HOOK, &deployment.application);
        Self { aws, function, deployment, hook }
    }

    /// The usual case: versions 1 and 2, deploying 1 → 2 with [`CHECKS`].
    async fn standard(label: &str) -> Self {
        Self::new(label, 2, Some("1"), "2", CHECKS, |_| {}).await
    }

    async fn handle(&self) -> Value {
        self.handle_with(REMAINING).await
    }

    async fn handle_with(&self, remaining: Duration) -> Value {
        let report = self.hook.handle(self.deployment.event(), remaining, &self.aws.function_arn(HOOK)).await;
        let report = report.unwrap_or_else(|e| panic!("the hook returned an error: {e}"));
        let json = serde_json::to_value(&report).expect("the report serializes");
        assert_eq!(json["deploymentId"], self.deployment.deployment_id.as_str());
        assert_eq!(json["lifecycleEventHookExecutionId"], self.deployment.execution_id.as_str());
        assert_eq!(json["hook"], HOOK);
        json
    }

    /// Exactly one status was accepted, and it is `expected`; a failed run never even tried
    /// to report `Succeeded`.
    fn assert_reported_once(&self, expected: &str) {
        self.aws.assert_reported_once(&self.deployment.deployment_id, expected);
    }

    fn invocations(&self) -> Vec<Value> {
        self.aws.invocations(&self.function)
    }
}

/// Verdict, `reported` and the reason, with every check's outcome and duration present.
fn assert_report(report: &Value, verdict: &str, reason_mentions: &str) {
    assert_eq!(report["verdict"], verdict, "{report:#}");
    assert_eq!(report["reported"], "accepted", "{report:#}");
    let reason = report["reason"].as_str().expect("a reason");
    assert!(reason.contains(reason_mentions), "reason {reason:?} does not mention {reason_mentions:?}");
    assert!(report["durationMs"].is_u64(), "{report:#}");
    for check in report["checks"].as_array().into_iter().flatten() {
        assert!(check["name"].is_string() && check["passed"].is_boolean(), "{check:#}");
        assert!(check["durationMs"].is_u64() && check["invocations"].is_u64(), "{check:#}");
    }
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

#[tokio::test]
async fn healthy_target_passes_probing_the_exact_versions() {
    let case = Case::standard("healthy").await;
    let report = case.handle().await;

    assert_report(&report, "Succeeded", "1 checks passed on version 2");
    assert_eq!(report["lifecycleEvent"], "BeforeAllowTraffic");
    assert_eq!(report["functionName"], case.function.as_str());
    assert_eq!((report["currentVersion"].as_str(), report["targetVersion"].as_str()), (Some("1"), Some("2")));
    assert_eq!(report["checkKey"], LOGICAL_ID, "checks found through the CloudFormation tag");
    let outcome = check(&report, "answers-ok");
    assert_eq!((outcome["passed"].as_bool(), outcome["invocations"].as_u64()), (Some(true), Some(1)));
    case.assert_reported_once("Succeeded");

    let calls = case.invocations();
    let summary: Vec<_> = calls
        .iter()
        .map(|c| {
            (c["qualifier"].as_str().unwrap(), c["executedVersion"].as_str().unwrap(), c["payload"].clone())
        })
        .collect();
    assert_eq!(summary.len(), 2, "{calls:#?}");
    assert!(summary.contains(&("2", "2", json!({"probe": 1}))), "target invoked by version: {summary:?}");
    assert!(summary.contains(&("1", "1", json!({"probe": 1}))), "differential on the current: {summary:?}");
}

#[tokio::test]
async fn a_function_the_hooks_do_not_guard_fails_naming_the_unreadable_tags() {
    let aws = LocalAws::connect().await;
    let function = unique("foreign");
    // CloudFormation created it in another stack: the hook's role may neither read its tags
    // nor invoke it.
    let spec =
        FunctionSpec { stack: Some("someone-elses-app"), ..FunctionSpec::new(&function, 2, LOGICAL_ID) };
    aws.seed_function(spec).await;
    aws.script(&function, "2", vec![healthy("2")]);
    let deployment = aws
        .seed_deployment(&DeploymentSpec {
            resource: LOGICAL_ID.into(),
            ..DeploymentSpec::new(&function, Some("1"), "2", HOOK)
        })
        .await;
    let hook = aws.hook_with_checks(CHECKS, HOOK, &deployment.application);
    let report = hook.handle(deployment.event(), REMAINING, &aws.function_arn(HOOK)).await.unwrap();
    let report = serde_json::to_value(report).unwrap();
    let arn = aws.function_arn(&function);
    assert_report(
        &report,
        "Failed",
        &format!("cannot read the tags of {arn}: ListTags failed: AccessDeniedException"),
    );
    assert!(report["reason"].as_str().unwrap().contains("lambda:ListTags"), "{report:#}");
    assert_eq!(report["checks"], json!([]), "nothing ran: {report:#}");
    aws.assert_reported_once(&deployment.deployment_id, "Failed");
    assert_eq!(aws.invocations(&function), Vec::<Value>::new());
}

#[tokio::test]
async fn an_event_the_appspec_gives_to_the_other_hook_is_refused() {
    // The AppSpec names this hook for AfterAllowTraffic only.
    let case = Case::new("other-event", 2, Some("1"), "2", CHECKS, |spec| {
        spec.hooks = vec![(LifecycleEvent::AfterAllowTraffic, HOOK.into())];
    })
    .await;
    let report = case.handle().await;
    assert_report(
        &report,
        "Failed",
        &format!(
            "this hook serves BeforeAllowTraffic, but the deployment's AppSpec names {HOOK} for AfterAllowTraffic"
        ),
    );
    assert_eq!(report["lifecycleEvent"], "AfterAllowTraffic", "{report:#}");
    case.assert_reported_once("Failed");
    assert_eq!(case.invocations(), Vec::<Value>::new());
}

#[tokio::test]
async fn malformed_event_names_the_field_and_reports_nothing() {
    let case = Case::standard("malformed-event").await;
    let events = [
        json!({"DeploymentId": case.deployment.deployment_id}),
        json!({"DeploymentId": "", "LifecycleEventHookExecutionId": case.deployment.execution_id}),
    ];
    for (event, field) in events.into_iter().zip(["LifecycleEventHookExecutionId", "DeploymentId"]) {
        match case.hook.handle(event, REMAINING, &case.aws.function_arn(HOOK)).await {
            Err(error @ HookError::MalformedEvent(_)) => {
                assert!(error.to_string().contains(field), "{error} does not name {field}");
            }
            other => panic!("expected a malformed-event error, got {other:?}"),
        }
    }
    assert_eq!(case.aws.hook_reports(&case.deployment.deployment_id), Vec::<Value>::new());
    assert_eq!(case.invocations(), Vec::<Value>::new());
}

#[tokio::test]
async fn unknown_deployment_attempts_failed_and_surfaces_the_error() {
    let aws = LocalAws::connect().await;
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let unknown = format!("d-Z{:08}", nanos % 100_000_000);
    let hook = aws.hook_with_checks(CHECKS, HOOK, &unique("no-such-app"));
    let event = json!({"DeploymentId": unknown, "LifecycleEventHookExecutionId": "eyJub25lIjoxfQ=="});
    match hook.handle(event, REMAINING, &aws.function_arn(HOOK)).await {
        Err(error @ HookError::Unreported { .. }) => {
            let message = error.to_string();
            assert!(message.contains("verdict Failed"), "{message}");
            // The hook's role reads deployments of its own application only: an unknown
            // deployment is nowhere it may look.
            assert!(message.contains("AccessDeniedException"), "{message}");
            assert!(message.contains("codedeploy:PutLifecycleEventHookExecutionStatus"), "{message}");
        }
        other => panic!("expected an unreported verdict, got {other:?}"),
    }
    let reports = aws.hook_reports(&unknown);
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        (reports[0]["status"].as_str(), reports[0]["accepted"].as_bool()),
        (Some("Failed"), Some(false))
    );
}

#[tokio::test]
async fn appspec_without_target_version_fails_naming_it() {
    let case = Case::new("no-target", 2, Some("1"), "2", CHECKS, |spec| spec.target_version = None).await;
    let report = case.handle().await;
    assert_report(&report, "Failed", "TargetVersion");
    assert!(report["reason"].as_str().unwrap().contains("target discovery failed"), "{report:#}");
    case.assert_reported_once("Failed");
    assert_eq!(case.invocations(), Vec::<Value>::new());
}

#[tokio::test]
async fn yaml_appspec_in_a_string_revision_works() {
    let case = Case::new("yaml", 2, Some("1"), "2", CHECKS, |spec| {
        spec.format = AppSpecFormat::Yaml;
        spec.revision = RevisionForm::String;
    })
    .await;
    assert!(case.deployment.appspec.starts_with("version: 0.0\nResources:"));
    let report = case.handle().await;
    assert_report(&report, "Succeeded", "checks passed on version 2");
    assert_eq!(report["lifecycleEvent"], "BeforeAllowTraffic");
    case.assert_reported_once("Succeeded");
}

#[tokio::test]
async fn function_error_in_version_2_fails_while_version_1_passes() {
    let case = Case::standard("fn-error").await;
    case.aws.script(&case.function, "2", vec![function_error("loyalty table missing")]);
    let report = case.handle().await;
    assert_report(&report, "Failed", "function error (Unhandled): loyalty table missing");
    assert_eq!(check(&report, "answers-ok")["passed"], false);
    case.assert_reported_once("Failed");

    // The same function, first deployed at version 1: that version passes the same checks.
    let first = DeploymentSpec {
        application: case.deployment.application.clone(),
        resource: LOGICAL_ID.into(),
        ..DeploymentSpec::new(&case.function, None, "1", HOOK)
    };
    let first = case.aws.seed_deployment(&first).await;
    let report = case.hook.handle(first.event(), REMAINING, &case.aws.function_arn(HOOK)).await.unwrap();
    let report = serde_json::to_value(report).unwrap();
    assert_report(&report, "Succeeded", "checks passed on version 1");
    assert_eq!(case.aws.accepted_statuses(&first.deployment_id), ["Succeeded"]);
}

#[tokio::test]
async fn target_slower_than_its_latency_budget_fails() {
    let checks = "functions:\n  SampleFunction:\n    - name: fast\n      expect: {maxLatencyMs: 300}\n";
    let case = Case::new("slow", 2, Some("1"), "2", checks, |_| {}).await;
    case.aws.script(&case.function, "2", vec![delayed(1_500, json!({"ok": true}))]);
    let report = case.handle().await;
    assert_report(&report, "Failed", "over the 300 ms budget");
    assert!(check(&report, "fast")["slowestMs"].as_u64().unwrap() >= 1_500, "{report:#}");
    case.assert_reported_once("Failed");
}

#[tokio::test]
async fn throttled_twice_then_recovering_succeeds_with_a_note() {
    let checks = "functions:\n  SampleFunction:\n    - name: eventually\n      payload: {probe: 2}\n";
    let case = Case::new("throttled", 2, Some("1"), "2", checks, |_| {}).await;
    case.aws.script(&case.function, "2", vec![throttle(), throttle(), healthy("2")]);
    let report = case.handle().await;
    assert_report(&report, "Succeeded", "checks passed on version 2");
    let notes = &check(&report, "eventually")["notes"];
    assert_eq!(notes, &json!(["version 2 answered after 2 transient failure(s)"]), "{report:#}");
    case.assert_reported_once("Succeeded");
    let statuses: Vec<_> = case.invocations().iter().map(|c| c["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [429, 429, 200]);
}

#[tokio::test]
async fn transient_report_failures_are_retried_to_one_accepted_report() {
    let case = Case::standard("report-retry").await;
    case.aws.inject_fault(REPORT_TARGET, &case.deployment.deployment_id, 2, 500, "InternalFailure");
    let report = case.handle().await;
    assert_report(&report, "Succeeded", "checks passed");
    case.assert_reported_once("Succeeded");
    let attempts: Vec<_> = case
        .aws
        .hook_reports(&case.deployment.deployment_id)
        .iter()
        .map(|r| (r["status"].as_str().unwrap().to_owned(), r["accepted"] == true, r["error"].clone()))
        .collect();
    assert_eq!(
        attempts,
        [
            ("Succeeded".to_owned(), false, json!("InternalFailure")),
            ("Succeeded".to_owned(), false, json!("InternalFailure")),
            ("Succeeded".to_owned(), true, Value::Null),
        ]
    );
}

#[tokio::test]
async fn duplicate_invocation_is_already_completed() {
    let case = Case::standard("duplicate").await;
    let first = case.handle().await;
    assert_eq!(first["reported"], "accepted");
    let second = case.handle().await;
    assert_eq!(second["reported"], "alreadyCompleted", "{second:#}");
    assert_eq!(second["verdict"], "Succeeded");
    case.assert_reported_once("Succeeded");
}

#[tokio::test]
async fn check_past_the_deadline_fails_and_is_reported_in_time() {
    let checks = "functions:\n  SampleFunction:\n    - name: hangs\n";
    let case = Case::new("deadline", 2, Some("1"), "2", checks, |_| {}).await;
    case.aws.script(&case.function, "2", vec![delayed(10_000, json!({"ok": true}))]);
    let remaining = Duration::from_secs(4);
    let started = Instant::now();
    let report = case.handle_with(remaining).await;
    let took = started.elapsed();
    assert!(took < remaining, "the hook took {took:?}, past Lambda's deadline of {remaining:?}");
    assert_report(&report, "Failed", "unfinished at the deadline");
    case.assert_reported_once("Failed");
}

#[tokio::test]
async fn no_checks_configured_still_invokes_the_target_once() {
    let checks = "functions:\n  SomeOtherFunction:\n    - name: unrelated\n";
    let case = Case::new("no-checks", 2, Some("1"), "2", checks, |_| {}).await;
    let report = case.handle().await;
    assert_report(&report, "Succeeded", "no checks configured");
    assert_eq!(report["checkKey"], Value::Null);
    assert_eq!(check(&report, "default-invoke")["invocations"], 1);
    case.assert_reported_once("Succeeded");
    let calls = case.invocations();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!((calls[0]["qualifier"].as_str(), calls[0]["payload"].clone()), (Some("2"), json!({})));
}

#[tokio::test]
async fn malformed_check_file_fails_naming_the_problem() {
    let case = Case::standard("bad-checks").await;
    let file = TempFile::new(".yaml", "functions:\n  SampleFunction:\n    - name: a\n      repeat: 0\n");
    let path = file.path().to_str().unwrap().to_owned();
    let settings = HookSettings::from_lookup(|name| (name == CHECKS_FILE_VAR).then(|| path.clone()));
    let role = RoleBinding::pre_traffic_hook(&case.deployment.application, &case.aws.region());
    let hook = case.aws.hook(&case.aws.as_role(&role), settings, HOOK);
    let report = hook.handle(case.deployment.event(), REMAINING, &case.aws.function_arn(HOOK)).await.unwrap();
    let report = serde_json::to_value(report).unwrap();
    assert_report(&report, "Failed", "hook misconfigured");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains(&path) && reason.contains("repeat must be between 1 and 100"), "{reason}");
    case.assert_reported_once("Failed");
    assert_eq!(case.invocations(), Vec::<Value>::new());
}

#[tokio::test]
async fn first_deployment_skips_the_differential_with_a_note() {
    let case = Case::new("first-deploy", 1, None, "1", CHECKS, |_| {}).await;
    let report = case.handle().await;
    assert_report(&report, "Succeeded", "checks passed on version 1");
    assert_eq!(report.get("currentVersion"), Some(&Value::Null), "{report:#}");
    let notes = &check(&report, "answers-ok")["notes"];
    assert_eq!(notes, &json!(["comparison with the current version skipped: there is no current version"]));
    case.assert_reported_once("Succeeded");
    let qualifiers: Vec<_> = case.invocations().iter().map(|c| c["qualifier"].clone()).collect();
    assert_eq!(qualifiers, [json!("1")]);
}

// Richer checks through the real SDK against the local AWS: the `http:` shorthand sends API
// Gateway events of both payload formats (the function sees them, as recorded), matchers beyond
// equality and response headers judge the answers, and each mismatch is named.
#[tokio::test]
async fn http_shorthand_matchers_and_headers_judge_api_answers() {
    const RICH: &str = r#"
functions:
  SampleFunction:
    - name: rest-order
      http: {method: GET, path: /orders/o-1001, pathParameters: {orderId: o-1001}, query: {expand: items}}
      expect:
        statusCode: 200
        headers: {content-type: {regex: "^application/json"}, X-Version: "2"}
        matches:
          /body/orderId: {regex: "^o-[0-9]+$"}
          /body/total: {min: 0, max: 1000}
          /body/level: {oneOf: [Gold, Silver]}
          /body/items: {type: array}
          /body/secret: {absent: true}
    - name: http-api-create
      http: {api: http, method: POST, path: /orders, body: {item: tea}}
      expect:
        matches:
          /body/total: {max: 10}
"#;
    let answer = |total: f64, level: &str| {
        let body = json!({"orderId": "o-1001", "total": total, "level": level, "items": []});
        json!({"payload": {"statusCode": 200, "headers": {"Content-Type": "application/json; charset=utf-8", "x-version": "2"},
                           "body": body.to_string()}})
    };
    let case = Case::new("pre-rich", 2, Some("1"), "2", RICH, |_| {}).await;
    case.aws.script(&case.function, "2", vec![answer(42.5, "Gold")]);
    let report = case.handle().await;
    assert_report(&report, "Failed", "http-api-create");
    assert_eq!(check(&report, "rest-order")["passed"], true, "{report:#}");
    let create = check(&report, "http-api-create");
    assert_eq!(create["problems"][0], "/body/total is 42.5, above the maximum 10", "{report:#}");

    // What the function received: one event of each payload format.
    let events: Vec<Value> = case.invocations().into_iter().map(|i| i["payload"].clone()).collect();
    let rest = events.iter().find(|e| e["httpMethod"] == "GET").expect("a REST API event");
    assert_eq!(
        (rest["path"].as_str(), rest["pathParameters"]["orderId"].as_str()),
        (Some("/orders/o-1001"), Some("o-1001"))
    );
    assert_eq!(rest["queryStringParameters"]["expand"], "items");
    let http = events.iter().find(|e| e["version"] == "2.0").expect("an HTTP API event");
    assert_eq!(http["requestContext"]["http"]["method"], "POST");
    assert_eq!(http["body"], r#"{"item":"tea"}"#);

    // A wrong answer names every condition it breaks.
    let wrong = Case::new("pre-rich-wrong", 2, Some("1"), "2", RICH, |_| {}).await;
    let mut bad = answer(2000.0, "Bronze");
    bad["payload"]["headers"] = json!({"Content-Type": "text/html"});
    wrong.aws.script(&wrong.function, "2", vec![bad]);
    let report = wrong.handle().await;
    let problems = check(&report, "rest-order")["problems"].to_string();
    for expected in [
        "header content-type is \\\"text/html\\\", which \\\"^application/json\\\" does not match",
        "header X-Version is missing",
        "/body/total is 2000.0, above the maximum 1000",
        "/body/level is \\\"Bronze\\\", expected one of [\\\"Gold\\\",\\\"Silver\\\"]",
    ] {
        assert!(problems.contains(expected), "{expected} not in {problems}");
    }
    wrong.assert_reported_once("Failed");
}

#[tokio::test]
async fn verdicts_reach_the_topic_with_the_attributes_subscribers_filter_on() {
    let mut case = Case::standard("verdict-topic").await;
    let (topic, queue) = case.aws.topic_with_queue("verdicts").await;
    case.aws.filter_subscriptions(&topic, &json!({"verdict": ["Failed"]})).await;
    let binding = RoleBinding::pre_traffic_hook(&case.deployment.application, &case.aws.region())
        .publishing_verdicts_to(&topic);
    let principal = case.aws.as_role(&binding);
    let settings = HookSettings { verdict_topic_arn: Some(topic.clone()), ..settings_with_checks(CHECKS) };
    case.hook = case.aws.hook(&principal, settings, HOOK);

    // Published, but this subscription takes failures only.
    let report = case.handle().await;
    assert_eq!(
        (report["verdict"].as_str(), report["verdictPublished"].as_bool()),
        (Some("Succeeded"), Some(true))
    );
    assert!(case.aws.received(&queue).is_empty());

    case.aws.script(&case.function, "2", vec![function_error("see https://evil.example\nnow")]);
    let again = DeploymentSpec {
        application: case.deployment.application.clone(),
        resource: LOGICAL_ID.into(),
        ..DeploymentSpec::new(&case.function, Some("1"), "2", HOOK)
    };
    let again = case.aws.seed_deployment(&again).await;
    let report = case.hook.handle(again.event(), REMAINING, &case.aws.function_arn(HOOK)).await.unwrap();
    assert_eq!(report.verdict_published, Some(true));
    let received = case.aws.received(&queue);
    assert_eq!(received.len(), 1, "{received:#?}");
    let envelope = &received[0];
    let attribute = |name: &str| envelope["MessageAttributes"][name]["Value"].as_str().map(str::to_owned);
    assert_eq!(
        [attribute("verdict"), attribute("hook"), attribute("function"), attribute("application")],
        [
            Some("Failed".to_owned()),
            Some("BeforeAllowTraffic".to_owned()),
            Some(case.function.clone()),
            Some(case.deployment.application.clone())
        ]
    );
    assert_eq!(
        envelope["Subject"],
        format!("lifeguard: Failed BeforeAllowTraffic for {} version 2", case.function)
    );
    let text = envelope["Message"].as_str().expect("the message text");
    assert!(text.contains(&format!("for deployment {} (application", again.deployment_id)), "{text}");
    assert!(text.contains("  check FAIL  answers-ok  "), "{text}");
    assert!(!text.contains("https://"), "the function's answer reached mail as a link: {text}");
}
