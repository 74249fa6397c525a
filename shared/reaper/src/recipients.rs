//! Who the notices topic delivers to: its confirmed subscriptions and their filter policies on
//! the `owner` message attribute, as plain data. A notice counts only when some confirmed
//! subscription admits its owner; the digest (owner [`DIGEST_OWNER`]) only when one admits it.
//!
//! Filter policies are read as SNS applies them to message attributes. What this reading does
//! not know (a key other than `owner`, an operator it does not handle, a policy on the message
//! body) admits nobody: doubt never counts as a notice that reached a person.

/// The `owner` attribute of the operators' digest; no email address can be it.
pub const DIGEST_OWNER: &str = "*digest*";

/// One condition of a filter policy on the `owner` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerCondition {
    /// The value exactly.
    Exactly(String),
    /// Any value starting with it.
    Prefix(String),
    /// Any value ending with it.
    Suffix(String),
    /// The value, ignoring ASCII case.
    EqualsIgnoreCase(String),
    /// Any value but these.
    AnythingBut(Vec<String>),
    /// Any value (the attribute exists).
    Exists,
}

impl OwnerCondition {
    fn admits(&self, owner: &str) -> bool {
        match self {
            Self::Exactly(value) => owner == value,
            Self::Prefix(prefix) => owner.starts_with(prefix.as_str()),
            Self::Suffix(suffix) => owner.ends_with(suffix.as_str()),
            Self::EqualsIgnoreCase(value) => owner.eq_ignore_ascii_case(value),
            Self::AnythingBut(values) => !values.iter().any(|v| v == owner),
            Self::Exists => true,
        }
    }
}

/// What one confirmed subscription lets through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// No filter policy: every message.
    Everything,
    /// A policy on `owner` alone: a message whose owner meets any of the conditions.
    Owners(Vec<OwnerCondition>),
    /// A policy this reading cannot vouch for: nothing is counted as delivered.
    Nothing,
}

/// The confirmed subscriptions of the notices topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipients {
    /// What each confirmed subscription admits.
    pub subscriptions: Vec<Admission>,
}

impl Recipients {
    /// A topic whose every notice reaches someone (report mode asks nothing of the topic).
    pub fn everyone() -> Self {
        Self { subscriptions: vec![Admission::Everything] }
    }

    /// Whether some confirmed subscription delivers a message with this `owner` attribute.
    pub fn admit(&self, owner: &str) -> bool {
        self.subscriptions.iter().any(|admission| match admission {
            Admission::Everything => true,
            Admission::Owners(conditions) => conditions.iter().any(|c| c.admits(owner)),
            Admission::Nothing => false,
        })
    }

    /// Whether some confirmed subscription delivers the operators' digest.
    pub fn admit_digest(&self) -> bool {
        self.admit(DIGEST_OWNER)
    }
}

/// Reads a subscription's filter policy (JSON text, attribute scope) into what it admits.
pub fn admission(filter_policy: Option<&str>, scope_is_body: bool) -> Admission {
    let Some(text) = filter_policy.map(str::trim).filter(|t| !t.is_empty() && *t != "{}") else {
        return Admission::Everything;
    };
    if scope_is_body {
        // The notices are plain text, not JSON: a body policy matches none of them.
        return Admission::Nothing;
    }
    let Ok(serde_json::Value::Object(policy)) = serde_json::from_str::<serde_json::Value>(text) else {
        return Admission::Nothing;
    };
    let (Some(serde_json::Value::Array(conditions)), 1) = (policy.get("owner"), policy.len()) else {
        return Admission::Nothing;
    };
    let read: Option<Vec<OwnerCondition>> = conditions.iter().map(condition).collect();
    read.map_or(Admission::Nothing, Admission::Owners)
}

/// One condition of the `owner` array; `None` for one this reading does not handle.
fn condition(value: &serde_json::Value) -> Option<OwnerCondition> {
    use serde_json::Value;
    let text = |v: &Value| v.as_str().map(str::to_owned);
    match value {
        Value::String(exact) => Some(OwnerCondition::Exactly(exact.clone())),
        Value::Object(operator) if operator.len() == 1 => {
            let (name, argument) = operator.iter().next()?;
            match name.as_str() {
                "prefix" => text(argument).map(OwnerCondition::Prefix),
                "suffix" => text(argument).map(OwnerCondition::Suffix),
                "equals-ignore-case" => text(argument).map(OwnerCondition::EqualsIgnoreCase),
                "exists" if argument == &Value::Bool(true) => Some(OwnerCondition::Exists),
                "anything-but" => match argument {
                    Value::String(one) => Some(OwnerCondition::AnythingBut(vec![one.clone()])),
                    Value::Array(many) => {
                        many.iter().map(text).collect::<Option<_>>().map(OwnerCondition::AnythingBut)
                    }
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(policies: &[Option<&str>]) -> Recipients {
        Recipients { subscriptions: policies.iter().map(|p| admission(*p, false)).collect() }
    }

    #[test]
    fn a_subscription_without_a_policy_receives_everything() {
        let topic = only(&[None]);
        assert!(topic.admit("alice@example.com") && topic.admit_digest());
        assert!(only(&[Some("{}")]).admit("bob@example.com"));
        assert!(!only(&[]).admit("alice@example.com"), "no confirmed subscription, nobody");
    }

    #[test]
    fn owner_policies_admit_as_sns_filters() {
        let topic = only(&[
            Some(r#"{"owner": ["alice@example.com", {"suffix": "@ops.example.com"}]}"#),
            Some(r#"{"owner": ["*digest*"]}"#),
            Some(r#"{"owner": [{"prefix": "team-"}, {"equals-ignore-case": "Carol@Example.com"}]}"#),
        ]);
        for owner in ["alice@example.com", "dan@ops.example.com", "team-x@example.com", "carol@example.com"] {
            assert!(topic.admit(owner), "{owner}");
        }
        assert!(topic.admit_digest());
        assert!(!topic.admit("bob@example.com"));
        let but = only(&[Some(r#"{"owner": [{"anything-but": ["*digest*"]}]}"#)]);
        assert!(but.admit("bob@example.com") && !but.admit_digest());
    }

    #[test]
    fn what_this_reading_cannot_vouch_for_admits_nobody() {
        for policy in [
            r#"{"owner": ["alice@example.com"], "team": ["a"]}"#,
            r#"{"owner": [{"numeric": [">", 0]}]}"#,
            r#"{"owner": [{"cidr": "10.0.0.0/8"}]}"#,
            r#"{"other": ["x"]}"#,
            "not json",
        ] {
            assert!(!only(&[Some(policy)]).admit("alice@example.com"), "{policy}");
        }
        let body =
            Recipients { subscriptions: vec![admission(Some(r#"{"owner": ["alice@example.com"]}"#), true)] };
        assert!(!body.admit("alice@example.com"));
    }
}
