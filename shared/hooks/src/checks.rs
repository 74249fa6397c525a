//! Declarative probe checks: the check file's model, its validation, and the pure judgement of
//! one response against a check.
//!
//! One file serves every stack of an application: checks are keyed by the function's
//! CloudFormation logical id (the same in every stack), or by its function name.

use crate::analysis::rules::{Rule, default_rules, validate_rules};
use crate::http_event::HttpRequest;
use crate::matchers::Matcher;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// The check file's JSON Schema (draft 2020-12), for editors and CI: its shape only; [`CheckFile::parse`]
/// also checks what a schema cannot.
pub const CHECK_FILE_SCHEMA: &str = include_str!("../check-file.schema.json");

/// Name given to the check run when a function has none configured.
pub const DEFAULT_CHECK_NAME: &str = "default-invoke";

/// The check file: settings plus checks per function.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckFile {
    /// Settings that apply to every function.
    #[serde(default)]
    pub settings: Settings,
    /// Checks keyed by CloudFormation logical id or function name.
    #[serde(default)]
    pub functions: BTreeMap<String, Vec<Check>>,
    /// Post-traffic analysis, keyed like `functions`.
    #[serde(default)]
    pub analysis: BTreeMap<String, FunctionAnalysis>,
}

/// What the post-traffic hook judges for one function besides its probes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FunctionAnalysis {
    /// Alarms that must not be in `ALARM`, besides the deployment group's own.
    #[serde(default)]
    pub alarms: Vec<String>,
    /// Canary-versus-baseline rules; [`default_rules`] when unset.
    #[serde(default)]
    pub rules: Option<Vec<Rule>>,
}

/// The entry for a function in a map keyed by logical id or function name.
fn find<'a, T>(
    map: &'a BTreeMap<String, T>,
    logical_id: Option<&str>,
    name: &str,
) -> Option<(&'a String, &'a T)> {
    logical_id.and_then(|id| map.get_key_value(id)).or_else(|| map.get_key_value(name))
}

/// Settings from the check file's `settings` key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    /// How many checks run at once.
    #[serde(default = "default_concurrency")]
    pub max_concurrency: usize,
    /// Latency budget for checks that set none, in milliseconds.
    #[serde(default)]
    pub default_max_latency_ms: Option<u64>,
}

fn default_concurrency() -> usize {
    8
}

impl Default for Settings {
    fn default() -> Self {
        Self { max_concurrency: default_concurrency(), default_max_latency_ms: None }
    }
}

/// One probe: a payload sent to the target version, and what its answer must satisfy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Check {
    /// Name shown in reports.
    pub name: String,
    /// Event sent to the function (`{}` when neither it nor `http` is set).
    #[serde(default)]
    pub payload: Option<Value>,
    /// An HTTP request, sent as the API Gateway event it makes ([`crate::http_event`]); instead
    /// of `payload`.
    #[serde(default)]
    pub http: Option<HttpRequest>,
    /// How many times the payload is sent; every answer must pass.
    #[serde(default = "one")]
    pub repeat: u32,
    /// Assertions on each answer.
    #[serde(default)]
    pub expect: Expectations,
    /// Also invoke the current version and require the same answer (read-only payloads only).
    #[serde(default)]
    pub compare_with_current: Option<Comparison>,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

impl Check {
    /// The event sent to the function: `payload`, the `http` request's event, or `{}`.
    pub fn event(&self) -> Value {
        match (&self.payload, &self.http) {
            (Some(payload), _) => payload.clone(),
            (None, Some(request)) => request.event(),
            (None, None) => empty_object(),
        }
    }
}

fn one() -> u32 {
    1
}

/// Assertions on an answer. An answer carrying a `FunctionError` always fails.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expectations {
    /// Required API-Gateway-style `statusCode`.
    #[serde(default)]
    pub status_code: Option<u16>,
    /// Required values at JSON pointers (a `body` holding JSON text is decoded first).
    #[serde(default)]
    pub values: BTreeMap<String, Value>,
    /// Conditions beyond equality at JSON pointers ([`crate::matchers`]).
    #[serde(default)]
    pub matches: BTreeMap<String, Matcher>,
    /// Response headers (API Gateway style `headers`, or `multiValueHeaders`' first value; names
    /// compared without case): a string to equal, or a matcher.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderExpectation>,
    /// Latency budget for each invocation, in milliseconds.
    #[serde(default)]
    pub max_latency_ms: Option<u64>,
}

