//! One reaper run: read the marks and the stacks, plan, carry the plan out, and report.
//!
//! The order keeps every failure on the safe side:
//!
//! 1. The kill switch makes no AWS call at all.
//! 2. Marks, then stacks: either failing stops the run (`RunError`), before any change.
//! 3. Doubts that block an expired stack's deletion (exports not ruled out, termination
//!    protection unknown in the listing) are settled by describing just those stacks, then the
//!    plan is made again. Kept and skipped stacks cost no call beyond the listing.
//! 4. Deletions (enforce mode, within the cap): each stack is described by name again and the
//!    deletion is aborted if anything that mattered changed since the listing. A failed
//!    `DeleteStack` (throttling included, after the SDK's retries) is reported; the mark stays,
//!    so the next run tries again.
//! 5. Marks that can never count toward a deletion (dormant ones, whose cycle ended, and report
//!    mode's) are written first; a stack whose such mark cannot be written is left out of the
//!    notices, so nobody is told "nothing will be deleted" while an enforce-mode mark stands.
//! 6. One notice per owner. A mark that counts (enforce mode, a first or final notice) is then
//!    written only once SNS accepted its owner's notice: a stack counts as warned only when its
//!    notice went out.
//! 7. Marks cleared; in enforce mode (unless `REAPER_TAG_STACKS=false`), the
//!    `lifeguard:delete-after` tag as a courtesy where the stack's status allows an update (a
//!    failure there changes nothing else).
//! 8. The digest for the operators.

use crate::config::{ALLOW_REPLAY_VAR, ConfigError, Mode, ReaperConfig};
use crate::plan::{Action, Decision, Mark, MarkChange, Plan, ReasonCode, SETTLED_STATUSES, StackInfo, plan};
use crate::ports::{MarksStore, Notifier, Stacks};
use futures::{StreamExt, stream};
use lambda_runtime::Diagnostic;
use lifeguard_common::AwsError;
use lifeguard_common::time::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

/// How old a scheduled event may be in enforce mode (EventBridge and Lambda's queue may delay it).
const MAX_EVENT_AGE: std::time::Duration = std::time::Duration::from_secs(6 * 3_600);
/// How far ahead of the clock an event's time may be in enforce mode (clock skew).
const MAX_EVENT_LEAD: std::time::Duration = std::time::Duration::from_secs(300);
/// Calls of one kind (describes, notices, mark writes, tags) in flight at once.
const IN_FLIGHT: usize = 4;
/// SNS takes messages up to 256 KiB; notices and the digest stop listing before that.
const MAX_MESSAGE_BYTES: usize = 240 * 1024;
/// Names of stacks without an owner, and run problems, listed at most in the digest's head.
const MAX_DIGEST_HEAD_ITEMS: usize = 200;

/// What a run needs: the AWS ports and the settings. Marks and notices are optional in report
/// mode (the configuration requires both in enforce mode); without them nothing is marked.
pub struct Reaper<S, M, N> {
    /// CloudFormation.
    pub stacks: S,
    /// The marks table, when configured.
    pub marks: Option<M>,
    /// The notices topic, when configured.
    pub notifier: Option<N>,
    /// The settings.
    pub config: ReaperConfig,
}

/// A run that stopped before changing anything.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The marks could not be read; planning without them would restart every grace period.
    #[error("cannot read the marks, so nothing was changed: {0}")]
    Marks(AwsError),
    /// The stacks could not be listed.
    #[error("cannot list the stacks, so nothing was changed: {0}")]
    Stacks(AwsError),
}

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
    /// Creation time.
    pub created: Timestamp,
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

impl<S: Stacks, M: MarksStore, N: Notifier> Reaper<S, M, N> {
    /// Runs once at `now`.
    pub async fn run(&self, now: Timestamp) -> Result<RunReport, RunError> {
        let config = &self.config;
        if config.disabled {
            tracing::warn!("the kill switch is on: no stack is read or changed");
            return Ok(RunReport {
                mode: config.mode,
                disabled: true,
                now,
                counts: Counts::default(),
                deletion_cap_reached: false,
                digest_sent: false,
                stacks: Vec::new(),
                problems: Vec::new(),
            });
        }
        let marks = match &self.marks {
            Some(store) => store.load().await.map_err(RunError::Marks)?,
            None => Vec::new(),
        };
        let mut stacks = self.stacks.list().await.map_err(RunError::Stacks)?;
        let mut plan = plan(&stacks, &marks, config, now);
        if self.settle_doubts(&mut stacks, &marks, &plan, now).await {
            plan = crate::plan::plan(&stacks, &marks, config, now);
        }
        if plan.deletion_cap_reached {
            let held_back =
                plan.decisions.iter().filter(|d| d.reason == ReasonCode::DeletionCapReached).count();
            tracing::warn!(
                max_deletions = config.max_deletions,
                held_back,
                "the per-run deletion cap held back deletions; later runs will carry them out"
            );
        }
        let mut run = Progress::new(&stacks, &marks, &plan);

        self.delete(&stacks, &plan, &mut run).await;
        let unrecorded = self.write_marks(&plan, WritePhase::BeforeNotices, &HashSet::new(), &mut run).await;
        let notified = self.notify_owners(&plan, &run, now, &unrecorded).await;
        for (owner, result) in &notified {
            if let Err(problem) = result {
                run.problem_for_owner(&plan, owner, problem);
            }
        }
        let sent: HashSet<&str> =
            notified.iter().filter(|(_, r)| r.is_ok()).map(|(owner, _)| owner.as_str()).collect();
        self.write_marks(&plan, WritePhase::AfterNotices, &sent, &mut run).await;
        self.clear_marks(&plan, &mut run).await;
        if config.mode == Mode::Enforce && config.tag_stacks {
            self.tag_marked(&stacks, &plan, &marks, &mut run).await;
        }
        let mut report = run.into_report(config.mode, now, &stacks, &plan, sent.len());
        report.digest_sent = self.send_digest(&report).await.unwrap_or_else(|problem| {
            report.problems.push(problem);
            false
        });
        Ok(report)
    }

