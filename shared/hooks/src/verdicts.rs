//! A hook's verdict for people: its report as text (what `lifeguard explain` prints) and the
//! message a hook publishes to its verdict topic once CodeDeploy has the verdict.
//!
//! The message carries the String message attributes [`APPLICATION_ATTRIBUTE`],
//! [`FUNCTION_ATTRIBUTE`], [`VERDICT_ATTRIBUTE`] and [`HOOK_ATTRIBUTE`], so a subscription can
//! take only what it wants, e.g. the filter policy `{"verdict": ["Failed"]}` or
//! `{"application": ["loyalty"], "verdict": ["Failed"]}`. Its text quotes the guarded function's
//! answers (in the reason and the checks' problems) as foreign text
//! ([`lifeguard_common::mail_text::foreign`]) and fits SNS's size.

use lifeguard_common::AwsError;
use lifeguard_common::mail_text::{foreign, sns_subject, within_sns_size};
use serde_json::Value;
use std::future::Future;

/// Message attribute: the CodeDeploy application of the deployment.
pub const APPLICATION_ATTRIBUTE: &str = "application";
/// Message attribute: the guarded function, as the AppSpec names it.
pub const FUNCTION_ATTRIBUTE: &str = "function";
/// Message attribute: `Succeeded` or `Failed`.
pub const VERDICT_ATTRIBUTE: &str = "verdict";
/// Message attribute: the lifecycle event, `BeforeAllowTraffic` or `AfterAllowTraffic`.
pub const HOOK_ATTRIBUTE: &str = "hook";

