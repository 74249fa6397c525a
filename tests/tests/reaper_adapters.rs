//! The reaper's AWS adapters (CloudFormation, DynamoDB, SNS), through the real SDK, against the
//! local AWS, signing as the reaper's role as its application deploys it (see
//! `lifeguard_tests::iam`) for the test's table, topic, mode and tagging switch. Seeding and
//! read-back keep the unrestricted clients. The server is shared by tests running in parallel:
//! every stack, table and topic has a unique name, and listings are filtered by the test's own
//! name prefix.

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::Tag;
use lifeguard_common::AwsError;
use lifeguard_reaper::aws::{
    CloudFormationClient, DIGEST_OWNER, DynamoDbMarks, OWNER_ATTRIBUTE, SnsNotifier,
};
use lifeguard_reaper::tags::{OWNER_TAG, TEMPORARY_TAG};
use lifeguard_reaper::{
    Mark, MarkUpdate, MarksStore, Mode, Notifier, ReaperConfig, StackInfo, StackResource, Stacks, Timestamp,
};
use lifeguard_tests::iam::{Principal, principal_denied};
use lifeguard_tests::{ACCOUNT, LocalAws, stack_template, unique};
use std::collections::BTreeMap;

const TEMPORARY: [(&str, &str); 2] = [(TEMPORARY_TAG, "true"), (OWNER_TAG, "alice@example.com")];

/// Writes one mark, as a run writes many.
async fn write(marks: &DynamoDbMarks, mark: &Mark, read: Option<&Mark>) -> Result<(), AwsError> {
    marks.change(&[MarkUpdate::Write { mark, read }]).await.remove(0)
}

/// Removes one mark, as a run removes many.
async fn clear(marks: &DynamoDbMarks, read: &Mark) -> Result<(), AwsError> {
    marks.change(&[MarkUpdate::Clear { read }]).await.remove(0)
}

/// The reaper's role, deployed in `mode` (which decides its statements), keeping its marks in
/// `table` and sending its notices to `topic`.
fn reaper_role(aws: &LocalAws, mode: Mode, table: &str, topic: &str) -> Principal {
    aws.reaper_principal(&ReaperConfig {
        mode,
        // Every stack these tests create (unique names start lg-).
        allowed_stacks: Some(vec!["lg-*".into()]),
        marks_table: Some(table.to_owned()),
        topic_arn: Some(topic.to_owned()),
        ..ReaperConfig::default()
    })
}

/// The reaper's role for the CloudFormation calls, deployed in `mode`; its table and topic (never
/// created: these tests do not use them) are its own.
fn stacks_role(aws: &LocalAws, mode: Mode) -> Principal {
    reaper_role(aws, mode, &unique("unused-marks"), &topic_arn(aws, &unique("unused-notices")))
}

/// The ARN of topic `name`.
fn topic_arn(aws: &LocalAws, name: &str) -> String {
    format!("arn:aws:sns:{}:{ACCOUNT}:{name}", aws.region())
}

fn mine<'a>(stacks: &'a [StackInfo], prefix: &str) -> Vec<&'a StackInfo> {
    stacks.iter().filter(|s| s.name.starts_with(prefix)).collect()
}

#[tokio::test]
async fn list_follows_every_page() {
    let aws = LocalAws::connect().await;
    let prefix = unique("cfn-pages");
    let template = stack_template(&[], &[]);
    let count = 57; // more than one page of 50
    let mut ids = Vec::new();
    for i in 0..count {
        ids.push(aws.create_stack(&format!("{prefix}-{i:02}"), &template, &[], false).await);
    }
    let role = stacks_role(&aws, Mode::Report);
    let stacks = CloudFormationClient::new(&role.sdk).list().await.unwrap();
    let found = mine(&stacks, &format!("{prefix}-"));
    assert_eq!(found.len(), count, "{found:?}");
    let mut found_ids: Vec<_> = found.iter().map(|s| s.id.clone()).collect();
    found_ids.sort();
    ids.sort();
    assert_eq!(found_ids, ids);
    for stack in found {
        assert_eq!(stack.status, "CREATE_COMPLETE");
        assert!(!stack.exports_in_use);
        assert_eq!(stack.parent_id, None);
    }
}

