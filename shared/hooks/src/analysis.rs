//! Canary analysis: judges a canary version against the baseline version on metrics gathered over
//! the deployment window, with statistics rather than raw differences.
//!
//! Plain data in, a [`RuleResult`] out: no I/O, no clock, no SDK types. A comparison fails only
//! when the canary is worse, significantly (p < alpha), *and* by at least a minimum effect, so
//! noise alone cannot fail a deployment and neither can a tiny difference in a huge sample.
//!
//! - [`RuleKind::ErrorRate`] compares events out of trials (errors out of invocations), one-sided
//!   in the worse direction: Fisher's exact test when any expected cell of the 2×2 table is below
//!   5, the pooled two-proportion z-test otherwise. The effect is the ratio of the rates.
//! - [`RuleKind::SeriesComparison`] compares per-period values (latency per minute) with the
//!   Mann–Whitney U test: its exact distribution when both versions have at most 20 values and
//!   none are tied, otherwise the normal approximation with tie and continuity corrections. The
//!   effect is the ratio of the medians.
//! - [`RuleKind::Threshold`] compares one aggregate of the canary's series with a fixed limit.

use serde::{Deserialize, Serialize};
use std::f64::consts::{FRAC_2_SQRT_PI, SQRT_2};
use std::fmt;

/// Significance level of a rule that sets none.
pub const DEFAULT_ALPHA: f64 = 0.01;
/// Minimum ratio of rates (worse over better) of an error-rate rule that sets none.
pub const DEFAULT_ERROR_RATE_MIN_RATIO: f64 = 1.5;
/// Minimum absolute change of rate of an error-rate rule that sets none: half a percentage point.
pub const DEFAULT_ERROR_RATE_MIN_CHANGE: f64 = 0.005;
/// Minimum invocations per version of an error-rate rule that sets none.
pub const DEFAULT_ERROR_RATE_MIN_SAMPLES: u64 = 50;
/// Minimum ratio of medians (worse over better) of a series comparison that sets none.
pub const DEFAULT_SERIES_MIN_RATIO: f64 = 1.2;
/// Minimum periods with data per version of a series comparison that sets none.
pub const DEFAULT_SERIES_MIN_SAMPLES: u64 = 5;
/// Minimum periods with data (or invocations, for `rate`) of a threshold rule that sets none.
pub const DEFAULT_THRESHOLD_MIN_SAMPLES: u64 = 1;

/// Smallest expected cell count of the 2×2 table for which the z-test replaces Fisher's test.
const MIN_EXPECTED_CELL_FOR_Z_TEST: f64 = 5.0;
/// Most values per version for which the Mann–Whitney U test uses its exact distribution.
const MAX_EXACT_MANN_WHITNEY: usize = 20;

/// Which way a metric moves when the canary is worse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// Larger values are worse: latency, errors, throttles.
    #[default]
    HigherIsWorse,
    /// Smaller values are worse: successes, throughput.
    LowerIsWorse,
}

/// What a rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleKind {
    /// Events out of trials summed over the window (errors out of invocations), canary against
    /// baseline.
    ErrorRate,
    /// Per-period values (latency per minute), canary against baseline.
    SeriesComparison,
    /// One aggregate of the canary's data against a fixed threshold.
    Threshold,
}

/// The judgement of one rule on the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    /// The canary is not worse, or not enough worse to matter.
    Pass,
    /// The canary is worse, significantly and by at least the minimum effect, or over the limit.
    Fail,
    /// The data cannot tell.
    Inconclusive,
}

/// What a decision counts as for the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// The deployment may go on.
    Pass,
    /// The deployment must be rolled back.
    Fail,
}

/// How a threshold rule reduces the canary's data to one value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Aggregate {
    /// Sum of the periods' values.
    #[default]
    Sum,
    /// Mean of the periods' values.
    Mean,
    /// Smallest period value.
    Min,
    /// Largest period value.
    Max,
    /// Events over trials from the counts (a fraction: 0.05 is 5%).
    Rate,
}

/// The test behind a comparison's p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Test {
    /// Fisher's exact test on the 2×2 table; the statistic is the canary's event count.
    FisherExact,
    /// Pooled two-proportion z-test; the statistic is z, positive when the canary's rate is higher.
    TwoProportionZ,
    /// Mann–Whitney U from its exact distribution; the statistic is the canary's U.
    MannWhitneyExact,
    /// Mann–Whitney U from the normal approximation; the statistic is the canary's U.
    MannWhitneyNormal,
}

impl Test {
    fn label(self) -> &'static str {
        match self {
            Test::FisherExact => "Fisher",
            Test::TwoProportionZ => "z-test",
            Test::MannWhitneyExact => "Mann-Whitney exact",
            Test::MannWhitneyNormal => "Mann-Whitney",
        }
    }
}

/// One judgement to make on one metric, as written in a check file. Fields that do not apply
/// to the rule's kind are rejected by [`Rule::validate`].
///
/// Defaults: `higherIsWorse`, alpha 0.01, one-sided, `onNoData: inconclusive`,
/// `onInconclusive: pass`; error rates `minRatio` 1.5, `minAbsoluteChange` 0.005 (half a
/// percentage point), `minSamples` 50 invocations per version; series comparisons `minRatio`
/// 1.2, `minAbsoluteChange` 0, `minSamples` 5 periods per version; thresholds `aggregate: sum`,
/// `minSamples` 1.
///
/// ```yaml
/// - name: errors
///   kind: errorRate
/// - name: duration
///   kind: seriesComparison
///   minRatio: 1.3
///   onInconclusive: fail
/// - name: throttles
///   kind: threshold
///   threshold: 0
///   onNoData: pass
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    /// Name shown in reports.
    pub name: String,
    /// What is compared.
    pub kind: RuleKind,
    /// Which way is worse.
    #[serde(default)]
    pub direction: Direction,
    /// Significance level: a comparison fails only when its p-value is below it.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Series comparisons: test for a difference either way instead of only the worse way (the
    /// canary still fails only when worse).
    #[serde(default)]
    pub two_sided: bool,
    /// Comparisons: how many times worse the canary must be to fail (canary / baseline when
    /// higher is worse, baseline / canary when lower is worse); defaults per kind.
    #[serde(default)]
    pub min_ratio: Option<f64>,
    /// Comparisons: how much worse in absolute terms the canary must be to fail, as a fraction
    /// for error rates (0.005 is half a percentage point); defaults per kind.
    #[serde(default)]
    pub min_absolute_change: Option<f64>,
    /// Threshold rules: the limit; the canary fails beyond it in the worse direction.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Threshold rules: how the canary's data becomes one value; `sum` when unset.
    #[serde(default)]
    pub aggregate: Option<Aggregate>,
    /// Least data needed for a judgement: invocations for error rates (and the `rate`
    /// aggregate), periods with data otherwise; per version for comparisons, for the canary
    /// alone for thresholds; defaults per kind.
    #[serde(default)]
    pub min_samples: Option<u64>,
    /// Decision when the canary has no data at all.
    #[serde(default = "default_on_no_data")]
    pub on_no_data: Decision,
    /// What an inconclusive decision counts as.
    #[serde(default = "default_on_inconclusive")]
    pub on_inconclusive: Outcome,
    /// The metric a series or threshold rule reads (error-rate rules read Lambda's `Errors`
    /// and `Invocations`).
    #[serde(default)]
    pub metric: Option<crate::metrics::MetricSpec>,
}

fn default_alpha() -> f64 {
    DEFAULT_ALPHA
}

fn default_on_no_data() -> Decision {
    Decision::Inconclusive
}

fn default_on_inconclusive() -> Outcome {
    Outcome::Pass
}

/// A rule that cannot be used; the message names the rule and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule:?}: {problem}")]
pub struct RuleError {
    /// The rule's name.
    pub rule: String,
    /// What is wrong.
    pub problem: String,
}

impl Rule {
    /// A rule of `kind` with every setting at its default.
    pub fn new(name: impl Into<String>, kind: RuleKind) -> Self {
        Self {
            name: name.into(),
            kind,
            direction: Direction::default(),
            alpha: DEFAULT_ALPHA,
            two_sided: false,
            min_ratio: None,
            min_absolute_change: None,
            threshold: None,
            aggregate: None,
            min_samples: None,
            on_no_data: default_on_no_data(),
            on_inconclusive: default_on_inconclusive(),
            metric: None,
        }
    }

