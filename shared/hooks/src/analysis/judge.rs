//! Judging one rule: a canary version against the baseline version on what each recorded over
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

use crate::analysis::power::{POWER, detectable_rate, detectable_shift, robust_spread};
use crate::analysis::rules::{Aggregate, Direction, Outcome, Rule, RuleDecision, RuleKind, RuleMode};
use crate::analysis::statistics::{
    EventCounts, Test, TestOutcome, compare_rates, mann_whitney_sorted, median,
};
use serde::Serialize;

/// What one version recorded for one metric over the analysis window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observations {
    /// One value per period; `None` (or a non-finite value) where the period had no data.
    pub series: Vec<Option<f64>>,
    /// Events out of trials summed over the window, for error rates and the `rate` aggregate.
    pub counts: Option<EventCounts>,
}

impl Observations {
    /// A series with data in every period.
    pub fn from_values(values: &[f64]) -> Self {
        Self { series: values.iter().copied().map(Some).collect(), counts: None }
    }

    /// Counts alone, for error-rate rules.
    pub fn from_counts(events: u64, trials: u64) -> Self {
        Self { series: Vec::new(), counts: Some(EventCounts { events, trials }) }
    }

    /// The periods' values that are present and finite, with -0 made 0.
    fn present(&self) -> impl Iterator<Item = f64> + '_ {
        self.present_after(0)
    }

    /// [`Self::present`] after the first `skipped` periods.
    fn present_after(&self, skipped: usize) -> impl Iterator<Item = f64> + '_ {
        self.series.iter().skip(skipped).flatten().filter(|value| value.is_finite()).map(|value| value + 0.0)
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
    pub decision: RuleDecision,
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
    /// Comparisons: the canary value (rate or median) nearest the baseline's that these samples
    /// would have shown worse with 80 % power at the rule's alpha; `None` when none could be
    /// (or the comparison did not get that far).
    pub detectable_value: Option<f64>,
    /// That value as times worse than the baseline (as the minimum ratio counts it); `None` when
    /// the baseline is zero or nothing was detectable.
    pub detectable_effect: Option<f64>,
    /// Comparisons: the samples could not have detected the rule's own minimum effect.
    pub underpowered: bool,
    /// `observe`: reported, never failing the deployment.
    pub mode: RuleMode,
    /// One line for humans: values, sample sizes, test, effect and verdict.
    pub reason: String,
}

/// Judges `canary` against `baseline` by `rule` (which should have passed [`Rule::validate`]).
pub fn evaluate(rule: &Rule, baseline: &Observations, canary: &Observations) -> RuleResult {
    let mut result = RuleResult {
        rule: rule.name.clone(),
        kind: rule.kind,
        decision: RuleDecision::Inconclusive,
        outcome: rule.on_inconclusive,
        baseline_value: None,
        canary_value: None,
        baseline_samples: 0,
        canary_samples: 0,
        test: None,
        statistic: None,
        p_value: None,
        effect_size: None,
        detectable_value: None,
        detectable_effect: None,
        underpowered: false,
        mode: rule.mode,
        reason: String::new(),
    };
    let (decision, reason) = match rule.kind {
        RuleKind::ErrorRate => judge_error_rate(rule, baseline, canary, &mut result),
        RuleKind::SeriesComparison => judge_series(rule, baseline, canary, &mut result),
        RuleKind::Threshold => judge_threshold(rule, baseline, canary, &mut result),
    };
    let (decision, reason) = if decision == RuleDecision::Pass && result.underpowered && rule.require_power {
        (RuleDecision::Inconclusive, format!("{reason}: underpowered (requirePower): inconclusive"))
    } else {
        (decision, reason)
    };
    result.decision = decision;
    result.outcome = match (rule.mode, decision) {
        (RuleMode::Observe, _) | (_, RuleDecision::Pass) => Outcome::Pass,
        (RuleMode::Enforce, RuleDecision::Fail) => Outcome::Fail,
        (RuleMode::Enforce, RuleDecision::Inconclusive) => rule.on_inconclusive,
    };
    result.reason = match (rule.mode, decision) {
        (RuleMode::Observe, _) => format!("{reason} (observe mode: never fails the deployment)"),
        (_, RuleDecision::Inconclusive) => format!("{reason}, counted as {}", result.outcome),
        _ => reason,
    };
    result
}