#[tokio::test]
async fn tags_times_and_termination_protection_are_mapped() {
    let aws = LocalAws::connect().await;
    let name = unique("cfn-mapped");
    let before = Timestamp::now().unix_seconds();
    let template = stack_template(&[], &[]);
    let id = aws.create_stack(&name, &template, &TEMPORARY, true).await;
    let open = unique("cfn-open");
    aws.create_stack(&open, &template, &[], false).await;

    let cloudformation = CloudFormationClient::new(&stacks_role(&aws, Mode::Report).sdk);
    let stacks = cloudformation.list().await.unwrap();
    let stack = stacks.iter().find(|s| s.name == name).expect("listed");
    assert_eq!(stack.id, id);
    let expected: BTreeMap<String, String> =
        TEMPORARY.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    assert_eq!(stack.tags, expected);
    assert_eq!(stack.termination_protection, Some(true));
    assert!(
        (before - 5..=Timestamp::now().unix_seconds() + 5)
            .contains(&stack.created.expect("a creation time").unix_seconds()),
        "{stack:?}"
    );
    assert_eq!(stack.last_updated, None);
    let open_stack = stacks.iter().find(|s| s.name == open).expect("listed");
    assert_eq!(open_stack.termination_protection, Some(false));
    assert!(open_stack.tags.is_empty());
    assert_eq!(open_stack.service_role, None);

    // A stack deployed with a service role: CloudFormation deletes it with that role.
    let deployer = format!("arn:aws:iam::{ACCOUNT}:role/{}", unique("deployer"));
    let with_role = unique("cfn-with-role");
    aws.cloudformation
        .create_stack()
        .stack_name(&with_role)
        .template_body(&template)
        .role_arn(&deployer)
        .send()
        .await
        .expect("CreateStack with a service role");
    let described = cloudformation.describe(&with_role).await.unwrap().expect("exists");
    assert_eq!(described.service_role.as_deref(), Some(deployer.as_str()));

    // Described, a stack also shows its resources (listed is unknown), as its template names them.
    assert_eq!(stack.resources, None);
    let described = cloudformation.describe(&name).await.unwrap().expect("exists");
    let handle = StackResource {
        logical_id: "Handle".into(),
        resource_type: "AWS::CloudFormation::WaitConditionHandle".into(),
        status: "CREATE_COMPLETE".into(),
    };
    assert_eq!(described, StackInfo { resources: Some(vec![handle.clone()]), ..stack.clone() });
    aws.set_resource_status(&name, "Handle", "IMPORT_COMPLETE");
    let imported = cloudformation.describe(&name).await.unwrap().expect("exists");
    assert_eq!(imported.resources, Some(vec![StackResource { status: "IMPORT_COMPLETE".into(), ..handle }]));
}

