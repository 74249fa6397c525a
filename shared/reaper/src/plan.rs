//! The planner: one pure pass over the stacks and their marks that decides, per stack, whether
//! to keep, warn about, delete or skip it, and why.
//!
//! A stack is deleted only when every rule below allows it; the first rule that does not is the
//! decision's reason. Each rule is one function, applied in this order (the deletion cap of rule
//! 7 once every stack is decided).
//!
//! 1. The reaper is enabled, the stack is not `DELETE_COMPLETE`, carries
//!    `lifeguard:temporary=true`, is not nested, matches no protected pattern, matches a pattern
//!    of the allowlist (`REAPER_ALLOWED_STACKS`; every name in report mode without one) and is
//!    not in progress (`*_IN_PROGRESS` or an unknown status). Otherwise: `Skip`.
//! 2. Its lifecycle tags parse. Otherwise: `Warn` (`malformed-tag`) on every run.
//! 3. It has expired. Otherwise: `Keep` (`not-expired`, or `snoozed` when the owner moved the
//!    expiry past the one the mark saw, which ends the notice cycle); or `Warn`
//!    (`beyond-max-lifetime`) once the maximum lifetime has passed while the tags ask for more.
//!    Such a stack is reported on every run and never deleted.
//! 4. Its status is settled: `CREATE_COMPLETE` or `UPDATE_COMPLETE`. `IMPORT_COMPLETE` is not
//!    deletable (`not-deletable`): its last operation brought in resources CloudFormation did
//!    not create, which deleting the stack would delete. Failed
//!    and rollback states (`*_FAILED`, `ROLLBACK_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`,
//!    `IMPORT_ROLLBACK_COMPLETE`) are reported (`failed-status`) and left to a person: a rollback
//!    means the stack is not what its template says. One exception: a `DELETE_FAILED` stack that
//!    had its final notice goes on through the rules, so a failed deletion is retried (plainly,
//!    never retaining or forcing anything) on the next run.
//! 5. It has no service role, or one `REAPER_ALLOWED_ROLES` lists (CloudFormation deletes with
//!    the stack's role, whatever the caller may do: `service-role`); its resources are listed,
//!    none was imported and, without a service role, every type is one the reaper's role can
//!    delete ([`DELETABLE_RESOURCE_TYPES`]; else `not-deletable`, naming them); termination protection is
//!    known to be off, no export is imported elsewhere, and the owner tag is present. Otherwise:
//!    `Warn` with the blocking reason.
//! 6. It was marked (first notice) at least one grace period ago, in enforce mode (a mark that
//!    report mode made or notified about starts a new notice cycle once the mode is `enforce`), `delete_after` has passed and
//!    a final notice went out (the second notice, sent from `lead` before `delete_after`, where
//!    `lead` is one day or half the grace when shorter; a late run sends it and postpones the
//!    deletion by `lead`).
//! 7. The mode is `enforce` (else `mode-report`) and the run's deletion cap is not reached (else
//!    `deletion-cap-reached`; the oldest `delete_after` goes first, retries of a `DELETE_FAILED`
//!    deletion last).
//!
//! Marks live in the reaper's table. A new mark is planned on the first notice and updated on the
//! final notice. A snooze, an expiry that is no longer past, or a life beyond the maximum ends the
//! notice cycle: the mark stays, dormant (`notices` 0), keeping `times_snoozed` for the digest,
//! and a later expiry starts a new cycle from it. Marks are cleared when the stack is out of
//! scope (deleted, opted out, nested, protected) or no longer listed. Blocked stacks keep their
//! mark untouched. Report
//! mode writes marks and sends notices like enforce mode, but its marks do not count in enforce
//! mode: switching to enforce never deletes at once a stack whose owner was told nothing would
//! be deleted.

use crate::config::{
    ALLOWED_ROLES_VAR, MAX_DELETIONS_PER_DAY_VAR, MAX_DELETIONS_VAR, MAX_LIFETIME_VAR, Mode, ReaperConfig,
};
use crate::recipients::Recipients;
use crate::tags::{Expiry, LifecycleTags, OWNER_TAG, expiry, is_email, is_opted_in, read_lifecycle_tags};
use lifeguard_common::time::{Timestamp, format_duration};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::ops::ControlFlow::{self, Break, Continue};

/// Statuses from which a stack may be deleted.
pub const SETTLED_STATUSES: &[&str] = &["CREATE_COMPLETE", "UPDATE_COMPLETE"];
/// A settled status never deleted: the stack's last operation imported existing resources.
pub const IMPORTED_STATUS: &str = "IMPORT_COMPLETE";
/// Settled statuses that follow a failure; never deleted, reported when expired.
pub const ROLLBACK_STATUSES: &[&str] =
    &["ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"];
/// Resource types the reaper's role (policy `delete-temporary-stacks`, or none needed) lets
/// CloudFormation delete on a stack deployed without a service role. Another type would leave
/// the stack `DELETE_FAILED` half-way.
pub const DELETABLE_RESOURCE_TYPES: &[&str] = &[
    "AWS::CloudFormation::Stack",
    "AWS::CloudFormation::WaitConditionHandle",
    "AWS::Lambda::Function",
    "AWS::Lambda::Alias",
    "AWS::Lambda::Version",
    "AWS::Lambda::LayerVersion",
    "AWS::IAM::Role",
    "AWS::CodeDeploy::Application",
    "AWS::CodeDeploy::DeploymentGroup",
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::LogGroup",
];

/// One resource of a stack, as `ListStackResources` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResource {
    /// Its logical id in the template.
    pub logical_id: String,
    /// Its type, e.g. `AWS::Lambda::Function`.
    pub resource_type: String,
    /// Its status; `IMPORT_*` means it was brought in by an import, not created by the stack.
    pub status: String,
}

/// Notices at which a marked stack has had its final notice.
pub const NOTICES_BEFORE_DELETION: u32 = 2;

/// What the planner knows about one stack; plain data gathered by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInfo {
    /// Stack name.
    pub name: String,
    /// Stack id (ARN); marks are keyed by it.
    pub id: String,
    /// CloudFormation status, e.g. `UPDATE_COMPLETE`.
    pub status: String,
    /// Creation time; `None` when CloudFormation gave none, which keeps the stack out of scope
    /// (its lifetime cannot be counted).
    pub created: Option<Timestamp>,
    /// Last update, when there was one (informational).
    pub last_updated: Option<Timestamp>,
    /// Parent stack id of a nested stack.
    pub parent_id: Option<String>,
    /// The stack's service role (`RoleARN`), which CloudFormation uses for every operation on
    /// the stack, the reaper's `DeleteStack` included.
    pub service_role: Option<String>,
    /// Termination protection; `None` when it could not be read, which blocks deletion.
    pub termination_protection: Option<bool>,
    /// Stack tags.
    pub tags: BTreeMap<String, String>,
    /// Names of its exports.
    pub exports: Vec<String>,
    /// Whether another stack imports one of its exports, or that is not ruled out yet.
    pub exports_in_use: bool,
    /// Its resources; `None` until they are listed, which blocks marking and deleting it.
    pub resources: Option<Vec<StackResource>>,
}

/// The reaper's record that a stack was warned, kept between runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Stack id (ARN).
    pub stack_id: String,
    /// When the first notice was planned.
    pub first_notice: Timestamp,
    /// Earliest deletion.
    pub delete_after: Timestamp,
    /// The stack's expiry when it was marked; a later one means the owner snoozed.
    pub expiry_seen: Timestamp,
    /// Notices sent in the current notice cycle; 0 when the mark is dormant (the cycle ended: a
    /// snooze, an expiry no longer past, a life beyond the maximum; the mark keeps the history).
    pub notices: u32,
    /// Times the owner moved the expiry later after the first notice (snoozes).
    pub times_snoozed: u32,
    /// The mode of the run that started this notice cycle. In enforce mode a mark made in report
    /// mode does not count: the owners were told nothing would be deleted.
    pub mode: Mode,
    /// The owner the cycle's notices went to; another owner (or none recorded) starts a new
    /// cycle, so nobody loses a stack on notices sent to someone else.
    pub owner: Option<String>,
}

