//! The hooks and the in-flight judge as Lambda functions: logging, the settings read and reported
//! once at cold start, and for each invocation the clock, the time Lambda leaves and the ARN it
//! invoked the function by.

use crate::hook::{CodeDeploy, DeploymentAlarms, HookError, HookReport};
use crate::in_flight::{APPLICATION_VAR, InFlightJudge, InProgressDeployments, Judgements};
use crate::metrics::Metrics;
use crate::post_traffic::PostTrafficHook;
use crate::pre_traffic::PreTrafficHook;
use crate::probe::Functions;
use crate::settings::HookSettings;
use crate::verdicts::VerdictTopic;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use lifeguard_common::time::Timestamp;
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use std::time::Duration;

/// What Lambda tells a hook about one invocation.
#[derive(Debug, Clone, Copy)]
struct Invocation<'a> {
    /// Time left before Lambda's deadline.
    remaining: Duration,
    /// The clock when the invocation arrived.
    now: Timestamp,
    /// The ARN Lambda invoked the hook by.
    invoked_arn: &'a str,
}

/// A lifecycle hook Lambda can run.
trait LifecycleHook {
    /// What its report holds besides the verdict.
    type Findings: Serialize;
    /// Handles one lifecycle event.
    fn respond(
        &self,
        payload: Value,
        invocation: Invocation<'_>,
    ) -> impl Future<Output = Result<HookReport<Self::Findings>, HookError>>;
}

impl<C: CodeDeploy, F: Functions, V: VerdictTopic> LifecycleHook for PreTrafficHook<C, F, V> {
    type Findings = crate::probe::ProbeFindings;

    async fn respond(
        &self,
        payload: Value,
        invocation: Invocation<'_>,
    ) -> Result<HookReport<Self::Findings>, HookError> {
        self.handle(payload, invocation.remaining, invocation.invoked_arn).await
    }
}

impl<C, F, M, V> LifecycleHook for PostTrafficHook<C, F, M, V>
where
    C: CodeDeploy + DeploymentAlarms,
    F: Functions,
    M: Metrics,
    V: VerdictTopic,
{
    type Findings = crate::post_traffic::PostTrafficFindings;

    async fn respond(
        &self,
        payload: Value,
        invocation: Invocation<'_>,
    ) -> Result<HookReport<Self::Findings>, HookError> {
        self.handle(payload, invocation.remaining, invocation.now, invocation.invoked_arn).await
    }
}

/// Runs the pre-traffic hook with these clients as a Lambda function: JSON logs, settings read
/// once, `topic` making the verdict topic's client when the settings name one, each invocation
/// handled with the clock, the time left and the invoked ARN.
pub async fn serve_pre_traffic<C: CodeDeploy, F: Functions, V: VerdictTopic>(
    codedeploy: C,
    functions: F,
    topic: impl FnOnce(&str) -> V,
) -> Result<(), Error> {
    let settings = start();
    let verdicts = settings.verdict_topic_arn.as_deref().map(topic);
    serve(PreTrafficHook { codedeploy, functions, verdicts, settings, hook_name: own_name("pre-traffic") })
        .await
}

/// Runs the post-traffic hook with these clients as a Lambda function, as
/// [`serve_pre_traffic`] does.
pub async fn serve_post_traffic<C, F, M, V>(
    codedeploy: C,
    functions: F,
    metrics: M,
    topic: impl FnOnce(&str) -> V,
) -> Result<(), Error>
where
    C: CodeDeploy + DeploymentAlarms,
    F: Functions,
    M: Metrics,
    V: VerdictTopic,
{
    let settings = start();
    let verdicts = settings.verdict_topic_arn.as_deref().map(topic);
    let hook_name = own_name("post-traffic");
    serve(PostTrafficHook { codedeploy, functions, metrics, verdicts, settings, hook_name }).await
}

/// Runs the in-flight judge with these clients as a Lambda function, settings read once as the
/// hooks read theirs. Each invocation (a scheduled event or a CodeDeploy state change: the
/// payload is not read) judges every deployment of [`APPLICATION_VAR`]'s application in progress.
pub async fn serve_in_flight_judge<C, F, M>(codedeploy: C, functions: F, metrics: M) -> Result<(), Error>
where
    C: CodeDeploy + InProgressDeployments,
    F: Functions,
    M: Metrics + Judgements,
{
    let settings = start();
    let application = std::env::var(APPLICATION_VAR).ok().filter(|name| !name.trim().is_empty());
    let judge = &InFlightJudge { codedeploy, functions, metrics, settings, application };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = Timestamp::now();
        let remaining = Timestamp::lambda_deadline(event.context.deadline, now).duration_since(now);
        let deadline = tokio::time::Instant::now() + remaining.saturating_sub(judge.settings.report_margin);
        let own_arn = judge.settings.own_arn(&event.context.invoked_function_arn).to_owned();
        let report = judge.run(now, &own_arn, deadline).await?;
        report.metric_line().emit(Timestamp::now());
        Ok::<_, crate::in_flight::JudgeError>(report)
    }))
    .await
}

/// The function's name as Lambda gives it (`AWS_LAMBDA_FUNCTION_NAME`), which the AppSpec names.
fn own_name(fallback: &str) -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| fallback.into())
}

/// JSON logs (Lambda's log format and level), then the settings, read once; a problem with them
/// is logged at cold start, and each invocation then reports `Failed` naming it.
fn start() -> HookSettings {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = HookSettings::from_env();
    if let Err(problem) = &settings.checks {
        tracing::error!(%problem, "every invocation will report Failed until this is fixed");
    }
    settings
}

/// Runs `hook` as a Lambda function, each invocation handled with the clock, the time left and
/// the invoked ARN.
async fn serve<H: LifecycleHook>(hook: H) -> Result<(), Error> {
    let hook = &hook;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = Timestamp::now();
        let invocation = Invocation {
            remaining: Timestamp::lambda_deadline(event.context.deadline, now).duration_since(now),
            now,
            invoked_arn: &event.context.invoked_function_arn,
        };
        hook.respond(event.payload, invocation).await
    }))
    .await
}
