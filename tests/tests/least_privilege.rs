//! Least privilege, both ways. Each function runs a scenario that uses everything it does, under
//! exactly the policies its role gets from its template: that passes. Then every `Allow`
//! statement is dropped in turn and the same scenario, run afresh, must come out differently,
//! with the local AWS having refused the principal something. A statement no scenario needs must
//! be listed in [`JUSTIFIED`] with the reason the template's comment gives.

use lifeguard_hooks::settings::HookSettings;
use lifeguard_reaper::aws::{CloudFormationClient, DynamoDbMarks, SnsNotifier};
use lifeguard_reaper::plan::DELETABLE_RESOURCE_TYPES;
use lifeguard_reaper::tags::{OWNER_TAG, TEMPORARY_TAG, TTL_TAG};
use lifeguard_reaper::{Mode, Reaper, ReaperConfig, Timestamp, handle};
use lifeguard_tests::behaviour::{answer, api};
use lifeguard_tests::iam::{Policy, Principal, RoleBinding, without_statement};
use lifeguard_tests::{
    ACCOUNT, DeploymentSpec, FunctionSpec, LocalAws, Noise, Traffic, reaper_invocation, scheduled_event,
    settings_with_checks, stack_template, unique,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// Statements that no call of our code needs, by role, with why they exist.
const JUSTIFIED: [(&str, &str, &str); 6] = [
    ("PreTrafficHook", "WriteOwnLogs", "Lambda writes the function's logs with its role"),
    ("PostTrafficHook", "WriteOwnLogs", "Lambda writes the function's logs with its role"),
    ("CanaryJudge", "WriteOwnLogs", "Lambda writes the function's logs with its role"),
    ("ReaperFunction", "WriteOwnLogs", "Lambda writes the function's logs with its role"),
    (
        "ReaperFunction",
        "EncryptNoticesViaSns",
        "SNS encrypts the published notice with the caller's KMS permissions",
    ),
    (
        "ReaperFunction",
        "RecordFailedRuns",
        "Lambda sends a failed asynchronous invocation to the on-failure destination with the function's role",
    ),
];

/// Policies of the reaper role that CloudFormation, not our code, uses: deleting a temporary
/// stack's resources with the caller's credentials.
const USED_BY_CLOUDFORMATION: &str = "delete-temporary-stacks";

const HOOK: &str = "lifeguard-hook";
const LOGICAL_ID: &str = "GuardedFunction";
const REMAINING: Duration = Duration::from_mins(1);

/// Checks with a comparison, so the pre-traffic hook invokes the target and current versions.
const CHECKS: &str = r"
functions:
  GuardedFunction:
    - name: answers-ok
      payload: {probe: 1}
      expect: {statusCode: 200, values: {/body/ok: true}}
      compareWithCurrent: {ignore: [/body/version]}
";

fn healthy(version: &str) -> Value {
    answer(api(200, json!({"ok": true, "version": version})))
}

/// Hook settings with `checks` (YAML text) publishing verdicts to `topic_arn`.
fn publishing(checks: &str, topic_arn: &str) -> HookSettings {
    HookSettings { verdict_topic_arn: Some(topic_arn.to_owned()), ..settings_with_checks(checks) }
}

/// The Allow statements of `policies` that a scenario must need, skipping the justified ones.
fn needed_sids(role: &str, policies: &[Policy]) -> Vec<String> {
    policies
        .iter()
        .filter(|p| p.name != USED_BY_CLOUDFORMATION)
        .flat_map(Policy::allow_sids)
        .filter(|sid| !JUSTIFIED.iter().any(|(r, s, _)| *r == role && s == sid))
        .collect()
}

/// Runs `scenario` with the full policies, expecting `expected` and no refusal, then once without
/// each needed statement, expecting another outcome and at least one refusal; prints what each
/// statement's absence broke (run with `--nocapture` to see it).
async fn leave_one_out<F, Fut>(role: &str, policies: &[Policy], expected: &str, scenario: F)
where
    F: Fn(Vec<Policy>) -> Fut,
    Fut: Future<Output = (String, Vec<String>)>,
{
    let (outcome, refused) = scenario(policies.to_vec()).await;
    assert_eq!((outcome.as_str(), refused), (expected, Vec::new()), "{role} with all its statements");
    let sids = needed_sids(role, policies);
    assert!(!sids.is_empty(), "{role}: no statement to drop in {policies:#?}");
    for sid in sids {
        let (outcome, mut refused) = scenario(without_statement(policies, &sid)).await;
        assert!(
            outcome != expected && !refused.is_empty(),
            "{role} without {sid}: still {outcome:?} (refused: {refused:?}): the statement is not needed; \
             remove it or justify it"
        );
        refused.dedup();
        eprintln!("{role} without {sid}: refused {}; outcome {outcome}", refused.join(", "));
    }
}

/// Five minutes of the same healthy traffic for versions 1 and 2 of `function` from `start`.
async fn put_equal_traffic(aws: &LocalAws, function: &str, start: Timestamp) {
    let traffic =
        Traffic { invocations: 300, error_rate: 0.01, duration_ms: 80.0, jitter: 0.1, tail_ms: None };
    let mut noise = Noise::new(7);
    for version in ["1", "2"] {
        let minutes = traffic.minutes(5, &mut noise);
        aws.put_lambda_metrics(function, "live", version, start, &minutes).await;
    }
}

/// The actions the local AWS refused `principal`, in order.
fn refused(aws: &LocalAws, principal: &Principal) -> Vec<String> {
    aws.denials(principal)
        .iter()
        .map(|d| d["action"].as_str().or(d["operation"].as_str()).unwrap_or("?").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_pre_traffic_hook_statement_is_needed() {
    let aws = LocalAws::connect().await;
    let application = unique("lp-pre-app");
    let (topic, _) = aws.topic_with_queue("lp-pre-verdicts").await;
    let binding = RoleBinding::pre_traffic_hook(&application, &aws.region()).publishing_verdicts_to(&topic);
    let policies = aws.role_policies(&binding);
    let scenario = |policies: Vec<Policy>| {
        let (aws, application, topic) = (aws.clone(), application.clone(), topic.clone());
        async move {
            let function = unique("lp-pre");
            aws.seed_function(FunctionSpec::new(&function, 2, LOGICAL_ID)).await;
            aws.script(&function, "1", vec![healthy("1")]);
            aws.script(&function, "2", vec![healthy("2")]);
            let mut spec = DeploymentSpec::new(&function, Some("1"), "2", HOOK);
            spec.application = application;
            spec.resource = LOGICAL_ID.into();
            let deployment = aws.seed_deployment(&spec).await;
            let principal = aws.principal("PreTrafficHook", &policies);
            let hook = aws.hook(&principal, publishing(CHECKS, &topic), HOOK);
            let outcome = match hook.handle(deployment.event(), REMAINING, &aws.function_arn(HOOK)).await {
                Ok(report) => format!(
                    "{} ({:?}, published {:?})",
                    report.verdict, report.reported, report.verdict_published
                ),
                Err(error) => format!("error: {error}"),
            };
            (outcome, refused(&aws, &principal))
        }
    };
    leave_one_out("PreTrafficHook", &policies, "Succeeded (Accepted, published Some(true))", scenario).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_post_traffic_hook_statement_is_needed() {
    let aws = LocalAws::connect().await;
    let application = unique("lp-post-app");
    let (topic, _) = aws.topic_with_queue("lp-post-verdicts").await;
    let binding = RoleBinding::post_traffic_hook(&application, &aws.region()).publishing_verdicts_to(&topic);
    let policies = aws.role_policies(&binding);
    let scenario = |policies: Vec<Policy>| {
        let (aws, application, topic) = (aws.clone(), application.clone(), topic.clone());
        async move {
            let function = unique("lp-post");
            let spec =
                FunctionSpec { alias_version: Some("2"), ..FunctionSpec::new(&function, 2, LOGICAL_ID) };
            aws.seed_function(spec).await;
            aws.script(&function, "1", vec![healthy("1")]);
            aws.script(&function, "2", vec![healthy("2")]);
            let group_alarm = format!("{function}-errors");
            aws.put_alarm(&group_alarm, &function, "2", aws_sdk_cloudwatch::types::StateValue::Ok).await;
            let mut spec = DeploymentSpec::post_traffic(&function, Some("1"), "2", HOOK);
            spec.application = application;
            spec.resource = LOGICAL_ID.into();
            spec.group_alarms = vec![group_alarm];
            let deployment = aws.seed_deployment(&spec).await;
            put_equal_traffic(&aws, &function, deployment.create_time).await;
            let principal = aws.principal("PostTrafficHook", &policies);
            let hook = aws.post_traffic_hook_as(&principal, publishing(CHECKS, &topic), HOOK);
            let now = deployment.create_time.plus(Duration::from_mins(10));
            let handled = hook.handle(deployment.event(), REMAINING, now, &aws.function_arn(HOOK)).await;
            let outcome = match handled {
                Ok(report) => format!(
                    "{} ({:?}, published {:?})",
                    report.verdict, report.reported, report.verdict_published
                ),
                Err(error) => format!("error: {error}"),
            };
            (outcome, refused(&aws, &principal))
        }
    };
    leave_one_out("PostTrafficHook", &policies, "Succeeded (Accepted, published Some(true))", scenario).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_canary_judge_statement_is_needed() {
    let aws = LocalAws::connect().await;
    let application = unique("lp-judge-app");
    let policies = aws.role_policies(&RoleBinding::canary_judge(&application, &aws.region()));
    let scenario = |policies: Vec<Policy>| {
        let (aws, application) = (aws.clone(), application.clone());
        async move {
            let function = unique("lp-judge");
            let spec =
                FunctionSpec { alias_version: Some("1"), ..FunctionSpec::new(&function, 2, LOGICAL_ID) };
            aws.seed_function(spec).await;
            let mut spec = DeploymentSpec::post_traffic(&function, Some("1"), "2", HOOK);
            spec.application = application.clone();
            spec.resource = LOGICAL_ID.into();
            let deployment = aws.seed_deployment(&spec).await;
            put_equal_traffic(&aws, &function, deployment.create_time).await;
            let principal = aws.principal("CanaryJudge", &policies);
            let judge = aws.canary_judge_as(&principal, CHECKS, &application);
            let now = deployment.create_time.plus(Duration::from_mins(6));
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            let outcome = match judge.run(now, &aws.function_arn("canary-judge"), deadline).await {
                Ok(report) => {
                    let verdicts: Vec<String> =
                        report.deployments.iter().map(|d| format!("{:?}", d.verdict)).collect();
                    format!("{} published={}", verdicts.join(","), report.published)
                }
                Err(error) => format!("error: {error}"),
            };
            (outcome, refused(&aws, &principal))
        }
    };
    leave_one_out("CanaryJudge", &policies, "Passing published=true", scenario).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_reaper_statement_is_needed() {
    const REGION: &str = "ap-southeast-4";
    let aws = LocalAws::connect_isolated(REGION).await;
    let own_stack = format!(
        "arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/lifeguard-reaper/7e1c0de5-0000-4000-8000-000000000000"
    );
    let table = aws.create_marks_table("lp-marks").await;
    let (topic, _queue) = aws.topic_with_queue("lp-notices").await;
    // Enforce mode: every statement of the role exists.
    let parameters = json!({"ReaperMode": "enforce", "ReaperAllowedStacks": "lg-*"});
    let binding = RoleBinding::reaper(&own_stack, &table, &topic, REGION, parameters);
    let policies = aws.role_policies(&binding);
    let scenario = |policies: Vec<Policy>| {
        let (aws, table, topic) = (aws.clone(), table.clone(), topic.clone());
        async move {
            let template = stack_template(&[], &[]);
            let owned = [(TEMPORARY_TAG, "true"), (OWNER_TAG, "alice@example.com"), (TTL_TAG, "1d")];
            let expired = unique("app-expired");
            aws.create_stack(&expired, &template, &owned, false).await;
            let exporter = unique("app-exporter");
            let export = unique("export");
            aws.create_stack(&exporter, &stack_template(&[&export], &[]), &owned, false).await;
            let principal = aws.principal("ReaperFunction", &policies);
            let reaper = Reaper {
                stacks: CloudFormationClient::new(&principal.sdk),
                marks: Some(DynamoDbMarks::new(&principal.sdk, &table)),
                notifier: Some(SnsNotifier::new(&principal.sdk, &topic)),
                config: ReaperConfig {
                    mode: Mode::Enforce,
                    allowed_stacks: Some(vec!["lg-*".into()]), // unique() names
                    allow_replay: true,
                    max_deletions: 5,
                    own_stack: "lifeguard-reaper".into(),
                    topic_arn: Some(topic.clone()),
                    marks_table: Some(table.clone()),
                    ..ReaperConfig::default()
                },
            };
            let t0 = Timestamp::now().whole_seconds();
            let mut outcome = Vec::new();
            for hours in [48, 108, 121] {
                let at = t0.plus(Duration::from_secs(hours * 3_600));
                let summary = match handle(Ok(&reaper), &scheduled_event(at), &reaper_invocation()).await {
                    Ok(report) => {
                        let report = serde_json::to_value(&report).expect("the report serializes");
                        let decisions: Vec<String> = report["stacks"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|s| {
                                let name = s["name"].as_str().unwrap_or_default();
                                let label = if name == expired {
                                    "expired"
                                } else if name == exporter {
                                    "exporter"
                                } else {
                                    name
                                };
                                let problems = s["problems"].as_array().map_or(0, Vec::len);
                                format!(
                                    "{label}:{}/{} mark {} deletion {} problems {problems}",
                                    s["decision"].as_str().unwrap_or_default(),
                                    s["reason"].as_str().unwrap_or_default(),
                                    s["mark"]["change"],
                                    s["deletion"]["result"]
                                )
                            })
                            .collect();
                        json!({"stacks": decisions, "counts": report["counts"], "digestSent": report["digestSent"],
                               "problems": report["problems"].as_array().map_or(0, Vec::len)})
                    }
                    Err(error) => json!(format!("error: {error}")),
                };
                outcome.push(summary);
            }
            // The next run starts from nothing again.
            aws.control("POST", "/_lifeguard/cloudformation/clear-region", Some(&json!({"region": REGION})));
            aws.clear_marks(&table).await;
            (Value::Array(outcome).to_string(), refused(&aws, &principal))
        }
    };
    let (expected, refused) = scenario(policies.clone()).await;
    assert_eq!(refused, Vec::<String>::new(), "the reaper with all its statements was refused something");
    assert!(
        expected.contains("expired:delete/delete"),
        "the full scenario deletes the expired stack: {expected}"
    );
    leave_one_out("ReaperFunction", &policies, &expected, scenario).await;
}

#[tokio::test]
async fn the_deletion_policy_holds_only_through_cloudformation_and_covers_the_deletable_types() {
    let aws = LocalAws::connect().await;
    let own_stack = format!(
        "arn:aws:cloudformation:{}:{ACCOUNT}:stack/lifeguard-reaper/7e1c0de5-0000-4000-8000-000000000000",
        aws.region()
    );
    let parameters = json!({"ReaperMode": "enforce", "ReaperAllowedStacks": "lg-*"});
    let binding =
        RoleBinding::reaper(&own_stack, "marks", "arn:aws:sns:us-east-1:0:t", &aws.region(), parameters);
    let policies = aws.role_policies(&binding);
    let deletion = policies.iter().find(|p| p.name == USED_BY_CLOUDFORMATION).expect("the deletion policy");
    let statements = deletion.document["Statement"].as_array().expect("statements");
    assert!(statements.len() > 5, "{statements:#?}");
    for statement in statements {
        assert_eq!(
            statement["Condition"]["ForAnyValue:StringEquals"]["aws:CalledVia"],
            "cloudformation.amazonaws.com",
            "{statement:#}"
        );
    }

    // The planner's deletable resource types are exactly those the role's deleting actions
    // cover: a type added on one side only would let a stack end DELETE_FAILED half-way, or
    // keep a deletable one.
    // The deleting statements: the deletion policy's, and the function's own DeleteStack.
    let allowed: BTreeSet<String> = policies
        .iter()
        .flat_map(|p| p.document["Statement"].as_array().cloned().unwrap_or_default())
        .filter(|statement| {
            statement["Effect"] == "Allow"
                && (statement["Sid"] == "DeleteTemporaryStacks"
                    || statement["Condition"]["ForAnyValue:StringEquals"]["aws:CalledVia"]
                        == "cloudformation.amazonaws.com")
        })
        .flat_map(|statement| match &statement["Action"] {
            Value::String(action) => vec![action.clone()],
            Value::Array(actions) => actions.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        })
        .collect();
    let deleting: BTreeSet<&str> = allowed
        .iter()
        .map(String::as_str)
        .filter(|a| {
            a.split(':').nth(1).is_some_and(|verb| verb.starts_with("Delete") || verb.starts_with("Detach"))
        })
        .collect();
    let covered: BTreeSet<&str> =
        DELETION_ACTIONS.iter().flat_map(|(_, actions)| actions.iter().copied()).collect();
    assert_eq!(deleting, covered, "the role's deleting actions");
    let types: BTreeSet<&str> = DELETION_ACTIONS.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, DELETABLE_RESOURCE_TYPES.iter().copied().collect(), "the planner's deletable types");
}

/// What CloudFormation calls to delete each resource type the planner counts as deletable
/// (none: nothing to call, or deleted with another resource).
const DELETION_ACTIONS: [(&str, &[&str]); 11] = [
    ("AWS::CloudFormation::Stack", &["cloudformation:DeleteStack"]),
    ("AWS::CloudFormation::WaitConditionHandle", &[]),
    ("AWS::Lambda::Function", &["lambda:DeleteFunction"]),
    ("AWS::Lambda::Alias", &["lambda:DeleteAlias"]),
    ("AWS::Lambda::Version", &[]),
    ("AWS::Lambda::LayerVersion", &["lambda:DeleteLayerVersion"]),
    ("AWS::IAM::Role", &["iam:DeleteRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy"]),
    ("AWS::CodeDeploy::Application", &["codedeploy:DeleteApplication"]),
    ("AWS::CodeDeploy::DeploymentGroup", &["codedeploy:DeleteDeploymentGroup"]),
    ("AWS::CloudWatch::Alarm", &["cloudwatch:DeleteAlarms"]),
    ("AWS::Logs::LogGroup", &["logs:DeleteLogGroup", "logs:DeleteDataProtectionPolicy"]),
];

/// What CodeDeploy itself does with the role the hooks application gives it, statement by
/// statement: no code of ours runs under it, so each statement is listed here with its use, and
/// a statement added without a reason fails this test.
const CODEDEPLOY_USES: [(&str, &str); 3] = [
    ("InvokeHooks", "CodeDeploy invokes the two lifecycle hooks, by ARN"),
    ("ShiftGuardedAliases", "CodeDeploy reads and shifts the guarded functions' aliases"),
    ("ReadAlarms", "CodeDeploy watches the deployment groups' alarms while it shifts traffic"),
];

#[tokio::test]
async fn the_codedeploy_role_holds_only_what_codedeploy_uses_and_invokes_only_the_hooks() {
    let aws = LocalAws::connect().await;
    let region = aws.region();
    let (pre, post) =
        (aws.function_arn("hooks-PreTrafficHook-A1"), aws.function_arn("hooks-PostTrafficHook-B2"));
    let policies = aws.role_policies(&RoleBinding::codedeploy(&unique("app"), &region, &pre, &post));
    let sids: Vec<String> = policies.iter().flat_map(Policy::allow_sids).collect();
    let expected: Vec<&str> = CODEDEPLOY_USES.iter().map(|(sid, _)| *sid).collect();
    assert_eq!(sids, expected, "{policies:#?}");
    let invoke = policies[0].document["Statement"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["Sid"] == "InvokeHooks"))
        .expect("InvokeHooks");
    assert_eq!(
        (&invoke["Action"], &invoke["Resource"]),
        (&json!("lambda:InvokeFunction"), &json!([pre, post]))
    );
}
