//! Runs checks against one version of a function: concurrently (bounded), each under the hook's
//! deadline, retrying throttled invocations, and judging every answer with [`crate::checks`].

use crate::checks::{Answer, Check, CheckFile, Settings, assess, differences};
use crate::hook::{Judgement, Verdict};
use futures::stream::{self, StreamExt};
use lifeguard_common::AwsError;
use serde::Serialize;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Why an invocation produced no answer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum InvokeError {
    /// Throttling or a server-side fault: worth another try.
    #[error("{0}")]
    Transient(String),
    /// Anything else: the check fails with this message.
    #[error("{0}")]
    Fatal(String),
}

/// The Lambda operations probes use.
pub trait Functions: Sync {
    /// Sends `payload` to `function` at `qualifier` (a version or alias) and waits for its answer.
    fn invoke(
        &self,
        function: &str,
        qualifier: &str,
        payload: &[u8],
    ) -> impl Future<Output = Result<Answer, InvokeError>> + Send;

    /// The CloudFormation logical id among the tags of the function with this (unqualified)
    /// ARN, when it has one. Tags that cannot be read are an error, never "no tags".
    fn logical_id(&self, function_arn: &str)
    -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
}

/// Which function and versions the checks are about.
#[derive(Debug, Clone, Copy)]
pub struct ProbeTarget<'a> {
    /// Function name or ARN.
    pub function: &'a str,
    /// Version (or alias) that must pass.
    pub qualifier: &'a str,
    /// Version the answers are compared with, when there is one.
    pub baseline: Option<&'a str>,
    /// Version expected in `X-Amz-Executed-Version` (for an alias, the version it points at).
    pub expected_version: Option<&'a str>,
}

impl ProbeTarget<'_> {
    /// `version 2`, or `alias live (version 2)`.
    fn describe(&self) -> String {
        match self.expected_version {
            Some(version) => format!("alias {} (version {version})", self.qualifier),
            None => format!("version {}", self.qualifier),
        }
    }
}

/// Result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckOutcome {
    /// The check's name.
    pub name: String,
    /// Whether every answer passed.
    pub passed: bool,
    /// Answers received from the version under test.
    pub invocations: u32,
    /// Wall time of the whole check, in milliseconds.
    pub duration_ms: u64,
    /// Slowest single answer, in milliseconds.
    pub slowest_ms: u64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// What else happened (retries, skipped comparisons).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What a probe run found, for the hook's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeFindings {
    /// The check-file key the checks came from; absent when the default invocation ran.
    pub check_key: Option<String>,
    /// One outcome per check, in file order.
    pub checks: Vec<CheckOutcome>,
}

/// The unqualified ARN of `function` (a name or an ARN, as the AppSpec gives it). A name is
/// placed in the partition, region and account of `own_arn`, the hook's own function ARN:
/// CodeDeploy deploys Lambda functions of its own account and region only.
pub fn function_arn(function: &str, own_arn: &str) -> Result<String, String> {
    let (source, name) = if function.starts_with("arn:") {
        (function, function.split(':').nth(6).unwrap_or_default())
    } else {
        (own_arn, function)
    };
    let parts: Vec<&str> = source.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "lambda", region, account, "function", _, ..]
            if !name.is_empty() && !region.is_empty() && !account.is_empty() =>
        {
            Ok(format!("arn:{partition}:lambda:{region}:{account}:function:{name}"))
        }
        _ if source == function => Err(format!("{function:?} is not a Lambda function ARN")),
        _ => Err(format!(
            "cannot place function {function:?} in an account: the hook's own ARN {own_arn:?} is not a Lambda function ARN"
        )),
    }
}