fn judge_error_rate(
    rule: &Rule,
    baseline: &Observations,
    canary: &Observations,
    result: &mut RuleResult,
) -> (RuleDecision, String) {
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
        return (RuleDecision::Inconclusive, reason);
    }
    result.canary_value = canary.rate();
    result.baseline_value = baseline.rate();
    let minimum = rule.minimum_samples().max(1);
    if canary.trials < minimum || baseline.trials < minimum {
        let reason = format!(
            "too little data: canary {} invocations, baseline {} (minimum {minimum}): inconclusive",
            canary.trials, baseline.trials
        );
        return (RuleDecision::Inconclusive, reason);
    }
    let (baseline_rate, canary_rate) =
        (baseline.events as f64 / baseline.trials as f64, canary.events as f64 / canary.trials as f64);
    let outcome = compare_rates(baseline, canary);
    let p = p_worse(&outcome, rule.direction);
    record_test(result, &outcome, p, baseline_rate, canary_rate);
    let higher_is_worse = rule.direction == Direction::HigherIsWorse;
    let detectable =
        detectable_rate(baseline_rate, baseline.trials, canary.trials, rule.alpha, higher_is_worse);
    let ratio = |canary| rate_worse_ratio(baseline_rate, canary, rule.direction);
    record_power(result, rule, detectable, minimum_failing_rate(rule, baseline_rate));
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
    let power = power_text(result, "error rate", percent);
    let comparison =
        Comparison { p, baseline: baseline_rate, canary: canary_rate, worse_ratio: ratio(canary_rate) };
    judge_comparison(rule, &comparison, &summary, &minimum_effect, &power)
}

fn judge_series(
    rule: &Rule,
    baseline: &Observations,
    canary: &Observations,
    result: &mut RuleResult,
) -> (RuleDecision, String) {
    let warm_up = rule.warm_up_periods.map_or(0, |periods| periods as usize);
    let mut canary_values: Vec<f64> = canary.present_after(warm_up).collect();
    if canary_values.is_empty() {
        let what = if warm_up > 0 { "no canary data after the warm-up" } else { "no canary data" };
        return no_data(rule, what);
    }
    let mut baseline_values: Vec<f64> = baseline.present_after(warm_up).collect();
    canary_values.sort_unstable_by(f64::total_cmp);
    baseline_values.sort_unstable_by(f64::total_cmp);
    result.canary_samples = canary_values.len() as u64;
    result.baseline_samples = baseline_values.len() as u64;
    result.canary_value = median(&canary_values);
    result.baseline_value = median(&baseline_values);
    let minimum = rule.minimum_samples().max(1);
    let (Some(baseline_median), Some(canary_median)) = (result.baseline_value, result.canary_value) else {
        return (RuleDecision::Inconclusive, "no baseline data: inconclusive".into());
    };
    if result.canary_samples < minimum || result.baseline_samples < minimum {
        let reason = format!(
            "too little data: canary {} periods, baseline {} (minimum {minimum}): inconclusive",
            result.canary_samples, result.baseline_samples
        );
        return (RuleDecision::Inconclusive, reason);
    }
    let outcome = mann_whitney_sorted(&baseline_values, &canary_values);
    let (p, sides) = if rule.two_sided {
        (outcome.p_two_sided(), " two-sided")
    } else {
        (p_worse(&outcome, rule.direction), "")
    };
    record_test(result, &outcome, p, baseline_median, canary_median);
    let shift = detectable_shift(
        robust_spread(&baseline_values),
        baseline_values.len(),
        canary_values.len(),
        rule.alpha,
    );
    let detectable = shift.map(|shift| match rule.direction {
        Direction::HigherIsWorse => baseline_median + shift,
        Direction::LowerIsWorse => baseline_median - shift,
    });
    let failing = minimum_failing_value(rule, baseline_median);
    record_power(result, rule, detectable, failing);
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
    let power = power_text(result, "median", significant);
    let worse_ratio = worse_ratio(baseline_median, canary_median, rule.direction);
    let comparison = Comparison { p, baseline: baseline_median, canary: canary_median, worse_ratio };
    judge_comparison(rule, &comparison, &summary, &minimum_effect, &power)
}

