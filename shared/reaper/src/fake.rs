//! An in-memory account for the reaper's unit tests: stacks, marks and a topic, with a log of
//! every call and scripted failures.

use crate::config::{Mode, ReaperConfig};
use crate::plan::{Mark, StackInfo, StackResource};
use crate::ports::{MarkUpdate, MarksStore, Notifier, Stacks};
use crate::recipients::Recipients;
use crate::run::Reaper;
use lifeguard_common::AwsError;
use lifeguard_common::time::Timestamp;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// An in-memory account: stacks, marks and a topic, with a log of every change and scripted
/// failures.
#[derive(Default)]
pub struct Fake {
    /// The stacks `list` shows.
    pub stacks: Mutex<Vec<StackInfo>>,
    /// What `describe` shows instead of the listed stack, by name.
    pub described: Mutex<HashMap<String, Option<StackInfo>>>,
    /// The marks table.
    pub marks: Mutex<Vec<Mark>>,
    /// The run lease: holder and expiry.
    pub lease: Mutex<Option<(String, Timestamp)>>,
    /// Deletions counted per UTC day.
    pub deletions: Mutex<HashMap<String, u32>>,
    /// Who the topic reaches; `None`: everyone.
    pub recipients: Mutex<Option<Recipients>>,
    /// The calls made, in order (loading the marks is not logged).
    pub calls: Mutex<Vec<String>>,
    /// Operations that fail (throttled), by their AWS name.
    pub fail: Mutex<HashSet<&'static str>>,
}

impl Fake {
    fn failing(&self, operation: &'static str) -> Result<(), AwsError> {
        if self.fail.lock().unwrap().contains(operation) {
            Err(AwsError { operation, code: "Throttling".into(), message: "Rate exceeded".into() })
        } else {
            Ok(())
        }
    }

    fn log(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    /// One mark change, as the table would make it (conditions checked one by one).
    fn change_one(&self, change: MarkUpdate<'_>) -> Result<(), AwsError> {
        let mut marks = self.marks.lock().unwrap();
        match change {
            MarkUpdate::Write { mark, read } => {
                self.log(format!("write-mark {} notices={}", mark.stack_id, mark.notices));
                self.failing("PutItem")?;
                if marks.iter().find(|m| m.stack_id == mark.stack_id) != read {
                    return Err(conflict("PutItem"));
                }
                marks.retain(|m| m.stack_id != mark.stack_id);
                marks.push(mark.clone());
            }
            MarkUpdate::Clear { read } => {
                self.log(format!("clear-mark {}", read.stack_id));
                self.failing("DeleteItem")?;
                if marks.iter().find(|m| m.stack_id == read.stack_id).is_some_and(|stored| stored != read) {
                    return Err(conflict("DeleteItem"));
                }
                marks.retain(|m| m.stack_id != read.stack_id);
            }
        }
        Ok(())
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl Stacks for &Fake {
    async fn list(&self) -> Result<Vec<StackInfo>, AwsError> {
        self.log("list".into());
        self.failing("DescribeStacks")?;
        Ok(self.stacks.lock().unwrap().clone())
    }
    async fn describe(&self, name: &str) -> Result<Option<StackInfo>, AwsError> {
        self.log(format!("describe {name}"));
        if let Some(shown) = self.described.lock().unwrap().get(name) {
            return Ok(shown.clone());
        }
        let mut stack = self.stacks.lock().unwrap().iter().find(|s| s.name == name).cloned();
        if let Some(stack) = &mut stack {
            stack.exports_in_use = false;
        }
        Ok(stack)
    }
    async fn resources(&self, stack_id: &str) -> Result<Vec<StackResource>, AwsError> {
        self.log(format!("resources {stack_id}"));
        self.failing("ListStackResources")?;
        let stacks = self.stacks.lock().unwrap();
        let listed = stacks.iter().find(|s| s.id == stack_id);
        let shown = listed.and_then(|s| self.described.lock().unwrap().get(&s.name).cloned().flatten());
        Ok(shown.or_else(|| listed.cloned()).and_then(|s| s.resources).unwrap_or_default())
    }
    async fn delete(&self, stack_id: &str) -> Result<(), AwsError> {
        self.log(format!("delete {stack_id}"));
        self.failing("DeleteStack")
    }
}

impl MarksStore for &Fake {
    async fn load(&self) -> Result<Vec<Mark>, AwsError> {
        self.failing("Scan")?;
        Ok(self.marks.lock().unwrap().clone())
    }
    async fn change(&self, changes: &[MarkUpdate<'_>]) -> Vec<Result<(), AwsError>> {
        changes.iter().map(|&change| self.change_one(change)).collect()
    }
    async fn take_lease(
        &self,
        run_id: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Result<(), (String, Timestamp)>, AwsError> {
        self.log(format!("take-lease {run_id}"));
        self.failing("PutItem (lease)")?;
        let mut lease = self.lease.lock().unwrap();
        match &*lease {
            Some((holder, expiry)) if *expiry >= now => Ok(Err((holder.clone(), *expiry))),
            _ => {
                *lease = Some((run_id.to_owned(), until));
                Ok(Ok(()))
            }
        }
    }
    async fn release_lease(&self, run_id: &str) -> Result<(), AwsError> {
        self.log(format!("release-lease {run_id}"));
        let mut lease = self.lease.lock().unwrap();
        if lease.as_ref().is_some_and(|(holder, _)| holder == run_id) {
            *lease = None;
        }
        Ok(())
    }
    async fn deletions_on(&self, day: &str) -> Result<u32, AwsError> {
        Ok(self.deletions.lock().unwrap().get(day).copied().unwrap_or(0))
    }
    async fn count_deletion(&self, day: &str, max: u32) -> Result<bool, AwsError> {
        self.failing("UpdateItem")?;
        let mut deletions = self.deletions.lock().unwrap();
        let count = deletions.entry(day.to_owned()).or_insert(0);
        if *count >= max {
            return Ok(false);
        }
        *count += 1;
        Ok(true)
    }
}

/// DynamoDB's answer to a write whose condition failed.
fn conflict(operation: &'static str) -> AwsError {
    AwsError {
        operation,
        code: "ConditionalCheckFailedException".into(),
        message: "The conditional request failed".into(),
    }
}

impl Notifier for &Fake {
    async fn notify(&self, owner: &str, _subject: &str, message: &str) -> Result<(), AwsError> {
        self.log(format!("notify {owner}: {message}"));
        self.failing("Publish")
    }
    async fn digest(&self, _subject: &str, message: &str) -> Result<(), AwsError> {
        self.log(format!("digest: {message}"));
        self.failing("Publish")
    }
    async fn recipients(&self) -> Result<Recipients, AwsError> {
        self.failing("ListSubscriptionsByTopic")?;
        Ok(self.recipients.lock().unwrap().clone().unwrap_or_else(Recipients::everyone))
    }
}

/// A reaper on the fake account, with its table and topic.
pub fn reaper(fake: &Fake, mode: Mode) -> Reaper<&Fake, &Fake, &Fake> {
    let config = ReaperConfig { mode, ..ReaperConfig::default() };
    Reaper { stacks: fake, marks: Some(fake), notifier: Some(fake), config }
}

/// An account holding these stacks and marks.
pub fn fake(stacks: Vec<StackInfo>, marks: Vec<Mark>) -> Fake {
    let fake = Fake::default();
    *fake.stacks.lock().unwrap() = stacks;
    *fake.marks.lock().unwrap() = marks;
    fake
}
