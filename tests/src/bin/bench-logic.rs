//! Benchmark of the pure decision logic (run by `./dev bench`); prints figures only.
//! - Post-traffic analysis: 20 metrics × 2 versions × 60 one-minute periods — planning the
//!   queries, turning the answers into observations and judging every rule — and the number of
//!   `GetMetricData` calls the fetch makes.
//! - Reaper planner: 10,000 stacks of every kind (with marks for a third), time and memory.
#![expect(
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    reason = "synthetic inventories index small ranges"
)]

use lifeguard_common::AwsError;
use lifeguard_hooks::analysis::rules::{MetricSpec, Outcome, Rule, RuleKind, Statistic};
use lifeguard_hooks::metrics::{
    MetricData, MetricQuery, Metrics, PERIOD_SECONDS, Subject, Window, fetch, judge_rules, metric_queries,
};
use lifeguard_reaper::tags::{EXPIRES_AT_TAG, OWNER_TAG, TEMPORARY_TAG, TTL_TAG};
use lifeguard_reaper::{Circumstances, Mark, Mode, ReaperConfig, StackInfo, Timestamp, plan as reaper_plan};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const METRICS: usize = 20;
const PERIODS: i64 = 60;
const RUNS: usize = 200;
const STACKS: usize = 10_000;
const PLANNER_RUNS: usize = 20;

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
                        seed = seed
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
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

/// Peak resident set size of this process so far, in MB (`VmHWM`).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    kb * 1024.0 / 1e6
}

/// 10,000 stacks cycling through opt-in, owners, lifetimes, statuses, nesting and protection,
/// and marks for every third one.
fn inventory(now: i64) -> (Vec<StackInfo>, Vec<Mark>) {
    const DAY: i64 = 86_400;
    let statuses = ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_IN_PROGRESS", "ROLLBACK_COMPLETE"];
    let stacks: Vec<StackInfo> = (0..STACKS as i64)
        .map(|i| {
            let mut tags = BTreeMap::new();
            if i % 7 != 0 {
                tags.insert(TEMPORARY_TAG.to_owned(), "true".to_owned());
            }
            if i % 11 != 0 {
                tags.insert(OWNER_TAG.to_owned(), format!("dev{}@example.com", i % 50));
            }
            match i % 5 {
                0 => tags.insert(TTL_TAG.to_owned(), format!("{}d", 1 + i % 20)),
                1 => tags.insert(TTL_TAG.to_owned(), "soon".to_owned()),
                2 => tags.insert(EXPIRES_AT_TAG.to_owned(), "2026-12-01T00:00:00Z".to_owned()),
                _ => None,
            };
            StackInfo {
                name: format!("app-feature-{i}"),
                id: format!("arn:aws:cloudformation:us-east-1:123456789012:stack/app-feature-{i}/{i:08x}"),
                status: statuses[(i % 4) as usize].to_owned(),
                created: Some(Timestamp::from_unix_seconds(now - (i % 40) * DAY)),
                last_updated: None,
                service_role: None,
                parent_id: (i % 13 == 0).then(|| format!("arn:parent-{i}")),
                termination_protection: if i % 17 == 0 { None } else { Some(i % 19 == 0) },
                tags,
                exports: Vec::new(),
                exports_in_use: i % 23 == 0,
                resources: (i % 17 != 0).then(Vec::new),
            }
        })
        .collect();
    let marks = stacks
        .iter()
        .step_by(3)
        .map(|stack| Mark {
            stack_id: stack.id.clone(),
            first_notice: Timestamp::from_unix_seconds(now - 5 * DAY),
            delete_after: Timestamp::from_unix_seconds(now - 2 * DAY),
            expiry_seen: Timestamp::from_unix_seconds(now - 6 * DAY),
            notices: 2,
            times_snoozed: 0,
            mode: Mode::Enforce,
            owner: stack.tags.get(OWNER_TAG).cloned(),
        })
        .collect();
    (stacks, marks)
}

fn bench_planner() {
    let now = 1_795_000_000;
    let lookup = |name: &str| match name {
        "REAPER_MODE" => Some("enforce".to_owned()),
        "REAPER_TOPIC_ARN" => Some("arn:aws:sns:us-east-1:123456789012:reaper".to_owned()),
        "REAPER_MARKS_TABLE" => Some("reaper-marks".to_owned()),
        "REAPER_ALLOWED_STACKS" => Some("app-feature-*".to_owned()),
        _ => None,
    };
    let config = ReaperConfig::from_lookup(lookup).expect("bench configuration");
    let before = peak_rss_mb();
    let (stacks, marks) = inventory(now);
    let with_inputs = peak_rss_mb();
    let mut times = Vec::with_capacity(PLANNER_RUNS);
    let mut deletions = 0;
    for _ in 0..PLANNER_RUNS {
        let started = Instant::now();
        let planned = reaper_plan(
            &stacks,
            &marks,
            &config,
            Timestamp::from_unix_seconds(now),
            &Circumstances::default(),
        );
        times.push(started.elapsed());
        deletions = planned.deletions().count();
        std::hint::black_box(planned);
    }
    let after = peak_rss_mb();
    times.sort();
    println!(
        "reaper planner, {STACKS} stacks ({} marks): median {:.2} ms, p90 {:.2} ms (target <= 20 ms; {PLANNER_RUNS} runs); \
         peak RSS {after:.1} MB (inputs {:.1} MB, planning {:.1} MB more; target <= 30 MB); {deletions} deletions planned",
        marks.len(),
        times[PLANNER_RUNS / 2].as_secs_f64() * 1e3,
        times[PLANNER_RUNS * 9 / 10].as_secs_f64() * 1e3,
        with_inputs - before,
        after - with_inputs,
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    bench_planner();
    let rules = rules();
    let subject = Subject { function: "bench", alias: "live", baseline: "1", canary: "2" };
    let window =
        Window::new(Timestamp::from_unix_seconds(0), Timestamp::from_unix_seconds(PERIODS * PERIOD_SECONDS));
    let metrics = SyntheticMetrics { calls: AtomicUsize::new(0) };
    let queries = metric_queries(&rules, &subject);
    let (data, calls) = fetch(&metrics, &queries, window).await.expect("synthetic data");

    let mut times = Vec::with_capacity(RUNS);
    let mut failed = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let queries = metric_queries(&rules, &subject);
        let results = judge_rules(&rules, &data, &window);
        times.push(started.elapsed());
        failed = results.iter().filter(|r| r.outcome == Outcome::Fail).count();
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
