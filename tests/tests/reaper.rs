//! The reaper end to end through the real SDK against the local AWS: a mixed inventory of stacks,
//! replayed runs on advancing event times, and exactly which stacks are gone after each.
//!
//! Each test works in a region of its own (CloudFormation lists a whole region) and signs with an
//! access key of its own, so faults and request counts are the test's alone.

use lifeguard_reaper::aws::{CloudFormationClient, DIGEST_OWNER, DynamoDbMarks, SnsNotifier};
use lifeguard_reaper::tags::{EXPIRES_AT_TAG, OWNER_TAG, TEMPORARY_TAG, TTL_TAG};
use lifeguard_reaper::{
    Action, DeletionOutcome, Invocation, MarkResult, MarksStore, Mode, Reaper, ReaperConfig, ReaperError,
    RunError, RunReport, Timestamp, handle,
};
use lifeguard_tests::iam::Principal;
use lifeguard_tests::{LocalAws, reaper_invocation, scheduled_event, stack_template};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

const HOUR: u64 = 3_600;
const DAY: u64 = 24 * HOUR;
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

type AwsReaper = Reaper<CloudFormationClient, DynamoDbMarks, SnsNotifier>;

/// A reaper on the local AWS with its own table and topic, signing as its role (as deployed for
/// `config`); returns it with the table, the topic's queue and the principal.
async fn reaper(aws: &LocalAws, config: ReaperConfig) -> (AwsReaper, String, String, Principal) {
    let table = aws.create_marks_table("reaper-marks").await;
    let (topic, queue) = aws.topic_with_queue("reaper-notices").await;
    let config = ReaperConfig { topic_arn: Some(topic), marks_table: Some(table.clone()), ..config };
    let (reaper, principal) = as_role(aws, config);
    (reaper, table, queue, principal)
}

/// A reaper with `config` signing as the role the reaper application gives it for `config`.
fn as_role(aws: &LocalAws, config: ReaperConfig) -> (AwsReaper, Principal) {
    let principal = aws.reaper_principal(&config);
    let table = config.marks_table.clone().expect("a marks table");
    let topic = config.topic_arn.clone().expect("a topic");
    let reaper = Reaper {
        stacks: CloudFormationClient::new(&principal.sdk),
        marks: Some(DynamoDbMarks::new(&principal.sdk, table)),
        notifier: Some(SnsNotifier::new(&principal.sdk, topic)),
        config,
    };
    (reaper, principal)
}

fn enforce() -> ReaperConfig {
    ReaperConfig {
        mode: Mode::Enforce,
        // Wide enough to let the protections, not the allowlist, keep lifeguard* and shared-*.
        allowed_stacks: Some(vec!["app-*".into(), "shared-*".into(), "lifeguard*".into()]),
        protected_stacks: vec!["shared-*".into()],
        max_deletions: 5,
        allow_replay: true,
        ..ReaperConfig::default()
    }
}

/// One scheduled run at `at`, through the same entry point as the function.
async fn run(reaper: &AwsReaper, at: Timestamp) -> RunReport {
    handle(Ok(reaper), &scheduled_event(at), &reaper_invocation())
        .await
        .unwrap_or_else(|e| panic!("run at {at}: {e}"))
}

fn after(start: Timestamp, seconds: u64) -> Timestamp {
    start.plus(Duration::from_secs(seconds))
}

fn decision(report: &RunReport, name: &str) -> (String, String) {
    let entry =
        report.stacks.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name}: {report:#?}"));
    let json = serde_json::to_value(entry).unwrap();
    (json["decision"].as_str().unwrap().to_owned(), json["reason"].as_str().unwrap().to_owned())
}

fn assert_decision(report: &RunReport, name: &str, decision_: &str, reason: &str) {
    assert_eq!(decision(report, name), (decision_.to_owned(), reason.to_owned()), "{name} at {}", report.now);
}

/// The owner attribute and text of every SNS envelope in the queue.
fn notices(aws: &LocalAws, queue: &str) -> Vec<(String, String)> {
    let mut all = Vec::new();
    loop {
        let batch = aws.received(queue);
        if batch.is_empty() {
            return all;
        }
        all.extend(batch.iter().map(|envelope: &Value| {
            let owner =
                envelope["MessageAttributes"]["owner"]["Value"].as_str().unwrap_or_default().to_owned();
            (owner, envelope["Message"].as_str().unwrap_or_default().to_owned())
        }));
    }
}

