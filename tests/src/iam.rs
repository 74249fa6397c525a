//! Credentials bound to exactly the policies a function's role gets when its template is
//! deployed: the local AWS transforms the template (aws-sam-translator), resolves the role's
//! policies for the test's parameters and resources, and authorizes every request signed with
//! the principal's access key against them, answering `AccessDenied` in each service's own shape
//! (see `localaws/`). Seeding keeps the unrestricted default credentials.

use crate::{ACCOUNT, LocalAws, unique};
use aws_sdk_lambda::config::{Credentials, SharedCredentialsProvider};
use lifeguard_reaper::{Mode, ReaperConfig};
use serde_json::{Value, json};

/// The hooks application's template.
pub const HOOKS_TEMPLATE: &str = "applications/hooks/template.yaml";
/// The reaper application's template.
pub const REAPER_TEMPLATE: &str = "applications/reaper/template.yaml";

/// The stack the tests' guarded functions belong to: seeded functions carry it as the
/// `aws:cloudformation:stack-name` tag CloudFormation gives every resource it creates, and the
/// hooks are deployed with it as `GuardedStackName`.
pub const GUARDED_STACK: &str = "lifeguard-tests-app";

/// Tag CloudFormation puts on every resource it creates, naming its stack.
pub const STACK_NAME_TAG: &str = "aws:cloudformation:stack-name";

/// One role of one template, with the values its policies are resolved for.
#[derive(Debug, Clone)]
pub struct RoleBinding {
    /// Template path, relative to the repository root.
    pub template: &'static str,
    /// Logical id of the function whose role it is, or of the role itself (see
    /// [`RoleBinding::codedeploy`]).
    pub function: &'static str,
    /// Whether `function` names the role itself rather than a function.
    pub is_role: bool,
    /// Template parameters.
    pub parameters: Value,
    /// Physical ids (`Ref`) of the template's resources the policies name.
    pub resources: Value,
    /// Attributes (`Fn::GetAtt`, as `LogicalId.Attribute`) the policies name.
    pub attributes: Value,
    /// The stack the template is deployed as.
    pub stack_name: String,
    /// Its `AWS::StackId`, when the policies name it.
    pub stack_id: Option<String>,
}

/// A log group ARN as `Fn::GetAtt LogGroup.Arn` gives it.
fn log_group_arn(region: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{ACCOUNT}:log-group:{name}:*")
}

impl RoleBinding {
    /// A hook of the hooks application deployed for CodeDeploy application `application`,
    /// guarding [`GUARDED_STACK`]; `function` is `PreTrafficHook` or `PostTrafficHook`.
    pub fn hook(function: &'static str, application: &str, region: &str) -> Self {
        let stack_name = format!("{GUARDED_STACK}-LifeguardHooks-TESTS");
        let log_group = format!("{function}LogGroup");
        let suffix = match function {
            "PreTrafficHook" => "pre-traffic",
            "PostTrafficHook" => "post-traffic",
            _ => "canary-judge",
        };
        Self {
            template: HOOKS_TEMPLATE,
            function,
            is_role: false,
            parameters: json!({
                "CodeDeployApplication": application,
                "GuardedStackName": GUARDED_STACK,
                "ChecksLayerArn": format!("arn:aws:lambda:{region}:{ACCOUNT}:layer:{GUARDED_STACK}-checks:1"),
            }),
            resources: json!({}),
            attributes: json!({
                format!("{log_group}.Arn"): log_group_arn(region, &format!("/aws/lambda/{stack_name}-{suffix}")),
            }),
            stack_name,
            stack_id: None,
        }
    }

    /// This binding with the hooks application's `VerdictTopicArn` set to `topic_arn`.
    pub fn publishing_verdicts_to(mut self, topic_arn: &str) -> Self {
        self.parameters["VerdictTopicArn"] = json!(topic_arn);
        self
    }

