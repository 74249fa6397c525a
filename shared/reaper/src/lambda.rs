//! The Lambda glue: [`serve`] (logging, the settings read and reported once at cold start), the
//! run's instant from the scheduled event, the check that enforce mode acts only on a current
//! event, the invocation's errors as Lambda diagnostics, and the log lines of a finished run.

use crate::config::{ALLOW_REPLAY_VAR, ConfigError, Mode, ReaperConfig};
use crate::ports::{MarksStore, Notifier, Stacks};
use crate::report::RunReport;
use crate::run::{Invocation, Reaper, RunError};
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use lifeguard_common::emf::{MetricLine, Unit};
use lifeguard_common::time::Timestamp;

/// How old a scheduled event may be in enforce mode (EventBridge and Lambda's queue may delay it).
const MAX_EVENT_AGE: std::time::Duration = std::time::Duration::from_hours(6);
/// How far ahead of the clock an event's time may be in enforce mode (clock skew).
const MAX_EVENT_LEAD: std::time::Duration = std::time::Duration::from_mins(5);

/// Why an invocation did not run.
#[derive(Debug, thiserror::Error)]
pub enum ReaperError {
    /// A setting cannot be used; no AWS call was made.
    #[error("invalid configuration, nothing was read or changed: {0}")]
    Config(ConfigError),
    /// The event cannot be used; no AWS call was made.
    #[error("malformed event, nothing was read or changed: {0}")]
    Event(String),
    /// The run stopped before changing anything.
    #[error(transparent)]
    Run(#[from] RunError),
}

impl From<ReaperError> for Diagnostic {
    fn from(error: ReaperError) -> Self {
        let error_type = match &error {
            ReaperError::Config(_) => "InvalidConfiguration",
            ReaperError::Event(_) => "MalformedEvent",
            ReaperError::Run(RunError::Marks(_)) => "MarksUnreadable",
            ReaperError::Run(RunError::Stacks(_)) => "StacksUnlisted",
            ReaperError::Run(RunError::RunInProgress { .. }) => "RunInProgress",
            ReaperError::Run(RunError::Lease(_)) => "LeaseUnavailable",
            ReaperError::Run(RunError::Recipients(_)) => "SubscriptionsUnreadable",
            ReaperError::Run(RunError::NoOperators) => "NoOperatorsSubscribed",
        };
        Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

/// Runs the reaper as a Lambda function: JSON logs (Lambda's log format and level), the
/// settings read once from the environment, and `build` making the reaper of them (its clients);
/// bad settings are logged at cold start and make every invocation fail naming them, before
/// any AWS call. Each invocation runs at its scheduled event's time.
pub async fn serve<S, M, N>(build: impl FnOnce(ReaperConfig) -> Reaper<S, M, N>) -> Result<(), Error>
where
    S: Stacks,
    M: MarksStore,
    N: Notifier,
{
    lambda_runtime::tracing::init_default_subscriber();
    let reaper = ReaperConfig::from_env().map(build);
    if let Err(problem) = &reaper {
        tracing::error!(%problem, "every invocation will fail until this is fixed");
    }
    let reaper = reaper.as_ref();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let started = Timestamp::now();
        let invocation = Invocation {
            run_id: event.context.request_id.clone(),
            started,
            deadline: Timestamp::lambda_deadline(event.context.deadline, started),
        };
        handle(reaper, &event.payload, &invocation).await
    }))
    .await
}

/// One invocation: checks the settings (read once at cold start) and the event, then runs.
pub async fn handle<S: Stacks, M: MarksStore, N: Notifier>(
    reaper: Result<&Reaper<S, M, N>, &ConfigError>,
    event: &serde_json::Value,
    invocation: &Invocation,
) -> Result<RunReport, ReaperError> {
    let reaper = reaper.map_err(|e| ReaperError::Config(e.clone()))?;
    let clock = invocation.started.whole_seconds();
    let now = run_time(event, clock).map_err(ReaperError::Event)?;
    let config = &reaper.config;
    let current = clock.minus(MAX_EVENT_AGE) <= now && now <= clock.plus(MAX_EVENT_LEAD);
    if config.mode == Mode::Enforce && !config.allow_replay && !current {
        return Err(ReaperError::Event(format!(
            "event time {now} is not within 6 h before or 5 min after the clock ({clock}); enforce mode \
             acts only on current events ({ALLOW_REPLAY_VAR}=true allows replays)"
        )));
    }
    let report = reaper.run(now, invocation).await?;
    let mut problems = report.problems.len();
    for problem in &report.problems {
        tracing::warn!(%problem, "run problem");
    }
    for stack in &report.stacks {
        for problem in &stack.problems {
            problems += 1;
            tracing::warn!(stack = %stack.name, %problem, "stack problem");
        }
    }
    let counts = &report.counts;
    tracing::info!(
        mode = report.mode.as_str(),
        now = %report.now,
        stacks = counts.stacks,
        temporary = counts.temporary,
        warned = counts.warn,
        owners_notified = counts.owners_notified,
        deletions_requested = counts.deletions_requested,
        deletion_cap_reached = report.deletion_cap_reached,
        digest_sent = report.digest_sent,
        problems,
        "run finished"
    );
    metric_line(&report, problems).emit(Timestamp::now());
    Ok(report)
}

