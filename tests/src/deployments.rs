//! CodeDeploy deployments: the AppSpec to seed one with, seeding application, group and
//! deployment, and reading back its hook executions and the statuses the hooks reported.

use crate::control::{as_list, encode};
use crate::local_aws::{ACCOUNT, LocalAws};
use crate::names::unique;
use aws_sdk_codedeploy::types::{
    Alarm, AlarmConfiguration, AppSpecContent, AutoRollbackConfiguration, AutoRollbackEvent, ComputePlatform,
    DeploymentOption, DeploymentStyle, DeploymentType, RevisionLocation, RevisionLocationType,
};
use lifeguard_common::time::Timestamp;
use lifeguard_hooks::deployment::LifecycleEvent;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// Target of the hook-report fault that tests inject.
pub const REPORT_TARGET: &str = "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus";

/// How the AppSpec is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppSpecFormat {
    /// As SAM writes it.
    Json,
    /// As a person might.
    Yaml,
}

/// How the deployment carries its AppSpec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionForm {
    /// `AppSpecContent`: `GetDeployment` returns only its sha256 (what SAM deployments use).
    AppSpecContent,
    /// `String`: `GetDeployment` returns the text.
    String,
}

impl RevisionForm {
    fn location(self, appspec: &str) -> RevisionLocation {
        match self {
            Self::AppSpecContent => RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(AppSpecContent::builder().content(appspec).build())
                .build(),
            // Deprecated by AWS but still accepted and returned whole: the hook must handle it.
            #[allow(deprecated)]
            Self::String => RevisionLocation::builder()
                .revision_type(RevisionLocationType::String)
                .string(aws_sdk_codedeploy::types::RawString::builder().content(appspec).build())
                .build(),
        }
    }
}

/// The deployment to seed: what its AppSpec says.
#[derive(Debug, Clone)]
pub struct DeploymentSpec {
    /// The CodeDeploy application to create the deployment in (unique per spec), known before
    /// seeding so that the hooks' roles can be bound to it.
    pub application: String,
    /// Resource key in the AppSpec (SAM uses the logical id).
    pub resource: String,
    /// `Properties.Name`.
    pub function: String,
    /// `Properties.Alias`.
    pub alias: String,
    /// `Properties.CurrentVersion`, when there is one.
    pub current_version: Option<String>,
    /// `Properties.TargetVersion`; `None` leaves it out (a broken AppSpec).
    pub target_version: Option<String>,
    /// The AppSpec's `Hooks`: lifecycle event and hook function, in order. The first one's
    /// execution id is [`SeededDeployment::execution_id`].
    pub hooks: Vec<(LifecycleEvent, String)>,
    /// Alarms of the deployment group's (enabled) alarm configuration.
    pub group_alarms: Vec<String>,
    /// JSON or YAML.
    pub format: AppSpecFormat,
    /// How the revision is carried.
    pub revision: RevisionForm,
}

impl DeploymentSpec {
    /// A SAM-like deployment of `function` from `current` to `target` with `BeforeAllowTraffic`
    /// hook `hook`: JSON AppSpec, `AppSpecContent` revision, alias `live`, no group alarms.
    pub fn new(function: &str, current: Option<&str>, target: &str, hook: &str) -> Self {
        Self {
            application: unique("app"),
            resource: "LoyaltyFunction".into(),
            function: function.into(),
            alias: "live".into(),
            current_version: current.map(str::to_owned),
            target_version: Some(target.into()),
            hooks: vec![(LifecycleEvent::BeforeAllowTraffic, hook.into())],
            group_alarms: Vec::new(),
            format: AppSpecFormat::Json,
            revision: RevisionForm::AppSpecContent,
        }
    }

    /// Like [`DeploymentSpec::new`], with `hook` as the `AfterAllowTraffic` hook only.
    pub fn post_traffic(function: &str, current: Option<&str>, target: &str, hook: &str) -> Self {
        Self {
            hooks: vec![(LifecycleEvent::AfterAllowTraffic, hook.into())],
            ..Self::new(function, current, target, hook)
        }
    }

