//! One reaper run: read the marks and the stacks, plan, carry the plan out, and report. The report
//! is built in [`crate::report`], the notices' texts written in `notices`, and the invocation
//! checked in [`crate::lambda`].
//!
//! The order keeps every failure on the safe side:
//!
//! 1. The kill switch makes no AWS call at all.
//! 2. Marks, then stacks: either failing stops the run (`RunError`), before any change.
//! 3. Doubts that block an expired stack's deletion (exports not ruled out, termination
//!    protection unknown in the listing, resources not listed) are settled for just those stacks
//!    a settled doubt would let act (one `ListStackResources` when only the resources are unknown,
//!    a fresh description otherwise), then the plan is made again. Kept and skipped stacks cost no
//!    call beyond the listing.
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
//! 7. Marks cleared. The reaper never changes a stack: the deletion date lives in the marks,
//!    the notices and the digest.
//! 8. The digest for the operators.

use crate::config::{MAX_DELETIONS_PER_DAY_VAR, Mode, ReaperConfig};
use crate::notices::{digest, owner_notice};
use crate::plan::{Action, Circumstances, Decision, Mark, MarkChange, Plan, ReasonCode, StackInfo, plan};
use crate::ports::{MarkUpdate, MarksStore, Notifier, Stacks};
use crate::recipients::Recipients;
use crate::report::{DeletionOutcome, MarkResult, Progress, RunReport};
use futures::{StreamExt, stream};
use lifeguard_common::AwsError;
use lifeguard_common::time::Timestamp;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Calls of one kind (describes, resource listings, notices) in flight at once.
const IN_FLIGHT: usize = 4;

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

/// What a run would act on: the stacks as settled, the marks it read, and its plan.
#[derive(Debug, Clone)]
pub struct Outlook {
    /// The stacks listed, with the doubts that mattered settled.
    pub stacks: Vec<StackInfo>,
    /// The marks read.
    pub marks: Vec<Mark>,
    /// What to do with each stack.
    pub plan: Plan,
}

/// One invocation: who runs, and until when. The lease and the deletions go by its clock, not by
/// the event's time (a replayed run still runs now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Names the run in the lease (Lambda's request id).
    pub run_id: String,
    /// When it started, by the system clock.
    pub started: Timestamp,
    /// When Lambda stops it.
    pub deadline: Timestamp,
}

impl Invocation {
    /// An invocation `run_id` starting now with `budget` to run.
    pub fn starting_now(run_id: impl Into<String>, budget: Duration) -> Self {
        let started = Timestamp::now();
        Self { run_id: run_id.into(), started, deadline: started.plus(budget) }
    }

    /// Whether at least [`DELETION_TIME_SHARE`] of the invocation's time is left.
    fn time_left_to_delete(&self) -> bool {
        let total = self.deadline.duration_since(self.started);
        self.deadline.duration_since(Timestamp::now()) >= total.mul_f64(DELETION_TIME_SHARE)
    }
}

/// No deletion starts once less than this share of the invocation's time is left, so that
/// the marks, the notices and the digest always go out.
pub const DELETION_TIME_SHARE: f64 = 0.5;

/// A run that stopped before changing anything.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Another run holds the lease: this one changed nothing.
    #[error("another run ({holder}) holds the lease until {until}, so nothing was changed")]
    RunInProgress {
        /// The run holding the lease.
        holder: String,
        /// When its lease expires.
        until: Timestamp,
    },
    /// The lease could not be taken (or checked).
    #[error("cannot take the run lease, so nothing was changed: {0}")]
    Lease(AwsError),
    /// The topic's subscriptions could not be read (enforce mode).
    #[error("cannot read who the notices topic reaches, so nothing was changed: {0}")]
    Recipients(AwsError),
    /// Enforce mode without a confirmed subscription that receives the operators' digest.
    #[error(
        "no confirmed subscription of the notices topic receives the operators' digest (owner = *digest*), \
         so nothing was changed: enforce mode runs only when someone reads what it does"
    )]
    NoOperators,
    /// The marks could not be read; planning without them would restart every grace period.
    #[error("cannot read the marks, so nothing was changed: {0}")]
    Marks(AwsError),
    /// The stacks could not be listed.
    #[error("cannot list the stacks, so nothing was changed: {0}")]
    Stacks(AwsError),
}