fn judge_threshold(
    rule: &Rule,
    baseline: &Observations,
    canary: &Observations,
    result: &mut RuleResult,
) -> (RuleDecision, String) {
    let aggregate = rule.aggregate.unwrap_or_default();
    (result.canary_value, result.canary_samples) = aggregate_of(canary, aggregate);
    (result.baseline_value, result.baseline_samples) = aggregate_of(baseline, aggregate);
    let Some(threshold) = rule.threshold.filter(|threshold| threshold.is_finite()) else {
        return (RuleDecision::Inconclusive, "the rule has no threshold: inconclusive".into());
    };
    let Some(value) = result.canary_value else {
        return no_data(rule, "no canary data");
    };
    let minimum = rule.minimum_samples();
    if result.canary_samples < minimum {
        let reason =
            format!("too little data: canary n={} (minimum {minimum}): inconclusive", result.canary_samples);
        return (RuleDecision::Inconclusive, reason);
    }
    let show = |value: f64| if aggregate == Aggregate::Rate { percent(value) } else { significant(value) };
    let (breached, worse, within) = match rule.direction {
        Direction::HigherIsWorse => (value > threshold, ">", "<="),
        Direction::LowerIsWorse => (value < threshold, "<", ">="),
    };
    let (decision, comparison) =
        if breached { (RuleDecision::Fail, worse) } else { (RuleDecision::Pass, within) };
    let reason = format!(
        "canary {aggregate} {} {comparison} threshold {} (n={}): {decision}",
        show(value),
        show(threshold),
        result.canary_samples
    );
    (decision, reason)
}

/// The decision the rule's no-data policy gives.
fn no_data(rule: &Rule, what: &str) -> (RuleDecision, String) {
    (rule.on_no_data, format!("{what} in the window: {} (onNoData)", rule.on_no_data))
}

fn record_test(result: &mut RuleResult, outcome: &TestOutcome, p: f64, baseline: f64, canary: f64) {
    result.test = Some(outcome.test);
    result.statistic = Some(outcome.statistic);
    result.p_value = Some(p);
    result.effect_size = ratio(baseline, canary);
}

/// What a comparison found: its p-value, both versions' values, and how many times worse the
/// canary is (as the minimum ratio counts it).
struct Comparison {
    p: f64,
    baseline: f64,
    canary: f64,
    worse_ratio: f64,
}

/// Fails only when the canary is worse, significantly, and by at least the minimum effect; a
/// pass says what the samples could have detected (`power`).
fn judge_comparison(
    rule: &Rule,
    found: &Comparison,
    summary: &str,
    minimum_effect: &str,
    power: &str,
) -> (RuleDecision, String) {
    let change = worse_change(found.baseline, found.canary, rule.direction);
    let (decision, verdict) = if change <= 0.0 {
        (RuleDecision::Pass, format!("pass (canary not worse), {power}"))
    } else if found.p.is_nan() || found.p >= rule.alpha {
        (RuleDecision::Pass, format!("pass (not significant at alpha {}), {power}", rule.alpha))
    } else if found.worse_ratio < rule.minimum_ratio() || change < rule.minimum_absolute_change() {
        (RuleDecision::Pass, format!("pass (under the minimum effect of {minimum_effect}), {power}"))
    } else {
        (RuleDecision::Fail, "fail".to_owned())
    };
    (decision, format!("{summary}: {verdict}"))
}