    /// The AppSpec text.
    pub fn appspec(&self) -> String {
        match self.format {
            AppSpecFormat::Json => {
                let mut properties = json!({"Name": self.function, "Alias": self.alias, "CurrentVersion": self.current_version});
                if let Some(target) = &self.target_version {
                    properties["TargetVersion"] = json!(target);
                }
                if self.current_version.is_none() {
                    properties.as_object_mut().expect("an object").remove("CurrentVersion");
                }
                let hooks: Vec<Value> =
                    self.hooks.iter().map(|(event, hook)| json!({event.to_string(): hook})).collect();
                json!({
                    "version": 0.0,
                    "Resources": [{self.resource.as_str(): {"Type": "AWS::Lambda::Function", "Properties": properties}}],
                    "Hooks": hooks,
                })
                .to_string()
            }
            AppSpecFormat::Yaml => {
                let mut text = format!(
                    "version: 0.0\nResources:\n  - {}:\n      Type: AWS::Lambda::Function\n      Properties:\n        Name: {}\n        Alias: {}\n",
                    self.resource, self.function, self.alias
                );
                if let Some(current) = &self.current_version {
                    writeln!(text, "        CurrentVersion: \"{current}\"").expect("writing to a String");
                }
                if let Some(target) = &self.target_version {
                    writeln!(text, "        TargetVersion: \"{target}\"").expect("writing to a String");
                }
                text.push_str("Hooks:\n");
                for (event, hook) in &self.hooks {
                    writeln!(text, "  - {event}: {hook}").expect("writing to a String");
                }
                text
            }
        }
    }
}

/// A seeded deployment.
#[derive(Debug, Clone)]
pub struct SeededDeployment {
    /// CodeDeploy application.
    pub application: String,
    /// Deployment group.
    pub group: String,
    /// `DeploymentId`.
    pub deployment_id: String,
    /// The `LifecycleEventHookExecutionId` of the spec's first hook.
    pub execution_id: String,
    /// Every hook's execution id, by lifecycle event, in the spec's order.
    pub executions: Vec<(LifecycleEvent, String)>,
    /// The AppSpec text it was created with.
    pub appspec: String,
    /// `createTime` as `GetDeployment` returns it.
    pub create_time: Timestamp,
}

impl SeededDeployment {
    /// The event CodeDeploy would send the spec's first hook.
    pub fn event(&self) -> Value {
        json!({"DeploymentId": self.deployment_id, "LifecycleEventHookExecutionId": self.execution_id})
    }

    /// The `LifecycleEventHookExecutionId` of the hook of `event`.
    pub fn execution_id_for(&self, event: LifecycleEvent) -> &str {
        self.executions
            .iter()
            .find(|(e, _)| *e == event)
            .map_or_else(|| panic!("the deployment has no {event} hook"), |(_, id)| id.as_str())
    }

    /// The event CodeDeploy would send the hook of `event`.
    pub fn event_for(&self, event: LifecycleEvent) -> Value {
        json!({"DeploymentId": self.deployment_id, "LifecycleEventHookExecutionId": self.execution_id_for(event)})
    }
}