impl<S: Stacks, M: MarksStore, N: Notifier> Reaper<S, M, N> {
    /// Runs once at `now` (the event's time) within `invocation`: takes the run lease (a second
    /// run exits `RunInProgress` having changed nothing), runs, and gives the lease back.
    pub async fn run(&self, now: Timestamp, invocation: &Invocation) -> Result<RunReport, RunError> {
        let config = &self.config;
        if config.disabled {
            tracing::warn!("the kill switch is on: no stack is read or changed");
            return Ok(RunReport::disabled(config.mode, now));
        }
        // Boxed: the run's future is deep enough to pass the compiler's type-layout depth limit
        // when nested in the Lambda runtime's.
        let Some(store) = &self.marks else { return Box::pin(self.run_leased(now, invocation)).await };
        let lease = store
            .take_lease(&invocation.run_id, invocation.deadline, Timestamp::now())
            .await
            .map_err(RunError::Lease)?;
        if let Err((holder, until)) = lease {
            return Err(RunError::RunInProgress { holder, until });
        }
        let result = Box::pin(self.run_leased(now, invocation)).await;
        let released = store.release_lease(&invocation.run_id).await;
        match (result, released) {
            (Ok(mut report), Err(error)) => {
                report
                    .problems
                    .push(format!("lease not given back (it expires with the invocation): {error}"));
                Ok(report)
            }
            (result, _) => result,
        }
    }

    /// What a run at `now` would decide, read the way the run reads it (the marks, the deletions
    /// counted on `today`, who the topic reaches in enforce mode, the stacks, and the doubts it
    /// would settle) and planned, changing nothing and taking no lease: the run's first half, and
    /// `lifeguard reaper plan`.
    pub async fn outlook(&self, now: Timestamp, today: &str) -> Result<Outlook, RunError> {
        let config = &self.config;
        let marks = match &self.marks {
            Some(store) => store.load().await.map_err(RunError::Marks)?,
            None => Vec::new(),
        };
        let deleted_today = match &self.marks {
            Some(store) => store.deletions_on(today).await.map_err(RunError::Marks)?,
            None => 0,
        };
        let recipients = match (&self.notifier, config.mode) {
            (Some(notifier), Mode::Enforce) => notifier.recipients().await.map_err(RunError::Recipients)?,
            _ => Recipients::everyone(),
        };
        if !recipients.admit_digest() {
            return Err(RunError::NoOperators);
        }
        let circumstances = Circumstances { deleted_today, recipients };
        let mut stacks = self.stacks.list().await.map_err(RunError::Stacks)?;
        let mut plan = plan(&stacks, &marks, config, now, &circumstances);
        if self.settle_doubts(&mut stacks, &marks, &plan, now, &circumstances).await {
            plan = crate::plan::plan(&stacks, &marks, config, now, &circumstances);
        }
        Ok(Outlook { stacks, marks, plan })
    }

    /// The run itself, once it may change things.
    async fn run_leased(&self, now: Timestamp, invocation: &Invocation) -> Result<RunReport, RunError> {
        let config = &self.config;
        let today = invocation.started.utc_day();
        let Outlook { stacks, marks, plan } = self.outlook(now, &today).await?;
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

        self.delete(&stacks, &plan, invocation, &today, &mut run).await;
        let read: HashMap<&str, &Mark> = marks.iter().map(|m| (m.stack_id.as_str(), m)).collect();
        let unrecorded =
            self.write_marks(&plan, &read, WritePhase::BeforeNotices, &HashSet::new(), &mut run).await;
        let notified = self.notify_owners(&plan, &run, now, &unrecorded).await;
        for (owner, result) in &notified {
            if let Err(problem) = result {
                run.problem_for_owner(&plan, owner, problem);
            }
        }
        let sent: HashSet<&str> =
            notified.iter().filter(|(_, r)| r.is_ok()).map(|(owner, _)| owner.as_str()).collect();
        self.write_marks(&plan, &read, WritePhase::AfterNotices, &sent, &mut run).await;
        self.clear_marks(&plan, &read, &mut run).await;
        let mut report = run.into_report(config.mode, now, &stacks, &plan, sent.len());
        report.digest_sent = self.send_digest(&report).await.unwrap_or_else(|problem| {
            report.problems.push(problem);
            false
        });
        Ok(report)
    }