/// Records what the samples could have detected (`detectable`, a canary value) and whether that
/// reaches the rule's minimum effect (`failing`, the least-bad canary value the rule fails on).
fn record_power(result: &mut RuleResult, rule: &Rule, detectable: Option<f64>, failing: f64) {
    let (Some(baseline), Some(value)) = (result.baseline_value, detectable) else {
        result.underpowered = true;
        return;
    };
    result.detectable_value = Some(value);
    let ratio = worse_ratio(baseline, value, rule.direction);
    result.detectable_effect = ratio.is_finite().then_some(ratio);
    result.underpowered = match rule.direction {
        Direction::HigherIsWorse => value > failing,
        Direction::LowerIsWorse => value < failing,
    };
}

/// "could have detected ≥ 3.20x error rate with n=140/1260", or that nothing was detectable.
fn power_text(result: &RuleResult, what: &str, show: fn(f64) -> String) -> String {
    let samples = format!("n={}/{}", result.canary_samples, result.baseline_samples);
    let power = (POWER * 100.0).round();
    match (result.detectable_effect, result.detectable_value) {
        (Some(ratio), _) => {
            format!("could have detected ≥ {ratio:.2}x {what} with {samples} ({power}% power)")
        }
        (None, Some(value)) => {
            format!("could have detected {what} {} with {samples} ({power}% power)", show(value))
        }
        (None, None) => format!("could not have detected any effect with {samples}"),
    }
}

/// The least-bad canary value a comparison rule fails on, for baseline value `baseline`.
fn minimum_failing_value(rule: &Rule, baseline: f64) -> f64 {
    let (ratio, change) = (rule.minimum_ratio(), rule.minimum_absolute_change());
    match rule.direction {
        Direction::HigherIsWorse => (baseline * ratio).max(baseline + change),
        Direction::LowerIsWorse => (baseline / ratio).min(baseline - change),
    }
}

/// [`minimum_failing_value`] for a rate, where the complement's ratio also counts (see
/// [`rate_worse_ratio`]), so that the minimum is always reachable.
fn minimum_failing_rate(rule: &Rule, baseline: f64) -> f64 {
    let (ratio, change) = (rule.minimum_ratio(), rule.minimum_absolute_change());
    match rule.direction {
        Direction::HigherIsWorse => {
            (baseline * ratio).min(1.0 - (1.0 - baseline) / ratio).max(baseline + change)
        }
        Direction::LowerIsWorse => {
            (baseline / ratio).max(1.0 - (1.0 - baseline) * ratio).min(baseline - change)
        }
    }
}

/// How many times worse a canary rate is: the larger of the ratio of the rates and the ratio of
/// their complements (an error rate of 100 % against 71 % is 1.4 times the errors but no
/// successes at all), so a minimum ratio stays reachable whatever the baseline.
fn rate_worse_ratio(baseline: f64, canary: f64, direction: Direction) -> f64 {
    let complement = match direction {
        Direction::HigherIsWorse => Direction::LowerIsWorse,
        Direction::LowerIsWorse => Direction::HigherIsWorse,
    };
    worse_ratio(baseline, canary, direction).max(worse_ratio(1.0 - baseline, 1.0 - canary, complement))
}