/// What a run knows besides the stacks and the marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Circumstances {
    /// Deletions counted on the current UTC day, by every run.
    pub deleted_today: u32,
    /// Who the notices topic delivers to.
    pub recipients: Recipients,
}

impl Default for Circumstances {
    /// Nothing deleted today; every notice reaches someone.
    fn default() -> Self {
        Self { deleted_today: 0, recipients: Recipients::everyone() }
    }
}

/// What to do with a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Nothing to do yet.
    Keep,
    /// Notify (the owner, or the operators when there is no usable owner).
    Warn,
    /// Delete the stack.
    Delete,
    /// Out of the reaper's scope.
    Skip,
}

impl Action {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Warn => "warn",
            Self::Delete => "delete",
            Self::Skip => "skip",
        }
    }
}

/// Why a decision was taken; stable kebab-case codes for logs and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonCode {
    /// The kill switch is on.
    ReaperDisabled,
    /// The stack is `DELETE_COMPLETE`.
    AlreadyDeleted,
    /// No `lifeguard:temporary=true`.
    NotOptedIn,
    /// The stack has a parent.
    Nested,
    /// The name matches a protected pattern.
    ProtectedName,
    /// The name matches no pattern of the allowlist (`REAPER_ALLOWED_STACKS`).
    NotAllowed,
    /// An operation is in progress, or the status is unknown.
    UnsettledStatus,
    /// CloudFormation gave no creation time, so its lifetime cannot be counted.
    NoCreationTime,
    /// A lifecycle tag cannot be parsed.
    MalformedTag,
    /// The stack has not expired.
    NotExpired,
    /// The owner moved the expiry to the future after the stack was marked; the notice cycle
    /// ends and the snooze is counted.
    Snoozed,
    /// The tags ask for a life beyond the configured maximum, which has passed.
    BeyondMaxLifetime,
    /// Expired, but in a failed or rollback status.
    FailedStatus,
    /// Expired, but deleting it could delete what it does not own (`IMPORT_COMPLETE`, imported
    /// resources) or stop half-way (resource types the role cannot delete, or resources not
    /// listed yet).
    NotDeletable,
    /// Expired, but deployed with a service role `REAPER_ALLOWED_ROLES` does not list.
    ServiceRole,
    /// Expired, but termination protection is on or unknown.
    TerminationProtected,
    /// Expired, but another stack imports its exports.
    ExportsInUse,
    /// Expired, but no owner tag.
    NoOwner,
    /// Expired, but no confirmed subscription of the topic delivers to its owner (enforce mode).
    OwnerUnreachable,
    /// Expired and not marked yet: first notice, mark written.
    ExpiredFirstNotice,
    /// Marked, waiting for the grace period to end.
    GraceRunning,
    /// Marked, deletion near: second and last notice.
    FinalNotice,
    /// Would be deleted, but the mode is `report`.
    ModeReport,
    /// Would be deleted, but the run's deletion cap is reached.
    DeletionCapReached,
    /// Deleted.
    Delete,
}

impl ReasonCode {
    /// Every code, in the planner's order.
    pub const ALL: [ReasonCode; 25] = [
        Self::ReaperDisabled,
        Self::AlreadyDeleted,
        Self::NotOptedIn,
        Self::Nested,
        Self::ProtectedName,
        Self::NotAllowed,
        Self::UnsettledStatus,
        Self::NoCreationTime,
        Self::MalformedTag,
        Self::NotExpired,
        Self::Snoozed,
        Self::BeyondMaxLifetime,
        Self::FailedStatus,
        Self::NotDeletable,
        Self::ServiceRole,
        Self::TerminationProtected,
        Self::ExportsInUse,
        Self::NoOwner,
        Self::OwnerUnreachable,
        Self::ExpiredFirstNotice,
        Self::GraceRunning,
        Self::FinalNotice,
        Self::ModeReport,
        Self::DeletionCapReached,
        Self::Delete,
    ];

    /// The kebab-case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReaperDisabled => "reaper-disabled",
            Self::AlreadyDeleted => "already-deleted",
            Self::NotOptedIn => "not-opted-in",
            Self::Nested => "nested",
            Self::ProtectedName => "protected-name",
            Self::NotAllowed => "not-allowed",
            Self::UnsettledStatus => "unsettled-status",
            Self::MalformedTag => "malformed-tag",
            Self::NotExpired => "not-expired",
            Self::Snoozed => "snoozed",
            Self::BeyondMaxLifetime => "beyond-max-lifetime",
            Self::FailedStatus => "failed-status",
            Self::NotDeletable => "not-deletable",
            Self::ServiceRole => "service-role",
            Self::NoCreationTime => "no-creation-time",
            Self::TerminationProtected => "termination-protected",
            Self::ExportsInUse => "exports-in-use",
            Self::NoOwner => "no-owner",
            Self::OwnerUnreachable => "owner-unreachable",
            Self::ExpiredFirstNotice => "expired-first-notice",
            Self::GraceRunning => "grace-running",
            Self::FinalNotice => "final-notice",
            Self::ModeReport => "mode-report",
            Self::DeletionCapReached => "deletion-cap-reached",
            Self::Delete => "delete",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to a stack's mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkChange {
    /// Left as it is (or still absent).
    Unchanged,
    /// Written (created or updated).
    Write(Mark),
    /// Removed.
    Clear,
}

/// The decision about one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Stack name.
    pub stack_name: String,
    /// Stack id.
    pub stack_id: String,
    /// What to do.
    pub action: Action,
    /// Why.
    pub reason: ReasonCode,
    /// Specifics for a person, e.g. the malformed tag or the matching pattern.
    pub detail: Option<String>,
    /// Owner's address, when the owner tag holds one.
    pub owner: Option<String>,
    /// Expiry, when the tags could be read.
    pub expiry: Option<Timestamp>,
    /// Earliest deletion, when marked.
    pub delete_after: Option<Timestamp>,
    /// What happens to the mark.
    pub mark: MarkChange,
}

impl Decision {
    fn new(stack: &StackInfo, action: Action, reason: ReasonCode) -> Self {
        let owner = stack.tags.get(OWNER_TAG).map(|o| o.trim()).filter(|o| is_email(o)).map(str::to_owned);
        Self {
            stack_name: stack.name.clone(),
            stack_id: stack.id.clone(),
            action,
            reason,
            detail: None,
            owner,
            expiry: None,
            delete_after: None,
            mark: MarkChange::Unchanged,
        }
    }

    /// The same decision with another action and reason.
    fn with(&self, action: Action, reason: ReasonCode) -> Self {
        Self { action, reason, ..self.clone() }
    }

    fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Clears the mark when there is one.
    fn clear_mark(mut self, mark: Option<&Mark>) -> Self {
        if mark.is_some() {
            self.mark = MarkChange::Clear;
        }
        self
    }

    fn write_mark(mut self, mark: Mark) -> Self {
        self.delete_after = Some(mark.delete_after);
        self.mark = MarkChange::Write(mark);
        self
    }

    /// Writes the mark made dormant: no deletion date any more.
    fn end_cycle(mut self, dormant: Mark) -> Self {
        self.delete_after = None;
        self.mark = MarkChange::Write(dormant);
        self
    }
}