    /// Settles the doubts (exports not yet ruled out, termination protection the listing did not
    /// show, resources not yet listed) that block an expired stack, where they matter: a stack
    /// that would be marked or deleted if the doubt were resolved in its favour is described (and
    /// the fresh view of the same stack taken), or only its resources listed when nothing else is
    /// in doubt; for any other, planning as if it were resolved changes nothing but the
    /// reason (it is kept or warned for another reason, with no mark written), so no call is made.
    /// Returns whether any stack changed, so the plan must be made again.
    async fn settle_doubts(
        &self,
        stacks: &mut [StackInfo],
        marks: &[Mark],
        plan: &Plan,
        now: Timestamp,
        circumstances: &Circumstances,
    ) -> bool {
        let doubtful: Vec<usize> = plan
            .decisions
            .iter()
            .enumerate()
            .filter(|(i, d)| match d.reason {
                ReasonCode::ExportsInUse => !stacks[*i].exports.is_empty(),
                ReasonCode::TerminationProtected => stacks[*i].termination_protection.is_none(),
                ReasonCode::NotDeletable => stacks[*i].resources.is_none(),
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
                resources: Some(stacks[i].resources.clone().unwrap_or_default()),
                ..stacks[i].clone()
            })
            .collect();
        let hypothetical = crate::plan::plan(&resolved, marks, &self.config, now, circumstances);
        let mut to_describe = Vec::new();
        for ((&i, assumed), decision) in doubtful.iter().zip(resolved).zip(&hypothetical.decisions) {
            let acts = decision.mark != MarkChange::Unchanged
                || matches!(
                    decision.reason,
                    ReasonCode::Delete | ReasonCode::ModeReport | ReasonCode::DeletionCapReached
                );
            if acts {
                to_describe.push((i, stacks[i].clone()));
            } else {
                stacks[i] = assumed;
            }
        }
        let described: Vec<(usize, Result<Option<StackInfo>, AwsError>)> = stream::iter(to_describe)
            .map(|(i, listed)| async move {
                // Only the resources unknown: the listing's view with them is as good as a fresh one.
                if listed.exports.is_empty() && listed.termination_protection.is_some() {
                    let resources = self.stacks.resources(&listed.id).await;
                    (i, resources.map(|resources| Some(StackInfo { resources: Some(resources), ..listed })))
                } else {
                    (i, self.stacks.describe(&listed.name).await)
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for (i, result) in described {
            match result {
                Ok(Some(fresh)) if fresh.id == stacks[i].id => stacks[i] = fresh,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(stack = %stacks[i].name, %error, "cannot settle a doubt; the stack stays blocked");
                }
            }
        }
        true
    }

    /// Carries out the planned deletions, one at a time, each after a fresh look at the stack,
    /// while enough of the invocation's time is left, each counted first against the budget of
    /// `today`, the day whose count the plan was made with.
    async fn delete(
        &self,
        stacks: &[StackInfo],
        plan: &Plan,
        invocation: &Invocation,
        today: &str,
        run: &mut Progress,
    ) {
        for (index, decision) in plan.decisions.iter().enumerate() {
            if decision.action != Action::Delete {
                continue;
            }
            let listed = &stacks[index];
            let outcome = if invocation.time_left_to_delete() {
                self.delete_one(listed, today).await
            } else {
                DeletionOutcome::Failed {
                    error: format!(
                        "not started: less than {}% of the invocation's time was left (deadline {})",
                        DELETION_TIME_SHARE * 100.0,
                        invocation.deadline
                    ),
                }
            };
            match &outcome {
                DeletionOutcome::Requested => tracing::info!(stack = %listed.name, "deletion requested"),
                other => tracing::warn!(stack = %listed.name, outcome = ?other, "not deleted"),
            }
            run.stacks[index].deletion = Some(outcome);
        }
    }

    /// Deletes one stack if it is as listed and the day's deletion budget allows it.
    async fn delete_one(&self, listed: &StackInfo, today: &str) -> DeletionOutcome {
        let current = match self.stacks.describe(&listed.name).await {
            Ok(None) => return DeletionOutcome::Gone,
            Ok(Some(current)) => current,
            Err(error) => return DeletionOutcome::Failed { error: error.to_string() },
        };
        let changed = changes(listed, &current);
        if !changed.is_empty() {
            return DeletionOutcome::Aborted { changed };
        }
        if let Some(store) = &self.marks {
            let per_day = self.config.max_deletions_per_day;
            match store.count_deletion(today, per_day).await {
                Ok(true) => {}
                Ok(false) => {
                    return DeletionOutcome::Failed {
                        error: format!("{MAX_DELETIONS_PER_DAY_VAR}={per_day}: today's deletions are spent"),
                    };
                }
                Err(error) => return DeletionOutcome::Failed { error: error.to_string() },
            }
        }
        match self.stacks.delete(&listed.id).await {
            Ok(()) => DeletionOutcome::Requested,
            Err(error) => DeletionOutcome::Failed { error: error.to_string() },
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
        read: &HashMap<&str, &Mark>,
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
        let updates: Vec<MarkUpdate> = writable
            .iter()
            .map(|&(_, mark)| MarkUpdate::Write { mark, read: read.get(mark.stack_id.as_str()).copied() })
            .collect();
        let written = store.change(&updates).await;
        let mut failed = HashSet::new();
        for ((i, _), result) in writable.into_iter().zip(written) {
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

    /// Removes the marks the plan clears, including those of stacks no longer listed, each only
    /// if it is still as this run read it.
    async fn clear_marks(&self, plan: &Plan, read: &HashMap<&str, &Mark>, run: &mut Progress) {
        let Some(store) = &self.marks else { return };
        let updates: Vec<MarkUpdate> = plan
            .marks_to_clear
            .iter()
            .filter_map(|id| read.get(id.as_str()))
            .map(|&read| MarkUpdate::Clear { read })
            .collect();
        let cleared = store.change(&updates).await;
        for (update, result) in updates.iter().zip(cleared) {
            let id = update.stack_id();
            let change = if result.is_ok() { MarkResult::Cleared } else { MarkResult::NotCleared };
            let problem = result.err().map(|e| format!("mark of {id} not cleared: {e}"));
            if let Some(&i) = run.index_of_id.get(id) {
                run.stacks[i].set_mark_change(change);
                run.stacks[i].problems.extend(problem);
            } else {
                run.orphan_marks_cleared += usize::from(change == MarkResult::Cleared);
                run.problems.extend(problem);
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
        ("service role", listed.service_role != current.service_role),
        ("resources", listed.resources != current.resources),
        ("exports in use", listed.exports_in_use != current.exports_in_use),
    ]
    .into_iter()
    .filter_map(|(what, changed)| changed.then_some(what))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{Fake, fake, reaper};
    use crate::fixtures::{NOW, ripe_mark, stack};
    use crate::plan::StackResource;
    use crate::report::StackReport;
    use std::time::Duration;

    const DAY: u64 = 86_400;

    fn invocation() -> Invocation {
        Invocation::starting_now("run-1", Duration::from_mins(5))
    }

    fn entry<'a>(report: &'a RunReport, name: &str) -> &'a StackReport {
        report.stacks.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name} not in {report:#?}"))
    }

    #[tokio::test]
    async fn deletes_a_ripe_stack_after_looking_again_and_keeps_its_mark_until_it_is_gone() {
        let ripe = stack("pr-ripe", 20);
        let fake = fake(vec![ripe.clone(), stack("pr-young", 1)], vec![ripe_mark(&ripe)]);
        let report = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap();
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
        let report = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap();
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
        let report = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap();
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
        let report = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap();
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
        let report = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap();
        let e = entry(&report, "pr-expired");
        assert_eq!(e.reason, ReasonCode::ExpiredFirstNotice);
        assert_eq!(e.mark.as_ref().map(|m| m.change), Some(MarkResult::NotWritten));
        assert!(e.problems.iter().any(|p| p.contains("owner not notified")), "{e:#?}");
        assert!(fake.marks.lock().unwrap().is_empty());
        assert!(!report.digest_sent);

        fake.fail.lock().unwrap().clear();
        let report = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap();
        assert_eq!(entry(&report, "pr-expired").mark.as_ref().map(|m| m.change), Some(MarkResult::Written));
        let marks = fake.marks.lock().unwrap().clone();
        assert_eq!((marks.len(), marks[0].notices, marks[0].first_notice), (1, 1, NOW));
        assert!(report.digest_sent);
    }

    #[tokio::test]
    async fn a_snooze_keeps_the_mark_dormant_without_a_notice() {
        let mut snoozed = stack("pr-snoozed", 20);
        let mark = Mark { notices: 1, ..ripe_mark(&snoozed) };
        snoozed.tags.insert("lifeguard:expires-at".into(), NOW.plus(Duration::from_secs(DAY)).to_string());
        let fake = fake(vec![snoozed], vec![mark]);
        let report = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap();
        let e = entry(&report, "pr-snoozed");
        assert_eq!(e.reason, ReasonCode::Snoozed);
        let shown = e.mark.as_ref().unwrap();
        assert_eq!(
            (shown.change, shown.notices, shown.times_snoozed),
            (MarkResult::Written, Some(0), Some(1))
        );
        assert!(!fake.calls().iter().any(|c| c.starts_with("notify")), "{:?}", fake.calls());
        assert_eq!(fake.marks.lock().unwrap()[0].times_snoozed, 1);
    }

    #[tokio::test]
    async fn nobody_is_told_nothing_will_be_deleted_unless_the_mark_says_so_first() {
        // Ripe in enforce mode; the mode is now report, and the marks table refuses writes.
        let ripe = stack("pr-ripe", 20);
        let fake = fake(vec![ripe.clone()], vec![ripe_mark(&ripe)]);
        fake.fail.lock().unwrap().insert("PutItem");
        let report = reaper(&fake, Mode::Report).run(NOW, &invocation()).await.unwrap();
        let e = entry(&report, "pr-ripe");
        assert_eq!(e.reason, ReasonCode::ModeReport);
        assert!(e.problems.iter().any(|p| p.contains("no notice sent")), "{e:#?}");
        assert!(!fake.calls().iter().any(|c| c.starts_with("notify")), "{:?}", fake.calls());

        fake.fail.lock().unwrap().clear();
        reaper(&fake, Mode::Report).run(NOW, &invocation()).await.unwrap();
        let calls = fake.calls();
        let written = calls.iter().rposition(|c| c.starts_with("write-mark")).expect("downgraded");
        let told = calls.iter().rposition(|c| c.starts_with("notify")).expect("notified");
        assert!(written < told, "the mark first, then the notice: {calls:?}");
        assert_eq!(fake.marks.lock().unwrap()[0].mode, Mode::Report);
    }

    #[tokio::test]
    async fn report_mode_marks_and_notifies_but_never_deletes_or_updates_a_stack() {
        let ripe = stack("pr-ripe", 20);
        let expired = stack("pr-expired", 20);
        let fake = fake(vec![ripe.clone(), expired], vec![ripe_mark(&ripe)]);
        let report = reaper(&fake, Mode::Report).run(NOW, &invocation()).await.unwrap();
        assert_eq!(entry(&report, "pr-ripe").reason, ReasonCode::ModeReport);
        let calls = fake.calls();
        assert!(!calls.iter().any(|c| c.starts_with("delete")), "{calls:?}");
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
        let report = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap();
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
        let report = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap();
        assert_eq!(entry(&report, "pr-waiting").reason, ReasonCode::GraceRunning);
        assert!(!fake.calls().iter().any(|c| c.starts_with("describe")), "{:?}", fake.calls());
    }

    #[tokio::test]
    async fn resources_are_listed_before_a_first_notice_and_only_where_it_matters() {
        let mut expired = stack("pr-expired", 20);
        let mut young = stack("pr-young", 1);
        (expired.resources, young.resources) = (None, None);
        let fake = fake(vec![expired.clone(), young], Vec::new());
        let mut fresh = expired.clone();
        fresh.resources = Some(vec![StackResource {
            logical_id: "Db".into(),
            resource_type: "AWS::RDS::DBInstance".into(),
            status: "CREATE_COMPLETE".into(),
        }]);
        fake.described.lock().unwrap().insert(expired.name.clone(), Some(fresh));
        let report = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap();
        let e = entry(&report, "pr-expired");
        assert_eq!(e.reason, ReasonCode::NotDeletable, "{e:#?}");
        assert!(e.detail.as_deref().unwrap().contains("Db (AWS::RDS::DBInstance)"), "{e:#?}");
        assert!(fake.marks.lock().unwrap().is_empty(), "no first notice, no mark");
        assert_eq!(entry(&report, "pr-young").reason, ReasonCode::NotExpired);
        let looks: Vec<String> = fake
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("describe") || c.starts_with("resources"))
            .collect();
        assert_eq!(looks, ["resources arn:stack/pr-expired/1"], "only the resources were in doubt");
    }

    #[tokio::test]
    async fn enforce_mode_runs_only_when_someone_reads_the_digest() {
        use crate::recipients::{Admission, OwnerCondition};
        let ripe = stack("pr-ripe", 20);
        let fake = fake(vec![ripe.clone()], vec![ripe_mark(&ripe)]);
        let only_alice = Admission::Owners(vec![OwnerCondition::Exactly("alice@example.com".into())]);
        *fake.recipients.lock().unwrap() = Some(Recipients { subscriptions: vec![only_alice] });
        let error = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap_err();
        assert!(matches!(error, RunError::NoOperators), "{error}");
        assert!(
            !fake.calls().iter().any(|c| c.starts_with("delete") || c.starts_with("notify")),
            "{:?}",
            fake.calls()
        );
        assert!(
            reaper(&fake, Mode::Report).run(NOW, &invocation()).await.is_ok(),
            "report mode asks nothing"
        );

        fake.fail.lock().unwrap().insert("ListSubscriptionsByTopic");
        let error = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap_err();
        assert!(matches!(error, RunError::Recipients(_)), "{error}");
    }

    #[tokio::test]
    async fn unreadable_marks_stop_the_run_before_any_change() {
        let fake = fake(vec![stack("pr-expired", 20)], Vec::new());
        fake.fail.lock().unwrap().insert("Scan");
        let error = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap_err();
        assert!(matches!(error, RunError::Marks(_)), "{error}");
        assert_eq!(fake.calls(), ["take-lease run-1", "release-lease run-1"], "nothing but the lease");
        assert_eq!(*fake.lease.lock().unwrap(), None, "given back");
    }

    #[tokio::test]
    async fn a_second_run_while_one_holds_the_lease_changes_nothing() {
        let ripe = stack("pr-ripe", 20);
        let fake = fake(vec![ripe.clone()], vec![ripe_mark(&ripe)]);
        let until = Timestamp::now().plus(Duration::from_mins(10));
        *fake.lease.lock().unwrap() = Some(("run-0".into(), until));
        let error = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap_err();
        assert!(
            matches!(&error, RunError::RunInProgress { holder, until: u } if holder == "run-0" && *u == until),
            "{error}"
        );
        assert_eq!(fake.calls(), ["take-lease run-1"]);

        // An expired lease is taken over.
        *fake.lease.lock().unwrap() = Some(("run-0".into(), Timestamp::now().minus(Duration::from_secs(1))));
        let report = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap();
        assert_eq!(entry(&report, "pr-ripe").deletion, Some(DeletionOutcome::Requested));
        let failing_lease = fake_with_failing("PutItem (lease)");
        let error = reaper(&failing_lease, Mode::Enforce).run(NOW, &invocation()).await.unwrap_err();
        assert!(matches!(error, RunError::Lease(_)), "{error}");
    }

    fn fake_with_failing(operation: &'static str) -> Fake {
        let fake = fake(vec![stack("pr-ripe", 20)], Vec::new());
        fake.fail.lock().unwrap().insert(operation);
        fake
    }

    #[tokio::test]
    async fn the_daily_budget_holds_across_runs() {
        let stacks: Vec<StackInfo> = (0..3).map(|i| stack(&format!("pr-{i}"), 20)).collect();
        let marks: Vec<Mark> = stacks.iter().map(ripe_mark).collect();
        let fake = fake(stacks, marks);
        let mut reaper = reaper(&fake, Mode::Enforce);
        reaper.config.max_deletions_per_day = 2;
        let today = Timestamp::now().utc_day();
        fake.deletions.lock().unwrap().insert(today.clone(), 1);
        let report = reaper.run(NOW, &invocation()).await.unwrap();
        assert_eq!(report.counts.deletions_requested, 1, "one left today: {report:#?}");
        let held: Vec<&StackReport> =
            report.stacks.iter().filter(|s| s.reason == ReasonCode::DeletionCapReached).collect();
        assert_eq!(held.len(), 2);
        assert_eq!(fake.deletions.lock().unwrap()[&today], 2);

        // Another run the same day (by hand) deletes nothing more.
        let report = reaper.run(NOW, &invocation()).await.unwrap();
        assert_eq!(report.counts.deletions_requested, 0, "{report:#?}");
    }

    #[tokio::test]
    async fn a_budget_another_run_spent_meanwhile_stops_the_deletion() {
        let ripe = stack("pr-ripe", 20);
        let fake = fake(vec![ripe.clone()], vec![ripe_mark(&ripe)]);
        let mut reaper = reaper(&fake, Mode::Enforce);
        reaper.config.max_deletions_per_day = 0;
        // Planned with a budget left (as if read before another run spent it), counted at once.
        let outcome = reaper.delete_one(&ripe, &Timestamp::now().utc_day()).await;
        assert!(
            matches!(&outcome, DeletionOutcome::Failed { error } if error.contains("REAPER_MAX_DELETIONS_PER_DAY=0")),
            "{outcome:?}"
        );
        assert!(!fake.calls().iter().any(|c| c.starts_with("delete ")), "{:?}", fake.calls());
    }

    #[tokio::test]
    async fn no_deletion_starts_late_in_the_invocation_but_the_rest_goes_out() {
        let ripe = stack("pr-ripe", 20);
        let expired = stack("pr-expired", 20);
        let fake = fake(vec![ripe.clone(), expired], vec![ripe_mark(&ripe)]);
        let started = Timestamp::now().minus(Duration::from_mins(9));
        let late =
            Invocation { run_id: "run-1".into(), started, deadline: started.plus(Duration::from_mins(10)) };
        let report = reaper(&fake, Mode::Enforce).run(NOW, &late).await.unwrap();
        let e = entry(&report, "pr-ripe");
        assert!(
            matches!(&e.deletion, Some(DeletionOutcome::Failed { error }) if error.contains("invocation's time")),
            "{e:#?}"
        );
        assert!(!fake.calls().iter().any(|c| c.starts_with("delete ")), "{:?}", fake.calls());
        assert_eq!(entry(&report, "pr-expired").mark.as_ref().map(|m| m.change), Some(MarkResult::Written));
        assert!(report.digest_sent);
    }

    #[tokio::test]
    async fn the_kill_switch_makes_no_call() {
        let fake = fake(vec![stack("pr-expired", 20)], Vec::new());
        let mut reaper = reaper(&fake, Mode::Enforce);
        reaper.config.disabled = true;
        let report = reaper.run(NOW, &invocation()).await.unwrap();
        assert!(report.disabled && report.stacks.is_empty());
        assert!(fake.calls().is_empty());
    }

    #[tokio::test]
    async fn without_a_table_or_topic_report_mode_still_plans_and_says_what_it_could_not_do() {
        let fake = fake(vec![stack("pr-expired", 20)], Vec::new());
        let reaper: Reaper<&Fake, &Fake, &Fake> =
            Reaper { stacks: &fake, marks: None, notifier: None, config: ReaperConfig::default() };
        let report = reaper.run(NOW, &invocation()).await.unwrap();
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
        let report = reaper(&fake, Mode::Enforce).run(NOW, &invocation()).await.unwrap();
        assert!(report.stacks.is_empty(), "{report:#?}");
        assert_eq!((report.counts.stacks, report.counts.temporary, report.counts.marks_cleared), (1, 0, 1));
        assert!(fake.marks.lock().unwrap().is_empty());
    }
}