/// P-value for the alternative "the canary is worse" in `direction`.
fn p_worse(outcome: &TestOutcome, direction: Direction) -> f64 {
    match direction {
        Direction::HigherIsWorse => outcome.p_greater,
        Direction::LowerIsWorse => outcome.p_less,
    }
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
        let counts = observations.counts.map(EventCounts::clamped);
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

/// `value` to three significant digits without trailing zeros, and without an exponent for
/// everyday magnitudes.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the decimal exponent of a finite f64 fits in i32; decimals is clamped at zero"
)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::statistics::tests::{assert_close, counts};

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

    #[test]
    fn canary_error_rate_five_times_the_baseline_fails() {
        let rule = Rule::new("errors", RuleKind::ErrorRate);
        let result =
            evaluate(&rule, &Observations::from_counts(180, 18_000), &Observations::from_counts(100, 2000));
        assert_eq!((result.decision, result.outcome), (RuleDecision::Fail, Outcome::Fail));
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
        assert_eq!(result.decision, RuleDecision::Pass);
        assert!(
            result.reason.contains(
                "pass (under the minimum effect of 1.50x and 0.5 pp), could have detected ≥ 1.01x error rate \
                 with n=10000000/100000000 (80% power)"
            ),
            "{}",
            result.reason
        );
        assert!(!result.underpowered);
        let lower_rate = evaluate(&rule, &baseline, &Observations::from_counts(50_000, 10_000_000));
        assert!(lower_rate.reason.contains("0.50x: pass (canary not worse)"), "{}", lower_rate.reason);
    }

    // The failure the issue reports: a canary failing every invocation against a baseline failing
    // 71% is only 1.40x the errors, but has no successes at all.
    #[test]
    fn a_canary_that_never_succeeds_fails_whatever_the_baseline() {
        let rule = Rule::new("errors", RuleKind::ErrorRate);
        let result =
            evaluate(&rule, &Observations::from_counts(710, 1000), &Observations::from_counts(100, 100));
        assert_eq!(
            (result.decision, result.outcome),
            (RuleDecision::Fail, Outcome::Fail),
            "{}",
            result.reason
        );
        assert!(result.reason.contains("canary error rate 100% vs baseline 71%"), "{}", result.reason);
        // Worse by 1.40x in errors and by 1.16x in successes (0.29 → 0.25): under 1.5x both ways.
        let result =
            evaluate(&rule, &Observations::from_counts(710, 1000), &Observations::from_counts(750, 1000));
        assert_eq!(result.decision, RuleDecision::Pass, "{}", result.reason);
        assert_close(minimum_failing_rate(&rule, 0.71), 1.0 - 0.29 / 1.5, 1e-12);
        assert_close(minimum_failing_rate(&rule, 0.01), 0.015, 1e-12);
    }

    #[test]
    fn a_zero_baseline_gives_no_nan_or_infinite_figures() {
        let rule = Rule::new("errors", RuleKind::ErrorRate);
        for canary_errors in [0, 3, 40] {
            let result = evaluate(
                &rule,
                &Observations::from_counts(0, 5000),
                &Observations::from_counts(canary_errors, 500),
            );
            let report = serde_json::to_value(&result).unwrap();
            for field in ["baselineValue", "canaryValue", "pValue", "statistic", "detectableValue"] {
                assert!(report[field].as_f64().is_some_and(f64::is_finite), "{field}: {report:#}");
            }
            assert!(report["effectSize"].is_null() || report["effectSize"] == 1.0, "{report:#}");
            assert!(report["detectableEffect"].is_null(), "{report:#}");
            if result.decision == RuleDecision::Pass {
                assert!(result.reason.contains("could have detected error rate 0."), "{}", result.reason);
            }
        }
        let series = Rule::new("throttles", RuleKind::SeriesComparison);
        let result =
            evaluate(&series, &Observations::from_values(&[0.0; 10]), &Observations::from_values(&[0.0; 10]));
        assert_eq!(result.decision, RuleDecision::Pass, "{}", result.reason);
        assert!(!result.reason.contains("NaN") && !result.reason.contains("inf"), "{}", result.reason);
    }

    // Canary10Percent5Minutes on a function taking 280 invocations a minute: 140 canary
    // invocations against 1,260. A 1% baseline is detectably worse only from about 4.9x (by hand:
    // p1 = 0.0103 + 2.326·0.01059 + 0.842·0.01876 = 0.0507 with the pooled and unpooled spreads).
    #[test]
    fn a_pass_says_what_it_could_have_detected_and_require_power_makes_it_inconclusive() {
        let rule = Rule::new("errors", RuleKind::ErrorRate);
        let (baseline, canary) = (Observations::from_counts(13, 1260), Observations::from_counts(2, 140));
        let result = evaluate(&rule, &baseline, &canary);
        assert_eq!(result.decision, RuleDecision::Pass, "{}", result.reason);
        let effect = result.detectable_effect.unwrap();
        assert!((4.8..5.0).contains(&effect), "{}", result.reason);
        assert!(result.underpowered, "1.5x was out of reach");
        assert!(
            result.reason.contains(&format!(
                "could have detected ≥ {effect:.2}x error rate with n=140/1260 (80% power)"
            )),
            "{}",
            result.reason
        );
        let strict = Rule { require_power: true, ..rule.clone() };
        let result = evaluate(&strict, &baseline, &canary);
        assert_eq!((result.decision, result.outcome), (RuleDecision::Inconclusive, Outcome::Pass));
        assert!(
            result.reason.contains("underpowered (requirePower): inconclusive, counted as pass"),
            "{}",
            result.reason
        );
        let result = evaluate(&Rule { on_inconclusive: Outcome::Fail, ..strict }, &baseline, &canary);
        assert_eq!(result.outcome, Outcome::Fail);
        // Ten times the traffic reaches 1.5x: no longer underpowered.
        let result = evaluate(
            &rule,
            &Observations::from_counts(1300, 126_000),
            &Observations::from_counts(140, 14_000),
        );
        assert!(!result.underpowered && result.detectable_effect.unwrap() < 1.5, "{}", result.reason);
    }

    // The rehearsal's finding: one period per version cannot show anything.
    #[test]
    fn one_period_each_could_not_have_detected_anything() {
        let rule = Rule { min_samples: Some(1), ..Rule::new("duration", RuleKind::SeriesComparison) };
        let result =
            evaluate(&rule, &Observations::from_values(&[100.0]), &Observations::from_values(&[300.0]));
        assert_eq!(result.decision, RuleDecision::Pass, "{}", result.reason);
        assert!(result.underpowered && result.detectable_value.is_none());
        assert!(
            result.reason.ends_with("could not have detected any effect with n=1/1"),
            "{}",
            result.reason
        );
        let strict = Rule { require_power: true, ..rule };
        let result =
            evaluate(&strict, &Observations::from_values(&[100.0]), &Observations::from_values(&[300.0]));
        assert_eq!(result.decision, RuleDecision::Inconclusive);
    }

    #[test]
    fn an_observed_rule_reports_its_failure_without_failing() {
        let rule = Rule { mode: RuleMode::Observe, ..Rule::new("errors", RuleKind::ErrorRate) };
        let result =
            evaluate(&rule, &Observations::from_counts(180, 18_000), &Observations::from_counts(100, 2000));
        assert_eq!(
            (result.decision, result.outcome, result.mode),
            (RuleDecision::Fail, Outcome::Pass, RuleMode::Observe)
        );
        assert!(
            result.reason.ends_with("5.00x: fail (observe mode: never fails the deployment)"),
            "{}",
            result.reason
        );
        let inconclusive = Rule { on_inconclusive: Outcome::Fail, ..rule };
        let result = evaluate(&inconclusive, &Observations::default(), &Observations::from_counts(1, 10));
        assert_eq!((result.decision, result.outcome), (RuleDecision::Inconclusive, Outcome::Pass));
    }

    #[test]
    fn a_warm_up_leaves_the_cold_start_out_of_both_versions() {
        let mut noise = Noise(7);
        let baseline = noise.series(15, 100.0, 0.05);
        let mut canary = noise.series(15, 100.0, 0.05);
        canary[..3].iter_mut().for_each(|value| *value *= 20.0);
        let (baseline, canary) = (Observations::from_values(&baseline), Observations::from_values(&canary));
        let rule = Rule { min_ratio: Some(1.0), ..Rule::new("duration", RuleKind::SeriesComparison) };
        let cold = evaluate(&rule, &baseline, &canary);
        let warm = evaluate(&Rule { warm_up_periods: Some(3), ..rule }, &baseline, &canary);
        assert!(warm.p_value.unwrap() > cold.p_value.unwrap(), "{} / {}", cold.reason, warm.reason);
        assert_eq!((warm.canary_samples, warm.baseline_samples), (12, 12));
        assert_eq!(warm.decision, RuleDecision::Pass, "{}", warm.reason);
    }

    #[test]
    fn equal_error_rates_with_sampling_noise_pass() {
        let rule = Rule::new("errors", RuleKind::ErrorRate);
        for seed in 0..40 {
            let mut noise = Noise(seed);
            let (baseline, canary) = (noise.counts(9000, 0.02), noise.counts(1000, 0.02));
            let result = evaluate(&rule, &baseline, &canary);
            assert_eq!(result.decision, RuleDecision::Pass, "seed {seed}: {}", result.reason);
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
            assert_eq!(result.decision, RuleDecision::Pass, "seed {seed}: {}", result.reason);
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
        assert_eq!((result.decision, result.outcome), (RuleDecision::Fail, Outcome::Fail));
        assert!(result.p_value.unwrap() < 1e-8);
        assert_close(result.effect_size.unwrap(), 1.6, 0.1);
        assert!(result.reason.contains("(n=30/30 periods), Mann-Whitney p="), "{}", result.reason);
        // Faster is never a failure, not even when the test is two-sided.
        let faster = evaluate(&Rule { two_sided: true, ..rule.clone() }, &canary, &baseline);
        assert_eq!(faster.decision, RuleDecision::Pass);
        assert!(faster.reason.contains("Mann-Whitney two-sided p="), "{}", faster.reason);
        assert!(
            faster.reason.contains("pass (canary not worse), could have detected ≥ 1.1"),
            "{}",
            faster.reason
        );
        // A higher minimum effect lets +60% through.
        let tolerant = Rule { min_ratio: Some(2.0), ..rule };
        assert_eq!(evaluate(&tolerant, &baseline, &canary).decision, RuleDecision::Pass);
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
        assert_eq!(result.decision, RuleDecision::Fail, "{}", result.reason);
        assert_eq!(result.test, Some(Test::MannWhitneyExact));
        assert!(result.p_value.unwrap() < 1e-10);
        assert_eq!(evaluate(&rule, &canary, &baseline).decision, RuleDecision::Pass);
    }

    #[test]
    fn too_little_data_is_inconclusive_and_mapped_by_policy() {
        let rule = Rule::new("duration", RuleKind::SeriesComparison);
        let baseline = Observations::from_values(&[100.0; 30]);
        let canary =
            Observations { series: vec![Some(900.0), None, Some(800.0), None, Some(f64::NAN)], counts: None };
        let result = evaluate(&rule, &baseline, &canary);
        assert_eq!((result.decision, result.outcome), (RuleDecision::Inconclusive, Outcome::Pass));
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
        assert_eq!((result.decision, result.outcome), (RuleDecision::Inconclusive, Outcome::Pass));
        assert!(result.reason.starts_with("too little data: canary 20 invocations"), "{}", result.reason);
        let no_baseline = evaluate(&errors, &Observations::default(), &Observations::from_counts(0, 500));
        assert_eq!(no_baseline.decision, RuleDecision::Inconclusive);
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
                (RuleDecision::Inconclusive, Outcome::Pass),
                "{kind:?}"
            );
            assert!(result.reason.ends_with("in the window: inconclusive (onNoData), counted as pass"));
            for (policy, outcome) in
                [(RuleDecision::Pass, Outcome::Pass), (RuleDecision::Fail, Outcome::Fail)]
            {
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
        assert_eq!((from_zero.decision, from_zero.effect_size), (RuleDecision::Fail, None));
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
            let expected = if *regressed { RuleDecision::Fail } else { RuleDecision::Pass };
            assert_eq!(result.decision, expected, "{kind:?}: {}", result.reason);
            match kind {
                RuleKind::SeriesComparison => {
                    assert_eq!((result.baseline_samples, result.canary_samples), (56, 56));
                }
                RuleKind::ErrorRate => {
                    assert_eq!((result.baseline_samples, result.canary_samples), (18_000, 2000));
                }
                RuleKind::Threshold => assert_eq!(result.canary_samples, 60),
            }
        }
    }
}
