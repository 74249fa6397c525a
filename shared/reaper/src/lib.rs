//! The stale-environment reaper. Its pure core: its settings ([`config`]), the tags it reads
//! ([`tags`]), stack-name patterns ([`glob`]) and the planner
//! ([`mod@plan`]) that decides, per stack, to keep, warn, delete or skip, with a stable reason code.
//!
//! Nothing here calls AWS: the caller reads [`ReaperConfig::from_env`] (stopping on error before
//! any AWS call), lists stacks and marks, calls [`plan()`], and carries it out ([`run`]):
//! delete, write and clear marks, send the notices and the digest, and report ([`report`]). It
//! never changes a stack: deletion dates live in the marks, the notices and the digest. [`lambda`] is the function's entry point.
//! The rules and the choices where the tag schema is silent are listed on [`mod@plan`].

pub mod aws;
pub mod config;
pub mod feature;
pub mod glob;
pub mod lambda;
mod notices;
pub mod plan;
pub mod ports;
pub mod recipients;
pub mod report;
pub mod run;
pub mod tags;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod properties;

pub use config::{ConfigError, Mode, ReaperConfig};
pub use lambda::{ReaperError, handle, run_time};
pub use lifeguard_common::Timestamp;
pub use plan::{
    Action, Circumstances, Decision, Mark, MarkChange, Plan, ReasonCode, StackInfo, StackResource, plan,
};
pub use ports::{MarkUpdate, MarksStore, Notifier, Stacks};
pub use recipients::{Admission, OwnerCondition, Recipients};
pub use report::{DeletionOutcome, MarkResult, RunReport, StackReport};
pub use run::{DELETION_TIME_SHARE, Invocation, Outlook, Reaper, RunError};
