//! The reaper's settings, read once from the environment before any AWS call. A bad value stops
//! the run with an error naming the variable.
//!
//! An unset variable, or one set to blank text (as an empty template parameter gives), takes its
//! default.

use crate::glob::glob_matches;
use lifeguard_common::time::{format_duration, parse_duration};
use std::time::Duration;

/// `report` (default: plan and notify, never delete) or `enforce`.
pub const MODE_VAR: &str = "REAPER_MODE";
/// Kill switch: `true` plans nothing (every stack is skipped as `reaper-disabled`).
pub const DISABLED_VAR: &str = "REAPER_DISABLED";
/// `true` lets enforce mode act on an event whose `time` is far from the clock (a replay);
/// default `false`: a replay in enforce mode is refused, since it would move deletion dates.
pub const ALLOW_REPLAY_VAR: &str = "REAPER_ALLOW_REPLAY";
/// Time between the first notice and the earliest deletion; default `3d`.
pub const GRACE_VAR: &str = "REAPER_GRACE";
/// Most deletions one run may plan; default 5.
pub const MAX_DELETIONS_VAR: &str = "REAPER_MAX_DELETIONS";
/// Most deletions counted on one UTC day, across every run (scheduled or by hand); default 20.
pub const MAX_DELETIONS_PER_DAY_VAR: &str = "REAPER_MAX_DELETIONS_PER_DAY";
/// Lifetime of a stack that sets neither `lifeguard:ttl` nor `lifeguard:expires-at`; default `14d`.
pub const DEFAULT_TTL_VAR: &str = "REAPER_DEFAULT_TTL";
/// Longest lifetime tags may ask for, counted from creation; default `60d`.
pub const MAX_LIFETIME_VAR: &str = "REAPER_MAX_LIFETIME";
/// Comma-separated glob patterns (`*`, `?`) of the only stacks the reaper may ever delete;
/// required in enforce mode. Unset in report mode, every name is planned as if allowed (report
/// mode deletes nothing).
pub const ALLOWED_STACKS_VAR: &str = "REAPER_ALLOWED_STACKS";
/// Comma-separated glob patterns (`*`, `?`) of IAM role ARNs: a stack deployed with a service
/// role is deleted only when one of them matches it (CloudFormation deletes with that role).
/// Unset: no stack with a service role is deleted.
pub const ALLOWED_ROLES_VAR: &str = "REAPER_ALLOWED_ROLES";
/// Comma-separated glob patterns of stack names never to delete, besides the built-in ones.
pub const PROTECTED_STACKS_VAR: &str = "REAPER_PROTECTED_STACKS";
/// Name of the reaper's own stack, always protected; default [`DEFAULT_OWN_STACK`].
pub const OWN_STACK_VAR: &str = "REAPER_OWN_STACK";
/// Comma-separated glob patterns of production stacks, always protected; default
/// [`DEFAULT_PRODUCTION_STACKS`]. Setting it replaces the default.
pub const PRODUCTION_STACKS_VAR: &str = "REAPER_PRODUCTION_STACKS";
/// SNS topic for notices; required in enforce mode.
pub const TOPIC_ARN_VAR: &str = "REAPER_TOPIC_ARN";
/// DynamoDB table holding the marks; required in enforce mode.
pub const MARKS_TABLE_VAR: &str = "REAPER_MARKS_TABLE";

/// The reaper's own stack name when [`OWN_STACK_VAR`] is unset.
pub const DEFAULT_OWN_STACK: &str = "lifeguard-reaper";
/// Production stack patterns when [`PRODUCTION_STACKS_VAR`] is unset.
pub const DEFAULT_PRODUCTION_STACKS: &[&str] = &["lifeguard"];

const DAY: Duration = Duration::from_hours(24);
/// The largest [`MAX_DELETIONS_VAR`] accepted.
pub const MAX_DELETIONS_LIMIT: u32 = 100;
/// The largest [`MAX_DELETIONS_PER_DAY_VAR`] accepted.
pub const MAX_DELETIONS_PER_DAY_LIMIT: u32 = 1_000;
/// The longest grace accepted.
pub const MAX_GRACE: Duration = Duration::from_hours(30 * 24);
/// The longest default lifetime and maximum lifetime accepted.
pub const MAX_LIFETIME_LIMIT: Duration = Duration::from_hours(366 * 24);