/// The function's CloudFormation logical id, read once per invocation before `deadline` from the
/// tags of the function's ARN (see [`function_arn`]).
pub async fn logical_id<F: Functions>(
    functions: &F,
    function: &str,
    own_arn: &str,
    deadline: Instant,
) -> Result<Option<String>, String> {
    let arn = function_arn(function, own_arn)?;
    match tokio::time::timeout_at(deadline, functions.logical_id(&arn)).await {
        Ok(Ok(id)) => Ok(id),
        Ok(Err(error)) => Err(format!("cannot read the tags of {arn}: {error}")),
        Err(_) => Err(format!("no time left to read the tags of {arn}")),
    }
}

/// Probes `target` with the checks configured for its function (found by `logical_id` or
/// name) and judges the result: the verdict is `Succeeded` only when every check passed and
/// the version answered at least once.
pub async fn probe_and_judge<F: Functions>(
    functions: &F,
    check_file: &CheckFile,
    target: ProbeTarget<'_>,
    logical_id: Option<&str>,
    deadline: Instant,
) -> Judgement<ProbeFindings> {
    let (checks, check_key) = check_file.checks_for(logical_id, target.function);
    let checks = run_checks(functions, target, &checks, &check_file.settings, deadline).await;
    let invocations: u32 = checks.iter().map(|c| c.invocations).sum();
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{}: {}", c.name, c.problems.join("; ")))
        .collect();
    let (verdict, reason) = if !failed.is_empty() {
        (
            Verdict::Failed,
            format!("{} of {} checks failed: {}", failed.len(), checks.len(), failed.join(" | ")),
        )
    } else if invocations == 0 {
        (Verdict::Failed, format!("{} was never invoked", target.describe()))
    } else {
        let note = if check_key.is_none() { " (no checks configured: default invocation)" } else { "" };
        (
            Verdict::Succeeded,
            format!(
                "{} checks passed on {} in {invocations} invocations{note}",
                checks.len(),
                target.describe()
            ),
        )
    };
    Judgement { verdict, reason, details: ProbeFindings { check_key, checks } }
}

/// A judgement that failed before any probe ran.
pub fn unprobed(reason: String) -> Judgement<ProbeFindings> {
    Judgement {
        verdict: Verdict::Failed,
        reason,
        details: ProbeFindings { check_key: None, checks: Vec::new() },
    }
}

/// First pause after a throttled invocation; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Runs `checks` at most `settings.max_concurrency` at a time; a check unfinished at `deadline`
/// fails. Outcomes come back in the order of `checks`.
pub async fn run_checks<I: Functions>(
    invoker: &I,
    target: ProbeTarget<'_>,
    checks: &[Check],
    settings: &Settings,
    deadline: Instant,
) -> Vec<CheckOutcome> {
    stream::iter(checks)
        .map(|check| run_check(invoker, target, check, settings, deadline))
        .buffered(settings.max_concurrency.max(1))
        .collect()
        .await
}

async fn run_check<I: Functions>(
    invoker: &I,
    target: ProbeTarget<'_>,
    check: &Check,
    settings: &Settings,
    deadline: Instant,
) -> CheckOutcome {
    let started = Instant::now();
    let mut outcome = CheckOutcome {
        name: check.name.clone(),
        passed: false,
        invocations: 0,
        duration_ms: 0,
        slowest_ms: 0,
        problems: Vec::new(),
        notes: Vec::new(),
    };
    let finished =
        tokio::time::timeout_at(deadline, probe(invoker, target, check, settings, &mut outcome)).await;
    if finished.is_err() {
        outcome.problems.push(format!(
            "unfinished at the deadline after {} of {} invocations",
            outcome.invocations, check.repeat
        ));
    }
    outcome.passed = outcome.problems.is_empty() && outcome.invocations > 0;
    outcome.duration_ms = millis(started.elapsed());
    outcome
}

