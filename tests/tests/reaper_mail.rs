//! The reaper's mail cannot be abused, end to end through the real SDK against the local AWS:
//! stacks whose tags hold what an attacker who can deploy would write (a call to action with a
//! link, in the characters AWS allows in a tag value: letters of any script, digits, spaces and
//! `_ . : / = + - @`), one reaper run, and the owner notices and the digest read back from the
//! topic's queue. They show the values only quoted, escaped, cut and without a link.

use lifeguard_reaper::aws::{CloudFormationClient, DIGEST_OWNER, DynamoDbMarks, SnsNotifier};
use lifeguard_reaper::tags::{EXPIRES_AT_TAG, OWNER_TAG, TEMPORARY_TAG, TTL_TAG};
use lifeguard_reaper::{Mode, Reaper, ReaperConfig, RunReport, Timestamp, handle};
use lifeguard_tests::{LocalAws, reaper_invocation, scheduled_event, stack_template};
use serde_json::Value;
use std::time::Duration;

const ALICE: &str = "alice@example.com";
/// An owner tag `lifeguard:owner` accepts as an address, though it reads as a link.
const LINK_OWNER: &str = "https://evil.example/login@example.com";

/// One published message as the topic's queue got it.
struct Published {
    owner: String,
    subject: String,
    message: String,
}

/// Every message the topic's queue got, until it is empty.
fn published(aws: &LocalAws, queue: &str) -> Vec<Published> {
    let mut all = Vec::new();
    loop {
        let batch = aws.received(queue);
        if batch.is_empty() {
            return all;
        }
        let text = |envelope: &Value, field: &str| envelope[field].as_str().unwrap_or_default().to_owned();
        all.extend(batch.iter().map(|envelope| Published {
            owner: envelope["MessageAttributes"]["owner"]["Value"].as_str().unwrap_or_default().to_owned(),
            subject: text(envelope, "Subject"),
            message: text(envelope, "Message"),
        }));
    }
}

/// An enforce-mode reaper for the `mail-*` stacks, signing as the role its application gives it,
/// with a marks table and a topic of its own; returns it with the topic's queue.
async fn reaper(aws: &LocalAws) -> (Reaper<CloudFormationClient, DynamoDbMarks, SnsNotifier>, String) {
    let table = aws.create_marks_table("mail-marks").await;
    let (topic, queue) = aws.topic_with_queue("mail-notices").await;
    let config = ReaperConfig {
        mode: Mode::Enforce,
        allowed_stacks: Some(vec!["mail-*".into()]),
        allow_replay: true,
        topic_arn: Some(topic.clone()),
        marks_table: Some(table.clone()),
        ..ReaperConfig::default()
    };
    let role = aws.reaper_principal(&config);
    let reaper = Reaper {
        stacks: CloudFormationClient::new(&role.sdk),
        marks: Some(DynamoDbMarks::new(&role.sdk, table)),
        notifier: Some(SnsNotifier::new(&role.sdk, topic)),
        config,
    };
    (reaper, queue)
}

