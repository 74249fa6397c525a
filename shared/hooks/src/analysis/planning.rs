//! Which deployment preferences can detect an effect at a function's traffic: for each of
//! CodeDeploy's predefined Lambda deployment configurations (SAM's `DeploymentPreference.Type`),
//! the invocations each version gets while traffic shifts, the smallest error-rate ratio the
//! error-rate rule would detect with 80 % power ([`super::power`]), and the first minute at which
//! the in-flight judge could see the given effect.

use crate::analysis::power::{detectable_rate, mann_whitney_smallest_p};
use serde::Serialize;

/// A predefined deployment configuration: the canary's share of traffic, minute by minute, until
/// it gets all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preference {
    /// SAM's `DeploymentPreference.Type`.
    pub name: &'static str,
    /// The canary's share in tenths, and for how many minutes, in order.
    pub steps: &'static [(u32, u32)],
}

impl Preference {
    /// Minutes from the first shift to the full shift.
    pub fn minutes(&self) -> u32 {
        self.steps.iter().map(|&(_, minutes)| minutes).sum()
    }

    /// The canary's share of each minute, in order.
    fn shares(&self) -> impl Iterator<Item = f64> + '_ {
        self.steps.iter().flat_map(|&(tenths, minutes)| (0..minutes).map(move |_| f64::from(tenths) / 10.0))
    }
}

/// CodeDeploy's predefined Lambda configurations ("Deployment configurations on an AWS Lambda
/// compute platform" in the CodeDeploy user guide): canaries shift 10 % for the stated minutes,
/// then the rest; linear ones add 10 % at each interval.
pub const PREFERENCES: [Preference; 9] = [
    Preference { name: "Canary10Percent5Minutes", steps: &[(1, 5)] },
    Preference { name: "Canary10Percent10Minutes", steps: &[(1, 10)] },
    Preference { name: "Canary10Percent15Minutes", steps: &[(1, 15)] },
    Preference { name: "Canary10Percent30Minutes", steps: &[(1, 30)] },
    Preference { name: "Linear10PercentEvery1Minute", steps: &LINEAR_1 },
    Preference { name: "Linear10PercentEvery2Minutes", steps: &LINEAR_2 },
    Preference { name: "Linear10PercentEvery3Minutes", steps: &LINEAR_3 },
    Preference { name: "Linear10PercentEvery10Minutes", steps: &LINEAR_10 },
    Preference { name: "AllAtOnce", steps: &[] },
];

const LINEAR_1: [(u32, u32); 9] = linear(1);
const LINEAR_2: [(u32, u32); 9] = linear(2);
const LINEAR_3: [(u32, u32); 9] = linear(3);
const LINEAR_10: [(u32, u32); 9] = linear(10);

/// 10 %, 20 %, … 90 %, `minutes` each, then 100 %.
const fn linear(minutes: u32) -> [(u32, u32); 9] {
    let mut steps = [(0, 0); 9];
    let mut i = 0;
    while i < 9 {
        #[expect(clippy::cast_possible_truncation, reason = "i < 9")]
        let tenths = i as u32 + 1;
        steps[i] = (tenths, minutes);
        i += 1;
    }
    steps
}

/// What one preference can detect at the function's traffic.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferencePlan {
    /// SAM's `DeploymentPreference.Type`.
    pub preference: &'static str,
    /// Minutes traffic shifts for.
    pub minutes: u32,
    /// Canary invocations while traffic shifts.
    pub canary_invocations: u64,
    /// Baseline invocations while traffic shifts.
    pub baseline_invocations: u64,
    /// The smallest error-rate ratio detectable with 80 % power; `None` when none is.
    pub detectable_ratio: Option<f64>,
    /// Whether that reaches the effect asked about.
    pub detects: bool,
    /// The first minute of the shift at which the in-flight judge would detect the effect (with
    /// 80 % power), when one does.
    pub in_flight_minute: Option<u32>,
    /// Whether the per-minute (latency) rules can reach alpha at all: their periods per version.
    pub latency_periods: u32,
    /// Whether that many periods can give a p-value below alpha.
    pub latency_judgeable: bool,
}

/// The plans of [`PREFERENCES`] for a function taking `per_minute` invocations with error rate
/// `error_rate`, for an error-rate rule at `alpha` and an effect of `effect` times the errors.
pub fn plans(per_minute: f64, error_rate: f64, alpha: f64, effect: f64) -> Vec<PreferencePlan> {
    PREFERENCES.iter().map(|preference| plan(preference, per_minute, error_rate, alpha, effect)).collect()
}