async fn probe<I: Functions>(
    invoker: &I,
    target: ProbeTarget<'_>,
    check: &Check,
    settings: &Settings,
    outcome: &mut CheckOutcome,
) {
    let payload = check.event().to_string().into_bytes();
    let expected_version = target.expected_version.unwrap_or(target.qualifier);
    for run in 1..=check.repeat {
        let label = if check.repeat > 1 { format!("run {run}/{}: ", check.repeat) } else { String::new() };
        let (answer, latency) =
            match invoke_retrying(invoker, target.function, target.qualifier, &payload, outcome).await {
                Ok(answered) => answered,
                Err(error) => {
                    outcome.problems.push(format!("{label}invoke failed: {error}"));
                    return;
                }
            };
        outcome.invocations += 1;
        outcome.slowest_ms = outcome.slowest_ms.max(millis(latency));
        let problems = assess(check, settings, expected_version, &answer, latency);
        outcome.problems.extend(problems.into_iter().map(|p| format!("{label}{p}")));
        if let Some(comparison) = &check.compare_with_current {
            match target.baseline {
                Some(baseline) => {
                    match invoke_retrying(invoker, target.function, baseline, &payload, outcome).await {
                        Ok((current, _)) => outcome.problems.extend(
                            differences(&answer, &current, &comparison.ignore)
                                .into_iter()
                                .map(|d| format!("{label}differs from version {baseline}: {d}")),
                        ),
                        Err(error) => outcome
                            .problems
                            .push(format!("{label}invoking version {baseline} failed: {error}")),
                    }
                }
                None if run == 1 => outcome.notes.push(match target.expected_version {
                    Some(_) => {
                        "comparison with the current version skipped: probes go through the alias".into()
                    }
                    None => "comparison with the current version skipped: there is no current version".into(),
                }),
                None => {}
            }
        }
        if !outcome.problems.is_empty() {
            return;
        }
    }
}

