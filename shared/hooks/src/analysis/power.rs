//! What a comparison could have detected: for the samples it got, the smallest effect its test
//! finds at the rule's alpha with [`POWER`] (80 %) probability, by the usual normal
//! approximations. A pass from a comparison that could not have seen the rule's own minimum
//! effect says little, and the report says so.
//!
//! - Rates: the pooled one-sided two-proportion z-test's power, solved for the canary rate
//!   (Fleiss, *Statistical Methods for Rates and Proportions*, 3rd ed., §4.2).
//! - Series: the Mann–Whitney test as the t-test on a location shift scaled by its asymptotic
//!   relative efficiency 3/π (Lehmann, *Nonparametrics*, §2.4), with the baseline's spread
//!   estimated robustly (1.4826 × the median absolute deviation, the standard deviation when
//!   that is zero), and no effect at all when even a complete separation of the two samples
//!   could not reach alpha.

use crate::analysis::statistics::{median, normal_cdf, normal_upper_tail};
use std::f64::consts::PI;

/// The probability of detecting an effect that the figures here are computed for.
pub const POWER: f64 = 0.8;
/// Scale of the median absolute deviation that estimates a normal distribution's σ.
const MAD_TO_SIGMA: f64 = 1.482_6;
/// Steps of the bisections below: enough to reach the last bit of an interval of width at most 80.
const BISECTION_STEPS: u32 = 64;

/// The z with Φ(z) = `p`, for 0 < p < 1 (by bisection on Φ, to the last bit).
pub fn normal_quantile(p: f64) -> f64 {
    let (mut low, mut high) = (-40.0_f64, 40.0_f64);
    for _ in 0..BISECTION_STEPS {
        let middle = f64::midpoint(low, high);
        if normal_cdf(middle) < p { low = middle } else { high = middle }
    }
    f64::midpoint(low, high)
}

/// The power of the pooled one-sided two-proportion z-test at level `alpha` to find a canary
/// rate `canary` worse than a baseline rate `baseline`, with the given trials per version.
pub fn rate_test_power(
    baseline: f64,
    canary: f64,
    baseline_trials: u64,
    canary_trials: u64,
    alpha: f64,
) -> f64 {
    power_at(normal_quantile(1.0 - alpha), baseline, canary, baseline_trials, canary_trials)
}

/// [`rate_test_power`] with the test's critical value `z_alpha` = Φ⁻¹(1 − alpha).
fn power_at(z_alpha: f64, baseline: f64, canary: f64, baseline_trials: u64, canary_trials: u64) -> f64 {
    let (nb, nc) = (baseline_trials as f64, canary_trials as f64);
    if nb == 0.0 || nc == 0.0 {
        return 0.0;
    }
    let pooled = (nb * baseline + nc * canary) / (nb + nc);
    let null_spread = (pooled * (1.0 - pooled) * (1.0 / nb + 1.0 / nc)).sqrt();
    let spread = (baseline * (1.0 - baseline) / nb + canary * (1.0 - canary) / nc).sqrt();
    let difference = (canary - baseline).abs();
    if spread == 0.0 {
        return if difference > 0.0 { 1.0 } else { 0.0 };
    }
    normal_cdf((difference - z_alpha * null_spread) / spread)
}

/// The canary rate nearest `baseline` (above it when `higher_is_worse`, below otherwise) that the
/// test finds with [`POWER`]; `None` when even the most extreme rate would not be found that
/// often with these trials.
pub fn detectable_rate(
    baseline: f64,
    baseline_trials: u64,
    canary_trials: u64,
    alpha: f64,
    higher_is_worse: bool,
) -> Option<f64> {
    let extreme = if higher_is_worse { 1.0 } else { 0.0 };
    let z_alpha = normal_quantile(1.0 - alpha);
    let power = |canary| power_at(z_alpha, baseline, canary, baseline_trials, canary_trials);
    if power(extreme) < POWER {
        return None;
    }
    let (mut near, mut far) = (baseline, extreme);
    for _ in 0..BISECTION_STEPS {
        let middle = f64::midpoint(near, far);
        if power(middle) < POWER { near = middle } else { far = middle }
    }
    Some(far)
}

/// The smallest one-sided p-value the Mann–Whitney test can give with these numbers of values
/// (both samples completely apart, no ties): exact below 21 values per version, else normal.
pub fn mann_whitney_smallest_p(baseline_values: usize, canary_values: usize) -> f64 {
    let (n, m) = (baseline_values as f64, canary_values as f64);
    if baseline_values == 0 || canary_values == 0 {
        return 1.0;
    }
    if baseline_values <= 20 && canary_values <= 20 {
        // 1 / C(n + m, m), as a product to stay exact enough.
        (1..=canary_values).fold(1.0, |p, k| p * k as f64 / (n + k as f64))
    } else {
        let deviation = (m * n * (m + n + 1.0) / 12.0).sqrt();
        normal_upper_tail((m * n / 2.0 - 0.5) / deviation)
    }
}