/// Whether the reaper may delete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Plan, mark and notify, but never delete.
    #[default]
    Report,
    /// Delete what the rules allow.
    Enforce,
}

impl Mode {
    /// `report` or `enforce`, as [`MODE_VAR`] spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::Enforce => "enforce",
        }
    }

    /// The mode `as_str` spelled, if any.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "report" => Some(Self::Report),
            "enforce" => Some(Self::Enforce),
            _ => None,
        }
    }
}

/// A setting that cannot be used; the message names the variable, its value and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?}: {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// Its value as read.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
}

/// The reaper's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaperConfig {
    /// Whether deletions happen.
    pub mode: Mode,
    /// Kill switch: when set, the plan skips every stack and changes nothing.
    pub disabled: bool,
    /// Whether enforce mode may act on an event whose time is far from the clock.
    pub allow_replay: bool,
    /// Time between the first notice and the earliest deletion.
    pub grace: Duration,
    /// Most deletions one run may plan.
    pub max_deletions: u32,
    /// Most deletions counted on one UTC day, across runs.
    pub max_deletions_per_day: u32,
    /// Lifetime of a stack whose tags set none.
    pub default_ttl: Duration,
    /// Longest lifetime, counted from creation, that tags may ask for.
    pub max_lifetime: Duration,
    /// The reaper's own stack name (a pattern), always protected.
    pub own_stack: String,
    /// Production stack patterns, always protected.
    pub production_stacks: Vec<String>,
    /// Further protected patterns from [`PROTECTED_STACKS_VAR`].
    pub protected_stacks: Vec<String>,
    /// The only stacks that may be deleted ([`ALLOWED_STACKS_VAR`]); `None` (report mode only)
    /// allows every name.
    pub allowed_stacks: Option<Vec<String>>,
    /// Service roles a deletable stack may have ([`ALLOWED_ROLES_VAR`]); empty: none.
    pub allowed_roles: Vec<String>,
    /// SNS topic for notices.
    pub topic_arn: Option<String>,
    /// DynamoDB table holding the marks.
    pub marks_table: Option<String>,
}

impl Default for ReaperConfig {
    /// The settings when no variable is set.
    fn default() -> Self {
        Self {
            mode: Mode::Report,
            disabled: false,
            allow_replay: false,
            grace: 3 * DAY,
            max_deletions: 5,
            max_deletions_per_day: 20,
            default_ttl: 14 * DAY,
            max_lifetime: 60 * DAY,
            own_stack: DEFAULT_OWN_STACK.to_owned(),
            production_stacks: DEFAULT_PRODUCTION_STACKS.iter().map(|p| (*p).to_owned()).collect(),
            protected_stacks: Vec::new(),
            allowed_stacks: None,
            allowed_roles: Vec::new(),
            topic_arn: None,
            marks_table: None,
        }
    }
}

