//! Analysis rules as written in a check file: what each one compares, on which CloudWatch metric,
//! with which defaults, and their validation; also the rules used when a function has none.
//!
//! Definitions only: [`super::judge`] applies them, [`crate::metrics`] plans their queries.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// Namespace of Lambda's own metrics.
pub const LAMBDA_NAMESPACE: &str = "AWS/Lambda";
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
pub enum RuleDecision {
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

/// Whether a rule's failure fails the deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleMode {
    /// Its outcome counts.
    #[default]
    Enforce,
    /// Evaluated and reported, never failing: how a new rule is tried before it can veto.
    Observe,
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

/// One judgement to make on one metric, as written in a check file. Fields that do not apply
/// to the rule's kind are rejected by [`Rule::validate`].
///
/// Defaults: `higherIsWorse`, alpha 0.01, one-sided, `onNoData: inconclusive`,
/// `onInconclusive: pass`, `mode: enforce`, no warm-up, `requirePower: false`; error rates `minRatio` 1.5, `minAbsoluteChange` 0.005 (half a
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
    pub on_no_data: RuleDecision,
    /// What an inconclusive decision counts as.
    #[serde(default = "default_on_inconclusive")]
    pub on_inconclusive: Outcome,
    /// The metric a series or threshold rule reads (error-rate rules read Lambda's `Errors`
    /// and `Invocations`).
    #[serde(default)]
    pub metric: Option<MetricSpec>,
    /// `observe`: evaluate and report, never fail the deployment; `enforce` when unset.
    #[serde(default)]
    pub mode: RuleMode,
    /// Series comparisons: periods at the start of the window left out of both versions (the
    /// canary starts cold, the baseline warm).
    #[serde(default)]
    pub warm_up_periods: Option<u32>,
    /// Comparisons: a pass from data that could not have detected the rule's own minimum effect
    /// (at its alpha, with 80 % power) is inconclusive instead.
    #[serde(default)]
    pub require_power: bool,
}

fn default_alpha() -> f64 {
    DEFAULT_ALPHA
}

fn default_on_no_data() -> RuleDecision {
    RuleDecision::Inconclusive
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
            mode: RuleMode::Enforce,
            warm_up_periods: None,
            require_power: false,
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
            RuleKind::Threshold if self.require_power => comparison_only("requirePower"),
            RuleKind::ErrorRate | RuleKind::Threshold if self.warm_up_periods.is_some() => {
                Some("warmUpPeriods applies only to seriesComparison rules".into())
            }
            RuleKind::Threshold if !self.threshold.is_some_and(f64::is_finite) => {
                Some("threshold rules need a finite threshold".into())
            }
            _ => None,
        }
    }
}

/// The metric a rule reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricSpec {
    /// Namespace; `AWS/Lambda` when unset.
    #[serde(default = "lambda_namespace")]
    pub namespace: String,
    /// Metric name.
    pub name: String,
    /// Statistic per period; `Average` when unset.
    #[serde(default)]
    pub statistic: Statistic,
    /// Dimensions; values may hold `{function}`, `{alias}` and `{version}`. Unset: for
    /// `AWS/Lambda`, `FunctionName`, `Resource` (`function:alias`) and `ExecutedVersion`.
    #[serde(default)]
    pub dimensions: Option<BTreeMap<String, String>>,
}

fn lambda_namespace() -> String {
    LAMBDA_NAMESPACE.to_owned()
}

/// CloudWatch statistics the analysis can use, written as CloudWatch names them: `Sum`,
/// `Average`, `Maximum`, `Minimum`, `SampleCount`, or a percentile `p50` … `p99.99`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Statistic {
    /// Sum of the values.
    Sum,
    /// Mean of the values.
    #[default]
    Average,
    /// Largest value.
    Maximum,
    /// Smallest value.
    Minimum,
    /// Number of values.
    SampleCount,
    /// A percentile of the values, in hundredths (`p99.9` is 9990): the tail a mean hides.
    Percentile(u16),
}