const TEMP_ALICE: [(&str, &str); 3] = [(TEMPORARY_TAG, "true"), (OWNER_TAG, ALICE), (TTL_TAG, "1d")];

#[tokio::test(flavor = "multi_thread")]
async fn a_mixed_inventory_over_replayed_runs_loses_exactly_the_expired_owned_stacks() {
    let aws = LocalAws::connect_isolated("eu-west-3").await;
    let template = stack_template(&[], &[]);
    let t0 = Timestamp::now().whole_seconds();
    let bob_temporary = [(TEMPORARY_TAG, "true"), (OWNER_TAG, BOB), (TTL_TAG, "1d")];
    // Never deleted, whatever the times.
    let production = aws.create_stack("lifeguard", &template, &TEMP_ALICE, false).await;
    aws.create_stack("lifeguard-reaper", &template, &TEMP_ALICE, false).await; // the reaper's own
    aws.create_stack("shared-network", &template, &TEMP_ALICE, false).await; // protected pattern
    aws.create_stack("app-untagged", &template, &[(OWNER_TAG, ALICE), (TTL_TAG, "1d")], false).await;
    aws.create_stack("app-nested", &template, &TEMP_ALICE, false).await;
    aws.set_stack_state("app-nested", None, Some(&production));
    aws.create_stack("app-busy", &template, &TEMP_ALICE, false).await;
    aws.set_stack_state("app-busy", Some("UPDATE_IN_PROGRESS"), None);
    aws.create_stack("app-ownerless", &template, &[(TEMPORARY_TAG, "true"), (TTL_TAG, "1d")], false).await;
    aws.create_stack(
        "app-malformed",
        &template,
        &[(TEMPORARY_TAG, "true"), (OWNER_TAG, BOB), (TTL_TAG, "3 days")],
        false,
    )
    .await;
    aws.create_stack("app-termination-protected", &template, &TEMP_ALICE, true).await;
    aws.create_stack("app-exporter", &stack_template(&["app-exporter-url"], &[]), &TEMP_ALICE, false).await;
    aws.create_stack("app-importer", &stack_template(&[], &["app-exporter-url"]), &[], false).await;
    aws.create_stack(
        "app-young",
        &template,
        &[(TEMPORARY_TAG, "true"), (OWNER_TAG, ALICE), (TTL_TAG, "30d")],
        false,
    )
    .await;
    // Expire after a day.
    aws.create_stack("app-snoozed", &template, &bob_temporary, false).await;
    aws.create_stack("app-expired", &template, &TEMP_ALICE, false).await;
    aws.create_stack("app-stuck", &template, &bob_temporary, false).await;
    // Opted in, owned and expired, but outside the allowlist: it survives every run.
    aws.create_stack("team-database", &template, &TEMP_ALICE, false).await;
    let everything = aws.stack_names().await;
    let (reaper, table, queue, _role) = reaper(&aws, enforce()).await;

    // Day 2: the expired stacks get their first notice and a mark; the blocked ones are reported.
    let day2 = after(t0, 2 * DAY);
    let report = run(&reaper, day2).await;
    for name in ["app-snoozed", "app-expired", "app-stuck"] {
        assert_decision(&report, name, "warn", "expired-first-notice");
        let entry = report.stacks.iter().find(|s| s.name == name).unwrap();
        let mark = entry.mark.as_ref().unwrap();
        assert_eq!((mark.change, mark.delete_after), (MarkResult::Written, Some(after(day2, 3 * DAY))));
    }
    assert_decision(&report, "lifeguard", "skip", "protected-name");
    assert_decision(&report, "lifeguard-reaper", "skip", "protected-name");
    assert_decision(&report, "shared-network", "skip", "protected-name");
    assert_decision(&report, "app-nested", "skip", "nested");
    assert_decision(&report, "app-busy", "skip", "unsettled-status");
    assert_decision(&report, "app-ownerless", "warn", "no-owner");
    assert_decision(&report, "app-malformed", "warn", "malformed-tag");
    assert_decision(&report, "app-termination-protected", "warn", "termination-protected");
    assert_decision(&report, "app-exporter", "warn", "exports-in-use");
    assert_decision(&report, "app-young", "keep", "not-expired");
    assert_decision(&report, "team-database", "skip", "not-allowed");
    assert!(!report.stacks.iter().any(|s| s.name == "app-untagged" || s.name == "app-importer"));
    assert_eq!(report.counts.stacks, everything.len());
    assert_eq!(aws.stack_names().await, everything, "nothing deleted on a first notice");
    assert_eq!(
        aws.stack_tag("app-expired", "lifeguard:delete-after").await,
        None,
        "the reaper never changes a stack: the date is in the mark and the notice"
    );

    let sent = notices(&aws, &queue);
    let to =
        |owner: &str| sent.iter().filter(|(o, _)| o == owner).map(|(_, m)| m.clone()).collect::<Vec<_>>();
    let alice = to(ALICE);
    assert_eq!(alice.len(), 1, "one notice per owner per run: {sent:#?}");
    for name in ["app-expired", "app-termination-protected", "app-exporter"] {
        assert!(alice[0].contains(name), "{name} missing from {}", alice[0]);
    }
    for name in ["app-young", "app-snoozed", "team-database"] {
        assert!(!alice[0].contains(name), "{name} in {}", alice[0]);
    }
    let bob = to(BOB);
    assert_eq!(bob.len(), 1, "{sent:#?}");
    assert!(
        bob[0].contains("app-snoozed") && bob[0].contains("app-stuck") && bob[0].contains("app-malformed")
    );
    let digest = to("*digest*");
    assert_eq!(digest.len(), 1, "{sent:#?}");
    assert!(digest[0].contains("app-ownerless"), "the operators hear of stacks nobody owns: {}", digest[0]);

    // Bob snoozes app-snoozed; the same run replayed changes nothing more.
    aws.set_stack_tags(
        "app-snoozed",
        &[(TEMPORARY_TAG, "true"), (OWNER_TAG, BOB), (EXPIRES_AT_TAG, &after(t0, 30 * DAY).to_string())],
    )
    .await;
    let replay = run(&reaper, day2).await;
    assert_decision(&replay, "app-expired", "keep", "grace-running");
    assert_decision(&replay, "app-snoozed", "keep", "snoozed");

    // Day 4.5: final notices, one day before the deletion date.
    let report = run(&reaper, after(t0, 4 * DAY + 12 * HOUR)).await;
    assert_decision(&report, "app-expired", "warn", "final-notice");
    assert_decision(&report, "app-stuck", "warn", "final-notice");
    assert_decision(&report, "app-snoozed", "keep", "not-expired");
    let marked: BTreeSet<String> =
        reaper.marks.as_ref().unwrap().load().await.unwrap().into_iter().map(|m| m.stack_id).collect();
    assert_eq!(marked.len(), 3, "the snoozed stack's mark stays, dormant: {marked:?} in {table}");

    // Day 5 + 1h: the grace period is over. app-stuck's deletion ends DELETE_FAILED.
    aws.script_delete_failure("app-stuck", "Resource handler returned message: access denied");
    let report = run(&reaper, after(t0, 5 * DAY + HOUR)).await;
    for name in ["app-expired", "app-stuck"] {
        assert_decision(&report, name, "delete", "delete");
        let entry = report.stacks.iter().find(|s| s.name == name).unwrap();
        assert_eq!(entry.deletion, Some(DeletionOutcome::Requested), "{name}");
    }
    assert_decision(&report, "team-database", "skip", "not-allowed");
    let mut expected = everything.clone();
    expected.remove("app-expired");
    assert_eq!(aws.stack_names().await, expected, "exactly app-expired is gone");
    assert_eq!(aws.stack_status("app-stuck").await.as_deref(), Some("DELETE_FAILED"));

    // Day 5 + 2h: the failed deletion is reported and retried, plainly.
    let report = run(&reaper, after(t0, 5 * DAY + 2 * HOUR)).await;
    assert_decision(&report, "app-stuck", "delete", "delete");
    expected.remove("app-stuck");
    assert_eq!(aws.stack_names().await, expected);
    assert_eq!(
        aws.stack_tag("app-snoozed", "lifeguard:delete-after").await,
        None,
        "untouched after the snooze"
    );

    // Day 40: every blocked stack is still there; the snoozed one is warned anew; nothing more goes.
    let report = run(&reaper, after(t0, 40 * DAY)).await;
    assert_eq!(report.counts.deletions_requested, 0, "{report:#?}");
    assert_decision(&report, "app-snoozed", "warn", "expired-first-notice");
    let snoozed = report.stacks.iter().find(|s| s.name == "app-snoozed").unwrap();
    assert_eq!(snoozed.mark.as_ref().and_then(|m| m.times_snoozed), Some(1), "the snooze is remembered");
    let digest =
        notices(&aws, &queue).into_iter().filter(|(o, _)| o == "*digest*").map(|(_, m)| m).next_back();
    let digest = digest.expect("a digest");
    let row = digest.lines().find(|l| l.starts_with("app-snoozed |")).unwrap_or_else(|| panic!("{digest}"));
    assert!(row.contains("| 1 |"), "times snoozed in the digest: {row}");
    assert_eq!(aws.stack_names().await, expected);
    let marked: Vec<String> =
        reaper.marks.as_ref().unwrap().load().await.unwrap().into_iter().map(|m| m.stack_id).collect();
    assert_eq!(
        marked.len(),
        2,
        "app-snoozed and app-young marked again, deleted stacks' marks gone: {marked:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cap_stops_deletions_loudly_and_report_mode_marks_do_not_count() {
    let aws = LocalAws::connect_isolated("ap-south-2").await;
    let template = stack_template(&[], &[]);
    let t0 = Timestamp::now().whole_seconds();
    for i in 0..4 {
        aws.create_stack(&format!("app-{i}"), &template, &TEMP_ALICE, false).await;
    }
    let (report_mode, _table, _queue, _role) =
        reaper(&aws, ReaperConfig { mode: Mode::Report, ..enforce() }).await;
    let first = run(&report_mode, after(t0, 2 * DAY)).await;
    assert!(first.stacks.iter().all(|s| s.reason.as_str() == "expired-first-notice"), "{first:#?}");
    run(&report_mode, after(t0, 4 * DAY + 12 * HOUR)).await;
    let ripe = run(&report_mode, after(t0, 6 * DAY)).await;
    assert!(ripe.stacks.iter().all(|s| s.reason.as_str() == "mode-report"), "{ripe:#?}");
    assert_eq!(aws.stack_names().await.len(), 4, "report mode deletes nothing");
    assert_eq!(aws.stack_tag("app-0", "lifeguard:delete-after").await, None, "no mode updates a stack");

    // Switching to enforce restarts the notice cycle instead of deleting at once.
    // Redeployed in enforce mode: the role gains what enforcing needs.
    let (enforce_mode, _role) =
        as_role(&aws, ReaperConfig { mode: Mode::Enforce, max_deletions: 3, ..report_mode.config.clone() });
    let switched = run(&enforce_mode, after(t0, 6 * DAY + HOUR)).await;
    assert!(switched.stacks.iter().all(|s| s.reason.as_str() == "expired-first-notice"), "{switched:#?}");
    run(&enforce_mode, after(t0, 9 * DAY)).await;
    let capped = run(&enforce_mode, after(t0, 10 * DAY)).await;
    assert_eq!(capped.counts.deletions_requested, 3);
    assert!(capped.deletion_cap_reached);
    assert_eq!(capped.stacks.iter().filter(|s| s.reason.as_str() == "deletion-cap-reached").count(), 1);
    assert_eq!(aws.stack_names().await.len(), 1);
    let next = run(&enforce_mode, after(t0, 10 * DAY + HOUR)).await;
    assert_eq!(next.counts.deletions_requested, 1);
    assert!(aws.stack_names().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried_reported_and_never_forced() {
    let aws = LocalAws::connect_isolated("ca-west-1").await;
    let template = stack_template(&[], &[]);
    let t0 = Timestamp::now().whole_seconds();
    aws.create_stack("app-a", &template, &TEMP_ALICE, false).await;
    let (reaper, _table, _queue, role) = reaper(&aws, enforce()).await;
    run(&reaper, after(t0, 2 * DAY)).await;
    run(&reaper, after(t0, 4 * DAY + 12 * HOUR)).await;

    // A few throttled listings are absorbed by the SDK's backoff.
    aws.inject_fault("DescribeStacks", &role.access_key, 2, 400, "Throttling");
    let report = run(&reaper, after(t0, 4 * DAY + 13 * HOUR)).await;
    assert_decision(&report, "app-a", "keep", "grace-running");

    // Throttled beyond the retries: the run stops before any change, naming the cause.
    aws.inject_fault("DescribeStacks", &role.access_key, 6, 400, "Throttling");
    let error = handle(Ok(&reaper), &scheduled_event(after(t0, 5 * DAY + HOUR)), &reaper_invocation())
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("DescribeStacks") && message.contains("Throttling"), "{message}");
    assert_eq!(aws.stack_names().await.len(), 1);

    // A throttled deletion is reported and retried by the next run.
    aws.inject_fault("DeleteStack", &role.access_key, 6, 400, "Throttling");
    let report = run(&reaper, after(t0, 5 * DAY + 2 * HOUR)).await;
    let entry = &report.stacks[0];
    assert!(
        matches!(&entry.deletion, Some(DeletionOutcome::Failed { error }) if error.contains("Throttling")),
        "{entry:#?}"
    );
    assert_eq!(aws.stack_names().await.len(), 1);
    let report = run(&reaper, after(t0, 5 * DAY + 3 * HOUR)).await;
    assert_eq!(report.stacks[0].deletion, Some(DeletionOutcome::Requested));
    assert!(aws.stack_names().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_near_their_deadline_together_or_by_hand_stay_within_one_lease_and_one_daily_budget() {
    let aws = LocalAws::connect_isolated("eu-south-2").await;
    let template = stack_template(&[], &[]);
    let t0 = Timestamp::now().whole_seconds();
    for i in 0..4 {
        aws.create_stack(&format!("app-{i}"), &template, &TEMP_ALICE, false).await;
    }
    let config = ReaperConfig { max_deletions_per_day: 3, ..enforce() };
    let (reaper, table, queue, _role) = reaper(&aws, config).await;
    run(&reaper, after(t0, 2 * DAY)).await;
    run(&reaper, after(t0, 4 * DAY + 12 * HOUR)).await;
    notices(&aws, &queue);

    // A run with less than half its time left starts no deletion, but its marks, notices and
    // digest go out.
    let started = Timestamp::now().minus(Duration::from_mins(9));
    let late = Invocation { run_id: "late".into(), started, deadline: started.plus(Duration::from_mins(10)) };
    let report = handle(Ok(&reaper), &scheduled_event(after(t0, 6 * DAY)), &late).await.unwrap();
    assert_eq!(report.counts.deletions_requested, 0, "{report:#?}");
    let planned: Vec<_> = report.stacks.iter().filter(|s| s.decision == Action::Delete).collect();
    assert_eq!(planned.len(), 3, "the daily budget: {report:#?}");
    for stack in planned {
        let late = matches!(&stack.deletion, Some(DeletionOutcome::Failed { error }) if error.contains("invocation's time"));
        assert!(late, "{stack:#?}");
    }
    assert!(report.digest_sent);
    let sent = notices(&aws, &queue);
    assert!(sent.iter().any(|(owner, _)| owner == DIGEST_OWNER), "{sent:#?}");
    assert!(sent.iter().any(|(owner, m)| owner == ALICE && m.contains("deletion failed")), "{sent:#?}");
    assert_eq!(aws.stack_names().await.len(), 4);

    // Two runs started together: one holds the lease, the other changes nothing; the day's
    // budget of 3 holds between them.
    let at = scheduled_event(after(t0, 6 * DAY + HOUR));
    let (first, second) = (reaper_invocation(), reaper_invocation());
    let (a, b) = tokio::join!(handle(Ok(&reaper), &at, &first), handle(Ok(&reaper), &at, &second));
    let mut deleted = Vec::new();
    assert_eq!([&a, &b].iter().filter(|r| r.is_err()).count(), 1, "one run refused: {a:#?} {b:#?}");
    for result in [a, b] {
        match result {
            Ok(report) => deleted.extend(
                report
                    .stacks
                    .iter()
                    .filter(|s| s.deletion == Some(DeletionOutcome::Requested))
                    .map(|s| s.name.clone()),
            ),
            Err(error) => {
                assert!(matches!(&error, ReaperError::Run(RunError::RunInProgress { .. })), "{error}");
            }
        }
    }
    assert_eq!(deleted.len(), 3, "{deleted:?}");
    assert_eq!(deleted.iter().collect::<BTreeSet<_>>().len(), 3, "nothing deleted twice: {deleted:?}");
    assert_eq!(aws.stack_names().await.len(), 1);

    // By hand, later the same day: the budget still holds.
    let report = run(&reaper, after(t0, 6 * DAY + 2 * HOUR)).await;
    assert_eq!(report.counts.deletions_requested, 0, "{report:#?}");
    let held = &report.stacks[0];
    assert_eq!(held.reason.as_str(), "deletion-cap-reached");
    assert_eq!(aws.stack_names().await.len(), 1);
    // One consistent mark, for the stack left: the deleted ones' marks are gone, and the lease
    // was given back.
    let marks = DynamoDbMarks::new(&aws.sdk, &table).load().await.unwrap();
    assert_eq!(marks.len(), 1, "{marks:#?}");
    assert!(marks[0].stack_id.contains(&format!("stack/{}/", held.name)), "{marks:#?}");
    assert_eq!(marks[0].notices, 2);
    assert!(
        held.detail.as_deref().unwrap_or_default().contains("REAPER_MAX_DELETIONS_PER_DAY=3"),
        "{held:#?}"
    );
    let lease = aws
        .dynamodb
        .get_item()
        .table_name(&table)
        .key("stackId", aws_sdk_dynamodb::types::AttributeValue::S("lifeguard:lease".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(lease.item(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_with_an_imported_or_undeletable_resource_is_never_marked_or_deleted() {
    let aws = LocalAws::connect_isolated("me-central-1").await;
    let t0 = Timestamp::now().whole_seconds();
    aws.create_stack("app-plain", &stack_template(&[], &[]), &TEMP_ALICE, false).await;
    aws.create_stack("app-imported", &stack_template(&[], &[]), &TEMP_ALICE, false).await;
    aws.set_resource_status("app-imported", "Handle", "IMPORT_COMPLETE");
    let with_topic = r#"{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}"#;
    aws.create_stack("app-topic", with_topic, &TEMP_ALICE, false).await;
    let (reaper, _table, _queue, _role) = reaper(&aws, enforce()).await;
    for hours in [48, 108, 121, 150] {
        let report = run(&reaper, after(t0, hours * HOUR)).await;
        assert_decision(&report, "app-imported", "warn", "not-deletable");
        assert_decision(&report, "app-topic", "warn", "not-deletable");
        let imported = report.stacks.iter().find(|s| s.name == "app-imported").unwrap();
        assert!(
            imported.detail.as_deref().unwrap().contains("Handle (AWS::CloudFormation::WaitConditionHandle)")
        );
        assert!(imported.mark.is_none(), "{imported:#?}");
    }
    assert_eq!(
        aws.stack_names().await,
        BTreeSet::from(["app-imported".to_owned(), "app-topic".to_owned()]),
        "only the plain stack went"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_no_confirmed_subscription_reaches_never_loses_a_stack() {
    let aws = LocalAws::connect_isolated("ap-east-2").await;
    let t0 = Timestamp::now().whole_seconds();
    let bob_temporary = [(TEMPORARY_TAG, "true"), (OWNER_TAG, BOB), (TTL_TAG, "1d")];
    aws.create_stack("app-alice", &stack_template(&[], &[]), &TEMP_ALICE, false).await;
    aws.create_stack("app-bob", &stack_template(&[], &[]), &bob_temporary, false).await;
    let (reaper, _table, queue, _role) = reaper(&aws, enforce()).await;
    let topic = reaper.config.topic_arn.clone().expect("a topic");

    // Nobody reads the digest yet: enforce mode refuses to run.
    aws.filter_subscriptions(&topic, &serde_json::json!({"owner": [BOB]})).await;
    let error =
        handle(Ok(&reaper), &scheduled_event(after(t0, 2 * DAY)), &reaper_invocation()).await.unwrap_err();
    assert!(matches!(&error, ReaperError::Run(RunError::NoOperators)), "{error}");
    assert!(notices(&aws, &queue).is_empty(), "nothing sent");

    // The operators and Bob read the topic; Alice's subscription waits for her confirmation.
    aws.filter_subscriptions(&topic, &serde_json::json!({"owner": ["*digest*", BOB]})).await;
    aws.subscribe_email(&topic, ALICE, &serde_json::json!({"owner": [ALICE]})).await;
    for hours in [48, 108, 121, 150] {
        let report = run(&reaper, after(t0, hours * HOUR)).await;
        assert_decision(&report, "app-alice", "warn", "owner-unreachable");
    }
    assert_eq!(
        aws.stack_names().await,
        BTreeSet::from(["app-alice".to_owned()]),
        "Bob's went, Alice's stays"
    );
    let digests: Vec<String> =
        notices(&aws, &queue).into_iter().filter(|(o, _)| o == DIGEST_OWNER).map(|(_, m)| m).collect();
    assert!(
        digests.iter().all(|m| m.contains("app-alice") && m.contains("owner-unreachable")),
        "{digests:#?}"
    );

    // Once Alice confirms, her notice cycle starts: nothing is deleted at once.
    aws.confirm_email(&topic, ALICE);
    let report = run(&reaper, after(t0, 151 * HOUR)).await;
    assert_decision(&report, "app-alice", "warn", "expired-first-notice");
}
