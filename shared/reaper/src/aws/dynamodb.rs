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
//! Writes and removals of marks are conditional on the mark the run read, and sent up to
//! [`MAX_TRANSACTION_ITEMS`] at a time in `TransactWriteItems`, each item with its condition. Two more kinds of
//! item share the table, under keys no stack id can take (stack ids are ARNs):
//!
//! | `stackId` | Attributes | Use |
//! |---|---|---|
//! | `lifeguard:lease` | `runId` (S), `expiresAt` (N, ms since the epoch) | one run at a time: taken with a conditional write, expiring with the holder's Lambda deadline |
//! | `lifeguard:deletions:YYYY-MM-DD` | `deletions` (N) | deletions started on that UTC day, by every run; counted with a conditional update before each `DeleteStack` |

use crate::Mode;
use crate::plan::Mark;
use crate::ports::{MarkUpdate, MarksStore};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use futures::{StreamExt, stream};
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
/// Most changes in one `TransactWriteItems` (DynamoDB's limit; marks are far below its 4 MB).
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// Transactions in flight at once.
const TRANSACTIONS_IN_FLIGHT: usize = 4;
const TRANSACT: &str = "TransactWriteItems";
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

impl DynamoDbMarks {
    /// Applies up to [`MAX_TRANSACTION_ITEMS`] changes (items with their stack id) in one
    /// `TransactWriteItems`. When
    /// DynamoDB cancels it, the changes whose own condition failed (or that failed for their own
    /// reason) get that error and the rest are tried again without them, so one changed mark
    /// never holds back the others.
    async fn transact(&self, changes: Vec<(TransactWriteItem, String)>) -> Vec<Result<(), AwsError>> {
        let mut results: Vec<Option<Result<(), AwsError>>> = vec![None; changes.len()];
        let mut pending: Vec<usize> = (0..changes.len()).collect();
        while !pending.is_empty() {
            let items = pending.iter().map(|&i| changes[i].0.clone()).collect();
            let sent = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
            let reasons = match sent {
                Ok(_) => {
                    pending.drain(..).for_each(|i| results[i] = Some(Ok(())));
                    break;
                }
                Err(error) => {
                    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                        error.as_service_error()
                    {
                        cancelled.cancellation_reasons().to_vec()
                    } else {
                        let error = aws_error(TRANSACT, error);
                        pending.drain(..).for_each(|i| results[i] = Some(Err(error.clone())));
                        break;
                    }
                }
            };
            let mut again = Vec::new();
            for (position, &i) in pending.iter().enumerate() {
                let reason = reasons.get(position);
                match reason.and_then(|r| r.code()) {
                    Some("None") => again.push(i),
                    Some("ConditionalCheckFailed") => {
                        results[i] = Some(Err(mark_changed(TRANSACT, &changes[i].1)));
                    }
                    code => {
                        let message =
                            reason.and_then(|r| r.message()).unwrap_or("cancelled without a reason");
                        let code = code.unwrap_or("TransactionCanceled").to_owned();
                        results[i] =
                            Some(Err(AwsError { operation: TRANSACT, code, message: message.to_owned() }));
                    }
                }
            }
            if again.len() == pending.len() {
                // Cancelled with no change to blame: nothing to leave out, so no retry.
                let error = AwsError {
                    operation: TRANSACT,
                    code: "TransactionCanceled".into(),
                    message: "cancelled without naming a change".into(),
                };
                again.drain(..).for_each(|i| results[i] = Some(Err(error.clone())));
            }
            pending = again;
        }
        results.into_iter().map(|result| result.expect("every change was answered")).collect()
    }

    /// One change as an item of a transaction, with its condition.
    fn transact_item(&self, change: MarkUpdate<'_>) -> TransactWriteItem {
        let built = match change {
            MarkUpdate::Write { mark, read } => {
                let (condition, names, values) = still_as_read(read);
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item(mark)))
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values((!values.is_empty()).then_some(values))
                    .build()
                    .map(|put| TransactWriteItem::builder().put(put).build())
            }
            MarkUpdate::Clear { read } => {
                let (condition, names, values) = still_as_read(Some(read));
                Delete::builder()
                    .table_name(&self.table)
                    .key(STACK_ID, AttributeValue::S(read.stack_id.clone()))
                    .condition_expression(format!("attribute_not_exists(#{STACK_ID}) OR ({condition})"))
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(Some(values))
                    .build()
                    .map(|delete| TransactWriteItem::builder().delete(delete).build())
            }
        };
        built.expect("table name, item or key, and condition are always set")
    }
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

    async fn change(&self, changes: &[MarkUpdate<'_>]) -> Vec<Result<(), AwsError>> {
        // Owned chunks: a closure over borrowed ones makes the future not `Send` (rustc #100013).
        let items: Vec<(TransactWriteItem, String)> = changes
            .iter()
            .map(|&change| (self.transact_item(change), change.stack_id().to_owned()))
            .collect();
        let chunks: Vec<Vec<(TransactWriteItem, String)>> =
            items.chunks(MAX_TRANSACTION_ITEMS).map(<[_]>::to_vec).collect();
        stream::iter(chunks)
            .map(|chunk| self.transact(chunk))
            .buffered(TRANSACTIONS_IN_FLIGHT)
            .flat_map(stream::iter)
            .collect()
            .await
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