fn decision(report: &RunReport, name: &str) -> String {
    let entry =
        report.stacks.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name}: {report:#?}"));
    format!("{} {}", entry.decision.as_str(), entry.reason)
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_tag_values_reach_owners_and_operators_only_quoted_escaped_cut_and_without_links() {
    let aws = LocalAws::connect_isolated("ap-southeast-4").await;
    let template = stack_template(&[], &[]);
    let t0 = Timestamp::now().whole_seconds();
    // The longest value AWS takes, a call to action with three kinds of link first.
    let mut phishing = "URGENT renew at https://evil.example/login or www.evil.example/keep \
                        or mail help@evil.example before your stack is deleted today"
        .to_owned();
    while phishing.chars().count() < 256 {
        phishing.push_str(" = lifeguard");
    }
    let phishing: String = phishing.chars().take(256).collect();
    // Letters of another script are tag characters too.
    let cyrillic = "7d Ваш стек удалят: войдите на evil.example/вход";
    let stacks = [
        (
            "mail-expires-at",
            vec![(TEMPORARY_TAG, "true"), (OWNER_TAG, ALICE), (EXPIRES_AT_TAG, phishing.as_str())],
        ),
        ("mail-ttl", vec![(TEMPORARY_TAG, "true"), (OWNER_TAG, ALICE), (TTL_TAG, cyrillic)]),
        ("mail-owner", vec![(TEMPORARY_TAG, "true"), (OWNER_TAG, LINK_OWNER), (TTL_TAG, "1d")]),
    ];
    for (name, tags) in &stacks {
        aws.create_stack(name, &template, tags, false).await;
    }
    let (reaper, queue) = reaper(&aws).await;
    let at = t0.plus(Duration::from_hours(48));
    let report = handle(Ok(&reaper), &scheduled_event(at), &reaper_invocation())
        .await
        .unwrap_or_else(|e| panic!("run at {at}: {e}"));
    assert_eq!(decision(&report, "mail-expires-at"), "warn malformed-tag");
    assert_eq!(decision(&report, "mail-ttl"), "warn malformed-tag");
    assert_eq!(decision(&report, "mail-owner"), "warn expired-first-notice");
    // The JSON report keeps every value whole; the mail never does.
    let detail = report.stacks.iter().find(|s| s.name == "mail-expires-at").and_then(|s| s.detail.clone());
    assert!(detail.as_deref().is_some_and(|d| d.contains("https://evil.example/login")), "{detail:?}");

    let sent = published(&aws, &queue);
    let for_whom = |owner: &str| -> Vec<&Published> { sent.iter().filter(|p| p.owner == owner).collect() };
    let (to_alice, digest, to_link_owner) = (for_whom(ALICE), for_whom(DIGEST_OWNER), for_whom(LINK_OWNER));
    assert_eq!((to_alice.len(), digest.len(), to_link_owner.len(), sent.len()), (1, 1, 1, 3), "{:#?}", {
        sent.iter().map(|p| (&p.owner, &p.subject)).collect::<Vec<_>>()
    });
    let (to_alice, digest) = (&to_alice[0].message, &digest[0].message);

    for published in &sent {
        let (subject, message) = (&published.subject, &published.message);
        assert!(
            !subject.is_empty()
                && subject.len() < 100
                && subject.bytes().all(|b| b == b' ' || b.is_ascii_graphic()),
            "a subject SNS takes: {subject:?}"
        );
        assert!(message.len() <= 262_144, "{}", message.len());
        for raw in ["://", "evil.example", "www.evil", &phishing, cyrillic] {
            assert!(!message.contains(raw), "{raw:?} in the message to {}: {message}", published.owner);
        }
        assert!(!message.lines().any(|l| l.starts_with("URGENT")), "{message}");
    }
    // Quoted, cut to 48 characters with the length, then defanged; the same in both.
    let quoted_phishing = "\"URGENT renew at https[:]//evil[.]example/login or ww\"… (256 characters)";
    let quoted_cyrillic = "\"7d Ваш стек удалят: войдите на evil[.]example/вход\"";
    for message in [to_alice, digest] {
        assert!(message.contains(quoted_phishing), "{message}");
        assert!(message.contains(quoted_cyrillic), "non-ASCII letters are kept: {message}");
    }
    // A line of the notice and a row of the digest stay short, however long the value.
    let longest = |message: &str| message.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(longest(to_alice) < 400, "{to_alice}");
    assert!(longest(digest) < 400, "{digest}");
    let row = digest.lines().find(|l| l.starts_with("mail-owner |")).unwrap_or_else(|| panic!("{digest}"));
    assert!(row.contains(" | https[:]//evil[.]example/login@example[.]com | "), "{row}");
    assert!(to_alice.contains("lifeguard never asks you to follow a link."), "{to_alice}");
}
