//! The `BeforeAllowTraffic` hook: probe the exact target version with the configured checks.

use crate::deadline::Deadlines;
use crate::deployment::LifecycleEvent;
use crate::hook::{CodeDeploy, HookError, HookEvent, HookReport, run_hook};
use crate::probe::{Functions, ProbeFindings, ProbeTarget, logical_id, probe_and_judge, unprobed};
use crate::settings::HookSettings;
use crate::verdicts::VerdictTopic;
use serde_json::Value;
use std::time::Duration;

/// The pre-traffic hook with the clients and settings built at cold start.
#[derive(Debug)]
pub struct PreTrafficHook<C, F, V> {
    /// CodeDeploy operations.
    pub codedeploy: C,
    /// Lambda operations.
    pub functions: F,
    /// Where verdicts are published, when a topic is set.
    pub verdicts: Option<V>,
    /// Settings read at cold start.
    pub settings: HookSettings,
    /// This hook's own function name, as the AppSpec names it.
    pub hook_name: String,
}

impl<C: CodeDeploy, F: Functions, V: VerdictTopic> PreTrafficHook<C, F, V> {
    /// Handles one lifecycle event; `remaining` is the time left before Lambda's deadline and
    /// `invoked_arn` the ARN Lambda invoked this hook by (see [`HookSettings::own_arn`]).
    pub async fn handle(
        &self,
        payload: Value,
        remaining: Duration,
        invoked_arn: &str,
    ) -> Result<HookReport<ProbeFindings>, HookError> {
        let event = HookEvent::parse(payload)?;
        let own_arn = self.settings.own_arn(invoked_arn);
        let deadlines = Deadlines::split(tokio::time::Instant::now(), remaining, self.settings.report_margin);
        // Boxed: the nested futures of the SDK and the hook are otherwise too deep a type.
        Box::pin(run_hook(
            &self.codedeploy,
            self.verdicts.as_ref(),
            &self.hook_name,
            LifecycleEvent::BeforeAllowTraffic,
            event,
            deadlines,
            |discovered| async move {
                let check_file = match &self.settings.checks {
                    Ok(file) => file,
                    Err(problem) => return unprobed(format!("hook misconfigured: {problem}")),
                };
                let target = &discovered.target;
                let probe = ProbeTarget {
                    function: &target.function_name,
                    qualifier: &target.target_version,
                    baseline: target.current_version.as_deref(),
                    expected_version: None,
                };
                match logical_id(&self.functions, probe.function, own_arn, deadlines.work_until).await {
                    Ok(id) => {
                        probe_and_judge(
                            &self.functions,
                            check_file,
                            probe,
                            id.as_deref(),
                            deadlines.work_until,
                        )
                        .await
                    }
                    Err(reason) => unprobed(reason),
                }
            },
        ))
        .await
    }
}