#[tokio::test]
async fn an_imported_export_is_in_use() {
    let aws = LocalAws::connect_isolated("eu-south-2").await;
    let exporter = unique("cfn-exporter");
    let idle = unique("cfn-idle-exporter");
    let untagged = unique("cfn-untagged-exporter");
    let export = format!("{exporter}-value");
    aws.create_stack(&exporter, &stack_template(&[&export], &[]), &TEMPORARY, false).await;
    aws.create_stack(&idle, &stack_template(&[&format!("{idle}-value")], &[]), &TEMPORARY, false).await;
    aws.create_stack(&untagged, &stack_template(&[&format!("{untagged}-value")], &[]), &[], false).await;
    let importer = unique("cfn-importer");
    aws.create_stack(&importer, &stack_template(&[], &[&export]), &TEMPORARY, false).await;

    let role = stacks_role(&aws, Mode::Report);
    let cloudformation = CloudFormationClient::new(&role.sdk);
    let stacks = cloudformation.list().await.unwrap();
    let listed = |name: &str| stacks.iter().find(|s| s.name == name).expect("listed");
    assert_eq!(listed(&exporter).exports, std::slice::from_ref(&export));
    for name in [&exporter, &idle, &untagged] {
        assert!(listed(name).exports_in_use, "{name}: has exports, not ruled out by a listing");
    }
    assert!(!listed(&importer).exports_in_use, "imports, exports nothing");
    assert!(
        !aws.request_counts_of(&role).contains_key("cloudformation.ListImports"),
        "listing makes no per-stack call"
    );

    assert!(
        cloudformation.describe(&exporter).await.unwrap().unwrap().exports_in_use,
        "imported by {importer}"
    );
    assert!(!cloudformation.describe(&idle).await.unwrap().unwrap().exports_in_use);
    assert!(!cloudformation.describe(&untagged).await.unwrap().unwrap().exports_in_use);
    assert_eq!(aws.request_counts_of(&role)["cloudformation.ListImports"], 3, "one per export described");
}

#[tokio::test]
async fn delete_removes_the_stack_and_describe_then_finds_none() {
    let aws = LocalAws::connect().await;
    let name = unique("cfn-delete");
    let id = aws.create_stack(&name, &stack_template(&[], &[]), &TEMPORARY, false).await;
    let cloudformation = CloudFormationClient::new(&stacks_role(&aws, Mode::Enforce).sdk);

    cloudformation.delete(&id).await.unwrap();
    assert_eq!(cloudformation.describe(&name).await.unwrap(), None);
    let stacks = cloudformation.list().await.unwrap();
    assert!(!stacks.iter().any(|s| s.name == name), "deleted stacks are not listed");
    assert_eq!(cloudformation.describe(&unique("cfn-never-existed")).await.unwrap(), None);
}

#[tokio::test]
async fn the_role_deletes_only_allowed_stacks_and_never_production_ones() {
    let aws = LocalAws::connect().await;
    let template = stack_template(&[], &[]);
    let allowed = unique("cfn-allowed");
    // A stack nested in an allowed one, as CloudFormation names it: deleted with its parent.
    let nested = format!("{allowed}-Hooks-0ABC");
    let outside = unique("cfn-outside").replacen("lg-", "team-", 1);
    let production = unique("cfn-production");
    let mut ids = BTreeMap::new();
    for name in [&allowed, &nested, &outside, &production] {
        ids.insert(name.clone(), aws.create_stack(name, &template, &TEMPORARY, false).await);
    }
    // Deployed as an operator might misconfigure it: the allowlist names a production stack.
    let role = aws.reaper_principal(&ReaperConfig {
        mode: Mode::Enforce,
        allowed_stacks: Some(vec![allowed.clone(), production.clone()]),
        production_stacks: vec![production.clone()],
        marks_table: Some(unique("unused-marks")),
        topic_arn: Some(topic_arn(&aws, &unique("unused-notices"))),
        ..ReaperConfig::default()
    });
    let cloudformation = CloudFormationClient::new(&role.sdk);

    let error = cloudformation.delete(&ids[&outside]).await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("DeleteStack", "AccessDenied"), "{error}");
    assert!(error.message.contains("no identity-based policy allows"), "{error}");
    let error = cloudformation.delete(&ids[&production]).await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("DeleteStack", "AccessDenied"), "{error}");
    assert!(error.message.contains("explicit deny"), "{error}");
    for name in [&outside, &production] {
        assert!(cloudformation.describe(name).await.unwrap().is_some(), "{name} is still there");
    }
    for name in [&nested, &allowed] {
        cloudformation.delete(&ids[name]).await.unwrap();
        assert_eq!(cloudformation.describe(name).await.unwrap(), None, "{name} is deleted");
    }
}

