//! The `lifeguard` command line, built from the same crates as the functions: `check-file`
//! validates check files (against a consumer's template), `feature` names and tags a branch's
//! temporary stack, `plan` says which deployment preferences can detect an effect at a
//! function's traffic.

mod check_file;
mod feature;
mod plan;

use std::process::ExitCode;

const USAGE: &str = "\
usage: lifeguard check-file [--template TEMPLATE] [FILE...]
       lifeguard feature name BRANCH
       lifeguard feature tags --owner EMAIL [--ttl DURATION] [--expires-at INSTANT]
       lifeguard plan --function NAME [--effect RATIO] [--alpha ALPHA] [--days DAYS] [--json]

`lifeguard COMMAND --help` explains each.";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("check-file") => check_file::check(args),
        Some("feature") => feature::feature(args),
        Some("plan") => plan::plan(args),
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