/// What a response header must be.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum HeaderExpectation {
    /// Exactly this text.
    Equals(String),
    /// Conditions on it.
    Matches(Matcher),
}

impl HeaderExpectation {
    fn matcher(&self) -> Matcher {
        match self {
            HeaderExpectation::Equals(text) => {
                Matcher { equals: Some(Value::String(text.clone())), ..Matcher::default() }
            }
            HeaderExpectation::Matches(matcher) => matcher.clone(),
        }
    }
}

/// A differential check against the current version.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Comparison {
    /// JSON pointers whose values may differ between versions.
    #[serde(default)]
    pub ignore: Vec<String>,
}

/// A check file that cannot be used; the message names the place and the problem.
#[derive(Debug, thiserror::Error)]
#[error("check file {source_name}: {problem}")]
pub struct CheckFileError {
    /// Where the file came from.
    pub source_name: String,
    /// What is wrong.
    pub problem: String,
}

/// Most repeats one check may ask for.
const MAX_REPEAT: u32 = 100;
/// Most checks that may run at once.
const MAX_CONCURRENCY: usize = 64;

impl CheckFile {
    /// Parses and validates a check file (YAML, or JSON which is also YAML).
    pub fn parse(text: &str, source_name: &str) -> Result<Self, CheckFileError> {
        let error = |problem: String| CheckFileError { source_name: source_name.to_owned(), problem };
        let file: CheckFile = crate::yaml::from_str(text).map_err(|e| error(e.to_string()))?;
        file.validate().map_err(error)?;
        Ok(file)
    }

    /// Reads and parses the check file at `path`.
    pub fn load(path: &str) -> Result<Self, CheckFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| CheckFileError {
            source_name: path.to_owned(),
            problem: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, path)
    }

    fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_CONCURRENCY).contains(&self.settings.max_concurrency) {
            return Err(format!("settings.maxConcurrency must be between 1 and {MAX_CONCURRENCY}"));
        }
        if self.settings.default_max_latency_ms == Some(0) {
            return Err("settings.defaultMaxLatencyMs must be positive".into());
        }
        for (function, checks) in &self.functions {
            let mut names = HashSet::new();
            for (i, check) in checks.iter().enumerate() {
                let at = format!("functions.{function}[{i}]");
                if check.name.trim().is_empty() {
                    return Err(format!("{at}.name must not be empty"));
                }
                if !names.insert(check.name.as_str()) {
                    return Err(format!("{at}.name {:?} is used twice", check.name));
                }
                if !(1..=MAX_REPEAT).contains(&check.repeat) {
                    return Err(format!("{at}.repeat must be between 1 and {MAX_REPEAT}"));
                }
                if check.expect.max_latency_ms == Some(0) {
                    return Err(format!("{at}.expect.maxLatencyMs must be positive"));
                }
                if check.payload.is_some() && check.http.is_some() {
                    return Err(format!("{at}: payload and http are two ways to give the event; keep one"));
                }
                if let Some(problem) = check.http.as_ref().and_then(HttpRequest::problem) {
                    return Err(format!("{at}.http: {problem}"));
                }
                let matchers =
                    check.expect.matches.iter().map(|(key, m)| (format!("matches.{key}"), m.clone()));
                let headers =
                    check.expect.headers.iter().map(|(key, h)| (format!("headers.{key}"), h.matcher()));
                for (key, matcher) in matchers.chain(headers) {
                    if let Some(problem) = matcher.problem() {
                        return Err(format!("{at}.expect.{key}: {problem}"));
                    }
                }
                let ignored = check.compare_with_current.iter().flat_map(|c| &c.ignore);
                for pointer in check.expect.values.keys().chain(check.expect.matches.keys()).chain(ignored) {
                    if !pointer.starts_with('/') {
                        return Err(format!(
                            "{at}: {pointer:?} is not a JSON pointer (it must start with '/')"
                        ));
                    }
                }
            }
        }
        for (function, analysis) in &self.analysis {
            if let Some(rules) = &analysis.rules {
                validate_rules(rules).map_err(|problem| format!("analysis.{function}.rules: {problem}"))?;
            }
            if analysis.alarms.iter().any(|alarm| alarm.trim().is_empty()) {
                return Err(format!("analysis.{function}.alarms: alarm names must not be empty"));
            }
        }
        Ok(())
    }

    /// The alarms and rules for a function's post-traffic analysis.
    pub fn analysis_for(&self, logical_id: Option<&str>, function_name: &str) -> (Vec<Rule>, Vec<String>) {
        match find(&self.analysis, logical_id, function_name) {
            Some((_, analysis)) => {
                (analysis.rules.clone().unwrap_or_else(default_rules), analysis.alarms.clone())
            }
            None => (default_rules(), Vec::new()),
        }
    }

    /// The checks for a function, found by logical id first, then by name; when none are
    /// configured, one invocation with `{}` that must not raise a function error.
    pub fn checks_for(&self, logical_id: Option<&str>, function_name: &str) -> (Vec<Check>, Option<String>) {
        let configured =
            find(&self.functions, logical_id, function_name).filter(|(_, checks)| !checks.is_empty());
        match configured {
            Some((key, checks)) => (checks.clone(), Some(key.clone())),
            None => (
                vec![Check {
                    name: DEFAULT_CHECK_NAME.into(),
                    payload: None,
                    http: None,
                    repeat: 1,
                    expect: Expectations::default(),
                    compare_with_current: None,
                }],
                None,
            ),
        }
    }
}