/// Everything one run should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The mode planned for.
    pub mode: Mode,
    /// Whether the kill switch was on.
    pub disabled: bool,
    /// One decision per stack, in input order.
    pub decisions: Vec<Decision>,
    /// Marks to create or update.
    pub marks_to_write: Vec<Mark>,
    /// Stack ids whose marks to remove, including marks of stacks no longer listed.
    pub marks_to_clear: Vec<String>,
    /// Per owner address, names of the stacks to tell them about (warned or deleted).
    pub owner_notices: BTreeMap<String, Vec<String>>,
    /// Names of warned or deleted stacks without a usable owner, for the operators.
    pub operator_notices: Vec<String>,
    /// Whether the deletion cap stopped a deletion this run.
    pub deletion_cap_reached: bool,
}

impl Plan {
    /// The stacks to delete.
    pub fn deletions(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| d.action == Action::Delete)
    }

    /// How many decisions have each reason.
    pub fn reason_counts(&self) -> BTreeMap<ReasonCode, usize> {
        let mut counts = BTreeMap::new();
        for decision in &self.decisions {
            *counts.entry(decision.reason).or_insert(0) += 1;
        }
        counts
    }
}

/// Decides what to do with every stack in the run's `circumstances`. Pure: the same inputs give
/// the same plan.
pub fn plan(
    stacks: &[StackInfo],
    marks: &[Mark],
    config: &ReaperConfig,
    now: Timestamp,
    circumstances: &Circumstances,
) -> Plan {
    let marks_by_stack: HashMap<&str, &Mark> = marks.iter().map(|m| (m.stack_id.as_str(), m)).collect();
    let mut decisions: Vec<Decision> = stacks
        .iter()
        .map(|stack| {
            decide(stack, marks_by_stack.get(stack.id.as_str()).copied(), config, now, circumstances)
        })
        .collect();

    let deletion_cap_reached = cap_deletions(&mut decisions, stacks, config, circumstances.deleted_today);

    let mut marks_to_write = Vec::new();
    let mut marks_to_clear = Vec::new();
    let mut owner_notices: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut operator_notices = Vec::new();
    for decision in &decisions {
        match &decision.mark {
            MarkChange::Unchanged => {}
            MarkChange::Write(mark) => marks_to_write.push(mark.clone()),
            MarkChange::Clear => marks_to_clear.push(decision.stack_id.clone()),
        }
        if matches!(decision.action, Action::Warn | Action::Delete) {
            let name = decision.stack_name.clone();
            match &decision.owner {
                Some(owner) => match owner_notices.get_mut(owner) {
                    Some(names) => names.push(name),
                    None => {
                        owner_notices.insert(owner.clone(), vec![name]);
                    }
                },
                None => operator_notices.push(name),
            }
        }
    }
    if !config.disabled {
        let listed: HashSet<&str> = stacks.iter().map(|s| s.id.as_str()).collect();
        marks_to_clear.extend(
            marks.iter().filter(|m| !listed.contains(m.stack_id.as_str())).map(|m| m.stack_id.clone()),
        );
    }

    Plan {
        mode: config.mode,
        disabled: config.disabled,
        decisions,
        marks_to_write,
        marks_to_clear,
        owner_notices,
        operator_notices,
        deletion_cap_reached,
    }
}

/// How far along its life a status says a stack is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusClass {
    Settled,
    Imported,
    FailedOrRolledBack,
    Deleted,
    InProgress,
}

fn classify(status: &str) -> StatusClass {
    if SETTLED_STATUSES.contains(&status) {
        StatusClass::Settled
    } else if status == IMPORTED_STATUS {
        StatusClass::Imported
    } else if status == "DELETE_COMPLETE" {
        StatusClass::Deleted
    } else if ROLLBACK_STATUSES.contains(&status) || status.ends_with("_FAILED") {
        StatusClass::FailedOrRolledBack
    } else {
        StatusClass::InProgress
    }
}

/// What a rule hands on when it allows the deletion (`Continue`), or the decision when it does
/// not (`Break`).
type Ruling<T> = ControlFlow<Decision, T>;

/// The decision for one stack, before the deletion cap: the rules in order, the first that does
/// not allow the deletion deciding.
fn decide(
    stack: &StackInfo,
    mark: Option<&Mark>,
    config: &ReaperConfig,
    now: Timestamp,
    circumstances: &Circumstances,
) -> Decision {
    let rules = || -> Ruling<Decision> {
        let (status, created) = in_scope(stack, mark, config)?;
        let tags = readable_tags(stack)?;
        let (base, expires) = expired(stack, created, &tags, mark, config, now)?;
        let retrying_deletion = settled(stack, status, mark, &base)?;
        unblocked(stack, &tags, config, &circumstances.recipients, &base)?;
        let noticed = notices_given(stack, tags.owner.as_deref(), mark, expires, config, now, &base)?;
        Continue(enforced(noticed, retrying_deletion, config, &base))
    };
    match rules() {
        Break(decision) | Continue(decision) => decision,
    }
}

/// Rule 1: the reaper is enabled and the stack in its scope: not deleted, opted in, not nested,
/// not protected, allowed, not in progress. Returns its status class.
fn in_scope(
    stack: &StackInfo,
    mark: Option<&Mark>,
    config: &ReaperConfig,
) -> Ruling<(StatusClass, Timestamp)> {
    let skip = |reason| Decision::new(stack, Action::Skip, reason);
    if config.disabled {
        return Break(skip(ReasonCode::ReaperDisabled));
    }
    let status = classify(&stack.status);
    if status == StatusClass::Deleted {
        return Break(skip(ReasonCode::AlreadyDeleted).clear_mark(mark));
    }
    if !is_opted_in(&stack.tags) {
        return Break(skip(ReasonCode::NotOptedIn).clear_mark(mark));
    }
    if let Some(parent) = &stack.parent_id {
        return Break(skip(ReasonCode::Nested).detail(format!("nested in {parent}")).clear_mark(mark));
    }
    if let Some(pattern) = config.protecting_pattern(&stack.name) {
        return Break(
            skip(ReasonCode::ProtectedName)
                .detail(format!("matches protected pattern {pattern:?}"))
                .clear_mark(mark),
        );
    }
    if !config.allows(&stack.name) {
        return Break(
            skip(ReasonCode::NotAllowed)
                .detail("matches no pattern of REAPER_ALLOWED_STACKS")
                .clear_mark(mark),
        );
    }
    if status == StatusClass::InProgress {
        return Break(skip(ReasonCode::UnsettledStatus).detail(stack.status.clone()));
    }
    let Some(created) = stack.created else {
        return Break(skip(ReasonCode::NoCreationTime).detail("CloudFormation gave no creation time"));
    };
    Continue((status, created))
}

/// Rule 2: its lifecycle tags parse; otherwise it is warned about (`malformed-tag`).
fn readable_tags(stack: &StackInfo) -> Ruling<LifecycleTags> {
    match read_lifecycle_tags(&stack.tags) {
        Ok(tags) => Continue(tags),
        Err(error) => {
            Break(Decision::new(stack, Action::Warn, ReasonCode::MalformedTag).detail(error.to_string()))
        }
    }
}

