//! Conditions on one value of an answer beyond equality, as a check file writes them under
//! `expect.matches` (keyed by JSON pointer) and `expect.headers` (keyed by header name):
//!
//! ```yaml
//! expect:
//!   matches:
//!     /body/orderId: {regex: "^o-[0-9]+$"}
//!     /body/total: {min: 0, max: 1000}
//!     /body/level: {oneOf: [Gold, Silver]}
//!     /body/discount: {absent: true}
//!     /body/items: {type: array}
//!   headers:
//!     Content-Type: {regex: "^application/json"}
//! ```
//!
//! A matcher may combine conditions; all must hold. Regular expressions are those of the
//! `regex-lite` crate (Rust's `regex` syntax without Unicode classes), checked when the file is
//! read.

use serde::Deserialize;
use serde_json::Value;
use std::fmt;

/// The JSON types `type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    /// `null`.
    Null,
    /// `true` or `false`.
    Boolean,
    /// Any number.
    Number,
    /// Text.
    String,
    /// A list.
    Array,
    /// A map.
    Object,
}

impl JsonType {
    fn of(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Boolean,
            Value::Number(_) => Self::Number,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::Array,
            Value::Object(_) => Self::Object,
        }
    }
}

impl JsonType {
    /// "a" or "an", for messages.
    fn article(self) -> &'static str {
        if matches!(self, Self::Array | Self::Object) { "an" } else { "a" }
    }
}

impl fmt::Display for JsonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Null => "null",
            Self::Boolean => "boolean",
            Self::Number => "number",
            Self::String => "string",
            Self::Array => "array",
            Self::Object => "object",
        })
    }
}

/// Conditions on one value; every one set must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Matcher {
    /// `true`: the value must be there; `false`: it must not.
    #[serde(default)]
    pub exists: Option<bool>,
    /// `true`: the value must not be there (`exists: false`).
    #[serde(default)]
    pub absent: Option<bool>,
    /// The value must equal this.
    #[serde(default)]
    pub equals: Option<Value>,
    /// The value must be one of these.
    #[serde(default)]
    pub one_of: Option<Vec<Value>>,
    /// The value must be a string this regular expression finds a match in.
    #[serde(default)]
    pub regex: Option<String>,
    /// The value must be a number at least this.
    #[serde(default)]
    pub min: Option<f64>,
    /// The value must be a number at most this.
    #[serde(default)]
    pub max: Option<f64>,
    /// The value must be of this JSON type.
    #[serde(default, rename = "type")]
    pub kind: Option<JsonType>,
}

impl Matcher {
    /// What is wrong with the matcher itself (an unreadable regular expression, a contradiction).
    pub fn problem(&self) -> Option<String> {
        if let Some(pattern) = &self.regex
            && let Err(error) = regex_lite::Regex::new(pattern)
        {
            return Some(format!("regex {pattern:?} is not a regular expression: {error}"));
        }
        if let (Some(min), Some(max)) = (self.min, self.max)
            && min > max
        {
            return Some(format!("min {min} is above max {max}"));
        }
        let must_exist = self.exists == Some(true);
        let must_be_absent = self.exists == Some(false) || self.absent == Some(true);
        if must_exist && must_be_absent {
            return Some("a value cannot both exist and be absent".into());
        }
        let asks_for_a_value = self.equals.is_some()
            || self.one_of.is_some()
            || self.regex.is_some()
            || self.min.is_some()
            || self.max.is_some()
            || self.kind.is_some();
        if must_be_absent && asks_for_a_value {
            return Some("an absent value has no other condition to meet".into());
        }
        if self == &Matcher::default()
            || self.absent == Some(false) && !asks_for_a_value && self.exists.is_none()
        {
            return Some(
                "a matcher needs a condition (exists, absent, equals, oneOf, regex, min, max or type)".into(),
            );
        }
        None
    }