    /// The hooks application's CodeDeploy role (`DeploymentPreference.Role`), with the hooks'
    /// ARNs as `pre_hook_arn` and `post_hook_arn`.
    pub fn codedeploy(application: &str, region: &str, pre_hook_arn: &str, post_hook_arn: &str) -> Self {
        Self {
            function: "CodeDeployRole",
            is_role: true,
            attributes: json!({"PreTrafficHook.Arn": pre_hook_arn, "PostTrafficHook.Arn": post_hook_arn}),
            ..Self::hook("PreTrafficHook", application, region)
        }
    }

    /// The pre-traffic hook's role (see [`RoleBinding::hook`]).
    pub fn pre_traffic_hook(application: &str, region: &str) -> Self {
        Self::hook("PreTrafficHook", application, region)
    }

    /// The post-traffic hook's role (see [`RoleBinding::hook`]).
    pub fn post_traffic_hook(application: &str, region: &str) -> Self {
        Self::hook("PostTrafficHook", application, region)
    }

    /// The in-flight judge's role (see [`RoleBinding::hook`]).
    pub fn canary_judge(application: &str, region: &str) -> Self {
        Self::hook("CanaryJudge", application, region)
    }

    /// The reaper application's function role, deployed as stack `own_stack_id` (its
    /// `AWS::StackId`) with marks table `table` and topic `topic_arn`; `parameters` adds to or
    /// overrides the template's defaults.
    pub fn reaper(own_stack_id: &str, table: &str, topic_arn: &str, region: &str, parameters: Value) -> Self {
        let stack_name = own_stack_id.split('/').nth(1).unwrap_or("lifeguard-reaper").to_owned();
        Self {
            template: REAPER_TEMPLATE,
            function: "ReaperFunction",
            is_role: false,
            parameters,
            resources: json!({"ReaperMarksTable": table, "ReaperTopic": topic_arn}),
            attributes: json!({
                "ReaperMarksTable.Arn": format!("arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}"),
                "ReaperLogGroup.Arn": log_group_arn(region, &format!("/aws/lambda/{stack_name}-reaper")),
                "ReaperFailedRuns.Arn": format!("arn:aws:sqs:{region}:{ACCOUNT}:{stack_name}-ReaperFailedRuns-A1B2C3"),
            }),
            stack_name,
            stack_id: Some(own_stack_id.to_owned()),
        }
    }
}

/// One policy a role gets: its name and document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The policy's name in the template.
    pub name: String,
    /// The resolved policy document.
    pub document: Value,
}

impl Policy {
    /// The statement ids of the policy's `Allow` statements.
    pub fn allow_sids(&self) -> Vec<String> {
        self.statements()
            .filter(|s| s["Effect"] == "Allow")
            .map(|s| s["Sid"].as_str().unwrap_or_else(|| panic!("a statement without Sid in {}", self.name)))
            .map(str::to_owned)
            .collect()
    }

    fn statements(&self) -> impl Iterator<Item = &Value> {
        self.document["Statement"].as_array().into_iter().flatten()
    }
}

/// `AccessDenied`'s message, as AWS words it when no statement of `principal`'s policies allows
/// `action` on `resource`.
pub fn principal_denied(principal: &Principal, action: &str, resource: &str) -> String {
    format!(
        "User: {} is not authorized to perform: {action} on resource: {resource} because no \
         identity-based policy allows the {action} action",
        principal.arn
    )
}

/// Drops the statement `sid` from whichever of `policies` holds it.
pub fn without_statement(policies: &[Policy], sid: &str) -> Vec<Policy> {
    policies
        .iter()
        .map(|policy| {
            let mut policy = policy.clone();
            if let Some(statements) = policy.document["Statement"].as_array_mut() {
                statements.retain(|s| s["Sid"] != sid);
            }
            policy
        })
        .collect()
}