/// An answer from one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `X-Amz-Function-Error`, when the function failed.
    pub function_error: Option<String>,
    /// `X-Amz-Executed-Version`, when Lambda sent it.
    pub executed_version: Option<String>,
    /// The response payload.
    pub payload: Vec<u8>,
}

/// The payload as JSON, with a `body` that holds JSON text decoded in place.
pub fn decode(payload: &[u8]) -> Value {
    let mut value: Value = serde_json::from_slice(payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()));
    let decoded_body = value.get("body").and_then(Value::as_str).and_then(|b| serde_json::from_str(b).ok());
    if let Some(body) = decoded_body {
        value["body"] = body;
    }
    value
}

/// What is wrong with one answer of the target version; empty when it passes.
pub fn assess(
    check: &Check,
    settings: &Settings,
    target_version: &str,
    answer: &Answer,
    latency: Duration,
) -> Vec<String> {
    let mut problems = Vec::new();
    let body = decode(&answer.payload);
    if let Some(kind) = &answer.function_error {
        let message = body.get("errorMessage").and_then(Value::as_str).unwrap_or("no message");
        problems.push(format!("function error ({kind}): {message}"));
    }
    match answer.executed_version.as_deref() {
        Some(executed) if executed == target_version => {}
        Some(executed) => {
            problems.push(format!("answered by version {executed}, not the target version {target_version}"));
        }
        None => problems.push(format!(
            "answer without X-Amz-Executed-Version: cannot tell that the target version {target_version} answered"
        )),
    }
    if let Some(expected) = check.expect.status_code {
        match body.get("statusCode") {
            Some(actual) if actual.as_u64() == Some(u64::from(expected)) => {}
            Some(actual) => problems.push(format!("statusCode {actual}, expected {expected}")),
            None => problems.push(format!("no statusCode in the answer, expected {expected}")),
        }
    }
    for (pointer, expected) in &check.expect.values {
        match body.pointer(pointer) {
            Some(actual) if actual == expected => {}
            Some(actual) => problems.push(format!("{pointer} is {actual}, expected {expected}")),
            None => problems.push(format!("{pointer} is missing, expected {expected}")),
        }
    }
    for (pointer, matcher) in &check.expect.matches {
        problems
            .extend(matcher.mismatches(body.pointer(pointer)).into_iter().map(|m| format!("{pointer} {m}")));
    }
    for (name, expected) in &check.expect.headers {
        let actual = header(&body, name);
        problems.extend(
            expected.matcher().mismatches(actual.as_ref()).into_iter().map(|m| format!("header {name} {m}")),
        );
    }
    if let Some(budget) = check.expect.max_latency_ms.or(settings.default_max_latency_ms) {
        let took = latency.as_millis();
        if took > u128::from(budget) {
            problems.push(format!("took {took} ms, over the {budget} ms budget"));
        }
    }
    problems
}