    /// What `actual` (`None` when missing) fails of this matcher; empty when it matches.
    pub fn mismatches(&self, actual: Option<&Value>) -> Vec<String> {
        let must_be_absent = self.exists == Some(false) || self.absent == Some(true);
        let Some(actual) = actual else {
            return if must_be_absent { Vec::new() } else { vec!["is missing".into()] };
        };
        if must_be_absent {
            return vec![format!("is {actual}, expected no value")];
        }
        let mut found = Vec::new();
        if let Some(expected) = &self.equals
            && actual != expected
        {
            found.push(format!("is {actual}, expected {expected}"));
        }
        if let Some(options) = &self.one_of
            && !options.contains(actual)
        {
            found.push(format!("is {actual}, expected one of {}", Value::Array(options.clone())));
        }
        if let Some(kind) = self.kind
            && JsonType::of(actual) != kind
        {
            let actual_kind = JsonType::of(actual);
            found.push(format!(
                "is {actual}, {} {actual_kind}, expected {} {kind}",
                actual_kind.article(),
                kind.article()
            ));
        }
        if let Some(pattern) = &self.regex {
            match (actual.as_str(), regex_lite::Regex::new(pattern)) {
                (Some(text), Ok(regex)) if regex.is_match(text) => {}
                (Some(_), Ok(_)) => found.push(format!("is {actual}, which {pattern:?} does not match")),
                (None, _) => found.push(format!("is {actual}, not a string for {pattern:?}")),
                (_, Err(error)) => found.push(format!("regex {pattern:?}: {error}")),
            }
        }
        if self.min.is_some() || self.max.is_some() {
            match actual.as_f64() {
                Some(number) if self.min.is_some_and(|min| number < min) => {
                    found.push(format!("is {actual}, below the minimum {}", self.min.unwrap_or_default()));
                }
                Some(number) if self.max.is_some_and(|max| number > max) => {
                    found.push(format!("is {actual}, above the maximum {}", self.max.unwrap_or_default()));
                }
                Some(_) => {}
                None => found.push(format!("is {actual}, not a number")),
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matcher(yaml: &str) -> Matcher {
        let matcher: Matcher = crate::yaml::from_str(yaml).unwrap();
        assert_eq!(matcher.problem(), None, "{yaml}");
        matcher
    }

    #[test]
    fn each_condition_matches_and_names_its_mismatch() {
        let cases: [(&str, Value, Option<&str>); 14] = [
            ("{exists: true}", json!(0), None),
            ("{regex: '^o-[0-9]+$'}", json!("o-1001"), None),
            ("{regex: '^o-[0-9]+$'}", json!("x-1"), Some("is \"x-1\", which \"^o-[0-9]+$\" does not match")),
            ("{regex: '^o-'}", json!(7), Some("is 7, not a string for \"^o-\"")),
            ("{min: 0, max: 1000}", json!(42.5), None),
            ("{min: 0, max: 1000}", json!(-1), Some("is -1, below the minimum 0")),
            ("{max: 10}", json!(11), Some("is 11, above the maximum 10")),
            ("{min: 0}", json!("12"), Some("is \"12\", not a number")),
            ("{oneOf: [Gold, Silver]}", json!("Silver"), None),
            (
                "{oneOf: [Gold, Silver]}",
                json!("Bronze"),
                Some("is \"Bronze\", expected one of [\"Gold\",\"Silver\"]"),
            ),
            ("{type: array}", json!([1]), None),
            ("{type: array}", json!({}), Some("is {}, an object, expected an array")),
            ("{equals: {a: 1}}", json!({"a": 1}), None),
            ("{absent: true}", json!(null), Some("is null, expected no value")),
        ];
        for (yaml, actual, expected) in cases {
            let found = matcher(yaml).mismatches(Some(&actual));
            assert_eq!(found.first().map(String::as_str), expected, "{yaml} on {actual}");
        }
        assert_eq!(matcher("{absent: true}").mismatches(None), Vec::<String>::new());
        assert_eq!(matcher("{exists: false}").mismatches(None), Vec::<String>::new());
        assert_eq!(matcher("{regex: x}").mismatches(None), ["is missing"]);
        assert_eq!(
            matcher("{type: string, regex: '^G'}").mismatches(Some(&json!("Gold"))),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_matcher_that_cannot_hold_is_refused_when_read() {
        let problem = |yaml: &str| crate::yaml::from_str::<Matcher>(yaml).unwrap().problem().unwrap();
        assert!(
            problem("{regex: '(unclosed'}").starts_with("regex \"(unclosed\" is not a regular expression")
        );
        assert_eq!(problem("{min: 5, max: 1}"), "min 5 is above max 1");
        assert_eq!(problem("{exists: true, absent: true}"), "a value cannot both exist and be absent");
        assert_eq!(problem("{absent: true, regex: x}"), "an absent value has no other condition to meet");
        assert!(problem("{}").starts_with("a matcher needs a condition"));
        assert!(
            crate::yaml::from_str::<Matcher>("{regexp: x}")
                .unwrap_err()
                .to_string()
                .contains("unknown field")
        );
        assert!(crate::yaml::from_str::<Matcher>("{type: list}").is_err());
    }
}
