//! Stacks and marks shared by the reaper's unit tests.

use crate::config::Mode;
use crate::plan::{Mark, StackInfo};
use crate::tags::{OWNER_TAG, TEMPORARY_TAG};
use lifeguard_common::time::Timestamp;
use std::time::Duration;

/// The instant the tests plan at.
pub const NOW: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);
const DAY: u64 = 86_400;

/// An opted-in, owned, deletable stack created `age_days` before [`NOW`] (default ttl 14d).
pub fn stack(name: &str, age_days: u64) -> StackInfo {
    StackInfo {
        name: name.to_owned(),
        id: format!("arn:stack/{name}/1"),
        status: "UPDATE_COMPLETE".into(),
        created: Some(NOW.minus(Duration::from_secs(age_days * DAY))),
        last_updated: None,
        parent_id: None,
        service_role: None,
        termination_protection: Some(false),
        tags: [(TEMPORARY_TAG, "true"), (OWNER_TAG, "dev@example.com")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        exports: Vec::new(),
        exports_in_use: false,
        resources: Some(Vec::new()),
    }
}

/// An enforce-mode mark old enough for deletion, with both notices sent.
pub fn ripe_mark(stack: &StackInfo) -> Mark {
    Mark {
        stack_id: stack.id.clone(),
        first_notice: NOW.minus(Duration::from_secs(4 * DAY)),
        delete_after: NOW.minus(Duration::from_secs(DAY)),
        expiry_seen: stack.created.expect("created").plus(Duration::from_secs(14 * DAY)),
        notices: 2,
        times_snoozed: 0,
        mode: Mode::Enforce,
        owner: stack.tags.get(OWNER_TAG).cloned(),
    }
}
