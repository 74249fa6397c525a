//! `lifeguard plan`: reads a function's traffic of the last days from CloudWatch (the caller's
//! credentials, account and region) and says which deployment preferences can detect a given
//! error-rate effect at that traffic, and from which minute the in-flight judge would.

use crate::args::Flags;
use lifeguard_common::load_config;
use lifeguard_common::time::Timestamp;
use lifeguard_hooks::analysis::planning::{PreferencePlan, plans};
use lifeguard_hooks::analysis::power::POWER;
use lifeguard_hooks::aws::CloudWatchClient;
use lifeguard_hooks::metrics::{FunctionTraffic, function_traffic};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: lifeguard plan --function NAME [--effect RATIO] [--alpha ALPHA] [--days DAYS] [--json]

Reads NAME's invocations and errors of the last DAYS days (default 7; AWS/Lambda, dimension
FunctionName) with the caller's credentials, account and region, and for each of CodeDeploy's
predefined Lambda deployment preferences says how many invocations canary and baseline get while
traffic shifts, the smallest error-rate ratio the error-rate rule detects at ALPHA (default 0.01)
with 80% power, whether that reaches RATIO (default 2), and from which minute of the shift the
in-flight judge would; and whether per-minute (latency) rules can reach ALPHA at all.

Exit status: 0 when it ran, 1 when CloudWatch could not be read, 2 on bad arguments.";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
struct Arguments {
    function: String,
    effect: f64,
    alpha: f64,
    days: u32,
    json: bool,
}

/// Reads the arguments; `Ok(None)` asks for the usage text.
fn parse_arguments(args: impl Iterator<Item = String>) -> Result<Option<Arguments>, String> {
    let Some(flags) = Flags::parse(args, &["--function", "--effect", "--alpha", "--days"], &["--json"])?
    else {
        return Ok(None);
    };
    let function = flags.value("--function").ok_or("--function is required")?.to_owned();
    let effect = flags
        .value("--effect")
        .map_or(Ok(2.0), |text| number(text, "--effect", |v| v > 1.0, "a ratio above 1"))?;
    let alpha = flags
        .value("--alpha")
        .map_or(Ok(0.01), |text| number(text, "--alpha", |v| v > 0.0 && v < 1.0, "between 0 and 1"))?;
    let days = match flags.value("--days") {
        None => 7,
        Some(text) => text.parse().ok().filter(|d| (1..=15).contains(d)).ok_or(format!(
            "--days {text:?}: a whole number of days from 1 to 15 (CloudWatch keeps minutes 15 days)"
        ))?,
    };
    Ok(Some(Arguments { function, effect, alpha, days, json: flags.set("--json") }))
}

fn number(text: &str, name: &str, valid: impl Fn(f64) -> bool, expected: &str) -> Result<f64, String> {
    text.trim_end_matches('x')
        .parse()
        .ok()
        .filter(|v: &f64| valid(*v))
        .ok_or(format!("{name} {text:?}: {expected}"))
}

