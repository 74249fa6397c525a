//! CloudWatch adapter: metric series for canary analysis, alarm states, and the in-flight judge's
//! verdicts.

use crate::in_flight::{CANARY_FAILING_METRIC, JUDGEMENT_NAMESPACE, Judgements, Published};
use crate::metrics::{MetricData, MetricQuery, Metrics, PERIOD_SECONDS, Window};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    AlarmType, Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, ScanBy, StandardUnit,
};
use lifeguard_common::AwsError;
use lifeguard_common::aws_error;
use lifeguard_common::time::Timestamp;

/// Most alarm names one `DescribeAlarms` call takes.
const MAX_ALARM_NAMES: usize = 100;

/// CloudWatch through the SDK, with the shared configuration's retries and timeouts.
#[derive(Debug, Clone)]
pub struct CloudWatchClient {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatchClient {
    /// Builds the client from the shared SDK configuration.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self { client: aws_sdk_cloudwatch::Client::new(sdk) }
    }
}

fn data_query(query: &MetricQuery) -> MetricDataQuery {
    let dimensions =
        query.dimensions.iter().map(|(name, value)| Dimension::builder().name(name).value(value).build());
    let metric = Metric::builder()
        .namespace(&query.namespace)
        .metric_name(&query.name)
        .set_dimensions(Some(dimensions.collect()))
        .build();
    let stat = MetricStat::builder()
        .metric(metric)
        .period(PERIOD_SECONDS.try_into().expect("a minute fits in i32"))
        .stat(query.statistic.name())
        .build();
    MetricDataQuery::builder().id(&query.id).metric_stat(stat).return_data(true).build()
}

impl Metrics for CloudWatchClient {
    async fn metric_data(&self, queries: &[MetricQuery], window: Window) -> Result<MetricData, AwsError> {
        let mut pages = self
            .client
            .get_metric_data()
            .set_metric_data_queries(Some(queries.iter().map(data_query).collect()))
            .start_time(DateTime::from_secs(window.start))
            .end_time(DateTime::from_secs(window.end))
            .scan_by(ScanBy::TimestampAscending)
            .into_paginator()
            .send();
        let mut data = MetricData::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("GetMetricData", e))?;
            for result in page.metric_data_results() {
                let Some(id) = result.id() else { continue };
                let points = result
                    .timestamps()
                    .iter()
                    .map(aws_sdk_cloudwatch::primitives::DateTime::secs)
                    .zip(result.values().iter().copied());
                data.entry(id.to_owned()).or_default().extend(points);
            }
        }
        Ok(data)
    }

    async fn alarm_states(&self, names: &[String]) -> Result<Vec<(String, String)>, AwsError> {
        let mut states = Vec::new();
        for batch in names.chunks(MAX_ALARM_NAMES) {
            let mut pages = self
                .client
                .describe_alarms()
                .set_alarm_names(Some(batch.to_vec()))
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| aws_error("DescribeAlarms", e))?;
                let metric = page.metric_alarms().iter().map(|a| (a.alarm_name(), a.state_value()));
                let composite = page.composite_alarms().iter().map(|a| (a.alarm_name(), a.state_value()));
                for (name, state) in metric.chain(composite) {
                    if let Some(name) = name {
                        states.push((name.to_owned(), state.map_or("UNKNOWN", |s| s.as_str()).to_owned()));
                    }
                }
            }
        }
        Ok(states)
    }
}

/// Most datapoints one `PutMetricData` call takes.
const MAX_DATAPOINTS_PER_PUT: usize = 1000;

impl Judgements for CloudWatchClient {
    async fn publish(&self, verdicts: &[Published], at: Timestamp) -> Result<(), AwsError> {
        let datum = |verdict: &Published| {
            let dimensions = [("FunctionName", &verdict.function), ("Alias", &verdict.alias)]
                .into_iter()
                .map(|(name, value)| Dimension::builder().name(name).value(value).build());
            MetricDatum::builder()
                .metric_name(CANARY_FAILING_METRIC)
                .set_dimensions(Some(dimensions.collect()))
                .timestamp(DateTime::from_millis(at.unix_millis()))
                .value(if verdict.failing { 1.0 } else { 0.0 })
                .unit(StandardUnit::Count)
                .build()
        };
        for batch in verdicts.chunks(MAX_DATAPOINTS_PER_PUT) {
            self.client
                .put_metric_data()
                .namespace(JUDGEMENT_NAMESPACE)
                .set_metric_data(Some(batch.iter().map(datum).collect()))
                .send()
                .await
                .map_err(|e| aws_error("PutMetricData", e))?;
        }
        Ok(())
    }
}