    /// Settles the doubts (exports not yet ruled out, termination protection the listing did not
    /// show) that block an expired stack, where they matter: a stack that would be marked or
    /// deleted if the doubt were resolved in its favour is described (and the fresh view of the
    /// same stack taken); for any other, planning as if it were resolved changes nothing but the
    /// reason (it is kept or warned for another reason, with no mark written), so no call is made.
    /// Returns whether any stack changed, so the plan must be made again.
    async fn settle_doubts(
        &self,
        stacks: &mut [StackInfo],
        marks: &[Mark],
        plan: &Plan,
        now: Timestamp,
    ) -> bool {
        let doubtful: Vec<usize> = plan
            .decisions
            .iter()
            .enumerate()
            .filter(|(i, d)| match d.reason {
                ReasonCode::ExportsInUse => !stacks[*i].exports.is_empty(),
                ReasonCode::TerminationProtected => stacks[*i].termination_protection.is_none(),
                _ => false,
            })
            .map(|(i, _)| i)
            .collect();
        if doubtful.is_empty() {
            return false;
        }
        let resolved: Vec<StackInfo> = doubtful
            .iter()
            .map(|&i| StackInfo {
                exports_in_use: false,
                termination_protection: Some(stacks[i].termination_protection.unwrap_or(false)),
                ..stacks[i].clone()
            })
            .collect();
        let hypothetical = crate::plan::plan(&resolved, marks, &self.config, now);
        let mut to_describe = Vec::new();
        for ((&i, assumed), decision) in doubtful.iter().zip(resolved).zip(&hypothetical.decisions) {
            let acts = decision.mark != MarkChange::Unchanged
                || matches!(
                    decision.reason,
                    ReasonCode::Delete | ReasonCode::ModeReport | ReasonCode::DeletionCapReached
                );
            if acts {
                to_describe.push((i, stacks[i].name.clone()));
            } else {
                stacks[i] = assumed;
            }
        }
        let described: Vec<(usize, Result<Option<StackInfo>, AwsError>)> = stream::iter(to_describe)
            .map(|(i, name)| async move { (i, self.stacks.describe(&name).await) })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for (i, result) in described {
            match result {
                Ok(Some(fresh)) if fresh.id == stacks[i].id => stacks[i] = fresh,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(stack = %stacks[i].name, %error, "cannot settle a doubt; the stack stays blocked")
                }
            }
        }
        true
    }

    /// Carries out the planned deletions, one at a time, each after a fresh look at the stack.
    async fn delete(&self, stacks: &[StackInfo], plan: &Plan, run: &mut Progress) {
        for (index, decision) in plan.decisions.iter().enumerate() {
            if decision.action != Action::Delete {
                continue;
            }
            let listed = &stacks[index];
            let outcome = match self.stacks.describe(&listed.name).await {
                Ok(None) => DeletionOutcome::Gone,
                Ok(Some(current)) => match changes(listed, &current) {
                    changed if !changed.is_empty() => DeletionOutcome::Aborted { changed },
                    _ => match self.stacks.delete(&listed.id).await {
                        Ok(()) => DeletionOutcome::Requested,
                        Err(error) => DeletionOutcome::Failed { error: error.to_string() },
                    },
                },
                Err(error) => DeletionOutcome::Failed { error: error.to_string() },
            };
            match &outcome {
                DeletionOutcome::Requested => tracing::info!(stack = %listed.name, "deletion requested"),
                other => tracing::warn!(stack = %listed.name, outcome = ?other, "not deleted"),
            }
            run.stacks[index].deletion = Some(outcome);
        }
    }

    /// Sends each owner one notice about their warned and deleted stacks. Returns, per owner,
    /// whether it went out.
    async fn notify_owners(
        &self,
        plan: &Plan,
        run: &Progress,
        now: Timestamp,
        unrecorded: &HashSet<usize>,
    ) -> Vec<(String, Result<(), String>)> {
        let by_name: HashMap<&str, usize> =
            plan.decisions.iter().enumerate().map(|(i, d)| (d.stack_name.as_str(), i)).collect();
        let notices: Vec<(String, String, String)> = plan
            .owner_notices
            .iter()
            .map(|(owner, names)| {
                let entries: Vec<(&Decision, Option<&DeletionOutcome>)> = names
                    .iter()
                    .filter_map(|name| by_name.get(name.as_str()))
                    .filter(|&&i| !unrecorded.contains(&i))
                    .map(|&i| (&plan.decisions[i], run.stacks[i].deletion.as_ref()))
                    .collect();
                let (subject, message) = owner_notice(plan.mode, now, &entries);
                (owner.clone(), !entries.is_empty(), subject, message)
            })
            .filter(|(_, any, ..)| *any)
            .map(|(owner, _, subject, message)| (owner, subject, message))
            .collect();
        let Some(notifier) = &self.notifier else {
            return notices
                .into_iter()
                .map(|(owner, ..)| (owner, Err("no notice sent: REAPER_TOPIC_ARN is not set".to_owned())))
                .collect();
        };
        stream::iter(notices)
            .map(|(owner, subject, message)| async move {
                let sent = notifier.notify(&owner, &subject, &message).await.map_err(|e| e.to_string());
                (owner, sent)
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await
    }

    /// Writes the planned marks of one phase (see the module docs). Returns the stacks whose mark
    /// could not be written.
    async fn write_marks(
        &self,
        plan: &Plan,
        phase: WritePhase,
        notified: &HashSet<&str>,
        run: &mut Progress,
    ) -> HashSet<usize> {
        let planned: Vec<(usize, &Mark)> = plan
            .decisions
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match &d.mark {
                MarkChange::Write(mark)
                    if counts_toward_deletion(mark) == (phase == WritePhase::AfterNotices) =>
                {
                    Some((i, mark))
                }
                _ => None,
            })
            .collect();
        let Some(store) = &self.marks else {
            for (i, _) in planned {
                run.stacks[i].set_mark_change(MarkResult::NotWritten);
                run.stacks[i].problems.push("mark not written: REAPER_MARKS_TABLE is not set".into());
            }
            return HashSet::new();
        };
        let mut writable = Vec::new();
        for (i, mark) in planned {
            let told = plan.decisions[i].owner.as_deref().is_some_and(|owner| notified.contains(owner));
            if phase == WritePhase::BeforeNotices || told {
                writable.push((i, mark));
            } else {
                run.stacks[i].set_mark_change(MarkResult::NotWritten);
                run.stacks[i].problems.push("mark not written: the owner's notice did not go out".into());
            }
        }
        let written: Vec<(usize, Result<(), AwsError>)> = stream::iter(writable)
            .map(|(i, mark)| async move { (i, store.write(mark).await) })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let mut failed = HashSet::new();
        for (i, result) in written {
            match result {
                Ok(()) => run.stacks[i].set_mark_change(MarkResult::Written),
                Err(error) => {
                    run.stacks[i].set_mark_change(MarkResult::NotWritten);
                    let unsent =
                        if phase == WritePhase::BeforeNotices { "; no notice sent about it" } else { "" };
                    run.stacks[i].problems.push(format!("mark not written: {error}{unsent}"));
                    failed.insert(i);
                }
            }
        }
        failed
    }

    /// Removes the marks the plan clears, including those of stacks no longer listed.
    async fn clear_marks(&self, plan: &Plan, run: &mut Progress) {
        let Some(store) = &self.marks else { return };
        let cleared: Vec<(&str, Result<(), AwsError>)> = stream::iter(&plan.marks_to_clear)
            .map(|id| async move { (id.as_str(), store.clear(id).await) })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for (id, result) in cleared {
            let change = if result.is_ok() { MarkResult::Cleared } else { MarkResult::NotCleared };
            let problem = result.err().map(|e| format!("mark of {id} not cleared: {e}"));
            match run.index_of_id.get(id) {
                Some(&i) => {
                    run.stacks[i].set_mark_change(change);
                    run.stacks[i].problems.extend(problem);
                }
                None => {
                    run.orphan_marks_cleared += usize::from(change == MarkResult::Cleared);
                    run.problems.extend(problem);
                }
            }
        }
    }

    /// Tags `lifeguard:delete-after` on stacks whose mark got a new date, where their status
    /// allows an update. For people only; a failure is reported and changes nothing else.
    async fn tag_marked(&self, stacks: &[StackInfo], plan: &Plan, old: &[Mark], run: &mut Progress) {
        let previous: HashMap<&str, Timestamp> =
            old.iter().map(|m| (m.stack_id.as_str(), m.delete_after)).collect();
        let to_tag: Vec<(usize, Timestamp)> = plan
            .decisions
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match &d.mark {
                MarkChange::Write(mark)
                    if mark.notices > 0
                        && run.stacks[i].mark.as_ref().is_some_and(|m| m.change == MarkResult::Written)
                        && previous.get(mark.stack_id.as_str()) != Some(&mark.delete_after)
                        && SETTLED_STATUSES.contains(&stacks[i].status.as_str()) =>
                {
                    Some((i, mark.delete_after))
                }
                _ => None,
            })
            .collect();
        let tagged: Vec<(usize, Result<(), AwsError>)> = stream::iter(to_tag)
            .map(|(i, at)| async move { (i, self.stacks.tag_delete_after(&stacks[i], at).await) })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for (i, result) in tagged {
            if let Err(error) = result {
                run.stacks[i].problems.push(format!("lifeguard:delete-after tag not set: {error}"));
            }
        }
    }

    /// Sends the operators' digest, when there is a topic.
    async fn send_digest(&self, report: &RunReport) -> Result<bool, String> {
        let Some(notifier) = &self.notifier else { return Ok(false) };
        let (subject, message) = digest(report);
        notifier.digest(&subject, &message).await.map(|()| true).map_err(|e| format!("digest not sent: {e}"))
    }
}

