"""Orders: a small Python consumer of the lifeguard hooks.

Two handlers over an in-code table, answering API-Gateway style ({statusCode, body} with a JSON
body), standard library only:

- get_order:   {"pathParameters": {"orderId": "o-1001"}} -> the order, 404 if unknown, 400 if
               no id is given
- list_orders: {"queryStringParameters": {"status": "shipped"}} (optional) -> the orders, newest
               first, with their count

Each body also names the Lambda version that answered ("version"), so a probe can tell versions
apart (the checks ignore it when comparing versions).
"""

import json
import os

ORDERS = (
    {"orderId": "o-1001", "customerId": "alice", "status": "shipped", "total": 42.5, "placed": "2026-11-02"},
    {"orderId": "o-1002", "customerId": "bob", "status": "pending", "total": 12.0, "placed": "2026-11-20"},
    {"orderId": "o-1003", "customerId": "alice", "status": "delivered", "total": 99.9, "placed": "2026-10-15"},
)
STATUSES = frozenset(order["status"] for order in ORDERS) | {"cancelled"}


def _version():
    return os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")


def _respond(status_code, body):
    return {
        "statusCode": status_code,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({**body, "version": _version()}),
    }


def _params(event, key):
    """A parameter map of the event; API Gateway sends null when there are none."""
    if not isinstance(event, dict):
        return {}
    value = event.get(key)
    return value if isinstance(value, dict) else {}


def get_order(event, context):
    order_id = _params(event, "pathParameters").get("orderId")
    if not isinstance(order_id, str) or not order_id:
        return _respond(400, {"message": "orderId is required"})
    for order in ORDERS:
        if order["orderId"] == order_id:
            return _respond(200, {"order": order})
    return _respond(404, {"message": f"unknown order {order_id}"})


def list_orders(event, context):
    status = _params(event, "queryStringParameters").get("status")
    if status is not None and status not in STATUSES:
        return _respond(400, {"message": f"unknown status {status}; one of {', '.join(sorted(STATUSES))}"})
    orders = [order for order in ORDERS if status is None or order["status"] == status]
    orders.sort(key=lambda order: order["placed"], reverse=True)
    return _respond(200, {"count": len(orders), "orders": orders})