    /// The minimum ratio in force: the configured one or the kind's default.
    pub fn minimum_ratio(&self) -> f64 {
        self.min_ratio.unwrap_or(match self.kind {
            RuleKind::ErrorRate => DEFAULT_ERROR_RATE_MIN_RATIO,
            RuleKind::SeriesComparison => DEFAULT_SERIES_MIN_RATIO,
            RuleKind::Threshold => 1.0,
        })
    }

    /// The minimum absolute change in force: the configured one or the kind's default.
    pub fn minimum_absolute_change(&self) -> f64 {
        self.min_absolute_change.unwrap_or(match self.kind {
            RuleKind::ErrorRate => DEFAULT_ERROR_RATE_MIN_CHANGE,
            RuleKind::SeriesComparison | RuleKind::Threshold => 0.0,
        })
    }

    /// The minimum sample size in force: the configured one or the kind's default.
    pub fn minimum_samples(&self) -> u64 {
        self.min_samples.unwrap_or(match self.kind {
            RuleKind::ErrorRate => DEFAULT_ERROR_RATE_MIN_SAMPLES,
            RuleKind::SeriesComparison => DEFAULT_SERIES_MIN_SAMPLES,
            RuleKind::Threshold => DEFAULT_THRESHOLD_MIN_SAMPLES,
        })
    }

    /// Checks the settings' ranges and that every set field applies to the rule's kind.
    pub fn validate(&self) -> Result<(), RuleError> {
        self.problem().map_or(Ok(()), |problem| Err(RuleError { rule: self.name.clone(), problem }))
    }

    fn problem(&self) -> Option<String> {
        let comparison_only = |field: &str| Some(format!("{field} applies only to comparison rules"));
        let threshold_only = |field: &str| Some(format!("{field} applies only to threshold rules"));
        let comparison = self.kind != RuleKind::Threshold;
        if self.name.trim().is_empty() {
            return Some("name must not be empty".into());
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Some("alpha must be between 0 and 1".into());
        }
        if self.min_ratio.is_some_and(|ratio| !(ratio.is_finite() && ratio >= 1.0)) {
            return Some("minRatio must be at least 1".into());
        }
        if self.min_absolute_change.is_some_and(|change| !(change.is_finite() && change >= 0.0)) {
            return Some("minAbsoluteChange must not be negative".into());
        }
        match self.kind {
            _ if comparison && self.threshold.is_some() => threshold_only("threshold"),
            _ if comparison && self.aggregate.is_some() => threshold_only("aggregate"),
            RuleKind::ErrorRate if self.two_sided => {
                Some("twoSided applies only to seriesComparison rules".into())
            }
            RuleKind::ErrorRate if self.min_absolute_change.is_some_and(|change| change > 1.0) => {
                Some("minAbsoluteChange of an error rate is a fraction, at most 1".into())
            }
            RuleKind::Threshold if self.min_ratio.is_some() => comparison_only("minRatio"),
            RuleKind::Threshold if self.min_absolute_change.is_some() => comparison_only("minAbsoluteChange"),
            RuleKind::Threshold if self.two_sided => comparison_only("twoSided"),
            RuleKind::Threshold if !self.threshold.is_some_and(f64::is_finite) => {
                Some("threshold rules need a finite threshold".into())
            }
            _ => None,
        }
    }
}

/// Events out of trials over the window, such as errors out of invocations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Events counted (errors).
    pub events: u64,
    /// Trials they are counted out of (invocations).
    pub trials: u64,
}

impl Counts {
    /// Events over trials; `None` without trials.
    pub fn rate(&self) -> Option<f64> {
        (self.trials > 0).then(|| self.events as f64 / self.trials as f64)
    }

    fn clamped(self) -> Self {
        Self { events: self.events.min(self.trials), trials: self.trials }
    }
}

/// What one version recorded for one metric over the analysis window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observations {
    /// One value per period; `None` (or a non-finite value) where the period had no data.
    pub series: Vec<Option<f64>>,
    /// Events out of trials summed over the window, for error rates and the `rate` aggregate.
    pub counts: Option<Counts>,
}

impl Observations {
    /// A series with data in every period.
    pub fn from_values(values: &[f64]) -> Self {
        Self { series: values.iter().copied().map(Some).collect(), counts: None }
    }

    /// Counts alone, for error-rate rules.
    pub fn from_counts(events: u64, trials: u64) -> Self {
        Self { series: Vec::new(), counts: Some(Counts { events, trials }) }
    }

    /// The periods' values that are present and finite, with -0 made 0.
    fn present(&self) -> impl Iterator<Item = f64> + '_ {
        self.series.iter().flatten().filter(|value| value.is_finite()).map(|value| value + 0.0)
    }
}

/// The judgement of one rule, ready for a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleResult {
    /// The rule's name.
    pub rule: String,
    /// The rule's kind.
    pub kind: RuleKind,
    /// What the data says.
    pub decision: Decision,
    /// What the decision counts as, after the rule's policy for inconclusive decisions.
    pub outcome: Outcome,
    /// The baseline's rate, median or aggregate.
    pub baseline_value: Option<f64>,
    /// The canary's rate, median or aggregate.
    pub canary_value: Option<f64>,
    /// The baseline's invocations or periods with data.
    pub baseline_samples: u64,
    /// The canary's invocations or periods with data.
    pub canary_samples: u64,
    /// The test behind the p-value, for comparisons that got that far.
    pub test: Option<Test>,
    /// The test's statistic (see [`Test`]).
    pub statistic: Option<f64>,
    /// The p-value the decision used (one-sided in the worse direction unless two-sided).
    pub p_value: Option<f64>,
    /// Canary over baseline (rates or medians); `None` when only the baseline is zero.
    pub effect_size: Option<f64>,
    /// One line for humans: values, sample sizes, test, effect and verdict.
    pub reason: String,
}

/// A two-sample test's statistic and one-sided p-values, canary against baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestOutcome {
    /// The test used.
    pub test: Test,
    /// Its statistic (see [`Test`]).
    pub statistic: f64,
    /// P-value for the alternative "the canary is greater than the baseline".
    pub p_greater: f64,
    /// P-value for the alternative "the canary is less than the baseline".
    pub p_less: f64,
}

impl TestOutcome {
    /// P-value for the alternative "the canary is worse" in `direction`.
    pub fn p_worse(&self, direction: Direction) -> f64 {
        match direction {
            Direction::HigherIsWorse => self.p_greater,
            Direction::LowerIsWorse => self.p_less,
        }
    }

    /// Two-sided p-value: twice the smaller one-sided p-value, at most 1.
    pub fn p_two_sided(&self) -> f64 {
        (2.0 * self.p_greater.min(self.p_less)).min(1.0)
    }
}

/// Judges `canary` against `baseline` by `rule` (which should have passed [`Rule::validate`]).
pub fn evaluate(rule: &Rule, baseline: &Observations, canary: &Observations) -> RuleResult {
    let mut result = RuleResult {
        rule: rule.name.clone(),
        kind: rule.kind,
        decision: Decision::Inconclusive,
        outcome: rule.on_inconclusive,
        baseline_value: None,
        canary_value: None,
        baseline_samples: 0,
        canary_samples: 0,
        test: None,
        statistic: None,
        p_value: None,
        effect_size: None,
        reason: String::new(),
    };
    let (decision, reason) = match rule.kind {
        RuleKind::ErrorRate => judge_error_rate(rule, baseline, canary, &mut result),
        RuleKind::SeriesComparison => judge_series(rule, baseline, canary, &mut result),
        RuleKind::Threshold => judge_threshold(rule, baseline, canary, &mut result),
    };
    result.decision = decision;
    result.outcome = match decision {
        Decision::Pass => Outcome::Pass,
        Decision::Fail => Outcome::Fail,
        Decision::Inconclusive => rule.on_inconclusive,
    };
    result.reason = match decision {
        Decision::Inconclusive => format!("{reason}, counted as {}", result.outcome),
        _ => reason,
    };
    result
}

