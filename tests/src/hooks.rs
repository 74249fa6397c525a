//! The pre-traffic and post-traffic hooks and the in-flight judge wired to the real SDK adapters,
//! signing as a principal bound to exactly their role's policies.

use crate::iam::{Principal, RoleBinding};
use crate::local_aws::LocalAws;
use lifeguard_hooks::aws::{CloudWatchClient, CodeDeployClient, LambdaClient, SnsVerdictTopic};
use lifeguard_hooks::checks::CheckFile;
use lifeguard_hooks::deadline::DEFAULT_REPORT_MARGIN;
use lifeguard_hooks::in_flight::InFlightJudge;
use lifeguard_hooks::post_traffic::PostTrafficHook;
use lifeguard_hooks::pre_traffic::PreTrafficHook;
use lifeguard_hooks::settings::HookSettings;

/// The pre-traffic hook wired to the real SDK adapters.
pub type Hook = PreTrafficHook<CodeDeployClient, LambdaClient, SnsVerdictTopic>;

/// The in-flight judge wired to the real SDK adapters.
pub type Judge = InFlightJudge<CodeDeployClient, LambdaClient, CloudWatchClient>;

/// The post-traffic hook wired to the real SDK adapters.
pub type PostHook = PostTrafficHook<CodeDeployClient, LambdaClient, CloudWatchClient, SnsVerdictTopic>;

/// Hook settings with a check file given as YAML text and the default report margin.
pub fn settings_with_checks(checks_yaml: &str) -> HookSettings {
    let checks = CheckFile::parse(checks_yaml, "test checks").expect("the test's check file is valid");
    HookSettings {
        checks: Ok(checks),
        report_margin: DEFAULT_REPORT_MARGIN,
        function_arn: None,
        verdict_topic_arn: None,
    }
}

impl LocalAws {
    /// The pre-traffic hook with real SDK clients signing as `principal` (see
    /// [`iam::RoleBinding::pre_traffic_hook`](crate::iam::RoleBinding::pre_traffic_hook)) and the
    /// given settings (publishing to their verdict topic, when they name one).
    pub fn hook(&self, principal: &Principal, settings: HookSettings, hook_name: &str) -> Hook {
        PreTrafficHook {
            codedeploy: CodeDeployClient::new(&principal.sdk),
            functions: LambdaClient::new(&principal.sdk),
            verdicts: settings
                .verdict_topic_arn
                .as_deref()
                .map(|arn| SnsVerdictTopic::new(&principal.sdk, arn)),
            settings,
            hook_name: hook_name.to_owned(),
        }
    }

    /// The pre-traffic hook deployed for CodeDeploy application `application`, under exactly its
    /// role's policies, with a check file given as YAML text.
    pub fn hook_with_checks(&self, checks_yaml: &str, hook_name: &str, application: &str) -> Hook {
        let principal = self.as_role(&RoleBinding::pre_traffic_hook(application, &self.region()));
        self.hook(&principal, settings_with_checks(checks_yaml), hook_name)
    }

    /// The post-traffic hook deployed for CodeDeploy application `application`, under exactly
    /// its role's policies (CodeDeploy, Lambda, CloudWatch), with a check file given as YAML text.
    pub fn post_traffic_hook(&self, checks_yaml: &str, hook_name: &str, application: &str) -> PostHook {
        let principal = self.as_role(&RoleBinding::post_traffic_hook(application, &self.region()));
        self.post_traffic_hook_as(&principal, settings_with_checks(checks_yaml), hook_name)
    }

    /// The in-flight judge deployed for CodeDeploy application `application`, under exactly its
    /// role's policies, with a check file given as YAML text.
    pub fn canary_judge(&self, checks_yaml: &str, application: &str) -> Judge {
        let principal = self.as_role(&RoleBinding::canary_judge(application, &self.region()));
        self.canary_judge_as(&principal, checks_yaml, application)
    }

    /// The in-flight judge signing as `principal`, with a check file given as YAML text.
    pub fn canary_judge_as(&self, principal: &Principal, checks_yaml: &str, application: &str) -> Judge {
        InFlightJudge {
            codedeploy: CodeDeployClient::new(&principal.sdk),
            functions: LambdaClient::new(&principal.sdk),
            metrics: CloudWatchClient::new(&principal.sdk),
            settings: settings_with_checks(checks_yaml),
            application: Some(application.to_owned()),
        }
    }

    /// The post-traffic hook signing as `principal`, with the given settings (publishing to their
    /// verdict topic, when they name one).
    pub fn post_traffic_hook_as(
        &self,
        principal: &Principal,
        settings: HookSettings,
        hook_name: &str,
    ) -> PostHook {
        PostTrafficHook {
            codedeploy: CodeDeployClient::new(&principal.sdk),
            functions: LambdaClient::new(&principal.sdk),
            metrics: CloudWatchClient::new(&principal.sdk),
            verdicts: settings
                .verdict_topic_arn
                .as_deref()
                .map(|arn| SnsVerdictTopic::new(&principal.sdk, arn)),
            settings,
            hook_name: hook_name.to_owned(),
        }
    }
}