/// When a mark is written relative to the owners' notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WritePhase {
    /// Marks that can never count toward a deletion.
    BeforeNotices,
    /// Marks that count, each once its owner's notice went out.
    AfterNotices,
}

/// Whether a mark can lead to a deletion: an enforce-mode notice cycle with a notice sent.
fn counts_toward_deletion(mark: &Mark) -> bool {
    mark.notices > 0 && mark.mode == Mode::Enforce
}

/// What changed between the listing and the fresh look, among what the rules read.
fn changes(listed: &StackInfo, current: &StackInfo) -> Vec<&'static str> {
    [
        ("stack id", listed.id != current.id),
        ("status", listed.status != current.status),
        ("tags", listed.tags != current.tags),
        ("termination protection", listed.termination_protection != current.termination_protection),
        ("last update", listed.last_updated != current.last_updated),
        ("parent", listed.parent_id != current.parent_id),
        ("exports in use", listed.exports_in_use != current.exports_in_use),
    ]
    .into_iter()
    .filter_map(|(what, changed)| changed.then_some(what))
    .collect()
}

/// The report being built while the plan is carried out.
struct Progress {
    stacks: Vec<StackReport>,
    index_of_id: HashMap<String, usize>,
    orphan_marks_cleared: usize,
    problems: Vec<String>,
}

