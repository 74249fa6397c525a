//! Which functions of a consumer's SAM template the hooks guard, and which check-file keys match
//! none of them.
//!
//! A function is guarded when its `DeploymentPreference` (merged with
//! `Globals.Function.DeploymentPreference`, as SAM does) names a `PreTraffic` or `PostTraffic`
//! hook and is not `Enabled: false`. The hooks find a function's entry by its CloudFormation
//! logical id, or by its function name, so a check-file key matches a guarded function when it
//! equals one of the two; only a literal `FunctionName` can be known from the template.
//!
//! Templates are read as YAML (JSON is YAML too) into a [`Value`] ([`crate::yaml`]) that keeps
//! CloudFormation short tags (`!Ref`, `!GetAtt`, `!If`, ...) as [`Value::Tagged`]. Everything here except [`load`] is a
//! plain function over that value. A value that cannot be decided from the template alone (an
//! intrinsic function) counts as guarding when one of its possibilities does.

use crate::checks::CheckFile;
use crate::yaml::{self, Mapping, Value, YamlError};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// A template that cannot be used; the message names the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("template {path}: cannot read: {source}")]
    Read {
        /// Where the template was looked for.
        path: String,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The text is neither YAML nor JSON.
    #[error("template {path}: not valid YAML or JSON: {source}")]
    Syntax {
        /// Where the template came from.
        path: String,
        /// The parser's message, with the line and column.
        source: YamlError,
    },
    /// The document parses but is not a CloudFormation template.
    #[error("template {path}: {problem}")]
    Shape {
        /// Where the template came from.
        path: String,
        /// What is missing or wrong.
        problem: &'static str,
    },
}

/// Reads and parses the template at `path`; see [`parse`].
pub fn load(path: impl AsRef<Path>) -> Result<Value, TemplateError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .map_err(|source| TemplateError::Read { path: path.display().to_string(), source })?;
    parse(&text, &path.display().to_string())
}

/// Parses a template (YAML with short tags, or JSON) and checks that it has a `Resources`
/// mapping. `source_name` names the template in errors.
pub fn parse(text: &str, source_name: &str) -> Result<Value, TemplateError> {
    let template =
        yaml::parse(text).map_err(|source| TemplateError::Syntax { path: source_name.to_owned(), source })?;
    let shape = |problem| TemplateError::Shape { path: source_name.to_owned(), problem };
    let top = plain_mapping(&template).ok_or_else(|| shape("the document is not a mapping"))?;
    match top.get("Resources") {
        None => Err(shape("it has no Resources section")),
        Some(resources) if plain_mapping(resources).is_none() => {
            Err(shape("its Resources section is not a mapping"))
        }
        Some(_) => Ok(template),
    }
}

/// An `AWS::Serverless::Function` of a template, as far as the hooks are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamFunction {
    /// The resource's logical id.
    pub logical_id: String,
    /// `Properties.FunctionName`, when it is a plain string (not an intrinsic function).
    pub function_name: Option<String>,
    /// Whether a deployment of it runs a `PreTraffic` or `PostTraffic` hook.
    pub guarded: bool,
}

impl SamFunction {
    /// Whether a check-file key names this function: its logical id or its literal name.
    pub fn answers_to(&self, key: &str) -> bool {
        self.logical_id == key || self.function_name.as_deref() == Some(key)
    }
}

impl fmt::Display for SamFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.function_name {
            Some(name) => write!(f, "{} (FunctionName {name})", self.logical_id),
            None => f.write_str(&self.logical_id),
        }
    }
}

/// Every `AWS::Serverless::Function` of a parsed template, in template order.
pub fn functions(template: &Value) -> Vec<SamFunction> {
    let global_preference = plain_get(template, "Globals")
        .and_then(|globals| plain_get(globals, "Function"))
        .and_then(|function| plain_get(function, "DeploymentPreference"));
    let Some(resources) = plain_get(template, "Resources").and_then(plain_mapping) else {
        return Vec::new();
    };
    resources
        .iter()
        .filter_map(|(id, resource)| {
            let logical_id = plain_str(id)?;
            if plain_get(resource, "Type").and_then(plain_str) != Some("AWS::Serverless::Function") {
                return None;
            }
            let properties = plain_get(resource, "Properties");
            let local_preference = properties.and_then(|p| plain_get(p, "DeploymentPreference"));
            let preference = match (global_preference, local_preference) {
                (Some(global), Some(local)) => Some(merge_globals(global, local)),
                (global, local) => local.or(global).cloned(),
            };
            Some(SamFunction {
                logical_id: logical_id.to_owned(),
                function_name: properties
                    .and_then(|p| plain_get(p, "FunctionName"))
                    .and_then(plain_str)
                    .map(str::to_owned),
                guarded: preference.as_ref().is_some_and(guards),
            })
        })
        .collect()
}

