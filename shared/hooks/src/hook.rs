//! The skeleton every CodeDeploy lifecycle hook shares: read the event, discover the target from
//! the deployment, run the hook's own work under a deadline, and report exactly one verdict —
//! `Failed` on any error, panic or timeout once the IDs are known.

use crate::deadline::Deadlines;
use crate::deployment::{Deployment, LifecycleEvent, Revision, Target, parse_appspec};
use crate::verdicts::{VerdictMessage, VerdictTopic};
use futures::FutureExt;
use lambda_runtime::Diagnostic;
use lifeguard_common::AwsError;
use lifeguard_common::emf::{MetricLine, Unit};
use lifeguard_common::time::Timestamp;
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use tokio::time::Instant;

/// A hook's verdict, as CodeDeploy spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// The deployment may go on.
    Succeeded,
    /// The deployment must stop and roll back.
    Failed,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// How CodeDeploy took the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Reported {
    /// The verdict was recorded.
    Accepted,
    /// An earlier invocation of this hook already reported (a duplicate delivery).
    AlreadyCompleted,
}

/// The CodeDeploy operations a hook uses.
pub trait CodeDeploy: Sync {
    /// `GetDeployment`.
    fn deployment(&self, deployment_id: &str) -> impl Future<Output = Result<Deployment, AwsError>> + Send;
    /// `GetApplicationRevision` for an AppSpec known only by its sha256: the AppSpec text.
    fn appspec(
        &self,
        application: &str,
        sha256: &str,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;
    /// `PutLifecycleEventHookExecutionStatus`.
    fn report(
        &self,
        deployment_id: &str,
        execution_id: &str,
        verdict: Verdict,
    ) -> impl Future<Output = Result<Reported, AwsError>> + Send;
}

/// The alarms CodeDeploy watches for a deployment group (`GetDeploymentGroup`).
pub trait DeploymentAlarms: Sync {
    /// Names of the deployment group's alarms, when its alarm configuration is enabled.
    fn deployment_group_alarms(
        &self,
        application: &str,
        group: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
}

/// The event CodeDeploy sends a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEvent {
    /// `DeploymentId`.
    pub deployment_id: String,
    /// `LifecycleEventHookExecutionId`.
    pub execution_id: String,
}

impl HookEvent {
    /// Reads the event, naming what is missing or malformed.
    pub fn parse(payload: Value) -> Result<Self, HookError> {
        let event: aws_lambda_events::event::codedeploy::CodeDeployLifecycleEvent =
            serde_json::from_value(payload).map_err(|e| HookError::MalformedEvent(e.to_string()))?;
        let present = |value: String, name: &str| {
            if value.trim().is_empty() {
                Err(HookError::MalformedEvent(format!("field `{name}` is empty")))
            } else {
                Ok(value)
            }
        };
        Ok(Self {
            deployment_id: present(event.deployment_id, "DeploymentId")?,
            execution_id: present(event.lifecycle_event_hook_execution_id, "LifecycleEventHookExecutionId")?,
        })
    }
}

/// What a hook learns about its deployment before its own work.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    /// The deployment.
    pub deployment: Deployment,
    /// What it deploys.
    pub target: Target,
}

/// Finds the target of a deployment: `GetDeployment`, then `GetApplicationRevision` when the
/// revision carries only a sha256, then the AppSpec.
pub async fn discover<C: CodeDeploy>(codedeploy: &C, deployment_id: &str) -> Result<Discovered, String> {
    let deployment = codedeploy.deployment(deployment_id).await.map_err(|e| e.to_string())?;
    let appspec = match &deployment.revision {
        Revision::Content(text) => text.clone(),
        Revision::Sha256(sha256) => {
            codedeploy.appspec(&deployment.application_name, sha256).await.map_err(|e| e.to_string())?
        }
    };
    let target = parse_appspec(&appspec).map_err(|e| format!("deployment {deployment_id}: {e}"))?;
    Ok(Discovered { deployment, target })
}

/// What a hook's own work concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement<T> {
    /// The verdict to report.
    pub verdict: Verdict,
    /// One line saying why.
    pub reason: String,
    /// Everything the work looked at, for the report.
    pub details: T,
}

