//! `lifeguard check-file`: validates check files the way the hooks read them, so a mistake is
//! caught before a deployment; with `--template`, also checks that every key names a function the
//! consumer's SAM template guards with the hooks.

use lifeguard_hooks::analysis::rules::default_rules;
use lifeguard_hooks::checks::CheckFile;
use lifeguard_hooks::guarded::{self, SamFunction};
use std::process::ExitCode;

use crate::args::DEFAULT_CHECK_FILE;

const USAGE: &str = "\
usage: lifeguard check-file [--template TEMPLATE] [FILE...]

Validates each check FILE the way the hooks read it (default examples/loyalty/checks/checks.yaml).
With --template, also reads the SAM template TEMPLATE (YAML or JSON) and reports every key under
functions: or analysis: that matches no guarded function (an AWS::Serverless::Function whose
DeploymentPreference, with Globals, names a PreTraffic or PostTraffic hook and is not
Enabled: false) by logical id or literal FunctionName, and, for information, the guarded
functions without checks or analysis entry.

Exit status: 0 when every file is valid (and every key matches), 1 otherwise, 2 on bad arguments.";

/// What the command line asks for.
#[derive(Debug)]
struct Arguments {
    template: Option<String>,
    files: Vec<String>,
}

/// Reads the arguments; `Ok(None)` asks for the usage text.
fn parse_arguments(mut args: impl Iterator<Item = String>) -> Result<Option<Arguments>, String> {
    let mut template = None;
    let mut files = Vec::new();
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--" => {
                files.extend(args.by_ref());
                break;
            }
            "--template" => Some(args.next().ok_or("--template needs a TEMPLATE path")?),
            _ => arg.strip_prefix("--template=").map(str::to_owned),
        };
        match value {
            Some(_) if template.is_some() => return Err("--template is given twice".into()),
            Some(path) if path.is_empty() => return Err("--template needs a TEMPLATE path".into()),
            Some(path) => template = Some(path),
            None if arg.starts_with('-') && arg != "-" => return Err(format!("unknown option {arg}")),
            None => files.push(arg),
        }
    }
    if files.is_empty() {
        files.push(DEFAULT_CHECK_FILE.into());
    }
    Ok(Some(Arguments { template, files }))
}

/// Runs the subcommand with its arguments.
pub fn check(args: impl Iterator<Item = String>) -> ExitCode {
    let arguments = match parse_arguments(args) {
        Ok(Some(arguments)) => arguments,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("lifeguard check-file: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut ok = true;
    let functions = match arguments.template.as_deref().map(guarded::load).transpose() {
        Ok(template) => template.map(|template| guarded::functions(&template)),
        Err(error) => {
            eprintln!("{error}");
            ok = false;
            None
        }
    };
    for path in &arguments.files {
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
                if let (Some(template), Some(functions)) = (&arguments.template, &functions) {
                    ok &= report_coverage(path, &file, template, functions);
                }
            }
            Err(error) => {
                eprintln!("{error}");
                ok = false;
            }
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Prints how the keys of `file` line up with the template's functions; false when a key matches
/// no guarded function.
fn report_coverage(path: &str, file: &CheckFile, template: &str, functions: &[SamFunction]) -> bool {
    let guarded: Vec<String> = functions.iter().filter(|f| f.guarded).map(ToString::to_string).collect();
    let candidates = if guarded.is_empty() {
        format!("{template} guards no function with a PreTraffic or PostTraffic hook")
    } else {
        format!("guarded functions: {}", guarded.join(", "))
    };
    let coverage = guarded::coverage(file, functions);
    for unmatched in &coverage.unmatched {
        let (section, key) = (unmatched.section, &unmatched.key);
        match &unmatched.unguarded {
            Some(function) => eprintln!(
                "{path}: {section}.{key} names {function}, which {template} does not guard (its \
                 DeploymentPreference has no PreTraffic or PostTraffic hook, or Enabled: false); {candidates}"
            ),
            None => {
                eprintln!("{path}: {section}.{key} matches no guarded function of {template}; {candidates}");
            }
        }
    }
    for shadowed in &coverage.shadowed {
        let (section, key, used) = (shadowed.section, &shadowed.key, &shadowed.used);
        println!("{path}: info: {section}.{key} is never used: the hooks find {section}.{used} first");
    }
    for function in &coverage.without_checks {
        println!(
            "{path}: info: {function} has no checks under functions: the hooks send it only the default \
             invocation ({{}}, which must not raise a function error)"
        );
    }
    let default_rules: Vec<String> = default_rules().into_iter().map(|rule| rule.name).collect();
    for function in &coverage.without_analysis {
        println!(
            "{path}: info: {function} has no entry under analysis: the post-traffic hook applies the \
             default rules ({})",
            default_rules.join(", ")
        );
    }
    if coverage.is_ok() {
        println!("{path}: every key matches a guarded function of {template} ({candidates})");
    }
    coverage.is_ok()
}
