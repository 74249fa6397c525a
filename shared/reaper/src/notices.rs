//! What the reaper tells people: one notice per owner about their warned and deleted stacks, and
//! the operators' digest of the whole run.
//!
//! Mail must not carry what a stack's tags, a template or an error say as if the reaper said it.
//! The reaper's own words are built from validated data only: stack names (CloudFormation allows
//! letters, digits and hyphens), statuses, reason codes, times, counts, and owner addresses that
//! are plain. Everything else (every decision's detail, every deletion error, every problem, an
//! owner address that is not plain) goes through the one escaping function,
//! [`mail_text::foreign`]: control characters, line breaks and invisible characters as escapes
//! (`\n`, `\u{202e}`), so a value cannot start a line of its own; links defanged (`https[:]//`,
//! `evil[.]example`), so none is clickable; at most [`mail_text::MAX_FOREIGN_CHARS`] characters,
//! then `…`. [`mail_text`] gives the rule and why. Tag values are also quoted with escapes and
//! cut to 48 characters where they enter a detail ([`crate::tags::TagError`]).
//!
//! Long lists stop early with "... and N more"; then every message is cut to what SNS takes
//! once built ([`mail_text::within_sns_size`]: at most 256 KiB, less room for the subject and
//! the attribute, cut at a character boundary and closed by a line saying so), and every
//! subject is made one SNS takes ([`mail_text::sns_subject`]: printable ASCII, under 100
//! characters), whatever went into it.

use crate::config::Mode;
use crate::plan::{Action, Decision, ReasonCode};
use crate::report::{DeletionOutcome, RunReport, StackReport};
use lifeguard_common::mail_text::{self, foreign, sns_subject, within_sns_size};
use lifeguard_common::time::Timestamp;
use std::fmt::Write as _;

/// Where notices and the digest stop listing: well before [`mail_text::MAX_SNS_MESSAGE_BYTES`],
/// so that the final cut is a guarantee, not the rule.
const MAX_MESSAGE_BYTES: usize = 240 * 1024;
/// Names of stacks without an owner, and run problems, listed at most in the digest's head.
const MAX_DIGEST_HEAD_ITEMS: usize = 200;

/// The subject and text of one owner's notice.
pub(crate) fn owner_notice(
    mode: Mode,
    now: Timestamp,
    entries: &[(&Decision, Option<&DeletionOutcome>)],
) -> (String, String) {
    let count = entries.len();
    let plural = if count == 1 { "" } else { "s" };
    let subject = sns_subject(&format!(
        "lifeguard: {count} temporary stack{plural} of yours need{} attention",
        if count == 1 { "s" } else { "" }
    ));
    let mut text = format!("lifeguard's stale-environment reaper ran at {now} ({} mode).\n", mode.as_str());
    if mode == Mode::Report {
        text.push_str(
            "It runs in report mode: it deletes nothing; the dates below are what enforce mode would do.\n",
        );
    }
    for (shown, (decision, deletion)) in entries.iter().enumerate() {
        if text.len() > MAX_MESSAGE_BYTES {
            let _ = write!(
                text,
                "\n... and {} more stacks, not listed: the notice would outgrow SNS",
                count - shown
            );
            break;
        }
        let _ = write!(text, "\n- {}: {}", decision.stack_name, explain(decision, *deletion));
        if let Some(expiry) = decision.expiry {
            let _ = write!(text, "\n  expiry: {expiry}");
        }
        if let Some(after) = decision.delete_after {
            let _ = write!(text, "\n  deletion not before: {after}");
        }
        let _ = write!(text, "\n  reason code: {}", decision.reason);
    }
    text.push_str(
        "\n\nTo keep a stack longer, redeploy it with a later lifeguard:expires-at tag \
         (RFC 3339 UTC, e.g. sam deploy ... --tags lifeguard:expires-at=2030-01-31T00:00:00Z plus \
         its other tags). To delete it now: sam delete --stack-name <name>.\n\
         \n\
         Text in parentheses is what a stack's tags or AWS said, not lifeguard: shown on one line, \
         shortened, with links broken ([:], [.]). lifeguard never asks you to follow a link.\n",
    );
    (subject, within_sns_size(text))
}