/// The JSON report a hook returns and logs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookReport<T> {
    /// `DeploymentId`.
    pub deployment_id: String,
    /// `LifecycleEventHookExecutionId`.
    pub lifecycle_event_hook_execution_id: String,
    /// This hook's function name.
    pub hook: String,
    /// The event the AppSpec names this hook for, when it does.
    pub lifecycle_event: Option<LifecycleEvent>,
    /// The deployment's CodeDeploy application, when discovery got that far.
    pub application: Option<String>,
    /// The deployment's group, when discovery got that far.
    pub deployment_group: Option<String>,
    /// Function, alias and versions, when discovery got that far.
    #[serde(flatten)]
    pub target: Option<Target>,
    /// The verdict reported.
    pub verdict: Verdict,
    /// Why.
    pub reason: String,
    /// How CodeDeploy took it.
    pub reported: Reported,
    /// Time from start to report, in milliseconds.
    pub duration_ms: u64,
    /// Whether the verdict topic took the verdict; absent without a topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict_published: Option<bool>,
    /// The work's findings, when it finished.
    #[serde(flatten)]
    pub details: Option<T>,
}

/// Why a hook ends without a report.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The event is not a CodeDeploy lifecycle event: there is nobody to report to.
    #[error("malformed CodeDeploy lifecycle event: {0}")]
    MalformedEvent(String),
    /// The verdict was reached but CodeDeploy did not take it.
    #[error("verdict {verdict} for deployment {deployment_id} could not be reported: {cause}")]
    Unreported {
        /// `DeploymentId`.
        deployment_id: String,
        /// The verdict that was not delivered.
        verdict: Verdict,
        /// What went wrong.
        cause: String,
    },
}

