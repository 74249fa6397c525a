"""DynamoDB's TransactWriteItems at the cost AWS's semantics imply: moto backs up a table once per
item of a transaction (to restore it if one item fails), so a 100-item transaction on a table of
n items copies 100·n items and a reaper run's marks took minutes; one backup per table gives the
same all-or-nothing result."""

import copy
import types

from moto.dynamodb import models as ddb_models

_orig_transact_write_items = ddb_models.DynamoDBBackend.transact_write_items


def transact_write_items(self, *args, **kwargs):
    """moto's TransactWriteItems, each table backed up once (moto's module sees a deepcopy that
    copies a table once per call and anything else as before)."""
    backups = {}

    def deepcopy(value, memo=None):
        if isinstance(value, ddb_models.Table):
            if id(value) not in backups:
                backups[id(value)] = copy.deepcopy(value, memo)
            return backups[id(value)]
        return copy.deepcopy(value, memo)

    ddb_models.copy = types.SimpleNamespace(deepcopy=deepcopy)
    try:
        return _orig_transact_write_items(self, *args, **kwargs)
    finally:
        ddb_models.copy = copy


ddb_models.DynamoDBBackend.transact_write_items = transact_write_items