#[tokio::test]
async fn a_protected_stack_is_not_deleted() {
    let aws = LocalAws::connect().await;
    let name = unique("cfn-protected");
    let id = aws.create_stack(&name, &stack_template(&[], &[]), &TEMPORARY, true).await;
    let cloudformation = CloudFormationClient::new(&stacks_role(&aws, Mode::Enforce).sdk);

    let error = cloudformation.delete(&id).await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("DeleteStack", "ValidationError"), "{error}");
    assert!(error.message.contains("TerminationProtection"), "{error}");
    let stack = cloudformation.describe(&name).await.unwrap().expect("still there");
    assert_eq!(stack.status, "CREATE_COMPLETE");
}

#[tokio::test]
async fn a_failed_deletion_shows_in_the_status() {
    let aws = LocalAws::connect().await;
    let name = unique("cfn-delete-failed");
    let id = aws.create_stack(&name, &stack_template(&[], &[]), &TEMPORARY, false).await;
    aws.script_delete_failure(&id, "The following resource(s) failed to delete: [Handle]. ");
    let cloudformation = CloudFormationClient::new(&stacks_role(&aws, Mode::Enforce).sdk);

    cloudformation.delete(&id).await.unwrap();
    let stack = cloudformation.describe(&name).await.unwrap().expect("still there");
    assert_eq!(stack.status, "DELETE_FAILED");
    let listed = cloudformation.list().await.unwrap();
    assert_eq!(listed.iter().find(|s| s.id == id).map(|s| s.status.as_str()), Some("DELETE_FAILED"));

    cloudformation.delete(&id).await.unwrap();
    assert_eq!(cloudformation.describe(&name).await.unwrap(), None, "a second try deletes it");
}

#[tokio::test]
async fn an_unknown_table_is_a_named_error() {
    let aws = LocalAws::connect().await;
    // The reaper deployed with a table that is not there (any more).
    let table = unique("no-such-table");
    let role = reaper_role(&aws, Mode::Report, &table, &topic_arn(&aws, &unique("notices")));
    let error = DynamoDbMarks::new(&role.sdk, table).load().await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("Scan", "ResourceNotFoundException"), "{error}");
}

fn a_mark(stack_id: &str, n: u32) -> Mark {
    let base = Timestamp::parse_rfc3339("2026-03-01T12:00:00Z").unwrap();
    Mark {
        stack_id: stack_id.to_owned(),
        first_notice: base,
        delete_after: Timestamp::from_unix_seconds(base.unix_seconds() + 86_400),
        expiry_seen: Timestamp::from_unix_seconds(base.unix_seconds() - 3_600),
        notices: n,
        times_snoozed: n * 2,
        mode: if n.is_multiple_of(2) { Mode::Enforce } else { Mode::Report },
        owner: (!n.is_multiple_of(3)).then(|| format!("owner{n}@example.com")),
    }
}