/// Rule 3: it has expired; before that it is kept (`not-expired`, `snoozed`) or, past the maximum
/// lifetime, warned about (`beyond-max-lifetime`), and a running notice cycle ends. Returns the
/// decision so far (owner, expiry, deletion date) and the expiry.
fn expired(
    stack: &StackInfo,
    created: Timestamp,
    tags: &LifecycleTags,
    mark: Option<&Mark>,
    config: &ReaperConfig,
    now: Timestamp,
) -> Ruling<(Decision, Timestamp)> {
    let Expiry { at: expires, cap, .. } = expiry(tags, created, config);
    let mut base = Decision::new(stack, Action::Keep, ReasonCode::NotExpired);
    base.expiry = Some(expires);
    let active = active(mark);
    base.delete_after = active.map(|m| m.delete_after);
    if now >= expires {
        return Continue((base, expires));
    }
    // Ends a notice cycle, keeping the mark's history; `snoozed` counts one more snooze.
    let dormant = |m: &Mark, snoozed: bool| Mark {
        notices: 0,
        expiry_seen: expires,
        times_snoozed: m.times_snoozed.saturating_add(u32::from(snoozed)),
        ..m.clone()
    };
    if now >= cap {
        let limit = format_duration(config.max_lifetime);
        let decision = base
            .with(Action::Warn, ReasonCode::BeyondMaxLifetime)
            .detail(format!("tags ask to live until {expires}, past {cap} ({MAX_LIFETIME_VAR}={limit})"));
        return Break(match active {
            Some(m) => decision.end_cycle(dormant(m, expires > m.expiry_seen)),
            None => decision,
        });
    }
    Break(match mark {
        // Moving the expiry later, in a notice cycle or from a dormant mark, is one more snooze.
        Some(m) if expires > m.expiry_seen => {
            base.with(Action::Keep, ReasonCode::Snoozed).end_cycle(dormant(m, true))
        }
        Some(m) if m.notices > 0 => base.end_cycle(dormant(m, false)),
        _ => base,
    })
}

/// Rule 4: its status is settled, or it is a `DELETE_FAILED` stack that had its final notice (a
/// deletion to retry); a failed or rolled-back stack is warned about (`failed-status`), an
/// imported one too (`not-deletable`). Returns whether the deletion is a retry.
fn settled(stack: &StackInfo, status: StatusClass, mark: Option<&Mark>, base: &Decision) -> Ruling<bool> {
    let retrying_deletion =
        stack.status == "DELETE_FAILED" && mark.is_some_and(|m| m.notices >= NOTICES_BEFORE_DELETION);
    if status == StatusClass::FailedOrRolledBack && !retrying_deletion {
        return Break(base.with(Action::Warn, ReasonCode::FailedStatus).detail(stack.status.clone()));
    }
    if status == StatusClass::Imported {
        return Break(
            base.with(Action::Warn, ReasonCode::NotDeletable)
                .detail("IMPORT_COMPLETE: resources were imported into it, which deleting it would delete"),
        );
    }
    Continue(retrying_deletion)
}

/// Rule 5: its service role, if any, is allowed, termination protection is known to be off, no
/// export is imported elsewhere, and the owner tag is present; otherwise it is warned about with
/// the blocking reason.
fn unblocked(
    stack: &StackInfo,
    tags: &LifecycleTags,
    config: &ReaperConfig,
    recipients: &Recipients,
    base: &Decision,
) -> Ruling<()> {
    let warn = |reason| base.with(Action::Warn, reason);
    if let Some(role) = stack.service_role.as_deref().filter(|role| !config.allows_role(role)) {
        return Break(warn(ReasonCode::ServiceRole).detail(format!(
            "deployed with service role {role}, which {ALLOWED_ROLES_VAR} does not list: deleting it would \
             act with that role's permissions"
        )));
    }
    let Some(resources) = &stack.resources else {
        return Break(warn(ReasonCode::NotDeletable).detail("its resources are not listed yet"));
    };
    let named = |r: &StackResource| format!("{} ({})", r.logical_id, r.resource_type);
    let imported: Vec<String> =
        resources.iter().filter(|r| r.status.starts_with("IMPORT_")).map(named).collect();
    if !imported.is_empty() {
        return Break(
            warn(ReasonCode::NotDeletable).detail(format!(
                "imported resources, which deleting it would delete: {}",
                imported.join(", ")
            )),
        );
    }
    if stack.service_role.is_none() {
        let uncovered: Vec<String> = resources
            .iter()
            .filter(|r| !DELETABLE_RESOURCE_TYPES.contains(&r.resource_type.as_str()))
            .map(named)
            .collect();
        if !uncovered.is_empty() {
            return Break(warn(ReasonCode::NotDeletable).detail(format!(
                "resources the reaper's role cannot delete (it would end DELETE_FAILED half-way): {}",
                uncovered.join(", ")
            )));
        }
    }
    match stack.termination_protection {
        Some(false) => {}
        Some(true) => {
            return Break(warn(ReasonCode::TerminationProtected).detail("termination protection is on"));
        }
        None => {
            return Break(warn(ReasonCode::TerminationProtected).detail("termination protection is unknown"));
        }
    }
    if stack.exports_in_use {
        let detail = match stack.exports.as_slice() {
            [] => "an export may be imported by another stack".to_owned(),
            exports => format!("another stack imports (or may import) one of: {}", exports.join(", ")),
        };
        return Break(warn(ReasonCode::ExportsInUse).detail(detail));
    }
    let Some(owner) = &tags.owner else {
        return Break(warn(ReasonCode::NoOwner).detail(format!("no {OWNER_TAG} tag")));
    };
    if config.mode == Mode::Enforce && !recipients.admit(owner) {
        return Break(warn(ReasonCode::OwnerUnreachable).detail(format!(
            "no confirmed subscription of the notices topic delivers to {owner}: a notice would reach nobody"
        )));
    }
    Continue(())
}

/// Rule 6: it was marked at least one grace period ago in enforce mode, `delete_after` has passed
/// and the final notice went out; otherwise the notice due is planned (first notice, a new cycle,
/// final notice) or the grace runs on (`grace-running`). Returns the mark.
fn notices_given<'a>(
    stack: &StackInfo,
    owner: Option<&str>,
    mark: Option<&'a Mark>,
    expires: Timestamp,
    config: &ReaperConfig,
    now: Timestamp,
    base: &Decision,
) -> Ruling<&'a Mark> {
    let owner_changed = active(mark).is_some_and(|m| m.owner.as_deref() != owner);
    let Some(m) = active(mark).filter(|_| !owner_changed) else {
        let new_mark = Mark {
            stack_id: stack.id.clone(),
            first_notice: now,
            delete_after: now.plus(config.grace),
            expiry_seen: expires,
            notices: 1,
            // From a dormant mark: its count, plus one if the expiry moved since.
            times_snoozed: mark
                .map_or(0, |m| m.times_snoozed.saturating_add(u32::from(expires > m.expiry_seen))),
            mode: config.mode,
            owner: owner.map(str::to_owned),
        };
        let first = base.with(Action::Warn, ReasonCode::ExpiredFirstNotice);
        let first = if owner_changed {
            first.detail("the owner changed; the notice cycle starts again with the new owner")
        } else {
            first
        };
        return Break(first.write_mark(new_mark));
    };
    if config.mode == Mode::Enforce && m.mode == Mode::Report {
        let restarted = Mark {
            first_notice: now,
            delete_after: now.plus(config.grace),
            expiry_seen: expires,
            notices: 1,
            mode: Mode::Enforce,
            ..m.clone()
        };
        return Break(
            base.with(Action::Warn, ReasonCode::ExpiredFirstNotice)
                .detail("marked in report mode; the grace period starts again in enforce mode")
                .write_mark(restarted),
        );
    }
    if expires > m.expiry_seen {
        // The owner moved the expiry, but not past now: a new notice cycle starts.
        let renewed = Mark {
            stack_id: stack.id.clone(),
            first_notice: now,
            delete_after: now.plus(config.grace),
            expiry_seen: expires,
            notices: 1,
            times_snoozed: m.times_snoozed.saturating_add(1),
            mode: config.mode,
            owner: m.owner.clone(),
        };
        return Break(base.with(Action::Warn, ReasonCode::ExpiredFirstNotice).write_mark(renewed));
    }
    let lead = config.final_notice_lead();
    let grace_over = now >= m.delete_after && now >= m.first_notice.plus(config.grace);
    let final_notice_due = m.notices < NOTICES_BEFORE_DELETION && now >= m.delete_after.minus(lead);
    if final_notice_due {
        let updated = Mark {
            notices: NOTICES_BEFORE_DELETION,
            delete_after: if grace_over { m.delete_after.max(now.plus(lead)) } else { m.delete_after },
            // A final notice sent in report mode said nothing would be deleted.
            mode: if config.mode == Mode::Report { Mode::Report } else { m.mode },
            ..m.clone()
        };
        return Break(base.with(Action::Warn, ReasonCode::FinalNotice).write_mark(updated));
    }
    if !grace_over || m.notices < NOTICES_BEFORE_DELETION {
        return Break(base.with(Action::Keep, ReasonCode::GraceRunning));
    }
    Continue(m)
}