fn judge_error_rate(
    rule: &Rule,
    baseline: &Observations,
    canary: &Observations,
    result: &mut RuleResult,
) -> (Decision, String) {
    let baseline = baseline.counts.unwrap_or_default();
    result.baseline_samples = baseline.trials;
    result.baseline_value = baseline.rate();
    let Some(canary) = canary.counts.filter(|counts| counts.trials > 0) else {
        return no_data(rule, "no canary invocations");
    };
    result.canary_samples = canary.trials;
    if canary.events > canary.trials || baseline.events > baseline.trials {
        let reason = format!(
            "inconsistent counts: canary {}/{}, baseline {}/{}: inconclusive",
            canary.events, canary.trials, baseline.events, baseline.trials
        );
        return (Decision::Inconclusive, reason);
    }
    result.canary_value = canary.rate();
    result.baseline_value = baseline.rate();
    let minimum = rule.minimum_samples().max(1);
    if canary.trials < minimum || baseline.trials < minimum {
        let reason = format!(
            "too little data: canary {} invocations, baseline {} (minimum {minimum}): inconclusive",
            canary.trials, baseline.trials
        );
        return (Decision::Inconclusive, reason);
    }
    let (baseline_rate, canary_rate) =
        (baseline.events as f64 / baseline.trials as f64, canary.events as f64 / canary.trials as f64);
    let outcome = compare_rates(baseline, canary);
    let p = outcome.p_worse(rule.direction);
    record_test(result, &outcome, p, baseline_rate, canary_rate);
    let summary = format!(
        "canary error rate {} vs baseline {} (n={}/{}), {} p={}, {}",
        percent(canary_rate),
        percent(baseline_rate),
        canary.trials,
        baseline.trials,
        outcome.test.label(),
        p_value(p),
        effect(baseline_rate, canary_rate)
    );
    let minimum_effect = format!(
        "{:.2}x and {} pp",
        rule.minimum_ratio(),
        significant(rule.minimum_absolute_change() * 100.0)
    );
    judge_comparison(rule, p, baseline_rate, canary_rate, &summary, &minimum_effect)
}

fn judge_series(
    rule: &Rule,
    baseline: &Observations,
    canary: &Observations,
    result: &mut RuleResult,
) -> (Decision, String) {
    let mut canary_values: Vec<f64> = canary.present().collect();
    if canary_values.is_empty() {
        return no_data(rule, "no canary data");
    }
    let mut baseline_values: Vec<f64> = baseline.present().collect();
    canary_values.sort_unstable_by(f64::total_cmp);
    baseline_values.sort_unstable_by(f64::total_cmp);
    result.canary_samples = canary_values.len() as u64;
    result.baseline_samples = baseline_values.len() as u64;
    result.canary_value = median(&canary_values);
    result.baseline_value = median(&baseline_values);
    let minimum = rule.minimum_samples().max(1);
    let (Some(baseline_median), Some(canary_median)) = (result.baseline_value, result.canary_value) else {
        return (Decision::Inconclusive, "no baseline data: inconclusive".into());
    };
    if result.canary_samples < minimum || result.baseline_samples < minimum {
        let reason = format!(
            "too little data: canary {} periods, baseline {} (minimum {minimum}): inconclusive",
            result.canary_samples, result.baseline_samples
        );
        return (Decision::Inconclusive, reason);
    }
    let outcome = mann_whitney_sorted(&baseline_values, &canary_values);
    let (p, sides) = if rule.two_sided {
        (outcome.p_two_sided(), " two-sided")
    } else {
        (outcome.p_worse(rule.direction), "")
    };
    record_test(result, &outcome, p, baseline_median, canary_median);
    let summary = format!(
        "canary median {} vs baseline {} (n={}/{} periods), {}{sides} p={}, {}",
        significant(canary_median),
        significant(baseline_median),
        result.canary_samples,
        result.baseline_samples,
        outcome.test.label(),
        p_value(p),
        effect(baseline_median, canary_median)
    );
    let mut minimum_effect = format!("{:.2}x", rule.minimum_ratio());
    if rule.minimum_absolute_change() > 0.0 {
        minimum_effect = format!("{minimum_effect} and {}", significant(rule.minimum_absolute_change()));
    }
    judge_comparison(rule, p, baseline_median, canary_median, &summary, &minimum_effect)
}

fn judge_threshold(
    rule: &Rule,
    baseline: &Observations,
    canary: &Observations,
    result: &mut RuleResult,
) -> (Decision, String) {
    let aggregate = rule.aggregate.unwrap_or_default();
    (result.canary_value, result.canary_samples) = aggregate_of(canary, aggregate);
    (result.baseline_value, result.baseline_samples) = aggregate_of(baseline, aggregate);
    let Some(threshold) = rule.threshold.filter(|threshold| threshold.is_finite()) else {
        return (Decision::Inconclusive, "the rule has no threshold: inconclusive".into());
    };
    let Some(value) = result.canary_value else {
        return no_data(rule, "no canary data");
    };
    let minimum = rule.minimum_samples();
    if result.canary_samples < minimum {
        let reason =
            format!("too little data: canary n={} (minimum {minimum}): inconclusive", result.canary_samples);
        return (Decision::Inconclusive, reason);
    }
    let show = |value: f64| if aggregate == Aggregate::Rate { percent(value) } else { significant(value) };
    let (breached, worse, within) = match rule.direction {
        Direction::HigherIsWorse => (value > threshold, ">", "<="),
        Direction::LowerIsWorse => (value < threshold, "<", ">="),
    };
    let (decision, comparison) = if breached { (Decision::Fail, worse) } else { (Decision::Pass, within) };
    let reason = format!(
        "canary {aggregate} {} {comparison} threshold {} (n={}): {decision}",
        show(value),
        show(threshold),
        result.canary_samples
    );
    (decision, reason)
}

/// The decision the rule's no-data policy gives.
fn no_data(rule: &Rule, what: &str) -> (Decision, String) {
    (rule.on_no_data, format!("{what} in the window: {} (onNoData)", rule.on_no_data))
}

fn record_test(result: &mut RuleResult, outcome: &TestOutcome, p: f64, baseline: f64, canary: f64) {
    result.test = Some(outcome.test);
    result.statistic = Some(outcome.statistic);
    result.p_value = Some(p);
    result.effect_size = ratio(baseline, canary);
}

/// Fails only when the canary is worse, significantly, and by at least the minimum effect.
fn judge_comparison(
    rule: &Rule,
    p: f64,
    baseline: f64,
    canary: f64,
    summary: &str,
    minimum_effect: &str,
) -> (Decision, String) {
    let change = worse_change(baseline, canary, rule.direction);
    let (decision, verdict) = if change <= 0.0 {
        (Decision::Pass, "pass (canary not worse)".to_owned())
    } else if p.is_nan() || p >= rule.alpha {
        (Decision::Pass, format!("pass (not significant at alpha {})", rule.alpha))
    } else if worse_ratio(baseline, canary, rule.direction) < rule.minimum_ratio()
        || change < rule.minimum_absolute_change()
    {
        (Decision::Pass, format!("pass (under the minimum effect of {minimum_effect})"))
    } else {
        (Decision::Fail, "fail".to_owned())
    };
    (decision, format!("{summary}: {verdict}"))
}

/// How much worse the canary is, in the metric's units; positive when worse.
fn worse_change(baseline: f64, canary: f64, direction: Direction) -> f64 {
    match direction {
        Direction::HigherIsWorse => canary - baseline,
        Direction::LowerIsWorse => baseline - canary,
    }
}

/// How many times worse the canary is; infinite when the better value is not positive.
fn worse_ratio(baseline: f64, canary: f64, direction: Direction) -> f64 {
    let (worse, better) = match direction {
        Direction::HigherIsWorse => (canary, baseline),
        Direction::LowerIsWorse => (baseline, canary),
    };
    if worse == better {
        1.0
    } else if better <= 0.0 {
        if worse > better { f64::INFINITY } else { 0.0 }
    } else {
        worse / better
    }
}

/// Canary over baseline: 1 when both are zero, `None` when only the baseline is.
fn ratio(baseline: f64, canary: f64) -> Option<f64> {
    if baseline == canary {
        Some(1.0)
    } else if baseline == 0.0 {
        None
    } else {
        Some(canary / baseline)
    }
}

/// The aggregate of a version's data, and how many periods (or trials, for rates) it covers.
fn aggregate_of(observations: &Observations, aggregate: Aggregate) -> (Option<f64>, u64) {
    if aggregate == Aggregate::Rate {
        let counts = observations.counts.map(Counts::clamped);
        return (counts.and_then(|counts| counts.rate()), counts.map_or(0, |counts| counts.trials));
    }
    let (mut count, mut sum, mut min, mut max) = (0_u64, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    for value in observations.present() {
        count += 1;
        sum += value;
        min = min.min(value);
        max = max.max(value);
    }
    if count == 0 {
        return (None, 0);
    }
    let value = match aggregate {
        Aggregate::Sum | Aggregate::Rate => sum,
        Aggregate::Mean => sum / count as f64,
        Aggregate::Min => min,
        Aggregate::Max => max,
    };
    (Some(value), count)
}

fn median(sorted: &[f64]) -> Option<f64> {
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        length if length % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2.0),
    }
}

