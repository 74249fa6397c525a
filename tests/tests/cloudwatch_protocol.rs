//! CloudWatch through the real SDK, which speaks Smithy rpcv2Cbor, against the local AWS (moto
//! only reads the query protocol: `localaws/stand_in/cloudwatch.py` translates). Seeds `AWS/Lambda`-style
//! per-minute datapoints under a unique function name and reads them back as the hook will.
//!
//! What the post-traffic hook calls (`GetMetricData`, `DescribeAlarms`) is signed as its role, as the
//! hooks application deploys it (see `lifeguard_tests::iam`). What stands in for Lambda and
//! CloudWatch themselves (`PutMetricData`, `PutMetricAlarm`, `SetAlarmState`) stays on the unrestricted
//! clients: no role of ours may call them, and they are seeding, not the hook's calls.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::retry::RetryConfig;
use aws_sdk_cloudwatch::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError;
use aws_sdk_cloudwatch::operation::set_alarm_state::SetAlarmStateError;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDataResult, MetricDatum, MetricStat, ScanBy, StandardUnit,
    StateValue, StatusCode,
};
use lifeguard_tests::iam::RoleBinding;
use lifeguard_tests::{LocalAws, lambda_dimensions, unique};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// The fault target of `GetMetricData`: `Service.Operation`, as an rpcv2Cbor path names them.
const GET_METRIC_DATA: &str = "GraniteServiceVersion20100801.GetMetricData";
const MINUTES: i64 = 6;

/// The unrestricted client, for seeding.
fn client(aws: &LocalAws) -> Client {
    Client::new(&aws.sdk)
}

/// The post-traffic hook's SDK configuration: its role, deployed for an application of its own
/// (its CloudWatch statements name no application).
fn hook_sdk(aws: &LocalAws) -> aws_config::SdkConfig {
    aws.as_role(&RoleBinding::post_traffic_hook(&unique("app"), &aws.region())).sdk
}

/// A client signing as the post-traffic hook's role, for what the hook calls.
fn hook_client(aws: &LocalAws) -> Client {
    Client::new(&hook_sdk(aws))
}

fn without_retries(sdk: &aws_config::SdkConfig) -> Client {
    let config = aws_sdk_cloudwatch::config::Builder::from(sdk)
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    Client::from_conf(config)
}

/// The start of the minute ten minutes ago, in epoch seconds: the seeded series begin there.
fn base_minute() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs().cast_signed();
    now / 60 * 60 - 600
}

/// Lambda's dimensions for an invocation of `version` through alias `live`.
fn dimensions(function: &str, version: &str) -> Vec<Dimension> {
    lambda_dimensions(function, "live", version)
}

/// Per minute `i` of version "1" / "2": Invocations 10+i / 20+i (as Values+Counts), Duration
/// {100 ms x3, 300 ms} / {200 ms x3, 900 ms}, Errors 0 / i % 2 (as Value).
async fn seed(cw: &Client, function: &str, base: i64) {
    let mut put = cw.put_metric_data().namespace("AWS/Lambda");
    for (version, invocations, fast, slow) in [("1", 10.0, 100.0, 300.0), ("2", 20.0, 200.0, 900.0)] {
        for i in 0..MINUTES {
            let at = DateTime::from_secs(base + i * 60 + 7); // inside the minute, as Lambda's are
            let datum = |name: &str| {
                MetricDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(dimensions(function, version)))
                    .timestamp(at)
            };
            put = put
                .metric_data(
                    datum("Invocations")
                        .values(1.0)
                        .counts(invocations + i as f64)
                        .unit(StandardUnit::Count)
                        .build(),
                )
                .metric_data(
                    datum("Duration")
                        .values(fast)
                        .values(slow)
                        .counts(3.0)
                        .counts(1.0)
                        .unit(StandardUnit::Milliseconds)
                        .build(),
                )
                .metric_data(
                    datum("Errors")
                        .value(if version == "1" { 0.0 } else { (i % 2) as f64 })
                        .unit(StandardUnit::Count)
                        .build(),
                );
        }
    }
    put.send().await.unwrap_or_else(|e| panic!("PutMetricData: {e:?}"));
}

fn query(id: &str, metric: &str, dimensions: Vec<Dimension>, stat: &str) -> MetricDataQuery {
    let metric = Metric::builder()
        .namespace("AWS/Lambda")
        .metric_name(metric)
        .set_dimensions(Some(dimensions))
        .build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(MetricStat::builder().metric(metric).period(60).stat(stat).build())
        .build()
}

