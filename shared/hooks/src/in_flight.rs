//! The in-flight judge: while CodeDeploy shifts a deployment's traffic, the post-traffic hook's
//! rules run every minute (an EventBridge schedule, and CodeDeploy's own state-change events) on
//! the canary against the baseline, and each verdict becomes one datapoint of the metric
//! [`CANARY_FAILING_METRIC`]: 1 when a rule fails, 0 otherwise. An alarm on it (Maximum ≥ 1 over
//! one minute, missing data not breaching) among the deployment group's alarms makes CodeDeploy
//! stop the deployment and roll it back before the full shift; CodeDeploy for Lambda watches only
//! alarms while it shifts.
//!
//! Nothing is published for a deployment the judge could not judge (its metrics unreadable, no
//! baseline version, a misconfiguration): missing data never breaches, so doubt never rolls a
//! deployment back here (the post-traffic hook still judges it at the end), and the report says
//! why.

use crate::hook::{CodeDeploy, discover};
use crate::metrics::{AnalysisFindings, Metrics, Subject, analyse};
use crate::probe::{Functions, logical_id};
use crate::settings::HookSettings;
use futures::future::join_all;
use lambda_runtime::Diagnostic;
use lifeguard_common::AwsError;
use lifeguard_common::emf::{MetricLine, Unit};
use lifeguard_common::time::Timestamp;
use serde::Serialize;
use std::future::Future;
use tokio::time::Instant;

/// Namespace of the judge's metric.
pub const JUDGEMENT_NAMESPACE: &str = "Lifeguard";
/// The judge's metric: 1 while a canary fails a rule, 0 while it passes; dimensions
/// `FunctionName` (as the AppSpec names the function) and `Alias`.
pub const CANARY_FAILING_METRIC: &str = "CanaryFailing";

/// The deployments CodeDeploy is carrying out.
pub trait InProgressDeployments: Sync {
    /// Ids of the application's deployments in progress (all pages of `ListDeployments`).
    fn in_progress(&self, application: &str) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
}

/// Where verdicts go.
pub trait Judgements: Sync {
    /// One datapoint of [`CANARY_FAILING_METRIC`] per verdict, at `at` (`PutMetricData`).
    fn publish(
        &self,
        verdicts: &[Published],
        at: Timestamp,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// One verdict as a datapoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    /// `FunctionName` dimension.
    pub function: String,
    /// `Alias` dimension.
    pub alias: String,
    /// Whether the canary fails a rule (the datapoint is 1) or not (0).
    pub failing: bool,
}

/// What the judge made of one deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum InFlightVerdict {
    /// A rule failed: 1 published.
    Failing,
    /// No rule failed: 0 published.
    Passing,
    /// Not judged (see the reason): nothing published.
    NotJudged,
}

/// One deployment in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgedDeployment {
    /// The deployment.
    pub deployment_id: String,
    /// The function, when the deployment could be read.
    pub function: Option<String>,
    /// The alias whose traffic moves.
    pub alias: Option<String>,
    /// The version traffic moves from.
    pub baseline_version: Option<String>,
    /// The version traffic moves to.
    pub canary_version: Option<String>,
    /// The verdict.
    pub verdict: InFlightVerdict,
    /// Why, in one line.
    pub reason: String,
    /// The rules' results, when judged.
    pub analysis: Option<AnalysisFindings>,
}

/// What one run of the judge decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgeReport {
    /// The CodeDeploy application watched.
    pub application: String,
    /// When the run judged.
    pub judged_at: Timestamp,
    /// Every deployment in progress.
    pub deployments: Vec<JudgedDeployment>,
    /// Whether the verdicts were published (`false` with nothing to publish).
    pub published: bool,
    /// What went wrong beyond single deployments.
    pub problems: Vec<String>,
}

impl JudgeReport {
    /// The run as one EMF line by `Application`: deployments judged, failing and not judged,
    /// with the whole report as the object `report`.
    pub fn metric_line(&self) -> MetricLine {
        let count = |verdict: InFlightVerdict| {
            self.deployments.iter().filter(|d| d.verdict == verdict).count() as f64
        };
        MetricLine::new()
            .dimension("Application", &self.application)
            .metric("Deployments", self.deployments.len() as f64, Unit::Count)
            .metric("Failing", count(InFlightVerdict::Failing), Unit::Count)
            .metric("NotJudged", count(InFlightVerdict::NotJudged), Unit::Count)
            .property("report", serde_json::to_value(self).unwrap_or_default())
    }
}

/// A run that could not look at the deployments at all (Lambda records it as an error).
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    /// The configuration names no application.
    #[error("invalid configuration: {0}")]
    InvalidConfiguration(String),
    /// `ListDeployments` failed.
    #[error("cannot list the deployments in progress: {0}")]
    ListDeployments(AwsError),
}

