//! What the reaper tells people: one notice per owner about their warned and deleted stacks, and
//! the operators' digest of the whole run.
//!
//! Mail must not carry what a stack's tags or an error say as if the reaper said it: every
//! detail, error and problem goes through [`mail_text`] (control characters and line breaks
//! become spaces, so a value cannot start a line of its own; `://` becomes `[:]//`, so no link
//! is clickable; cut to [`MAX_DETAIL_CHARS`] characters), and tag values are already quoted and
//! cut where they enter a detail ([`crate::tags::TagError`]). Every message is then cut to
//! SNS's limits once built ([`for_sns`]): the text to [`MAX_SNS_MESSAGE_BYTES`] at a character
//! boundary, the subject to 100 printable ASCII characters.

use crate::config::Mode;
use crate::plan::{Action, Decision, ReasonCode};
use crate::report::{DeletionOutcome, RunReport, StackReport};
use lifeguard_common::time::Timestamp;
use std::fmt::Write as _;

/// SNS takes messages up to 256 KiB; notices and the digest stop listing before that.
const MAX_MESSAGE_BYTES: usize = 240 * 1024;
/// The most a published message may hold: SNS's 256 KiB, less room for the subject and the
/// message attributes, which count towards it.
pub const MAX_SNS_MESSAGE_BYTES: usize = 256 * 1024 - 1024;
/// SNS's longest subject, in (printable ASCII) characters.
const MAX_SNS_SUBJECT_CHARS: usize = 100;
/// The longest detail, error or problem a message quotes, in characters.
pub const MAX_DETAIL_CHARS: usize = 300;
/// Closes a message cut to SNS's limit.
const CUT_NOTE: &str =
    "\n[message cut here: longer than SNS takes; the function's JSON report has everything]\n";

