//! CloudFormation stacks for the reaper to sweep (templates, seeding, scripted states and delete
//! failures, read-back), and the scheduled event that starts a sweep.

use crate::files::repo_root;
use crate::local_aws::LocalAws;
use serde_json::{Value, json};

/// `events/reaper.json` (an EventBridge scheduled event) with its `time` set to `at`.
pub fn scheduled_event(at: lifeguard_reaper::Timestamp) -> Value {
    let path = repo_root().join("events/reaper.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut event: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    event["time"] = json!(at.to_string());
    event
}

/// A reaper invocation starting now with Lambda's longest timeout, 15 minutes, under a fresh
/// run id.
pub fn reaper_invocation() -> lifeguard_reaper::Invocation {
    lifeguard_reaper::Invocation::starting_now(crate::unique("run"), std::time::Duration::from_mins(15))
}

/// A tiny template CloudFormation (and moto) can create: one `WaitConditionHandle`, plus an
/// output exporting each of `exports` and an output importing each of `imports`.
pub fn stack_template(exports: &[&str], imports: &[&str]) -> String {
    let mut outputs = serde_json::Map::new();
    for (i, name) in exports.iter().enumerate() {
        outputs.insert(
            format!("Exported{i}"),
            json!({"Value": format!("value of {name}"), "Export": {"Name": name}}),
        );
    }
    for (i, name) in imports.iter().enumerate() {
        outputs.insert(format!("Imported{i}"), json!({"Value": {"Fn::ImportValue": name}}));
    }
    let mut template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}
    });
    if !outputs.is_empty() {
        template["Outputs"] = Value::Object(outputs);
    }
    template.to_string()
}

impl LocalAws {
    /// Creates a stack from `template` (see [`stack_template`]) and returns its id; panics
    /// unless it is `CREATE_COMPLETE` (moto creates stacks synchronously).
    pub async fn create_stack(
        &self,
        name: &str,
        template: &str,
        tags: &[(&str, &str)],
        protected: bool,
    ) -> String {
        let mut create = self
            .cloudformation
            .create_stack()
            .stack_name(name)
            .template_body(template)
            .enable_termination_protection(protected);
        for (key, value) in tags {
            create =
                create.tags(aws_sdk_cloudformation::types::Tag::builder().key(*key).value(*value).build());
        }
        let created = create.send().await.unwrap_or_else(|e| panic!("CreateStack {name}: {e:?}"));
        let id = created.stack_id().expect("CreateStack gives the stack id").to_owned();
        let described = self
            .cloudformation
            .describe_stacks()
            .stack_name(&id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeStacks {name}: {e:?}"));
        let status = described.stacks()[0].stack_status().map(|s| s.as_str().to_owned());
        assert_eq!(status.as_deref(), Some("CREATE_COMPLETE"), "stack {name}");
        id
    }

    /// Makes the next `DeleteStack` of `stack` (name or id) leave it `DELETE_FAILED` with `reason`.
    pub fn script_delete_failure(&self, stack: &str, reason: &str) {
        self.control(
            "POST",
            "/_lifeguard/cloudformation/delete-failures",
            Some(&json!({"stackName": stack, "reason": reason})),
        );
    }

    /// Sets a live stack's (name or id) `StackStatus` and/or `ParentId` (a stack's name or id,
    /// stored as its id; `RootId` follows: the parent's root, else the parent), as `DescribeStacks`
    /// then shows them; `None` leaves that one unchanged. Panics if there is no such stack.
    pub fn set_stack_state(&self, stack: &str, status: Option<&str>, parent_id: Option<&str>) {
        let mut body = json!({"stackName": stack, "region": self.region()});
        if let Some(status) = status {
            body["status"] = json!(status);
        }
        if let Some(parent_id) = parent_id {
            body["parentId"] = json!(parent_id);
        }
        self.control("POST", "/_lifeguard/cloudformation/stack-state", Some(&body));
    }

    /// Sets the `ResourceStatus` `ListStackResources` shows for resource `logical_id` of `stack`,
    /// e.g. `IMPORT_COMPLETE` for a resource an import brought in.
    pub fn set_resource_status(&self, stack: &str, logical_id: &str, status: &str) {
        let body =
            json!({"stackName": stack, "region": self.region(), "resourceStatuses": {logical_id: status}});
        self.control("POST", "/_lifeguard/cloudformation/stack-state", Some(&body));
    }

    /// Names of the live stacks of this connection's region (every page).
    pub async fn stack_names(&self) -> std::collections::BTreeSet<String> {
        let mut pages = self.cloudformation.describe_stacks().into_paginator().send();
        let mut names = std::collections::BTreeSet::new();
        while let Some(page) = pages.next().await {
            let page = page.unwrap_or_else(|e| panic!("DescribeStacks: {e:?}"));
            names.extend(page.stacks().iter().filter_map(|s| s.stack_name().map(str::to_owned)));
        }
        names
    }

    async fn stack(&self, name: &str) -> Option<aws_sdk_cloudformation::types::Stack> {
        match self.cloudformation.describe_stacks().stack_name(name).send().await {
            Ok(output) => output.stacks().first().cloned(),
            Err(e) if format!("{e:?}").contains("does not exist") => None,
            Err(e) => panic!("DescribeStacks {name}: {e:?}"),
        }
    }

    /// A live stack's status, `None` when there is no such stack.
    pub async fn stack_status(&self, name: &str) -> Option<String> {
        self.stack(name).await.and_then(|s| s.stack_status().map(|s| s.as_str().to_owned()))
    }

    /// One tag of a live stack.
    pub async fn stack_tag(&self, name: &str, key: &str) -> Option<String> {
        let stack = self.stack(name).await.unwrap_or_else(|| panic!("no stack {name}"));
        stack.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value().map(str::to_owned))
    }

    /// Replaces a stack's tags, as an owner does with `sam deploy --tags` (an `UpdateStack`).
    pub async fn set_stack_tags(&self, name: &str, tags: &[(&str, &str)]) {
        let tags = tags
            .iter()
            .map(|(k, v)| aws_sdk_cloudformation::types::Tag::builder().key(*k).value(*v).build())
            .collect();
        self.cloudformation
            .update_stack()
            .stack_name(name)
            .use_previous_template(true)
            .set_tags(Some(tags))
            .send()
            .await
            .unwrap_or_else(|e| panic!("UpdateStack {name}: {e:?}"));
    }
}