#[tokio::test]
async fn marks_are_written_loaded_replaced_and_cleared() {
    let aws = LocalAws::connect().await;
    let table = aws.create_marks_table("marks").await;
    let role = reaper_role(&aws, Mode::Report, &table, &topic_arn(&aws, &unique("notices")));
    let marks = DynamoDbMarks::new(&role.sdk, &table);
    assert_eq!(marks.load().await.unwrap(), []);

    let ids: Vec<String> =
        (0..3).map(|i| format!("arn:aws:cloudformation:us-east-1:123456789012:stack/s{i}/{i}")).collect();
    for (id, i) in ids.iter().zip(0..) {
        write(&marks, &a_mark(id, i), None).await.unwrap();
    }
    let mut loaded = marks.load().await.unwrap();
    loaded.sort_by(|a, b| a.stack_id.cmp(&b.stack_id));
    assert_eq!(loaded, [a_mark(&ids[0], 0), a_mark(&ids[1], 1), a_mark(&ids[2], 2)]);

    write(&marks, &a_mark(&ids[1], 7), Some(&a_mark(&ids[1], 1))).await.unwrap();
    clear(&marks, &a_mark(&ids[0], 0)).await.unwrap();
    clear(&marks, &a_mark(&ids[0], 0)).await.unwrap(); // clearing an absent mark is fine
    let mut loaded = marks.load().await.unwrap();
    loaded.sort_by(|a, b| a.stack_id.cmp(&b.stack_id));
    assert_eq!(loaded, [a_mark(&ids[1], 7), a_mark(&ids[2], 2)]);

    // The documented item layout.
    let item = aws
        .dynamodb
        .get_item()
        .table_name(&table)
        .key("stackId", aws_sdk_dynamodb::types::AttributeValue::S(ids[1].clone()))
        .send()
        .await
        .unwrap();
    let item = item.item().expect("stored");
    assert_eq!(item["deleteAfter"].as_s().unwrap(), "2026-03-02T12:00:00Z");
    assert_eq!(item["notices"].as_n().unwrap(), "7");
    assert_eq!(item["timesSnoozed"].as_n().unwrap(), "14");
}

#[tokio::test]
async fn notices_carry_the_owner_attribute() {
    let aws = LocalAws::connect().await;
    let (topic, queue) = aws.topic_with_queue("notices").await;
    let role = reaper_role(&aws, Mode::Report, &unique("marks"), &topic);
    let notifier = SnsNotifier::new(&role.sdk, &topic);

    notifier.notify("alice@example.com", "Stack demo expires", "demo expires at noon").await.unwrap();
    notifier.digest("Reaper run", "2 warned, 1 deleted").await.unwrap();

    let mut received = Vec::new();
    for _ in 0..10 {
        received.extend(aws.received(&queue));
        if received.len() >= 2 {
            break;
        }
    }
    assert_eq!(received.len(), 2, "{received:?}");
    received.sort_by_key(|m| m["Subject"].as_str().map(str::to_owned));
    let owner = |m: &serde_json::Value| m["MessageAttributes"][OWNER_ATTRIBUTE].clone();
    assert_eq!(received[0]["Subject"], "Reaper run");
    assert_eq!(received[0]["Message"], "2 warned, 1 deleted");
    assert_eq!(owner(&received[0])["Value"], DIGEST_OWNER, "{:?}", received[0]);
    assert_eq!(owner(&received[0])["Type"], "String");
    assert_eq!(received[1]["Subject"], "Stack demo expires");
    assert_eq!(received[1]["Message"], "demo expires at noon");
    assert_eq!(owner(&received[1])["Value"], "alice@example.com", "{:?}", received[1]);
}

#[tokio::test]
async fn publishing_to_an_unknown_topic_is_a_named_error() {
    let aws = LocalAws::connect().await;
    // The reaper deployed with a topic that is not there (any more).
    let topic = topic_arn(&aws, &unique("no-such-topic"));
    let role = reaper_role(&aws, Mode::Report, &unique("marks"), &topic);
    let error = SnsNotifier::new(&role.sdk, topic).digest("s", "m").await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("Publish", "NotFound"), "{error}");
}

