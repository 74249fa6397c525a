//! The AWS operations the reaper needs, as small traits over plain data: the planner and its
//! caller never see SDK types. The adapters live in [`crate::aws`]
//! ([`CloudFormationClient`](crate::aws::CloudFormationClient),
//! [`DynamoDbMarks`](crate::aws::DynamoDbMarks), [`SnsNotifier`](crate::aws::SnsNotifier)).

use crate::plan::{Mark, StackInfo};
use lifeguard_common::AwsError;
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

    /// `DeleteStack` by stack id. Success only means CloudFormation took the request: the
    /// deletion may still fail (`DELETE_FAILED`), which a later listing shows.
    fn delete(&self, stack_id: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// The reaper's marks, kept between runs (DynamoDB).
pub trait MarksStore: Sync {
    /// Every mark (all pages).
    fn load(&self) -> impl Future<Output = Result<Vec<Mark>, AwsError>> + Send;
    /// Writes a mark, replacing the stack's earlier one.
    fn write(&self, mark: &Mark) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Removes the stack's mark; removing an absent mark succeeds.
    fn clear(&self, stack_id: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
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
}
