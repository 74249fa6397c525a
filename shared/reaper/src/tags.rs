//! The stack tags the reaper reads, and the expiry they give.
//!
//! | Tag | Value |
//! |---|---|
//! | `lifeguard:temporary` | `true` opts the stack in; anything else, or no tag, leaves it alone |
//! | `lifeguard:owner` | the owner's email address; required before any deletion |
//! | `lifeguard:ttl` | lifetime from creation: `36h`, `7d`, `2w` |
//! | `lifeguard:expires-at` | RFC 3339 UTC instant; wins over `ttl`; owners snooze by moving it |

use crate::config::ReaperConfig;
use lifeguard_common::time::{Timestamp, parse_duration};
use std::collections::BTreeMap;
use std::time::Duration;

/// Opt-in tag; only the value `true` opts in.
pub const TEMPORARY_TAG: &str = "lifeguard:temporary";
/// Owner's email address.
pub const OWNER_TAG: &str = "lifeguard:owner";
/// Lifetime counted from creation.
pub const TTL_TAG: &str = "lifeguard:ttl";
/// Explicit expiry instant.
pub const EXPIRES_AT_TAG: &str = "lifeguard:expires-at";

/// A lifecycle tag whose value cannot be used; the message names the tag, value and problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{tag}={}: {problem}", quoted_value(value))]
pub struct TagError {
    /// The tag key.
    pub tag: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
}

/// The longest part of a tag value an error quotes, in characters.
const MAX_QUOTED_VALUE_CHARS: usize = 48;

/// A tag value as errors show it: quoted with Rust's escapes (control characters, quotes) and cut
/// to [`MAX_QUOTED_VALUE_CHARS`] characters, saying how long it was.
fn quoted_value(value: &str) -> String {
    let length = value.chars().count();
    if length <= MAX_QUOTED_VALUE_CHARS {
        return format!("{value:?}");
    }
    let start: String = value.chars().take(MAX_QUOTED_VALUE_CHARS).collect();
    format!("{start:?}… ({length} characters)")
}

/// The lifecycle tags of an opted-in stack, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleTags {
    /// Owner's email address, when tagged.
    pub owner: Option<String>,
    /// Lifetime from creation, when tagged.
    pub ttl: Option<Duration>,
    /// Explicit expiry, when tagged.
    pub expires_at: Option<Timestamp>,
}

/// Where a stack's expiry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpirySource {
    /// `lifeguard:expires-at`.
    ExpiresAt,
    /// Creation time plus `lifeguard:ttl`.
    Ttl,
    /// Creation time plus the configured default lifetime.
    DefaultTtl,
}

/// When a stack expires, and the latest expiry the configuration allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// The expiry its tags (or the default) ask for.
    pub at: Timestamp,
    /// Where `at` comes from.
    pub source: ExpirySource,
    /// Creation time plus the configured maximum lifetime.
    pub cap: Timestamp,
}

impl Expiry {
    /// Whether the tags ask for more than the maximum lifetime.
    pub fn beyond_cap(&self) -> bool {
        self.at > self.cap
    }
}

/// Whether the stack opted in with `lifeguard:temporary=true`, exactly: the value the reaper's
/// IAM condition (`aws:ResourceTag/lifeguard:temporary` = `true`) allows deleting.
pub fn is_opted_in(tags: &BTreeMap<String, String>) -> bool {
    tags.get(TEMPORARY_TAG).is_some_and(|value| value == "true")
}

/// Parses the owner, ttl and expiry tags; the first unusable one is the error.
pub fn read_lifecycle_tags(tags: &BTreeMap<String, String>) -> Result<LifecycleTags, TagError> {
    let error =
        |tag: &'static str, value: &str, problem: String| TagError { tag, value: value.to_owned(), problem };
    let owner = match tags.get(OWNER_TAG) {
        None => None,
        Some(value) if is_email(value.trim()) => Some(value.trim().to_owned()),
        Some(value) => return Err(error(OWNER_TAG, value, "not an email address".into())),
    };
    let ttl = match tags.get(TTL_TAG) {
        None => None,
        Some(value) => Some(parse_duration(value).map_err(|e| error(TTL_TAG, value, e.problem))?),
    };
    let expires_at = match tags.get(EXPIRES_AT_TAG) {
        None => None,
        Some(value) => {
            Some(Timestamp::parse_rfc3339(value).map_err(|e| error(EXPIRES_AT_TAG, value, e.problem))?)
        }
    };
    Ok(LifecycleTags { owner, ttl, expires_at })
}