#[tokio::test]
async fn marks_change_in_transactions_and_a_changed_mark_holds_back_no_other() {
    let aws = LocalAws::connect().await;
    let table = aws.create_marks_table("batch-marks").await;
    let role = reaper_role(&aws, Mode::Enforce, &table, &topic_arn(&aws, &unique("notices")));
    let marks = DynamoDbMarks::new(&role.sdk, &table);
    let id = |i: u32| format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/batch-{i}/{i}");
    // 250 marks: three transactions (DynamoDB, and the local AWS, refuse more than 100 items).
    let first: Vec<Mark> = (0..250).map(|i| a_mark(&id(i), i % 5)).collect();
    let writes: Vec<MarkUpdate> = first.iter().map(|mark| MarkUpdate::Write { mark, read: None }).collect();
    assert!(marks.change(&writes).await.iter().all(Result::is_ok));
    assert_eq!(marks.load().await.unwrap().len(), 250);
    assert_eq!(aws.request_counts_of(&role)["dynamodb.TransactWriteItems"], 3);

    // Another run changes marks 7 and 180 meanwhile; this run's changes of all 250 (150 new
    // marks, 100 removals) then apply to every other one, in the same three transactions plus one
    // retry for each transaction that held a changed mark.
    for i in [7, 180] {
        write(&marks, &a_mark(&id(i), 9), Some(&first[i as usize])).await.unwrap();
    }
    let second: Vec<Mark> = (0..150).map(|i| a_mark(&id(i), i % 5 + 1)).collect();
    let mut changes: Vec<MarkUpdate> =
        second.iter().zip(&first).map(|(mark, read)| MarkUpdate::Write { mark, read: Some(read) }).collect();
    changes.extend(first[150..].iter().map(|read| MarkUpdate::Clear { read }));
    let before = aws.request_counts_of(&role)["dynamodb.TransactWriteItems"];
    let results = marks.change(&changes).await;
    assert_eq!(aws.request_counts_of(&role)["dynamodb.TransactWriteItems"] - before, 3 + 2);
    for (i, result) in results.iter().enumerate() {
        if i == 7 || i == 180 {
            let error = result.as_ref().unwrap_err();
            assert_eq!(
                (error.operation, error.code.as_str()),
                ("TransactWriteItems", "MarkChanged"),
                "{error}"
            );
        } else {
            assert!(result.is_ok(), "change {i}: {result:?}");
        }
    }
    let mut loaded = marks.load().await.unwrap();
    loaded.sort_by_key(|mark| mark.stack_id.split('/').nth(2).unwrap().parse::<u32>().unwrap());
    let mut expected: Vec<Mark> = second.clone();
    expected[7] = a_mark(&id(7), 9);
    expected.push(a_mark(&id(180), 9));
    assert_eq!(loaded, expected, "the other run's marks left as it wrote them, every other change made");
}