/// The robust spread of ascending values: 1.4826 × their median absolute deviation, or their
/// standard deviation when more than half the values are equal.
pub fn robust_spread(sorted: &[f64]) -> f64 {
    let Some(center) = median(sorted) else { return 0.0 };
    let mut deviations: Vec<f64> = sorted.iter().map(|value| (value - center).abs()).collect();
    deviations.sort_unstable_by(f64::total_cmp);
    let mad = median(&deviations).unwrap_or(0.0);
    if mad > 0.0 {
        return MAD_TO_SIGMA * mad;
    }
    let count = sorted.len() as f64;
    let mean = sorted.iter().sum::<f64>() / count;
    (sorted.iter().map(|value| (value - mean).powi(2)).sum::<f64>() / (count - 1.0).max(1.0)).sqrt()
}

/// The location shift (in the values' units) the one-sided Mann–Whitney test at `alpha` finds
/// with [`POWER`] between samples of these sizes with spread `spread`; `None` when no shift can
/// reach `alpha` at all.
pub fn detectable_shift(
    spread: f64,
    baseline_values: usize,
    canary_values: usize,
    alpha: f64,
) -> Option<f64> {
    if mann_whitney_smallest_p(baseline_values, canary_values) >= alpha {
        return None;
    }
    let (n, m) = (baseline_values as f64, canary_values as f64);
    let z = normal_quantile(1.0 - alpha) + normal_quantile(POWER);
    Some(z * spread * (1.0 / n + 1.0 / m).sqrt() / (3.0 / PI).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::statistics::tests::assert_close;

    // Quantiles every normal table prints.
    #[test]
    fn normal_quantiles_match_the_tables() {
        assert_close(normal_quantile(0.975), 1.959_963_984_540_054, 1e-12);
        assert_close(normal_quantile(0.99), 2.326_347_874_040_841, 1e-12);
        assert_close(normal_quantile(0.8), 0.841_621_233_572_914_3, 1e-12);
        assert_close(normal_quantile(0.01), -2.326_347_874_040_841, 1e-12);
        assert!(normal_quantile(0.5).abs() < 1e-15);
    }

    // The sample-size formula (Fleiss §4.2) worked by hand the other way: with 1,000 trials per
    // version at one-sided alpha 0.05 and power 0.8, a 10% baseline rate is detectably worse from
    // about 13.6%; the power at the rate found is 0.8 and more trials detect less.
    #[test]
    fn detectable_rates_have_the_power_they_claim() {
        let rate = detectable_rate(0.10, 1_000, 1_000, 0.05, true).unwrap();
        assert!((0.13..0.14).contains(&rate), "{rate}");
        assert_close(rate_test_power(0.10, rate, 1_000, 1_000, 0.05), POWER, 1e-9);
        let more = detectable_rate(0.10, 10_000, 10_000, 0.05, true).unwrap();
        assert!(more < rate && more > 0.10, "{more}");
        let lower = detectable_rate(0.10, 1_000, 1_000, 0.05, false).unwrap();
        assert!((0.06..0.10).contains(&lower), "{lower}");
        // Two invocations each: nothing is detectable.
        assert_eq!(detectable_rate(0.10, 2, 2, 0.01, true), None);
        // A zero baseline: detectable from a small positive rate, never NaN.
        let from_zero = detectable_rate(0.0, 1_000, 140, 0.01, true).unwrap();
        assert!(from_zero > 0.0 && from_zero < 0.1, "{from_zero}");
    }

    #[test]
    fn mann_whitney_smallest_p_values() {
        assert_close(mann_whitney_smallest_p(1, 1), 0.5, 1e-15);
        assert_close(mann_whitney_smallest_p(5, 5), 1.0 / 252.0, 1e-14);
        assert_close(mann_whitney_smallest_p(3, 2), 0.1, 1e-15);
        assert!(mann_whitney_smallest_p(30, 30) < 1e-10);
        assert_eq!(mann_whitney_smallest_p(0, 10), 1.0);
    }

    // σ = 1: d = (z_0.99 + z_0.8)·√(2/10)/√(3/π) = (2.3263 + 0.8416)·0.4472/0.9772 = 1.4498.
    #[test]
    fn detectable_shifts_scale_with_spread_and_samples() {
        assert_close(detectable_shift(1.0, 10, 10, 0.01).unwrap(), 1.449_8, 1e-4);
        assert_close(detectable_shift(2.0, 10, 10, 0.01).unwrap(), 2.0 * 1.449_8, 1e-4);
        assert!(detectable_shift(1.0, 40, 40, 0.01).unwrap() < 1.0);
        assert_eq!(detectable_shift(1.0, 1, 1, 0.01), None, "one period each cannot reach 1%");
        assert_eq!(detectable_shift(1.0, 3, 2, 0.01), None, "smallest p 0.1");
    }

    #[test]
    fn robust_spread_ignores_an_outlier_and_falls_back_on_ties() {
        let values = [9.0, 10.0, 10.0, 11.0, 11.0, 12.0, 1_000.0];
        assert_close(robust_spread(&values), MAD_TO_SIGMA, 1e-12);
        assert_close(robust_spread(&[5.0, 5.0, 5.0, 9.0]), 2.0, 1e-12);
        assert_eq!(robust_spread(&[]), 0.0);
        assert_eq!(robust_spread(&[3.0]), 0.0);
    }
}
