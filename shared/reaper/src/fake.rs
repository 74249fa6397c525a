//! An in-memory account for the reaper's unit tests: stacks, marks and a topic, with a log of
//! every call and scripted failures.

use crate::config::{Mode, ReaperConfig};
use crate::plan::{Mark, StackInfo};
use crate::ports::{MarksStore, Notifier, Stacks};
use crate::run::Reaper;
use lifeguard_common::AwsError;
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
    async fn write(&self, mark: &Mark) -> Result<(), AwsError> {
        self.log(format!("write-mark {} notices={}", mark.stack_id, mark.notices));
        self.failing("PutItem")?;
        let mut marks = self.marks.lock().unwrap();
        marks.retain(|m| m.stack_id != mark.stack_id);
        marks.push(mark.clone());
        Ok(())
    }
    async fn clear(&self, stack_id: &str) -> Result<(), AwsError> {
        self.log(format!("clear-mark {stack_id}"));
        self.failing("DeleteItem")?;
        self.marks.lock().unwrap().retain(|m| m.stack_id != stack_id);
        Ok(())
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