/// The functions of a parsed template that the hooks guard.
pub fn guarded_functions(template: &Value) -> Vec<SamFunction> {
    functions(template).into_iter().filter(|function| function.guarded).collect()
}

/// A section of the check file keyed by function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `functions:` — probe checks.
    Functions,
    /// `analysis:` — post-traffic alarms and rules.
    Analysis,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Functions => "functions",
            Section::Analysis => "analysis",
        })
    }
}

/// A check-file key that matches no guarded function, so the hooks never use its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmatchedKey {
    /// Where the key is.
    pub section: Section,
    /// The key.
    pub key: String,
    /// The function it names, when it names one that is not guarded.
    pub unguarded: Option<SamFunction>,
}

/// A key that names a guarded function but is never used: the hooks look the logical id up first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowedKey {
    /// Where the key is.
    pub section: Section,
    /// The unused key (the function's name).
    pub key: String,
    /// The function's logical id, the key used instead.
    pub used: String,
}

/// How a check file's keys line up with a template's guarded functions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Keys that match no guarded function (a mistake: their entries are never used).
    pub unmatched: Vec<UnmatchedKey>,
    /// Keys never used because the function's logical id also has an entry.
    pub shadowed: Vec<ShadowedKey>,
    /// Guarded functions without checks: the hooks send them only the default invocation.
    pub without_checks: Vec<SamFunction>,
    /// Guarded functions without an `analysis` entry: the default rules apply.
    pub without_analysis: Vec<SamFunction>,
}

impl Coverage {
    /// Whether every key of the check file matches a guarded function.
    pub fn is_ok(&self) -> bool {
        self.unmatched.is_empty()
    }
}

/// Compares the keys of `file` with the `functions` of a template (from [`functions`]).
pub fn coverage(file: &CheckFile, functions: &[SamFunction]) -> Coverage {
    let guarded: Vec<&SamFunction> = functions.iter().filter(|f| f.guarded).collect();
    let mut coverage = Coverage::default();
    let sections = [
        (Section::Functions, file.functions.keys().collect::<Vec<_>>()),
        (Section::Analysis, file.analysis.keys().collect()),
    ];
    for (section, keys) in sections {
        for &key in &keys {
            let Some(function) = guarded.iter().find(|f| f.answers_to(key)) else {
                let unguarded = functions.iter().find(|f| f.answers_to(key)).cloned();
                coverage.unmatched.push(UnmatchedKey { section, key: key.clone(), unguarded });
                continue;
            };
            if *key != function.logical_id && keys.contains(&&function.logical_id) {
                let used = function.logical_id.clone();
                coverage.shadowed.push(ShadowedKey { section, key: key.clone(), used });
            }
        }
    }
    // Looked up like the hooks do; an empty list of checks means the default invocation.
    let has_checks = |f: &&SamFunction| entry(&file.functions, f).is_some_and(|checks| !checks.is_empty());
    let has_analysis = |f: &&SamFunction| entry(&file.analysis, f).is_some();
    coverage.without_checks = guarded.iter().filter(|f| !has_checks(f)).map(|&f| f.clone()).collect();
    coverage.without_analysis = guarded.iter().filter(|f| !has_analysis(f)).map(|&f| f.clone()).collect();
    coverage
}

/// A function's entry in a check-file section: by logical id first, then by name (as the hooks).
fn entry<'a, T>(section: &'a BTreeMap<String, T>, function: &SamFunction) -> Option<&'a T> {
    section.get(&function.logical_id).or_else(|| section.get(function.function_name.as_ref()?))
}

