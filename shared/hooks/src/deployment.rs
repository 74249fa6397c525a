//! What a CodeDeploy deployment of a Lambda function is about: the AppSpec, parsed into a
//! [`Target`] (function, alias, current and target version) and the lifecycle event a hook serves.

use lifeguard_common::time::Timestamp;
use serde_json::Value;
use std::fmt;

/// The lifecycle events a Lambda deployment calls hooks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LifecycleEvent {
    /// Before any traffic moves to the target version.
    BeforeAllowTraffic,
    /// After all traffic has moved to the target version.
    AfterAllowTraffic,
}

impl LifecycleEvent {
    fn from_key(key: &str) -> Option<Self> {
        match key {
            "BeforeAllowTraffic" => Some(Self::BeforeAllowTraffic),
            "AfterAllowTraffic" => Some(Self::AfterAllowTraffic),
            _ => None,
        }
    }
}

impl fmt::Display for LifecycleEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Where a deployment's AppSpec is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revision {
    /// The AppSpec text came with the deployment.
    Content(String),
    /// Only the sha256 came with the deployment: the text must be fetched by it.
    Sha256(String),
}

/// The parts of a deployment that target discovery needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// CodeDeploy application that owns the deployment.
    pub application_name: String,
    /// Deployment group the deployment belongs to, when known.
    pub deployment_group: Option<String>,
    /// The deployment's revision.
    pub revision: Revision,
    /// Creation time, when known.
    pub create_time: Option<Timestamp>,
}

/// The function version a deployment moves an alias to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// Function name (or ARN) as the AppSpec gives it.
    pub function_name: String,
    /// Alias whose traffic moves.
    pub alias: String,
    /// Version the alias pointed at before, when there is a distinct one.
    pub current_version: Option<String>,
    /// Version the alias moves to.
    pub target_version: String,
    /// Hook functions named in the AppSpec, by lifecycle event.
    #[serde(skip)]
    pub hooks: Vec<(LifecycleEvent, String)>,
}

impl Target {
    /// The lifecycle event for which the AppSpec names `hook_function`, if any.
    pub fn event_served_by(&self, hook_function: &str) -> Option<LifecycleEvent> {
        self.hooks
            .iter()
            .find(|(_, name)| name == hook_function || arn_names(name, hook_function))
            .map(|(e, _)| *e)
    }
}

/// True when `candidate` is a Lambda ARN whose function name is `name`.
fn arn_names(candidate: &str, name: &str) -> bool {
    candidate.starts_with("arn:") && candidate.split(':').nth(6) == Some(name)
}

/// An AppSpec that cannot be understood; the message names the offending field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AppSpecError {
    /// The text is neither valid JSON nor valid YAML.
    #[error("AppSpec is not valid {format}: {message}")]
    Syntax {
        /// `JSON` or `YAML`.
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A required field is absent or empty.
    #[error("AppSpec field {0} is missing")]
    Missing(String),
    /// A field has the wrong shape.
    #[error("AppSpec field {field} is invalid: {problem}")]
    Invalid {
        /// Path of the field.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// Parses a Lambda AppSpec given as JSON or YAML.
pub fn parse_appspec(text: &str) -> Result<Target, AppSpecError> {
    let doc: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text)
            .map_err(|e| AppSpecError::Syntax { format: "JSON", message: e.to_string() })?
    } else {
        crate::yaml::from_str(text)
            .map_err(|e| AppSpecError::Syntax { format: "YAML", message: e.to_string() })?
    };
    let resources = field(&doc, "Resources", "")?
        .as_array()
        .ok_or_else(|| invalid("Resources", "expected a list of resources"))?;
    let [resource] = resources.as_slice() else {
        return Err(invalid(
            "Resources",
            &format!("expected exactly one function, found {}", resources.len()),
        ));
    };
    let (name, body) = single_entry(resource, "Resources[0]")?;
    let at = format!("Resources[0].{name}");
    let properties = field(body, "Properties", &at)?;
    let at = format!("{at}.Properties");
    let function_name = text_field(properties, "Name", &at)?;
    let alias = text_field(properties, "Alias", &at)?;
    let target_version = version_field(properties, "TargetVersion", &at)?
        .ok_or_else(|| AppSpecError::Missing(format!("{at}.TargetVersion")))?;
    let current_version =
        version_field(properties, "CurrentVersion", &at)?.filter(|current| *current != target_version);
    Ok(Target { function_name, alias, current_version, target_version, hooks: parse_hooks(&doc)? })
}

fn parse_hooks(doc: &Value) -> Result<Vec<(LifecycleEvent, String)>, AppSpecError> {
    let Some(hooks) = doc.get("Hooks").filter(|h| !h.is_null()) else {
        return Ok(Vec::new());
    };
    let entries = hooks.as_array().ok_or_else(|| invalid("Hooks", "expected a list"))?;
    let mut found = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("Hooks[{i}]");
        let (key, value) = single_entry(entry, &at)?;
        let event = LifecycleEvent::from_key(key).ok_or_else(|| {
            invalid(&format!("{at}.{key}"), "expected BeforeAllowTraffic or AfterAllowTraffic")
        })?;
        let function = value
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid(&format!("{at}.{key}"), "expected the hook function's name"))?;
        found.push((event, function.to_owned()));
    }
    Ok(found)
}

fn invalid(field: &str, problem: &str) -> AppSpecError {
    AppSpecError::Invalid { field: field.to_owned(), problem: problem.to_owned() }
}

