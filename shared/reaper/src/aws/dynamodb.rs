//! DynamoDB adapter: the reaper's marks table.
//!
//! One item per marked stack:
//!
//! | Attribute | Type | Value |
//! |---|---|---|
//! | `stackId` | S | stack id (ARN); the table's partition key, no sort key |
//! | `firstNotice` | S | RFC 3339 UTC instant, e.g. `2026-03-01T12:00:00Z` |
//! | `deleteAfter` | S | RFC 3339 UTC instant |
//! | `expirySeen` | S | RFC 3339 UTC instant |
//! | `notices` | N | whole number; 0 for a dormant mark (its notice cycle ended) |
//! | `timesSnoozed` | N | whole number |
//! | `mode` | S | `report` or `enforce`: the mode that started the notice cycle; read as `report` when absent |
//! | `owner` | S | the owner the cycle's notices went to; absent when there was none recorded |
//!
//! An item that does not read as a mark (missing or unreadable attribute) is skipped with a
//! warning: the stack then counts as unmarked, and since writes are conditional on what the run
//! read, its new mark is refused (`MarkChanged`, reported on every run) until a person removes
//! the item: such a stack is never deleted.
//!
//! Writes and removals of marks are conditional on the mark the run read. Two more kinds of
//! item share the table, under keys no stack id can take (stack ids are ARNs):
//!
//! | `stackId` | Attributes | Use |
//! |---|---|---|
//! | `lifeguard:lease` | `runId` (S), `expiresAt` (N, ms since the epoch) | one run at a time: taken with a conditional write, expiring with the holder's Lambda deadline |
//! | `lifeguard:deletions:YYYY-MM-DD` | `deletions` (N) | deletions started on that UTC day, by every run; counted with a conditional update before each `DeleteStack` |

use crate::Mode;
use crate::plan::Mark;
use crate::ports::MarksStore;
use aws_sdk_dynamodb::types::AttributeValue;
use lifeguard_common::AwsError;
use lifeguard_common::aws_error;
use lifeguard_common::time::Timestamp;
use std::collections::HashMap;

/// The table's partition key.
pub const STACK_ID: &str = "stackId";
const FIRST_NOTICE: &str = "firstNotice";
const DELETE_AFTER: &str = "deleteAfter";
const EXPIRY_SEEN: &str = "expirySeen";
const NOTICES: &str = "notices";
const TIMES_SNOOZED: &str = "timesSnoozed";
const MODE: &str = "mode";
const OWNER: &str = "owner";
/// Keys of the items that are not marks start with it.
const RESERVED_KEY_PREFIX: &str = "lifeguard:";
const LEASE_KEY: &str = "lifeguard:lease";
const RUN_ID: &str = "runId";
const EXPIRES_AT: &str = "expiresAt";
const DELETIONS: &str = "deletions";
/// DynamoDB's error code when a write's condition does not hold.
const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

/// The key of the deletion count of `day`.
fn deletions_key(day: &str) -> String {
    format!("{RESERVED_KEY_PREFIX}deletions:{day}")
}

/// The condition that the stored mark is `read` (or absent when `None`), with its names and
/// values.
fn still_as_read(read: Option<&Mark>) -> (String, HashMap<String, String>, HashMap<String, AttributeValue>) {
    let Some(read) = read else {
        return (
            "attribute_not_exists(#stackId)".into(),
            HashMap::from([("#stackId".into(), STACK_ID.into())]),
            HashMap::new(),
        );
    };
    let stored = item(read);
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut clauses = Vec::new();
    for name in [STACK_ID, FIRST_NOTICE, DELETE_AFTER, EXPIRY_SEEN, NOTICES, TIMES_SNOOZED, MODE] {
        names.insert(format!("#{name}"), name.to_owned());
        values.insert(format!(":{name}"), stored[name].clone());
        clauses.push(format!("#{name} = :{name}"));
    }
    if read.mode == Mode::Report {
        // Marks written before the mode attribute existed read as report mode.
        let last = clauses.pop().expect("the mode clause");
        clauses.push(format!("({last} OR attribute_not_exists(#{MODE}))"));
    }
    names.insert(format!("#{OWNER}"), OWNER.to_owned());
    match stored.get(OWNER) {
        Some(owner) => {
            values.insert(format!(":{OWNER}"), owner.clone());
            clauses.push(format!("#{OWNER} = :{OWNER}"));
        }
        None => clauses.push(format!("attribute_not_exists(#{OWNER})")),
    }
    (clauses.join(" AND "), names, values)
}