/// Where a hook publishes its verdicts (`Publish` to one SNS topic).
pub trait VerdictTopic: Sync {
    /// Publishes one message.
    fn publish(&self, message: &VerdictMessage) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// A verdict as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictMessage {
    /// The subject, as SNS takes it.
    pub subject: String,
    /// The text: the verdict, the deployment and every check, alarm and rule.
    pub text: String,
    /// The message attributes, by name (values never empty: `unknown` stands in).
    pub attributes: Vec<(&'static str, String)>,
}

impl VerdictMessage {
    /// The message for a hook's report (the JSON the hook returns).
    pub fn of(report: &Value) -> Self {
        let field = |name: &str| report[name].as_str().filter(|v| !v.is_empty()).unwrap_or("unknown");
        let lifecycle_event = report["lifecycleEvent"].as_str().unwrap_or("lifecycle hook");
        let subject = sns_subject(&format!(
            "lifeguard: {} {lifecycle_event} for {} version {}",
            field("verdict"),
            field("functionName"),
            field("targetVersion"),
        ));
        let mut text = format!(
            "{} {} for deployment {} (application {}, group {})\n\
             Function {} alias {}: version {} -> {}\n\
             Reported to CodeDeploy: {}\n\
             Why: {}\n",
            field("hook"),
            field("verdict"),
            field("deploymentId"),
            field("application"),
            field("deploymentGroup"),
            field("functionName"),
            field("alias"),
            field("currentVersion"),
            field("targetVersion"),
            field("reported"),
            foreign(field("reason")),
        );
        let lines = findings_lines(report, foreign);
        if !lines.is_empty() {
            text.push('\n');
            for line in lines {
                text.push_str(&line);
                text.push('\n');
            }
        }
        text.push_str(
            "\nThe hook's JSON report in its log group has every figure (`lifeguard explain` shows it).\n",
        );
        let attributes = vec![
            (APPLICATION_ATTRIBUTE, field("application").to_owned()),
            (FUNCTION_ATTRIBUTE, field("functionName").to_owned()),
            (VERDICT_ATTRIBUTE, field("verdict").to_owned()),
            (HOOK_ATTRIBUTE, report["lifecycleEvent"].as_str().unwrap_or("unknown").to_owned()),
        ];
        Self { subject, text: within_sns_size(text), attributes }
    }
}

/// One line per probe check, alarm and analysis rule of a hook's report, each with its outcome
/// and reason; `quote` shows the text that comes from the guarded function (the checks' problems).
pub fn findings_lines(report: &Value, quote: impl Fn(&str) -> String) -> Vec<String> {
    let text = |value: &Value| value.as_str().map_or_else(|| "-".to_owned(), str::to_owned);
    let mut lines = Vec::new();
    // The pre-traffic report lists its checks at the top, the post-traffic one under probes.
    let checks = report["checks"].as_array().or_else(|| report["probes"]["checks"].as_array());
    for check in checks.into_iter().flatten() {
        let status = if check["passed"] == true { "pass" } else { "FAIL" };
        let problems: Vec<String> =
            check["problems"].as_array().into_iter().flatten().map(|p| quote(&text(p))).collect();
        lines.push(format!("  check {status}  {}  {}", text(&check["name"]), problems.join("; ")));
    }
    for alarm in report["alarms"].as_array().into_iter().flatten() {
        lines.push(format!("  alarm {}  {}", text(&alarm["state"]), text(&alarm["name"])));
    }
    for rule in report["analysis"]["rules"].as_array().into_iter().flatten() {
        lines.push(format!(
            "  rule  {}  {}: {}",
            text(&rule["outcome"]),
            text(&rule["rule"]),
            text(&rule["reason"])
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeguard_common::mail_text::{MAX_SNS_MESSAGE_BYTES, MAX_SNS_SUBJECT_CHARS};
    use serde_json::json;

    fn failed_post_traffic_report() -> Value {
        json!({
            "deploymentId": "d-ABC123",
            "lifecycleEventHookExecutionId": "e-1",
            "hook": "loyalty-PostTrafficHook",
            "lifecycleEvent": "AfterAllowTraffic",
            "application": "loyalty",
            "deploymentGroup": "loyalty-group",
            "functionName": "loyalty-fn",
            "alias": "live",
            "currentVersion": "6",
            "targetVersion": "7",
            "verdict": "Failed",
            "reason": "rule error-rate: canary error rate 5% vs baseline 1%: fail",
            "reported": "accepted",
            "durationMs": 812,
            "alarms": [{"name": "loyalty-errors", "state": "OK"}],
            "analysis": {"rules": [
                {"rule": "error-rate", "outcome": "fail", "reason": "canary error rate 5% vs baseline 1% (n=100/900), Fisher p=0.00871, 5.00x: fail"},
                {"rule": "p99", "outcome": "pass", "reason": "not significant"},
            ]},
            "probes": {"checks": [
                {"name": "answers", "passed": false, "problems": ["/body/msg: got \"visit https://evil.example\nnow\""]},
            ]},
        })
    }

    #[test]
    fn the_message_says_the_verdict_and_lists_every_check_alarm_and_rule() {
        let message = VerdictMessage::of(&failed_post_traffic_report());
        assert_eq!(message.subject, "lifeguard: Failed AfterAllowTraffic for loyalty-fn version 7");
        assert!(message.text.starts_with(
            "loyalty-PostTrafficHook Failed for deployment d-ABC123 (application loyalty, group loyalty-group)\n\
             Function loyalty-fn alias live: version 6 -> 7\nReported to CodeDeploy: accepted\n"
        ), "{}", message.text);
        assert!(message.text.contains("  alarm OK  loyalty-errors\n"), "{}", message.text);
        assert!(
            message
                .text
                .contains("  rule  fail  error-rate: canary error rate 5% vs baseline 1% (n=100/900)")
        );
        assert!(message.text.contains("  rule  pass  p99: not significant\n"));
        assert_eq!(
            message.attributes,
            vec![
                ("application", "loyalty".to_owned()),
                ("function", "loyalty-fn".to_owned()),
                ("verdict", "Failed".to_owned()),
                ("hook", "AfterAllowTraffic".to_owned()),
            ]
        );
    }

    #[test]
    fn the_guarded_functions_answers_reach_mail_on_one_line_without_links() {
        let message = VerdictMessage::of(&failed_post_traffic_report());
        assert!(!message.text.contains("https://"), "{}", message.text);
        assert!(
            message
                .text
                .contains("  check FAIL  answers  /body/msg: got \"visit https[:]//evil[.]example\\nnow\"\n"),
            "{}",
            message.text
        );
    }

    #[test]
    fn a_report_cut_short_still_makes_a_message_sns_takes() {
        let mut report = json!({"hook": "h", "verdict": "Failed", "reason": "target discovery failed: \u{7}x",
            "functionName": "f".repeat(300), "deploymentId": "d-1"});
        report["analysis"]["rules"] = (0..5000)
            .map(|i| json!({"rule": format!("rule-{i}"), "outcome": "pass", "reason": "x".repeat(100)}))
            .collect();
        let message = VerdictMessage::of(&report);
        assert!(message.subject.len() <= MAX_SNS_SUBJECT_CHARS, "{}", message.subject);
        assert!(message.text.len() <= MAX_SNS_MESSAGE_BYTES);
        assert!(message.text.contains("Why: target discovery failed: \\u{7}x\n"), "{}", &message.text[..300]);
        assert!(message.attributes.iter().all(|(_, value)| !value.is_empty()));
        assert_eq!(message.attributes[0], ("application", "unknown".to_owned()));
        assert_eq!(message.attributes[3], ("hook", "unknown".to_owned()));
    }
}
