//! Stack-name patterns: `*` matches any run of characters (also none), `?` exactly one; every
//! other character matches itself, case-sensitively as CloudFormation compares stack names.

/// Whether `name` matches the whole of `pattern`.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return pattern == name;
    }
    if pattern.is_ascii() && name.is_ascii() {
        return matches(pattern.as_bytes(), name.as_bytes(), b'*', b'?');
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches(&pattern, &name, '*', '?')
}

/// Glob matching over bytes or characters.
fn matches<T: Copy + PartialEq>(pattern: &[T], name: &[T], star: T, any_one: T) -> bool {
    let (mut p, mut n) = (0, 0);
    // Where the last `*` was, and the name position it is currently standing in for.
    let mut backtrack: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(&c) if c == star => {
                backtrack = Some((p, n));
                p += 1;
            }
            Some(&c) if c == any_one || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match backtrack {
                // Let the last `*` swallow one more character and retry from there.
                Some((star, start)) => {
                    backtrack = Some((star, start + 1));
                    p = star + 1;
                    n = start + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_patterns_match_only_themselves() {
        assert!(glob_matches("lifeguard", "lifeguard"));
        assert!(!glob_matches("lifeguard", "lifeguard-dev"));
        assert!(!glob_matches("lifeguard", "Lifeguard"));
        assert!(!glob_matches("lifeguard", "lifeguar"));
        assert!(glob_matches("", ""));
        assert!(!glob_matches("", "a"));
    }

    #[test]
    fn star_matches_any_run_including_none() {
        assert!(glob_matches("lifeguard-*", "lifeguard-"));
        assert!(glob_matches("lifeguard-*", "lifeguard-pr-42"));
        assert!(!glob_matches("lifeguard-*", "lifeguard"));
        assert!(glob_matches("*-prod", "payments-prod"));
        assert!(glob_matches("*prod*", "prod"));
        assert!(glob_matches("a*b*c", "aXbYbZc"));
        assert!(!glob_matches("a*b*c", "aXbYbZ"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("**", "anything"));
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        assert!(glob_matches("pr-?", "pr-7"));
        assert!(!glob_matches("pr-?", "pr-"));
        assert!(!glob_matches("pr-?", "pr-42"));
        assert!(glob_matches("pr-??", "pr-42"));
        assert!(glob_matches("?*", "x"));
        assert!(!glob_matches("?*", ""));
        assert!(glob_matches("caf?", "café"));
    }

    #[test]
    fn backtracks_without_blowing_up() {
        let name = "a".repeat(200);
        assert!(!glob_matches("*a*a*a*a*a*b", &name));
        assert!(glob_matches("*a*a*a*a*a*", &name));
    }
}
