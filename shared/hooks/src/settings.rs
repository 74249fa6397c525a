//! Settings both hooks read once at cold start: the check file, the report margin and, for local
//! runtimes, the hook's own ARN.

use crate::checks::CheckFile;
use crate::deadline::DEFAULT_REPORT_MARGIN;
use std::time::Duration;

/// Environment variable naming the check file.
pub const CHECKS_FILE_VAR: &str = "LIFEGUARD_CHECKS_FILE";
/// Where the checks layer puts the check file.
pub const DEFAULT_CHECKS_FILE: &str = "/opt/checks.yaml";
/// Environment variable overriding the time kept back for reporting, in milliseconds.
pub const REPORT_MARGIN_VAR: &str = "LIFEGUARD_REPORT_MARGIN_MS";
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
        let checks = match margin_problem {
            Some(problem) => Err(problem),
            None => checks,
        };
        let function_arn = lookup(FUNCTION_ARN_VAR).filter(|arn| !arn.trim().is_empty());
        Self { checks, report_margin, function_arn }
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
