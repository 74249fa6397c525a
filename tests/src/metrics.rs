//! CloudWatch seeded for the post-traffic analysis: the per-minute Lambda metrics of a version
//! and alarms on them.

use crate::local_aws::LocalAws;
use crate::traffic::Minute;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricDatum, StandardUnit, StateValue, Statistic,
};
use lifeguard_common::time::Timestamp;
use lifeguard_hooks::in_flight::{CANARY_FAILING_METRIC, JUDGEMENT_NAMESPACE};
use std::time::Duration;

/// Target of a `GetMetricData` fault: `Service.Operation`, as the rpcv2Cbor path names it (the
/// launcher matches the fault's text against the decoded CBOR body, which holds the dimensions).
pub const GET_METRIC_DATA_TARGET: &str = "GraniteServiceVersion20100801.GetMetricData";

/// The dimensions Lambda publishes for invocations of `version` through `alias` (weighted
/// routing): `FunctionName`, `Resource` (`function:alias`) and `ExecutedVersion`.
pub fn lambda_dimensions(function: &str, alias: &str, version: &str) -> Vec<Dimension> {
    [
        ("FunctionName", function.to_owned()),
        ("Resource", format!("{function}:{alias}")),
        ("ExecutedVersion", version.to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| Dimension::builder().name(name).value(value).build())
    .collect()
}

impl LocalAws {
    /// Puts `minutes` of `version`'s Lambda metrics as Lambda publishes them for invocations
    /// through `alias` (namespace `AWS/Lambda`, [`lambda_dimensions`]): minute `i` at
    /// `start + 60 i` seconds since the epoch. Per minute: `Invocations`, `Errors` and `Throttles`
    /// as one value each (their `Sum` is the count), and, when there were invocations,
    /// `Duration` as two or three latency buckets (`Values` with `Counts`; the third is the tail
    /// of [`Minute::tail_ms`]) whose weighted mean is the minute's `duration_ms`: CloudWatch's
    /// `Average` for the minute is that, its `SampleCount` the invocations, its percentiles those
    /// of the buckets' values.
    pub async fn put_lambda_metrics(
        &self,
        function: &str,
        alias: &str,
        version: &str,
        start: Timestamp,
        minutes: &[Minute],
    ) {
        let mut put = self.cloudwatch.put_metric_data().namespace("AWS/Lambda");
        for (i, minute) in minutes.iter().enumerate() {
            let at = DateTime::from_millis(start.plus(Duration::from_secs(60 * i as u64)).unix_millis());
            let datum = |name: &str, unit: StandardUnit| {
                MetricDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(lambda_dimensions(function, alias, version)))
                    .timestamp(at)
                    .unit(unit)
            };
            let count = |name: &str, n: u32| datum(name, StandardUnit::Count).value(f64::from(n)).build();
            put = put
                .metric_data(count("Invocations", minute.invocations))
                .metric_data(count("Errors", minute.errors))
                .metric_data(count("Throttles", minute.throttles));
            if minute.invocations > 0 {
                // The tail, if any: the slowest 2% (at least two) at `tail_ms`. Of the rest, a
                // quarter (whole counts: moto truncates fractional ones) at 1.45x their mean, the
                // others just fast enough that the minute's weighted mean is `duration_ms`.
                let tail = minute
                    .tail_ms
                    .map_or(0, |_| minute.invocations.div_ceil(50).max(2).min(minute.invocations));
                let rest = minute.invocations - tail;
                let total_ms = minute.duration_ms * f64::from(minute.invocations);
                let rest_mean_ms =
                    (total_ms - minute.tail_ms.unwrap_or(0.0) * f64::from(tail)) / f64::from(rest.max(1));
                let (slow, fast) = (rest / 4, rest - rest / 4);
                let slow_ms = rest_mean_ms * 1.45;
                let fast_ms =
                    (rest_mean_ms * f64::from(rest) - slow_ms * f64::from(slow)) / f64::from(fast.max(1));
                let mut duration = datum("Duration", StandardUnit::Milliseconds)
                    .values(fast_ms)
                    .values(slow_ms)
                    .counts(f64::from(fast))
                    .counts(f64::from(slow));
                if let Some(tail_ms) = minute.tail_ms {
                    duration = duration.values(tail_ms).counts(f64::from(tail));
                }
                put = put.metric_data(duration.build());
            }
        }
        put.send().await.unwrap_or_else(|e| panic!("PutMetricData {function} version {version}: {e:?}"));
    }

    /// Puts `function`'s totals as Lambda publishes them under the `FunctionName` dimension alone
    /// (every version together): `Invocations` and `Errors` once a minute for `minutes` minutes
    /// from `start`.
    pub async fn put_function_totals(
        &self,
        function: &str,
        start: Timestamp,
        minutes: u64,
        invocations: u32,
        errors: u32,
    ) {
        let data: Vec<MetricDatum> = (0..minutes)
            .flat_map(|minute| {
                let at = DateTime::from_millis(start.plus(Duration::from_mins(minute)).unix_millis());
                [("Invocations", invocations), ("Errors", errors)].map(|(name, value)| {
                    MetricDatum::builder()
                        .metric_name(name)
                        .dimensions(Dimension::builder().name("FunctionName").value(function).build())
                        .timestamp(at)
                        .value(f64::from(value))
                        .unit(StandardUnit::Count)
                        .build()
                })
            })
            .collect();
        // PutMetricData takes at most 1,000 datapoints a call.
        for batch in data.chunks(1000) {
            self.cloudwatch
                .put_metric_data()
                .namespace("AWS/Lambda")
                .set_metric_data(Some(batch.to_vec()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutMetricData {function} totals: {e:?}"));
        }
    }

    /// Creates a metric alarm `name` on the `Errors` of `function`'s `version` and sets it to
    /// `state`, which it keeps: its dimensions (`FunctionName`, `ExecutedVersion`) are a set no
    /// test publishes, so the local CloudWatch, which evaluates alarms on published data, leaves
    /// it as the test drives it.
    pub async fn put_alarm(&self, name: &str, function: &str, version: &str, state: StateValue) {
        let dimensions = [("FunctionName", function), ("ExecutedVersion", version)]
            .map(|(name, value)| Dimension::builder().name(name).value(value).build());
        self.cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("AWS/Lambda")
            .metric_name("Errors")
            .set_dimensions(Some(dimensions.to_vec()))
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(0.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutMetricAlarm {name}: {e:?}"));
        self.set_alarm_state(name, state).await;
    }

    /// Creates the alarm a consumer puts among its deployment group's alarms for the in-flight
    /// judge (`examples/loyalty/template.yaml`, `LoyaltyCanaryFailingAlarm`): its metric for
    /// `function` and `alias`, Maximum ≥ 1 over a minute, missing data not breaching; `OK`.
    pub async fn put_canary_failing_alarm(&self, name: &str, function: &str, alias: &str) {
        self.cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .namespace(JUDGEMENT_NAMESPACE)
            .metric_name(CANARY_FAILING_METRIC)
            .dimensions(Dimension::builder().name("FunctionName").value(function).build())
            .dimensions(Dimension::builder().name("Alias").value(alias).build())
            .statistic(Statistic::Maximum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
            .treat_missing_data("notBreaching")
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutMetricAlarm {name}: {e:?}"));
        self.set_alarm_state(name, StateValue::Ok).await;
    }

    /// The state of alarm `name` as CloudWatch evaluates it now.
    pub async fn alarm_state(&self, name: &str) -> String {
        let alarms = self
            .cloudwatch
            .describe_alarms()
            .alarm_names(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeAlarms {name}: {e:?}"));
        alarms
            .metric_alarms()
            .first()
            .and_then(|a| a.state_value())
            .map_or("NOT_FOUND", |s| s.as_str())
            .to_owned()
    }

    /// Drives alarm `name` to `state`, as CloudWatch would on its metric.
    pub async fn set_alarm_state(&self, name: &str, state: StateValue) {
        self.cloudwatch
            .set_alarm_state()
            .alarm_name(name)
            .state_value(state.clone())
            .state_reason(format!("set to {} by the test", state.as_str()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("SetAlarmState {name}: {e:?}"));
    }
}
