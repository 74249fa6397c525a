//! Settings both hooks read once at cold start: the check file, the report margin, the verdict
//! topic and, for local runtimes, the hook's own ARN.

use crate::checks::CheckFile;
use crate::deadline::DEFAULT_REPORT_MARGIN;
use std::time::Duration;

/// Environment variable naming the check file.
pub const CHECKS_FILE_VAR: &str = "LIFEGUARD_CHECKS_FILE";
/// Where the checks layer puts the check file.
pub const DEFAULT_CHECKS_FILE: &str = "/opt/checks.yaml";
/// Environment variable overriding the time kept back for reporting, in milliseconds.
pub const REPORT_MARGIN_VAR: &str = "LIFEGUARD_REPORT_MARGIN_MS";
/// Environment variable naming the SNS topic (ARN) a hook publishes its verdicts to; unset or
/// empty, verdicts are only logged.
pub const VERDICT_TOPIC_VAR: &str = "LIFEGUARD_VERDICT_TOPIC_ARN";
/// Environment variable giving the hook's own function ARN to local runtimes that pass none
/// (`cargo lambda watch` passes `function-arn`); in Lambda the invocation's ARN is used.
pub const FUNCTION_ARN_VAR: &str = "LIFEGUARD_FUNCTION_ARN";

/// Settings read once at cold start. A problem with them does not stop the function: every
/// invocation then reports `Failed` naming it, so a deployment never waits on a silent hook.
#[derive(Debug, Clone)]
pub struct HookSettings {
    /// The parsed check file, or what is wrong with the configuration.
    pub checks: Result<CheckFile, String>,
    /// Time kept back for reporting the verdict.
    pub report_margin: Duration,
    /// The hook's own ARN when [`FUNCTION_ARN_VAR`] sets it.
    pub function_arn: Option<String>,
    /// The topic verdicts are published to, when [`VERDICT_TOPIC_VAR`] names one.
    pub verdict_topic_arn: Option<String>,
}

impl HookSettings {
    /// Reads the settings from `lookup` (the environment in production).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let (report_margin, margin_problem) = match lookup(REPORT_MARGIN_VAR) {
            None => (DEFAULT_REPORT_MARGIN, None),
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => (Duration::from_millis(ms), None),
                _ => (
                    DEFAULT_REPORT_MARGIN,
                    Some(format!("{REPORT_MARGIN_VAR}={raw:?} is not a positive number of milliseconds")),
                ),
            },
        };
        let checks = match lookup(CHECKS_FILE_VAR) {
            Some(path) => CheckFile::load(&path).map_err(|e| e.to_string()),
            None if std::path::Path::new(DEFAULT_CHECKS_FILE).exists() => {
                CheckFile::load(DEFAULT_CHECKS_FILE).map_err(|e| e.to_string())
            }
            None => Ok(CheckFile::default()),
        };
        let verdict_topic_arn = lookup(VERDICT_TOPIC_VAR).filter(|arn| !arn.trim().is_empty());
        let topic_problem = verdict_topic_arn.as_deref().filter(|arn| !is_topic_arn(arn)).map(|arn| {
            format!(
                "{VERDICT_TOPIC_VAR}={arn:?} is not an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:NAME)"
            )
        });
        let checks = match margin_problem.or(topic_problem) {
            Some(problem) => Err(problem),
            None => checks,
        };
        let function_arn = lookup(FUNCTION_ARN_VAR).filter(|arn| !arn.trim().is_empty());
        Self { checks, report_margin, function_arn, verdict_topic_arn }
    }

    /// The hook's own ARN: [`FUNCTION_ARN_VAR`] when set, else the one Lambda invoked it by.
    pub fn own_arn<'a>(&'a self, invoked_arn: &'a str) -> &'a str {
        self.function_arn.as_deref().unwrap_or(invoked_arn)
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Whether `arn` has the shape of an SNS topic ARN: `arn:PARTITION:sns:REGION:ACCOUNT:NAME`.
fn is_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    matches!(parts.as_slice(), ["arn", partition, "sns", region, account, name]
        if !partition.is_empty() && !region.is_empty() && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(variables: &[(&str, &str)]) -> HookSettings {
        HookSettings::from_lookup(|name| {
            variables.iter().find(|(n, _)| *n == name).map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn a_verdict_topic_is_optional_and_a_malformed_one_is_named() {
        assert_eq!(settings(&[]).verdict_topic_arn, None);
        assert_eq!(settings(&[(VERDICT_TOPIC_VAR, " ")]).verdict_topic_arn, None);
        let arn = "arn:aws:sns:eu-west-1:123456789012:verdicts";
        let set = settings(&[(VERDICT_TOPIC_VAR, arn)]);
        assert_eq!((set.verdict_topic_arn.as_deref(), set.checks.is_ok()), (Some(arn), true));
        for wrong in
            ["verdicts", "arn:aws:sqs:eu-west-1:123456789012:verdicts", "arn:aws:sns:eu-west-1:1234:v"]
        {
            let problem = settings(&[(VERDICT_TOPIC_VAR, wrong)]).checks.unwrap_err();
            assert!(
                problem.starts_with(&format!("{VERDICT_TOPIC_VAR}=\"{wrong}\" is not an SNS topic ARN")),
                "{problem}"
            );
        }
    }
}
