//! Benchmark of the post-traffic analysis (run by `./dev bench`): 20 metrics × 2 versions × 60
//! one-minute periods — planning the queries, turning the answers into observations and judging
//! every rule — and the number of `GetMetricData` calls the fetch makes. Prints figures only.

use lifeguard_shared::AwsError;
use lifeguard_shared::analysis::{Rule, RuleKind};
use lifeguard_shared::metrics::{
    MetricData, MetricQuery, MetricSpec, Metrics, PERIOD_SECONDS, Statistic, Subject, Window, fetch, judge,
    plan,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const METRICS: usize = 20;
const PERIODS: i64 = 60;
const RUNS: usize = 200;

/// CloudWatch in memory: answers every query with a noisy per-minute series, counting calls.
struct SyntheticMetrics {
    calls: AtomicUsize,
}

impl Metrics for SyntheticMetrics {
    async fn metric_data(&self, queries: &[MetricQuery], window: Window) -> Result<MetricData, AwsError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        Ok(queries
            .iter()
            .map(|query| {
                let base = if query.id.starts_with("invocations") { 1000.0 } else { 50.0 };
                let points = (0..window.periods() as i64)
                    .map(|i| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        let noise = (seed >> 33) as f64 / (1u64 << 31) as f64;
                        (window.start + i * PERIOD_SECONDS, base * (0.9 + 0.2 * noise))
                    })
                    .collect();
                (query.id.clone(), points)
            })
            .collect())
    }

    async fn alarm_states(&self, _names: &[String]) -> Result<Vec<(String, String)>, AwsError> {
        Ok(Vec::new())
    }
}

fn rules() -> Vec<Rule> {
    let mut rules = vec![Rule::new("error-rate", RuleKind::ErrorRate)];
    for i in 1..METRICS {
        let mut rule = Rule::new(format!("metric-{i}"), RuleKind::SeriesComparison);
        rule.metric = Some(MetricSpec {
            namespace: "AWS/Lambda".into(),
            name: format!("Metric{i}"),
            statistic: Statistic::Average,
            dimensions: None,
        });
        rules.push(rule);
    }
    rules
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rules = rules();
    let subject = Subject { function: "bench", alias: "live", baseline: "1", canary: "2" };
    let window = Window::new(0.0, (PERIODS * PERIOD_SECONDS) as f64);
    let metrics = SyntheticMetrics { calls: AtomicUsize::new(0) };
    let queries = plan(&rules, &subject);
    let (data, calls) = fetch(&metrics, &queries, window).await.expect("synthetic data");

    let mut times = Vec::with_capacity(RUNS);
    let mut failed = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let queries = plan(&rules, &subject);
        let results = judge(&rules, &data, &window);
        times.push(started.elapsed());
        failed = results.iter().filter(|r| r.outcome == lifeguard_shared::analysis::Outcome::Fail).count();
        std::hint::black_box((queries, results));
    }
    times.sort();
    let median = times[RUNS / 2];
    let p90 = times[RUNS * 9 / 10];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "analysis of {METRICS} metrics x 2 versions x {PERIODS} periods: median {:.3} ms, p90 {:.3} ms \
         (target <= 5 ms; {RUNS} runs, single thread); {} queries in {calls} GetMetricData call(s) \
         (target: 1 per 500 queries); {failed} rules failed on equal noisy series",
        ms(median),
        ms(p90),
        queries.len(),
    );
}
