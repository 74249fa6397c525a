//! The `AfterAllowTraffic` hook: alarms, canary-versus-baseline analysis on CloudWatch metrics,
//! and probes on the alias, all within one deadline; any failure rolls the deployment back.

use crate::analysis::rules::{RuleDecision, RuleMode};
use crate::deadline::Deadlines;
use crate::deployment::LifecycleEvent;
use crate::hook::{
    CodeDeploy, DeploymentAlarms, Discovered, HookError, HookEvent, HookReport, Judgement, Verdict, run_hook,
};
use crate::metrics::{AnalysisFindings, Metrics, Subject, analyse};
use crate::probe::{Functions, ProbeFindings, ProbeTarget, logical_id, probe_and_judge};
use crate::settings::HookSettings;
use crate::verdicts::VerdictTopic;
use lifeguard_common::time::Timestamp;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

/// State of one alarm the verdict depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmFinding {
    /// Alarm name.
    pub name: String,
    /// `OK`, `ALARM`, `INSUFFICIENT_DATA`, or `NOT_FOUND`.
    pub state: String,
}

/// Everything the post-traffic hook looked at.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostTrafficFindings {
    /// Alarms checked.
    pub alarms: Vec<AlarmFinding>,
    /// Canary-versus-baseline analysis, when there was a baseline to compare with.
    pub analysis: Option<AnalysisFindings>,
    /// Probes on the alias.
    pub probes: ProbeFindings,
}

/// The post-traffic hook with the clients and settings built at cold start.
#[derive(Debug)]
pub struct PostTrafficHook<C, F, M, V> {
    /// CodeDeploy operations.
    pub codedeploy: C,
    /// Lambda operations.
    pub functions: F,
    /// CloudWatch operations.
    pub metrics: M,
    /// Where verdicts are published, when a topic is set.
    pub verdicts: Option<V>,
    /// Settings read at cold start.
    pub settings: HookSettings,
    /// This hook's own function name, as the AppSpec names it.
    pub hook_name: String,
}