impl Progress {
    fn new(stacks: &[StackInfo], marks: &[Mark], plan: &Plan) -> Self {
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
    fn problem_for_owner(&mut self, plan: &Plan, owner: &str, problem: &str) {
        for (i, decision) in plan.decisions.iter().enumerate() {
            if decision.owner.as_deref() == Some(owner)
                && matches!(decision.action, Action::Warn | Action::Delete)
            {
                self.stacks[i].problems.push(format!("owner not notified: {problem}"));
            }
        }
    }

    fn into_report(
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
    fn set_mark_change(&mut self, change: MarkResult) {
        match &mut self.mark {
            Some(mark) => mark.change = change,
            None => {
                self.mark = Some(MarkReport {
                    change,
                    first_notice: None,
                    delete_after: None,
                    notices: None,
                    times_snoozed: None,
                })
            }
        }
    }
}

/// The subject and text of one owner's notice.
fn owner_notice(
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
fn digest(report: &RunReport) -> (String, String) {
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
        let age_days = (report.now.unix_seconds() - entry.created.unix_seconds()).max(0) / 86_400;
        let _ = writeln!(
            text,
            "{} | {} | {}d | {} | {} | {} | {} ({}){}",
            entry.name,
            entry.status,
            age_days,
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

/// Why an invocation did not run.
#[derive(Debug, thiserror::Error)]
pub enum ReaperError {
    /// A setting cannot be used; no AWS call was made.
    #[error("invalid configuration, nothing was read or changed: {0}")]
    Config(ConfigError),
    /// The event cannot be used; no AWS call was made.
    #[error("malformed event, nothing was read or changed: {0}")]
    Event(String),
    /// The run stopped before changing anything.
    #[error(transparent)]
    Run(#[from] RunError),
}

impl From<ReaperError> for Diagnostic {
    fn from(error: ReaperError) -> Self {
        let error_type = match &error {
            ReaperError::Config(_) => "InvalidConfiguration",
            ReaperError::Event(_) => "MalformedEvent",
            ReaperError::Run(RunError::Marks(_)) => "MarksUnreadable",
            ReaperError::Run(RunError::Stacks(_)) => "StacksUnlisted",
        };
        Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

/// One invocation: checks the settings (read once at cold start) and the event, then runs.
pub async fn handle<S: Stacks, M: MarksStore, N: Notifier>(
    reaper: Result<&Reaper<S, M, N>, &ConfigError>,
    event: &serde_json::Value,
    clock: Timestamp,
) -> Result<RunReport, ReaperError> {
    let reaper = reaper.map_err(|e| ReaperError::Config(e.clone()))?;
    let now = run_time(event, clock).map_err(ReaperError::Event)?;
    let config = &reaper.config;
    let current = clock.minus(MAX_EVENT_AGE) <= now && now <= clock.plus(MAX_EVENT_LEAD);
    if config.mode == Mode::Enforce && !config.allow_replay && !current {
        return Err(ReaperError::Event(format!(
            "event time {now} is not within 6 h before or 5 min after the clock ({clock}); enforce mode \
             acts only on current events ({ALLOW_REPLAY_VAR}=true allows replays)"
        )));
    }
    let report = reaper.run(now).await?;
    let mut problems = report.problems.len();
    for problem in &report.problems {
        tracing::warn!(%problem, "run problem");
    }
    for stack in &report.stacks {
        for problem in &stack.problems {
            problems += 1;
            tracing::warn!(stack = %stack.name, %problem, "stack problem");
        }
    }
    let counts = &report.counts;
    tracing::info!(
        mode = report.mode.as_str(),
        now = %report.now,
        stacks = counts.stacks,
        temporary = counts.temporary,
        warned = counts.warn,
        owners_notified = counts.owners_notified,
        deletions_requested = counts.deletions_requested,
        deletion_cap_reached = report.deletion_cap_reached,
        digest_sent = report.digest_sent,
        problems,
        "run finished"
    );
    Ok(report)
}

/// The run's instant from a scheduled event: its `time` (RFC 3339), so a run can be replayed
/// exactly; the clock when the event has none (e.g. a manual `{}` invocation).
pub fn run_time(event: &serde_json::Value, clock: Timestamp) -> Result<Timestamp, String> {
    match event.get("time") {
        None | Some(serde_json::Value::Null) => Ok(clock),
        Some(serde_json::Value::String(text)) => {
            Timestamp::parse_rfc3339(text).map_err(|e| format!("event field \"time\" = {text:?}: {e}"))
        }
        Some(other) => Err(format!("event field \"time\" = {other}: expected an RFC 3339 string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{NOW, ripe_mark, stack};

    use std::sync::Mutex;
    use std::time::Duration;

    const DAY: u64 = 86_400;

    /// An in-memory account: stacks, marks and a topic, with a log of every change and scripted
    /// failures.
    #[derive(Default)]
    struct Fake {
        stacks: Mutex<Vec<StackInfo>>,
        /// What `describe` shows instead of the listed stack, by name.
        described: Mutex<HashMap<String, Option<StackInfo>>>,
        marks: Mutex<Vec<Mark>>,
        calls: Mutex<Vec<String>>,
        fail: Mutex<HashSet<&'static str>>,
    }

    impl Fake {
        fn failing(&self, operation: &'static str) -> Result<(), AwsError> {
            if self.fail.lock().unwrap().contains(operation) {
                Err(AwsError { operation, code: "Throttling".into(), message: "Rate exceeded".into() })
            } else {
                Ok(())
            }
        }

        fn log(&self, call: String) {
            self.calls.lock().unwrap().push(call);
        }

        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl Stacks for &Fake {
        async fn list(&self) -> Result<Vec<StackInfo>, AwsError> {
            self.log("list".into());
            self.failing("DescribeStacks")?;
            Ok(self.stacks.lock().unwrap().clone())
        }
        async fn describe(&self, name: &str) -> Result<Option<StackInfo>, AwsError> {
            self.log(format!("describe {name}"));
            if let Some(shown) = self.described.lock().unwrap().get(name) {
                return Ok(shown.clone());
            }
            let mut stack = self.stacks.lock().unwrap().iter().find(|s| s.name == name).cloned();
            if let Some(stack) = &mut stack {
                stack.exports_in_use = false;
            }
            Ok(stack)
        }
        async fn delete(&self, stack_id: &str) -> Result<(), AwsError> {
            self.log(format!("delete {stack_id}"));
            self.failing("DeleteStack")
        }
        async fn tag_delete_after(&self, listed: &StackInfo, at: Timestamp) -> Result<(), AwsError> {
            self.log(format!("tag {} {at}", listed.name));
            self.failing("UpdateStack")
        }
    }

    impl MarksStore for &Fake {
        async fn load(&self) -> Result<Vec<Mark>, AwsError> {
            self.failing("Scan")?;
            Ok(self.marks.lock().unwrap().clone())
        }
        async fn write(&self, mark: &Mark) -> Result<(), AwsError> {
            self.log(format!("write-mark {} notices={}", mark.stack_id, mark.notices));
            self.failing("PutItem")?;
            let mut marks = self.marks.lock().unwrap();
            marks.retain(|m| m.stack_id != mark.stack_id);
            marks.push(mark.clone());
            Ok(())
        }
        async fn clear(&self, stack_id: &str) -> Result<(), AwsError> {
            self.log(format!("clear-mark {stack_id}"));
            self.failing("DeleteItem")?;
            self.marks.lock().unwrap().retain(|m| m.stack_id != stack_id);
            Ok(())
        }
    }

    impl Notifier for &Fake {
        async fn notify(&self, owner: &str, _subject: &str, message: &str) -> Result<(), AwsError> {
            self.log(format!("notify {owner}: {message}"));
            self.failing("Publish")
        }
        async fn digest(&self, _subject: &str, message: &str) -> Result<(), AwsError> {
            self.log(format!("digest: {message}"));
            self.failing("Publish")
        }
    }

    fn reaper(fake: &Fake, mode: Mode) -> Reaper<&Fake, &Fake, &Fake> {
        let config = ReaperConfig { mode, ..ReaperConfig::default() };
        Reaper { stacks: fake, marks: Some(fake), notifier: Some(fake), config }
    }

    fn fake(stacks: Vec<StackInfo>, marks: Vec<Mark>) -> Fake {
        let fake = Fake::default();
        *fake.stacks.lock().unwrap() = stacks;
        *fake.marks.lock().unwrap() = marks;
        fake
    }

    fn entry<'a>(report: &'a RunReport, name: &str) -> &'a StackReport {
        report.stacks.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name} not in {report:#?}"))
    }

    #[tokio::test]
    async fn deletes_a_ripe_stack_after_looking_again_and_keeps_its_mark_until_it_is_gone() {
        let ripe = stack("pr-ripe", 20);
        let fake = fake(vec![ripe.clone(), stack("pr-young", 1)], vec![ripe_mark(&ripe)]);
        let report = reaper(&fake, Mode::Enforce).run(NOW).await.unwrap();
        let calls = fake.calls();
        let describe = calls.iter().position(|c| c == "describe pr-ripe").expect("described");
        let delete = calls.iter().position(|c| c == &format!("delete {}", ripe.id)).expect("deleted");
        assert!(describe < delete, "{calls:?}");
        assert_eq!(entry(&report, "pr-ripe").deletion, Some(DeletionOutcome::Requested));
        assert_eq!(report.counts.deletions_requested, 1);
        assert_eq!(fake.marks.lock().unwrap().len(), 1, "the mark stays until the stack is gone");
        assert!(
            calls
                .iter()
                .any(|c| c.starts_with("notify dev@example.com") && c.contains("pr-ripe: deletion started"))
        );
        assert_eq!(entry(&report, "pr-young").decision, Action::Keep);
        assert!(!calls.iter().any(|c| c.contains("pr-young") && !c.starts_with("digest")), "{calls:?}");
    }

    #[tokio::test]
    async fn aborts_a_deletion_when_the_stack_changed_since_the_listing() {
        let ripe = stack("pr-ripe", 20);
        let fake = fake(vec![ripe.clone()], vec![ripe_mark(&ripe)]);
        let mut changed = ripe.clone();
        changed.tags.insert("lifeguard:expires-at".into(), "2030-01-01T00:00:00Z".into());
        changed.last_updated = Some(NOW);
        fake.described.lock().unwrap().insert(ripe.name.clone(), Some(changed));
        let report = reaper(&fake, Mode::Enforce).run(NOW).await.unwrap();
        assert_eq!(
            entry(&report, "pr-ripe").deletion,
            Some(DeletionOutcome::Aborted { changed: vec!["tags", "last update"] })
        );
        assert!(!fake.calls().iter().any(|c| c.starts_with("delete")), "{:?}", fake.calls());
        assert_eq!(report.counts.deletions_requested, 0);
    }

    #[tokio::test]
    async fn a_stack_replaced_under_the_same_name_is_not_deleted() {
        let ripe = stack("pr-ripe", 20);
        let fake = fake(vec![ripe.clone()], vec![ripe_mark(&ripe)]);
        let replacement = StackInfo { id: "arn:stack/pr-ripe/2".into(), ..ripe.clone() };
        fake.described.lock().unwrap().insert(ripe.name.clone(), Some(replacement));
        let report = reaper(&fake, Mode::Enforce).run(NOW).await.unwrap();
        assert!(matches!(
            &entry(&report, "pr-ripe").deletion,
            Some(DeletionOutcome::Aborted { changed }) if changed.contains(&"stack id")
        ));
        assert!(!fake.calls().iter().any(|c| c.starts_with("delete")));
    }

    #[tokio::test]
    async fn a_failed_deletion_is_reported_and_the_mark_kept_for_the_next_run() {
        let ripe = stack("pr-ripe", 20);
        let fake = fake(vec![ripe.clone()], vec![ripe_mark(&ripe)]);
        fake.fail.lock().unwrap().insert("DeleteStack");
        let report = reaper(&fake, Mode::Enforce).run(NOW).await.unwrap();
        let Some(DeletionOutcome::Failed { error }) = &entry(&report, "pr-ripe").deletion else {
            panic!("{report:#?}")
        };
        assert!(error.contains("DeleteStack") && error.contains("Throttling"), "{error}");
        assert_eq!(*fake.marks.lock().unwrap(), [ripe_mark(&ripe)]);
        assert!(fake.calls().iter().any(|c| c.contains("the deletion failed and will be retried")));
    }

    #[tokio::test]
    async fn a_mark_is_written_only_once_the_owner_was_told() {
        let expired = stack("pr-expired", 20);
        let fake = fake(vec![expired.clone()], Vec::new());
        fake.fail.lock().unwrap().insert("Publish");
        let report = reaper(&fake, Mode::Enforce).run(NOW).await.unwrap();
        let e = entry(&report, "pr-expired");
        assert_eq!(e.reason, ReasonCode::ExpiredFirstNotice);
        assert_eq!(e.mark.as_ref().map(|m| m.change), Some(MarkResult::NotWritten));
        assert!(e.problems.iter().any(|p| p.contains("owner not notified")), "{e:#?}");
        assert!(fake.marks.lock().unwrap().is_empty());
        assert!(!report.digest_sent);

        fake.fail.lock().unwrap().clear();
        let report = reaper(&fake, Mode::Enforce).run(NOW).await.unwrap();
        assert_eq!(entry(&report, "pr-expired").mark.as_ref().map(|m| m.change), Some(MarkResult::Written));
        let marks = fake.marks.lock().unwrap().clone();
        assert_eq!((marks.len(), marks[0].notices, marks[0].first_notice), (1, 1, NOW));
        let tag = format!("tag pr-expired {}", NOW.plus(Duration::from_secs(3 * DAY)));
        assert!(fake.calls().contains(&tag), "courtesy tag in enforce mode: {:?}", fake.calls());
        assert!(report.digest_sent);
    }

    #[tokio::test]
    async fn a_snooze_keeps_the_mark_dormant_without_a_notice() {
        let mut snoozed = stack("pr-snoozed", 20);
        let mark = Mark { notices: 1, ..ripe_mark(&snoozed) };
        snoozed.tags.insert("lifeguard:expires-at".into(), NOW.plus(Duration::from_secs(DAY)).to_string());
        let fake = fake(vec![snoozed], vec![mark]);
        let report = reaper(&fake, Mode::Enforce).run(NOW).await.unwrap();
        let e = entry(&report, "pr-snoozed");
        assert_eq!(e.reason, ReasonCode::Snoozed);
        let shown = e.mark.as_ref().unwrap();
        assert_eq!(
            (shown.change, shown.notices, shown.times_snoozed),
            (MarkResult::Written, Some(0), Some(1))
        );
        assert!(
            !fake.calls().iter().any(|c| c.starts_with("notify") || c.starts_with("tag")),
            "{:?}",
            fake.calls()
        );
        assert_eq!(fake.marks.lock().unwrap()[0].times_snoozed, 1);
    }

    #[tokio::test]
    async fn nobody_is_told_nothing_will_be_deleted_unless_the_mark_says_so_first() {
        // Ripe in enforce mode; the mode is now report, and the marks table refuses writes.
        let ripe = stack("pr-ripe", 20);
        let fake = fake(vec![ripe.clone()], vec![ripe_mark(&ripe)]);
        fake.fail.lock().unwrap().insert("PutItem");
        let report = reaper(&fake, Mode::Report).run(NOW).await.unwrap();
        let e = entry(&report, "pr-ripe");
        assert_eq!(e.reason, ReasonCode::ModeReport);
        assert!(e.problems.iter().any(|p| p.contains("no notice sent")), "{e:#?}");
        assert!(!fake.calls().iter().any(|c| c.starts_with("notify")), "{:?}", fake.calls());

        fake.fail.lock().unwrap().clear();
        reaper(&fake, Mode::Report).run(NOW).await.unwrap();
        let calls = fake.calls();
        let written = calls.iter().rposition(|c| c.starts_with("write-mark")).expect("downgraded");
        let told = calls.iter().rposition(|c| c.starts_with("notify")).expect("notified");
        assert!(written < told, "the mark first, then the notice: {calls:?}");
        assert_eq!(fake.marks.lock().unwrap()[0].mode, Mode::Report);
    }

    #[tokio::test]
    async fn the_courtesy_tag_can_be_turned_off() {
        let fake = fake(vec![stack("pr-expired", 20)], Vec::new());
        let mut reaper = reaper(&fake, Mode::Enforce);
        reaper.config.tag_stacks = false;
        let report = reaper.run(NOW).await.unwrap();
        assert_eq!(entry(&report, "pr-expired").mark.as_ref().map(|m| m.change), Some(MarkResult::Written));
        assert!(!fake.calls().iter().any(|c| c.starts_with("tag")), "{:?}", fake.calls());
    }

    #[tokio::test]
    async fn report_mode_marks_and_notifies_but_never_deletes_or_updates_a_stack() {
        let ripe = stack("pr-ripe", 20);
        let expired = stack("pr-expired", 20);
        let fake = fake(vec![ripe.clone(), expired], vec![ripe_mark(&ripe)]);
        let report = reaper(&fake, Mode::Report).run(NOW).await.unwrap();
        assert_eq!(entry(&report, "pr-ripe").reason, ReasonCode::ModeReport);
        let calls = fake.calls();
        assert!(!calls.iter().any(|c| c.starts_with("delete") || c.starts_with("tag")), "{calls:?}");
        assert!(calls.iter().any(|c| c.starts_with("write-mark arn:stack/pr-expired/1")));
        assert!(calls.iter().any(|c| c.contains("report mode: it deletes nothing")));
    }

    #[tokio::test]
    async fn an_export_is_looked_up_only_where_it_blocks_a_deletion() {
        let mut exporting = stack("pr-exporting", 20);
        exporting.exports = vec!["pr-exporting-url".into()];
        exporting.exports_in_use = true;
        let mut young = stack("pr-young-exporting", 1);
        young.exports = vec!["young-url".into()];
        young.exports_in_use = true;
        let fake = fake(vec![exporting.clone(), young], vec![ripe_mark(&exporting)]);
        let report = reaper(&fake, Mode::Enforce).run(NOW).await.unwrap();
        assert_eq!(entry(&report, "pr-exporting").deletion, Some(DeletionOutcome::Requested));
        let describes: Vec<String> = fake.calls().into_iter().filter(|c| c.starts_with("describe")).collect();
        assert_eq!(describes, ["describe pr-exporting", "describe pr-exporting"], "settle, then re-check");
    }

    #[tokio::test]
    async fn a_doubt_that_cannot_matter_costs_no_call() {
        // Marked and mid-grace: whatever its exports, it is kept this run.
        let mut waiting = stack("pr-waiting", 20);
        waiting.exports = vec!["waiting-url".into()];
        waiting.exports_in_use = true;
        waiting.termination_protection = None;
        let mark =
            Mark { notices: 1, delete_after: NOW.plus(Duration::from_secs(2 * DAY)), ..ripe_mark(&waiting) };
        let fake = fake(vec![waiting], vec![mark]);
        let report = reaper(&fake, Mode::Enforce).run(NOW).await.unwrap();
        assert_eq!(entry(&report, "pr-waiting").reason, ReasonCode::GraceRunning);
        assert!(!fake.calls().iter().any(|c| c.starts_with("describe")), "{:?}", fake.calls());
    }

    #[tokio::test]
    async fn enforce_mode_refuses_an_event_far_from_the_clock_unless_replays_are_allowed() {
        let ripe = stack("pr-ripe", 20);
        let fake = fake(vec![ripe.clone()], vec![ripe_mark(&ripe)]);
        let mut reaper = reaper(&fake, Mode::Enforce);
        let tomorrow = serde_json::json!({"time": NOW.plus(Duration::from_secs(DAY)).to_string()});
        let error = handle(Ok(&reaper), &tomorrow, NOW).await.unwrap_err();
        assert!(matches!(&error, ReaperError::Event(m) if m.contains("REAPER_ALLOW_REPLAY")), "{error}");
        let last_week = serde_json::json!({"time": NOW.minus(Duration::from_secs(7 * DAY)).to_string()});
        assert!(handle(Ok(&reaper), &last_week, NOW).await.is_err());
        assert!(fake.calls().is_empty(), "{:?}", fake.calls());

        let an_hour_late = serde_json::json!({"time": NOW.minus(Duration::from_secs(3_600)).to_string()});
        assert!(handle(Ok(&reaper), &an_hour_late, NOW).await.is_ok());
        reaper.config.allow_replay = true;
        assert!(handle(Ok(&reaper), &tomorrow, NOW).await.is_ok());
        reaper.config = ReaperConfig::default();
        assert!(handle(Ok(&reaper), &last_week, NOW).await.is_ok(), "report mode replays freely");
    }

    #[tokio::test]
    async fn unreadable_marks_stop_the_run_before_any_change() {
        let fake = fake(vec![stack("pr-expired", 20)], Vec::new());
        fake.fail.lock().unwrap().insert("Scan");
        let error = reaper(&fake, Mode::Enforce).run(NOW).await.unwrap_err();
        assert!(matches!(error, RunError::Marks(_)), "{error}");
        assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    }

    #[tokio::test]
    async fn the_kill_switch_makes_no_call() {
        let fake = fake(vec![stack("pr-expired", 20)], Vec::new());
        let mut reaper = reaper(&fake, Mode::Enforce);
        reaper.config.disabled = true;
        let report = reaper.run(NOW).await.unwrap();
        assert!(report.disabled && report.stacks.is_empty());
        assert!(fake.calls().is_empty());
    }

    #[tokio::test]
    async fn without_a_table_or_topic_report_mode_still_plans_and_says_what_it_could_not_do() {
        let fake = fake(vec![stack("pr-expired", 20)], Vec::new());
        let reaper: Reaper<&Fake, &Fake, &Fake> =
            Reaper { stacks: &fake, marks: None, notifier: None, config: ReaperConfig::default() };
        let report = reaper.run(NOW).await.unwrap();
        let e = entry(&report, "pr-expired");
        assert_eq!(e.reason, ReasonCode::ExpiredFirstNotice);
        assert!(e.problems.iter().any(|p| p.contains("REAPER_TOPIC_ARN")), "{e:#?}");
        assert!(e.problems.iter().any(|p| p.contains("REAPER_MARKS_TABLE")), "{e:#?}");
        assert_eq!(fake.calls(), ["list"]);
    }

    #[tokio::test]
    async fn orphan_marks_are_cleared_and_the_report_omits_stacks_not_opted_in() {
        let mut other = stack("someone-elses", 400);
        other.tags.clear();
        let gone = Mark { stack_id: "arn:stack/gone/1".into(), ..ripe_mark(&other) };
        let fake = fake(vec![other], vec![gone]);
        let report = reaper(&fake, Mode::Enforce).run(NOW).await.unwrap();
        assert!(report.stacks.is_empty(), "{report:#?}");
        assert_eq!((report.counts.stacks, report.counts.temporary, report.counts.marks_cleared), (1, 0, 1));
        assert!(fake.marks.lock().unwrap().is_empty());
    }

    #[test]
    fn the_run_time_is_the_event_time_or_the_clock() {
        let clock = Timestamp::from_unix_seconds(7);
        let event = serde_json::json!({"detail-type": "Scheduled Event", "time": "2026-11-26T06:00:00Z"});
        assert_eq!(run_time(&event, clock).unwrap().to_string(), "2026-11-26T06:00:00Z");
        assert_eq!(run_time(&serde_json::json!({}), clock).unwrap(), clock);
        let error = run_time(&serde_json::json!({"time": "yesterday"}), clock).unwrap_err();
        assert!(error.contains("\"time\"") && error.contains("yesterday"), "{error}");
        assert!(run_time(&serde_json::json!({"time": 5}), clock).is_err());
    }
}