impl Statistic {
    /// The name CloudWatch uses (`p99.9` for percentiles).
    pub fn name(self) -> String {
        match self {
            Self::Sum => "Sum".into(),
            Self::Average => "Average".into(),
            Self::Maximum => "Maximum".into(),
            Self::Minimum => "Minimum".into(),
            Self::SampleCount => "SampleCount".into(),
            Self::Percentile(hundredths) => {
                let (whole, fraction) = (hundredths / 100, hundredths % 100);
                match fraction {
                    0 => format!("p{whole}"),
                    f if f % 10 == 0 => format!("p{whole}.{}", f / 10),
                    f => format!("p{whole}.{f:02}"),
                }
            }
        }
    }
}

impl TryFrom<String> for Statistic {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        let statistic = match name.as_str() {
            "Sum" => Self::Sum,
            "Average" => Self::Average,
            "Maximum" => Self::Maximum,
            "Minimum" => Self::Minimum,
            "SampleCount" => Self::SampleCount,
            other => {
                other.strip_prefix('p').and_then(percentile_hundredths).map(Self::Percentile).ok_or_else(
                    || {
                        format!(
                            "statistic {other:?}: expected Sum, Average, Maximum, Minimum, SampleCount or a \
                         percentile p0.01 … p99.99 (at most two decimals)"
                        )
                    },
                )?
            }
        };
        Ok(statistic)
    }
}

impl From<Statistic> for String {
    fn from(statistic: Statistic) -> Self {
        statistic.name()
    }
}

/// `99.9` as 9990 hundredths, when strictly between 0 and 100 with at most two decimals.
fn percentile_hundredths(text: &str) -> Option<u16> {
    let (whole, fraction) =
        text.split_once('.').map_or((text, None), |(whole, fraction)| (whole, Some(fraction)));
    let digits = |part: &str| !part.is_empty() && part.len() <= 2 && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !fraction.is_none_or(digits) {
        return None;
    }
    let fraction = fraction.unwrap_or_default();
    let fraction = if fraction.len() == 1 { format!("{fraction}0") } else { fraction.to_owned() };
    let hundredths =
        whole.parse::<u16>().ok()? * 100 + if fraction.is_empty() { 0 } else { fraction.parse().ok()? };
    (1..10_000).contains(&hundredths).then_some(hundredths)
}

/// One of Lambda's own metrics (namespace `AWS/Lambda`, the default dimensions).
pub fn lambda_metric(name: &str, statistic: Statistic) -> MetricSpec {
    MetricSpec { namespace: lambda_namespace(), name: name.into(), statistic, dimensions: None }
}

/// Minimum ratio of the default tail-latency rule: per-minute p99s are noisier than means.
pub const DEFAULT_TAIL_LATENCY_MIN_RATIO: f64 = 1.5;

/// The rules used when a function has none configured: error rate, mean latency, tail latency
/// (per-minute p99 of `Duration`, which a mean hides) and throttles.
pub fn default_rules() -> Vec<Rule> {
    let mut latency = Rule::new("latency", RuleKind::SeriesComparison);
    latency.metric = Some(lambda_metric("Duration", Statistic::Average));
    let mut tail = Rule::new("latency-p99", RuleKind::SeriesComparison);
    tail.metric = Some(lambda_metric("Duration", Statistic::Percentile(9900)));
    tail.min_ratio = Some(DEFAULT_TAIL_LATENCY_MIN_RATIO);
    let mut throttles = Rule::new("throttles", RuleKind::SeriesComparison);
    throttles.metric = Some(lambda_metric("Throttles", Statistic::Sum));
    throttles.on_no_data = RuleDecision::Pass;
    vec![Rule::new("error-rate", RuleKind::ErrorRate), latency, tail, throttles]
}