/// `text` as mail may show it: control characters (line breaks included) as spaces, `://` as
/// `[:]//`, and at most [`MAX_DETAIL_CHARS`] characters (then `…`).
pub fn mail_text(text: &str) -> String {
    let plain: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let defanged = plain.replace("://", "[:]//");
    if defanged.chars().count() <= MAX_DETAIL_CHARS {
        return defanged;
    }
    let mut cut: String = defanged.chars().take(MAX_DETAIL_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The subject and text cut to what SNS takes: the subject to 100 printable ASCII characters
/// (anything else becomes `?`), the text to [`MAX_SNS_MESSAGE_BYTES`] at a character boundary,
/// ending with a note that it was cut.
pub fn for_sns(subject: &str, text: String) -> (String, String) {
    let subject: String = subject
        .chars()
        .map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' })
        .take(MAX_SNS_SUBJECT_CHARS)
        .collect();
    if text.len() <= MAX_SNS_MESSAGE_BYTES {
        return (subject, text);
    }
    let mut end = MAX_SNS_MESSAGE_BYTES - CUT_NOTE.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = text;
    cut.truncate(end);
    cut.push_str(CUT_NOTE);
    (subject, cut)
}
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
    let subject = format!(
        "lifeguard: {count} temporary stack{plural} of yours need{} attention",
        if count == 1 { "s" } else { "" }
    );
    let mut text = format!("lifeguard's stale-environment reaper ran at {now} ({} mode).\n", mode.as_str());
    if mode == Mode::Report {
        text.push_str(
            "It runs in report mode: it deletes nothing; the dates below are what enforce mode would do.\n",
        );
    }
    for (shown, (decision, deletion)) in entries.iter().enumerate() {
        if text.len() > MAX_MESSAGE_BYTES {
            let _ = write!(text, "\n... and {} more stacks (see the digest)", count - shown);
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
         its other tags). To delete it now: sam delete --stack-name <name>.\n",
    );
    for_sns(&subject, text)
}

/// One line for a person about a decision.
fn explain(decision: &Decision, deletion: Option<&DeletionOutcome>) -> String {
    let detail = decision.detail.as_deref().map(|d| format!(" ({})", mail_text(d))).unwrap_or_default();
    match (decision.reason, deletion) {
        (ReasonCode::Delete, Some(DeletionOutcome::Requested)) => {
            format!("deletion started (CloudFormation is deleting it){detail}")
        }
        (ReasonCode::Delete, Some(DeletionOutcome::Aborted { changed })) => {
            format!(
                "due for deletion, not deleted: its {} changed during the run",
                mail_text(&changed.join(", "))
            )
        }
        (ReasonCode::Delete, Some(DeletionOutcome::Failed { error })) => {
            format!("due for deletion, but the deletion failed and will be retried: {}", mail_text(error))
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
    let subject = format!(
        "lifeguard digest: {} temporary stacks, {} warned, {} deletions started ({} mode)",
        counts.temporary,
        counts.warn,
        counts.deletions_requested,
        report.mode.as_str()
    );
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
        let _ = writeln!(text, "Problem: {}", mail_text(problem));
    }
    text.push_str("\nstack | status | age | owner | expiry | times snoozed | decision (reason)\n");
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
            "{} | {} | {} | {} | {} | {} | {} ({}){}",
            entry.name,
            entry.status,
            age,
            entry.owner.as_deref().unwrap_or("-"),
            entry.expiry.map_or_else(|| "-".to_owned(), |e| e.to_string()),
            entry.mark.as_ref().and_then(|m| m.times_snoozed).unwrap_or(0),
            entry.decision.as_str(),
            entry.reason,
            entry.problems.first().map(|p| format!(" - {}", mail_text(p))).unwrap_or_default(),
        );
    }
    for_sns(&subject, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_shows_no_line_breaks_no_links_and_no_endless_text() {
        let hostile = "expires soon\r\nURGENT: log in at https://evil.example/login\u{7}";
        assert_eq!(mail_text(hostile), "expires soon  URGENT: log in at https[:]//evil.example/login ");
        let long = "é".repeat(MAX_DETAIL_CHARS + 50);
        let cut = mail_text(&long);
        assert_eq!(cut.chars().count(), MAX_DETAIL_CHARS);
        assert!(cut.ends_with("é…"), "{cut}");
    }

    #[test]
    fn messages_are_cut_to_what_sns_takes_at_a_character_boundary() {
        // Four-byte characters, so the cut falls inside one unless it is moved back.
        let text = "🦀".repeat(MAX_SNS_MESSAGE_BYTES / 4 + 10) + "x";
        let (subject, cut) = for_sns("lifeguard digest: 3 stacks\n(enforce) — ünïcode", text);
        assert!(cut.len() <= MAX_SNS_MESSAGE_BYTES, "{}", cut.len());
        assert!(cut.ends_with(CUT_NOTE), "the cut says so");
        assert!(cut.trim_end_matches(CUT_NOTE).chars().all(|c| c == '🦀'));
        assert_eq!(subject, "lifeguard digest: 3 stacks?(enforce) ? ?n?code");
        let (long_subject, short) = for_sns(&"s".repeat(300), "short".into());
        assert_eq!((long_subject.len(), short.as_str()), (MAX_SNS_SUBJECT_CHARS, "short"));
    }

    #[test]
    fn a_digest_of_many_long_problems_stays_within_sns() {
        use crate::fixtures::{NOW, stack};
        use crate::plan::plan;
        let stacks: Vec<_> = (0..40_000).map(|i| stack(&format!("pr-{i}"), 20)).collect();
        let plan = plan(&stacks, &[], &crate::ReaperConfig::default(), NOW, 0);
        let mut report = crate::report::Progress::new(&stacks, &[], &plan).into_report(
            Mode::Report,
            NOW,
            &stacks,
            &plan,
            0,
        );
        report.problems = (0..1_000).map(|i| format!("problem {i}: {}", "ü".repeat(500))).collect();
        let (_, text) = digest(&report);
        assert!(text.len() <= MAX_SNS_MESSAGE_BYTES, "{}", text.len());
        assert!(
            text.lines()
                .filter(|l| l.starts_with("Problem: "))
                .all(|l| l.chars().count() <= MAX_DETAIL_CHARS + 10)
        );
    }
}