impl From<HookError> for Diagnostic {
    fn from(error: HookError) -> Self {
        let error_type = match error {
            HookError::MalformedEvent(_) => "MalformedEvent",
            HookError::Unreported { .. } => "VerdictUnreported",
        };
        Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

/// Why the deployment is not this hook's to judge, or `None` when the AppSpec names `hook_name`
/// for the lifecycle event it `serves`. A hook never judges an event its AppSpec gives to
/// another hook, or one whose AppSpec does not name it at all.
pub fn refusal(target: &Target, hook_name: &str, serves: LifecycleEvent) -> Option<String> {
    match target.event_served_by(hook_name) {
        Some(event) if event == serves => None,
        Some(other) => Some(format!(
            "this hook serves {serves}, but the deployment's AppSpec names {hook_name} for {other}"
        )),
        None => {
            let named: Vec<String> =
                target.hooks.iter().map(|(event, name)| format!("{event}: {name}")).collect();
            let named = if named.is_empty() { "no hooks".to_owned() } else { named.join(", ") };
            Some(format!(
                "the deployment's AppSpec does not name {hook_name} for {serves} (it names {named})"
            ))
        }
    }
}

/// Runs one hook invocation end to end for a hook that `serves` one lifecycle event (see the
/// module docs), then publishes the verdict CodeDeploy took to `verdicts`, when given.
pub async fn run_hook<C, V, T, F, Fut>(
    codedeploy: &C,
    verdicts: Option<&V>,
    hook_name: &str,
    serves: LifecycleEvent,
    event: HookEvent,
    deadlines: Deadlines,
    work: F,
) -> Result<HookReport<T>, HookError>
where
    C: CodeDeploy,
    V: VerdictTopic,
    T: Serialize,
    F: FnOnce(Discovered) -> Fut,
    Fut: Future<Output = Judgement<T>>,
{
    let started = Instant::now();
    let mut target = None;
    let mut deployment = None;
    let attempt = AssertUnwindSafe(async {
        let discovered = discover(codedeploy, &event.deployment_id)
            .await
            .map_err(|discovery| format!("target discovery failed: {discovery}"))?;
        target = Some(discovered.target.clone());
        deployment = Some(discovered.deployment.clone());
        if let Some(refused) = refusal(&discovered.target, hook_name, serves) {
            return Err(refused);
        }
        Ok::<_, String>(work(discovered).await)
    })
    .catch_unwind();
    // The work watches `work_until` itself and returns partial findings; this backstop only
    // catches work that ignores it.
    let backstop = deadlines.work_until + (deadlines.report_until - deadlines.work_until) / 3;
    let (verdict, reason, details) = match tokio::time::timeout_at(backstop, attempt).await {
        Ok(Ok(Ok(judgement))) => (judgement.verdict, judgement.reason, Some(judgement.details)),
        Ok(Ok(Err(unjudged))) => (Verdict::Failed, unjudged, None),
        Ok(Err(panic)) => (Verdict::Failed, format!("hook panicked: {}", panic_message(&*panic)), None),
        Err(_) => (Verdict::Failed, "hook work unfinished at its deadline".to_owned(), None),
    };
    let lifecycle_event = target.as_ref().and_then(|t| t.event_served_by(hook_name));
    let reported = tokio::time::timeout_at(
        deadlines.report_until,
        codedeploy.report(&event.deployment_id, &event.execution_id, verdict),
    )
    .await
    .unwrap_or_else(|_| Err(AwsError::timeout("PutLifecycleEventHookExecutionStatus")));
    let unreported =
        |cause: String| HookError::Unreported { deployment_id: event.deployment_id.clone(), verdict, cause };
    let reported = match reported {
        Ok(reported) => reported,
        Err(error) => {
            tracing::error!(deployment_id = %event.deployment_id, %verdict, %reason, %error, "verdict not reported");
            return Err(unreported(error.to_string()));
        }
    };
    if reported == Reported::AlreadyCompleted {
        tracing::warn!(deployment_id = %event.deployment_id, "lifecycle event already completed: duplicate invocation");
    }
    let (application, deployment_group) =
        deployment.map_or((None, None), |d| (Some(d.application_name), d.deployment_group));
    let mut report = HookReport {
        deployment_id: event.deployment_id.clone(),
        lifecycle_event_hook_execution_id: event.execution_id.clone(),
        hook: hook_name.to_owned(),
        lifecycle_event,
        application,
        deployment_group,
        target,
        verdict,
        reason,
        reported,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        verdict_published: None,
        details,
    };
    let mut value =
        serde_json::to_value(&report).map_err(|e| unreported(format!("report not serializable: {e}")))?;
    if let Some(topic) = verdicts {
        let published = publish(topic, &value, deadlines.report_until).await;
        report.verdict_published = Some(published);
        value["verdictPublished"] = Value::Bool(published);
    }
    tracing::info!(verdict = %report.verdict, deployment_id = %report.deployment_id, "{}", report.reason);
    metric_line(&value, serves).emit(Timestamp::now());
    Ok(report)
}

/// Publishes the verdict of `report` to `topic` before `until`; a failure is logged (CodeDeploy
/// already has the verdict) and returns false.
async fn publish<V: VerdictTopic>(topic: &V, report: &Value, until: Instant) -> bool {
    let message = VerdictMessage::of(report);
    let published = tokio::time::timeout_at(until, topic.publish(&message))
        .await
        .unwrap_or_else(|_| Err(AwsError::timeout("Publish")));
    if let Err(error) = &published {
        tracing::error!(deployment_id = %report["deploymentId"], %error, "verdict reported but not published");
    }
    published.is_ok()
}

/// The report as one EMF line: `Failed` (1 or 0) and `DurationMs` by `Hook` (the lifecycle event)
/// and `Function` (the guarded function), each rule's p-value and effect (`Rule <name> PValue`,
/// `Rule <name> Effect`), and the whole report as the object `report`.
fn metric_line(report: &Value, lifecycle_event: LifecycleEvent) -> MetricLine {
    let number = |value: &Value| value.as_f64().unwrap_or(f64::NAN);
    let rules = report["analysis"]["rules"].as_array().map_or(&[][..], Vec::as_slice);
    let line = MetricLine::new()
        .dimension("Hook", &lifecycle_event.to_string())
        .dimension("Function", report["functionName"].as_str().unwrap_or("unknown"))
        .metric("Failed", if report["verdict"] == "Failed" { 1.0 } else { 0.0 }, Unit::Count)
        .metric("DurationMs", number(&report["durationMs"]), Unit::Milliseconds);
    rules
        .iter()
        .fold(line, |line, rule| {
            let name = rule["rule"].as_str().unwrap_or("unnamed");
            line.metric(&format!("Rule {name} PValue"), number(&rule["pValue"]), Unit::None).metric(
                &format!("Rule {name} Effect"),
                number(&rule["effectSize"]),
                Unit::None,
            )
        })
        .property("report", report.clone())
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Mutex;
    use std::time::Duration;

    const APPSPEC: &str = r#"{"Resources":[{"Fn":{"Properties":{"Name":"fn","Alias":"live","CurrentVersion":"1","TargetVersion":"2"}}}],"Hooks":[{"BeforeAllowTraffic":"hook"}]}"#;

    /// CodeDeploy in memory: one deployment, reports recorded, report failures scripted.
    struct FakeCodeDeploy {
        revision: Revision,
        report_failures: Mutex<u32>,
        reports: Mutex<Vec<Verdict>>,
    }

    impl FakeCodeDeploy {
        fn new(revision: Revision) -> Self {
            Self { revision, report_failures: Mutex::new(0), reports: Mutex::new(Vec::new()) }
        }
    }

    impl CodeDeploy for FakeCodeDeploy {
        async fn deployment(&self, deployment_id: &str) -> Result<Deployment, AwsError> {
            if deployment_id != "d-1" {
                return Err(AwsError {
                    operation: "GetDeployment",
                    code: "DeploymentDoesNotExistException".into(),
                    message: format!("{deployment_id} does not exist"),
                });
            }
            Ok(Deployment {
                application_name: "app".into(),
                deployment_group: None,
                revision: self.revision.clone(),
                create_time: None,
            })
        }

        async fn appspec(&self, application: &str, sha256: &str) -> Result<String, AwsError> {
            assert_eq!((application, sha256), ("app", "abc"));
            Ok(APPSPEC.into())
        }

        async fn report(&self, _: &str, _: &str, verdict: Verdict) -> Result<Reported, AwsError> {
            let mut failures = self.report_failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(AwsError {
                    operation: "Put",
                    code: "InternalFailure".into(),
                    message: "down".into(),
                });
            }
            let mut reports = self.reports.lock().unwrap();
            reports.push(verdict);
            Ok(if reports.len() > 1 { Reported::AlreadyCompleted } else { Reported::Accepted })
        }
    }

    /// A verdict topic in memory: messages recorded; `Unreachable` fails, `Hanging` never answers.
    enum FakeTopic {
        Recording(Mutex<Vec<VerdictMessage>>),
        Unreachable,
        Hanging,
    }

    impl VerdictTopic for FakeTopic {
        async fn publish(&self, message: &VerdictMessage) -> Result<(), AwsError> {
            match self {
                Self::Recording(sent) => {
                    sent.lock().unwrap().push(message.clone());
                    Ok(())
                }
                Self::Unreachable => Err(AwsError {
                    operation: "Publish",
                    code: "AuthorizationError".into(),
                    message: "not allowed".into(),
                }),
                Self::Hanging => std::future::pending().await,
            }
        }
    }

    fn event(deployment_id: &str) -> HookEvent {
        HookEvent { deployment_id: deployment_id.into(), execution_id: "e-1".into() }
    }

    fn deadlines(seconds: u64) -> Deadlines {
        Deadlines::split(Instant::now(), Duration::from_secs(seconds), Duration::from_secs(2))
    }

    /// Findings of the test work.
    #[derive(Debug, PartialEq, Serialize)]
    struct Seen {
        n: u32,
    }

    fn pass(_: Discovered) -> std::future::Ready<Judgement<Seen>> {
        std::future::ready(Judgement {
            verdict: Verdict::Succeeded,
            reason: "fine".into(),
            details: Seen { n: 7 },
        })
    }

    /// Runs hook `hook`, serving `serves`, whose work passes, on deployment `deployment_id`.
    async fn run_as(
        codedeploy: &FakeCodeDeploy,
        hook: &str,
        serves: LifecycleEvent,
        deployment_id: &str,
    ) -> Result<HookReport<Seen>, HookError> {
        run_hook(codedeploy, None::<&FakeTopic>, hook, serves, event(deployment_id), deadlines(30), pass)
            .await
    }

    /// Runs the `BeforeAllowTraffic` hook `hook`, whose work passes, on deployment `deployment_id`.
    async fn run_passing(
        codedeploy: &FakeCodeDeploy,
        deployment_id: &str,
    ) -> Result<HookReport<Seen>, HookError> {
        run_as(codedeploy, "hook", LifecycleEvent::BeforeAllowTraffic, deployment_id).await
    }

    #[test]
    fn events_are_parsed_or_named_as_malformed() {
        let ok =
            HookEvent::parse(json!({"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "e-1"})).unwrap();
        assert_eq!(ok, event("d-1"));
        let missing = HookEvent::parse(json!({"DeploymentId": "d-1"})).unwrap_err().to_string();
        assert!(missing.contains("LifecycleEventHookExecutionId"), "{missing}");
        let empty =
            HookEvent::parse(json!({"DeploymentId": " ", "LifecycleEventHookExecutionId": "e"})).unwrap_err();
        assert_eq!(empty.to_string(), "malformed CodeDeploy lifecycle event: field `DeploymentId` is empty");
        assert!(HookEvent::parse(json!("hello")).is_err());
    }

    #[tokio::test]
    async fn sha256_revisions_are_fetched_and_the_work_verdict_reported() {
        let codedeploy = FakeCodeDeploy::new(Revision::Sha256("abc".into()));
        let report = run_passing(&codedeploy, "d-1").await.unwrap();
        assert_eq!(
            (report.verdict, report.reported, &report.details),
            (Verdict::Succeeded, Reported::Accepted, &Some(Seen { n: 7 }))
        );
        assert_eq!(report.lifecycle_event, Some(LifecycleEvent::BeforeAllowTraffic));
        assert_eq!(report.target.as_ref().unwrap().target_version, "2");
        assert_eq!(*codedeploy.reports.lock().unwrap(), vec![Verdict::Succeeded]);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!((json["targetVersion"].as_str(), json["n"].as_u64()), (Some("2"), Some(7)));
    }

    #[tokio::test]
    async fn discovery_failures_are_reported_as_failed() {
        let codedeploy = FakeCodeDeploy::new(Revision::Content(APPSPEC.into()));
        let report = run_passing(&codedeploy, "d-404").await.unwrap();
        assert_eq!(report.verdict, Verdict::Failed);
        assert!(report.reason.contains("DeploymentDoesNotExistException"), "{}", report.reason);
        let broken = FakeCodeDeploy::new(Revision::Content(APPSPEC.replace(r#","TargetVersion":"2""#, "")));
        let report = run_passing(&broken, "d-1").await.unwrap();
        assert!(
            report.reason.ends_with("Resources[0].Fn.Properties.TargetVersion is missing"),
            "{}",
            report.reason
        );
        assert_eq!(*broken.reports.lock().unwrap(), vec![Verdict::Failed]);
    }

    #[tokio::test]
    async fn a_hook_refuses_an_event_its_appspec_gives_to_another_hook_or_not_to_it() {
        let codedeploy = FakeCodeDeploy::new(Revision::Content(APPSPEC.into()));
        let report = run_as(&codedeploy, "hook", LifecycleEvent::AfterAllowTraffic, "d-1").await.unwrap();
        assert_eq!(
            (report.verdict, report.reason.as_str(), &report.details),
            (
                Verdict::Failed,
                "this hook serves AfterAllowTraffic, but the deployment's AppSpec names hook for BeforeAllowTraffic",
                &None
            )
        );
        let report = run_as(&codedeploy, "other", LifecycleEvent::BeforeAllowTraffic, "d-1").await.unwrap();
        assert_eq!(
            (report.verdict, report.reason.as_str()),
            (
                Verdict::Failed,
                "the deployment's AppSpec does not name other for BeforeAllowTraffic (it names BeforeAllowTraffic: hook)"
            )
        );
        assert_eq!(*codedeploy.reports.lock().unwrap(), vec![Verdict::Failed, Verdict::Failed]);
    }

    #[tokio::test]
    async fn a_panicking_work_is_reported_as_failed() {
        fn exploding_work() -> Judgement<Seen> {
            panic!("probe exploded")
        }

        let codedeploy = FakeCodeDeploy::new(Revision::Content(APPSPEC.into()));
        let report = run_hook(
            &codedeploy,
            None::<&FakeTopic>,
            "hook",
            LifecycleEvent::BeforeAllowTraffic,
            event("d-1"),
            deadlines(30),
            |_| async { exploding_work() },
        )
        .await
        .unwrap();
        assert_eq!(
            (report.verdict, report.reason.as_str()),
            (Verdict::Failed, "hook panicked: probe exploded")
        );
        assert_eq!(*codedeploy.reports.lock().unwrap(), vec![Verdict::Failed]);
    }

    #[tokio::test(start_paused = true)]
    async fn work_that_ignores_its_deadline_is_cut_off_and_reported_in_time() {
        let codedeploy = FakeCodeDeploy::new(Revision::Content(APPSPEC.into()));
        let deadlines = deadlines(10);
        let report = run_hook(
            &codedeploy,
            None::<&FakeTopic>,
            "hook",
            LifecycleEvent::BeforeAllowTraffic,
            event("d-1"),
            deadlines,
            |_| async {
                tokio::time::sleep(Duration::from_hours(1)).await;
                Judgement { verdict: Verdict::Succeeded, reason: String::new(), details: Seen { n: 0 } }
            },
        )
        .await
        .unwrap();
        assert_eq!(
            (report.verdict, report.reason.as_str()),
            (Verdict::Failed, "hook work unfinished at its deadline")
        );
        assert!(Instant::now() < deadlines.report_until);
    }

    #[tokio::test]
    async fn duplicate_invocations_end_as_already_completed() {
        let codedeploy = FakeCodeDeploy::new(Revision::Content(APPSPEC.into()));
        run_passing(&codedeploy, "d-1").await.unwrap();
        let second = run_passing(&codedeploy, "d-1").await.unwrap();
        assert_eq!(second.reported, Reported::AlreadyCompleted);
    }

    #[tokio::test]
    async fn an_undeliverable_verdict_is_an_error_naming_it() {
        let codedeploy = FakeCodeDeploy::new(Revision::Content(APPSPEC.into()));
        *codedeploy.report_failures.lock().unwrap() = 1;
        let error = run_passing(&codedeploy, "d-1").await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "verdict Succeeded for deployment d-1 could not be reported: Put failed: InternalFailure: down"
        );
        assert_eq!(Diagnostic::from(error).error_type, "VerdictUnreported");
    }

    /// Runs the passing `BeforeAllowTraffic` hook on d-1 publishing to `topic`.
    async fn run_publishing(codedeploy: &FakeCodeDeploy, topic: &FakeTopic) -> HookReport<Seen> {
        let (hook, serves) = ("hook", LifecycleEvent::BeforeAllowTraffic);
        run_hook(codedeploy, Some(topic), hook, serves, event("d-1"), deadlines(30), pass).await.unwrap()
    }

    #[tokio::test]
    async fn the_verdict_codedeploy_took_is_published_with_the_deployment() {
        let codedeploy = FakeCodeDeploy::new(Revision::Content(APPSPEC.into()));
        let topic = FakeTopic::Recording(Mutex::new(Vec::new()));
        let report = run_publishing(&codedeploy, &topic).await;
        assert_eq!((report.reported, report.verdict_published), (Reported::Accepted, Some(true)));
        assert_eq!(report.application.as_deref(), Some("app"));
        let FakeTopic::Recording(sent) = &topic else { unreachable!() };
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].subject, "lifeguard: Succeeded BeforeAllowTraffic for fn version 2");
        assert!(sent[0].attributes.contains(&("application", "app".to_owned())), "{:?}", sent[0].attributes);
        assert!(sent[0].text.contains("\nWhy: fine\n"), "{}", sent[0].text);
    }

    #[tokio::test(start_paused = true)]
    async fn a_topic_that_fails_or_hangs_never_holds_back_the_verdict() {
        for topic in [FakeTopic::Unreachable, FakeTopic::Hanging] {
            let codedeploy = FakeCodeDeploy::new(Revision::Content(APPSPEC.into()));
            let deadlines = deadlines(30);
            let report = run_publishing(&codedeploy, &topic).await;
            assert_eq!((report.reported, report.verdict_published), (Reported::Accepted, Some(false)));
            assert_eq!(*codedeploy.reports.lock().unwrap(), vec![Verdict::Succeeded]);
            assert!(Instant::now() <= deadlines.report_until);
        }
    }
}