/// Checks rules as read from a check file; the message names the rule.
pub fn validate_rules(rules: &[Rule]) -> Result<(), String> {
    let mut names = HashSet::new();
    for rule in rules {
        rule.validate().map_err(|e| e.to_string())?;
        if !names.insert(rule.name.as_str()) {
            return Err(format!("rule {:?} is defined twice", rule.name));
        }
        match (rule.kind, &rule.metric) {
            (RuleKind::ErrorRate, Some(_)) => {
                return Err(format!(
                    "rule {:?}: errorRate rules read Errors and Invocations; remove `metric`",
                    rule.name
                ));
            }
            (RuleKind::SeriesComparison | RuleKind::Threshold, None) => {
                return Err(format!("rule {:?}: `metric` is required for this kind", rule.name));
            }
            (_, Some(metric)) if metric.namespace != LAMBDA_NAMESPACE && metric.dimensions.is_none() => {
                return Err(format!(
                    "rule {:?}: `metric.dimensions` is required outside {LAMBDA_NAMESPACE}",
                    rule.name
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

impl fmt::Display for RuleDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleDecision::Pass => "pass",
            RuleDecision::Fail => "fail",
            RuleDecision::Inconclusive => "inconclusive",
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

    #[test]
    fn statistics_read_as_cloudwatch_names_them_percentiles_included() {
        let read = |name: &str| Statistic::try_from(name.to_owned());
        assert_eq!(read("Average"), Ok(Statistic::Average));
        assert_eq!(read("p99"), Ok(Statistic::Percentile(9900)));
        assert_eq!(read("p99.9"), Ok(Statistic::Percentile(9990)));
        assert_eq!(read("p99.99"), Ok(Statistic::Percentile(9999)));
        assert_eq!(read("p0.01"), Ok(Statistic::Percentile(1)));
        assert_eq!(read("p50"), Ok(Statistic::Percentile(5000)));
        for name in ["p99", "p99.9", "p99.99", "p0.01", "p50", "p1.5", "Sum", "SampleCount"] {
            assert_eq!(read(name).unwrap().name(), name);
        }
        for bad in ["p100", "p0", "p", "p99.999", "p-1", "P99", "average", "p9x", "tm99", "p.5", "p99."] {
            let error = read(bad).unwrap_err();
            assert!(error.starts_with(&format!("statistic {bad:?}: expected Sum, Average")), "{error}");
        }
        let spec: MetricSpec = crate::yaml::from_str("name: Duration\nstatistic: p99.9\n").unwrap();
        assert_eq!(spec.statistic, Statistic::Percentile(9990));
        let error = crate::yaml::from_str::<MetricSpec>("name: Duration\nstatistic: p999\n").unwrap_err();
        assert!(error.to_string().contains("statistic \"p999\""), "{error}");
    }

    #[test]
    fn rules_parse_from_yaml_with_defaults() {
        let text = r"
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
";
        let rules: Vec<Rule> = crate::yaml::from_str(text).unwrap();
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
        assert_eq!((errors.on_no_data, errors.on_inconclusive), (RuleDecision::Inconclusive, Outcome::Pass));
        assert_eq!(errors, &Rule::new("errors", RuleKind::ErrorRate));
        let duration = &rules[1];
        assert_eq!(
            (duration.minimum_ratio(), duration.minimum_absolute_change(), duration.minimum_samples()),
            (1.3, 20.0, 10)
        );
        assert_eq!((duration.two_sided, duration.on_inconclusive), (true, Outcome::Fail));
        let throttles = &rules[2];
        assert_eq!((throttles.threshold, throttles.aggregate), (Some(0.0), Some(Aggregate::Max)));
        assert_eq!((throttles.on_no_data, throttles.minimum_samples()), (RuleDecision::Pass, 1));
    }

    #[test]
    fn invalid_rules_name_the_problem() {
        let unknown = crate::yaml::from_str::<Rule>("name: t\nkind: threshold\ntreshold: 0\n");
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
            let rule: Rule = crate::yaml::from_str(text).unwrap();
            let error = rule.validate().unwrap_err().to_string();
            assert!(error.starts_with("rule \""), "{error}");
            assert!(error.ends_with(expected), "{text:?}: got {error:?}, expected {expected:?}");
        }
    }

    #[test]
    fn rules_are_validated_by_name() {
        assert_eq!(validate_rules(&default_rules()), Ok(()));
        let mut bad = Rule::new("latency", RuleKind::SeriesComparison);
        assert_eq!(
            validate_rules(&[bad.clone()]).unwrap_err(),
            "rule \"latency\": `metric` is required for this kind"
        );
        bad.metric = Some(MetricSpec { namespace: "Shop".into(), ..lambda_metric("X", Statistic::Sum) });
        assert!(
            validate_rules(&[bad])
                .unwrap_err()
                .contains("`metric.dimensions` is required outside AWS/Lambda")
        );
        let twice = [Rule::new("e", RuleKind::ErrorRate), Rule::new("e", RuleKind::ErrorRate)];
        assert_eq!(validate_rules(&twice).unwrap_err(), "rule \"e\" is defined twice");
    }
}