#[tokio::test]
async fn the_role_reaches_only_its_table_its_topic_and_temporary_stacks() {
    let aws = LocalAws::connect().await;
    let table = aws.create_marks_table("own-marks").await;
    let (topic, _queue) = aws.topic_with_queue("own-notices").await;
    let other_table = aws.create_marks_table("other-marks").await;
    let (other_topic, other_queue) = aws.topic_with_queue("other-notices").await;
    let name = unique("cfn-permanent");
    let id =
        aws.create_stack(&name, &stack_template(&[], &[]), &[(OWNER_TAG, "alice@example.com")], false).await;
    let temporary = unique("cfn-temporary");
    aws.create_stack(&temporary, &stack_template(&[], &[]), &TEMPORARY, false).await;
    // Enforce mode: deleting, but never changing a stack.
    let role = reaper_role(&aws, Mode::Enforce, &table, &topic);

    let marks = DynamoDbMarks::new(&role.sdk, &other_table);
    let other_table_arn = format!("arn:aws:dynamodb:{}:{ACCOUNT}:table/{other_table}", aws.region());
    let error = marks.load().await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("Scan", "AccessDeniedException"), "{error}");
    assert_eq!(error.message, principal_denied(&role, "dynamodb:Scan", &other_table_arn));
    let error = write(&marks, &a_mark(&id, 1), None).await.unwrap_err();
    assert_eq!(
        (error.operation, error.code.as_str()),
        ("TransactWriteItems", "AccessDeniedException"),
        "{error}"
    );
    assert_eq!(error.message, principal_denied(&role, "dynamodb:PutItem", &other_table_arn));
    let error = clear(&marks, &a_mark(&id, 1)).await.unwrap_err();
    assert_eq!(
        (error.operation, error.code.as_str()),
        ("TransactWriteItems", "AccessDeniedException"),
        "{error}"
    );
    assert_eq!(error.message, principal_denied(&role, "dynamodb:DeleteItem", &other_table_arn));
    let scanned = aws.dynamodb.scan().table_name(&other_table).send().await.unwrap();
    assert_eq!(scanned.count(), 0, "nothing written to {other_table}");

    let error = SnsNotifier::new(&role.sdk, &other_topic).digest("Reaper run", "m").await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("Publish", "AuthorizationError"), "{error}");
    assert_eq!(error.message, principal_denied(&role, "sns:Publish", &other_topic));
    assert_eq!(aws.received(&other_queue), Vec::<serde_json::Value>::new(), "nothing published");

    let cloudformation = CloudFormationClient::new(&role.sdk);
    let error = cloudformation.delete(&id).await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("DeleteStack", "AccessDenied"), "{error}");
    assert_eq!(error.message, principal_denied(&role, "cloudformation:DeleteStack", &id));
    assert_eq!(aws.stack_status(&name).await.as_deref(), Some("CREATE_COMPLETE"), "not lifeguard:temporary");
    let listed = cloudformation.describe(&temporary).await.unwrap().expect("exists");
    let error = aws_sdk_cloudformation::Client::new(&role.sdk)
        .update_stack()
        .stack_name(&listed.id)
        .use_previous_template(true)
        .tags(Tag::builder().key("lifeguard:expires-at").value("2099-01-01T00:00:00Z").build())
        .send()
        .await
        .expect_err("the role changes no stack");
    assert_eq!(error.code(), Some("AccessDenied"), "{error:?}");
    assert_eq!(
        error.message(),
        Some(principal_denied(&role, "cloudformation:UpdateStack", &listed.id).as_str())
    );
    assert_eq!(aws.stack_tag(&temporary, "lifeguard:expires-at").await, None);

    let refused: Vec<String> =
        aws.denials(&role).iter().map(|d| d["action"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(
        refused,
        [
            "dynamodb:Scan",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "sns:Publish",
            "cloudformation:DeleteStack",
            "cloudformation:UpdateStack"
        ]
    );
}

#[tokio::test]
async fn the_deletion_policy_works_only_through_cloudformation() {
    let aws = LocalAws::connect().await;
    // A temporary stack's function, as CloudFormation names and tags it (TemporaryStackPrefix
    // lifeguard-): the policy CloudFormation deletes it with must not let the function itself
    // delete it.
    let name = format!("lifeguard-{}", unique("feature-Fn"));
    aws.lambda
        .create_function()
        .function_name(&name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .role(aws.role_arn())
        .handler("bootstrap")
        .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(b"code".to_vec().into()).build())
        .tags(TEMPORARY_TAG, "true")
        .send()
        .await
        .expect("CreateFunction");
    let role = stacks_role(&aws, Mode::Enforce);
    let error = aws_sdk_lambda::Client::new(&role.sdk)
        .delete_function()
        .function_name(&name)
        .send()
        .await
        .expect_err("a direct call is not CloudFormation's");
    assert_eq!(error.code(), Some("AccessDeniedException"), "{error:?}");
    assert_eq!(
        error.message(),
        Some(principal_denied(&role, "lambda:DeleteFunction", &aws.function_arn(&name)).as_str())
    );
    let still_there = aws.lambda.get_function().function_name(&name).send().await;
    assert!(still_there.is_ok(), "{still_there:?}");
}

#[tokio::test]
async fn the_lease_the_daily_count_and_conditional_marks_hold_in_the_table() {
    let aws = LocalAws::connect().await;
    let table = aws.create_marks_table("lease").await;
    let role = reaper_role(&aws, Mode::Enforce, &table, &topic_arn(&aws, &unique("notices")));
    let marks = DynamoDbMarks::new(&role.sdk, &table);
    let now = Timestamp::now();
    let until = now.plus(std::time::Duration::from_mins(15));

    // One run at a time; a lease that expired is taken over; only its holder gives it back.
    assert_eq!(marks.take_lease("run-a", until, now).await.unwrap(), Ok(()));
    assert_eq!(marks.take_lease("run-b", until, now).await.unwrap(), Err(("run-a".to_owned(), until)));
    marks.release_lease("run-b").await.unwrap();
    assert!(marks.take_lease("run-b", until, now).await.unwrap().is_err(), "still run-a's");
    let after_expiry = until.plus(std::time::Duration::from_secs(1));
    assert_eq!(marks.take_lease("run-b", after_expiry, after_expiry).await.unwrap(), Ok(()));
    marks.release_lease("run-b").await.unwrap();
    assert_eq!(marks.take_lease("run-c", until, now).await.unwrap(), Ok(()));

    // The day's deletions are counted up to the budget, whoever counts.
    assert_eq!(marks.deletions_on("2026-12-03").await.unwrap(), 0);
    let counted = [
        marks.count_deletion("2026-12-03", 2).await.unwrap(),
        DynamoDbMarks::new(&role.sdk, &table).count_deletion("2026-12-03", 2).await.unwrap(),
        marks.count_deletion("2026-12-03", 2).await.unwrap(),
    ];
    assert_eq!(counted, [true, true, false]);
    assert_eq!(marks.deletions_on("2026-12-03").await.unwrap(), 2);
    assert_eq!(marks.deletions_on("2026-12-04").await.unwrap(), 0);

    // Neither the lease nor the counts read as marks.
    assert_eq!(marks.load().await.unwrap(), []);

    // A mark is written and cleared only as the run read it.
    let id = format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/lease-s/1");
    write(&marks, &a_mark(&id, 1), None).await.unwrap();
    let error = write(&marks, &a_mark(&id, 2), None).await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("TransactWriteItems", "MarkChanged"), "{error}");
    let error = write(&marks, &a_mark(&id, 2), Some(&a_mark(&id, 3))).await.unwrap_err();
    assert_eq!(error.code, "MarkChanged", "{error}");
    let error = clear(&marks, &a_mark(&id, 3)).await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("TransactWriteItems", "MarkChanged"), "{error}");
    assert_eq!(marks.load().await.unwrap(), [a_mark(&id, 1)], "left as the other run wrote it");
    write(&marks, &a_mark(&id, 2), Some(&a_mark(&id, 1))).await.unwrap();
    clear(&marks, &a_mark(&id, 2)).await.unwrap();
    assert_eq!(marks.load().await.unwrap(), []);
}

#[tokio::test]
async fn the_topic_reaches_whom_its_confirmed_subscriptions_admit() {
    let aws = LocalAws::connect().await;
    let (topic, _queue) = aws.topic_with_queue("reach").await;
    aws.filter_subscriptions(
        &topic,
        &serde_json::json!({"owner": ["*digest*", {"suffix": "@ops.example.com"}]}),
    )
    .await;
    aws.subscribe_email(&topic, "alice@example.com", &serde_json::json!({"owner": ["alice@example.com"]}))
        .await;
    let role = reaper_role(&aws, Mode::Enforce, &unique("marks"), &topic);
    let notifier = SnsNotifier::new(&role.sdk, &topic);

    let reach = notifier.recipients().await.unwrap();
    assert!(reach.admit_digest() && reach.admit("dan@ops.example.com"), "{reach:?}");
    assert!(!reach.admit("alice@example.com"), "a pending subscription reaches nobody: {reach:?}");
    assert!(!reach.admit("bob@example.com"));

    aws.confirm_email(&topic, "alice@example.com");
    let reach = notifier.recipients().await.unwrap();
    assert!(reach.admit("alice@example.com") && !reach.admit("bob@example.com"), "{reach:?}");
}