impl<C: CodeDeploy + DeploymentAlarms, F: Functions, M: Metrics, V: VerdictTopic>
    PostTrafficHook<C, F, M, V>
{
    /// Handles one lifecycle event; `remaining` is the time left before Lambda's deadline,
    /// `now` the clock (the end of the analysis window) and
    /// `invoked_arn` the ARN Lambda invoked this hook by (see [`HookSettings::own_arn`]).
    pub async fn handle(
        &self,
        payload: Value,
        remaining: Duration,
        now: Timestamp,
        invoked_arn: &str,
    ) -> Result<HookReport<PostTrafficFindings>, HookError> {
        let event = HookEvent::parse(payload)?;
        let own_arn = self.settings.own_arn(invoked_arn);
        let deadlines = Deadlines::split(Instant::now(), remaining, self.settings.report_margin);
        // Boxed: the nested futures of the SDK and the hook are otherwise too deep a type.
        Box::pin(run_hook(
            &self.codedeploy,
            self.verdicts.as_ref(),
            &self.hook_name,
            LifecycleEvent::AfterAllowTraffic,
            event,
            deadlines,
            |discovered| self.judge(discovered, now, own_arn, deadlines.work_until),
        ))
        .await
    }

    async fn judge(
        &self,
        discovered: Discovered,
        now: Timestamp,
        own_arn: &str,
        deadline: Instant,
    ) -> Judgement<PostTrafficFindings> {
        let empty = |reason: String| Judgement {
            verdict: Verdict::Failed,
            reason,
            details: PostTrafficFindings {
                alarms: Vec::new(),
                analysis: None,
                probes: ProbeFindings { check_key: None, checks: Vec::new() },
            },
        };
        let check_file = match &self.settings.checks {
            Ok(file) => file,
            Err(problem) => return empty(format!("hook misconfigured: {problem}")),
        };
        let target = &discovered.target;
        let logical_id = match logical_id(&self.functions, &target.function_name, own_arn, deadline).await {
            Ok(id) => id,
            Err(reason) => return empty(reason),
        };
        let (rules, extra_alarms) = check_file.analysis_for(logical_id.as_deref(), &target.function_name);
        let probe = ProbeTarget {
            function: &target.function_name,
            qualifier: &target.alias,
            baseline: None,
            expected_version: Some(&target.target_version),
        };
        let alarms = async {
            let mut names = match &discovered.deployment.deployment_group {
                Some(group) => {
                    self.codedeploy
                        .deployment_group_alarms(&discovered.deployment.application_name, group)
                        .await?
                }
                None => Vec::new(),
            };
            names.extend(extra_alarms);
            names.sort();
            names.dedup();
            let states =
                if names.is_empty() { Vec::new() } else { self.metrics.alarm_states(&names).await? };
            Ok::<_, lifeguard_common::AwsError>(
                names
                    .into_iter()
                    .map(|name| {
                        let state =
                            states.iter().find(|(n, _)| *n == name).map_or("NOT_FOUND", |(_, s)| s.as_str());
                        AlarmFinding { state: state.to_owned(), name }
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let analysis = async {
            let Some(baseline) = target.current_version.as_deref() else { return Ok(None) };
            let subject = Subject {
                function: &target.function_name,
                alias: &target.alias,
                baseline,
                canary: &target.target_version,
            };
            let created = discovered.deployment.create_time;
            Ok::<_, lifeguard_common::AwsError>(Some(
                analyse(&self.metrics, &rules, &subject, created, now).await?,
            ))
        };
        let probes = probe_and_judge(&self.functions, check_file, probe, logical_id.as_deref(), deadline);
        let (alarms, analysis, probes) = tokio::join!(
            tokio::time::timeout_at(deadline, alarms),
            tokio::time::timeout_at(deadline, analysis),
            probes
        );
        let mut failures = Vec::new();
        let alarms = match alarms {
            Ok(Ok(alarms)) => alarms,
            Ok(Err(error)) => {
                failures.push(format!("alarms unreadable: {error}"));
                Vec::new()
            }
            Err(_) => {
                failures.push("alarms unread at the deadline".to_owned());
                Vec::new()
            }
        };
        for alarm in alarms.iter().filter(|a| a.state == "ALARM" || a.state == "NOT_FOUND") {
            failures.push(format!("alarm {} is {}", alarm.name, alarm.state));
        }
        let analysis = match analysis {
            Ok(Ok(analysis)) => analysis,
            Ok(Err(error)) => {
                failures.push(format!("metrics unreadable: {error}"));
                None
            }
            Err(_) => {
                failures.push("metrics unread at the deadline".to_owned());
                None
            }
        };
        for result in analysis.iter().flat_map(AnalysisFindings::failed) {
            failures.push(format!("rule {}: {}", result.rule, result.reason));
        }
        if probes.verdict == Verdict::Failed {
            failures.push(format!("probes on alias {}: {}", target.alias, probes.reason));
        }
        let (verdict, reason) = if failures.is_empty() {
            let compared = match &analysis {
                Some(a) => {
                    let observed_failures: Vec<&str> = a
                        .rules
                        .iter()
                        .filter(|r| r.mode == RuleMode::Observe && r.decision == RuleDecision::Fail)
                        .map(|r| r.rule.as_str())
                        .collect();
                    let passed = format!("{} rules passed", a.rules.len() - observed_failures.len());
                    if observed_failures.is_empty() {
                        passed
                    } else {
                        format!(
                            "{passed}; observe mode, not counted: {} failed",
                            observed_failures.join(", ")
                        )
                    }
                }
                None => "no baseline version to compare with".to_owned(),
            };
            (Verdict::Succeeded, format!("{} alarms OK; {compared}; {}", alarms.len(), probes.reason))
        } else {
            (Verdict::Failed, failures.join(" | "))
        };
        Judgement {
            verdict,
            reason,
            details: PostTrafficFindings { alarms, analysis, probes: probes.details },
        }
    }
}