/// Compares rates with Fisher's exact test when any expected cell of the 2×2 table is below 5,
/// with the pooled two-proportion z-test otherwise.
pub fn compare_rates(baseline: Counts, canary: Counts) -> TestOutcome {
    let (baseline, canary) = (baseline.clamped(), canary.clamped());
    let total = (baseline.trials + canary.trials) as f64;
    let events = (baseline.events + canary.events) as f64;
    let smallest_row = baseline.trials.min(canary.trials) as f64;
    let smallest_column = events.min(total - events);
    if total == 0.0 || smallest_row * smallest_column / total < MIN_EXPECTED_CELL_FOR_Z_TEST {
        fisher_exact(baseline, canary)
    } else {
        two_proportion_z(baseline, canary)
    }
}

/// Fisher's exact test on the 2×2 table of events and non-events per version: the
/// hypergeometric tails of the canary's event count given the margins.
pub fn fisher_exact(baseline: Counts, canary: Counts) -> TestOutcome {
    let (baseline, canary) = (baseline.clamped(), canary.clamped());
    let drawn = canary.trials;
    let marked = canary.events + baseline.events;
    let total = canary.trials + baseline.trials;
    let events = canary.events;
    TestOutcome {
        test: Test::FisherExact,
        statistic: events as f64,
        p_greater: hypergeometric_at_least(events, drawn, marked, total),
        // The canary's non-events follow the same law with the columns swapped.
        p_less: hypergeometric_at_least(drawn - events, drawn, total - marked, total),
    }
}

/// The two-proportion z-test with the pooled rate in the standard error. Without variation
/// (no trials, no events or only events) both p-values are 1.
pub fn two_proportion_z(baseline: Counts, canary: Counts) -> TestOutcome {
    let (baseline, canary) = (baseline.clamped(), canary.clamped());
    let (baseline_trials, canary_trials) = (baseline.trials as f64, canary.trials as f64);
    let pooled = (baseline.events + canary.events) as f64 / (baseline_trials + canary_trials);
    let standard_error = (pooled * (1.0 - pooled) * (1.0 / baseline_trials + 1.0 / canary_trials)).sqrt();
    let difference = canary.events as f64 / canary_trials - baseline.events as f64 / baseline_trials;
    let z = difference / standard_error;
    let (statistic, p_greater, p_less) = if z.is_finite() && standard_error > 0.0 {
        (z, normal_upper_tail(z), normal_cdf(z))
    } else {
        (0.0, 1.0, 1.0)
    };
    TestOutcome { test: Test::TwoProportionZ, statistic, p_greater, p_less }
}

/// P(X ≥ k) where X counts the marked items among `drawn` items taken without replacement from
/// `total` items of which `marked` are marked.
fn hypergeometric_at_least(k: u64, drawn: u64, marked: u64, total: u64) -> f64 {
    let lowest = (drawn + marked).saturating_sub(total);
    if k <= lowest {
        return 1.0;
    }
    if k > drawn.min(marked) {
        return 0.0;
    }
    let mode = (u128::from(drawn) + 1) * (u128::from(marked) + 1) / (u128::from(total) + 2);
    // Sum from k away from the mode, where terms only shrink; above the mode directly, below it
    // through the complement (then the tail is large and the subtraction loses nothing).
    if u128::from(k) > mode {
        hypergeometric_tail(k, drawn, marked, total, true)
    } else {
        1.0 - hypergeometric_tail(k - 1, drawn, marked, total, false)
    }
}

/// P(X ≥ start) when `upward`, P(X ≤ start) otherwise; `start` lies on the side of the mode
/// where terms shrink in that direction. The first term comes from log-factorials, the rest
/// from the ratio of consecutive terms.
fn hypergeometric_tail(start: u64, drawn: u64, marked: u64, total: u64, upward: bool) -> f64 {
    let (drawn_f, marked_f, total_f) = (drawn as f64, marked as f64, total as f64);
    let lowest = (drawn + marked).saturating_sub(total);
    let highest = drawn.min(marked);
    let mut term =
        (ln_choose(marked, start) + ln_choose(total - marked, drawn - start) - ln_choose(total, drawn)).exp();
    let mut sum = term;
    let mut k = start;
    while (upward && k < highest) || (!upward && k > lowest) {
        let x = k as f64;
        let step = if upward {
            k += 1;
            (marked_f - x) * (drawn_f - x) / ((x + 1.0) * (total_f - marked_f - drawn_f + x + 1.0))
        } else {
            k -= 1;
            x * (total_f - marked_f - drawn_f + x) / ((marked_f - x + 1.0) * (drawn_f - x + 1.0))
        };
        term *= step;
        sum += term;
        // The steps keep shrinking, so once they are below one half the rest is below `term`.
        if step < 0.5 && term < sum * 1e-17 {
            break;
        }
    }
    sum.min(1.0)
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

/// ln(n!): the product itself up to 32!, Stirling's series beyond (error below 1e-16 there).
fn ln_factorial(n: u64) -> f64 {
    if n <= 32 {
        return (2..=n).map(|i| i as f64).product::<f64>().ln();
    }
    let x = n as f64;
    let inverse_squared = 1.0 / (x * x);
    let correction = (1.0 / 12.0
        - inverse_squared * (1.0 / 360.0 - inverse_squared * (1.0 / 1260.0 - inverse_squared / 1680.0)))
        / x;
    x * x.ln() - x + 0.5 * (std::f64::consts::TAU * x).ln() + correction
}

/// The Mann–Whitney U test of the canary's values against the baseline's (non-finite values
/// are ignored): exact when both have at most 20 values and none are tied, otherwise the
/// normal approximation with tie and continuity corrections. With no values on one side both
/// p-values are 1.
pub fn mann_whitney(baseline: &[f64], canary: &[f64]) -> TestOutcome {
    let sorted = |values: &[f64]| {
        let mut kept: Vec<f64> =
            values.iter().filter(|value| value.is_finite()).map(|value| value + 0.0).collect();
        kept.sort_unstable_by(f64::total_cmp);
        kept
    };
    mann_whitney_sorted(&sorted(baseline), &sorted(canary))
}

/// [`mann_whitney`] on finite, ascending values: ranks come from merging the two sides.
fn mann_whitney_sorted(baseline: &[f64], canary: &[f64]) -> TestOutcome {
    if baseline.is_empty() || canary.is_empty() {
        return TestOutcome { test: Test::MannWhitneyNormal, statistic: 0.0, p_greater: 1.0, p_less: 1.0 };
    }
    let (mut in_baseline, mut in_canary, mut ranked) = (0, 0, 0);
    let (mut canary_rank_sum, mut tie_term) = (0.0, 0.0);
    while in_baseline < baseline.len() || in_canary < canary.len() {
        let value = match (baseline.get(in_baseline), canary.get(in_canary)) {
            (Some(&b), Some(&c)) => b.min(c),
            (Some(&b), None) => b,
            (None, Some(&c)) => c,
            (None, None) => break,
        };
        let tied_baseline = baseline[in_baseline..].iter().take_while(|&&v| v == value).count();
        let tied_canary = canary[in_canary..].iter().take_while(|&&v| v == value).count();
        let tied = (tied_baseline + tied_canary) as f64;
        let mid_rank = ranked as f64 + (tied + 1.0) / 2.0;
        canary_rank_sum += tied_canary as f64 * mid_rank;
        tie_term += tied * tied * tied - tied;
        ranked += tied_baseline + tied_canary;
        in_baseline += tied_baseline;
        in_canary += tied_canary;
    }
    let n_canary = canary.len() as f64;
    let u = canary_rank_sum - n_canary * (n_canary + 1.0) / 2.0;
    if tie_term == 0.0 && baseline.len() <= MAX_EXACT_MANN_WHITNEY && canary.len() <= MAX_EXACT_MANN_WHITNEY {
        let (p_greater, p_less) = mann_whitney_exact_tails(u as usize, baseline.len(), canary.len());
        TestOutcome { test: Test::MannWhitneyExact, statistic: u, p_greater, p_less }
    } else {
        mann_whitney_normal(u, baseline.len(), canary.len(), tie_term)
    }
}

/// P(U ≥ u) and P(U ≤ u) when all orderings of the values are equally likely, by counting the
/// orderings of each U: walking the ranks upwards, a canary value adds the number of baseline
/// values below it.
fn mann_whitney_exact_tails(u: usize, n_baseline: usize, n_canary: usize) -> (f64, f64) {
    let width = n_baseline * n_canary + 1;
    // orderings[j * width + s]: orderings of the values seen so far that hold j canary values
    // and add up to s. Counts stay below C(40, 20) < 2^53, so f64 keeps them exact.
    let mut orderings = vec![0.0_f64; (n_canary + 1) * width];
    orderings[0] = 1.0;
    for seen in 1..=n_baseline + n_canary {
        for j in (1..=n_canary.min(seen)).rev() {
            let below = seen - j;
            if below > n_baseline {
                continue;
            }
            let (previous, current) = orderings.split_at_mut(j * width);
            let previous = &previous[(j - 1) * width..];
            for (count, source) in current[below..width].iter_mut().zip(&previous[..width - below]) {
                *count += source;
            }
        }
    }
    let last = &orderings[n_canary * width..];
    let total: f64 = last.iter().sum();
    let at_least: f64 = last[u..].iter().sum();
    let at_most: f64 = last[..=u].iter().sum();
    (at_least / total, at_most / total)
}

/// The normal approximation of U with the tie correction of the variance
/// (`tie_term` = Σ t³ − t over groups of t tied values) and a continuity correction of ½.
fn mann_whitney_normal(u: f64, n_baseline: usize, n_canary: usize, tie_term: f64) -> TestOutcome {
    let (m, n) = (n_canary as f64, n_baseline as f64);
    let total = m + n;
    let mean = m * n / 2.0;
    let variance = m * n / 12.0 * ((total + 1.0) - tie_term / (total * (total - 1.0)));
    let (p_greater, p_less) = if variance > 0.0 {
        let deviation = variance.sqrt();
        (normal_upper_tail((u - mean - 0.5) / deviation), normal_cdf((u - mean + 0.5) / deviation))
    } else {
        (1.0, 1.0)
    };
    TestOutcome { test: Test::MannWhitneyNormal, statistic: u, p_greater, p_less }
}

/// Standard normal distribution function Φ(z).
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / SQRT_2)
}