/// Whether the SDK error is a failed condition.
fn condition_failed(error: &AwsError) -> bool {
    error.code == CONDITION_FAILED
}

/// The error for a mark that changed since the run read it.
fn mark_changed(operation: &'static str, stack_id: &str) -> AwsError {
    AwsError {
        operation,
        code: "MarkChanged".into(),
        message: format!(
            "the mark of {stack_id} changed since this run read it (another run?); left as it is"
        ),
    }
}

/// The marks table through the SDK, with the shared configuration's retries and timeouts.
#[derive(Debug, Clone)]
pub struct DynamoDbMarks {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoDbMarks {
    /// Builds the client from the shared SDK configuration, for the named table.
    pub fn new(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self { client: aws_sdk_dynamodb::Client::new(sdk), table: table.into() }
    }
}

/// The item that stores a mark.
fn item(mark: &Mark) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        (STACK_ID.to_owned(), AttributeValue::S(mark.stack_id.clone())),
        (FIRST_NOTICE.to_owned(), AttributeValue::S(mark.first_notice.to_string())),
        (DELETE_AFTER.to_owned(), AttributeValue::S(mark.delete_after.to_string())),
        (EXPIRY_SEEN.to_owned(), AttributeValue::S(mark.expiry_seen.to_string())),
        (NOTICES.to_owned(), AttributeValue::N(mark.notices.to_string())),
        (TIMES_SNOOZED.to_owned(), AttributeValue::N(mark.times_snoozed.to_string())),
        (MODE.to_owned(), AttributeValue::S(mark.mode.as_str().to_owned())),
    ]);
    if let Some(owner) = &mark.owner {
        item.insert(OWNER.to_owned(), AttributeValue::S(owner.clone()));
    }
    item
}

/// Reads a mark back from its item; the error names the attribute.
fn mark(item: &HashMap<String, AttributeValue>) -> Result<Mark, String> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(text)) => Ok(text.as_str()),
        _ => Err(format!("{name}: missing or not a string")),
    };
    let instant = |name: &str| Timestamp::parse_rfc3339(text(name)?).map_err(|e| format!("{name}: {e}"));
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse::<u32>().map_err(|e| format!("{name}={n}: {e}")),
        _ => Err(format!("{name}: missing or not a number")),
    };
    Ok(Mark {
        stack_id: text(STACK_ID)?.to_owned(),
        first_notice: instant(FIRST_NOTICE)?,
        delete_after: instant(DELETE_AFTER)?,
        expiry_seen: instant(EXPIRY_SEEN)?,
        notices: number(NOTICES)?,
        times_snoozed: number(TIMES_SNOOZED)?,
        mode: match item.get(MODE) {
            None => Mode::Report,
            Some(AttributeValue::S(mode)) => {
                Mode::parse(mode).ok_or_else(|| format!("{MODE}={mode}: expected report or enforce"))?
            }
            Some(_) => return Err(format!("{MODE}: not a string")),
        },
        owner: match item.get(OWNER) {
            None => None,
            Some(AttributeValue::S(owner)) => Some(owner.clone()),
            Some(_) => return Err(format!("{OWNER}: not a string")),
        },
    })
}

