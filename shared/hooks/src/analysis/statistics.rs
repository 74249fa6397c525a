//! The statistical tests behind canary analysis, on plain numbers: Fisher's exact test and the
//! pooled two-proportion z-test for events out of trials, the Mann–Whitney U test for two
//! samples, the standard normal distribution, and medians.
//!
//! No rule types: every test reports both one-sided p-values, and which of them counts as
//! "worse" is for [`super::judge`] to say.

use serde::Serialize;
use std::f64::consts::{FRAC_2_SQRT_PI, SQRT_2};

/// Smallest expected cell count of the 2×2 table for which the z-test replaces Fisher's test.
const MIN_EXPECTED_CELL_FOR_Z_TEST: f64 = 5.0;
/// Most values per version for which the Mann–Whitney U test uses its exact distribution.
const MAX_EXACT_MANN_WHITNEY: usize = 20;

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
    /// Short name of the test, for reports.
    pub(super) fn label(self) -> &'static str {
        match self {
            Test::FisherExact => "Fisher",
            Test::TwoProportionZ => "z-test",
            Test::MannWhitneyExact => "Mann-Whitney exact",
            Test::MannWhitneyNormal => "Mann-Whitney",
        }
    }
}

/// Events out of trials over the window, such as errors out of invocations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// Events counted (errors).
    pub events: u64,
    /// Trials they are counted out of (invocations).
    pub trials: u64,
}

impl EventCounts {
    /// Events over trials; `None` without trials.
    pub fn rate(&self) -> Option<f64> {
        (self.trials > 0).then(|| self.events as f64 / self.trials as f64)
    }

    /// At most as many events as trials.
    pub(super) fn clamped(self) -> Self {
        Self { events: self.events.min(self.trials), trials: self.trials }
    }
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
    /// Two-sided p-value: twice the smaller one-sided p-value, at most 1.
    pub fn p_two_sided(&self) -> f64 {
        (2.0 * self.p_greater.min(self.p_less)).min(1.0)
    }
}

/// The median of ascending values; `None` without values.
pub(super) fn median(sorted: &[f64]) -> Option<f64> {
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        length if length % 2 == 1 => Some(sorted[middle]),
        _ => Some(f64::midpoint(sorted[middle - 1], sorted[middle])),
    }
}

/// Compares rates with Fisher's exact test when any expected cell of the 2×2 table is below 5,
/// with the pooled two-proportion z-test otherwise.
pub fn compare_rates(baseline: EventCounts, canary: EventCounts) -> TestOutcome {
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
pub fn fisher_exact(baseline: EventCounts, canary: EventCounts) -> TestOutcome {
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
pub fn two_proportion_z(baseline: EventCounts, canary: EventCounts) -> TestOutcome {
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
pub(super) fn mann_whitney_sorted(baseline: &[f64], canary: &[f64]) -> TestOutcome {
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
        let mid_rank = ranked as f64 + f64::midpoint(tied, 1.0);
        canary_rank_sum += tied_canary as f64 * mid_rank;
        tie_term += tied * tied * tied - tied;
        ranked += tied_baseline + tied_canary;
        in_baseline += tied_baseline;
        in_canary += tied_canary;
    }
    let n_canary = canary.len() as f64;
    let u = canary_rank_sum - n_canary * (n_canary + 1.0) / 2.0;
    if tie_term == 0.0 && baseline.len() <= MAX_EXACT_MANN_WHITNEY && canary.len() <= MAX_EXACT_MANN_WHITNEY {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "without ties U is a whole number from 0 to n·m"
        )]
        let whole_u = u as usize;
        let (p_greater, p_less) = mann_whitney_exact_tails(whole_u, baseline.len(), canary.len());
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::analysis) fn assert_close(actual: f64, expected: f64, relative: f64) {
        assert!(
            (actual - expected).abs() <= relative * expected.abs(),
            "{actual:e} differs from {expected:e} by more than {relative:e} relative"
        );
    }

    pub(in crate::analysis) fn counts(events: u64, trials: u64) -> EventCounts {
        EventCounts { events, trials }
    }

    // erfc to 20 digits from mpmath at 40 digits of working precision; erfc(1) and erfc(2)
    // also agree with erf in Abramowitz & Stegun, table 7.1.
    #[test]
    fn erfc_matches_reference_values() {
        let reference = [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (-1.0, 1.842_700_792_949_714_8),
            (1.5, 0.033_894_853_524_689_274),
            (2.0, 0.004_677_734_981_047_266),
            (3.0, 2.209_049_699_858_544e-05),
            (5.0, 1.537_459_794_428_035e-12),
            (10.0, 2.088_487_583_762_545e-45),
            (20.0, 5.395_865_611_607_901e-176),
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
            (3.0, 0.001_349_898_031_630_094_6),
            (5.0, 2.866_515_718_791_939e-07),
            (8.0, 6.220_960_574_271_784e-16),
            (20.0, 2.753_624_118_606_233_7e-89),
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
        assert_close(ln_factorial(32), 81.557_959_456_115_04, 1e-15);
        assert_close(ln_factorial(33), 85.054_467_017_581_52, 1e-15);
        assert_close(ln_factorial(1000), 5_912.128_178_488_163, 1e-15);
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
}
