//! Validates a check file the way the hooks read it, so a mistake is caught before a deployment.
//! Usage: `lifeguard-checks [FILE...]` (default `checks/checks.yaml`).

use lifeguard_shared::checks::CheckFile;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        paths.push("checks/checks.yaml".into());
    }
    let mut ok = true;
    for path in &paths {
        match CheckFile::load(path) {
            Ok(file) => {
                let checks: usize = file.functions.values().map(Vec::len).sum();
                let rules: usize =
                    file.analysis.values().filter_map(|a| a.rules.as_ref()).map(Vec::len).sum();
                println!(
                    "{path}: ok ({checks} probe checks for {} functions, {rules} analysis rules for {} functions)",
                    file.functions.len(),
                    file.analysis.len()
                );
            }
            Err(error) => {
                eprintln!("{error}");
                ok = false;
            }
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
