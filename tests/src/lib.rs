//! Fixtures for the integration tests and the local rehearsal: the local AWS stand-in (moto plus
//! `localaws/stand_in`), seeding it through the real AWS SDK (Lambda, CodeDeploy, and
//! CloudWatch metrics and alarms for the post-traffic analysis), its `/_lifeguard/` control API
//! (scripted invoke answers, injected faults, read-back of hook reports and invocations), and the
//! real hook binaries run through `cargo lambda watch` ([`watch`]).
//!
//! Tests share ONE server and run in parallel: every resource gets a [`unique`] name, faults are
//! matched on a deployment id or function name, and nothing here ever resets the server.

pub mod behaviour;
pub mod control;
pub mod deployments;
pub mod emf;
pub mod files;
pub mod functions;
pub mod hooks;
pub mod iam;
pub mod local_aws;
pub mod marks;
pub mod metrics;
pub mod names;
pub mod notices;
pub mod stacks;
pub mod traffic;
pub mod watch;

pub use deployments::{AppSpecFormat, DeploymentSpec, REPORT_TARGET, RevisionForm, SeededDeployment};
pub use files::{TempDir, TempFile, repo_root};
pub use functions::{FunctionSpec, LOGICAL_ID_TAG, SeededFunction};
pub use hooks::{Hook, Judge, PostHook, settings_with_checks};
pub use local_aws::{ACCOUNT, LocalAws};
pub use metrics::{GET_METRIC_DATA_TARGET, lambda_dimensions};
pub use names::unique;
pub use stacks::{reaper_invocation, scheduled_event, stack_template};
pub use traffic::{Minute, Noise, Traffic, summary};
