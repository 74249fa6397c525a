"""Fault injection for any service, and request counts: how tests make AWS fail on cue and
read back what the code under test called.

  * A fault (control endpoint faults) answers the next `count` requests to its `target` whose
    body, path, query or Authorization header (so an access key id) contains `match`, with its
    status and code shaped as the request's protocol shapes errors. Its `target` is the
    request's X-Amz-Target (awsJson), its query `Action` (form body or query string), a
    "METHOD /path" prefix (REST), or for rpcv2Cbor `Service.Operation` from its path
    /service/<Service>/operation/<Operation>, e.g. GraniteServiceVersion20100801.GetMetricData
    (the X-Amz-Target an awsJson CloudWatch client sends, so one fault catches both; matched
    against the decoded CBOR body).
  * Request counts (control endpoint requests) by "<service>.<Operation>": the service from
    the SigV4 credential scope (cloudformation, dynamodb, sns, monitoring, ...), the operation
    from what a fault's target names (the part of an X-Amz-Target or Service.Operation after
    its last dot, or the query Action), or "METHOD /path" for REST, e.g.
    "lambda.POST /2015-03-31/functions/fn/invocations". Every request but /_lifeguard/ and
    /moto-api/ ones is counted, those answered by an injected fault included.
"""

import json
import secrets
from urllib.parse import unquote

from .awslambda import lambda_error
from .calls import cbor_text, credential_scope
from .cloudwatch import cbor_error
from .state import FAULTS, REQUEST_COUNTS


def count_request(environ, called) -> None:
    """Counts a request as "<service>.<Operation>" under its access key id: both from its
    `credential_scope` ("unknown" service if unsigned), the operation from `called` (its
    calls.request_target), or "METHOD /path" (no query string) for REST."""
    target, action, _ = called
    access_key, _, service = credential_scope(environ)
    operation = (target.rsplit(".", 1)[-1] if target else action
                 or f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}")
    key = (access_key, f"{service}.{operation}")
    REQUEST_COUNTS[key] = REQUEST_COUNTS.get(key, 0) + 1


def take_fault(environ, body: bytes, called):
    """The first pending fault matching this request (its count decremented), or None;
    `called` is the request's calls.request_target."""
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    target, action, rpc = called
    text = cbor_text(environ, body) if rpc else body.decode("utf-8", "replace")
    haystack = "\n".join([text, path, environ.get("RAW_URI", ""),
                          unquote(environ.get("QUERY_STRING", "")),
                          environ.get("HTTP_AUTHORIZATION", "")])
    for fault in FAULTS:
        wanted = fault["target"]
        hit = (wanted == target if target else wanted == action if action
               else f"{method} {path}".startswith(wanted))
        if hit and fault["match"] in haystack:
            fault["count"] -= 1
            if fault["count"] <= 0:
                FAULTS.remove(fault)
            return fault, target, action, bool(rpc)
    return None


def fault_response(fault, target, action, cbor):
    """(status, headers, body) of an error `fault` ({"status", "code", "message"}) in the
    protocol of the request: rpcv2Cbor (`cbor`), awsJson (`target`), query (`action`), else
    REST-JSON as Lambda answers."""
    code, message, status = fault["code"], fault["message"], fault["status"]
    if cbor:  # rpcv2Cbor (CloudWatch): __type and message, x-amzn-query-error
        return cbor_error(status, code, message)
    headers = {"x-amzn-ErrorType": code, "x-amzn-RequestId": secrets.token_hex(16)}
    if target:  # awsJson 1.0/1.1
        headers["Content-Type"] = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message})
    elif action:  # awsQuery
        headers["Content-Type"] = "text/xml"
        kind = "Sender" if status < 500 else "Receiver"
        body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error>"
                f"<RequestId>{headers['x-amzn-RequestId']}</RequestId></ErrorResponse>")
    else:  # restJson (Lambda)
        status, more, body = lambda_error(status, code, message)
        headers.update(more)
    return status, headers, body