/// Rule 7: the mode is `enforce`, else it is warned about (`mode-report`) and its mark counts no
/// more in enforce mode. The run's deletion cap, the rest of the rule, needs every decision:
/// [`cap_deletions`].
fn enforced(mark: &Mark, retrying_deletion: bool, config: &ReaperConfig, base: &Decision) -> Decision {
    match config.mode {
        // What report mode said ("nothing is deleted") must not count in enforce mode.
        Mode::Report if mark.mode == Mode::Enforce => base
            .with(Action::Warn, ReasonCode::ModeReport)
            .detail("would delete in enforce mode")
            .write_mark(Mark { mode: Mode::Report, ..mark.clone() }),
        Mode::Report => {
            base.with(Action::Warn, ReasonCode::ModeReport).detail("would delete in enforce mode")
        }
        Mode::Enforce if retrying_deletion => base
            .with(Action::Delete, ReasonCode::Delete)
            .detail("retrying a deletion that ended DELETE_FAILED"),
        Mode::Enforce => base.with(Action::Delete, ReasonCode::Delete),
    }
}

/// The deletion cap of rule 7: beyond `max_deletions` this run, or beyond what is left of
/// `max_deletions_per_day` after `deleted_today`, a planned deletion is warned about
/// (`deletion-cap-reached`), the oldest `delete_after` going first and retries of a
/// `DELETE_FAILED` deletion last. Returns whether the cap held one back.
fn cap_deletions(
    decisions: &mut [Decision],
    stacks: &[StackInfo],
    config: &ReaperConfig,
    deleted_today: u32,
) -> bool {
    let mut candidates: Vec<usize> =
        (0..decisions.len()).filter(|&i| decisions[i].action == Action::Delete).collect();
    // Retries of failed deletions go last, so stacks that keep failing cannot take every slot.
    let retry = |i: usize| stacks[i].status == "DELETE_FAILED";
    candidates.sort_by(|&a, &b| {
        let key = |i: usize| (retry(i), decisions[i].delete_after, &decisions[i].stack_id);
        key(a).cmp(&key(b))
    });
    let left_today = config.max_deletions_per_day.saturating_sub(deleted_today);
    let (cap, cap_detail) = if left_today < config.max_deletions {
        let per_day = config.max_deletions_per_day;
        (
            left_today,
            format!("{MAX_DELETIONS_PER_DAY_VAR}={per_day}: {deleted_today} deletions counted today"),
        )
    } else {
        let per_run = config.max_deletions;
        (per_run, format!("{MAX_DELETIONS_VAR}={per_run} deletions already planned this run"))
    };
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    for &index in candidates.iter().skip(cap) {
        let decision = &mut decisions[index];
        decision.action = Action::Warn;
        decision.reason = ReasonCode::DeletionCapReached;
        decision.detail = Some(cap_detail.clone());
    }
    candidates.len() > cap
}