/// The lifeguard queries: both versions' series, dimensions given in another order than put.
fn queries(function: &str) -> Vec<MetricDataQuery> {
    let reversed = |version| dimensions(function, version).into_iter().rev().collect::<Vec<_>>();
    vec![
        query("inv1", "Invocations", dimensions(function, "1"), "Sum"),
        query("inv2", "Invocations", reversed("2"), "Sum"),
        query("dur1", "Duration", reversed("1"), "Average"),
        query("dur2", "Duration", dimensions(function, "2"), "Average"),
        query("max2", "Duration", reversed("2"), "Maximum"),
        query("count1", "Duration", dimensions(function, "1"), "SampleCount"),
        query("err2", "Errors", reversed("2"), "Sum"),
    ]
}

/// Id -> (timestamps in epoch seconds, values) of one `GetMetricData` page or of all pages.
fn series<'a>(
    results: impl IntoIterator<Item = &'a MetricDataResult>,
) -> BTreeMap<String, (Vec<i64>, Vec<f64>)> {
    let mut series: BTreeMap<String, (Vec<i64>, Vec<f64>)> = BTreeMap::new();
    for result in results {
        let entry = series.entry(result.id().unwrap_or_default().to_owned()).or_default();
        entry.0.extend(result.timestamps().iter().map(DateTime::secs));
        entry.1.extend(result.values());
        assert_eq!(entry.0.len(), entry.1.len(), "{result:?}");
    }
    series
}

fn per_minute(base: i64, value: impl Fn(i64) -> f64) -> (Vec<i64>, Vec<f64>) {
    (0..MINUTES).map(|i| (base + i * 60, value(i))).unzip()
}

#[tokio::test]
async fn get_metric_data_returns_both_versions_in_one_call() {
    let aws = LocalAws::connect().await;
    let cw = hook_client(&aws);
    let function = unique("cw-series");
    let base = base_minute();
    seed(&client(&aws), &function, base).await;

    let answer = cw
        .get_metric_data()
        .set_metric_data_queries(Some(queries(&function)))
        .start_time(DateTime::from_secs(base - 17)) // CloudWatch rounds it down to the minute
        .end_time(DateTime::from_secs(base + MINUTES * 60))
        .scan_by(ScanBy::TimestampAscending)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetMetricData: {e:?}"));

    assert!(answer.next_token().is_none(), "{answer:?}");
    let results = answer.metric_data_results();
    assert_eq!(results.len(), 7, "{results:?}");
    assert!(results.iter().all(|r| r.status_code() == Some(&StatusCode::Complete)), "{results:?}");
    let got = series(results);
    assert_eq!(got["inv1"], per_minute(base, |i| 10.0 + i as f64));
    assert_eq!(got["inv2"], per_minute(base, |i| 20.0 + i as f64));
    assert_eq!(got["dur1"], per_minute(base, |_| 150.0));
    assert_eq!(got["dur2"], per_minute(base, |_| 375.0));
    assert_eq!(got["max2"], per_minute(base, |_| 900.0));
    assert_eq!(got["count1"], per_minute(base, |_| 4.0));
    assert_eq!(got["err2"], per_minute(base, |i| (i % 2) as f64));

    // The default order is newest first.
    let newest_first = cw
        .get_metric_data()
        .metric_data_queries(query("inv2", "Invocations", dimensions(&function, "2"), "Sum"))
        .start_time(DateTime::from_secs(base))
        .end_time(DateTime::from_secs(base + MINUTES * 60))
        .send()
        .await
        .expect("GetMetricData newest first");
    let (mut times, mut values) = per_minute(base, |i| 20.0 + i as f64);
    times.reverse();
    values.reverse();
    assert_eq!(series(newest_first.metric_data_results())["inv2"], (times, values));
}

#[tokio::test]
async fn metrics_are_told_apart_by_namespace_and_by_the_whole_dimension_set() {
    let aws = LocalAws::connect().await;
    let cw = client(&aws);
    let function = unique("cw-identity");
    let base = base_minute();
    seed(&cw, &function, base).await;
    // The same name and dimensions in another namespace is another metric.
    let other = MetricDatum::builder()
        .metric_name("Invocations")
        .set_dimensions(Some(dimensions(&function, "1")))
        .timestamp(DateTime::from_secs(base + 5))
        .value(1000.0)
        .build();
    cw.put_metric_data()
        .namespace("Custom/Lifeguard")
        .metric_data(other)
        .send()
        .await
        .expect("PutMetricData");

    let fewer = dimensions(&function, "1").into_iter().take(2).collect::<Vec<_>>();
    let answer = hook_client(&aws)
        .get_metric_data()
        .metric_data_queries(query("inv1", "Invocations", dimensions(&function, "1"), "Sum"))
        .metric_data_queries(query("subset", "Invocations", fewer, "Sum"))
        .start_time(DateTime::from_secs(base))
        .end_time(DateTime::from_secs(base + 60))
        .send()
        .await
        .expect("GetMetricData");
    let got = series(answer.metric_data_results());
    assert_eq!(got["inv1"], (vec![base], vec![10.0]));
    assert_eq!(got["subset"], (vec![], vec![]), "FunctionName+Resource is a metric of its own");
}