fn plan(
    preference: &Preference,
    per_minute: f64,
    error_rate: f64,
    alpha: f64,
    effect: f64,
) -> PreferencePlan {
    let detects_by = |minutes: usize| {
        let shares: Vec<f64> = preference.shares().take(minutes).collect();
        let canary = invocations(shares.iter().map(|share| share * per_minute));
        let baseline = invocations(shares.iter().map(|share| (1.0 - share) * per_minute));
        let rate = detectable_rate(error_rate, baseline, canary, alpha, true);
        (canary, baseline, rate.map(|rate| ratio(error_rate, rate)))
    };
    let minutes = preference.minutes();
    let all = usize::try_from(minutes).unwrap_or(usize::MAX);
    let (canary_invocations, baseline_invocations, detectable_ratio) = detects_by(all);
    let reaches = |ratio: Option<f64>| ratio.is_some_and(|ratio| ratio <= effect);
    let in_flight_minute = (1..=minutes).find(|&minute| reaches(detects_by(minute as usize).2));
    let periods = usize::try_from(minutes).unwrap_or(usize::MAX);
    PreferencePlan {
        preference: preference.name,
        minutes,
        canary_invocations,
        baseline_invocations,
        detectable_ratio,
        detects: reaches(detectable_ratio),
        in_flight_minute,
        latency_periods: minutes,
        latency_judgeable: mann_whitney_smallest_p(periods, periods) < alpha,
    }
}

/// Expected invocations, rounded down.
fn invocations(per_minute: impl Iterator<Item = f64>) -> u64 {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a non-negative count far below 2^53"
    )]
    let count = per_minute.sum::<f64>().floor() as u64;
    count
}

/// Canary rate over baseline rate; a zero baseline gives the rate itself as "times a 0.1 %
/// floor", so a plan is never infinite.
fn ratio(baseline: f64, canary: f64) -> f64 {
    canary / baseline.max(0.001)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_follow_codedeploys_configurations() {
        let canary = &PREFERENCES[0];
        assert_eq!((canary.name, canary.minutes()), ("Canary10Percent5Minutes", 5));
        assert_eq!(canary.shares().collect::<Vec<_>>(), [0.1; 5]);
        let linear = PREFERENCES.iter().find(|p| p.name == "Linear10PercentEvery2Minutes").unwrap();
        assert_eq!(linear.minutes(), 18);
        let shares: Vec<f64> = linear.shares().collect();
        assert_eq!((shares[0], shares[1], shares[2], shares[17]), (0.1, 0.1, 0.2, 0.9));
        assert_eq!(PREFERENCES.last().unwrap().minutes(), 0);
    }

    // 280 invocations a minute at a 1% error rate, Canary10Percent5Minutes: 140 canary and 1,260
    // baseline invocations, detectable from about 4.9x (as the judge's own test finds with those
    // counts); Canary10Percent30Minutes gets six times the canary traffic: about 2.3x.
    #[test]
    fn low_traffic_canaries_cannot_see_small_effects() {
        let plans = plans(280.0, 0.0103, 0.01, 2.5);
        let five = &plans[0];
        assert_eq!((five.canary_invocations, five.baseline_invocations), (140, 1260));
        let ratio = five.detectable_ratio.unwrap();
        assert!((4.8..5.0).contains(&ratio), "{ratio}");
        assert!(!five.detects && five.in_flight_minute.is_none());
        assert!(five.latency_judgeable, "5 periods each: smallest p 1/252");
        let thirty = &plans[3];
        assert_eq!(thirty.canary_invocations, 840);
        assert!(thirty.detects && (2.2..2.5).contains(&thirty.detectable_ratio.unwrap()), "{thirty:?}");
        let minute = thirty.in_flight_minute.unwrap();
        assert!((2..30).contains(&minute), "{minute}");
        let all_at_once = plans.last().unwrap();
        assert_eq!(
            (all_at_once.canary_invocations, all_at_once.detectable_ratio, all_at_once.detects),
            (0, None, false)
        );
        assert!(!all_at_once.latency_judgeable);
        // Busy functions detect 2x within the first minutes of every shifting preference.
        let busy = super::plans(20_000.0, 0.01, 0.01, 2.0);
        assert!(
            busy.iter().filter(|p| p.minutes > 0).all(|p| p.detects && p.in_flight_minute == Some(1)),
            "{busy:#?}"
        );
    }
}
