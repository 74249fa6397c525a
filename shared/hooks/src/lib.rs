//! The CodeDeploy lifecycle hooks.
//!
//! Domain modules ([`deployment`], [`checks`], [`deadline`], [`analysis`], [`metrics`]) are plain
//! functions over plain data; [`probe`] and [`hook`] orchestrate them behind small traits, and
//! [`pre_traffic`] and [`post_traffic`] are the two hooks and [`in_flight`] the judge that runs
//! the post-traffic analysis every minute while traffic shifts; [`verdicts`] is a verdict told
//! to people; [`aws`] holds the thin adapters that
//! implement those traits with the AWS SDK; [`guarded`] reads what a consumer's template guards
//! (over the tag-keeping tree of [`yaml`]).

pub mod analysis;
pub mod aws;
pub mod checks;
pub mod deadline;
pub mod deployment;
pub mod guarded;
pub mod hook;
pub mod http_event;
pub mod in_flight;
pub mod lambda;
pub mod matchers;
pub mod metrics;
pub mod post_traffic;
pub mod pre_traffic;
pub mod probe;
pub mod settings;
pub mod verdicts;
pub mod yaml;