/// One line for a person about a decision.
fn explain(decision: &Decision, deletion: Option<&DeletionOutcome>) -> String {
    let detail = decision.detail.as_deref().map(|d| format!(" ({})", foreign(d))).unwrap_or_default();
    match (decision.reason, deletion) {
        (ReasonCode::Delete, Some(DeletionOutcome::Requested)) => {
            format!("deletion started (CloudFormation is deleting it){detail}")
        }
        (ReasonCode::Delete, Some(DeletionOutcome::Aborted { changed })) => {
            format!(
                "due for deletion, not deleted: its {} changed during the run",
                foreign(&changed.join(", "))
            )
        }
        (ReasonCode::Delete, Some(DeletionOutcome::Failed { error })) => {
            format!("due for deletion, but the deletion failed and will be retried ({})", foreign(error))
        }
        (ReasonCode::Delete, _) => "due for deletion".to_owned(),
        (ReasonCode::ExpiredFirstNotice, _) => format!("expired; first notice{detail}"),
        (ReasonCode::FinalNotice, _) => "expired; final notice before deletion".to_owned(),
        (ReasonCode::ModeReport, _) => "would be deleted now in enforce mode".to_owned(),
        (ReasonCode::DeletionCapReached, _) => format!("due for deletion in a later run{detail}"),
        (ReasonCode::MalformedTag, _) => {
            format!("a lifeguard tag cannot be read, so it is never deleted{detail}")
        }
        (ReasonCode::BeyondMaxLifetime, _) => format!("asks to live beyond the maximum lifetime{detail}"),
        (ReasonCode::FailedStatus, _) => {
            format!("expired, in a failed or rollback status; needs a person{detail}")
        }
        (ReasonCode::TerminationProtected, _) => format!("expired, but protected{detail}"),
        (ReasonCode::ExportsInUse, _) => format!("expired, but still needed{detail}"),
        (reason, _) => format!("{reason}{detail}"),
    }
}