#[tokio::test]
async fn get_metric_data_pages_by_max_datapoints() {
    let aws = LocalAws::connect().await;
    let cw = hook_client(&aws);
    let function = unique("cw-pages");
    let base = base_minute();
    seed(&client(&aws), &function, base).await;
    let request = || {
        cw.get_metric_data()
            .set_metric_data_queries(Some(queries(&function)))
            .start_time(DateTime::from_secs(base))
            .end_time(DateTime::from_secs(base + MINUTES * 60))
            .scan_by(ScanBy::TimestampDescending)
    };

    let whole = request().send().await.expect("GetMetricData in one page");
    let pages: Vec<GetMetricDataOutput> = request()
        .max_datapoints(10)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap_or_else(|e| panic!("GetMetricData pages: {e:?}"));

    assert_eq!(pages.len(), 5, "7 series x 6 points, 10 a page: {pages:?}");
    for page in &pages {
        let points: usize = page.metric_data_results().iter().map(|r| r.values().len()).sum();
        assert!(points <= 10, "{page:?}");
    }
    let first = &pages[0];
    assert!(first.next_token().is_some());
    assert_eq!(first.metric_data_results()[1].status_code(), Some(&StatusCode::PartialData), "{first:?}");
    assert!(pages.last().unwrap().next_token().is_none());
    assert_eq!(
        series(pages.iter().flat_map(
            aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput::metric_data_results
        )),
        series(whole.metric_data_results())
    );

    let error = request().next_token("not-a-token").send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(GetMetricDataError::InvalidNextToken(_))), "{error:?}");
}

#[tokio::test]
async fn alarm_set_to_alarm_is_described_in_alarm() {
    let aws = LocalAws::connect().await;
    let function = unique("cw-alarm");
    let alarm = format!("{function}-errors");
    aws.put_alarm(&alarm, &function, "2", StateValue::Ok).await;
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs().cast_signed();
    // CloudWatch's own doing, seeded unrestricted; the hook only describes the alarm.
    client(&aws)
        .set_alarm_state()
        .alarm_name(&alarm)
        .state_value(StateValue::Alarm)
        .state_reason("errors on the canary")
        .send()
        .await
        .unwrap_or_else(|e| panic!("SetAlarmState: {e:?}"));

    let cw = hook_client(&aws);
    let by_name = cw.describe_alarms().alarm_names(&alarm).send().await.expect("DescribeAlarms by name");
    let [found] = by_name.metric_alarms() else { panic!("one alarm expected: {by_name:?}") };
    assert_eq!(found.state_value(), Some(&StateValue::Alarm));
    assert_eq!(found.state_reason(), Some("errors on the canary"));
    assert_eq!(found.threshold(), Some(0.0));
    assert_eq!(found.period(), Some(60));
    let updated = found.state_updated_timestamp().expect("a state timestamp").secs();
    assert!((before - 5..=before + 60).contains(&updated), "{updated} vs {before}");
    let mut dims: Vec<_> =
        found.dimensions().iter().map(|d| (d.name().unwrap(), d.value().unwrap())).collect();
    dims.sort_unstable();
    assert_eq!(dims[0], ("ExecutedVersion", "2"));

    let by_prefix = cw.describe_alarms().alarm_name_prefix(&function).send().await.expect("by prefix");
    let names: Vec<_> = by_prefix.metric_alarms().iter().filter_map(|a| a.alarm_name()).collect();
    assert_eq!(names, [alarm.as_str()]);
}

