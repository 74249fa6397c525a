//! CloudWatch metrics for canary analysis: the queries each rule needs, fetched in as few
//! `GetMetricData` calls as the API allows, and their answers turned into [`Observations`] per
//! version.

use crate::analysis::{Observations, Rule, RuleKind};
use futures::future::try_join_all;
use lifeguard_common::AwsError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;

/// Namespace of Lambda's own metrics.
pub const LAMBDA_NAMESPACE: &str = "AWS/Lambda";
/// Most queries one `GetMetricData` call takes.
pub const MAX_QUERIES_PER_CALL: usize = 500;
/// Length of one analysis period, in seconds.
pub const PERIOD_SECONDS: i64 = 60;

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

/// CloudWatch statistics the analysis can use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
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
}

impl Statistic {
    /// The name CloudWatch uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sum => "Sum",
            Self::Average => "Average",
            Self::Maximum => "Maximum",
            Self::Minimum => "Minimum",
            Self::SampleCount => "SampleCount",
        }
    }
}

/// The rules used when a function has none configured: error rate, latency and throttles.
pub fn default_rules() -> Vec<Rule> {
    let mut latency = Rule::new("latency", RuleKind::SeriesComparison);
    latency.metric = Some(lambda_metric("Duration", Statistic::Average));
    let mut throttles = Rule::new("throttles", RuleKind::SeriesComparison);
    throttles.metric = Some(lambda_metric("Throttles", Statistic::Sum));
    throttles.on_no_data = crate::analysis::Decision::Pass;
    vec![Rule::new("error-rate", RuleKind::ErrorRate), latency, throttles]
}

fn lambda_metric(name: &str, statistic: Statistic) -> MetricSpec {
    MetricSpec { namespace: lambda_namespace(), name: name.into(), statistic, dimensions: None }
}

/// Checks rules as read from a check file; the message names the rule.
pub fn validate_rules(rules: &[Rule]) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
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

/// The function and the two versions being compared.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Function name.
    pub function: &'a str,
    /// Alias whose traffic moved.
    pub alias: &'a str,
    /// The old version.
    pub baseline: &'a str,
    /// The new version.
    pub canary: &'a str,
}

/// One `MetricStat` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricQuery {
    /// Query id (unique in a request).
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Metric name.
    pub name: String,
    /// Dimensions, placeholders filled in.
    pub dimensions: Vec<(String, String)>,
    /// Statistic per period.
    pub statistic: Statistic,
}

/// The analysis window, in whole periods (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    /// Start of the first period.
    pub start: i64,
    /// End of the last period.
    pub end: i64,
}

impl Window {
    /// From the deployment's creation to `now`, widened to whole periods.
    pub fn new(created: f64, now: f64) -> Self {
        let start = (created.floor() as i64).div_euclid(PERIOD_SECONDS) * PERIOD_SECONDS;
        let end = ((now.ceil() as i64) + PERIOD_SECONDS - 1).div_euclid(PERIOD_SECONDS) * PERIOD_SECONDS;
        Self { start, end: end.max(start + PERIOD_SECONDS) }
    }

    /// Number of periods.
    pub fn periods(&self) -> usize {
        usize::try_from((self.end - self.start) / PERIOD_SECONDS).unwrap_or(0)
    }
}

/// Datapoints per query id: (period start, value).
pub type MetricData = HashMap<String, Vec<(i64, f64)>>;

/// Which version a query is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Baseline,
    Canary,
}

impl Side {
    fn tag(self) -> &'static str {
        match self {
            Side::Baseline => "b",
            Side::Canary => "c",
        }
    }
}

fn query_id(metric: &str, side: Side) -> String {
    format!("{metric}_{}", side.tag())
}

fn query(id: String, spec: &MetricSpec, subject: &Subject, version: &str) -> MetricQuery {
    let fill = |value: &str| {
        value
            .replace("{function}", subject.function)
            .replace("{alias}", subject.alias)
            .replace("{version}", version)
    };
    let dimensions = match &spec.dimensions {
        Some(dimensions) => dimensions.iter().map(|(k, v)| (k.clone(), fill(v))).collect(),
        None => vec![
            ("FunctionName".to_owned(), subject.function.to_owned()),
            ("Resource".to_owned(), format!("{}:{}", subject.function, subject.alias)),
            ("ExecutedVersion".to_owned(), version.to_owned()),
        ],
    };
    MetricQuery {
        id,
        namespace: spec.namespace.clone(),
        name: spec.name.clone(),
        dimensions,
        statistic: spec.statistic,
    }
}

/// All queries the rules need: Lambda's `Errors` and `Invocations` for both versions (the
/// counts of every observation), plus each rule's metric for both versions.
pub fn plan(rules: &[Rule], subject: &Subject) -> Vec<MetricQuery> {
    let mut queries = Vec::with_capacity(4 + 2 * rules.len());
    for side in [Side::Baseline, Side::Canary] {
        let version = if side == Side::Baseline { subject.baseline } else { subject.canary };
        for name in ["Errors", "Invocations"] {
            let id = query_id(&name.to_lowercase(), side);
            queries.push(query(id, &lambda_metric(name, Statistic::Sum), subject, version));
        }
        for (i, rule) in rules.iter().enumerate() {
            if let Some(spec) = &rule.metric {
                queries.push(query(query_id(&format!("r{i}"), side), spec, subject, version));
            }
        }
    }
    queries
}

