//! The run's report: what happened to each stack (its decision, mark, deletion and problems),
//! the counts, and how the report is built while the plan is carried out. It is the Lambda
//! response and the source of the operators' digest.

use crate::config::Mode;
use crate::plan::{Action, Mark, MarkChange, Plan, ReasonCode, StackInfo};
use lifeguard_common::time::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// What happened to a stack planned for deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum DeletionOutcome {
    /// CloudFormation took the `DeleteStack`; the stack is being deleted.
    Requested,
    /// Not deleted: the stack changed since the listing.
    Aborted {
        /// What changed, e.g. `tags`, `status`.
        changed: Vec<&'static str>,
    },
    /// Not deleted: the stack no longer exists.
    Gone,
    /// Not deleted: a call failed; the next run tries again.
    Failed {
        /// The error, naming the operation.
        error: String,
    },
}

/// What happened to a stack's mark this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarkResult {
    /// Written (a first or final notice, or a cycle ended).
    Written,
    /// Planned but not written: the owner's notice did not go out, or the write failed.
    NotWritten,
    /// Removed.
    Cleared,
    /// Planned for removal, but the removal failed.
    NotCleared,
    /// Left as it was.
    Kept,
}

/// The mark as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkReport {
    /// What happened to it this run.
    pub change: MarkResult,
    /// First notice of the current cycle (none when the mark is dormant).
    pub first_notice: Option<Timestamp>,
    /// Earliest deletion (none when the mark is dormant).
    pub delete_after: Option<Timestamp>,
    /// Notices sent in this cycle (0: dormant).
    pub notices: Option<u32>,
    /// Times the owner moved the expiry while marked.
    pub times_snoozed: Option<u32>,
}

/// One stack in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackReport {
    /// Stack name.
    pub name: String,
    /// CloudFormation status at listing.
    pub status: String,
    /// Creation time, when CloudFormation gave one.
    pub created: Option<Timestamp>,
    /// `keep`, `warn`, `delete` or `skip`.
    pub decision: Action,
    /// Stable reason code.
    pub reason: ReasonCode,
    /// Specifics, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Owner's address.
    pub owner: Option<String>,
    /// Expiry, when the tags could be read.
    pub expiry: Option<Timestamp>,
    /// The mark, when there is or was one.
    pub mark: Option<MarkReport>,
    /// What happened to a planned deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion: Option<DeletionOutcome>,
    /// Calls about this stack that failed without stopping the run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// Counts over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Stacks listed.
    pub stacks: usize,
    /// Stacks opted in with `lifeguard:temporary=true`.
    pub temporary: usize,
    /// Decisions per action.
    pub keep: usize,
    /// Decisions per action.
    pub warn: usize,
    /// Decisions per action.
    pub delete: usize,
    /// Decisions per action.
    pub skip: usize,
    /// Deletions CloudFormation took.
    pub deletions_requested: usize,
    /// Decisions per reason code.
    pub reasons: BTreeMap<ReasonCode, usize>,
    /// Owners sent a notice.
    pub owners_notified: usize,
    /// Marks written.
    pub marks_written: usize,
    /// Marks removed.
    pub marks_cleared: usize,
}

/// The run's JSON report (the Lambda response).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// `report` or `enforce`.
    pub mode: Mode,
    /// Whether the kill switch was on (then nothing was read or changed).
    pub disabled: bool,
    /// The run's instant: the event's `time`, or the clock.
    pub now: Timestamp,
    /// Counts.
    pub counts: Counts,
    /// Whether the per-run deletion cap held back a deletion.
    pub deletion_cap_reached: bool,
    /// Whether the operators' digest went out.
    pub digest_sent: bool,
    /// Every stack except those not opted in (counted only), in listing order.
    pub stacks: Vec<StackReport>,
    /// Failures that did not stop the run and belong to no one stack.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl RunReport {
    /// The report of a run the kill switch stopped: nothing read or changed.
    pub(crate) fn disabled(mode: Mode, now: Timestamp) -> Self {
        Self {
            mode,
            disabled: true,
            now,
            counts: Counts::default(),
            deletion_cap_reached: false,
            digest_sent: false,
            stacks: Vec::new(),
            problems: Vec::new(),
        }
    }
}

