//! `lifeguard probe`: runs a check file's checks against a deployed version with the caller's
//! credentials, as the pre-traffic hook would, before any deployment depends on them.

use crate::args::{Flags, load_check_file};
use lifeguard_common::load_config;
use lifeguard_hooks::aws::LambdaClient;
use lifeguard_hooks::hook::Verdict;
use lifeguard_hooks::probe::{ProbeTarget, probe_and_judge};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: lifeguard probe --function NAME --qualifier VERSION [--expect-version VERSION]
                       [--checks FILE] [--key KEY] [--compare-with VERSION] [--json]

Invokes NAME:VERSION with the checks of FILE (default examples/loyalty/checks/checks.yaml) under
functions.KEY (default: NAME; the function's CloudFormation logical id is what the hooks use),
with the caller's credentials, account and region, and judges every answer as the pre-traffic
hook does. VERSION is a published version; for an alias, --expect-version names the version it
must answer from. --compare-with runs the checks' comparisons against that version.

Exit status: 0 when every check passed, 1 when one failed, 2 on bad arguments or a bad file.";

/// Runs the subcommand with its arguments.
pub fn probe(args: impl Iterator<Item = String>) -> ExitCode {
    let flags = match Flags::parse(
        args,
        &["--function", "--qualifier", "--expect-version", "--checks", "--key", "--compare-with"],
        &["--json"],
    ) {
        Ok(Some(flags)) => flags,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => return usage_error(&problem),
    };
    let (Some(function), Some(qualifier)) = (flags.value("--function"), flags.value("--qualifier")) else {
        return usage_error("--function and --qualifier are required");
    };
    let check_file = match load_check_file(flags.value("--checks")) {
        Ok(file) => file,
        Err(problem) => return usage_error(&problem),
    };
    let target = ProbeTarget {
        function,
        qualifier,
        baseline: flags.value("--compare-with"),
        expected_version: Some(flags.value("--expect-version").unwrap_or(qualifier)),
    };
    let key = flags.value("--key");
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
    let judgement = runtime.block_on(async {
        let functions = LambdaClient::new(&load_config().await);
        let deadline = tokio::time::Instant::now() + Duration::from_mins(5);
        probe_and_judge(&functions, &check_file, target, key, deadline).await
    });
    if flags.set("--json") {
        let report = serde_json::json!({
            "verdict": judgement.verdict, "reason": judgement.reason, "probes": judgement.details,
        });
        println!("{report:#}");
    } else {
        println!("{} {function}:{qualifier}: {}", judgement.verdict, judgement.reason);
        for check in &judgement.details.checks {
            let status = if check.passed { "pass" } else { "FAIL" };
            println!(
                "  {status}  {:<24} {} invocation(s)  {}",
                check.name,
                check.invocations,
                check.problems.join("; ")
            );
        }
    }
    if judgement.verdict == Verdict::Succeeded { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn usage_error(problem: &str) -> ExitCode {
    eprintln!("lifeguard probe: {problem}\n\n{USAGE}");
    ExitCode::from(2)
}
