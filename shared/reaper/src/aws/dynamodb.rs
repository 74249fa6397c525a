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
//!
//! An item that does not read as a mark (missing or unreadable attribute) is skipped with a
//! warning: the stack then counts as unmarked and is warned again before any deletion, and the
//! next write replaces the item.

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
    HashMap::from([
        (STACK_ID.to_owned(), AttributeValue::S(mark.stack_id.clone())),
        (FIRST_NOTICE.to_owned(), AttributeValue::S(mark.first_notice.to_string())),
        (DELETE_AFTER.to_owned(), AttributeValue::S(mark.delete_after.to_string())),
        (EXPIRY_SEEN.to_owned(), AttributeValue::S(mark.expiry_seen.to_string())),
        (NOTICES.to_owned(), AttributeValue::N(mark.notices.to_string())),
        (TIMES_SNOOZED.to_owned(), AttributeValue::N(mark.times_snoozed.to_string())),
        (MODE.to_owned(), AttributeValue::S(mark.mode.as_str().to_owned())),
    ])
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

    async fn write(&self, mark: &Mark) -> Result<(), AwsError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(mark)))
            .send()
            .await
            .map_err(|e| aws_error("PutItem", e))?;
        Ok(())
    }

    async fn clear(&self, stack_id: &str) -> Result<(), AwsError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(STACK_ID, AttributeValue::S(stack_id.to_owned()))
            .send()
            .await
            .map_err(|e| aws_error("DeleteItem", e))?;
        Ok(())
    }
}