/// The report being built while the plan is carried out.
pub(crate) struct Progress {
    /// One report per listed stack, in listing order.
    pub(crate) stacks: Vec<StackReport>,
    /// Listing index by stack id.
    pub(crate) index_of_id: HashMap<String, usize>,
    /// Marks cleared of stacks no longer listed.
    pub(crate) orphan_marks_cleared: usize,
    /// Failures that belong to no one stack.
    pub(crate) problems: Vec<String>,
}

impl Progress {
    /// Every stack as planned, each mark `kept` until the run changes it.
    pub(crate) fn new(stacks: &[StackInfo], marks: &[Mark], plan: &Plan) -> Self {
        let marks: HashMap<&str, &Mark> = marks.iter().map(|m| (m.stack_id.as_str(), m)).collect();
        let reports = stacks
            .iter()
            .zip(&plan.decisions)
            .map(|(stack, decision)| {
                let mark = match &decision.mark {
                    MarkChange::Write(mark) => Some(mark),
                    _ => marks.get(stack.id.as_str()).copied(),
                };
                StackReport {
                    name: stack.name.clone(),
                    status: stack.status.clone(),
                    created: stack.created,
                    decision: decision.action,
                    reason: decision.reason,
                    detail: decision.detail.clone(),
                    owner: decision.owner.clone(),
                    expiry: decision.expiry,
                    mark: mark.map(|m| MarkReport {
                        change: MarkResult::Kept,
                        first_notice: (m.notices > 0).then_some(m.first_notice),
                        delete_after: (m.notices > 0).then_some(m.delete_after),
                        notices: Some(m.notices),
                        times_snoozed: Some(m.times_snoozed),
                    }),
                    deletion: None,
                    problems: Vec::new(),
                }
            })
            .collect();
        let index_of_id = stacks.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        Self { stacks: reports, index_of_id, orphan_marks_cleared: 0, problems: Vec::new() }
    }

    /// Records a failed notice on each of the owner's stacks.
    pub(crate) fn problem_for_owner(&mut self, plan: &Plan, owner: &str, problem: &str) {
        for (i, decision) in plan.decisions.iter().enumerate() {
            if decision.owner.as_deref() == Some(owner)
                && matches!(decision.action, Action::Warn | Action::Delete)
            {
                self.stacks[i].problems.push(format!("owner not notified: {problem}"));
            }
        }
    }

    /// The finished report; stacks not opted in are only counted.
    pub(crate) fn into_report(
        self,
        mode: Mode,
        now: Timestamp,
        stacks: &[StackInfo],
        plan: &Plan,
        owners_notified: usize,
    ) -> RunReport {
        let mut counts = Counts {
            stacks: stacks.len(),
            reasons: plan.reason_counts(),
            owners_notified,
            marks_cleared: self.orphan_marks_cleared,
            ..Counts::default()
        };
        for report in &self.stacks {
            match report.decision {
                Action::Keep => counts.keep += 1,
                Action::Warn => counts.warn += 1,
                Action::Delete => counts.delete += 1,
                Action::Skip => counts.skip += 1,
            }
            counts.temporary += usize::from(report.reason != ReasonCode::NotOptedIn);
            counts.deletions_requested += usize::from(report.deletion == Some(DeletionOutcome::Requested));
            match report.mark.as_ref().map(|m| m.change) {
                Some(MarkResult::Written) => counts.marks_written += 1,
                Some(MarkResult::Cleared) => counts.marks_cleared += 1,
                _ => {}
            }
        }
        RunReport {
            mode,
            disabled: false,
            now,
            counts,
            deletion_cap_reached: plan.deletion_cap_reached,
            digest_sent: false,
            stacks: self.stacks.into_iter().filter(|s| s.reason != ReasonCode::NotOptedIn).collect(),
            problems: self.problems,
        }
    }
}

impl StackReport {
    /// Records what happened to the mark, adding the mark when the stack had none.
    pub(crate) fn set_mark_change(&mut self, change: MarkResult) {
        match &mut self.mark {
            Some(mark) => mark.change = change,
            None => {
                self.mark = Some(MarkReport {
                    change,
                    first_notice: None,
                    delete_after: None,
                    notices: None,
                    times_snoozed: None,
                });
            }
        }
    }
}
