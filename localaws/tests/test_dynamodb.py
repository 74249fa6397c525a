"""The local DynamoDB's TransactWriteItems: all or nothing, as AWS, with one backup per table."""

import copy
import unittest
from unittest import mock

import boto3
from moto import mock_aws
from moto.dynamodb import models as ddb_models

import stand_in.dynamodb  # noqa: F401 (patches moto)
from inprocess import without_endpoints

_environ = None


def setUpModule():
    global _environ
    _environ = without_endpoints()


def tearDownModule():
    _environ.stop()


class TransactWriteItemsTest(unittest.TestCase):
    def setUp(self):
        self.mock = mock_aws()
        self.mock.start()
        self.db = boto3.client("dynamodb", region_name="us-east-1")
        self.db.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
        for i in range(50):
            self.db.put_item(TableName="t", Item={"k": {"S": f"old{i}"}})

    def tearDown(self):
        self.mock.stop()

    def put(self, key, condition="attribute_not_exists(k)"):
        return {"Put": {"TableName": "t", "Item": {"k": {"S": key}}, "ConditionExpression": condition}}

    def count(self):
        return self.db.scan(TableName="t", Select="COUNT")["Count"]

    def test_one_backup_per_table_and_the_transaction_applies(self):
        items = [self.put(f"new{i}") for i in range(100)]
        with mock.patch.object(copy, "deepcopy", wraps=copy.deepcopy) as deep:
            self.db.transact_write_items(TransactItems=items)
        tables = [c for c in deep.call_args_list if isinstance(c.args[0], ddb_models.Table)]
        self.assertEqual(len(tables), 1)
        self.assertEqual(self.count(), 150)

    def test_a_failed_condition_cancels_every_item(self):
        items = [self.put(f"new{i}") for i in range(10)] + [self.put("old3")]
        with self.assertRaises(self.db.exceptions.TransactionCanceledException) as caught:
            self.db.transact_write_items(TransactItems=items)
        reasons = [r["Code"] for r in caught.exception.response["CancellationReasons"]]
        self.assertEqual(reasons, ["None"] * 10 + ["ConditionalCheckFailed"])
        self.assertEqual(self.count(), 50, "nothing written")


if __name__ == "__main__":
    unittest.main()
