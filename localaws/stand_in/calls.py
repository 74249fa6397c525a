"""What an AWS request calls and who signed it, as faults, request counts and IAM enforcement
name it; and its body as text.

moto routes a request internally and tells nothing of it, so the stand-in reads the same from
the request itself, whatever its protocol:
  * awsJson: the X-Amz-Target header ("CodeDeploy_20141006.GetDeployment");
  * rpcv2Cbor: "Service.Operation" from the path /service/<Service>/operation/<Operation>
    (CloudWatch as aws-sdk-cloudwatch speaks it);
  * query (CloudFormation, SNS, IAM, ...): the Action of the form body or query string;
  * REST (Lambda): none of those; callers fall back to "METHOD /path".
The service, region and access key id come from the SigV4 credential scope.
"""

import gzip
import json
import re
from urllib.parse import parse_qs

import cbor2

RPC_PATH = re.compile(r"/service/([^/]+)/operation/([^/]+)")
CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]*)/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")


def request_target(environ, body: bytes):
    """What a request calls, as faults and request counts name it: (target, action, rpc) with
    `target` its X-Amz-Target (awsJson) or "Service.Operation" (rpcv2Cbor, whose path match is
    `rpc`), else `action` its query Action (form body or query string); neither for REST."""
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    rpc = RPC_PATH.fullmatch(path) if method == "POST" else None  # rpcv2Cbor: Service.Operation
    target = environ.get("HTTP_X_AMZ_TARGET") or (rpc and f"{rpc[1]}.{rpc[2]}")
    action = None  # query-protocol services (CloudFormation, IAM, ...) name it in the body
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]
    action = action or parse_qs(environ.get("QUERY_STRING", "")).get("Action", [None])[0]
    return target, action, rpc


def credential_scope(environ):
    """(access key id, region, service) of a request's SigV4 credential scope (Authorization
    header, or X-Amz-Credential of a presigned URL); ("", "", "unknown") if unsigned."""
    presigned = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    scope = (CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
             or CREDENTIAL_SCOPE.search(f"Credential={presigned}"))
    return (scope[1], scope[2], scope[3]) if scope else ("", "", "unknown")


def json_or_text(raw):
    """A body (bytes or text) as the JSON value it holds, else as text."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


def cbor_text(environ, body: bytes) -> str:
    """An rpcv2Cbor body as JSON text (gunzipped, decoded), for matching faults against."""
    try:
        if "gzip" in environ.get("HTTP_CONTENT_ENCODING", ""):
            body = gzip.decompress(body)
        return json.dumps(cbor2.loads(body) if body else {}, default=str, ensure_ascii=False)
    except (cbor2.CBORError, ValueError, TypeError, OSError, EOFError):
        return body.decode("utf-8", "replace")
