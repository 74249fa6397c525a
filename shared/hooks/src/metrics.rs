//! CloudWatch metrics for canary analysis: the queries each rule needs, fetched in as few
//! `GetMetricData` calls as the API allows, and their answers turned into [`Observations`] per
//! version.

use crate::analysis::judge::{Observations, RuleResult, evaluate};
use crate::analysis::rules::{MetricSpec, Outcome, Rule, Statistic, lambda_metric};
use crate::analysis::statistics::EventCounts;
use futures::future::try_join_all;
use lifeguard_common::AwsError;
use lifeguard_common::time::Timestamp;
use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;

/// Most queries one `GetMetricData` call takes.
pub const MAX_QUERIES_PER_CALL: usize = 500;
/// Length of one analysis period, in seconds.
pub const PERIOD_SECONDS: i64 = 60;

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
    pub fn new(created: Timestamp, now: Timestamp) -> Self {
        let start = created.unix_seconds().div_euclid(PERIOD_SECONDS) * PERIOD_SECONDS;
        let end =
            (now.unix_seconds_rounded_up() + PERIOD_SECONDS - 1).div_euclid(PERIOD_SECONDS) * PERIOD_SECONDS;
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
pub fn metric_queries(rules: &[Rule], subject: &Subject) -> Vec<MetricQuery> {
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
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a rounded, non-negative count"
            )]
            let count = sum.max(0.0).round() as u64;
            count
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
            .then(|| EventCounts { events: total("errors"), trials: invocations });
        Observations { series, counts }
    })
}

/// Judges every rule on the fetched data.
pub fn judge_rules(rules: &[Rule], data: &MetricData, window: &Window) -> Vec<RuleResult> {
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let [baseline, canary] = observations(i, rule, data, window);
            evaluate(rule, &baseline, &canary)
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

/// A function's traffic over a stretch of time, all versions together.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionTraffic {
    /// Invocations (`AWS/Lambda` `Invocations`, dimension `FunctionName`).
    pub invocations: u64,
    /// Errors (`Errors`).
    pub errors: u64,
    /// Minutes the stretch covers.
    pub minutes: u64,
}

impl FunctionTraffic {
    /// Mean invocations a minute.
    pub fn per_minute(&self) -> f64 {
        if self.minutes == 0 { 0.0 } else { self.invocations as f64 / self.minutes as f64 }
    }

    /// Errors over invocations (0 without invocations).
    pub fn error_rate(&self) -> f64 {
        if self.invocations == 0 { 0.0 } else { self.errors as f64 / self.invocations as f64 }
    }
}

/// `function`'s invocations and errors from `since` to `now`, per minute summed (what Lambda
/// publishes under the `FunctionName` dimension alone, every version and alias together).
pub async fn function_traffic<M: Metrics>(
    metrics: &M,
    function: &str,
    since: Timestamp,
    now: Timestamp,
) -> Result<FunctionTraffic, AwsError> {
    let window = Window::new(since, now);
    let queries: Vec<MetricQuery> = ["Invocations", "Errors"]
        .into_iter()
        .map(|name| MetricQuery {
            id: name.to_lowercase(),
            namespace: crate::analysis::rules::LAMBDA_NAMESPACE.to_owned(),
            name: name.to_owned(),
            dimensions: vec![("FunctionName".to_owned(), function.to_owned())],
            statistic: Statistic::Sum,
        })
        .collect();
    let (data, _) = fetch(metrics, &queries, window).await?;
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "sums of counts")]
    let total = |id: &str| {
        data.get(id).map_or(0.0, |points| points.iter().map(|(_, v)| v.max(0.0)).sum::<f64>()).round() as u64
    };
    Ok(FunctionTraffic {
        invocations: total("invocations"),
        errors: total("errors"),
        minutes: u64::try_from(window.periods()).unwrap_or(0),
    })
}

/// The metric analysis, for the reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisFindings {
    /// The window analysed.
    pub window: Window,
    /// `GetMetricData` calls made.
    pub get_metric_data_calls: usize,
    /// One result per rule.
    pub rules: Vec<RuleResult>,
}

impl AnalysisFindings {
    /// The rules whose outcome fails the deployment (observe-mode rules never do).
    pub fn failed(&self) -> impl Iterator<Item = &RuleResult> {
        self.rules.iter().filter(|rule| rule.outcome == Outcome::Fail)
    }
}

/// Judges `subject`'s canary against its baseline by `rules` over the window from the
/// deployment's creation (a minute before `now` when unknown) to `now`: what the post-traffic
/// hook does once traffic has shifted, and the in-flight judge every minute while it shifts.
pub async fn analyse<M: Metrics>(
    metrics: &M,
    rules: &[Rule],
    subject: &Subject<'_>,
    created: Option<Timestamp>,
    now: Timestamp,
) -> Result<AnalysisFindings, AwsError> {
    let window = Window::new(created.unwrap_or(now.minus(std::time::Duration::from_mins(1))), now);
    let (data, calls) = fetch(metrics, &metric_queries(rules, subject), window).await?;
    Ok(AnalysisFindings { window, get_metric_data_calls: calls, rules: judge_rules(rules, &data, &window) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::rules::{RuleKind, default_rules};
    use std::collections::BTreeMap;

    const SUBJECT: Subject<'static> = Subject { function: "fn", alias: "live", baseline: "3", canary: "4" };

    #[test]
    fn windows_cover_whole_periods() {
        let window =
            Window::new(Timestamp::from_unix_millis(1_000_030_500), Timestamp::from_unix_seconds(1_000_200));
        assert_eq!(window, Window { start: 1_000_020, end: 1_000_200 });
        assert_eq!(window.periods(), 3);
        let late =
            Window::new(Timestamp::from_unix_seconds(1_000_020), Timestamp::from_unix_millis(1_000_200_001));
        assert_eq!(late, Window { start: 1_000_020, end: 1_000_260 });
        assert_eq!(
            Window::new(Timestamp::from_unix_seconds(120), Timestamp::from_unix_seconds(120)).periods(),
            1
        );
    }

    #[test]
    fn plans_counts_and_each_rules_metric_for_both_versions() {
        let queries = metric_queries(&default_rules(), &SUBJECT);
        let ids: Vec<_> = queries.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "errors_b",
                "invocations_b",
                "r1_b",
                "r2_b",
                "r3_b",
                "errors_c",
                "invocations_c",
                "r1_c",
                "r2_c",
                "r3_c"
            ]
        );
        let latency_canary = &queries[7];
        assert_eq!(
            (latency_canary.name.as_str(), latency_canary.statistic),
            ("Duration", Statistic::Average)
        );
        let tail_canary = &queries[8];
        assert_eq!((tail_canary.name.as_str(), tail_canary.statistic.name()), ("Duration", "p99".to_owned()));
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
        let queries = metric_queries(&[rule], &SUBJECT);
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
        assert_eq!(canary.counts, Some(EventCounts { events: 3, trials: 120 }));
        assert_eq!((baseline.series, baseline.counts), (vec![None, None, None], None));
    }
}