#[tokio::test]
async fn injected_throttling_is_retried_by_the_sdk() {
    let aws = LocalAws::connect().await;
    let function = unique("cw-throttle");
    let base = base_minute();
    seed(&client(&aws), &function, base).await;
    let get = |cw: Client| {
        cw.get_metric_data()
            .metric_data_queries(query("inv1", "Invocations", dimensions(&function, "1"), "Sum"))
            .start_time(DateTime::from_secs(base))
            .end_time(DateTime::from_secs(base + 60))
            .send()
    };

    let hook = hook_sdk(&aws);
    aws.inject_fault(GET_METRIC_DATA, &function, 1, 400, "Throttling");
    let answer = get(Client::new(&hook)).await.unwrap_or_else(|e| panic!("retried GetMetricData: {e:?}"));
    assert_eq!(series(answer.metric_data_results())["inv1"], (vec![base], vec![10.0]));
    assert_eq!(aws.control("GET", "/_lifeguard/faults", None).to_string().matches(&function).count(), 0);

    aws.inject_fault(GET_METRIC_DATA, &function, 1, 500, "InternalFailure");
    get(Client::new(&hook)).await.unwrap_or_else(|e| panic!("GetMetricData after a 500: {e:?}"));

    aws.inject_fault(GET_METRIC_DATA, &function, 1, 400, "Throttling");
    let error = get(without_retries(&hook)).await.unwrap_err();
    assert_eq!(error.code(), Some("Throttling"), "{error:?}");
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(400));
    assert_eq!(error.message(), Some("injected by the test"));
}

#[tokio::test]
async fn bad_input_comes_back_as_typed_errors() {
    let aws = LocalAws::connect().await;
    let cw = without_retries(&aws.sdk);
    let function = unique("cw-errors");

    let error = cw
        .set_alarm_state()
        .alarm_name(format!("{function}-no-such-alarm"))
        .state_value(StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error.as_service_error(), Some(SetAlarmStateError::ResourceNotFound(_))), "{error:?}");
    assert_eq!(error.code(), Some("ResourceNotFound"));
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(404));

    let mismatched = MetricDatum::builder()
        .metric_name("Invocations")
        .set_dimensions(Some(dimensions(&function, "1")))
        .values(1.0)
        .values(2.0)
        .counts(1.0)
        .build();
    let error =
        cw.put_metric_data().namespace("AWS/Lambda").metric_data(mismatched).send().await.unwrap_err();
    let Some(PutMetricDataError::InvalidParameterValueException(typed)) = error.as_service_error() else {
        panic!("InvalidParameterValue expected: {error:?}")
    };
    assert!(typed.message().unwrap_or_default().contains("same size"), "{typed:?}");
    assert_eq!(error.code(), Some("InvalidParameterValue"));

    let error = without_retries(&hook_sdk(&aws))
        .get_metric_data()
        .metric_data_queries(query("p", "Duration", dimensions(&function, "1"), "Sum"))
        .start_time(DateTime::from_secs(base_minute()))
        .end_time(DateTime::from_secs(base_minute() - 60))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(&error, SdkError::ServiceError(_)), "{error:?}");
    assert_eq!(error.code(), Some("ValidationError"), "{error:?}");
}

#[tokio::test]
async fn large_put_metric_data_is_compressed_and_still_read() {
    let aws = LocalAws::connect().await;
    let cw = client(&aws);
    let function = unique("cw-gzip");
    let base = base_minute();
    // 6 x 150 distinct values: far above the SDK's 10 KiB threshold for gzip request bodies.
    let mut put = cw.put_metric_data().namespace("AWS/Lambda");
    for i in 0..MINUTES {
        let values: Vec<f64> = (0..150).map(|n| 100.0 + f64::from(n) + i as f64 / 8.0).collect();
        put = put.metric_data(
            MetricDatum::builder()
                .metric_name("Duration")
                .set_dimensions(Some(dimensions(&function, "2")))
                .timestamp(DateTime::from_secs(base + i * 60))
                .set_values(Some(values))
                .set_counts(Some(vec![2.0; 150]))
                .build(),
        );
    }
    put.send().await.unwrap_or_else(|e| panic!("large PutMetricData: {e:?}"));

    let answer = hook_client(&aws)
        .get_metric_data()
        .metric_data_queries(query("n", "Duration", dimensions(&function, "2"), "SampleCount"))
        .metric_data_queries(query("avg", "Duration", dimensions(&function, "2"), "Average"))
        .start_time(DateTime::from_secs(base))
        .end_time(DateTime::from_secs(base + MINUTES * 60))
        .scan_by(ScanBy::TimestampAscending)
        .send()
        .await
        .expect("GetMetricData");
    let got = series(answer.metric_data_results());
    assert_eq!(got["n"], per_minute(base, |_| 300.0));
    assert_eq!(got["avg"], per_minute(base, |i| 174.5 + i as f64 / 8.0));
}