/// The operators' digest: every temporary stack, then the ones without a usable owner.
pub(crate) fn digest(report: &RunReport) -> (String, String) {
    let counts = &report.counts;
    let subject = sns_subject(&format!(
        "lifeguard digest: {} temporary stacks, {} warned, {} deletions started ({} mode)",
        counts.temporary,
        counts.warn,
        counts.deletions_requested,
        report.mode.as_str()
    ));
    let mut text = format!(
        "lifeguard's stale-environment reaper ran at {} ({} mode): {} stacks listed, {} temporary.\n",
        report.now,
        report.mode.as_str(),
        counts.stacks,
        counts.temporary
    );
    if report.deletion_cap_reached {
        text.push_str("The per-run deletion cap (REAPER_MAX_DELETIONS) held back deletions.\n");
    }
    let ownerless: Vec<&str> = report
        .stacks
        .iter()
        .filter(|s| s.owner.is_none() && matches!(s.decision, Action::Warn | Action::Delete))
        .map(|s| s.name.as_str())
        .collect();
    if !ownerless.is_empty() {
        let shown = &ownerless[..ownerless.len().min(MAX_DIGEST_HEAD_ITEMS)];
        let more = ownerless.len() - shown.len();
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        let _ = write!(
            text,
            "\nWithout a usable lifeguard:owner (nobody else was told): {}{more}\n",
            shown.join(", ")
        );
    }
    for problem in report.problems.iter().take(MAX_DIGEST_HEAD_ITEMS) {
        let _ = writeln!(text, "Problem: {}", foreign(problem));
    }
    if let Some(more) = report.problems.len().checked_sub(MAX_DIGEST_HEAD_ITEMS).filter(|&n| n > 0) {
        let _ = writeln!(text, "... and {more} more problems (see the function's JSON report)");
    }
    text.push_str(
        "\nstack | status | age | owner | expiry | times snoozed | decision (reason): detail - first problem\n",
    );
    let mut entries: Vec<&StackReport> = report.stacks.iter().collect();
    entries.sort_by_key(|s| (s.decision == Action::Keep || s.decision == Action::Skip, s.created));
    for (shown, entry) in entries.iter().enumerate() {
        if text.len() > MAX_MESSAGE_BYTES {
            let _ = writeln!(text, "... and {} more (see the function's JSON report)", entries.len() - shown);
            break;
        }
        let age = entry.created.map_or_else(
            || "-".to_owned(),
            |created| format!("{}d", (report.now.unix_seconds() - created.unix_seconds()).max(0) / 86_400),
        );
        let _ = writeln!(
            text,
            "{} | {} | {} | {} | {} | {} | {} ({}){}{}",
            entry.name,
            entry.status,
            age,
            entry.owner.as_deref().map_or("-".into(), mail_text::owner),
            entry.expiry.map_or_else(|| "-".to_owned(), |e| e.to_string()),
            entry.mark.as_ref().and_then(|m| m.times_snoozed).unwrap_or(0),
            entry.decision.as_str(),
            entry.reason,
            entry.detail.as_deref().map(|d| format!(": {}", foreign(d))).unwrap_or_default(),
            entry.problems.first().map(|p| format!(" - {}", foreign(p))).unwrap_or_default(),
        );
    }
    (subject, within_sns_size(text))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ReaperConfig;
    use crate::fixtures::{NOW, stack};
    use crate::plan::{Circumstances, StackInfo, plan};
    use crate::report::Progress;
    use crate::tags::{EXPIRES_AT_TAG, OWNER_TAG, TTL_TAG};
    use lifeguard_common::mail_text::{
        CUT_NOTE, MAX_FOREIGN_CHARS, MAX_SNS_MESSAGE_BYTES, MAX_SNS_SUBJECT_CHARS,
    };

    /// The report of a report-mode run over `stacks`, as the digest gets it.
    fn report_of(stacks: &[StackInfo]) -> (crate::plan::Plan, RunReport) {
        let plan = plan(stacks, &[], &ReaperConfig::default(), NOW, &Circumstances::default());
        let report = Progress::new(stacks, &[], &plan).into_report(Mode::Report, NOW, stacks, &plan, 0);
        (plan, report)
    }

    fn tagged(name: &str, tag: &str, value: &str) -> StackInfo {
        let mut stack = stack(name, 20);
        stack.tags.insert(tag.to_owned(), value.to_owned());
        stack
    }

    /// Whether `subject` is one SNS takes: under 100 printable ASCII characters, not blank first.
    fn sns_takes(subject: &str) -> bool {
        subject.len() <= MAX_SNS_SUBJECT_CHARS
            && subject.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
            && subject.starts_with(|c: char| c.is_ascii_graphic())
    }

    #[test]
    fn a_hostile_tag_value_reaches_the_notice_and_the_digest_only_escaped_and_cut() {
        let hostile = format!(
            "2026-01-01\nURGENT: click https://evil.example/login to keep your stack\u{202e}{}",
            "é".repeat(300)
        );
        let stacks = [tagged("pr-hostile", EXPIRES_AT_TAG, &hostile)];
        let (plan, report) = report_of(&stacks);
        let decision = &plan.decisions[0];
        assert_eq!(decision.reason, ReasonCode::MalformedTag, "{decision:?}");
        let (subject, notice) = owner_notice(Mode::Report, NOW, &[(decision, None)]);
        let (digest_subject, digest) = digest(&report);
        assert!(sns_takes(&subject) && sns_takes(&digest_subject), "{subject:?} {digest_subject:?}");
        for message in [&notice, &digest] {
            assert!(!message.contains("://") && !message.contains("evil.example"), "no link: {message}");
            assert!(!message.lines().any(|l| l.starts_with("URGENT")), "no line of its own: {message}");
            assert!(!message.contains('\u{202e}') && !message.contains(&"é".repeat(50)), "{message}");
            assert!(
                message.contains("\"2026-01-01\\nURGENT: click https[:]//evil[.]example/lo\"…"),
                "{message}"
            );
            let line = message.lines().find(|l| l.contains("URGENT")).unwrap();
            assert!(line.chars().count() < 2 * MAX_FOREIGN_CHARS, "cut short: {line}");
        }
        assert!(notice.contains(&format!("… ({} characters)", hostile.chars().count())), "{notice}");
    }

    #[test]
    fn every_problem_and_deletion_error_is_foreign_text() {
        let stacks = [tagged("pr-failed", TTL_TAG, "1d")];
        let (plan, mut report) = report_of(&stacks);
        let due =
            Decision { action: Action::Delete, reason: ReasonCode::Delete, ..plan.decisions[0].clone() };
        let error = "DeleteStack: denied\nPlease re-authenticate at https://evil.example/sso".to_owned();
        let failed = DeletionOutcome::Failed { error: error.clone() };
        let (_, notice) = owner_notice(Mode::Enforce, NOW, &[(&due, Some(&failed))]);
        report.stacks[0].problems.push(error.clone());
        report.problems.push(error);
        let (_, digest) = digest(&report);
        for message in [&notice, &digest] {
            assert!(!message.lines().any(|l| l.starts_with("Please")), "{message}");
            assert!(
                message.contains("denied\\nPlease re-authenticate at https[:]//evil[.]example/sso"),
                "{message}"
            );
        }
    }

    #[test]
    fn an_owner_address_that_is_not_plain_is_foreign_text_in_the_digest() {
        let stacks = [tagged("pr-owner", OWNER_TAG, "https://evil.example/login@example.com")];
        let (_, report) = report_of(&stacks);
        assert_eq!(report.stacks[0].owner.as_deref(), Some("https://evil.example/login@example.com"));
        let (_, digest) = digest(&report);
        assert!(!digest.contains("://"), "{digest}");
        assert!(digest.contains(" | https[:]//evil[.]example/login@example[.]com | "), "{digest}");
    }

    #[test]
    fn a_digest_of_tens_of_thousands_of_stacks_with_long_details_stays_within_sns() {
        // Every stack malformed with a 256-character value of multibyte characters and a URL, every
        // stack with a long problem, and a thousand long run problems.
        let value = format!("https://evil.example/{}", "🦀é".repeat(117));
        assert_eq!(value.chars().count(), 255);
        let count = 40_000;
        let stacks: Vec<StackInfo> =
            (0..count).map(|i| tagged(&format!("pr-{i}-{}", "n".repeat(100)), TTL_TAG, &value)).collect();
        let (_, mut report) = report_of(&stacks);
        for stack in &mut report.stacks {
            stack.problems.push(format!("mark not written: {}", "ü\n".repeat(400)));
        }
        report.problems = (0..1_000).map(|i| format!("problem {i}: {}", "ö".repeat(500))).collect();
        let (subject, text) = digest(&report);
        assert!(sns_takes(&subject), "{subject:?}");
        assert!(text.len() <= MAX_SNS_MESSAGE_BYTES && text.len() <= 262_144, "{}", text.len());
        assert!(std::str::from_utf8(text.as_bytes()).is_ok());
        assert!(!text.contains("://") && !text.contains(&"🦀é".repeat(30)), "no link, no whole value");
        for line in text.lines() {
            assert!(line.chars().count() < 128 + 3 * MAX_FOREIGN_CHARS, "{line}");
        }
        let rows = text.lines().filter(|l| l.starts_with("pr-")).count();
        let last = text.lines().last().unwrap();
        assert_eq!(
            last,
            format!("... and {} more (see the function's JSON report)", count - rows),
            "cut, and says so"
        );
        assert!(text.contains("... and 800 more problems"), "the head says how many problems it left out");
    }

    #[test]
    fn an_owner_notice_of_thousands_of_stacks_stays_within_sns() {
        let value = "🦀".repeat(255);
        let stacks: Vec<StackInfo> = (0..20_000)
            .map(|i| tagged(&format!("pr-{i}-{}", "n".repeat(100)), EXPIRES_AT_TAG, &value))
            .collect();
        let (plan, _) = report_of(&stacks);
        let entries: Vec<(&Decision, Option<&DeletionOutcome>)> =
            plan.decisions.iter().map(|d| (d, None)).collect();
        let (subject, text) = owner_notice(Mode::Report, NOW, &entries);
        assert!(sns_takes(&subject), "{subject:?}");
        assert!(text.len() <= MAX_SNS_MESSAGE_BYTES, "{}", text.len());
        assert!(text.contains(" more stacks, not listed: the notice would outgrow SNS"), "stops early");
        assert!(!text.ends_with(CUT_NOTE), "the early stop leaves room for the closing lines");
        assert!(text.ends_with("lifeguard never asks you to follow a link.\n"));
    }

    #[test]
    fn subjects_are_what_sns_takes_whatever_the_counts() {
        let stacks = [stack("pr-one", 20)];
        let (plan, mut report) = report_of(&stacks);
        report.counts.temporary = usize::MAX;
        report.counts.warn = usize::MAX;
        report.counts.deletions_requested = usize::MAX;
        let (subject, _) = digest(&report);
        assert!(sns_takes(&subject), "{subject:?}");
        assert!(subject.ends_with("..."), "cut, and says so: {subject}");
        let (subject, _) = owner_notice(Mode::Report, NOW, &[(&plan.decisions[0], None)]);
        assert_eq!(subject, "lifeguard: 1 temporary stack of yours needs attention");
    }
}