/// Standard normal upper tail 1 − Φ(z), accurate far into the tail.
pub fn normal_upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / SQRT_2)
}

/// Below this, erfc comes from the erf series; above, from the continued fraction.
const ERFC_SERIES_LIMIT: f64 = 1.5;
/// Most terms of erfc's continued fraction (fewer than 100 converge from the switch point up).
const ERFC_MAX_TERMS: u32 = 1000;

/// Complementary error function, to about 1e-13 relative: a series for erf below 1.5, Laplace's
/// continued fraction for erfc above (evaluated by Lentz's method), erfc(−x) = 2 − erfc(x).
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        x
    } else if x < 0.0 {
        2.0 - erfc(-x)
    } else if x < ERFC_SERIES_LIMIT {
        1.0 - erf_series(x)
    } else if x.is_infinite() {
        0.0
    } else {
        erfc_continued_fraction(x)
    }
}

/// erf x = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)), a series of positive terms.
fn erf_series(x: f64) -> f64 {
    let two_x_squared = 2.0 * x * x;
    let (mut term, mut sum, mut odd) = (x, x, 1.0);
    while term > sum * 1e-17 {
        odd += 2.0;
        term *= two_x_squared / odd;
        sum += term;
    }
    FRAC_2_SQRT_PI * (-x * x).exp() * sum
}

