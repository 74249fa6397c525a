//! `lifeguard analyze`: the post-traffic rules on two versions of a function over the last minutes,
//! with the caller's credentials, as the post-traffic hook and the in-flight judge would judge them.

use crate::args::{Flags, load_check_file};
use lifeguard_common::load_config;
use lifeguard_common::time::Timestamp;
use lifeguard_hooks::analysis::judge::RuleResult;
use lifeguard_hooks::aws::CloudWatchClient;
use lifeguard_hooks::metrics::{AnalysisFindings, Subject, analyse};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: lifeguard analyze --function NAME --canary VERSION --baseline VERSION [--alias ALIAS]
                         [--since DURATION] [--checks FILE] [--key KEY] [--json]

Judges VERSION (canary) against VERSION (baseline) of NAME through ALIAS (default live) on their
AWS/Lambda metrics of the last DURATION (default 30m; e.g. 90m, 2h), with the rules of FILE
(default examples/loyalty/checks/checks.yaml) under analysis.KEY (default: NAME; without an entry,
the default rules), with the caller's credentials, account and region. Prints each rule's values,
samples, test, p-value, effect, what it could have detected, and its decision.

Exit status: 0 when no rule fails, 1 when one does, 2 on bad arguments or a bad file, 3 when
CloudWatch could not be read.";

/// Runs the subcommand with its arguments.
pub fn analyze(args: impl Iterator<Item = String>) -> ExitCode {
    let options = ["--function", "--canary", "--baseline", "--alias", "--since", "--checks", "--key"];
    let flags = match Flags::parse(args, &options, &["--json"]) {
        Ok(Some(flags)) => flags,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => return usage_error(&problem),
    };
    let (Some(function), Some(canary), Some(baseline)) =
        (flags.value("--function"), flags.value("--canary"), flags.value("--baseline"))
    else {
        return usage_error("--function, --canary and --baseline are required");
    };
    let Some(since) = minutes_or_hours(flags.value("--since").unwrap_or("30m")) else {
        return usage_error("--since: a whole number of minutes or hours (30m, 2h), at most 15 days");
    };
    let check_file = match load_check_file(flags.value("--checks")) {
        Ok(file) => file,
        Err(problem) => return usage_error(&problem),
    };
    let (rules, _) = check_file.analysis_for(flags.value("--key"), function);
    let subject = Subject { function, alias: flags.value("--alias").unwrap_or("live"), baseline, canary };
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
    let findings = runtime.block_on(async {
        let metrics = CloudWatchClient::new(&load_config().await);
        let now = Timestamp::now();
        analyse(&metrics, &rules, &subject, Some(now.minus(since)), now).await
    });
    let findings = match findings {
        Ok(findings) => findings,
        Err(error) => {
            eprintln!("lifeguard analyze: cannot read {function}'s metrics: {error}");
            return ExitCode::from(3);
        }
    };
    if flags.set("--json") {
        println!("{}", serde_json::to_string_pretty(&findings).expect("findings serialize"));
    } else {
        print!("{}", table(&subject, &findings));
    }
    if findings.failed().next().is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// `30m` or `2h`: from a minute to the 15 days CloudWatch keeps one-minute data.
fn minutes_or_hours(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let number: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let duration = match unit {
        "m" => Duration::from_mins(number),
        "h" => Duration::from_hours(number),
        _ => return None,
    };
    (duration <= Duration::from_hours(15 * 24)).then_some(duration)
}

fn usage_error(problem: &str) -> ExitCode {
    eprintln!("lifeguard analyze: {problem}\n\n{USAGE}");
    ExitCode::from(2)
}

/// The rules as a table for people, each with its one-line reason.
fn table(subject: &Subject<'_>, findings: &AnalysisFindings) -> String {
    let mut text = format!(
        "{} version {} (canary) against {} (baseline) through {}, {} minutes:\n",
        subject.function,
        subject.canary,
        subject.baseline,
        subject.alias,
        findings.window.periods()
    );
    for rule in &findings.rules {
        writeln!(text, "  {:<13} {:<13} {}", outcome(rule), rule.rule, rule.reason)
            .expect("writing to a String");
    }
    text
}

fn outcome(rule: &RuleResult) -> String {
    format!("{}/{}", rule.decision, rule.outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_minutes_or_hours() {
        assert_eq!(minutes_or_hours("30m"), Some(Duration::from_mins(30)));
        assert_eq!(minutes_or_hours("2h"), Some(Duration::from_hours(2)));
        for bad in ["", "m", "0m", "30", "1d", "-5m", "361h"] {
            assert_eq!(minutes_or_hours(bad), None, "{bad}");
        }
    }
}
