//! CodeDeploy adapter: target discovery, verdict reporting, and the deployments in progress.

use crate::deployment::{Deployment, Revision};
use crate::hook::{CodeDeploy, DeploymentAlarms, Reported, Verdict};
use crate::in_flight::InProgressDeployments;
use aws_sdk_codedeploy::types::{
    AppSpecContent, DeploymentStatus, LifecycleEventStatus, RevisionLocation, RevisionLocationType,
};
use lifeguard_common::AwsError;
use lifeguard_common::aws_error;
use lifeguard_common::time::Timestamp;

/// CodeDeploy through the SDK, with the shared configuration's retries and timeouts.
#[derive(Debug, Clone)]
pub struct CodeDeployClient {
    client: aws_sdk_codedeploy::Client,
}

impl CodeDeployClient {
    /// Builds the client from the shared SDK configuration.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self { client: aws_sdk_codedeploy::Client::new(sdk) }
    }
}

/// The AppSpec text in a revision, when it carries it.
fn appspec_text(revision: &RevisionLocation) -> Option<&str> {
    match revision.revision_type()? {
        RevisionLocationType::AppSpecContent => revision.app_spec_content()?.content(),
        RevisionLocationType::String => revision.string()?.content(),
        _ => None,
    }
}

impl CodeDeploy for CodeDeployClient {
    async fn deployment(&self, deployment_id: &str) -> Result<Deployment, AwsError> {
        const OP: &str = "GetDeployment";
        let output = self
            .client
            .get_deployment()
            .deployment_id(deployment_id)
            .send()
            .await
            .map_err(|e| aws_error(OP, e))?;
        let malformed = |message: &str| AwsError {
            operation: OP,
            code: "MalformedResponse".into(),
            message: message.into(),
        };
        let info = output.deployment_info().ok_or_else(|| malformed("no deploymentInfo"))?;
        let application_name =
            info.application_name().ok_or_else(|| malformed("no applicationName"))?.to_owned();
        let location = info.revision().ok_or_else(|| malformed("no revision"))?;
        let revision = match (appspec_text(location), location.app_spec_content().and_then(|c| c.sha256())) {
            (Some(text), _) => Revision::Content(text.to_owned()),
            (None, Some(sha256)) => Revision::Sha256(sha256.to_owned()),
            (None, None) => {
                let kind = location.revision_type().map_or("unknown", |t| t.as_str());
                return Err(malformed(&format!(
                    "revision of type {kind} carries no AppSpec content or sha256"
                )));
            }
        };
        Ok(Deployment {
            application_name,
            deployment_group: info.deployment_group_name().map(str::to_owned),
            revision,
            create_time: info.create_time().and_then(|t| t.to_millis().ok()).map(Timestamp::from_unix_millis),
        })
    }

    async fn appspec(&self, application: &str, sha256: &str) -> Result<String, AwsError> {
        const OP: &str = "GetApplicationRevision";
        let revision = RevisionLocation::builder()
            .revision_type(RevisionLocationType::AppSpecContent)
            .app_spec_content(AppSpecContent::builder().sha256(sha256).build())
            .build();
        let output = self
            .client
            .get_application_revision()
            .application_name(application)
            .revision(revision)
            .send()
            .await
            .map_err(|e| aws_error(OP, e))?;
        output.revision().and_then(appspec_text).map(str::to_owned).ok_or_else(|| AwsError {
            operation: OP,
            code: "MalformedResponse".into(),
            message: format!("revision {sha256} of {application} came back without AppSpec content"),
        })
    }

    async fn report(
        &self,
        deployment_id: &str,
        execution_id: &str,
        verdict: Verdict,
    ) -> Result<Reported, AwsError> {
        let status = match verdict {
            Verdict::Succeeded => LifecycleEventStatus::Succeeded,
            Verdict::Failed => LifecycleEventStatus::Failed,
        };
        let sent = self
            .client
            .put_lifecycle_event_hook_execution_status()
            .deployment_id(deployment_id)
            .lifecycle_event_hook_execution_id(execution_id)
            .status(status)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Reported::Accepted),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(aws_sdk_codedeploy::operation::put_lifecycle_event_hook_execution_status::PutLifecycleEventHookExecutionStatusError::is_lifecycle_event_already_completed_exception) =>
            {
                Ok(Reported::AlreadyCompleted)
            }
            Err(error) => Err(aws_error("PutLifecycleEventHookExecutionStatus", error)),
        }
    }
}

impl DeploymentAlarms for CodeDeployClient {
    async fn deployment_group_alarms(&self, application: &str, group: &str) -> Result<Vec<String>, AwsError> {
        let output = self
            .client
            .get_deployment_group()
            .application_name(application)
            .deployment_group_name(group)
            .send()
            .await
            .map_err(|e| aws_error("GetDeploymentGroup", e))?;
        let alarms = output
            .deployment_group_info()
            .and_then(|info| info.alarm_configuration())
            .filter(|config| config.enabled())
            .map(|config| config.alarms().iter().filter_map(|a| a.name().map(str::to_owned)).collect())
            .unwrap_or_default();
        Ok(alarms)
    }
}

impl InProgressDeployments for CodeDeployClient {
    async fn in_progress(&self, application: &str) -> Result<Vec<String>, AwsError> {
        // ListDeployments takes an application only together with one of its deployment groups.
        let mut groups = Vec::new();
        let mut pages =
            self.client.list_deployment_groups().application_name(application).into_paginator().send();
        while let Some(page) = pages.next().await {
            groups
                .extend(page.map_err(|e| aws_error("ListDeploymentGroups", e))?.deployment_groups().to_vec());
        }
        let mut ids = Vec::new();
        for group in groups {
            let mut pages = self
                .client
                .list_deployments()
                .application_name(application)
                .deployment_group_name(group)
                .include_only_statuses(DeploymentStatus::InProgress)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                ids.extend(page.map_err(|e| aws_error("ListDeployments", e))?.deployments().to_vec());
            }
        }
        Ok(ids)
    }
}