/// Invokes until an answer or a fatal error, backing off after each transient failure; the
/// latency returned is that of the answered attempt.
async fn invoke_retrying<I: Functions>(
    invoker: &I,
    function: &str,
    qualifier: &str,
    payload: &[u8],
    outcome: &mut CheckOutcome,
) -> Result<(Answer, Duration), InvokeError> {
    let mut backoff = FIRST_BACKOFF;
    let mut retries = 0u32;
    loop {
        let sent = Instant::now();
        match invoker.invoke(function, qualifier, payload).await {
            Ok(answer) => {
                if retries > 0 {
                    outcome
                        .notes
                        .push(format!("version {qualifier} answered after {retries} transient failure(s)"));
                }
                return Ok((answer, sent.elapsed()));
            }
            Err(InvokeError::Transient(reason)) => {
                retries += 1;
                tracing::warn!(function, qualifier, retries, %reason, "transient invoke failure, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(fatal) => return Err(fatal),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckFile;
    use serde_json::json;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// One scripted answer: a delay, then the result.
    type Step = (Duration, Result<Answer, InvokeError>);

    /// Answers per version: a queue of steps; the last one repeats.
    #[derive(Default)]
    struct ScriptedInvoker {
        scripts: Mutex<HashMap<String, Vec<Step>>>,
        calls: Mutex<Vec<String>>,
    }

    impl ScriptedInvoker {
        fn script(self, version: &str, steps: Vec<(u64, Result<Answer, InvokeError>)>) -> Self {
            let steps = steps.into_iter().map(|(ms, r)| (Duration::from_millis(ms), r)).collect();
            self.scripts.lock().unwrap().insert(version.into(), steps);
            self
        }
    }

    impl Functions for ScriptedInvoker {
        async fn logical_id(&self, _function_arn: &str) -> Result<Option<String>, AwsError> {
            Ok(None)
        }

        async fn invoke(
            &self,
            _function: &str,
            qualifier: &str,
            _payload: &[u8],
        ) -> Result<Answer, InvokeError> {
            self.calls.lock().unwrap().push(qualifier.to_owned());
            let (delay, result) = {
                let mut scripts = self.scripts.lock().unwrap();
                let steps = scripts.get_mut(qualifier).expect("scripted version");
                if steps.len() > 1 { steps.remove(0) } else { steps[0].clone() }
            };
            tokio::time::sleep(delay).await;
            result
        }
    }

    #[expect(clippy::unnecessary_wraps, reason = "a scripted answer is what the invoker returns")]
    fn ok(version: &str, level: &str) -> Result<Answer, InvokeError> {
        let body = json!({"level": level, "version": version}).to_string();
        Ok(Answer {
            function_error: None,
            executed_version: Some(version.into()),
            payload: json!({"statusCode": 200, "body": body}).to_string().into_bytes(),
        })
    }

    fn checks(yaml: &str) -> (Vec<Check>, Settings) {
        let file = CheckFile::parse(yaml, "test").unwrap();
        (file.functions["F"].clone(), file.settings)
    }

    const TARGET: ProbeTarget<'static> =
        ProbeTarget { function: "f", qualifier: "2", baseline: Some("1"), expected_version: None };

    #[test]
    fn tags_are_read_by_the_unqualified_arn_in_the_hooks_account() {
        let own = "arn:aws:lambda:eu-west-1:111122223333:function:hooks-PreTrafficHook-X1:live";
        assert_eq!(
            function_arn("orders-GetOrder-Y2", own).unwrap(),
            "arn:aws:lambda:eu-west-1:111122223333:function:orders-GetOrder-Y2"
        );
        let named = "arn:aws-cn:lambda:cn-north-1:444455556666:function:orders:7";
        assert_eq!(
            function_arn(named, own).unwrap(),
            "arn:aws-cn:lambda:cn-north-1:444455556666:function:orders"
        );
        assert_eq!(
            function_arn("orders", "pre-traffic").unwrap_err(),
            "cannot place function \"orders\" in an account: the hook's own ARN \"pre-traffic\" is not a Lambda function ARN"
        );
        assert_eq!(
            function_arn("arn:aws:s3:::bucket", own).unwrap_err(),
            "\"arn:aws:s3:::bucket\" is not a Lambda function ARN"
        );
    }

    fn far_deadline() -> Instant {
        Instant::now() + Duration::from_mins(1)
    }

    #[tokio::test(start_paused = true)]
    async fn checks_run_concurrently_so_wall_time_follows_the_slowest() {
        let yaml = (0..8).map(|i| format!("    - name: c{i}\n")).collect::<Vec<_>>().concat();
        let (checks, settings) = checks(&format!("functions:\n  F:\n{yaml}"));
        let invoker = ScriptedInvoker::default().script("2", vec![(300, ok("2", "Gold"))]);
        let started = Instant::now();
        let outcomes = run_checks(&invoker, TARGET, &checks, &settings, far_deadline()).await;
        assert!(outcomes.iter().all(|o| o.passed), "{outcomes:?}");
        assert_eq!(started.elapsed(), Duration::from_millis(300));
        assert_eq!(outcomes.iter().map(|o| o.name.as_str()).collect::<Vec<_>>()[..2], ["c0", "c1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_bounded() {
        let yaml = (0..4).map(|i| format!("    - name: c{i}\n")).collect::<Vec<_>>().concat();
        let (checks, settings) =
            checks(&format!("settings: {{maxConcurrency: 2}}\nfunctions:\n  F:\n{yaml}"));
        let invoker = ScriptedInvoker::default().script("2", vec![(100, ok("2", "Gold"))]);
        let started = Instant::now();
        run_checks(&invoker, TARGET, &checks, &settings, far_deadline()).await;
        assert_eq!(started.elapsed(), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_invocations_are_retried_and_noted() {
        let (checks, settings) =
            checks("functions:\n  F:\n    - name: a\n      expect: {maxLatencyMs: 100}\n");
        let throttled = Err(InvokeError::Transient("TooManyRequestsException".into()));
        let invoker = ScriptedInvoker::default()
            .script("2", vec![(5, throttled.clone()), (5, throttled), (20, ok("2", "Gold"))]);
        let outcome = &run_checks(&invoker, TARGET, &checks, &settings, far_deadline()).await[0];
        assert!(outcome.passed, "{outcome:?}");
        assert_eq!(outcome.slowest_ms, 20, "latency counts the answered attempt only");
        assert_eq!(outcome.notes, vec!["version 2 answered after 2 transient failure(s)"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_unfinished_at_the_deadline_fails() {
        let (checks, settings) = checks("functions:\n  F:\n    - name: slow\n      repeat: 3\n");
        let invoker = ScriptedInvoker::default().script("2", vec![(400, ok("2", "Gold"))]);
        let deadline = Instant::now() + Duration::from_secs(1);
        let outcome = &run_checks(&invoker, TARGET, &checks, &settings, deadline).await[0];
        assert!(!outcome.passed);
        assert_eq!(outcome.problems, vec!["unfinished at the deadline after 2 of 3 invocations"]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_alias_answer_that_does_not_name_its_version_fails() {
        let (checks, settings) = checks("functions:\n  F:\n    - name: a\n");
        let mut unnamed = ok("2", "Gold").unwrap();
        unnamed.executed_version = None;
        let invoker = ScriptedInvoker::default().script("live", vec![(1, Ok(unnamed))]);
        let alias =
            ProbeTarget { function: "f", qualifier: "live", baseline: None, expected_version: Some("2") };
        let outcome = &run_checks(&invoker, alias, &checks, &settings, far_deadline()).await[0];
        assert!(!outcome.passed, "{outcome:?}");
        assert_eq!(
            outcome.problems,
            vec!["answer without X-Amz-Executed-Version: cannot tell that the target version 2 answered"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn fatal_errors_fail_the_check() {
        let (checks, settings) = checks("functions:\n  F:\n    - name: a\n");
        let invoker =
            ScriptedInvoker::default().script("2", vec![(1, Err(InvokeError::Fatal("denied".into())))]);
        let outcome = &run_checks(&invoker, TARGET, &checks, &settings, far_deadline()).await[0];
        assert_eq!((outcome.passed, outcome.invocations), (false, 0));
        assert_eq!(outcome.problems, vec!["invoke failed: denied"]);
    }

    #[tokio::test(start_paused = true)]
    async fn differential_checks_compare_with_the_baseline_or_say_why_not() {
        let yaml =
            "functions:\n  F:\n    - name: same\n      compareWithCurrent: {ignore: [/body/version]}\n";
        let (checks, settings) = checks(yaml);
        let invoker = ScriptedInvoker::default()
            .script("2", vec![(1, ok("2", "Silver"))])
            .script("1", vec![(1, ok("1", "Gold"))]);
        let outcome = &run_checks(&invoker, TARGET, &checks, &settings, far_deadline()).await[0];
        assert_eq!(
            outcome.problems,
            vec!["differs from version 1: /body/level: \"Silver\" in target, \"Gold\" in current"]
        );

        let first_deploy = ProbeTarget { baseline: None, ..TARGET };
        let outcome = &run_checks(&invoker, first_deploy, &checks, &settings, far_deadline()).await[0];
        assert!(outcome.passed);
        assert_eq!(
            outcome.notes,
            vec!["comparison with the current version skipped: there is no current version"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn repeats_stop_at_the_first_failing_answer() {
        let (checks, settings) = checks(
            "functions:\n  F:\n    - name: a\n      repeat: 5\n      expect: {values: {/body/level: Gold}}\n",
        );
        let invoker =
            ScriptedInvoker::default().script("2", vec![(1, ok("2", "Gold")), (1, ok("2", "Silver"))]);
        let outcome = &run_checks(&invoker, TARGET, &checks, &settings, far_deadline()).await[0];
        assert_eq!(outcome.invocations, 2);
        assert_eq!(outcome.problems, vec!["run 2/5: /body/level is \"Silver\", expected \"Gold\""]);
        assert_eq!(invoker.calls.lock().unwrap().len(), 2);
    }
}
