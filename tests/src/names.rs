//! Names no two tests share.

use std::sync::atomic::{AtomicU32, Ordering};

/// A name no other test (in this or an earlier run against the same server) uses:
/// `lg-<label>-<pid>-<n>`, at most 64 characters (Lambda's limit).
pub fn unique(label: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let label: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(36).collect();
    format!("lg-{label}-{}-{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_fit_lambda() {
        let a = unique("a test name that is far too long for a lambda function, really");
        let b = unique("a test name that is far too long for a lambda function, really");
        assert_ne!(a, b);
        assert!(a.len() <= 64, "{a}");
    }
}