impl ReaperConfig {
    /// Reads the settings from `lookup` (the environment in production).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let read = |variable: &'static str| {
            lookup(variable).filter(|value| !value.trim().is_empty()).map(|value| (variable, value))
        };
        let mut config = Self::default();
        if let Some((variable, value)) = read(MODE_VAR) {
            config.mode =
                Mode::parse(&value).ok_or_else(|| problem(variable, &value, "expected report or enforce"))?;
        }
        let flag = |variable: &'static str, default: bool| match read(variable) {
            None => Ok(default),
            Some((variable, value)) => match value.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(problem(variable, &value, "expected true or false")),
            },
        };
        config.disabled = flag(DISABLED_VAR, false)?;
        config.allow_replay = flag(ALLOW_REPLAY_VAR, false)?;
        let duration = |variable: &'static str, default: Duration| match read(variable) {
            None => Ok(default),
            Some((variable, value)) => {
                parse_duration(&value).map_err(|e| problem(variable, &value, &e.problem))
            }
        };
        config.grace = duration(GRACE_VAR, config.grace)?;
        config.default_ttl = duration(DEFAULT_TTL_VAR, config.default_ttl)?;
        config.max_lifetime = duration(MAX_LIFETIME_VAR, config.max_lifetime)?;
        if config.default_ttl > config.max_lifetime {
            let (ttl, cap) = (format_duration(config.default_ttl), format_duration(config.max_lifetime));
            return Err(match read(DEFAULT_TTL_VAR) {
                Some((variable, value)) => problem(
                    variable,
                    &value,
                    &format!("longer than {MAX_LIFETIME_VAR} ({cap}); every stack would outlive the cap"),
                ),
                None => problem(
                    MAX_LIFETIME_VAR,
                    &lookup(MAX_LIFETIME_VAR).unwrap_or_default(),
                    &format!("shorter than {DEFAULT_TTL_VAR} ({ttl}); every stack would outlive the cap"),
                ),
            });
        }
        let count = |variable: &'static str, default: u32, max: u32| match read(variable) {
            None => Ok(default),
            Some((variable, value)) => match value.trim().parse::<u32>() {
                Ok(n) if n <= max => Ok(n),
                Ok(_) => Err(problem(variable, &value, &format!("at most {max}"))),
                Err(_) => Err(problem(variable, &value, "expected a whole number, 0 or more")),
            },
        };
        config.max_deletions = count(MAX_DELETIONS_VAR, config.max_deletions, MAX_DELETIONS_LIMIT)?;
        config.max_deletions_per_day =
            count(MAX_DELETIONS_PER_DAY_VAR, config.max_deletions_per_day, MAX_DELETIONS_PER_DAY_LIMIT)?;
        for (variable, value, limit) in [
            (GRACE_VAR, config.grace, MAX_GRACE),
            (DEFAULT_TTL_VAR, config.default_ttl, MAX_LIFETIME_LIMIT),
            (MAX_LIFETIME_VAR, config.max_lifetime, MAX_LIFETIME_LIMIT),
        ] {
            if value > limit {
                let text = lookup(variable).unwrap_or_default();
                return Err(problem(variable, &text, &format!("at most {}", format_duration(limit))));
            }
        }
        if let Some((_, value)) = read(OWN_STACK_VAR) {
            value.trim().clone_into(&mut config.own_stack);
        }
        if let Some((variable, value)) = read(PRODUCTION_STACKS_VAR) {
            config.production_stacks = patterns(&value);
            if config.production_stacks.is_empty() {
                return Err(problem(variable, &value, "names no pattern"));
            }
        }
        if let Some((_, value)) = read(PROTECTED_STACKS_VAR) {
            config.protected_stacks = patterns(&value);
        }
        if let Some((variable, value)) = read(ALLOWED_STACKS_VAR) {
            let allowed = patterns(&value);
            if let Some(bad) = allowed.iter().find(|pattern| !is_stack_name_glob(pattern)) {
                return Err(problem(
                    variable,
                    &value,
                    &format!("{bad:?} is not a stack-name glob (letters, digits, -, * and ?)"),
                ));
            }
            if allowed.is_empty() {
                return Err(problem(variable, &value, "names no pattern"));
            }
            config.allowed_stacks = Some(allowed);
        }
        if let Some((variable, value)) = read(ALLOWED_ROLES_VAR) {
            let roles = patterns(&value);
            if let Some(bad) = roles.iter().find(|pattern| !is_role_arn_glob(pattern)) {
                return Err(problem(
                    variable,
                    &value,
                    &format!(
                        "{bad:?} is not an IAM role ARN glob (arn:<partition>:iam::<account>:role/<name>)"
                    ),
                ));
            }
            config.allowed_roles = roles;
        }
        if let Some((variable, value)) = read(TOPIC_ARN_VAR) {
            let arn = value.trim();
            if !(arn.starts_with("arn:") && arn.split(':').nth(2) == Some("sns")) {
                return Err(problem(variable, &value, "expected an SNS topic ARN (arn:...:sns:...)"));
            }
            config.topic_arn = Some(arn.to_owned());
        }
        if let Some((variable, value)) = read(MARKS_TABLE_VAR) {
            let table = value.trim();
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
            if !(3..=255).contains(&table.len()) || !table.chars().all(allowed) {
                return Err(problem(
                    variable,
                    &value,
                    "expected a DynamoDB table name (3-255 of a-z, A-Z, 0-9, _ - .)",
                ));
            }
            config.marks_table = Some(table.to_owned());
        }
        if config.mode == Mode::Enforce && config.grace < DAY {
            let value = lookup(GRACE_VAR).unwrap_or_default();
            return Err(problem(
                GRACE_VAR,
                &value,
                &format!("at least 24h when {MODE_VAR}=enforce, so an owner has a day to answer a notice"),
            ));
        }
        if config.mode == Mode::Enforce {
            let required = [
                (TOPIC_ARN_VAR, config.topic_arn.is_none(), "to notify owners"),
                (MARKS_TABLE_VAR, config.marks_table.is_none(), "to keep marks"),
                (ALLOWED_STACKS_VAR, config.allowed_stacks.is_none(), "to name the stacks it may delete"),
            ];
            if let Some((variable, _, purpose)) = required.into_iter().find(|(_, missing, _)| *missing) {
                let value = lookup(variable).unwrap_or_default();
                return Err(problem(
                    variable,
                    &value,
                    &format!("required {purpose} when {MODE_VAR}=enforce"),
                ));
            }
        }
        Ok(config)
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Every protected pattern: the own stack, the production stacks, then the configured ones.
    pub fn protected_patterns(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.own_stack.as_str())
            .chain(self.production_stacks.iter().map(String::as_str))
            .chain(self.protected_stacks.iter().map(String::as_str))
    }

    /// The first protected pattern `stack_name` matches.
    pub fn protecting_pattern(&self, stack_name: &str) -> Option<&str> {
        self.protected_patterns().find(|pattern| glob_matches(pattern, stack_name))
    }

    /// Whether `stack_name` matches a pattern of [`ALLOWED_STACKS_VAR`] (always, when unset).
    pub fn allows(&self, stack_name: &str) -> bool {
        self.allowed_stacks
            .as_ref()
            .is_none_or(|patterns| patterns.iter().any(|pattern| glob_matches(pattern, stack_name)))
    }

    /// Whether a stack deployed with service role `role_arn` may be deleted.
    pub fn allows_role(&self, role_arn: &str) -> bool {
        self.allowed_roles.iter().any(|pattern| glob_matches(pattern, role_arn))
    }

    /// How long before `delete_after` the final notice goes out: one day, or half the grace
    /// period when that is shorter.
    pub fn final_notice_lead(&self) -> Duration {
        DAY.min(self.grace / 2)
    }
}

