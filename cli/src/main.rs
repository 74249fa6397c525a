//! The `lifeguard` command line, built from the same crates as the functions: `check-file`
//! validates check files (against a consumer's template), `schema` prints their JSON Schema,
//! `feature` names and tags a branch's temporary stack, `plan` says which deployment preferences
//! can detect an effect at a function's traffic, `probe` runs checks against a deployed version,
//! `analyze` judges two versions on their metrics, `explain` says what each hook decided for a
//! deployment and why, and `reaper plan` shows what the reaper would do, changing nothing.

mod analyze;
mod args;
mod check_file;
mod explain;
mod feature;
mod plan;
mod probe;
mod reaper;

use std::process::ExitCode;

const USAGE: &str = "\
usage: lifeguard check-file [--template TEMPLATE] [FILE...]
       lifeguard schema
       lifeguard feature name BRANCH
       lifeguard feature tags --owner EMAIL [--ttl DURATION] [--expires-at INSTANT]
       lifeguard plan --function NAME [--effect RATIO] [--alpha ALPHA] [--days DAYS] [--json]
       lifeguard probe --function NAME --qualifier VERSION [--checks FILE] [--key KEY] [--json]
       lifeguard analyze --function NAME --canary VERSION --baseline VERSION [--since 30m] [--json]
       lifeguard explain DEPLOYMENT_ID [--json]
       lifeguard reaper plan [--function NAME] [--at INSTANT] [--json]

`lifeguard COMMAND --help` explains each.";

/// `lifeguard schema`: the check file's JSON Schema on stdout, for editors
/// (`# yaml-language-server: $schema=...`) and CI validators.
fn schema(mut args: impl Iterator<Item = String>) -> ExitCode {
    match args.next().as_deref() {
        None => {
            print!("{}", lifeguard_hooks::checks::CHECK_FILE_SCHEMA);
            ExitCode::SUCCESS
        }
        Some("-h" | "--help") => {
            println!(
                "usage: lifeguard schema\n\nPrints the check file's JSON Schema (draft 2020-12): its shape; \
                 `lifeguard check-file` also checks what a schema cannot."
            );
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("lifeguard schema: unknown argument {other}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("check-file") => check_file::check(args),
        Some("schema") => schema(args),
        Some("feature") => feature::feature(args),
        Some("plan") => plan::plan(args),
        Some("probe") => probe::probe(args),
        Some("analyze") => analyze::analyze(args),
        Some("reaper") => reaper::reaper(args),
        Some("explain") => explain::explain(args),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("lifeguard: unknown command {other}\n\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
