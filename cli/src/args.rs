//! Command-line flags shared by the AWS-reading commands: `--name VALUE` options and bare
//! switches, each at most once, and the check file they read.

use lifeguard_hooks::checks::CheckFile;
use std::collections::BTreeMap;

/// The check file read when a command names none.
pub const DEFAULT_CHECK_FILE: &str = "examples/loyalty/checks/checks.yaml";

/// Parsed flags.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Flags {
    values: BTreeMap<String, String>,
    switches: Vec<String>,
}

impl Flags {
    /// Reads `args` against the `options` (which take a value) and `switches` a command knows;
    /// `Ok(None)` asks for the usage text.
    pub fn parse(
        mut args: impl Iterator<Item = String>,
        options: &[&str],
        switches: &[&str],
    ) -> Result<Option<Self>, String> {
        let mut flags = Self::default();
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                return Ok(None);
            }
            if switches.contains(&arg.as_str()) {
                if flags.switches.contains(&arg) {
                    return Err(format!("{arg} is given twice"));
                }
                flags.switches.push(arg);
            } else if options.contains(&arg.as_str()) {
                let value = args.next().filter(|v| !v.is_empty()).ok_or(format!("{arg} needs a value"))?;
                if flags.values.insert(arg.clone(), value).is_some() {
                    return Err(format!("{arg} is given twice"));
                }
            } else {
                return Err(format!("unknown argument {arg}"));
            }
        }
        Ok(Some(flags))
    }

    /// The value of an option, when given.
    pub fn value(&self, option: &str) -> Option<&str> {
        self.values.get(option).map(String::as_str)
    }

    /// Whether a switch is given.
    pub fn set(&self, switch: &str) -> bool {
        self.switches.iter().any(|s| s == switch)
    }
}

/// The check file at `path` (default [`DEFAULT_CHECK_FILE`]), validated; the error names it.
pub fn load_check_file(path: Option<&str>) -> Result<CheckFile, String> {
    CheckFile::load(path.unwrap_or(DEFAULT_CHECK_FILE)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Flags>, String> {
        Flags::parse(args.iter().map(|a| (*a).to_owned()), &["--function", "--since"], &["--json"])
    }

    #[test]
    fn options_switches_and_mistakes() {
        let flags = parse(&["--function", "f", "--json"]).unwrap().unwrap();
        assert_eq!(
            (flags.value("--function"), flags.value("--since"), flags.set("--json")),
            (Some("f"), None, true)
        );
        assert_eq!(parse(&["--help"]), Ok(None));
        assert_eq!(parse(&["--function"]), Err("--function needs a value".into()));
        assert_eq!(parse(&["--function", ""]), Err("--function needs a value".into()));
        assert_eq!(parse(&["--json", "--json"]), Err("--json is given twice".into()));
        assert_eq!(parse(&["--function", "a", "--function", "b"]), Err("--function is given twice".into()));
        assert_eq!(parse(&["--bogus"]), Err("unknown argument --bogus".into()));
        assert!(
            load_check_file(Some("/nonexistent.yaml"))
                .unwrap_err()
                .starts_with("check file /nonexistent.yaml: cannot read")
        );
    }
}