/// erfc x = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), for x > 0.
fn erfc_continued_fraction(x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (mut value, mut c, mut d) = (x, x, 0.0);
    for n in 1..=ERFC_MAX_TERMS {
        let a = f64::from(n) / 2.0;
        d = x + a * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = x + a / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = c * d;
        value *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    FRAC_2_SQRT_PI / 2.0 * (-x * x).exp() / value
}

/// `value` to three significant digits without trailing zeros, and without an exponent for
/// everyday magnitudes.
fn significant(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    if !(-4..15).contains(&magnitude) {
        return format!("{value:.2e}");
    }
    let decimals = (2 - magnitude).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if decimals == 0 { text } else { text.trim_end_matches('0').trim_end_matches('.').to_owned() }
}

fn percent(rate: f64) -> String {
    format!("{}%", significant(rate * 100.0))
}

fn p_value(p: f64) -> String {
    if p >= 0.001 { significant(p) } else { format!("{p:.1e}") }
}

fn effect(baseline: f64, canary: f64) -> String {
    ratio(baseline, canary).map_or_else(|| "up from zero".to_owned(), |ratio| format!("{ratio:.2}x"))
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Pass => "pass",
            Decision::Fail => "fail",
            Decision::Inconclusive => "inconclusive",
        })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
        })
    }
}

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Aggregate::Sum => "sum",
            Aggregate::Mean => "mean",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Rate => "rate",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(actual: f64, expected: f64, relative: f64) {
        assert!(
            (actual - expected).abs() <= relative * expected.abs(),
            "{actual:e} differs from {expected:e} by more than {relative:e} relative"
        );
    }

    /// Deterministic noise: Knuth's MMIX linear congruential generator, top 53 bits.
    struct Noise(u64);

    impl Noise {
        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1_u64 << 53) as f64
        }

        /// `periods` values uniform within `center` ± `spread` × `center`.
        fn series(&mut self, periods: usize, center: f64, spread: f64) -> Vec<f64> {
            (0..periods).map(|_| center * (1.0 + spread * (2.0 * self.unit() - 1.0))).collect()
        }

        /// Events among `trials` independent trials of probability `rate`.
        fn counts(&mut self, trials: u64, rate: f64) -> Observations {
            let events = (0..trials).filter(|_| self.unit() < rate).count() as u64;
            Observations::from_counts(events, trials)
        }
    }

    fn counts(events: u64, trials: u64) -> Counts {
        Counts { events, trials }
    }

    // erfc to 20 digits from mpmath at 40 digits of working precision; erfc(1) and erfc(2)
    // also agree with erf in Abramowitz & Stegun, table 7.1.
    #[test]
    fn erfc_matches_reference_values() {
        let reference = [
            (0.0, 1.0),
            (0.5, 0.4795001221869535),
            (1.0, 0.15729920705028513),
            (-1.0, 1.8427007929497148),
            (1.5, 0.033894853524689274),
            (2.0, 0.004677734981047266),
            (3.0, 2.209049699858544e-05),
            (5.0, 1.537459794428035e-12),
            (10.0, 2.088487583762545e-45),
            (20.0, 5.395865611607901e-176),
        ];
        for (x, expected) in reference {
            assert_close(erfc(x), expected, 1e-13);
        }
        assert_eq!(erfc(f64::INFINITY), 0.0);
        assert_eq!(erfc(f64::NEG_INFINITY), 2.0);
    }

    // Φ at the two-sided 5% and one-sided 1% critical values of every normal table, and far
    // tails to 20 digits from mpmath (ncdf at 40 digits).
    #[test]
    fn normal_distribution_is_accurate_in_the_tails() {
        assert_close(normal_cdf(-1.959_963_984_540_054), 0.025, 1e-13);
        assert_close(normal_cdf(1.959_963_984_540_054), 0.975, 1e-15);
        assert_close(normal_upper_tail(2.326_347_874_040_841), 0.01, 1e-13);
        let tails = [
            (3.0, 0.0013498980316300946),
            (5.0, 2.866515718791939e-07),
            (8.0, 6.220960574271784e-16),
            (20.0, 2.7536241186062337e-89),
        ];
        for (z, expected) in tails {
            assert_close(normal_upper_tail(z), expected, 1e-12);
            assert_close(normal_cdf(-z), expected, 1e-12);
        }
    }

    // ln n! = ln Γ(n + 1), references from mpmath's loggamma at 30 digits.
    #[test]
    fn log_factorial_is_exact_enough_on_both_sides_of_the_switch() {
        assert_eq!(ln_factorial(0), 0.0);
        assert_close(ln_factorial(10), 3_628_800_f64.ln(), 1e-15);
        assert_close(ln_factorial(32), 81.55795945611504, 1e-15);
        assert_close(ln_factorial(33), 85.05446701758152, 1e-15);
        assert_close(ln_factorial(1000), 5912.128178488163, 1e-15);
    }

    // Fisher's tea-tasting table [[3, 1], [1, 3]]: P(X ≥ 3) = (C(4,3)·C(4,1) + C(4,4)·C(4,0)) /
    // C(8,4) = 17/70 = 0.2429, as R's fisher.test(alternative = "greater") reports.
    #[test]
    fn fisher_exact_on_the_tea_tasting_table() {
        let outcome = fisher_exact(counts(1, 4), counts(3, 4));
        assert_eq!((outcome.test, outcome.statistic), (Test::FisherExact, 3.0));
        assert_close(outcome.p_greater, 17.0 / 70.0, 1e-14);
        assert_close(outcome.p_less, 69.0 / 70.0, 1e-14);
        assert_eq!(compare_rates(counts(1, 4), counts(3, 4)).test, Test::FisherExact);
    }

    // Wikipedia's worked example of Fisher's exact test ([[1, 9], [11, 3]]): one-tailed
    // p = 0.001346 + 0.0000337 = 0.001380; 0.0013797280926100418 with exact fractions.
    #[test]
    fn fisher_exact_lower_tail_on_the_textbook_example() {
        let outcome = fisher_exact(counts(11, 14), counts(1, 10));
        assert_close(outcome.p_less, 0.001_379_728_092_610_041_8, 1e-12);
    }

    // Huge baselines with few events, where ln(n!) reaches 1.3e7: references from exact
    // rational sums of C(K,k)·C(N−K,n−k)/C(N,n) (Python fractions).
    #[test]
    fn fisher_exact_stays_accurate_with_millions_of_trials() {
        let outcome = fisher_exact(counts(0, 1_000_000), counts(4, 2000));
        assert_close(outcome.p_greater, 1.582_515_793_568_451e-11, 1e-7);
        let outcome = fisher_exact(counts(2, 100_000), counts(3, 1000));
        assert_close(outcome.p_greater, 9.534_363_603_240_958e-6, 1e-7);
        assert_eq!(fisher_exact(counts(0, 500), counts(0, 50)).p_greater, 1.0);
    }

    // 60/1000 against 40/1000: pooled rate 0.05, z = 0.02 / √(0.05 · 0.95 · (1/1000 + 1/1000))
    // = 0.02 / 0.0097468 = 2.05196, 1 − Φ(z) = 0.020087.
    #[test]
    fn two_proportion_z_on_a_worked_example() {
        let outcome = compare_rates(counts(40, 1000), counts(60, 1000));
        assert_eq!(outcome.test, Test::TwoProportionZ);
        assert_close(outcome.statistic, 2.051_956_704_170_31, 1e-12);
        assert_close(outcome.p_greater, 0.020_086_935_144_256, 1e-10);
        assert_close(outcome.p_less, 1.0 - 0.020_086_935_144_256, 1e-12);
        let flat = two_proportion_z(counts(0, 1000), counts(0, 1000));
        assert_eq!((flat.statistic, flat.p_greater, flat.p_less), (0.0, 1.0, 1.0));
    }

    // Exact null distribution for four values per side (Mann & Whitney 1947, table I):
    // P(U ≤ 0) = 1/70 = .014, P(U ≤ 1) = 2/70 = .029, P(U ≤ 2) = 4/70 = .057; by symmetry the
    // same for U ≥ 16, 15, 14.
    #[test]
    fn mann_whitney_exact_matches_the_published_table() {
        let baseline = [1.0, 2.0, 3.0, 4.0];
        let outcome = mann_whitney(&baseline, &[5.0, 6.0, 7.0, 8.0]);
        assert_eq!((outcome.test, outcome.statistic), (Test::MannWhitneyExact, 16.0));
        assert_close(outcome.p_greater, 1.0 / 70.0, 1e-14);
        assert_eq!(outcome.p_less, 1.0);
        let outcome = mann_whitney(&[1.0, 2.0, 3.0, 5.0], &[4.0, 6.0, 7.0, 8.0]);
        assert_eq!(outcome.statistic, 15.0);
        assert_close(outcome.p_greater, 2.0 / 70.0, 1e-14);
        let outcome = mann_whitney(&[1.0, 2.0, 4.0, 5.0], &[3.0, 6.0, 7.0, 8.0]);
        assert_eq!(outcome.statistic, 14.0);
        assert_close(outcome.p_greater, 4.0 / 70.0, 1e-14);
        assert_close(outcome.p_two_sided(), 8.0 / 70.0, 1e-14);
        let reversed = mann_whitney(&[3.0, 6.0, 7.0, 8.0], &[1.0, 2.0, 4.0, 5.0]);
        assert_eq!(reversed.statistic, 2.0);
        assert_close(reversed.p_less, 4.0 / 70.0, 1e-14);
    }

    // Complete separation: one ordering in C(n1 + n2, n1), so p = 1/20 for three values per
    // side and 1/C(40, 20) = 7.2544e-12 at the largest exact size.
    #[test]
    fn mann_whitney_exact_complete_separation() {
        let outcome = mann_whitney(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        assert_close(outcome.p_greater, 0.05, 1e-14);
        assert_close(outcome.p_two_sided(), 0.1, 1e-14);
        let baseline: Vec<f64> = (0..20).map(f64::from).collect();
        let canary: Vec<f64> = (20..40).map(f64::from).collect();
        let outcome = mann_whitney(&baseline, &canary);
        assert_eq!((outcome.test, outcome.statistic), (Test::MannWhitneyExact, 400.0));
        assert_close(outcome.p_greater, 7.254_444_551_924_844e-12, 1e-12);
    }

    // By hand. Baseline 10 12 12 14 15 18, canary 12 15 16 19 20 21. Midranks of the twelve:
    // 10→1, 12×3→3, 14→5, 15×2→6.5, 16→8, 18→9, 19→10, 20→11, 21→12. Canary rank sum
    // 3 + 6.5 + 8 + 10 + 11 + 12 = 50.5, U = 50.5 − 6·7/2 = 29.5, mean 6·6/2 = 18.
    // Ties 3 and 2: Σ(t³ − t) = 24 + 6 = 30; variance = 36/12 · (13 − 30/(12·11)) = 38.31818.
    // z = (29.5 − 18 − 0.5)/√38.31818 = 11/6.19017 = 1.77701, 1 − Φ(z) = 0.037783.
    #[test]
    fn mann_whitney_normal_approximation_with_ties() {
        let baseline = [10.0, 12.0, 12.0, 14.0, 15.0, 18.0];
        let canary = [12.0, 15.0, 16.0, 19.0, 20.0, 21.0];
        let outcome = mann_whitney(&baseline, &canary);
        assert_eq!((outcome.test, outcome.statistic), (Test::MannWhitneyNormal, 29.5));
        assert_close(outcome.p_greater, 0.037_783_173_909_000_53, 1e-12);
        assert_close(outcome.p_two_sided(), 0.075_566_347_818_001_06, 1e-12);
        // Order of the input does not matter.
        let shuffled =
            mann_whitney(&[18.0, 12.0, 15.0, 10.0, 14.0, 12.0], &[21.0, 12.0, 20.0, 15.0, 19.0, 16.0]);
        assert_eq!(shuffled, outcome);
    }

    // The normal approximation for U = 16 of 4 + 4 values: z = (16 − 8 − 0.5)/√(16·9/12) =
    // 2.16506, 1 − Φ(z) = 0.015191, close to the exact 1/70 = 0.014286.
    #[test]
    fn mann_whitney_normal_approximation_without_ties() {
        let outcome = mann_whitney_normal(16.0, 4, 4, 0.0);
        assert_close(outcome.p_greater, 0.015_191_410_988_288_755, 1e-12);
        let all_tied = mann_whitney(&[5.0; 30], &[5.0; 30]);
        assert_eq!((all_tied.p_greater, all_tied.p_less, all_tied.p_two_sided()), (1.0, 1.0, 1.0));
        let nothing = mann_whitney(&[], &[1.0, f64::NAN]);
        assert_eq!((nothing.p_greater, nothing.p_less), (1.0, 1.0));
    }

    #[test]
    fn canary_error_rate_five_times_the_baseline_fails() {
        let rule = Rule::new("errors", RuleKind::ErrorRate);
        let result =
            evaluate(&rule, &Observations::from_counts(180, 18_000), &Observations::from_counts(100, 2000));
        assert_eq!((result.decision, result.outcome), (Decision::Fail, Outcome::Fail));
        assert_eq!(result.test, Some(Test::TwoProportionZ));
        assert_close(result.statistic.unwrap(), 14.444_209_158_317_208, 1e-12);
        assert!(result.p_value.unwrap() < 1e-40);
        assert_close(result.effect_size.unwrap(), 5.0, 1e-12);
        assert!(
            result.reason.starts_with("canary error rate 5% vs baseline 1% (n=2000/18000), z-test p=")
                && result.reason.ends_with(", 5.00x: fail"),
            "{}",
            result.reason
        );
    }

    // Reference p from exact fractions, as in the Fisher tests above.
    #[test]
    fn few_errors_use_fisher_and_still_fail_a_five_fold_rate() {
        let rule = Rule::new("errors", RuleKind::ErrorRate);
        let result = evaluate(&rule, &Observations::from_counts(9, 900), &Observations::from_counts(5, 100));
        assert_eq!(result.test, Some(Test::FisherExact));
        assert_close(result.p_value.unwrap(), 0.008_709_992_352_168_149, 1e-9);
        assert_eq!(
            result.reason,
            "canary error rate 5% vs baseline 1% (n=100/900), Fisher p=0.00871, 5.00x: fail"
        );
        assert_eq!((result.baseline_value, result.canary_value), (Some(0.01), Some(0.05)));
        assert_eq!((result.baseline_samples, result.canary_samples), (900, 100));
    }

    #[test]
    fn tiny_but_significant_rate_increase_passes() {
        let rule = Rule::new("errors", RuleKind::ErrorRate);
        let baseline = Observations::from_counts(1_000_000, 100_000_000);
        let canary = Observations::from_counts(110_000, 10_000_000);
        let result = evaluate(&rule, &baseline, &canary);
        assert!(result.p_value.unwrap() < 1e-100);
        assert_eq!(result.decision, Decision::Pass);
        assert!(
            result.reason.ends_with("pass (under the minimum effect of 1.50x and 0.5 pp)"),
            "{}",
            result.reason
        );
        let lower_rate = evaluate(&rule, &baseline, &Observations::from_counts(50_000, 10_000_000));
        assert!(lower_rate.reason.ends_with("0.50x: pass (canary not worse)"), "{}", lower_rate.reason);
    }

    #[test]
    fn equal_error_rates_with_sampling_noise_pass() {
        let rule = Rule::new("errors", RuleKind::ErrorRate);
        for seed in 0..40 {
            let mut noise = Noise(seed);
            let (baseline, canary) = (noise.counts(9000, 0.02), noise.counts(1000, 0.02));
            let result = evaluate(&rule, &baseline, &canary);
            assert_eq!(result.decision, Decision::Pass, "seed {seed}: {}", result.reason);
        }
    }

    #[test]
    fn equal_noisy_series_pass() {
        let rule = Rule::new("duration", RuleKind::SeriesComparison);
        let mut significant_by_chance = 0;
        for seed in 0..200 {
            let mut noise = Noise(seed);
            let baseline = Observations::from_values(&noise.series(60, 100.0, 0.3));
            let canary = Observations::from_values(&noise.series(60, 100.0, 0.3));
            let result = evaluate(&rule, &baseline, &canary);
            assert_eq!(result.decision, Decision::Pass, "seed {seed}: {}", result.reason);
            assert_eq!(result.test, Some(Test::MannWhitneyNormal));
            significant_by_chance += usize::from(result.p_value.unwrap() < rule.alpha);
        }
        // The p-value alone is wrong about 1% of the time (2 of 200 expected); the minimum
        // effect keeps those from failing.
        assert!(significant_by_chance <= 6, "{significant_by_chance} of 200");
    }

    #[test]
    fn latency_sixty_percent_higher_fails() {
        let mut noise = Noise(42);
        let baseline = Observations::from_values(&noise.series(30, 100.0, 0.2));
        let canary = Observations::from_values(&noise.series(30, 160.0, 0.2));
        let rule = Rule::new("duration", RuleKind::SeriesComparison);
        let result = evaluate(&rule, &baseline, &canary);
        assert_eq!((result.decision, result.outcome), (Decision::Fail, Outcome::Fail));
        assert!(result.p_value.unwrap() < 1e-8);
        assert_close(result.effect_size.unwrap(), 1.6, 0.1);
        assert!(result.reason.contains("(n=30/30 periods), Mann-Whitney p="), "{}", result.reason);
        // Faster is never a failure, not even when the test is two-sided.
        let faster = evaluate(&Rule { two_sided: true, ..rule.clone() }, &canary, &baseline);
        assert_eq!(faster.decision, Decision::Pass);
        assert!(faster.reason.contains("Mann-Whitney two-sided p="), "{}", faster.reason);
        assert!(faster.reason.ends_with("pass (canary not worse)"), "{}", faster.reason);
        // A higher minimum effect lets +60% through.
        let tolerant = Rule { min_ratio: Some(2.0), ..rule };
        assert_eq!(evaluate(&tolerant, &baseline, &canary).decision, Decision::Pass);
    }

    #[test]
    fn lower_is_worse_fails_a_drop() {
        let mut noise = Noise(3);
        let baseline = Observations::from_values(&noise.series(20, 50.0, 0.1));
        let canary = Observations::from_values(&noise.series(20, 30.0, 0.1));
        let rule = Rule {
            direction: Direction::LowerIsWorse,
            ..Rule::new("throughput", RuleKind::SeriesComparison)
        };
        let result = evaluate(&rule, &baseline, &canary);
        assert_eq!(result.decision, Decision::Fail, "{}", result.reason);
        assert_eq!(result.test, Some(Test::MannWhitneyExact));
        assert!(result.p_value.unwrap() < 1e-10);
        assert_eq!(evaluate(&rule, &canary, &baseline).decision, Decision::Pass);
    }

    #[test]
    fn too_little_data_is_inconclusive_and_mapped_by_policy() {
        let rule = Rule::new("duration", RuleKind::SeriesComparison);
        let baseline = Observations::from_values(&[100.0; 30]);
        let canary =
            Observations { series: vec![Some(900.0), None, Some(800.0), None, Some(f64::NAN)], counts: None };
        let result = evaluate(&rule, &baseline, &canary);
        assert_eq!((result.decision, result.outcome), (Decision::Inconclusive, Outcome::Pass));
        assert_eq!(
            result.reason,
            "too little data: canary 2 periods, baseline 30 (minimum 5): inconclusive, counted as pass"
        );
        assert_eq!((result.canary_samples, result.canary_value), (2, Some(850.0)));
        let strict = Rule { on_inconclusive: Outcome::Fail, ..rule };
        assert_eq!(evaluate(&strict, &baseline, &canary).outcome, Outcome::Fail);

        let errors = Rule::new("errors", RuleKind::ErrorRate);
        let result =
            evaluate(&errors, &Observations::from_counts(10, 1000), &Observations::from_counts(20, 20));
        assert_eq!((result.decision, result.outcome), (Decision::Inconclusive, Outcome::Pass));
        assert!(result.reason.starts_with("too little data: canary 20 invocations"), "{}", result.reason);
        let no_baseline = evaluate(&errors, &Observations::default(), &Observations::from_counts(0, 500));
        assert_eq!(no_baseline.decision, Decision::Inconclusive);
    }

    #[test]
    fn no_canary_data_follows_the_no_data_policy() {
        let baseline = Observations::from_values(&[100.0; 30]);
        let silent = Observations { series: vec![None; 30], counts: Some(counts(0, 0)) };
        for kind in [RuleKind::ErrorRate, RuleKind::SeriesComparison, RuleKind::Threshold] {
            let rule = Rule { threshold: Some(0.0), ..Rule::new("metric", kind) };
            let result = evaluate(&rule, &baseline, &silent);
            assert_eq!(
                (result.decision, result.outcome),
                (Decision::Inconclusive, Outcome::Pass),
                "{kind:?}"
            );
            assert!(result.reason.ends_with("in the window: inconclusive (onNoData), counted as pass"));
            for (policy, outcome) in [(Decision::Pass, Outcome::Pass), (Decision::Fail, Outcome::Fail)] {
                let result = evaluate(&Rule { on_no_data: policy, ..rule.clone() }, &baseline, &silent);
                assert_eq!((result.decision, result.outcome), (policy, outcome), "{kind:?}");
            }
        }
    }

    #[test]
    fn thresholds_compare_one_aggregate() {
        let throttles = Rule { threshold: Some(0.0), ..Rule::new("throttles", RuleKind::Threshold) };
        let none = Observations::from_values(&[0.0; 4]);
        let some = Observations::from_values(&[0.0, 0.0, 1.0, 2.0]);
        let result = evaluate(&throttles, &none, &some);
        assert_eq!(result.reason, "canary sum 3 > threshold 0 (n=4): fail");
        assert_eq!((result.baseline_value, result.canary_value), (Some(0.0), Some(3.0)));
        assert_eq!(evaluate(&throttles, &some, &none).reason, "canary sum 0 <= threshold 0 (n=4): pass");

        let floor = Rule {
            direction: Direction::LowerIsWorse,
            aggregate: Some(Aggregate::Min),
            threshold: Some(10.0),
            ..Rule::new("concurrency-floor", RuleKind::Threshold)
        };
        let canary = Observations::from_values(&[12.0, 9.5, 30.0]);
        assert_eq!(evaluate(&floor, &none, &canary).reason, "canary min 9.5 < threshold 10 (n=3): fail");

        let error_cap = Rule {
            aggregate: Some(Aggregate::Rate),
            threshold: Some(0.05),
            ..Rule::new("error-cap", RuleKind::Threshold)
        };
        let result = evaluate(&error_cap, &Observations::default(), &Observations::from_counts(3, 40));
        assert_eq!(result.reason, "canary rate 7.5% > threshold 5% (n=40): fail");
    }

    #[test]
    fn rules_parse_from_yaml_with_defaults() {
        let text = r#"
- name: errors
  kind: errorRate
- name: duration
  kind: seriesComparison
  twoSided: true
  minRatio: 1.3
  minAbsoluteChange: 20
  minSamples: 10
  onInconclusive: fail
- name: throttles
  kind: threshold
  direction: higherIsWorse
  aggregate: max
  threshold: 0
  onNoData: pass
"#;
        let rules: Vec<Rule> = serde_yaml_ng::from_str(text).unwrap();
        assert!(rules.iter().all(|rule| rule.validate().is_ok()));
        let errors = &rules[0];
        assert_eq!(
            (errors.alpha, errors.direction, errors.two_sided),
            (0.01, Direction::HigherIsWorse, false)
        );
        assert_eq!(
            (errors.minimum_ratio(), errors.minimum_absolute_change(), errors.minimum_samples()),
            (1.5, 0.005, 50)
        );
        assert_eq!((errors.on_no_data, errors.on_inconclusive), (Decision::Inconclusive, Outcome::Pass));
        assert_eq!(errors, &Rule::new("errors", RuleKind::ErrorRate));
        let duration = &rules[1];
        assert_eq!(
            (duration.minimum_ratio(), duration.minimum_absolute_change(), duration.minimum_samples()),
            (1.3, 20.0, 10)
        );
        assert_eq!((duration.two_sided, duration.on_inconclusive), (true, Outcome::Fail));
        let throttles = &rules[2];
        assert_eq!((throttles.threshold, throttles.aggregate), (Some(0.0), Some(Aggregate::Max)));
        assert_eq!((throttles.on_no_data, throttles.minimum_samples()), (Decision::Pass, 1));
    }

    #[test]
    fn invalid_rules_name_the_problem() {
        let unknown = serde_yaml_ng::from_str::<Rule>("name: t\nkind: threshold\ntreshold: 0\n");
        assert!(unknown.unwrap_err().to_string().contains("unknown field `treshold`"));
        let cases = [
            ("name: ' '\nkind: errorRate", "name must not be empty"),
            ("name: e\nkind: errorRate\nalpha: 0", "alpha must be between 0 and 1"),
            ("name: e\nkind: errorRate\nminRatio: 0.8", "minRatio must be at least 1"),
            ("name: e\nkind: errorRate\nminAbsoluteChange: -1", "minAbsoluteChange must not be negative"),
            ("name: e\nkind: errorRate\nminAbsoluteChange: 5", "an error rate is a fraction, at most 1"),
            ("name: e\nkind: errorRate\ntwoSided: true", "twoSided applies only to seriesComparison rules"),
            ("name: s\nkind: seriesComparison\nthreshold: 3", "threshold applies only to threshold rules"),
            ("name: s\nkind: seriesComparison\naggregate: sum", "aggregate applies only to threshold rules"),
            ("name: t\nkind: threshold", "threshold rules need a finite threshold"),
            (
                "name: t\nkind: threshold\nthreshold: 0\nminRatio: 2",
                "minRatio applies only to comparison rules",
            ),
        ];
        for (text, expected) in cases {
            let rule: Rule = serde_yaml_ng::from_str(text).unwrap();
            let error = rule.validate().unwrap_err().to_string();
            assert!(error.starts_with("rule \""), "{error}");
            assert!(error.ends_with(expected), "{text:?}: got {error:?}, expected {expected:?}");
        }
    }

    #[test]
    fn results_serialize_in_camel_case() {
        let rule = Rule::new("errors", RuleKind::ErrorRate);
        let result = evaluate(&rule, &Observations::from_counts(9, 900), &Observations::from_counts(5, 100));
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["rule"], "errors");
        assert_eq!(json["kind"], "errorRate");
        assert_eq!((&json["decision"], &json["outcome"]), (&"fail".into(), &"fail".into()));
        assert_eq!(json["test"], "fisherExact");
        assert_eq!((&json["baselineSamples"], &json["canarySamples"]), (&900.into(), &100.into()));
        assert_eq!(json["statistic"], 5.0);
        for key in ["baselineValue", "canaryValue", "pValue", "effectSize", "reason"] {
            assert!(json.get(key).is_some_and(|value| !value.is_null()), "{key} in {json}");
        }
        let from_zero =
            evaluate(&rule, &Observations::from_counts(0, 18_000), &Observations::from_counts(40, 2000));
        assert_eq!((from_zero.decision, from_zero.effect_size), (Decision::Fail, None));
        assert!(from_zero.reason.ends_with("up from zero: fail"), "{}", from_zero.reason);
    }

    // The size the post-traffic hook analyses: 20 metrics × 2 versions × 60 periods, with one
    // regression planted in each kind of rule (metrics 0, 5, 10 and 15).
    #[test]
    fn twenty_metrics_of_sixty_periods_each() {
        let mut noise = Noise(2024);
        let kinds = [
            RuleKind::SeriesComparison,
            RuleKind::SeriesComparison,
            RuleKind::ErrorRate,
            RuleKind::Threshold,
        ];
        let mut results = Vec::new();
        for metric in 0..20 {
            let regressed = metric % 5 == 0;
            let kind = kinds[metric % 4];
            let mut rule = Rule::new(format!("metric-{metric}"), kind);
            let (baseline, canary) = match kind {
                RuleKind::SeriesComparison => {
                    let mut gappy = |center: f64| {
                        let values = noise.series(60, center, 0.25);
                        let series =
                            values.iter().enumerate().map(|(i, v)| (i % 17 != 3).then_some(*v)).collect();
                        Observations { series, counts: None }
                    };
                    (gappy(100.0), gappy(if regressed { 160.0 } else { 100.0 }))
                }
                RuleKind::ErrorRate => {
                    (noise.counts(18_000, 0.01), noise.counts(2000, if regressed { 0.05 } else { 0.01 }))
                }
                RuleKind::Threshold => {
                    rule.threshold = Some(0.0);
                    let throttles = |bursts: bool| {
                        Observations::from_values(
                            &(0..60)
                                .map(|i| if bursts && i % 20 == 7 { 2.0 } else { 0.0 })
                                .collect::<Vec<_>>(),
                        )
                    };
                    (throttles(false), throttles(regressed))
                }
            };
            results.push((regressed, kind, evaluate(&rule, &baseline, &canary)));
        }
        assert_eq!(results.len(), 20);
        for (regressed, kind, result) in &results {
            let expected = if *regressed { Decision::Fail } else { Decision::Pass };
            assert_eq!(result.decision, expected, "{kind:?}: {}", result.reason);
            match kind {
                RuleKind::SeriesComparison => {
                    assert_eq!((result.baseline_samples, result.canary_samples), (56, 56))
                }
                RuleKind::ErrorRate => {
                    assert_eq!((result.baseline_samples, result.canary_samples), (18_000, 2000))
                }
                RuleKind::Threshold => assert_eq!(result.canary_samples, 60),
            }
        }
    }
}