/// The run as one EMF line by `Mode`: its counts (stacks, temporary, warned, deletions requested,
/// owners notified, marks written and cleared) and problems, with the counts and the run's own
/// problems as properties (not every stack's entry: the line stays far below CloudWatch Logs'
/// event size whatever the account holds).
fn metric_line(report: &RunReport, problems: usize) -> MetricLine {
    let counts = &report.counts;
    let metrics = [
        ("Stacks", counts.stacks),
        ("Temporary", counts.temporary),
        ("Warned", counts.warn),
        ("DeletionsRequested", counts.deletions_requested),
        ("OwnersNotified", counts.owners_notified),
        ("MarksWritten", counts.marks_written),
        ("MarksCleared", counts.marks_cleared),
        ("Problems", problems),
    ];
    metrics
        .into_iter()
        .fold(MetricLine::new().dimension("Mode", report.mode.as_str()), |line, (name, count)| {
            line.metric(name, count as f64, Unit::Count)
        })
        .property("counts", serde_json::to_value(counts).unwrap_or_default())
        .property("problems", serde_json::to_value(&report.problems).unwrap_or_default())
        .property("digestSent", report.digest_sent.into())
}

/// The run's instant from a scheduled event: its `time` (RFC 3339), so a run can be replayed
/// exactly; the clock when the event has none (e.g. a manual `{}` invocation).
pub fn run_time(event: &serde_json::Value, clock: Timestamp) -> Result<Timestamp, String> {
    match event.get("time") {
        None | Some(serde_json::Value::Null) => Ok(clock),
        Some(serde_json::Value::String(text)) => {
            Timestamp::parse_rfc3339(text).map_err(|e| format!("event field \"time\" = {text:?}: {e}"))
        }
        Some(other) => Err(format!("event field \"time\" = {other}: expected an RFC 3339 string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ReaperConfig;
    use crate::fake::{fake, reaper};
    use crate::fixtures::{NOW, ripe_mark, stack};
    use std::time::Duration;

    const DAY: u64 = 86_400;

    /// An invocation whose clock reads [`NOW`].
    fn at_now() -> Invocation {
        Invocation { run_id: "run-1".into(), started: NOW, deadline: NOW.plus(Duration::from_mins(5)) }
    }

    #[tokio::test]
    async fn enforce_mode_refuses_an_event_far_from_the_clock_unless_replays_are_allowed() {
        let ripe = stack("pr-ripe", 20);
        let fake = fake(vec![ripe.clone()], vec![ripe_mark(&ripe)]);
        let mut reaper = reaper(&fake, Mode::Enforce);
        let tomorrow = serde_json::json!({"time": NOW.plus(Duration::from_secs(DAY)).to_string()});
        let error = handle(Ok(&reaper), &tomorrow, &at_now()).await.unwrap_err();
        assert!(matches!(&error, ReaperError::Event(m) if m.contains("REAPER_ALLOW_REPLAY")), "{error}");
        let last_week = serde_json::json!({"time": NOW.minus(Duration::from_secs(7 * DAY)).to_string()});
        assert!(handle(Ok(&reaper), &last_week, &at_now()).await.is_err());
        assert!(fake.calls().is_empty(), "{:?}", fake.calls());

        let an_hour_late = serde_json::json!({"time": NOW.minus(Duration::from_hours(1)).to_string()});
        assert!(handle(Ok(&reaper), &an_hour_late, &at_now()).await.is_ok());
        reaper.config.allow_replay = true;
        assert!(handle(Ok(&reaper), &tomorrow, &at_now()).await.is_ok());
        reaper.config = ReaperConfig::default();
        assert!(handle(Ok(&reaper), &last_week, &at_now()).await.is_ok(), "report mode replays freely");
    }

    #[test]
    fn the_run_time_is_the_event_time_or_the_clock() {
        let clock = Timestamp::from_unix_seconds(7);
        let event = serde_json::json!({"detail-type": "Scheduled Event", "time": "2026-11-26T06:00:00Z"});
        assert_eq!(run_time(&event, clock).unwrap().to_string(), "2026-11-26T06:00:00Z");
        assert_eq!(run_time(&serde_json::json!({}), clock).unwrap(), clock);
        let error = run_time(&serde_json::json!({"time": "yesterday"}), clock).unwrap_err();
        assert!(error.contains("\"time\"") && error.contains("yesterday"), "{error}");
        assert!(run_time(&serde_json::json!({"time": 5}), clock).is_err());
    }
}
