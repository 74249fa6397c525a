//! Canary analysis: judges a canary version against the baseline version on metrics gathered over
//! the deployment window, with statistics rather than raw differences.
//!
//! - [`rules`]: the rules as written in a check file, their defaults and validation.
//! - [`judge`]: one rule over both versions' observations, to a [`judge::RuleResult`].
//! - [`statistics`]: the tests behind the p-values, on plain numbers.
//! - [`power`]: what a comparison could have detected with the samples it got.
//! - [`planning`]: which deployment preferences can detect an effect at a function's traffic.
//!
//! `judge` uses `rules` and `statistics`, which use nothing else in the crate; [`crate::metrics`]
//! plans the rules' queries and feeds their answers to `judge`.

pub mod judge;
pub mod planning;
pub mod power;
pub mod rules;
pub mod statistics;