impl MarksStore for DynamoDbMarks {
    async fn load(&self) -> Result<Vec<Mark>, AwsError> {
        let mut pages =
            self.client.scan().table_name(&self.table).consistent_read(true).into_paginator().send();
        let mut marks = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("Scan", e))?;
            for item in page.items() {
                if matches!(item.get(STACK_ID), Some(AttributeValue::S(key)) if key.starts_with(RESERVED_KEY_PREFIX))
                {
                    continue;
                }
                match mark(item) {
                    Ok(mark) => marks.push(mark),
                    Err(problem) => tracing::warn!(
                        table = %self.table,
                        stack_id = ?item.get(STACK_ID),
                        problem,
                        "skipping an unreadable mark"
                    ),
                }
            }
        }
        Ok(marks)
    }

    async fn write(&self, mark: &Mark, read: Option<&Mark>) -> Result<(), AwsError> {
        let (condition, names, values) = still_as_read(read);
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(mark)))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await
            .map_err(|e| aws_error("PutItem", e));
        match written {
            Err(error) if condition_failed(&error) => Err(mark_changed("PutItem", &mark.stack_id)),
            other => other.map(|_| ()),
        }
    }

    async fn clear(&self, read: &Mark) -> Result<(), AwsError> {
        let (condition, names, values) = still_as_read(Some(read));
        let cleared = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(STACK_ID, AttributeValue::S(read.stack_id.clone()))
            .condition_expression(format!("attribute_not_exists(#{STACK_ID}) OR ({condition})"))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| aws_error("DeleteItem", e));
        match cleared {
            Err(error) if condition_failed(&error) => Err(mark_changed("DeleteItem", &read.stack_id)),
            other => other.map(|_| ()),
        }
    }

    async fn take_lease(
        &self,
        run_id: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Result<(), (String, Timestamp)>, AwsError> {
        let taken = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(STACK_ID, AttributeValue::S(LEASE_KEY.into()))
            .item(RUN_ID, AttributeValue::S(run_id.into()))
            .item(EXPIRES_AT, AttributeValue::N(until.unix_millis().to_string()))
            .condition_expression("attribute_not_exists(#key) OR #expiresAt < :now")
            .expression_attribute_names("#key", STACK_ID)
            .expression_attribute_names("#expiresAt", EXPIRES_AT)
            .expression_attribute_values(":now", AttributeValue::N(now.unix_millis().to_string()))
            .send()
            .await
            .map_err(|e| aws_error("PutItem", e));
        match taken {
            Ok(_) => Ok(Ok(())),
            Err(error) if condition_failed(&error) => {
                let held = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .key(STACK_ID, AttributeValue::S(LEASE_KEY.into()))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| aws_error("GetItem", e))?;
                let item = held.item();
                let holder = match item.and_then(|i| i.get(RUN_ID)) {
                    Some(AttributeValue::S(holder)) => holder.clone(),
                    _ => "unknown".to_owned(),
                };
                let until = match item.and_then(|i| i.get(EXPIRES_AT)) {
                    Some(AttributeValue::N(ms)) => ms.parse().map_or(now, Timestamp::from_unix_millis),
                    _ => now,
                };
                Ok(Err((holder, until)))
            }
            Err(error) => Err(error),
        }
    }

    async fn release_lease(&self, run_id: &str) -> Result<(), AwsError> {
        let released = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(STACK_ID, AttributeValue::S(LEASE_KEY.into()))
            .condition_expression("#runId = :runId")
            .expression_attribute_names("#runId", RUN_ID)
            .expression_attribute_values(":runId", AttributeValue::S(run_id.into()))
            .send()
            .await
            .map_err(|e| aws_error("DeleteItem", e));
        match released {
            // Expired and taken by another run since: it is not ours to give back.
            Err(error) if condition_failed(&error) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn deletions_on(&self, day: &str) -> Result<u32, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(STACK_ID, AttributeValue::S(deletions_key(day)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error("GetItem", e))?;
        match output.item().and_then(|item| item.get(DELETIONS)) {
            None => Ok(0),
            Some(AttributeValue::N(count)) => count.parse().map_err(|_| AwsError {
                operation: "GetItem",
                code: "UnreadableCount".into(),
                message: format!("{}: {DELETIONS}={count} is not a whole number", deletions_key(day)),
            }),
            Some(other) => Err(AwsError {
                operation: "GetItem",
                code: "UnreadableCount".into(),
                message: format!("{}: {DELETIONS} is not a number: {other:?}", deletions_key(day)),
            }),
        }
    }

    async fn count_deletion(&self, day: &str, max: u32) -> Result<bool, AwsError> {
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(STACK_ID, AttributeValue::S(deletions_key(day)))
            .update_expression("ADD #deletions :one")
            .condition_expression("attribute_not_exists(#deletions) OR #deletions < :max")
            .expression_attribute_names("#deletions", DELETIONS)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":max", AttributeValue::N(max.to_string()))
            .send()
            .await
            .map_err(|e| aws_error("UpdateItem", e));
        match counted {
            Ok(_) => Ok(true),
            Err(error) if condition_failed(&error) => Ok(false),
            Err(error) => Err(error),
        }
    }
}
