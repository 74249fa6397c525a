//! `lifeguard feature`: the temporary stack of a git branch, as `./dev feature-deploy` and
//! `./dev feature-delete` deploy and delete it: its name, and its lifecycle tags checked by the
//! reaper's own code.

use lifeguard_reaper::feature::{DEFAULT_TTL, lifecycle_tags, stack_name};
use std::process::ExitCode;

const USAGE: &str = "\
usage: lifeguard feature name BRANCH
       lifeguard feature tags --owner EMAIL [--ttl DURATION] [--expires-at INSTANT]

name: prints the temporary stack name of git branch BRANCH (lifeguard-<slug>, at most 96
      characters; a slug too long is cut and followed by a hash of the branch name).
tags: prints the stack's tags as `sam deploy --tags` takes them (key=value, space-separated):
      lifeguard:temporary=true, lifeguard:owner=EMAIL, lifeguard:ttl=DURATION (default 7d: a
      whole number of hours, days or weeks, e.g. 36h, 7d, 2w) and, when given,
      lifeguard:expires-at=INSTANT (an RFC 3339 UTC instant such as 2026-12-01T18:00:00Z, which
      snoozes the reaper). Each is checked as the reaper reads it; a value it could not use is an
      error naming the tag, the value and the problem.

Exit status: 0 on success, 1 when a tag is refused, 2 on bad arguments.";

/// Runs the subcommand with its arguments.
pub fn feature(mut args: impl Iterator<Item = String>) -> ExitCode {
    let outcome = match args.next().as_deref() {
        Some("name") => match (args.next(), args.next()) {
            (Some(branch), None) => Ok(stack_name(&branch)),
            _ => Err(Refusal::Usage("name takes one BRANCH".into())),
        },
        Some("tags") => tags(args),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(Refusal::Usage(format!("unknown subcommand {other}"))),
        None => Err(Refusal::Usage("missing subcommand: name or tags".into())),
    };
    match outcome {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(Refusal::Usage(problem)) => {
            eprintln!("lifeguard feature: {problem}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Refusal::Tag(problem)) => {
            eprintln!("lifeguard feature tags: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// Why nothing was printed.
enum Refusal {
    /// The arguments are not understood.
    Usage(String),
    /// A tag value the reaper could not use.
    Tag(String),
}

fn tags(mut args: impl Iterator<Item = String>) -> Result<String, Refusal> {
    let (mut owner, mut ttl, mut expires_at) = (None, None, None);
    while let Some(option) = args.next() {
        let slot = match option.as_str() {
            "--owner" => &mut owner,
            "--ttl" => &mut ttl,
            "--expires-at" => &mut expires_at,
            other => return Err(Refusal::Usage(format!("unknown option {other}"))),
        };
        let value = args.next().ok_or_else(|| Refusal::Usage(format!("{option} needs a value")))?;
        if slot.replace(value).is_some() {
            return Err(Refusal::Usage(format!("{option} is given twice")));
        }
    }
    let owner = owner.ok_or_else(|| Refusal::Usage("--owner EMAIL is required".into()))?;
    let ttl = ttl.unwrap_or_else(|| DEFAULT_TTL.to_owned());
    let tags =
        lifecycle_tags(&owner, &ttl, expires_at.as_deref()).map_err(|e| Refusal::Tag(e.to_string()))?;
    Ok(tags.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join(" "))
}