/// A principal of the local AWS: an access key whose requests are authorized against policies.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Its access key id.
    pub access_key: String,
    /// Its ARN, as `AccessDenied` messages name it.
    pub arn: String,
    /// The SDK configuration signing with its credentials (region and endpoint of the local AWS).
    pub sdk: aws_config::SdkConfig,
}

impl LocalAws {
    /// The policies the role of `binding` gets, resolved by the local AWS from the template.
    pub fn role_policies(&self, binding: &RoleBinding) -> Vec<Policy> {
        let region = self.region();
        let subject = if binding.is_role { "role" } else { "function" };
        let body = json!({
            "template": binding.template,
            subject: binding.function,
            "parameters": binding.parameters,
            "resources": binding.resources,
            "attributes": binding.attributes,
            "stackName": binding.stack_name,
            "stackId": binding.stack_id,
            "region": region,
            "account": ACCOUNT,
        });
        let answer = self.control("POST", "/_lifeguard/iam/role-policies", Some(&body));
        let policies = answer["policies"].as_array().unwrap_or_else(|| panic!("no policies in {answer}"));
        policies
            .iter()
            .map(|p| Policy {
                name: p["name"].as_str().unwrap_or_default().to_owned(),
                document: p["document"].clone(),
            })
            .collect()
    }

    /// A new principal bound to exactly `policies`.
    pub fn principal(&self, name: &str, policies: &[Policy]) -> Principal {
        let documents: Vec<&Value> = policies.iter().map(|p| &p.document).collect();
        let body = json!({"name": unique(name), "policies": documents});
        let answer = self.control("POST", "/_lifeguard/iam/principals", Some(&body));
        let access_key = answer["accessKeyId"].as_str().expect("an access key id").to_owned();
        let arn = answer["principalArn"].as_str().expect("a principal ARN").to_owned();
        let credentials = Credentials::new(&access_key, "testing", None, None, "lifeguard-iam");
        let sdk = self
            .sdk
            .clone()
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        Principal { access_key, arn, sdk }
    }

    /// A principal with exactly the policies of `binding`'s role.
    pub fn as_role(&self, binding: &RoleBinding) -> Principal {
        self.principal(binding.function, &self.role_policies(binding))
    }

    /// A principal with the reaper application's role as deployed for `config`: its mode,
    /// allowlist and production stacks (which decide the role's statements),
    /// marks table, topic and own stack.
    pub fn reaper_principal(&self, config: &ReaperConfig) -> Principal {
        let region = self.region();
        let table = config.marks_table.as_deref().expect("the reaper's marks table");
        let topic = config.topic_arn.as_deref().expect("the reaper's topic");
        let mode = match config.mode {
            Mode::Report => "report",
            Mode::Enforce => "enforce",
        };
        let parameters = json!({
            "ReaperMode": mode,
            "ReaperAllowedStacks": config.allowed_stacks.as_deref().unwrap_or_default().join(","),
            "ProductionStacks": config.production_stacks.join(","),
        });
        let own_stack = format!(
            "arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{}/7e1c0de5-0000-4000-8000-000000000000",
            config.own_stack
        );
        self.as_role(&RoleBinding::reaper(&own_stack, table, topic, &region, parameters))
    }

    /// The requests the local AWS refused to `principal` (`action`, `resource`, `reason`).
    pub fn denials(&self, principal: &Principal) -> Vec<Value> {
        let path = format!("/_lifeguard/iam/denials?accessKey={}", principal.access_key);
        match self.control("GET", &path, None) {
            Value::Array(denials) => denials,
            other => panic!("denials are not a list: {other}"),
        }
    }

    /// Requests signed by `principal`, by `<service>.<Operation>` (see
    /// [`LocalAws::request_counts`]).
    pub fn request_counts_of(&self, principal: &Principal) -> std::collections::BTreeMap<String, u64> {
        self.request_counts_for(&principal.access_key)
    }

    /// The region the SDK configuration signs for.
    pub fn region(&self) -> String {
        self.sdk.region().map_or("us-east-1", |r| r.as_ref()).to_owned()
    }
}