impl From<JudgeError> for Diagnostic {
    fn from(error: JudgeError) -> Self {
        let error_type = match error {
            JudgeError::InvalidConfiguration(_) => "InvalidConfiguration",
            JudgeError::ListDeployments(_) => "ListDeployments",
        };
        Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

/// The judge with the clients and settings built at cold start.
#[derive(Debug)]
pub struct InFlightJudge<C, F, M> {
    /// CodeDeploy operations.
    pub codedeploy: C,
    /// Lambda operations (a function's logical id, from its tags).
    pub functions: F,
    /// CloudWatch operations.
    pub metrics: M,
    /// The check file (the same `analysis` entries as the post-traffic hook's).
    pub settings: HookSettings,
    /// The CodeDeploy application whose deployments are judged; `None` when not configured.
    pub application: Option<String>,
}

impl<C, F, M> InFlightJudge<C, F, M>
where
    C: CodeDeploy + InProgressDeployments,
    F: Functions,
    M: Metrics + Judgements,
{
    /// Judges every deployment in progress at `now`, publishes the verdicts and reports them;
    /// `own_arn` places function names in this account, `deadline` bounds the work.
    pub async fn run(
        &self,
        now: Timestamp,
        own_arn: &str,
        deadline: Instant,
    ) -> Result<JudgeReport, JudgeError> {
        let application = self
            .application
            .clone()
            .ok_or_else(|| JudgeError::InvalidConfiguration(format!("{APPLICATION_VAR} is not set")))?;
        let ids = self.codedeploy.in_progress(&application).await.map_err(JudgeError::ListDeployments)?;
        let judged = join_all(ids.iter().map(|id| self.judge(id, now, own_arn, deadline))).await;
        let (deployments, verdicts): (Vec<_>, Vec<_>) = judged.into_iter().unzip();
        let verdicts: Vec<Published> = verdicts.into_iter().flatten().collect();
        let mut problems = Vec::new();
        let published = !verdicts.is_empty()
            && match tokio::time::timeout_at(deadline, self.metrics.publish(&verdicts, now)).await {
                Ok(Ok(())) => true,
                Ok(Err(error)) => {
                    problems.push(format!("verdicts not published: {error}"));
                    false
                }
                Err(_) => {
                    problems.push("verdicts not published: no time left".to_owned());
                    false
                }
            };
        Ok(JudgeReport { application, judged_at: now, deployments, published, problems })
    }

    /// One deployment: its verdict for the report, and the datapoint to publish, if any.
    async fn judge(
        &self,
        deployment_id: &str,
        now: Timestamp,
        own_arn: &str,
        deadline: Instant,
    ) -> (JudgedDeployment, Option<Published>) {
        let mut judged = JudgedDeployment {
            deployment_id: deployment_id.to_owned(),
            function: None,
            alias: None,
            baseline_version: None,
            canary_version: None,
            verdict: InFlightVerdict::NotJudged,
            reason: String::new(),
            analysis: None,
        };
        let not_judged = |mut judged: JudgedDeployment, reason: String| {
            judged.reason = format!("not judged: {reason}");
            (judged, None)
        };
        let discovered =
            match tokio::time::timeout_at(deadline, discover(&self.codedeploy, deployment_id)).await {
                Ok(Ok(discovered)) => discovered,
                Ok(Err(problem)) => return not_judged(judged, problem),
                Err(_) => return not_judged(judged, "no time left to read the deployment".into()),
            };
        let target = &discovered.target;
        judged.function = Some(target.function_name.clone());
        judged.alias = Some(target.alias.clone());
        judged.baseline_version.clone_from(&target.current_version);
        judged.canary_version = Some(target.target_version.clone());
        let Some(baseline) = target.current_version.as_deref() else {
            return not_judged(judged, "no baseline version (a first deployment)".into());
        };
        let check_file = match &self.settings.checks {
            Ok(file) => file,
            Err(problem) => return not_judged(judged, format!("misconfigured: {problem}")),
        };
        let id = match logical_id(&self.functions, &target.function_name, own_arn, deadline).await {
            Ok(id) => id,
            Err(problem) => return not_judged(judged, problem),
        };
        let (rules, _) = check_file.analysis_for(id.as_deref(), &target.function_name);
        let subject = Subject {
            function: &target.function_name,
            alias: &target.alias,
            baseline,
            canary: &target.target_version,
        };
        let created = discovered.deployment.create_time;
        let analysis =
            match tokio::time::timeout_at(deadline, analyse(&self.metrics, &rules, &subject, created, now))
                .await
            {
                Ok(Ok(analysis)) => analysis,
                Ok(Err(error)) => return not_judged(judged, format!("metrics unreadable: {error}")),
                Err(_) => return not_judged(judged, "metrics unread at the deadline".into()),
            };
        let failed: Vec<String> =
            analysis.failed().map(|rule| format!("rule {}: {}", rule.rule, rule.reason)).collect();
        let failing = !failed.is_empty();
        (judged.verdict, judged.reason) = if failing {
            (InFlightVerdict::Failing, failed.join(" | "))
        } else {
            (InFlightVerdict::Passing, format!("{} rules passed", analysis.rules.len()))
        };
        judged.analysis = Some(analysis);
        let published =
            Published { function: target.function_name.clone(), alias: target.alias.clone(), failing };
        (judged, Some(published))
    }
}

/// Environment variable naming the CodeDeploy application whose deployments are judged.
pub const APPLICATION_VAR: &str = "LIFEGUARD_CODEDEPLOY_APPLICATION";