/// The baseline's and the canary's observations for rule number `index`.
pub fn observations(index: usize, rule: &Rule, data: &MetricData, window: &Window) -> [Observations; 2] {
    [Side::Baseline, Side::Canary].map(|side| {
        let total = |name: &str| -> u64 {
            let sum: f64 =
                data.get(&query_id(name, side)).map_or(0.0, |points| points.iter().map(|(_, v)| v).sum());
            sum.max(0.0).round() as u64
        };
        let series = match rule.metric {
            Some(_) => {
                let mut series = vec![None; window.periods()];
                for (at, value) in data.get(&query_id(&format!("r{index}"), side)).into_iter().flatten() {
                    let slot = usize::try_from((at - window.start).div_euclid(PERIOD_SECONDS)).ok();
                    if let Some(cell) = slot.and_then(|slot| series.get_mut(slot)) {
                        *cell = Some(*value);
                    }
                }
                series
            }
            None => Vec::new(),
        };
        let invocations = total("invocations");
        let counts = (invocations > 0 || data.contains_key(&query_id("invocations", side)))
            .then(|| crate::analysis::Counts { events: total("errors"), trials: invocations });
        Observations { series, counts }
    })
}

/// Judges every rule on the fetched data.
pub fn judge(rules: &[Rule], data: &MetricData, window: &Window) -> Vec<crate::analysis::RuleResult> {
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let [baseline, canary] = observations(i, rule, data, window);
            crate::analysis::evaluate(rule, &baseline, &canary)
        })
        .collect()
}

/// The CloudWatch operations the post-traffic hook uses.
pub trait Metrics: Sync {
    /// One `GetMetricData` request (following `NextToken`) for at most
    /// [`MAX_QUERIES_PER_CALL`] queries over `window`, one value per period.
    fn metric_data(
        &self,
        queries: &[MetricQuery],
        window: Window,
    ) -> impl Future<Output = Result<MetricData, AwsError>> + Send;

    /// `DescribeAlarms` for `names`: the state of each alarm found.
    fn alarm_states(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>, AwsError>> + Send;
}

/// Fetches every query, [`MAX_QUERIES_PER_CALL`] to a call, calls running concurrently;
/// returns the data and the number of calls.
pub async fn fetch<M: Metrics>(
    metrics: &M,
    queries: &[MetricQuery],
    window: Window,
) -> Result<(MetricData, usize), AwsError> {
    let batches: Vec<_> = queries.chunks(MAX_QUERIES_PER_CALL).collect();
    let answers = try_join_all(batches.iter().map(|batch| metrics.metric_data(batch, window))).await?;
    let calls = answers.len();
    Ok((answers.into_iter().flatten().collect(), calls))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBJECT: Subject<'static> = Subject { function: "fn", alias: "live", baseline: "3", canary: "4" };

    #[test]
    fn windows_cover_whole_periods() {
        let window = Window::new(1_000_030.5, 1_000_200.0);
        assert_eq!(window, Window { start: 1_000_020, end: 1_000_200 });
        assert_eq!(window.periods(), 3);
        assert_eq!(Window::new(120.0, 120.0).periods(), 1);
    }

    #[test]
    fn plans_counts_and_each_rules_metric_for_both_versions() {
        let queries = plan(&default_rules(), &SUBJECT);
        let ids: Vec<_> = queries.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(
            ids,
            ["errors_b", "invocations_b", "r1_b", "r2_b", "errors_c", "invocations_c", "r1_c", "r2_c"]
        );
        let latency_canary = &queries[6];
        assert_eq!(
            (latency_canary.name.as_str(), latency_canary.statistic),
            ("Duration", Statistic::Average)
        );
        assert_eq!(
            latency_canary.dimensions,
            [
                ("FunctionName".to_owned(), "fn".to_owned()),
                ("Resource".to_owned(), "fn:live".to_owned()),
                ("ExecutedVersion".to_owned(), "4".to_owned())
            ]
        );
    }

    #[test]
    fn custom_dimensions_take_placeholders() {
        let mut rule = Rule::new("orders", RuleKind::SeriesComparison);
        let dimensions = BTreeMap::from([
            ("Service".to_owned(), "{function}".to_owned()),
            ("V".to_owned(), "{version}".to_owned()),
        ]);
        rule.metric = Some(MetricSpec {
            namespace: "Shop".into(),
            name: "Failed".into(),
            statistic: Statistic::Sum,
            dimensions: Some(dimensions),
        });
        let queries = plan(&[rule], &SUBJECT);
        assert_eq!(
            queries[2].dimensions,
            [("Service".to_owned(), "fn".to_owned()), ("V".to_owned(), "3".to_owned())]
        );
    }

    #[test]
    fn observations_align_series_to_periods_and_sum_counts() {
        let window = Window { start: 0, end: 180 };
        let data = MetricData::from([
            ("errors_c".to_owned(), vec![(0, 1.0), (60, 2.0)]),
            ("invocations_c".to_owned(), vec![(0, 50.0), (60, 50.0), (120, 20.0)]),
            ("r0_c".to_owned(), vec![(60, 12.5), (120, 13.0), (600, 99.0)]),
        ]);
        let mut rule = Rule::new("latency", RuleKind::SeriesComparison);
        rule.metric = Some(lambda_metric("Duration", Statistic::Average));
        let [baseline, canary] = observations(0, &rule, &data, &window);
        assert_eq!(canary.series, [None, Some(12.5), Some(13.0)]);
        assert_eq!(canary.counts, Some(crate::analysis::Counts { events: 3, trials: 120 }));
        assert_eq!((baseline.series, baseline.counts), (vec![None, None, None], None));
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