/// The mark when its notice cycle is running; a dormant one (no notice in its cycle) only keeps
/// the stack's history.
fn active(mark: Option<&Mark>) -> Option<&Mark> {
    mark.filter(|m| m.notices > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{NOW, ripe_mark, stack};
    use crate::tags::{EXPIRES_AT_TAG, TEMPORARY_TAG, TTL_TAG};
    use std::time::Duration;

    const HOUR: i64 = 3_600;
    const DAY: i64 = 24 * HOUR;

    fn ago(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(NOW.unix_seconds() - seconds)
    }

    fn enforce() -> ReaperConfig {
        ReaperConfig { mode: Mode::Enforce, ..ReaperConfig::default() }
    }

    fn decide_one(stack: &StackInfo, mark: Option<&Mark>, config: &ReaperConfig) -> Decision {
        let marks: Vec<Mark> = mark.into_iter().cloned().collect();
        plan(std::slice::from_ref(stack), &marks, config, NOW, &Circumstances::default()).decisions.remove(0)
    }

    fn assert_decision(decision: &Decision, action: Action, reason: ReasonCode) {
        assert_eq!((decision.action, decision.reason), (action, reason), "{decision:#?}");
    }

    #[test]
    fn deletes_a_ripe_stack_in_enforce_mode() {
        let s = stack("pr-1", 20);
        let d = decide_one(&s, Some(&ripe_mark(&s)), &enforce());
        assert_decision(&d, Action::Delete, ReasonCode::Delete);
        assert_eq!(d.owner.as_deref(), Some("dev@example.com"));
        assert_eq!(d.mark, MarkChange::Unchanged);
    }

    #[test]
    fn report_mode_never_deletes() {
        let s = stack("pr-1", 20);
        let d = decide_one(&s, Some(&ripe_mark(&s)), &ReaperConfig::default());
        assert_decision(&d, Action::Warn, ReasonCode::ModeReport);
    }

    #[test]
    fn kill_switch_skips_everything_and_changes_nothing() {
        let s = stack("pr-1", 20);
        let config = ReaperConfig { disabled: true, ..enforce() };
        let marks = [ripe_mark(&s), Mark { stack_id: "gone".into(), ..ripe_mark(&s) }];
        let plan = plan(&[s], &marks, &config, NOW, &Circumstances::default());
        assert_decision(&plan.decisions[0], Action::Skip, ReasonCode::ReaperDisabled);
        assert!(plan.disabled && plan.marks_to_clear.is_empty() && plan.marks_to_write.is_empty());
        assert!(plan.owner_notices.is_empty() && plan.operator_notices.is_empty());
    }

    #[test]
    fn skips_stacks_out_of_scope_and_clears_their_marks() {
        let config = enforce();
        let mut deleted = stack("a", 20);
        deleted.status = "DELETE_COMPLETE".into();
        let mut opted_out = stack("b", 20);
        opted_out.tags.insert(TEMPORARY_TAG.into(), "false".into());
        let mut nested = stack("c", 20);
        nested.parent_id = Some("arn:parent".into());
        let protected = stack("lifeguard", 20);
        for (s, reason) in [
            (deleted, ReasonCode::AlreadyDeleted),
            (opted_out, ReasonCode::NotOptedIn),
            (nested, ReasonCode::Nested),
            (protected, ReasonCode::ProtectedName),
        ] {
            let d = decide_one(&s, Some(&ripe_mark(&s)), &config);
            assert_decision(&d, Action::Skip, reason);
            assert_eq!(d.mark, MarkChange::Clear);
        }
    }

    #[test]
    fn deletes_only_stacks_the_allowlist_names() {
        let config = ReaperConfig { allowed_stacks: Some(vec!["pr-*".into()]), ..enforce() };
        let outside = stack("team-db", 20);
        let d = decide_one(&outside, Some(&ripe_mark(&outside)), &config);
        assert_decision(&d, Action::Skip, ReasonCode::NotAllowed);
        assert_eq!(d.mark, MarkChange::Clear);
        let inside = stack("pr-1", 20);
        assert_decision(
            &decide_one(&inside, Some(&ripe_mark(&inside)), &config),
            Action::Delete,
            ReasonCode::Delete,
        );
    }

    #[test]
    fn protects_own_and_configured_patterns() {
        let config = ReaperConfig { protected_stacks: vec!["shared-*".into()], ..enforce() };
        for name in ["lifeguard-reaper", "lifeguard", "shared-vpc"] {
            let s = stack(name, 20);
            assert_decision(
                &decide_one(&s, Some(&ripe_mark(&s)), &config),
                Action::Skip,
                ReasonCode::ProtectedName,
            );
        }
    }

    #[test]
    fn skips_stacks_in_progress_keeping_the_mark() {
        for status in ["UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "REVIEW_IN_PROGRESS", "SOMETHING_NEW"] {
            let mut s = stack("pr-1", 20);
            s.status = status.into();
            let d = decide_one(&s, Some(&ripe_mark(&s)), &enforce());
            assert_decision(&d, Action::Skip, ReasonCode::UnsettledStatus);
            assert_eq!(d.mark, MarkChange::Unchanged);
        }
    }

    #[test]
    fn skips_a_stack_without_a_creation_time_keeping_the_mark() {
        let mut s = stack("pr-1", 20);
        let ripe = ripe_mark(&s);
        s.created = None;
        let d = decide_one(&s, Some(&ripe), &enforce());
        assert_decision(&d, Action::Skip, ReasonCode::NoCreationTime);
        assert_eq!(d.mark, MarkChange::Unchanged);
    }

    #[test]
    fn reports_failed_and_rollback_states() {
        for status in
            ["ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED"]
        {
            let mut s = stack("pr-1", 20);
            s.status = status.into();
            let half_notified = Mark { notices: 1, ..ripe_mark(&s) };
            for mark in [None, Some(&half_notified)] {
                let d = decide_one(&s, mark, &enforce());
                assert_decision(&d, Action::Warn, ReasonCode::FailedStatus);
                assert_eq!(d.detail.as_deref(), Some(status));
            }
            if status != "DELETE_FAILED" {
                let d = decide_one(&s, Some(&ripe_mark(&s)), &enforce());
                assert_decision(&d, Action::Warn, ReasonCode::FailedStatus);
            }
        }
    }

    #[test]
    fn never_deletes_a_stack_whose_last_operation_imported_resources() {
        let mut s = stack("pr-1", 20);
        s.status = "IMPORT_COMPLETE".into();
        for mark in [None, Some(&ripe_mark(&s))] {
            let d = decide_one(&s, mark, &enforce());
            assert_decision(&d, Action::Warn, ReasonCode::NotDeletable);
            assert!(d.detail.as_deref().unwrap().contains("IMPORT_COMPLETE"), "{d:?}");
        }
    }

    #[test]
    fn deletes_a_stack_with_a_service_role_only_when_the_role_is_allowed() {
        let mut s = stack("pr-1", 20);
        s.service_role = Some("arn:aws:iam::123456789012:role/admin".into());
        let mut config = enforce();
        let d = decide_one(&s, Some(&ripe_mark(&s)), &config);
        assert_decision(&d, Action::Warn, ReasonCode::ServiceRole);
        assert!(d.detail.as_deref().unwrap().contains("role/admin"), "{d:?}");
        let d = decide_one(&s, None, &config);
        assert_decision(&d, Action::Warn, ReasonCode::ServiceRole);
        config.allowed_roles = vec!["arn:aws:iam::123456789012:role/ad*".into()];
        assert_decision(&decide_one(&s, Some(&ripe_mark(&s)), &config), Action::Delete, ReasonCode::Delete);
    }

    #[test]
    fn deletes_only_stacks_whose_resources_are_listed_owned_and_deletable() {
        let resource = |logical_id: &str, resource_type: &str, status: &str| StackResource {
            logical_id: logical_id.into(),
            resource_type: resource_type.into(),
            status: status.into(),
        };
        let mut s = stack("pr-1", 20);
        let ripe = ripe_mark(&s);
        s.resources = None;
        let d = decide_one(&s, Some(&ripe), &enforce());
        assert_decision(&d, Action::Warn, ReasonCode::NotDeletable);
        assert_eq!(d.detail.as_deref(), Some("its resources are not listed yet"));

        s.resources = Some(vec![
            resource("Fn", "AWS::Lambda::Function", "UPDATE_COMPLETE"),
            resource("Table", "AWS::DynamoDB::Table", "IMPORT_COMPLETE"),
        ]);
        let d = decide_one(&s, Some(&ripe), &enforce());
        assert_decision(&d, Action::Warn, ReasonCode::NotDeletable);
        assert!(
            d.detail
                .as_deref()
                .unwrap()
                .contains("imported resources, which deleting it would delete: Table (AWS::DynamoDB::Table)"),
            "{d:?}"
        );

        s.resources = Some(vec![
            resource("Fn", "AWS::Lambda::Function", "CREATE_COMPLETE"),
            resource("Bucket", "AWS::S3::Bucket", "CREATE_COMPLETE"),
        ]);
        let d = decide_one(&s, Some(&ripe), &enforce());
        assert_decision(&d, Action::Warn, ReasonCode::NotDeletable);
        assert!(d.detail.as_deref().unwrap().ends_with("half-way): Bucket (AWS::S3::Bucket)"), "{d:?}");

        // With an allowed service role, CloudFormation deletes with that role: any type goes.
        s.service_role = Some("arn:aws:iam::123456789012:role/deployer".into());
        let config = ReaperConfig { allowed_roles: vec!["arn:aws:iam::*:role/deployer".into()], ..enforce() };
        assert_decision(&decide_one(&s, Some(&ripe), &config), Action::Delete, ReasonCode::Delete);
    }

    #[test]
    fn in_enforce_mode_an_owner_the_topic_does_not_reach_never_loses_a_stack() {
        use crate::recipients::{Admission, DIGEST_OWNER, OwnerCondition};
        let s = stack("pr-1", 20);
        let operators_only = Circumstances {
            deleted_today: 0,
            recipients: Recipients {
                subscriptions: vec![Admission::Owners(vec![OwnerCondition::Exactly(DIGEST_OWNER.into())])],
            },
        };
        for mark in [None, Some(ripe_mark(&s))] {
            let plan_ = plan(std::slice::from_ref(&s), mark.as_slice(), &enforce(), NOW, &operators_only);
            assert_decision(&plan_.decisions[0], Action::Warn, ReasonCode::OwnerUnreachable);
            assert!(plan_.marks_to_write.is_empty(), "no notice that reaches nobody counts");
        }
        let report = ReaperConfig::default();
        let plan_ = plan(std::slice::from_ref(&s), &[], &report, NOW, &operators_only);
        assert_decision(&plan_.decisions[0], Action::Warn, ReasonCode::ExpiredFirstNotice);
    }

    #[test]
    fn another_owner_starts_the_notice_cycle_again() {
        let mut s = stack("pr-1", 20);
        let ripe = ripe_mark(&s);
        s.tags.insert(crate::tags::OWNER_TAG.into(), "new@example.com".into());
        let d = decide_one(&s, Some(&ripe), &enforce());
        assert_decision(&d, Action::Warn, ReasonCode::ExpiredFirstNotice);
        assert!(d.detail.as_deref().unwrap().contains("owner changed"), "{d:?}");
        let MarkChange::Write(mark) = d.mark else { panic!("{d:?}") };
        assert_eq!(
            (mark.owner.as_deref(), mark.notices, mark.first_notice),
            (Some("new@example.com"), 1, NOW)
        );
        // A mark written before owners were recorded starts over too.
        let unrecorded = Mark { owner: None, ..ripe_mark(&stack("pr-1", 20)) };
        let d = decide_one(&stack("pr-1", 20), Some(&unrecorded), &enforce());
        assert_decision(&d, Action::Warn, ReasonCode::ExpiredFirstNotice);
    }

    #[test]
    fn retries_a_failed_deletion_of_a_stack_that_had_its_final_notice() {
        let mut s = stack("pr-1", 20);
        s.status = "DELETE_FAILED".into();
        let d = decide_one(&s, Some(&ripe_mark(&s)), &enforce());
        assert_decision(&d, Action::Delete, ReasonCode::Delete);
        assert!(d.detail.as_deref().unwrap().contains("DELETE_FAILED"), "{d:?}");
        s.termination_protection = Some(true);
        let d = decide_one(&s, Some(&ripe_mark(&s)), &enforce());
        assert_decision(&d, Action::Warn, ReasonCode::TerminationProtected);
    }

    #[test]
    fn marks_made_in_report_mode_do_not_count_in_enforce_mode() {
        let s = stack("pr-1", 20);
        let reported = Mark { mode: Mode::Report, times_snoozed: 1, ..ripe_mark(&s) };
        let d = decide_one(&s, Some(&reported), &ReaperConfig::default());
        assert_decision(&d, Action::Warn, ReasonCode::ModeReport);

        let d = decide_one(&s, Some(&reported), &enforce());
        assert_decision(&d, Action::Warn, ReasonCode::ExpiredFirstNotice);
        let MarkChange::Write(restarted) = d.mark else { panic!("{d:?}") };
        assert_eq!(
            (restarted.first_notice, restarted.notices, restarted.mode, restarted.times_snoozed),
            (NOW, 1, Mode::Enforce, 1)
        );
        assert_eq!(restarted.delete_after, NOW.plus(Duration::from_secs(3 * DAY as u64)));

        let plan_ =
            plan(std::slice::from_ref(&s), &[], &ReaperConfig::default(), NOW, &Circumstances::default());
        assert_eq!(plan_.marks_to_write[0].mode, Mode::Report);
    }

    #[test]
    fn a_report_mode_notice_about_an_enforce_mark_makes_it_count_no_more() {
        let s = stack("pr-1", 20);
        // Ripe in enforce mode, then the mode went back to report.
        let d = decide_one(&s, Some(&ripe_mark(&s)), &ReaperConfig::default());
        assert_decision(&d, Action::Warn, ReasonCode::ModeReport);
        let MarkChange::Write(downgraded) = d.mark else { panic!("{d:?}") };
        assert_eq!(downgraded, Mark { mode: Mode::Report, ..ripe_mark(&s) });
        // Back in enforce mode: a new cycle, not an immediate deletion.
        let d = decide_one(&s, Some(&downgraded), &enforce());
        assert_decision(&d, Action::Warn, ReasonCode::ExpiredFirstNotice);

        // A final notice sent in report mode does not count either.
        let half = Mark { notices: 1, delete_after: NOW, ..ripe_mark(&s) };
        let d = decide_one(&s, Some(&half), &ReaperConfig::default());
        assert_decision(&d, Action::Warn, ReasonCode::FinalNotice);
        let MarkChange::Write(noticed) = d.mark else { panic!("{d:?}") };
        assert_eq!(noticed.mode, Mode::Report);
    }

    #[test]
    fn retries_of_failed_deletions_take_the_last_slots_of_the_cap() {
        let mut stuck = stack("a-stuck", 20);
        stuck.status = "DELETE_FAILED".into();
        let fresh = stack("b-fresh", 20);
        let old_mark = Mark { delete_after: ago(30 * DAY), ..ripe_mark(&stuck) };
        let config = ReaperConfig { max_deletions: 1, ..enforce() };
        let plan_ = plan(
            &[stuck.clone(), fresh.clone()],
            &[old_mark, ripe_mark(&fresh)],
            &config,
            NOW,
            &Circumstances::default(),
        );
        assert_decision(&plan_.decisions[1], Action::Delete, ReasonCode::Delete);
        assert_decision(&plan_.decisions[0], Action::Warn, ReasonCode::DeletionCapReached);
    }

    #[test]
    fn reports_malformed_tags_to_the_owner_or_the_operators() {
        let mut s = stack("pr-1", 20);
        s.tags.insert(TTL_TAG.into(), "3 days".into());
        let plan_ =
            plan(std::slice::from_ref(&s), &[ripe_mark(&s)], &enforce(), NOW, &Circumstances::default());
        assert_decision(&plan_.decisions[0], Action::Warn, ReasonCode::MalformedTag);
        assert!(plan_.decisions[0].detail.as_deref().unwrap().starts_with(TTL_TAG));
        assert_eq!(plan_.owner_notices["dev@example.com"], ["pr-1"]);

        s.tags.insert(OWNER_TAG.into(), "the dev team".into());
        let plan_ = plan(&[s], &[], &enforce(), NOW, &Circumstances::default());
        assert_decision(&plan_.decisions[0], Action::Warn, ReasonCode::MalformedTag);
        assert_eq!(plan_.operator_notices, ["pr-1"]);
    }

    #[test]
    fn blocks_deletion_of_expired_stacks() {
        let config = enforce();
        let mut protected = stack("a", 20);
        protected.termination_protection = Some(true);
        let mut unknown = stack("b", 20);
        unknown.termination_protection = None;
        let mut exporting = stack("c", 20);
        exporting.exports_in_use = true;
        let mut ownerless = stack("d", 20);
        ownerless.tags.remove(OWNER_TAG);
        for (s, reason) in [
            (protected, ReasonCode::TerminationProtected),
            (unknown, ReasonCode::TerminationProtected),
            (exporting, ReasonCode::ExportsInUse),
            (ownerless, ReasonCode::NoOwner),
        ] {
            let d = decide_one(&s, Some(&ripe_mark(&s)), &config);
            assert_decision(&d, Action::Warn, reason);
            assert_eq!(d.mark, MarkChange::Unchanged);
        }
    }

    #[test]
    fn keeps_unexpired_stacks() {
        let mut s = stack("pr-1", 20);
        s.created = Some(ago(DAY));
        let d = decide_one(&s, None, &enforce());
        assert_decision(&d, Action::Keep, ReasonCode::NotExpired);
        assert_eq!(d.expiry, Some(ago(DAY).plus(Duration::from_secs(14 * DAY as u64))));
    }

    #[test]
    fn a_later_expiry_in_the_future_is_a_snooze_that_ends_the_cycle_and_is_counted() {
        let mut s = stack("pr-1", 20);
        let mark = ripe_mark(&s);
        let snoozed_to = NOW.plus(Duration::from_secs(DAY as u64));
        s.tags.insert(EXPIRES_AT_TAG.into(), snoozed_to.to_string());
        let plan_ = plan(
            std::slice::from_ref(&s),
            std::slice::from_ref(&mark),
            &enforce(),
            NOW,
            &Circumstances::default(),
        );
        let d = &plan_.decisions[0];
        assert_decision(d, Action::Keep, ReasonCode::Snoozed);
        assert_eq!(d.delete_after, None);
        let dormant = Mark { notices: 0, times_snoozed: 1, expiry_seen: snoozed_to, ..mark };
        assert_eq!(plan_.marks_to_write, std::slice::from_ref(&dormant));
        assert!(plan_.marks_to_clear.is_empty());

        // Dormant: kept with no change until the new expiry; then a new cycle, the snooze counted.
        let d = decide_one(&s, Some(&dormant), &enforce());
        assert_decision(&d, Action::Keep, ReasonCode::NotExpired);
        assert_eq!((d.mark.clone(), d.delete_after), (MarkChange::Unchanged, None));
        s.tags.insert(EXPIRES_AT_TAG.into(), ago(HOUR).to_string());
        let d = decide_one(&s, Some(&dormant), &enforce());
        assert_decision(&d, Action::Warn, ReasonCode::ExpiredFirstNotice);
        let MarkChange::Write(again) = d.mark else { panic!("{d:?}") };
        assert_eq!((again.notices, again.times_snoozed, again.first_notice), (1, 1, NOW));
    }

    #[test]
    fn a_later_expiry_already_past_restarts_the_notices() {
        let mut s = stack("pr-1", 20);
        let mark = ripe_mark(&s);
        s.tags.insert(EXPIRES_AT_TAG.into(), ago(HOUR).to_string());
        let d = decide_one(&s, Some(&mark), &enforce());
        assert_decision(&d, Action::Warn, ReasonCode::ExpiredFirstNotice);
        let MarkChange::Write(renewed) = d.mark else { panic!("{d:?}") };
        assert_eq!((renewed.first_notice, renewed.notices, renewed.times_snoozed), (NOW, 1, 1));
        assert_eq!(renewed.delete_after, NOW.plus(Duration::from_secs(3 * DAY as u64)));
    }

    #[test]
    fn reports_lives_beyond_the_cap() {
        let mut s = stack("pr-1", 20);
        s.created = Some(ago(61 * DAY));
        s.tags.insert(EXPIRES_AT_TAG.into(), NOW.plus(Duration::from_secs(DAY as u64)).to_string());
        let d = decide_one(&s, Some(&ripe_mark(&s)), &enforce());
        assert_decision(&d, Action::Warn, ReasonCode::BeyondMaxLifetime);
        assert!(d.detail.as_deref().unwrap().contains("REAPER_MAX_LIFETIME=60d"), "{d:?}");
        let MarkChange::Write(dormant) = d.mark else { panic!("{d:?}") };
        assert_eq!((dormant.notices, dormant.times_snoozed), (0, 1), "the cycle ends, the snooze counts");

        s.created = Some(ago(59 * DAY));
        assert_decision(&decide_one(&s, None, &enforce()), Action::Keep, ReasonCode::NotExpired);
    }

    #[test]
    fn first_notice_writes_a_mark_one_grace_period_out() {
        let s = stack("pr-1", 20);
        let plan_ = plan(std::slice::from_ref(&s), &[], &enforce(), NOW, &Circumstances::default());
        assert_decision(&plan_.decisions[0], Action::Warn, ReasonCode::ExpiredFirstNotice);
        let expected = Mark {
            stack_id: s.id.clone(),
            first_notice: NOW,
            delete_after: NOW.plus(Duration::from_secs(3 * DAY as u64)),
            expiry_seen: s.created.unwrap().plus(Duration::from_secs(14 * DAY as u64)),
            notices: 1,
            times_snoozed: 0,
            mode: Mode::Enforce,
            owner: Some("dev@example.com".into()),
        };
        assert_eq!(plan_.marks_to_write, std::slice::from_ref(&expected));
        assert_eq!(plan_.decisions[0].delete_after, Some(expected.delete_after));
        assert_eq!(plan_.owner_notices["dev@example.com"], ["pr-1"]);
    }

    #[test]
    fn waits_out_the_grace_then_sends_the_final_notice() {
        let s = stack("pr-1", 20);
        let mut mark = ripe_mark(&s);
        mark.first_notice = ago(DAY);
        mark.delete_after = NOW.plus(Duration::from_secs(2 * DAY as u64));
        mark.notices = 1;
        assert_decision(&decide_one(&s, Some(&mark), &enforce()), Action::Keep, ReasonCode::GraceRunning);

        mark.delete_after = NOW.plus(Duration::from_secs(HOUR as u64));
        let d = decide_one(&s, Some(&mark), &enforce());
        assert_decision(&d, Action::Warn, ReasonCode::FinalNotice);
        assert_eq!(d.mark, MarkChange::Write(Mark { notices: 2, ..mark.clone() }));

        mark.notices = 2;
        assert_decision(&decide_one(&s, Some(&mark), &enforce()), Action::Keep, ReasonCode::GraceRunning);
    }

    #[test]
    fn a_late_final_notice_postpones_the_deletion() {
        let s = stack("pr-1", 20);
        let mark = Mark { notices: 1, ..ripe_mark(&s) };
        let d = decide_one(&s, Some(&mark), &enforce());
        assert_decision(&d, Action::Warn, ReasonCode::FinalNotice);
        let MarkChange::Write(updated) = d.mark else { panic!("{d:?}") };
        assert_eq!(updated.delete_after, NOW.plus(Duration::from_secs(DAY as u64)));
    }

    #[test]
    fn a_mark_younger_than_the_grace_never_deletes() {
        let s = stack("pr-1", 20);
        let mark = Mark { first_notice: ago(DAY), ..ripe_mark(&s) };
        assert_decision(&decide_one(&s, Some(&mark), &enforce()), Action::Keep, ReasonCode::GraceRunning);
    }

    #[test]
    fn the_cap_stops_deletions_loudly_oldest_first() {
        let stacks: Vec<StackInfo> = (0..4).map(|i| stack(&format!("pr-{i}"), 20)).collect();
        let marks: Vec<Mark> = stacks
            .iter()
            .zip(0..)
            .map(|(s, i)| Mark { delete_after: ago(DAY + i), ..ripe_mark(s) })
            .collect();
        let config = ReaperConfig { max_deletions: 2, ..enforce() };
        let plan_ = plan(&stacks, &marks, &config, NOW, &Circumstances::default());
        let deleted: Vec<&str> = plan_.deletions().map(|d| d.stack_name.as_str()).collect();
        assert_eq!(deleted, ["pr-2", "pr-3"]);
        assert!(plan_.deletion_cap_reached);
        assert_decision(&plan_.decisions[0], Action::Warn, ReasonCode::DeletionCapReached);
        assert!(plan_.decisions[0].detail.as_deref().unwrap().contains("REAPER_MAX_DELETIONS=2"));
        assert_eq!(plan_.reason_counts()[&ReasonCode::DeletionCapReached], 2);
    }

    #[test]
    fn clears_marks_of_stacks_no_longer_listed() {
        let s = stack("pr-1", 20);
        let orphan = Mark { stack_id: "arn:gone".into(), ..ripe_mark(&s) };
        let plan_ = plan(&[], &[orphan], &enforce(), NOW, &Circumstances::default());
        assert_eq!(plan_.marks_to_clear, ["arn:gone"]);
    }

    #[test]
    fn reason_codes_are_stable_kebab_case() {
        let codes: Vec<&str> = ReasonCode::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), codes.len());
        for reason in ReasonCode::ALL {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
            assert_eq!(reason.to_string(), reason.as_str());
        }
        assert_eq!(serde_json::to_value(Action::Delete).unwrap(), "delete");
    }

    #[test]
    fn plans_ten_thousand_stacks() {
        let stacks: Vec<StackInfo> = (0..10_000).map(|i| stack(&format!("pr-{i}"), 20)).collect();
        let marks: Vec<Mark> = stacks.iter().step_by(2).map(ripe_mark).collect();
        let plan_ = plan(&stacks, &marks, &enforce(), NOW, &Circumstances::default());
        assert_eq!(plan_.decisions.len(), 10_000);
        assert_eq!(plan_.deletions().count(), 5);
        assert_eq!(plan_.reason_counts()[&ReasonCode::DeletionCapReached], 4_995);
        assert_eq!(plan_.reason_counts()[&ReasonCode::ExpiredFirstNotice], 5_000);
        assert_eq!(plan_.marks_to_write.len(), 5_000);
        assert_eq!(plan_.owner_notices["dev@example.com"].len(), 10_000);
    }
}