fn problem(variable: &'static str, value: &str, problem: &str) -> ConfigError {
    ConfigError { variable, value: value.to_owned(), problem: problem.to_owned() }
}

/// Letters, digits, `-` (what stack names hold) and the glob characters `*` and `?`: nothing
/// that could change the meaning of the IAM stack ARNs the template builds from the same list.
fn is_stack_name_glob(pattern: &str) -> bool {
    pattern.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '*' | '?'))
}

/// `arn:<partition>:iam::<account>:role/<path and name>`, where `*` and `?` may stand in for
/// characters of the partition, account and name.
fn is_role_arn_glob(pattern: &str) -> bool {
    let glob = |c: char| matches!(c, '*' | '?');
    let parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else { return false };
    let Some(name) = resource.strip_prefix("role/") else { return false };
    arn == "arn"
        && !partition.is_empty()
        && partition.chars().all(|c| c.is_ascii_lowercase() || c == '-' || glob(c))
        && service == "iam"
        && region.is_empty()
        && !account.is_empty()
        && account.chars().all(|c| c.is_ascii_digit() || glob(c))
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c) || glob(c))
}

fn patterns(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<ReaperConfig, ConfigError> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        ReaperConfig::from_lookup(|name| vars.get(name).cloned())
    }

    const ENFORCE: &[(&str, &str)] = &[
        (MODE_VAR, "enforce"),
        (TOPIC_ARN_VAR, "arn:aws:sns:eu-west-1:123456789012:reaper"),
        (MARKS_TABLE_VAR, "reaper-marks"),
        (ALLOWED_STACKS_VAR, "feature-*"),
    ];

    #[test]
    fn defaults_when_nothing_is_set() {
        let config = config(&[]).unwrap();
        assert_eq!(config, ReaperConfig::default());
        assert_eq!(config.mode, Mode::Report);
        assert!(!config.disabled);
        assert_eq!(config.grace, 3 * DAY);
        assert_eq!(config.max_deletions, 5);
        assert_eq!(config.default_ttl, 14 * DAY);
        assert_eq!(config.max_lifetime, 60 * DAY);
        assert_eq!(config.protected_patterns().collect::<Vec<_>>(), ["lifeguard-reaper", "lifeguard"]);
        assert_eq!(config.final_notice_lead(), DAY);
    }

    #[test]
    fn reads_every_variable() {
        let mut vars = ENFORCE.to_vec();
        vars.extend([
            (DISABLED_VAR, "TRUE"),
            (ALLOW_REPLAY_VAR, "true"),
            (GRACE_VAR, "36h"),
            (MAX_DELETIONS_VAR, " 2 "),
            (DEFAULT_TTL_VAR, "1w"),
            (MAX_LIFETIME_VAR, "8w"),
            (PROTECTED_STACKS_VAR, " shared-*, ,demo-?? "),
            (OWN_STACK_VAR, "ops-reaper"),
            (PRODUCTION_STACKS_VAR, "prod-*"),
        ]);
        let config = config(&vars).unwrap();
        assert_eq!(config.mode, Mode::Enforce);
        assert!(config.disabled && config.allow_replay);
        assert_eq!(config.grace, Duration::from_hours(36));
        assert_eq!(config.max_deletions, 2);
        assert_eq!(config.default_ttl, 7 * DAY);
        assert_eq!(config.max_lifetime, 56 * DAY);
        assert_eq!(
            config.protected_patterns().collect::<Vec<_>>(),
            ["ops-reaper", "prod-*", "shared-*", "demo-??"]
        );
        assert_eq!(config.protecting_pattern("demo-42"), Some("demo-??"));
        assert_eq!(config.protecting_pattern("lifeguard"), None);
        assert_eq!(config.final_notice_lead(), Duration::from_hours(18));
        assert_eq!(config.marks_table.as_deref(), Some("reaper-marks"));
        assert_eq!(config.allowed_stacks, Some(vec!["feature-*".to_owned()]));
    }

    #[test]
    fn only_listed_service_roles_are_allowed() {
        let roles = config(&[(
            ALLOWED_ROLES_VAR,
            "arn:aws:iam::123456789012:role/lifeguard-feature-*, arn:aws:iam::*:role/ci/deployer",
        )])
        .unwrap();
        assert!(roles.allows_role("arn:aws:iam::123456789012:role/lifeguard-feature-deployer"));
        assert!(roles.allows_role("arn:aws:iam::210987654321:role/ci/deployer"));
        assert!(!roles.allows_role("arn:aws:iam::123456789012:role/admin"));
        assert!(!ReaperConfig::default().allows_role("arn:aws:iam::123456789012:role/lifeguard-feature-x"));
        for bad in [
            "deployer",
            "arn:aws:iam::123456789012:user/deployer",
            "arn:aws:iam:us-east-1:1:role/x",
            "arn:aws:iam::12ab:role/x",
        ] {
            let error = config(&[(ALLOWED_ROLES_VAR, bad)]).unwrap_err().to_string();
            assert!(
                error.contains(ALLOWED_ROLES_VAR) && error.contains("not an IAM role ARN glob"),
                "{error}"
            );
        }
    }

    #[test]
    fn only_allowed_names_may_be_deleted() {
        let config = config(&[(ALLOWED_STACKS_VAR, "feature-*, demo-??")]).unwrap();
        assert!(config.allows("feature-login") && config.allows("demo-42"));
        assert!(!config.allows("demo-420") && !config.allows("prod-feature-x") && !config.allows("feature"));
        let unset = super::ReaperConfig::default();
        assert!(unset.allows("anything"), "report mode without the setting plans every name");
    }

    #[test]
    fn report_mode_may_use_a_short_grace_and_enforce_mode_a_day() {
        assert_eq!(config(&[(GRACE_VAR, "1h")]).unwrap().grace, Duration::from_hours(1));
        let enforce =
            config(&[ENFORCE, &[(GRACE_VAR, "24h"), (MAX_DELETIONS_PER_DAY_VAR, "3")]].concat()).unwrap();
        assert_eq!((enforce.grace, enforce.max_deletions_per_day), (DAY, 3));
        assert_eq!(ReaperConfig::default().max_deletions_per_day, 20);
    }

    #[test]
    fn blank_values_take_the_default() {
        let config = config(&[(GRACE_VAR, " "), (MODE_VAR, "")]).unwrap();
        assert_eq!(config, ReaperConfig::default());
    }

    #[test]
    fn errors_name_the_variable() {
        for (vars, variable, problem) in [
            (vec![(MODE_VAR, "delete")], MODE_VAR, "report or enforce"),
            (vec![(DISABLED_VAR, "yes")], DISABLED_VAR, "true or false"),
            (vec![(GRACE_VAR, "3")], GRACE_VAR, "missing a unit"),
            (vec![(GRACE_VAR, "3m")], GRACE_VAR, "unknown unit"),
            (vec![(MAX_DELETIONS_VAR, "-1")], MAX_DELETIONS_VAR, "whole number"),
            (vec![(DEFAULT_TTL_VAR, "0d")], DEFAULT_TTL_VAR, "more than zero"),
            (vec![(MAX_LIFETIME_VAR, "soon")], MAX_LIFETIME_VAR, "unknown unit"),
            (vec![(DEFAULT_TTL_VAR, "9w")], DEFAULT_TTL_VAR, "REAPER_MAX_LIFETIME (60d)"),
            (vec![(PRODUCTION_STACKS_VAR, " , ")], PRODUCTION_STACKS_VAR, "no pattern"),
            (vec![(TOPIC_ARN_VAR, "reaper-topic")], TOPIC_ARN_VAR, "SNS topic ARN"),
            (vec![(MARKS_TABLE_VAR, "a b")], MARKS_TABLE_VAR, "DynamoDB table"),
            (vec![(MAX_LIFETIME_VAR, "1w")], MAX_LIFETIME_VAR, "REAPER_DEFAULT_TTL (2w)"),
            (
                vec![(MODE_VAR, "enforce")],
                TOPIC_ARN_VAR,
                "required to notify owners when REAPER_MODE=enforce",
            ),
            (ENFORCE[..2].to_vec(), MARKS_TABLE_VAR, "required to keep marks"),
            (ENFORCE[..3].to_vec(), ALLOWED_STACKS_VAR, "required to name the stacks it may delete"),
            (vec![(ALLOWED_STACKS_VAR, " , ")], ALLOWED_STACKS_VAR, "no pattern"),
            (vec![(MAX_DELETIONS_VAR, "101")], MAX_DELETIONS_VAR, "at most 100"),
            (vec![(MAX_DELETIONS_PER_DAY_VAR, "1001")], MAX_DELETIONS_PER_DAY_VAR, "at most 1000"),
            (vec![(MAX_DELETIONS_PER_DAY_VAR, "many")], MAX_DELETIONS_PER_DAY_VAR, "whole number"),
            (vec![(GRACE_VAR, "31d")], GRACE_VAR, "at most 30d"),
            (vec![(MAX_LIFETIME_VAR, "53w")], MAX_LIFETIME_VAR, "at most"),
            ([ENFORCE, &[(GRACE_VAR, "23h")]].concat(), GRACE_VAR, "at least 24h when REAPER_MODE=enforce"),
            (
                vec![(ALLOWED_STACKS_VAR, "feature-*,prod/*")],
                ALLOWED_STACKS_VAR,
                "\"prod/*\" is not a stack-name glob",
            ),
        ] {
            let error = config(&vars).unwrap_err();
            assert_eq!(error.variable, variable, "{error}");
            assert!(error.problem.contains(problem), "{error}");
            assert!(error.to_string().starts_with(variable), "{error}");
        }
    }
}