/// Whether an effective `DeploymentPreference` runs a traffic hook.
fn guards(preference: &Value) -> bool {
    possibilities(preference).into_iter().any(|preference| {
        let Some(preference) = plain_mapping(preference) else { return false };
        let enabled =
            preference.get("Enabled").is_none_or(|enabled| !possibilities(enabled).into_iter().all(is_false));
        let has_hook = preference.get("Hooks").is_some_and(|hooks| {
            possibilities(hooks).into_iter().filter_map(plain_mapping).any(|hooks| {
                ["PreTraffic", "PostTraffic"].iter().any(|hook| {
                    hooks.get(hook).is_some_and(|name| !possibilities(name).into_iter().all(is_absent))
                })
            })
        });
        enabled && has_hook
    })
}

/// SAM's merge of a `Globals` value into a function's own: mappings merge key by key (the
/// function's value wins), lists concatenate, anything else is the function's value.
fn merge_globals(global: &Value, local: &Value) -> Value {
    match (plain_mapping(global), plain_mapping(local), global, local) {
        (Some(global), Some(local), _, _) => {
            let mut merged = global.clone();
            for (key, value) in local.iter() {
                let value = match global.get_key(key) {
                    Some(global_value) => merge_globals(global_value, value),
                    None => value.clone(),
                };
                merged.insert(key.clone(), value);
            }
            Value::Mapping(merged)
        }
        (_, _, Value::Sequence(global), Value::Sequence(local)) => {
            Value::Sequence(global.iter().chain(local).cloned().collect())
        }
        _ => local.clone(),
    }
}

/// What a value may turn out to be: both branches of an `Fn::If` (nested ones too), else itself.
fn possibilities(value: &Value) -> Vec<&Value> {
    let branches = match value {
        Value::Tagged(tagged) if tagged.tag == "If" => tagged.value.as_sequence(),
        Value::Mapping(map) if map.len() == 1 => map.get("Fn::If").and_then(Value::as_sequence),
        _ => None,
    };
    match branches {
        Some(branches) if branches.len() == 3 => branches[1..].iter().flat_map(possibilities).collect(),
        _ => vec![value],
    }
}

/// `false`, as a boolean or a string (SAM accepts both for `Enabled`).
fn is_false(value: &Value) -> bool {
    match value {
        Value::Bool(b) => !b,
        Value::String(s) => s.eq_ignore_ascii_case("false"),
        _ => false,
    }
}

/// Null, or a reference to `AWS::NoValue` (which removes the property).
fn is_absent(value: &Value) -> bool {
    let reference = match value {
        Value::Null => return true,
        Value::Tagged(tagged) if tagged.tag == "Ref" => &tagged.value,
        Value::Mapping(map) if map.len() == 1 => match map.get("Ref") {
            Some(reference) => reference,
            None => return false,
        },
        _ => return false,
    };
    matches!(reference, Value::String(s) if s == "AWS::NoValue")
}

/// A mapping that is written out in the template: not an intrinsic function, short
/// (`!If [...]`) or long (`{"Fn::If": [...]}`, `{"Ref": ...}`).
fn plain_mapping(value: &Value) -> Option<&Mapping> {
    match value {
        Value::Mapping(map) if !is_intrinsic(map) => Some(map),
        _ => None,
    }
}

fn is_intrinsic(map: &Mapping) -> bool {
    map.len() == 1
        && map.keys().all(|key| matches!(key, Value::String(k) if k == "Ref" || k.starts_with("Fn::")))
}

