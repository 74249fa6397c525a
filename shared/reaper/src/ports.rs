//! The AWS operations the reaper needs, as small traits over plain data: the planner and its
//! caller never see SDK types. The adapters live in [`crate::aws`]
//! ([`CloudFormationClient`](crate::aws::CloudFormationClient),
//! [`DynamoDbMarks`](crate::aws::DynamoDbMarks), [`SnsNotifier`](crate::aws::SnsNotifier)).

use crate::plan::{Mark, StackInfo, StackResource};
use crate::recipients::Recipients;
use lifeguard_common::AwsError;
use lifeguard_common::time::Timestamp;
use std::future::Future;

/// The stacks of the account and region (CloudFormation).
pub trait Stacks: Sync {
    /// Every stack `DescribeStacks` lists (all pages), with no per-stack call: `exports_in_use`
    /// is `true` for every stack with exports (not ruled out yet). The caller describes the few
    /// stacks where that, or an unknown termination protection, blocks a deletion.
    fn list(&self) -> impl Future<Output = Result<Vec<StackInfo>, AwsError>> + Send;

    /// One stack by name (or id); `None` when CloudFormation says it does not exist.
    /// `exports_in_use` is looked up (`ListImports`, one call per export): an export is free
    /// only when CloudFormation says it "is not imported by any stack"; any other error counts
    /// as in use, so doubt never deletes.
    fn describe(&self, name: &str) -> impl Future<Output = Result<Option<StackInfo>, AwsError>> + Send;

    /// Every resource of the stack (all pages of `ListStackResources`), by stack id.
    fn resources(&self, stack_id: &str) -> impl Future<Output = Result<Vec<StackResource>, AwsError>> + Send;

    /// `DeleteStack` by stack id. Success only means CloudFormation took the request: the
    /// deletion may still fail (`DELETE_FAILED`), which a later listing shows.
    fn delete(&self, stack_id: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// The reaper's marks, kept between runs, with the run lease and the daily deletion count in
/// the same table (DynamoDB).
pub trait MarksStore: Sync {
    /// Every mark (all pages); the lease and the deletion counts are not marks.
    fn load(&self) -> impl Future<Output = Result<Vec<Mark>, AwsError>> + Send;
    /// Applies the changes, each only if the stored mark is still as the run read it (a mark
    /// another run changed meanwhile is left alone: `MarkChanged`). Returns one result per change,
    /// in order; removing an absent mark succeeds.
    fn change(&self, changes: &[MarkUpdate<'_>]) -> impl Future<Output = Vec<Result<(), AwsError>>> + Send;
    /// Takes the run lease for `run_id` until `until`, unless another run holds one that has not
    /// expired at `now`: then returns that run's id and expiry.
    fn take_lease(
        &self,
        run_id: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<Result<(), (String, Timestamp)>, AwsError>> + Send;
    /// Gives the lease back, if `run_id` still holds it.
    fn release_lease(&self, run_id: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Deletions counted on `day` (`YYYY-MM-DD`, UTC) so far.
    fn deletions_on(&self, day: &str) -> impl Future<Output = Result<u32, AwsError>> + Send;
    /// Counts one more deletion on `day` if fewer than `max` were counted; `false` when the
    /// day's budget is spent.
    fn count_deletion(&self, day: &str, max: u32) -> impl Future<Output = Result<bool, AwsError>> + Send;
}

/// One conditional change of a stack's mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkUpdate<'a> {
    /// Store `mark` if the stored mark is still `read` (absent when `None`).
    Write {
        /// The new mark.
        mark: &'a Mark,
        /// The mark the run read.
        read: Option<&'a Mark>,
    },
    /// Remove the stack's mark if it is still `read`.
    Clear {
        /// The mark the run read.
        read: &'a Mark,
    },
}

impl MarkUpdate<'_> {
    /// The stack whose mark changes.
    pub fn stack_id(&self) -> &str {
        match self {
            MarkUpdate::Write { mark, .. } => &mark.stack_id,
            MarkUpdate::Clear { read } => &read.stack_id,
        }
    }
}

/// Where notices go (SNS).
pub trait Notifier: Sync {
    /// A notice for one stack owner (their email address).
    fn notify(
        &self,
        owner: &str,
        subject: &str,
        message: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// The run's digest for the operators.
    fn digest(&self, subject: &str, message: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Who the topic delivers to: its confirmed subscriptions and their filter policies.
    fn recipients(&self) -> impl Future<Output = Result<Recipients, AwsError>> + Send;
}
