//! The reaper's marks tables in DynamoDB.

use crate::local_aws::LocalAws;
use crate::names::unique;

impl LocalAws {
    /// Creates a marks table (partition key `stackId`, on demand) under a unique name.
    pub async fn create_marks_table(&self, label: &str) -> String {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let name = unique(label);
        self.dynamodb
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("stackId")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute definition"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("stackId")
                    .key_type(KeyType::Hash)
                    .build()
                    .expect("key"),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateTable {name}: {e:?}"));
        name
    }

    /// Deletes every mark in `table`.
    pub async fn clear_marks(&self, table: &str) {
        let scanned = self.dynamodb.scan().table_name(table).send().await;
        let scanned = scanned.unwrap_or_else(|e| panic!("Scan {table}: {e:?}"));
        for item in scanned.items() {
            let key = item.get("stackId").unwrap_or_else(|| panic!("a mark without stackId: {item:?}"));
            self.dynamodb
                .delete_item()
                .table_name(table)
                .key("stackId", key.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("DeleteItem {table}: {e:?}"));
        }
    }
}