/// Runs the subcommand with its arguments.
pub fn plan(args: impl Iterator<Item = String>) -> ExitCode {
    let arguments = match parse_arguments(args) {
        Ok(Some(arguments)) => arguments,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("lifeguard plan: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
    let traffic = runtime.block_on(async {
        let sdk = load_config().await;
        let now = Timestamp::now();
        let since = now.minus(Duration::from_hours(24 * u64::from(arguments.days)));
        function_traffic(&CloudWatchClient::new(&sdk), &arguments.function, since, now).await
    });
    let traffic = match traffic {
        Ok(traffic) => traffic,
        Err(error) => {
            eprintln!("lifeguard plan: cannot read {}'s metrics: {error}", arguments.function);
            return ExitCode::from(1);
        }
    };
    let plans = plans(traffic.per_minute(), traffic.error_rate(), arguments.alpha, arguments.effect);
    if arguments.json {
        let report = serde_json::json!({"function": arguments.function, "traffic": traffic, "plans": plans});
        println!("{report:#}");
    } else {
        print!("{}", table(&arguments, &traffic, &plans));
    }
    ExitCode::SUCCESS
}

/// The plans as a table for people.
fn table(arguments: &Arguments, traffic: &FunctionTraffic, plans: &[PreferencePlan]) -> String {
    let mut text = format!(
        "{}: {} invocations, {} errors ({:.2}%) in {} days: {:.1} a minute\n\
         error-rate rule at alpha {}, {:.0}% power, effect {}x:\n\n",
        arguments.function,
        traffic.invocations,
        traffic.errors,
        traffic.error_rate() * 100.0,
        arguments.days,
        traffic.per_minute(),
        arguments.alpha,
        POWER * 100.0,
        arguments.effect
    );
    writeln!(
        text,
        "{:<30} {:>7} {:>10} {:>10} {:>11} {:>8} {:>10} latency rules",
        "preference", "minutes", "canary", "baseline", "detectable", "detects", "in-flight"
    )
    .expect("writing to a String");
    for plan in plans {
        let detectable =
            plan.detectable_ratio.map_or_else(|| "none".to_owned(), |ratio| format!("{ratio:.2}x"));
        let in_flight =
            plan.in_flight_minute.map_or_else(|| "-".to_owned(), |minute| format!("minute {minute}"));
        let latency = if plan.latency_judgeable {
            format!("{} periods each", plan.latency_periods)
        } else {
            format!("{} periods: cannot reach alpha", plan.latency_periods)
        };
        writeln!(
            text,
            "{:<30} {:>7} {:>10} {:>10} {:>11} {:>8} {:>10} {latency}",
            plan.preference,
            plan.minutes,
            plan.canary_invocations,
            plan.baseline_invocations,
            detectable,
            if plan.detects { "yes" } else { "no" },
            in_flight
        )
        .expect("writing to a String");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Arguments>, String> {
        parse_arguments(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn arguments_have_defaults_and_name_what_is_wrong() {
        assert_eq!(
            parse(&["--function", "f"]),
            Ok(Some(Arguments { function: "f".into(), effect: 2.0, alpha: 0.01, days: 7, json: false }))
        );
        assert_eq!(
            parse(&["--function", "f", "--effect", "1.5x", "--alpha", "0.05", "--days", "3", "--json"]),
            Ok(Some(Arguments { function: "f".into(), effect: 1.5, alpha: 0.05, days: 3, json: true }))
        );
        assert_eq!(parse(&["--help"]), Ok(None));
        assert_eq!(parse(&[]), Err("--function is required".into()));
        assert_eq!(
            parse(&["--function", "f", "--effect", "1"]),
            Err("--effect \"1\": a ratio above 1".into())
        );
        assert!(parse(&["--function", "f", "--days", "30"]).unwrap_err().starts_with("--days \"30\""));
        assert_eq!(parse(&["--function"]), Err("--function needs a value".into()));
        assert_eq!(parse(&["--function", "f", "--bogus"]), Err("unknown argument --bogus".into()));
    }

    #[test]
    fn the_table_names_every_preference() {
        let arguments = parse(&["--function", "orders"]).unwrap().unwrap();
        let traffic = FunctionTraffic { invocations: 2_822_400, errors: 29_070, minutes: 10_080 };
        let plans = plans(traffic.per_minute(), traffic.error_rate(), 0.01, 2.0);
        let text = table(&arguments, &traffic, &plans);
        assert!(
            text.starts_with("orders: 2822400 invocations, 29070 errors (1.03%) in 7 days: 280.0 a minute"),
            "{text}"
        );
        let canary = text.lines().find(|l| l.starts_with("Canary10Percent5Minutes")).unwrap();
        assert!(canary.contains(" 140 ") && canary.contains("1260") && canary.contains(" no "), "{canary}");
        assert!(
            text.lines().any(|l| l.starts_with("AllAtOnce")
                && l.contains("none")
                && l.contains("cannot reach alpha"))
        );
    }
}