/// A string written out in the template (not `!Sub '...'`).
fn plain_str(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn plain_get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    plain_mapping(value)?.get(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str) -> Value {
        parse(text, "template.yaml").unwrap()
    }

    fn check_file(text: &str) -> CheckFile {
        CheckFile::parse(text, "checks.yaml").unwrap()
    }

    fn ids(functions: &[SamFunction]) -> Vec<&str> {
        functions.iter().map(|f| f.logical_id.as_str()).collect()
    }

    const SHORT_TAGS: &str = r"
Transform: AWS::Serverless-2016-10-31
Resources:
  Loyalty:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub '${AWS::StackName}-loyalty'
      AutoPublishAlias: live
      DeploymentPreference:
        Type: !Ref DeploymentType
        Alarms: [!Ref LoyaltyAlarm]
        Hooks:
          PreTraffic: !GetAtt Hooks.Outputs.PreTrafficHookName
          PostTraffic: !GetAtt Hooks.Outputs.PostTrafficHookName
        Role: !GetAtt Hooks.Outputs.CodeDeployRoleArn
  Unguarded:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: plain-name
      AutoPublishAlias: live
      DeploymentPreference:
        Type: AllAtOnce
  LoyaltyAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Dimensions:
        - Name: FunctionName
          Value: !Ref Loyalty
";

    #[test]
    fn short_tags_parse_and_only_functions_with_a_hook_are_guarded() {
        let functions = functions(&template(SHORT_TAGS));
        assert_eq!(
            functions,
            vec![
                // `!Sub` is not a literal name.
                SamFunction { logical_id: "Loyalty".into(), function_name: None, guarded: true },
                SamFunction {
                    logical_id: "Unguarded".into(),
                    function_name: Some("plain-name".into()),
                    guarded: false
                },
            ]
        );
        assert_eq!(ids(&guarded_functions(&template(SHORT_TAGS))), ["Loyalty"]);
    }

    #[test]
    fn globals_guard_every_function_unless_it_disables_its_preference() {
        let template = template(
            r#"
Globals:
  Function:
    Runtime: python3.12
    DeploymentPreference:
      Type: AllAtOnce
      Hooks:
        PostTraffic: !GetAtt Hooks.Outputs.PostTrafficHookName
Resources:
  GetOrder:
    Type: AWS::Serverless::Function
    Properties:
      DeploymentPreference:
        Alarms: [!Ref GetOrderAlarm]
  ListOrders:
    Type: AWS::Serverless::Function
  Disabled:
    Type: AWS::Serverless::Function
    Properties:
      DeploymentPreference:
        Enabled: false
  DisabledByString:
    Type: AWS::Serverless::Function
    Properties:
      DeploymentPreference:
        Enabled: "False"
  MaybeDisabled:
    Type: AWS::Serverless::Function
    Properties:
      DeploymentPreference:
        Enabled: !Ref Enabled
"#,
        );
        assert_eq!(ids(&guarded_functions(&template)), ["GetOrder", "ListOrders", "MaybeDisabled"]);
    }

    #[test]
    fn enabled_false_guards_nothing_and_hooks_must_name_a_hook() {
        let template = template(
            r"
Resources:
  Off:
    Type: AWS::Serverless::Function
    Properties:
      DeploymentPreference:
        Enabled: false
        Hooks: {PreTraffic: !Ref PreHook}
  NoValue:
    Type: AWS::Serverless::Function
    Properties:
      DeploymentPreference:
        Hooks: {PreTraffic: !Ref AWS::NoValue, PostTraffic: null}
  Conditional:
    Type: AWS::Serverless::Function
    Properties:
      DeploymentPreference:
        Hooks: !If [UseHooks, {PreTraffic: !Ref PreHook}, !Ref AWS::NoValue]
  NotAFunction:
    Type: AWS::Lambda::Function
    Properties:
      DeploymentPreference:
        Hooks: {PreTraffic: !Ref PreHook}
",
        );
        assert_eq!(ids(&guarded_functions(&template)), ["Conditional"]);
    }

    #[test]
    fn keys_match_the_logical_id_or_a_literal_function_name() {
        let template = template(
            r"
Resources:
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: orders-api
      DeploymentPreference:
        Hooks: {PreTraffic: pre-hook}
  Loyalty:
    Type: AWS::Serverless::Function
    Properties:
      DeploymentPreference:
        Hooks: {PostTraffic: post-hook}
",
        );
        let file = check_file(
            r"
functions:
  orders-api: [{name: by-name}]
  Loyalty: [{name: by-id}]
",
        );
        let coverage = coverage(&file, &functions(&template));
        assert!(coverage.is_ok(), "{coverage:?}");
        assert!(coverage.shadowed.is_empty());
        assert!(coverage.without_checks.is_empty());
        assert_eq!(ids(&coverage.without_analysis), ["Orders", "Loyalty"]);
    }

    #[test]
    fn a_key_under_analysis_only_must_match_too() {
        let template = template(SHORT_TAGS);
        let file = check_file(
            r"
functions:
  Loyalty: [{name: gold}]
analysis:
  Loyalty: {alarms: [loyalty-p99]}
  LoyaltyFunction: {alarms: [typo]}
  Unguarded: {alarms: [never-read]}
",
        );
        let coverage = coverage(&file, &functions(&template));
        assert!(!coverage.is_ok());
        assert_eq!(
            coverage.unmatched,
            vec![
                UnmatchedKey { section: Section::Analysis, key: "LoyaltyFunction".into(), unguarded: None },
                UnmatchedKey {
                    section: Section::Analysis,
                    key: "Unguarded".into(),
                    unguarded: Some(functions(&template)[1].clone()),
                },
            ]
        );
        assert!(coverage.without_checks.is_empty() && coverage.without_analysis.is_empty());
    }

    #[test]
    fn functions_without_checks_or_analysis_are_listed() {
        let template = template(SHORT_TAGS);
        let coverage = coverage(&check_file("functions:\n  Loyalty: []\n"), &functions(&template));
        assert!(coverage.is_ok());
        assert_eq!(ids(&coverage.without_checks), ["Loyalty"]);
        assert_eq!(ids(&coverage.without_analysis), ["Loyalty"]);
    }

    #[test]
    fn a_name_key_beside_the_logical_id_key_is_shadowed() {
        let template = template(
            "Resources:\n  Orders:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
             FunctionName: orders-api\n      DeploymentPreference: {Hooks: {PreTraffic: pre}}\n",
        );
        let file = check_file("functions:\n  Orders: [{name: a}]\n  orders-api: [{name: b}]\n");
        let coverage = coverage(&file, &functions(&template));
        assert!(coverage.is_ok());
        assert_eq!(
            coverage.shadowed,
            vec![ShadowedKey {
                section: Section::Functions,
                key: "orders-api".into(),
                used: "Orders".into()
            }]
        );
    }

    #[test]
    fn json_templates_parse_with_long_form_intrinsics() {
        let template = template(
            r#"{
	"Globals": {"Function": {"DeploymentPreference": {"Hooks": {"PreTraffic": {"Ref": "PreHook"}}}}},
	"Resources": {
		"Orders": {"Type": "AWS::Serverless::Function",
		           "Properties": {"FunctionName": {"Fn::Sub": "${AWS::StackName}-orders"}}},
		"Off": {"Type": "AWS::Serverless::Function",
		        "Properties": {"DeploymentPreference": {"Enabled": "false"}}},
		"Maybe": {"Type": "AWS::Serverless::Function",
		          "Properties": {"DeploymentPreference": {"Fn::If": ["C", {"Enabled": false}, {"Ref": "AWS::NoValue"}]}}}
	}
}"#,
        );
        let functions = functions(&template);
        assert_eq!(ids(&functions), ["Orders", "Off", "Maybe"]);
        assert_eq!(functions[0].function_name, None);
        // An intrinsic DeploymentPreference replaces the global one, as in SAM: neither branch hooks.
        assert_eq!(functions.iter().map(|f| f.guarded).collect::<Vec<_>>(), [true, false, false]);
    }

    #[test]
    fn errors_name_the_template_and_the_problem() {
        let error = parse("Resources: [", "t.yaml").unwrap_err();
        assert!(matches!(error, TemplateError::Syntax { .. }));
        assert!(error.to_string().starts_with("template t.yaml: not valid YAML or JSON: "), "{error}");
        assert_eq!(
            parse("Description: x\n", "t.yaml").unwrap_err().to_string(),
            "template t.yaml: it has no Resources section"
        );
        assert_eq!(
            parse("- a\n", "t.yaml").unwrap_err().to_string(),
            "template t.yaml: the document is not a mapping"
        );
        assert_eq!(
            parse("Resources: !Ref X\n", "t.yaml").unwrap_err().to_string(),
            "template t.yaml: its Resources section is not a mapping"
        );
        let error = load("/nonexistent/template.yaml").unwrap_err();
        assert!(
            error.to_string().starts_with("template /nonexistent/template.yaml: cannot read: "),
            "{error}"
        );
    }
}