/// The expiry of a stack created at `created`: `expires-at`, else creation plus `ttl`, else
/// creation plus the default lifetime.
pub fn expiry(tags: &LifecycleTags, created: Timestamp, config: &ReaperConfig) -> Expiry {
    let (at, source) = match (tags.expires_at, tags.ttl) {
        (Some(at), _) => (at, ExpirySource::ExpiresAt),
        (None, Some(ttl)) => (created.plus(ttl), ExpirySource::Ttl),
        (None, None) => (created.plus(config.default_ttl), ExpirySource::DefaultTtl),
    };
    Expiry { at, source, cap: created.plus(config.max_lifetime) }
}

/// A plain check for `local@domain.tld`: one `@`, no blanks, a dotted domain, at most 254
/// characters. It catches typos and placeholders, not every invalid address.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    text.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn errors_quote_a_tag_value_escaped_and_cut() {
        let long = format!("2026-01-01 URGENT\nclick https://evil.example/{}", "x".repeat(200));
        let error = read_lifecycle_tags(&tags(&[(EXPIRES_AT_TAG, &long)])).unwrap_err().to_string();
        assert!(
            error.starts_with("lifeguard:expires-at=\"2026-01-01 URGENT\\nclick https://evil.example/"),
            "{error}"
        );
        assert!(error.contains(&format!("… ({} characters)", long.chars().count())), "{error}");
        assert!(!error.contains('\n') && error.chars().count() < 140, "{error}");
    }

    #[test]
    fn only_true_opts_in() {
        assert!(is_opted_in(&tags(&[(TEMPORARY_TAG, "true")])));
        for value in ["false", "True", " true ", "yes", "1", ""] {
            assert!(!is_opted_in(&tags(&[(TEMPORARY_TAG, value)])), "{value}");
        }
        assert!(!is_opted_in(&tags(&[])));
    }

    #[test]
    fn reads_lifecycle_tags() {
        let read = read_lifecycle_tags(&tags(&[
            (OWNER_TAG, " dev@example.com "),
            (TTL_TAG, "36h"),
            (EXPIRES_AT_TAG, "2026-03-01T00:00:00Z"),
        ]))
        .unwrap();
        assert_eq!(read.owner.as_deref(), Some("dev@example.com"));
        assert_eq!(read.ttl, Some(Duration::from_hours(36)));
        assert_eq!(read.expires_at, Some(at("2026-03-01T00:00:00Z")));
        assert_eq!(
            read_lifecycle_tags(&tags(&[])).unwrap(),
            LifecycleTags { owner: None, ttl: None, expires_at: None }
        );
    }

    #[test]
    fn names_the_malformed_tag() {
        for (tag, value, problem) in [
            (OWNER_TAG, "dev team", "email"),
            (TTL_TAG, "forever", "unknown unit"),
            (EXPIRES_AT_TAG, "2026-03-01T00:00:00+01:00", "not UTC"),
        ] {
            let error = read_lifecycle_tags(&tags(&[(tag, value)])).unwrap_err();
            assert_eq!(error.tag, tag);
            assert!(error.to_string().starts_with(tag), "{error}");
            assert!(error.problem.contains(problem), "{error}");
        }
    }

    #[test]
    fn expires_at_wins_over_ttl_which_wins_over_the_default() {
        let config = ReaperConfig::default();
        let created = at("2026-01-01T00:00:00Z");
        let mut read = LifecycleTags {
            owner: None,
            ttl: Some(Duration::from_hours(24)),
            expires_at: Some(at("2026-01-05T00:00:00Z")),
        };
        let expiry_of = |read: &LifecycleTags| expiry(read, created, &config);
        assert_eq!(expiry_of(&read).at, at("2026-01-05T00:00:00Z"));
        assert_eq!(expiry_of(&read).source, ExpirySource::ExpiresAt);
        assert_eq!(expiry_of(&read).cap, at("2026-03-02T00:00:00Z"));
        read.expires_at = None;
        assert_eq!(expiry_of(&read).at, at("2026-01-02T00:00:00Z"));
        assert_eq!(expiry_of(&read).source, ExpirySource::Ttl);
        read.ttl = None;
        assert_eq!(expiry_of(&read).at, at("2026-01-15T00:00:00Z"));
        assert_eq!(expiry_of(&read).source, ExpirySource::DefaultTtl);
        read.expires_at = Some(at("2026-06-01T00:00:00Z"));
        assert!(expiry_of(&read).beyond_cap());
    }

    #[test]
    fn recognises_plain_email_addresses() {
        for good in ["dev@example.com", "first.last+tag@sub.example.co.uk"] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "",
            "dev",
            "@example.com",
            "dev@",
            "dev@localhost",
            "dev@@example.com",
            "a b@example.com",
            "dev@.example.com",
            "dev@example.com.",
            "dev@exa..mple.com",
            "dev@exa_mple.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }
}
