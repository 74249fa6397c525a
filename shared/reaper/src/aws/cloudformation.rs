//! CloudFormation adapter: the reaper's view of the stacks, and deleting them.

use crate::plan::{StackInfo, StackResource};
use crate::ports::Stacks;
use aws_sdk_cloudformation::types::Stack;
use futures::{StreamExt, stream};
use lifeguard_common::AwsError;
use lifeguard_common::aws_error;
use lifeguard_common::time::Timestamp;

/// Most exports of one stack looked up at once.
const IMPORT_LOOKUPS_IN_FLIGHT: usize = 4;

/// CloudFormation through the SDK, with the shared configuration's retries and timeouts.
#[derive(Debug, Clone)]
pub struct CloudFormationClient {
    client: aws_sdk_cloudformation::Client,
}

impl CloudFormationClient {
    /// Builds the client from the shared SDK configuration.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self { client: aws_sdk_cloudformation::Client::new(sdk) }
    }

    /// Whether any stack imports the export: only CloudFormation's "is not imported by any
    /// stack" answer rules it out; any other error counts as in use.
    async fn imported(&self, export_name: &str) -> bool {
        match self.client.list_imports().export_name(export_name).send().await {
            Ok(output) => !output.imports().is_empty(),
            Err(error) => {
                let error = aws_error("ListImports", error);
                let free =
                    error.code == "ValidationError" && error.message.contains("is not imported by any stack");
                if !free {
                    tracing::warn!(export = export_name, %error, "cannot tell whether the export is in use; counting it as in use");
                }
                !free
            }
        }
    }

    /// Whether any of the exports is imported, looking them up a few at a time.
    async fn any_imported(&self, exports: &[String]) -> bool {
        // Owned names: a closure over borrowed ones makes the future not `Send` (rustc #100013).
        let mut lookups = stream::iter(exports.to_vec())
            .map(|export| async move { self.imported(&export).await })
            .buffer_unordered(IMPORT_LOOKUPS_IN_FLIGHT);
        while let Some(imported) = lookups.next().await {
            if imported {
                return true;
            }
        }
        false
    }
}

/// A stack as the planner sees it, before its exports and resources are looked up:
/// `exports_in_use` holds whether it has any (not ruled out), `resources` is unknown.
fn stack_info(stack: &Stack) -> StackInfo {
    let exports: Vec<String> =
        stack.outputs().iter().filter_map(|o| o.export_name()).map(str::to_owned).collect();
    StackInfo {
        name: stack.stack_name().unwrap_or_default().to_owned(),
        id: stack.stack_id().unwrap_or_default().to_owned(),
        status: stack.stack_status().map_or("UNKNOWN", |s| s.as_str()).to_owned(),
        created: stack.creation_time().map(|t| Timestamp::from_unix_seconds(t.secs())),
        last_updated: stack.last_updated_time().map(|t| Timestamp::from_unix_seconds(t.secs())),
        parent_id: stack.parent_id().map(str::to_owned),
        service_role: stack.role_arn().map(str::to_owned),
        termination_protection: stack.enable_termination_protection(),
        tags: stack
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect(),
        exports_in_use: !exports.is_empty(),
        exports,
        resources: None,
    }
}

impl Stacks for CloudFormationClient {
    async fn list(&self) -> Result<Vec<StackInfo>, AwsError> {
        let mut pages = self.client.describe_stacks().into_paginator().send();
        let mut stacks = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("DescribeStacks", e))?;
            stacks.extend(page.stacks().iter().map(stack_info));
        }
        Ok(stacks)
    }

    async fn describe(&self, name: &str) -> Result<Option<StackInfo>, AwsError> {
        let output = match self.client.describe_stacks().stack_name(name).send().await {
            Ok(output) => output,
            Err(error) => {
                let error = aws_error("DescribeStacks", error);
                if error.code == "ValidationError" && error.message.contains("does not exist") {
                    return Ok(None);
                }
                return Err(error);
            }
        };
        let Some(stack) = output.stacks().first() else { return Ok(None) };
        let mut info = stack_info(stack);
        info.exports_in_use = self.any_imported(&info.exports).await;
        info.resources = Some(self.resources(&info.id).await?);
        Ok(Some(info))
    }

    async fn resources(&self, stack_id: &str) -> Result<Vec<StackResource>, AwsError> {
        let mut pages = self.client.list_stack_resources().stack_name(stack_id).into_paginator().send();
        let mut resources = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("ListStackResources", e))?;
            resources.extend(page.stack_resource_summaries().iter().map(|r| StackResource {
                logical_id: r.logical_resource_id().unwrap_or_default().to_owned(),
                resource_type: r.resource_type().unwrap_or_default().to_owned(),
                status: r.resource_status().map_or("UNKNOWN", |s| s.as_str()).to_owned(),
            }));
        }
        Ok(resources)
    }

    async fn delete(&self, stack_id: &str) -> Result<(), AwsError> {
        self.client
            .delete_stack()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| aws_error("DeleteStack", e))?;
        Ok(())
    }
}