/// A response header by name, without case: from `headers`, else the first of
/// `multiValueHeaders`.
fn header(answer: &Value, name: &str) -> Option<Value> {
    let find = |field: &str| {
        answer
            .get(field)?
            .as_object()?
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    find("headers").or_else(|| match find("multiValueHeaders")? {
        Value::Array(values) => values.into_iter().next(),
        other => Some(other),
    })
}

/// Where the target's answer differs from the current version's, ignoring the listed pointers.
pub fn differences(target: &Answer, current: &Answer, ignore: &[String]) -> Vec<String> {
    let strip = |answer: &Answer| {
        let mut value = decode(&answer.payload);
        for pointer in ignore {
            remove_pointer(&mut value, pointer);
        }
        value
    };
    let mut found = Vec::new();
    diff_values(&strip(target), &strip(current), String::new(), &mut found);
    if target.function_error != current.function_error {
        found
            .insert(0, format!("function error {:?} vs {:?}", target.function_error, current.function_error));
    }
    found
}

fn remove_pointer(value: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else { return };
    let last = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Some(item) = last.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *item = Value::Null;
            }
        }
        _ => {}
    }
}

/// Most differences listed for one comparison.
const MAX_DIFFERENCES: usize = 5;

fn diff_values(target: &Value, current: &Value, at: String, found: &mut Vec<String>) {
    if found.len() >= MAX_DIFFERENCES {
        return;
    }
    match (target, current) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let child = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff_values(x, y, child, found),
                    (Some(x), None) => found.push(format!("{child}: {x} in target, absent in current")),
                    (None, Some(y)) => found.push(format!("{child}: absent in target, {y} in current")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_values(x, y, format!("{at}/{i}"), found);
            }
        }
        _ if target != current => {
            let at = if at.is_empty() { "/".to_owned() } else { at };
            found.push(format!("{at}: {target} in target, {current} in current"));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FILE: &str = r"
settings:
  maxConcurrency: 4
functions:
  LoyaltyFunction:
    - name: gold-member
      payload: {customerId: alice}
      repeat: 2
      expect:
        statusCode: 200
        maxLatencyMs: 500
        values:
          /body/level: Gold
          /body/points: 1200
      compareWithCurrent:
        ignore: [/body/version]
";

    fn answer(payload: &Value) -> Answer {
        Answer {
            function_error: None,
            executed_version: Some("2".into()),
            payload: payload.to_string().into_bytes(),
        }
    }

    fn gold(level: &str, version: &str) -> Value {
        let body = json!({"points": 1200, "level": level, "version": version});
        json!({"statusCode": 200, "body": body.to_string()})
    }

    fn parsed() -> CheckFile {
        CheckFile::parse(FILE, "checks.yaml").unwrap()
    }

    #[test]
    fn parses_and_finds_checks_by_logical_id_then_name() {
        let file = parsed();
        assert_eq!(file.settings.max_concurrency, 4);
        let (checks, key) = file.checks_for(Some("LoyaltyFunction"), "app-feature-LoyaltyFunction-AB12");
        assert_eq!((checks.len(), key.as_deref()), (1, Some("LoyaltyFunction")));
        assert_eq!(checks[0].repeat, 2);
        let (by_name, _) = file.checks_for(None, "LoyaltyFunction");
        assert_eq!(by_name[0].name, "gold-member");
    }

    #[test]
    fn unconfigured_function_still_gets_one_invocation() {
        let (checks, key) = parsed().checks_for(Some("Other"), "other-fn");
        assert_eq!((checks.len(), key), (1, None));
        assert_eq!(checks[0].name, DEFAULT_CHECK_NAME);
        assert_eq!(checks[0].event(), json!({}));
    }

    #[test]
    fn malformed_files_name_the_problem() {
        let cases = [
            ("functions: [", "checks.yaml: "),
            ("functions:\n  F:\n    - name: a\n      expct: {}\n", "unknown field `expct`"),
            (
                "functions:\n  F:\n    - name: a\n      repeat: 0\n",
                "functions.F[0].repeat must be between 1 and 100",
            ),
            ("functions:\n  F:\n    - name: a\n    - name: a\n", "functions.F[1].name \"a\" is used twice"),
            (
                "functions:\n  F:\n    - name: a\n      expect: {values: {body/level: Gold}}\n",
                "functions.F[0]: \"body/level\" is not a JSON pointer",
            ),
            ("settings: {maxConcurrency: 0}\n", "settings.maxConcurrency must be between 1 and 64"),
            ("functions:\n  F:\n    - name: a\n      expect: {statusCode: ok}\n", "statusCode"),
            (
                "functions:\n  F:\n    - name: a\n      payload: {}\n      http: {method: GET, path: /}\n",
                "functions.F[0]: payload and http are two ways to give the event; keep one",
            ),
            (
                "functions:\n  F:\n    - name: a\n      http: {method: FETCH, path: /}\n",
                "functions.F[0].http: method \"FETCH\": expected one of GET",
            ),
            (
                "functions:\n  F:\n    - name: a\n      expect: {matches: {/body/id: {regex: '['}}}\n",
                "functions.F[0].expect.matches./body/id: regex \"[\" is not a regular expression",
            ),
            (
                "functions:\n  F:\n    - name: a\n      expect: {headers: {ETag: {min: 3, max: 1}}}\n",
                "functions.F[0].expect.headers.ETag: min 3 is above max 1",
            ),
            (
                "functions:\n  F:\n    - name: a\n      expect: {matches: {body/id: {exists: true}}}\n",
                "functions.F[0]: \"body/id\" is not a JSON pointer",
            ),
        ];
        for (text, expected) in cases {
            let error = CheckFile::parse(text, "checks.yaml").unwrap_err().to_string();
            assert!(error.starts_with("check file checks.yaml: "), "{error}");
            assert!(error.contains(expected), "{text:?}: got {error:?}, expected {expected:?}");
        }
    }

    #[test]
    fn passing_answer_has_no_problems() {
        let file = parsed();
        let check = &file.functions["LoyaltyFunction"][0];
        let problems =
            assess(check, &file.settings, "2", &answer(&gold("Gold", "2")), Duration::from_millis(40));
        assert_eq!(problems, Vec::<String>::new());
    }

    #[test]
    fn an_answer_that_does_not_say_which_version_ran_fails() {
        let file = parsed();
        let check = &file.functions["LoyaltyFunction"][0];
        let mut unnamed = answer(&gold("Gold", "2"));
        unnamed.executed_version = None;
        let problems = assess(check, &file.settings, "2", &unnamed, Duration::from_millis(40));
        assert_eq!(
            problems,
            ["answer without X-Amz-Executed-Version: cannot tell that the target version 2 answered"]
        );
    }

    #[test]
    fn every_assertion_can_fail() {
        let file = parsed();
        let check = &file.functions["LoyaltyFunction"][0];
        let mut bad =
            answer(&json!({"statusCode": 500, "body": "{\"level\":\"Silver\"}", "errorMessage": "boom"}));
        bad.function_error = Some("Unhandled".into());
        bad.executed_version = Some("1".into());
        let problems = assess(check, &file.settings, "2", &bad, Duration::from_millis(501));
        assert_eq!(
            problems,
            vec![
                "function error (Unhandled): boom",
                "answered by version 1, not the target version 2",
                "statusCode 500, expected 200",
                "/body/level is \"Silver\", expected \"Gold\"",
                "/body/points is missing, expected 1200",
                "took 501 ms, over the 500 ms budget",
            ]
        );
    }

    #[test]
    fn default_latency_budget_applies_when_check_sets_none() {
        let settings = Settings { default_max_latency_ms: Some(100), ..Settings::default() };
        let (checks, _) = CheckFile::default().checks_for(None, "f");
        let problems = assess(&checks[0], &settings, "2", &answer(&json!(null)), Duration::from_millis(150));
        assert_eq!(problems, vec!["took 150 ms, over the 100 ms budget"]);
    }

    #[test]
    fn differential_ignores_listed_pointers_only() {
        let ignore = vec!["/body/version".to_owned()];
        assert!(differences(&answer(&gold("Gold", "2")), &answer(&gold("Gold", "1")), &ignore).is_empty());
        assert_eq!(
            differences(&answer(&gold("Silver", "2")), &answer(&gold("Gold", "1")), &ignore),
            vec!["/body/level: \"Silver\" in target, \"Gold\" in current"]
        );
        assert_eq!(differences(&answer(&gold("Gold", "2")), &answer(&gold("Gold", "1")), &[]).len(), 1);
    }

    #[test]
    fn the_shipped_check_file_is_valid() {
        let file = CheckFile::parse(
            include_str!("../../../examples/loyalty/checks/checks.yaml"),
            "examples/loyalty/checks/checks.yaml",
        )
        .unwrap();
        assert!(!file.functions["LoyaltyFunction"].is_empty());
    }

    #[test]
    fn decode_keeps_non_json_bodies() {
        assert_eq!(decode(br#"{"body":"plain"}"#), json!({"body": "plain"}));
        assert_eq!(decode(b"not json"), json!("not json"));
    }
}
