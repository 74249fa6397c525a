//! What the reaper tells people: one notice per owner about their warned and deleted stacks, and
//! the operators' digest of the whole run. Both stay under SNS's message size.

use crate::config::Mode;
use crate::plan::{Action, Decision, ReasonCode};
use crate::report::{DeletionOutcome, RunReport, StackReport};
use lifeguard_common::time::Timestamp;
use std::fmt::Write as _;

/// SNS takes messages up to 256 KiB; notices and the digest stop listing before that.
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
    (subject, text)
}

/// One line for a person about a decision.
fn explain(decision: &Decision, deletion: Option<&DeletionOutcome>) -> String {
    let detail = decision.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
    match (decision.reason, deletion) {
        (ReasonCode::Delete, Some(DeletionOutcome::Requested)) => {
            format!("deletion started (CloudFormation is deleting it){detail}")
        }
        (ReasonCode::Delete, Some(DeletionOutcome::Aborted { changed })) => {
            format!("due for deletion, not deleted: its {} changed during the run", changed.join(", "))
        }
        (ReasonCode::Delete, Some(DeletionOutcome::Failed { error })) => {
            format!("due for deletion, but the deletion failed and will be retried: {error}")
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
        let _ = writeln!(text, "Problem: {problem}");
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
            entry.problems.first().map(|p| format!(" - {p}")).unwrap_or_default(),
        );
    }
    (subject, text)
}