fn path(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

fn field<'a>(object: &'a Value, key: &str, parent: &str) -> Result<&'a Value, AppSpecError> {
    object.get(key).filter(|v| !v.is_null()).ok_or_else(|| AppSpecError::Missing(path(parent, key)))
}

fn single_entry<'a>(value: &'a Value, at: &str) -> Result<(&'a str, &'a Value), AppSpecError> {
    match value.as_object() {
        Some(map) if map.len() == 1 => {
            let (k, v) = map.iter().next().expect("one entry");
            Ok((k.as_str(), v))
        }
        _ => Err(invalid(at, "expected a map with exactly one entry")),
    }
}

fn text_field(object: &Value, key: &str, parent: &str) -> Result<String, AppSpecError> {
    match field(object, key, parent)? {
        Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        Value::String(_) => Err(AppSpecError::Missing(path(parent, key))),
        _ => Err(invalid(&path(parent, key), "expected a string")),
    }
}

/// A version field: a positive whole number, given as a string or (in YAML) a number.
fn version_field(object: &Value, key: &str, parent: &str) -> Result<Option<String>, AppSpecError> {
    let version = match object.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(invalid(&path(parent, key), "expected a version number")),
    };
    if version.is_empty() {
        return Ok(None);
    }
    if version.parse::<u64>().map_or(true, |n| n == 0) {
        return Err(invalid(&path(parent, key), &format!("{version:?} is not a published version number")));
    }
    Ok(Some(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAM_JSON: &str = r#"{"version":0.0,"Resources":[{"LoyaltyFunction":{"Type":"AWS::Lambda::Function",
        "Properties":{"Name":"app-LoyaltyFunction-X1","Alias":"live","CurrentVersion":"3","TargetVersion":"4"}}}],
        "Hooks":[{"BeforeAllowTraffic":"CodeDeployHook_app-pre-traffic"},{"AfterAllowTraffic":"CodeDeployHook_app-post-traffic"}]}"#;

    #[test]
    fn parses_sam_generated_json() {
        let target = parse_appspec(SAM_JSON).unwrap();
        assert_eq!(target.function_name, "app-LoyaltyFunction-X1");
        assert_eq!(target.alias, "live");
        assert_eq!(target.current_version.as_deref(), Some("3"));
        assert_eq!(target.target_version, "4");
        assert_eq!(
            target.event_served_by("CodeDeployHook_app-pre-traffic"),
            Some(LifecycleEvent::BeforeAllowTraffic)
        );
        assert_eq!(
            target.event_served_by("CodeDeployHook_app-post-traffic"),
            Some(LifecycleEvent::AfterAllowTraffic)
        );
        assert_eq!(target.event_served_by("someone-else"), None);
    }

    #[test]
    fn parses_yaml_with_numeric_versions() {
        let yaml = "version: 0.0\nResources:\n  - fn:\n      Type: AWS::Lambda::Function\n      Properties:\n        Name: fn\n        Alias: live\n        CurrentVersion: 1\n        TargetVersion: 2\nHooks:\n  - BeforeAllowTraffic: arn:aws:lambda:us-east-1:123456789012:function:CodeDeployHook_x\n";
        let target = parse_appspec(yaml).unwrap();
        assert_eq!((target.current_version.as_deref(), target.target_version.as_str()), (Some("1"), "2"));
        assert_eq!(target.event_served_by("CodeDeployHook_x"), Some(LifecycleEvent::BeforeAllowTraffic));
    }

    #[test]
    fn same_current_and_target_means_no_current() {
        let spec = SAM_JSON.replace(r#""CurrentVersion":"3""#, r#""CurrentVersion":"4""#);
        assert_eq!(parse_appspec(&spec).unwrap().current_version, None);
        let spec = SAM_JSON.replace(r#""CurrentVersion":"3","#, "");
        assert_eq!(parse_appspec(&spec).unwrap().current_version, None);
    }

    #[test]
    fn missing_target_version_is_named() {
        let spec = SAM_JSON.replace(r#","TargetVersion":"4""#, "");
        assert_eq!(
            parse_appspec(&spec).unwrap_err().to_string(),
            "AppSpec field Resources[0].LoyaltyFunction.Properties.TargetVersion is missing"
        );
    }

    #[test]
    fn malformed_parts_are_named() {
        let cases = [
            ("{", "AppSpec is not valid JSON"),
            ("Resources: [\n", "AppSpec is not valid YAML"),
            ("version: 0.0\n", "AppSpec field Resources is missing"),
            ("Resources: []", "AppSpec field Resources is invalid: expected exactly one function, found 0"),
            ("Resources:\n  - fn:\n      Type: x\n", "AppSpec field Resources[0].fn.Properties is missing"),
            (
                "Resources:\n  - fn:\n      Properties: {Name: fn, Alias: live, TargetVersion: latest}\n",
                "AppSpec field Resources[0].fn.Properties.TargetVersion is invalid: \"latest\" is not a published version number",
            ),
            (
                "Resources:\n  - fn:\n      Properties: {Name: '', Alias: live, TargetVersion: 2}\n",
                "AppSpec field Resources[0].fn.Properties.Name is missing",
            ),
            (
                "Resources:\n  - fn:\n      Properties: {Name: fn, Alias: live, TargetVersion: 2}\nHooks:\n  - BeforeInstall: x\n",
                "AppSpec field Hooks[0].BeforeInstall is invalid: expected BeforeAllowTraffic or AfterAllowTraffic",
            ),
        ];
        for (spec, expected) in cases {
            let error = parse_appspec(spec).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{spec:?}: got {error:?}, expected {expected:?}");
        }
    }
}
