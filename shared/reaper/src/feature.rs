//! Temporary per-branch stacks as `./dev feature-deploy` creates them: the stack name for a git
//! branch, and the lifecycle tags, checked by the same code the reaper reads them with.

use crate::tags::{EXPIRES_AT_TAG, OWNER_TAG, TEMPORARY_TAG, TTL_TAG, TagError, read_lifecycle_tags};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Prefix of temporary stacks (the reaper application's default `TemporaryStackPrefix`).
pub const STACK_PREFIX: &str = "lifeguard-";

/// Longest temporary stack name: CloudFormation allows 128 characters, and the nested hooks
/// stack, `<stack>-LifeguardHooks-<13-character suffix>`, must fit too.
pub const MAX_STACK_NAME: usize = 96;

/// Lifetime of a temporary stack when none is given.
pub const DEFAULT_TTL: &str = "7d";

/// The temporary stack name of `branch`: [`STACK_PREFIX`] and a slug, the branch name in lower
/// case with every run of characters other than `[a-z0-9]` turned into one `-`, trimmed of `-`
/// at both ends. A slug too long for [`MAX_STACK_NAME`] is cut and followed by `-` and the first
/// 7 hex digits of the SHA-256 of the whole branch name, so that long branches sharing a prefix
/// get distinct stacks; an empty slug becomes `branch-<those digits>`.
pub fn stack_name(branch: &str) -> String {
    let mut slug = String::with_capacity(branch.len());
    for c in branch.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    let hash = Sha256::digest(branch.as_bytes()).iter().fold(String::new(), |mut hex, byte| {
        write!(hex, "{byte:02x}").expect("writing to a String");
        hex
    });
    let hash = &hash[..7];
    let room = MAX_STACK_NAME - STACK_PREFIX.len();
    let slug = if slug.is_empty() {
        format!("branch-{hash}")
    } else if slug.len() > room {
        format!("{}-{hash}", slug[..room - 8].trim_end_matches('-'))
    } else {
        slug.to_owned()
    };
    format!("{STACK_PREFIX}{slug}")
}

/// The tags of a temporary stack owned by `owner` that lives `ttl` from its creation, or until
/// `expires_at` (an RFC 3339 UTC instant, which snoozes the reaper), in the order `sam deploy
/// --tags` takes them. Refused, naming the tag, the value and the problem, when the reaper could
/// not read them or could not notify the owner.
pub fn lifecycle_tags(
    owner: &str,
    ttl: &str,
    expires_at: Option<&str>,
) -> Result<Vec<(&'static str, String)>, TagError> {
    if owner.trim().is_empty() {
        return Err(TagError {
            tag: OWNER_TAG,
            value: owner.to_owned(),
            problem: "missing: the reaper sends its notices to this address".into(),
        });
    }
    let mut tags =
        vec![(TEMPORARY_TAG, "true".to_owned()), (OWNER_TAG, owner.to_owned()), (TTL_TAG, ttl.to_owned())];
    if let Some(at) = expires_at {
        tags.push((EXPIRES_AT_TAG, at.to_owned()));
    }
    let map: BTreeMap<String, String> = tags.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    read_lifecycle_tags(&map)?;
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_become_short_distinct_stack_names() {
        assert_eq!(stack_name("feature/Add-Orders_API"), "lifeguard-feature-add-orders-api");
        assert_eq!(stack_name("--Fix--"), "lifeguard-fix");
        assert!(stack_name("///").starts_with("lifeguard-branch-"), "{}", stack_name("///"));
        let long = "x".repeat(200);
        let (a, b) = (stack_name(&format!("{long}-a")), stack_name(&format!("{long}-b")));
        assert_eq!((a.len(), b.len()), (MAX_STACK_NAME, MAX_STACK_NAME));
        assert_ne!(a, b, "long branches sharing a prefix get distinct stacks");
        assert_eq!(&a[..MAX_STACK_NAME - 8], &b[..MAX_STACK_NAME - 8]);
        assert_eq!(stack_name("main"), stack_name("main"));
    }

    #[test]
    fn the_hash_is_the_sha256_of_the_branch_name() {
        // sha256("") = e3b0c442...: an empty slug names the stack after it.
        assert_eq!(stack_name(""), "lifeguard-branch-e3b0c44");
    }

    #[test]
    fn tags_are_checked_as_the_reaper_reads_them() {
        let tags = lifecycle_tags("dev@example.com", "36h", Some("2026-12-01T18:00:00Z")).unwrap();
        let pairs: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            pairs,
            [
                "lifeguard:temporary=true",
                "lifeguard:owner=dev@example.com",
                "lifeguard:ttl=36h",
                "lifeguard:expires-at=2026-12-01T18:00:00Z"
            ]
        );
        let error = |owner, ttl, at| lifecycle_tags(owner, ttl, at).unwrap_err().to_string();
        assert!(error("", "7d", None).contains("lifeguard:owner"));
        assert!(error("dev", "7d", None).contains("not an email address"));
        assert!(error("dev@example.com", "3 days", None).contains("lifeguard:ttl"));
        let impossible = error("dev@example.com", "7d", Some("2026-13-45T25:00:00Z"));
        assert!(
            impossible.contains("lifeguard:expires-at") && impossible.contains("2026-13-45T25:00:00Z"),
            "{impossible}"
        );
        assert!(
            error("dev@example.com", "7d", Some("2026-12-01T18:00:00+02:00"))
                .contains("lifeguard:expires-at")
        );
    }
}