impl LocalAws {
    /// Creates a CodeDeploy Lambda application, deployment group (with an enabled alarm
    /// configuration when `spec.group_alarms` names any) and deployment of `spec`'s AppSpec, and
    /// reads back the hook execution ids from the launcher and the creation time from CodeDeploy.
    pub async fn seed_deployment(&self, spec: &DeploymentSpec) -> SeededDeployment {
        let application = spec.application.clone();
        // One deployment group per function, named after its logical id, as SAM creates them.
        let group = format!("{}DeploymentGroup", spec.resource);
        // A second deployment of the same application reuses its application, and of the same
        // function its group.
        let created = self
            .codedeploy
            .create_application()
            .application_name(&application)
            .compute_platform(ComputePlatform::Lambda)
            .send()
            .await;
        let reused = match created {
            Ok(_) => false,
            Err(e) if e.as_service_error().is_some_and(aws_sdk_codedeploy::operation::create_application::CreateApplicationError::is_application_already_exists_exception) => {
                true
            }
            Err(e) => panic!("CreateApplication {application}: {e:?}"),
        };
        let group_exists = reused
            && self
                .codedeploy
                .get_deployment_group()
                .application_name(&application)
                .deployment_group_name(&group)
                .send()
                .await
                .is_ok();
        if !group_exists {
            self.create_deployment_group(&application, &group, spec).await;
        }
        let appspec = spec.appspec();
        let created = self
            .codedeploy
            .create_deployment()
            .application_name(&application)
            .deployment_group_name(&group)
            .revision(spec.revision.location(&appspec))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDeployment {application}: {e:?}"));
        let deployment_id = created.deployment_id().expect("a deployment id").to_owned();
        let events = self.lifecycle_events(&deployment_id);
        let executions: Vec<(LifecycleEvent, String)> = spec
            .hooks
            .iter()
            .map(|(event, _)| {
                let id = events
                    .iter()
                    .find(|e| e["lifecycleEvent"] == event.to_string())
                    .and_then(|e| e["lifecycleEventHookExecutionId"].as_str())
                    .unwrap_or_else(|| panic!("no {event} hook execution in {events:?}"));
                (*event, id.to_owned())
            })
            .collect();
        let execution_id = executions.first().map(|(_, id)| id.clone()).unwrap_or_default();
        let info = self
            .codedeploy
            .get_deployment()
            .deployment_id(&deployment_id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetDeployment {deployment_id}: {e:?}"));
        let create_time = info
            .deployment_info()
            .and_then(|info| info.create_time())
            .and_then(|time| time.to_millis().ok())
            .map_or_else(
                || panic!("GetDeployment {deployment_id} gave no createTime"),
                Timestamp::from_unix_millis,
            );
        SeededDeployment { application, group, deployment_id, execution_id, executions, appspec, create_time }
    }

    /// Creates deployment group `group` of `application` with the alarms of `spec`.
    async fn create_deployment_group(&self, application: &str, group: &str, spec: &DeploymentSpec) {
        let alarms = (!spec.group_alarms.is_empty()).then(|| {
            let alarms = spec.group_alarms.iter().map(|name| Alarm::builder().name(name).build());
            AlarmConfiguration::builder().enabled(true).set_alarms(Some(alarms.collect())).build()
        });
        self.codedeploy
            .create_deployment_group()
            .application_name(application)
            .deployment_group_name(group)
            .service_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/codedeploy"))
            .deployment_config_name("CodeDeployDefault.LambdaAllAtOnce")
            .deployment_style(
                DeploymentStyle::builder()
                    .deployment_type(DeploymentType::BlueGreen)
                    .deployment_option(DeploymentOption::WithTrafficControl)
                    .build(),
            )
            .set_alarm_configuration(alarms)
            // As SAM configures a DeploymentPreference's group.
            .auto_rollback_configuration(
                AutoRollbackConfiguration::builder()
                    .enabled(true)
                    .events(AutoRollbackEvent::DeploymentFailure)
                    .events(AutoRollbackEvent::DeploymentStopOnAlarm)
                    .events(AutoRollbackEvent::DeploymentStopOnRequest)
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDeploymentGroup {application}: {e:?}"));
    }

    /// The deployment group's alarm names as `GetDeploymentGroup` returns them (the hook reads
    /// them this way).
    pub async fn deployment_group_alarms(&self, deployment: &SeededDeployment) -> Vec<String> {
        let info = self
            .codedeploy
            .get_deployment_group()
            .application_name(&deployment.application)
            .deployment_group_name(&deployment.group)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetDeploymentGroup {}: {e:?}", deployment.application));
        let config = info.deployment_group_info().and_then(|i| i.alarm_configuration());
        config
            .map(|c| c.alarms().iter().filter_map(|a| a.name().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// Moves the deployment's creation `by` into the past, so a test can replay minutes already
    /// gone (metrics put at those minutes, alarms evaluated now).
    pub fn backdate(&self, deployment: &mut SeededDeployment, by: std::time::Duration) {
        deployment.create_time = deployment.create_time.minus(by);
        let body = json!({"deploymentId": deployment.deployment_id, "createTime": deployment.create_time.to_string()});
        self.control("POST", "/_lifeguard/codedeploy/create-time", Some(&body));
    }

    /// One traffic-shifting step of the deployment to `percent` %, after CodeDeploy's check of
    /// the group's alarms: `{"status", "alarms" (in ALARM), "percent" (null when not shifted)}`.
    pub fn shift(&self, deployment_id: &str, percent: u32) -> Value {
        let body = json!({"deploymentId": deployment_id, "percent": percent});
        self.control("POST", "/_lifeguard/codedeploy/shift", Some(&body))
    }

    /// The hook executions CodeDeploy created for a deployment, with their statuses.
    pub fn lifecycle_events(&self, deployment_id: &str) -> Vec<Value> {
        let path = format!("/_lifeguard/codedeploy/lifecycle-events?deploymentId={}", encode(deployment_id));
        as_list(self.control("GET", &path, None))
    }

    /// Every `PutLifecycleEventHookExecutionStatus` call made for a deployment, in order, accepted
    /// or not (`status`, `accepted`, `error`, `lifecycleEventHookExecutionId`).
    pub fn hook_reports(&self, deployment_id: &str) -> Vec<Value> {
        let path = format!("/_lifeguard/codedeploy/hook-reports?deploymentId={}", encode(deployment_id));
        as_list(self.control("GET", &path, None))
    }

    /// The statuses CodeDeploy accepted for a deployment, in order.
    pub fn accepted_statuses(&self, deployment_id: &str) -> Vec<String> {
        self.hook_reports(deployment_id)
            .iter()
            .filter(|r| r["accepted"] == true)
            .map(|r| r["status"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Exactly one status was accepted for the deployment, and it is `expected`; a run that
    /// failed never even tried to report `Succeeded`.
    pub fn assert_reported_once(&self, deployment_id: &str, expected: &str) {
        let reports = self.hook_reports(deployment_id);
        assert_eq!(self.accepted_statuses(deployment_id), [expected], "reports: {reports:?}");
        if expected == "Failed" {
            assert!(reports.iter().all(|r| r["status"] != "Succeeded"), "{reports:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appspecs_parse_as_the_hook_reads_them() {
        let mut spec = DeploymentSpec::new("fn", Some("1"), "2", "hook");
        for format in [AppSpecFormat::Json, AppSpecFormat::Yaml] {
            spec.format = format;
            let target = lifeguard_hooks::deployment::parse_appspec(&spec.appspec()).unwrap();
            assert_eq!(
                (
                    target.function_name.as_str(),
                    target.current_version.as_deref(),
                    target.target_version.as_str()
                ),
                ("fn", Some("1"), "2")
            );
            assert!(target.event_served_by("hook").is_some());
        }
    }

    #[test]
    fn post_traffic_appspecs_name_the_hook_for_after_allow_traffic() {
        let mut spec = DeploymentSpec::post_traffic("fn", Some("1"), "2", "post");
        spec.hooks.insert(0, (LifecycleEvent::BeforeAllowTraffic, "pre".into()));
        for format in [AppSpecFormat::Json, AppSpecFormat::Yaml] {
            spec.format = format;
            let target = lifeguard_hooks::deployment::parse_appspec(&spec.appspec()).unwrap();
            assert_eq!(target.event_served_by("post"), Some(LifecycleEvent::AfterAllowTraffic));
            assert_eq!(target.event_served_by("pre"), Some(LifecycleEvent::BeforeAllowTraffic));
        }
    }
}
