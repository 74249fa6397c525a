"""Local AWS for lifeguard's tests: moto 5.2.5 plus what our tests need of AWS.

    .venv/bin/python localaws/launcher.py --port 4599

What is added to moto (each faithful to AWS's documented behaviour):
  * one global lock around every call into moto (moto is not thread-safe), while
    scripted Lambda delays sleep outside it;
  * CodeDeploy: AWS-shaped deployment ids, GetDeployment returning only the sha256 of an
    AppSpecContent revision, GetApplicationRevision, lifecycle hook executions parsed from
    the AppSpec's Hooks, PutLifecycleEventHookExecutionStatus, StopDeployment, and the
    deployment group's alarm configuration in GetDeploymentGroup;
  * Lambda Invoke: 404 for unknown functions/versions, X-Amz-Executed-Version, and scripted
    answers per function version (payload, FunctionError, delay, throttling), optionally
    chosen by the request payload (`whenPayload`);
  * CloudWatch over Smithy rpcv2Cbor (what aws-sdk-cloudwatch speaks; moto reads only the
    query protocol): CBOR requests are translated to query calls and moto's XML answers back
    to CBOR, errors included (`__type`, `message`, x-amzn-query-error), gzip bodies read;
  * CloudWatch GetMetricData: a metric is its namespace, name and *set* of dimensions (moto
    wants the dimensions in put order and ignores the namespace when they are given),
    StartTime rounded as AWS documents, MaxDatapoints/NextToken pages;
  * CloudFormation: UpdateTerminationProtection (StackId back; "Stack [name] does not exist";
    LastUpdatedTime untouched); DeleteStack refused with 400 ValidationError "Stack [<name or
    id as given>] cannot be deleted while TerminationProtection is enabled"; LastUpdatedTime
    set by every UpdateStack and executed UPDATE change set; UpdateStack refused outside the
    settled states (DELETE_FAILED, *_IN_PROGRESS, ...), for that before "No updates are to be
    performed."; DeleteStack refused with 400 ValidationError "Stack [<name or id as given>]
    cannot be deleted while in status <S>" while an update or import runs (UPDATE_*/IMPORT_*
    _IN_PROGRESS); DeleteStack of a stack whose export is imported answers 200 but the stack
    stays (UPDATE_COMPLETE, StackStatusReason "Export X cannot be deleted as it is in use by
    Y"); ListImports; a DescribeStacks NextToken that survives deletion of the stack it points
    at; scripted DELETE_FAILED (control endpoint cloudformation/delete-failures); a scripted
    StackStatus, ParentId and RootId (cloudformation/stack-state: moto creates stacks at once
    and never nests them), which DescribeStacks and ListStacks show;
  * IAM enforcement for principals bound to policy documents (control endpoints iam/...,
    e.g. a role's policies from a SAM template, localaws/roles.py): their requests are
    authorized before faults and moto with IAM's evaluation logic (localaws/iam_policy.py)
    on the actions, resource ARNs and condition keys AWS uses, aws:ResourceTag from moto's
    state included (localaws/authorization.py); refusals get AWS's AccessDenied message in
    the service's own error shape; an operation not mapped there is refused; GetFunction
    without lambda:ListTags answers a TagsError instead of Tags. Other keys are unrestricted;
  * fault injection for any service, and read-back of what the code under test did.
    A fault's `target` is the request's X-Amz-Target (awsJson), its query `Action` (form body
    or query string), a "METHOD /path" prefix (REST), or for rpcv2Cbor `Service.Operation` from
    its path /service/<Service>/operation/<Operation>, e.g.
    GraniteServiceVersion20100801.GetMetricData (the X-Amz-Target an awsJson CloudWatch client
    sends, so one fault catches both);
  * request counts by "<service>.<Operation>" (control endpoint requests): the service from
    the SigV4 credential scope (cloudformation, dynamodb, sns, monitoring, ...), the operation
    from what a fault's target names (the part of an X-Amz-Target or Service.Operation after
    its last dot, or the query Action), or "METHOD /path" for REST, e.g.
    "lambda.POST /2015-03-31/functions/fn/invocations". Every request but /_lifeguard/ and
    /moto-api/ ones is counted, those answered by an injected fault included.
Control endpoints live under /_lifeguard/ (see `control`); POST /moto-api/reset clears
their state too.
"""

import argparse
import base64
import copy
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import secrets
import string
import threading
import time
import uuid
from urllib.parse import parse_qs, unquote, urlencode

import cbor2
import yaml
from botocore.loaders import create_loader
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import run_simple
from werkzeug.wrappers import Request

from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.responses import LambdaResponse
from moto.cloudformation import exceptions as cfn_exceptions
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudwatch import exceptions as cw_exceptions
from moto.cloudwatch import models as cw_models
from moto.cloudwatch import responses as cw_responses
from moto.cloudwatch.metric_data_expression_parser import parse_expression as cw_parse_expression
from moto.codedeploy import models as cd_models
from moto.codedeploy import responses as cd_responses
from moto.codedeploy.exceptions import CodeDeployException
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

import authorization
import iam_policy

# Everything below (moto and our own state) is only touched while holding LOCK.
LOCK = threading.RLock()
SCRIPTS: dict[tuple[str, str], list[dict]] = {}  # (function name, qualifier) -> behaviours
INVOCATIONS: list[dict] = []  # every Invoke, in order
FAULTS: list[dict] = []  # pending injected faults
HOOK_REPORTS: list[dict] = []  # every PutLifecycleEventHookExecutionStatus call, in order
DELETE_FAILURES: list[dict] = []  # scripted CloudFormation DeleteStack failures, one-shot
# Control paths whose GET shows what is pending and DELETE drops it.
SCRIPTED_LISTS = {"/_lifeguard/faults": FAULTS,
                  "/_lifeguard/cloudformation/delete-failures": DELETE_FAILURES}
REQUEST_COUNTS: dict[str, int] = {}  # "<service>.<Operation>" -> requests handled
PRINCIPALS: dict[str, dict] = {}  # access key id -> {"name", "arn", "policies"} (see authorize)
DENIALS: list[dict] = []  # every request refused by IAM enforcement, in order
_thread = threading.local()  # .delay_ms: set by a scripted invoke, slept outside LOCK


def clear_state() -> None:
    SCRIPTS.clear()
    INVOCATIONS.clear()
    FAULTS.clear()
    HOOK_REPORTS.clear()
    DELETE_FAILURES.clear()
    REQUEST_COUNTS.clear()
    PRINCIPALS.clear()
    DENIALS.clear()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _every_backend(backends):
    """Each region's backend of a moto service, across all accounts."""
    for regions in backends.values():
        yield from regions.values()


def _json_or_text(raw):
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


# --------------------------------------------------------------------------- CodeDeploy

class CodeDeployError(CodeDeployException):
    """Any CodeDeploy error: HTTP 400, {"__type": code, "message": ...}, x-amzn-ErrorType."""

    code = 400


HOOK_STATUSES = ["Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Unknown"]
REVISION_KEYS = {"AppSpecContent": "appSpecContent", "String": "string"}


def _with_sha256(revision):
    """A copy of an inline revision with its sha256 filled in when only content was given."""
    revision = copy.deepcopy(revision) or {}
    body = revision.get(REVISION_KEYS.get(revision.get("revisionType"), ""))
    if isinstance(body, dict) and body.get("content") is not None and not body.get("sha256"):
        body["sha256"] = _sha256(body["content"])
    return revision


def _revision_key(application_name, revision):
    body = _with_sha256(revision).get(REVISION_KEYS.get(revision.get("revisionType"), ""))
    return (application_name, revision.get("revisionType"), (body or {}).get("sha256"))


def _hook_execution_id() -> str:
    # AWS's ids are opaque base64 of an encrypted JSON blob ("eyJlbmNyeXB0ZWREYXRhIjoi...").
    b64 = lambda n: base64.b64encode(secrets.token_bytes(n)).decode()
    blob = {"encryptedData": b64(96), "ivParameterSpec": b64(16), "materialSetSerial": 1}
    return base64.b64encode(json.dumps(blob, separators=(",", ":")).encode()).decode()


def _appspec_hooks(revision) -> list[tuple[str, str]]:
    """(lifecycle event, hook function) pairs from the AppSpec's `Hooks` (JSON or YAML)."""
    body = revision.get(REVISION_KEYS.get(revision.get("revisionType"), "")) or {}
    try:
        spec = yaml.safe_load(body.get("content") or "")  # YAML also parses JSON
    except yaml.YAMLError:
        return []
    hooks = spec.get("Hooks") if isinstance(spec, dict) else None
    entries = [hooks] if isinstance(hooks, dict) else hooks if isinstance(hooks, list) else []
    return [
        (event, fn)
        for entry in entries
        if isinstance(entry, dict)
        for event, fn in entry.items()
        if isinstance(fn, str)  # EC2/on-premises hooks are script lists: not hook functions
    ]


_orig_info_init = cd_models.DeploymentInfo.__init__


def _info_init(self, *args, **kwargs):
    _orig_info_init(self, *args, **kwargs)
    # AWS deployment ids are "d-" and 9 upper-case alphanumerics (moto uses a UUID).
    alphabet = string.ascii_uppercase + string.digits
    self.deployment_id = "d-" + "".join(secrets.choice(alphabet) for _ in range(9))
    self.hook_executions: list[dict] = []  # filled by create_deployment below


cd_models.DeploymentInfo.__init__ = _info_init

_orig_backend_init = cd_models.CodeDeployBackend.__init__


def _backend_init(self, *args, **kwargs):
    _orig_backend_init(self, *args, **kwargs)
    self.revisions: dict[tuple, dict] = {}  # _revision_key -> registered revision


cd_models.CodeDeployBackend.__init__ = _backend_init

_orig_create_deployment = cd_models.CodeDeployBackend.create_deployment


def create_deployment(self, **kwargs):
    """moto's CreateDeployment, plus revision registration and hook executions."""
    kwargs["revision"] = revision = _with_sha256(kwargs.get("revision"))
    deployment = self.deployments[_orig_create_deployment(self, **kwargs)]
    key = _revision_key(deployment.application_name, revision)
    if key[2]:  # an inline revision: AWS registers it with the application
        now = utcnow()
        entry = self.revisions.setdefault(
            key, {"revision": revision, "registerTime": now, "firstUsedTime": now,
                  "deploymentGroups": [], "description": kwargs.get("description")})
        entry["lastUsedTime"] = now
        if deployment.deployment_group_name not in entry["deploymentGroups"]:
            entry["deploymentGroups"].append(deployment.deployment_group_name)
    deployment.hook_executions = [
        {"lifecycleEvent": event, "hookFunction": fn,
         "lifecycleEventHookExecutionId": _hook_execution_id(), "status": "Pending"}
        for event, fn in _appspec_hooks(revision)
    ]
    return deployment.deployment_id


def put_lifecycle_event_hook_execution_status(self, deployment_id, execution_id, status):
    if status is not None and status not in HOOK_STATUSES:  # input validation comes first
        raise CodeDeployError(
            "ValidationException",
            f"1 validation error detected: Value '{status}' at 'status' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(HOOK_STATUSES)}]")
    if not deployment_id:
        raise CodeDeployError("DeploymentIdRequiredException", "Deployment ID is required.")
    deployment = self.get_deployment(deployment_id)  # DeploymentDoesNotExistException
    hook = next((h for h in deployment.hook_executions
                 if h["lifecycleEventHookExecutionId"] == execution_id), None)
    if hook is None:
        raise CodeDeployError(
            "InvalidLifecycleEventHookExecutionIdException",
            f"A lifecycle event hook execution with ID {execution_id} does not exist "
            f"for deployment {deployment_id}.")
    if status not in ("Succeeded", "Failed"):
        raise CodeDeployError(
            "InvalidLifecycleEventHookExecutionStatusException",
            f"The status {status} is not valid: only Succeeded or Failed can be reported.")
    if hook["status"] != "Pending":
        raise CodeDeployError(
            "LifecycleEventAlreadyCompletedException",
            f"The lifecycle event hook execution {execution_id} is already {hook['status']}.")
    hook["status"] = status
    return execution_id


def get_application_revision(self, application_name, revision):
    if not application_name:
        raise CodeDeployError("ApplicationNameRequiredException",
                              "The minimum number of required application names was not specified.")
    self.get_application(application_name)  # ApplicationDoesNotExistException
    if not revision:
        raise CodeDeployError("RevisionRequiredException", "The revision ID was not specified.")
    entry = self.revisions.get(_revision_key(application_name, revision))
    if entry is None:
        raise CodeDeployError(
            "RevisionDoesNotExistException",
            f"No application revision found for revision {json.dumps(revision)}")
    return entry


def stop_deployment(self, deployment_id):
    deployment = self.get_deployment(deployment_id)
    if deployment.status in ("Succeeded", "Failed", "Stopped"):
        raise CodeDeployError("DeploymentAlreadyCompletedException",
                              f"The deployment {deployment_id} has already completed.")
    deployment.status, deployment.complete_time = "Stopped", utcnow()


cd_models.CodeDeployBackend.create_deployment = create_deployment
cd_models.CodeDeployBackend.put_lifecycle_event_hook_execution_status = (
    put_lifecycle_event_hook_execution_status)
cd_models.CodeDeployBackend.get_application_revision = get_application_revision
cd_models.CodeDeployBackend.stop_deployment = stop_deployment

_orig_deployment_info = cd_responses._deployment_info


def _deployment_info(deployment):
    """GetDeployment / BatchGetDeployments: AWS returns an AppSpecContent revision's
    sha256 only, never its content (String revisions come back whole)."""
    info = _orig_deployment_info(deployment)
    revision = info.get("revision") or {}
    if revision.get("revisionType") == "AppSpecContent":
        sha = (revision.get("appSpecContent") or {}).get("sha256")
        info["revision"] = {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": sha}}
    return info


cd_responses._deployment_info = _deployment_info


def _put_hook_status_response(self):
    report = {"deploymentId": self._get_param("deploymentId"),
              "lifecycleEventHookExecutionId": self._get_param("lifecycleEventHookExecutionId"),
              "status": self._get_param("status"), "accepted": False, "error": None}
    HOOK_REPORTS.append(report)  # recorded whether accepted or not
    try:
        execution_id = self.codedeploy_backend.put_lifecycle_event_hook_execution_status(
            report["deploymentId"], report["lifecycleEventHookExecutionId"], report["status"])
    except JsonRESTError as err:
        report["error"] = err.error_type
        raise
    report["accepted"] = True
    return ActionResult({"lifecycleEventHookExecutionId": execution_id})


def _get_application_revision_response(self):
    name = self._get_param("applicationName")
    entry = self.codedeploy_backend.get_application_revision(name, self._get_param("revision"))
    info = {k: v for k, v in entry.items() if k != "revision" and v is not None}
    return ActionResult({"applicationName": name, "revision": entry["revision"],
                         "revisionInfo": info})


def _stop_deployment_response(self):
    self.codedeploy_backend.stop_deployment(self._get_param("deploymentId"))
    return ActionResult({"status": "Succeeded", "statusMessage": "Deployment stopped."})


_moto_deployment_group_info = cd_responses._deployment_group_info


def _deployment_group_info_with_alarms(deployment_group):
    """moto stores a group's alarm configuration but answers `{}`; AWS returns it."""
    info = _moto_deployment_group_info(deployment_group)
    if deployment_group.alarm_configuration:
        info["alarmConfiguration"] = deployment_group.alarm_configuration
    return info


cd_responses._deployment_group_info = _deployment_group_info_with_alarms

R = cd_responses.CodeDeployResponse
R.put_lifecycle_event_hook_execution_status = _put_hook_status_response
R.get_application_revision = _get_application_revision_response
R.stop_deployment = _stop_deployment_response


def find_deployment(deployment_id):
    """A deployment in any account/region (for read-back), or None."""
    for backend in _every_backend(cd_models.codedeploy_backends):
        if deployment_id in backend.deployments:
            return backend.deployments[deployment_id]
    return None


# ------------------------------------------------------------------------------- Lambda

def _lambda_error(status, code, message, **extra):
    """Lambda (REST-JSON) error: x-amzn-ErrorType header, {"Type": "User", "message": ...}."""
    body = json.dumps({**extra, "Type": "User" if status < 500 else "Service",
                       "message": message})
    return status, {"x-amzn-ErrorType": code, "Content-Type": "application/json"}, body


def _split_qualifier(name_or_arn, qualifier):
    """('fn', '2') from 'fn', 'fn:2' or an ARN, plus a ?Qualifier= given separately."""
    tail = name_or_arn.split(":function:")[-1]
    name, _, in_name = tail.partition(":")
    return name, in_name or qualifier


_orig_invoke = LambdaResponse.invoke


def invoke(self):
    """Invoke: unknown function/version -> 404; scripted answer if one exists for the
    (function, qualifier) or (function, resolved version); else moto's, plus the header."""
    name_or_arn = unquote(self.path.rsplit("/", 2)[-2])
    query_qualifier = self.querystring.get("Qualifier", [None])[0]
    _, qualifier = _split_qualifier(name_or_arn, query_qualifier)
    try:
        fn = self.backend.get_function(name_or_arn, query_qualifier)
    except UnknownFunctionException as err:
        status, headers, body = _lambda_error(404, "ResourceNotFoundException", err.message)
        return status, {**headers, "status": status}, body  # moto reads the status from here
    version = str(fn.version)  # "$LATEST" or the published version an alias points to
    script = SCRIPTS.get((fn.function_name, qualifier or "$LATEST")) or SCRIPTS.get(
        (fn.function_name, version))
    sync = self.headers.get("X-Amz-Invocation-Type", "RequestResponse") == "RequestResponse"

    behaviour = _pick_behaviour(script, _json_or_text(self.body)) if script and sync else None
    if behaviour:
        _thread.delay_ms = behaviour["delayMs"]
        if behaviour["throttle"]:
            status, headers, body = _lambda_error(
                429, "TooManyRequestsException", "Rate Exceeded.",
                Reason="CallerRateLimitExceeded")
        else:
            status, body = 200, json.dumps(behaviour["payload"])
            headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": version}
            if behaviour["functionError"]:
                headers["X-Amz-Function-Error"] = behaviour["functionError"]
    else:
        status, headers, body = _orig_invoke(self)
        if status == 200:
            headers["X-Amz-Executed-Version"] = version

    INVOCATIONS.append({"function": fn.function_name, "qualifier": qualifier,
                        "executedVersion": version, "payload": _json_or_text(self.body),
                        "status": status})
    return status, {**headers, "status": status}, body  # moto reads the status from here


LambdaResponse.invoke = invoke


def _pick_behaviour(script, payload):
    """The first behaviour whose `whenPayload` equals the request payload (it stays); else the
    next one without `whenPayload` (used up in order, the last repeats); else None."""
    for behaviour in script:
        if "whenPayload" in behaviour and behaviour["whenPayload"] == payload:
            return behaviour
    queue = [b for b in script if "whenPayload" not in b]
    if not queue:
        return None
    if len(queue) > 1:
        script.remove(queue[0])
    return queue[0]


# ------------------------------------------------------------------------------ CloudWatch

# aws-sdk-cloudwatch (and botocore's newest clients) speak Smithy rpcv2Cbor: POST
# /service/GraniteServiceVersion20100801/operation/<Op>, CBOR bodies, `smithy-protocol:
# rpc-v2-cbor` on both sides. moto only reads CloudWatch's query (form/XML) protocol, so such
# a request is decoded, serialized again by botocore's own query serializer from the same
# service model, run through moto, and moto's XML is parsed by botocore's query parser and
# encoded as CBOR by the output shape (timestamps as tag 1 epoch seconds, doubles as floats).
# Errors keep their HTTP status and carry `__type` (the error's shape id) and `message`, plus
# the `x-amzn-query-error: Code;Sender|Receiver` header of an awsQueryCompatible service: the
# SDKs match modeled errors by that code (e.g. InvalidParameterValue, ResourceNotFound).
CW_SERVICE = "GraniteServiceVersion20100801"
CW_PATH = f"/service/{CW_SERVICE}/operation/"
CW_MODEL = ServiceModel(create_loader().load_service_model("cloudwatch", "service-2"),
                        "cloudwatch")
CW_TO_QUERY = create_serializer("query", include_validation=False)
CW_FROM_XML = create_parser("query")
CW_ERROR_SHAPES = {s.metadata.get("error", {}).get("code", s.name): s.name
                   for s in CW_MODEL.error_shapes}
RPC_PATH = re.compile(r"/service/([^/]+)/operation/([^/]+)")
# what CBOR values may stand for each simple shape type (anything else is a bad request)
CBOR_TYPES = {"string": str, "boolean": bool, "integer": int, "long": int, "blob": bytes,
              "double": (int, float), "float": (int, float),
              "timestamp": (int, float, datetime.datetime)}


class RequestRejected(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code = status, code


def _from_cbor(value, shape):
    """A decoded CBOR input as botocore's serializers take it: nulls and unknown members dropped,
    timestamps as aware datetimes; a value of the wrong type raises TypeError."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _from_cbor(v, shape.members[k]) for k, v in value.items()
                if k in shape.members and v is not None}
    if kind == "list" and isinstance(value, list):
        return [_from_cbor(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _from_cbor(v, shape.value) for k, v in value.items()}
    if not isinstance(value, CBOR_TYPES.get(kind, ())) or isinstance(value, bool) != (
            kind == "boolean"):
        raise TypeError(f"a CBOR {type(value).__name__} cannot be a {kind} ({shape.name})")
    if kind == "timestamp" and not isinstance(value, datetime.datetime):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    return value


def _to_cbor(value, shape):
    """A value parsed by botocore as rpcv2Cbor encodes it for `shape`."""
    kind = shape.type_name
    if kind == "structure":
        return {k: _to_cbor(v, shape.members[k]) for k, v in value.items()
                if k in shape.members and v is not None}
    if kind == "list":
        return [_to_cbor(v, shape.member) for v in value]
    if kind == "map":
        return {k: _to_cbor(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        return cbor2.CBORTag(1, round(value.timestamp(), 3))
    return float(value) if kind in ("double", "float") else value


def cbor_input(environ, body):
    """(operation model, input params) of an rpcv2Cbor CloudWatch request, or RequestRejected."""
    name = environ.get("PATH_INFO", "")[len(CW_PATH):]
    if name not in CW_MODEL.operation_names:
        raise RequestRejected(404, "UnknownOperationException", f"Unknown operation {name}")
    operation = CW_MODEL.operation_model(name)
    try:
        if "gzip" in environ.get("HTTP_CONTENT_ENCODING", ""):  # SDKs compress big PutMetricData
            body = gzip.decompress(body)
        value = cbor2.loads(body) if body else {}
        shape = operation.input_shape
        return operation, (_from_cbor(value, shape) if shape else {})
    except (cbor2.CBORError, ValueError, TypeError, OSError, EOFError) as err:
        raise RequestRejected(400, "SerializationException", f"Cannot read the request: {err}")


def cbor_error(status, code, message, fault=None, request_id=None):
    """An rpcv2Cbor error response of the awsQueryCompatible CloudWatch."""
    shape = CW_ERROR_SHAPES.get(code)
    body = {"__type": f"com.amazonaws.cloudwatch#{shape}" if shape else code, "message": message}
    fault = fault or ("Sender" if status < 500 else "Receiver")
    return status, {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
                    "x-amzn-query-error": f"{code};{fault}",
                    "x-amzn-RequestId": request_id or str(uuid.uuid4())}, cbor2.dumps(body)


def cloudwatch_cbor(call_moto, environ, body):
    """One rpcv2Cbor CloudWatch call, run by moto as the equivalent query-protocol call."""
    try:
        operation, params = cbor_input(environ, body)
    except RequestRejected as err:
        return cbor_error(err.status, err.code, str(err))
    request = CW_TO_QUERY.serialize_to_request(params, operation)
    form = urlencode(request["body"]).encode()
    drop = ("HTTP_CONTENT_ENCODING", "HTTP_SMITHY_PROTOCOL", "HTTP_ACCEPT",
            "HTTP_X_AMZN_QUERY_MODE", "HTTP_TRANSFER_ENCODING")
    query_environ = {k: v for k, v in environ.items() if k not in drop}
    query_environ.update({
        "PATH_INFO": "/", "RAW_URI": "/", "REQUEST_URI": "/", "QUERY_STRING": "",
        "CONTENT_TYPE": request["headers"]["Content-Type"], "CONTENT_LENGTH": str(len(form)),
        "wsgi.input": io.BytesIO(form)})
    try:
        status_line, headers, chunks = call_moto(query_environ)
    except NotImplementedError as err:  # moto lacks the operation: the same 500, readable
        return cbor_error(500, "InternalFailure", f"The local AWS (moto): {err}")
    status = int(status_line.split()[0])
    parsed = CW_FROM_XML.parse({"status_code": status, "headers": dict(headers),
                                "body": b"".join(chunks)}, operation.output_shape)
    request_id = parsed.pop("ResponseMetadata", {}).get("RequestId") or str(uuid.uuid4())
    if status >= 300:
        error = parsed.get("Error", {})
        return cbor_error(status, error.get("Code") or str(status), error.get("Message") or "",
                          error.get("Type"), request_id)
    headers = {"smithy-protocol": "rpc-v2-cbor", "x-amzn-RequestId": request_id}
    if operation.output_shape is None:  # no output: empty body, no Content-Type
        return 200, headers, b""
    return (200, {**headers, "Content-Type": "application/cbor"},
            cbor2.dumps(_to_cbor(parsed, operation.output_shape)))


def _naive_utc(moment):
    """moto keeps timestamps as naive UTC datetimes."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def _rounded_start(start, periods):
    """StartTime rounded down as GetMetricData documents: to the 5/10/20/30 s division for such
    high-resolution periods, else to the minute (< 15 days ago), 5 minutes (< 63) or hour."""
    age = utcnow() - start
    days = datetime.timedelta(days=1)
    step = 60 if age < 15 * days else 300 if age < 63 * days else 3600
    step = min([step] + [p for p in periods if p < 60])
    epoch = datetime.datetime(1970, 1, 1)
    return start - datetime.timedelta(seconds=(start - epoch).total_seconds() % step)


STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_orig_get_metric_data = cw_models.CloudWatchBackend.get_metric_data


def get_metric_data(self, queries, start_time, end_time, scan_by="TimestampDescending"):
    """moto's GetMetricData, with AWS's metric identity for MetricStat queries (namespace, name
    and the *set* of dimensions: moto compares dimension lists in order and, when dimensions
    are given, ignores the namespace) and AWS's StartTime rounding. Math expressions (moto
    knows only `Id` references) and Metrics Insights queries are moto's."""
    stat_queries = [q for q in queries if "MetricStat" in q]
    start_time = _rounded_start(_naive_utc(start_time), [int(q["MetricStat"]["Period"])
                                                         for q in stat_queries])
    end_time = _naive_utc(end_time)
    insights = _orig_get_metric_data(  # also validates StartTime < EndTime
        self, [q for q in queries if q.get("Expression", "").startswith("SELECT")],
        start_time, end_time, scan_by)
    results = [_metric_stat_result(self, q, start_time, end_time, scan_by) for q in stat_queries]
    expressions = [
        {"id": q["Id"], "label": q.get("Label") or q["Id"], "status_code": "Complete",
         **dict(zip(("values", "timestamps"), cw_parse_expression(q["Expression"], results)))}
        for q in queries if "Expression" in q and not q["Expression"].startswith("SELECT")]
    returned = [r for q, r in zip(stat_queries, results) if q.get("ReturnData", True)]
    return returned + expressions + insights


def _metric_stat_result(backend, query, start_time, end_time, scan_by):
    stat, metric = query["MetricStat"], query["MetricStat"]["Metric"]
    if stat["Stat"] not in STATISTICS:
        raise cw_exceptions.InvalidParameterValue(
            f"The local AWS (moto) cannot compute the statistic {stat['Stat']}; "
            f"it computes {', '.join(STATISTICS)}.")
    wanted = {(d["Name"], d["Value"]) for d in metric.get("Dimensions", [])}
    data = [md for md in backend.get_all_metrics()
            if md.namespace == metric["Namespace"] and md.name == metric["MetricName"]
            and {(d.name, d.value) for d in md.dimensions} == wanted
            and (not stat.get("Unit") or md.unit == stat["Unit"])
            and start_time <= _naive_utc(md.timestamp) < end_time]
    period, points = datetime.timedelta(seconds=int(stat["Period"])), []
    bucket = start_time
    while bucket < end_time:
        in_bucket = [md for md in data if bucket <= _naive_utc(md.timestamp) < bucket + period]
        if in_bucket:
            stats = cw_models.Statistics([stat["Stat"]], bucket)
            stats.metric_data = in_bucket
            points.append((bucket, stats.get_statistics_for_type(stat["Stat"])))
        bucket += period
    if scan_by != "TimestampAscending":
        points.reverse()
    label = query.get("Label") or f"{metric['MetricName']} {stat['Stat']}"  # moto's default
    return {"id": query["Id"], "label": label,
            "timestamps": [t for t, _ in points], "values": [v for _, v in points],
            "status_code": "Complete"}


cw_models.CloudWatchBackend.get_metric_data = get_metric_data


class InvalidNextToken(cw_exceptions.CloudWatchException):
    code = "InvalidNextToken"


_orig_get_metric_data_response = cw_responses.CloudWatchResponse.get_metric_data


def _get_metric_data_response(self):
    """GetMetricData pages by MaxDatapoints (default 100,800) with a NextToken, as AWS does:
    moto returns everything at once. A page holds every query's result, in order, with up to
    MaxDatapoints points in all; a result with points left for later pages is `PartialData`."""
    params = self._get_params()
    request = {k: v for k, v in params.items() if k not in ("NextToken", "MaxDatapoints")}
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
    offset = 0
    if params.get("NextToken"):
        try:
            token = json.loads(base64.b64decode(params["NextToken"]))
            offset = int(token["offset"]) if token["request"] == digest[:16] else -1
        except (ValueError, TypeError, KeyError):
            offset = -1
        if offset < 0:
            raise InvalidNextToken("The service couldn't process the NextToken.")
    results = _orig_get_metric_data_response(self).result["MetricDataResults"]
    budget, skip, page = int(params.get("MaxDatapoints") or 100800), offset, []
    for result in results:
        values = result["values"][min(skip, len(result["values"])):]
        skip = max(0, skip - len(result["values"]))
        taken = min(len(values), budget)
        budget -= taken
        start = len(result["values"]) - len(values)
        page.append({**result, "values": values[:taken],
                     "timestamps": result["timestamps"][start:start + taken],
                     "status_code": "PartialData" if taken < len(values) else "Complete"})
    answer = {"MetricDataResults": page}
    used = offset + sum(len(r["values"]) for r in page)
    if used < sum(len(r["values"]) for r in results):
        answer["NextToken"] = base64.b64encode(json.dumps(
            {"offset": used, "request": digest[:16]}).encode()).decode()
    return ActionResult(answer)


cw_responses.CloudWatchResponse.get_metric_data = _get_metric_data_response


# ------------------------------------------------------------------------ CloudFormation

CFR = cfn_responses.CloudFormationResponse


def _cfn_error(message):
    return cfn_exceptions.ValidationError(message=message)  # HTTP 400, Code ValidationError


def _live_stack(backend, name_or_id):
    """A stack that is not deleted, by name or stack id (ARN), or None."""
    for stack in backend.stacks.values():
        if name_or_id in (stack.name, stack.stack_id) and stack.status != "DELETE_COMPLETE":
            return stack
    return None


def _import_names(stack) -> set:
    """Export names a stack imports: every Fn::ImportValue in its template, resolved as moto
    resolved it at creation (a literal, or e.g. Fn::Sub over its parameters)."""
    names, todo = set(), [getattr(stack, "template_dict", None) or {}]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Fn::ImportValue":
                    try:
                        name = value if isinstance(value, str) else cfn_parsing.clean_json(
                            value, stack.resource_map)
                    except Exception:  # an import name moto cannot resolve: not tracked
                        name = None
                    if isinstance(name, str):
                        names.add(name)
                else:
                    todo.append(value)
        elif isinstance(node, list):
            todo.extend(node)
    return names


def _importers(backend, export_name) -> list[str]:
    """Names of the live stacks importing `export_name`, in creation order."""
    return [s.name for s in backend.stacks.values()
            if s.status != "DELETE_COMPLETE" and export_name in _import_names(s)]


def _set_last_updated(stack):
    stack.last_updated_time = utcnow()  # DescribeStacks' LastUpdatedTime (moto never sets it)


_orig_stack_update = cfn_models.Stack.update


def _stack_update(self, *args, **kwargs):
    _orig_stack_update(self, *args, **kwargs)
    _set_last_updated(self)  # every successful UpdateStack moves LastUpdatedTime
    self.status_reason = None


cfn_models.Stack.update = _stack_update

_orig_execute_change_set = cfn_models.CloudFormationBackend.execute_change_set


def _execute_change_set(self, change_set_name, stack_name=None):
    result = _orig_execute_change_set(self, change_set_name=change_set_name, stack_name=stack_name)
    change_set = self.change_sets.get(change_set_name) or next(
        (c for c in self.change_sets.values() if change_set_name in (c.change_set_id, c.change_set_name)),
        None)
    if change_set is not None and change_set.change_set_type == "UPDATE":
        stack = self.get_stack(change_set.stack_id)
        _set_last_updated(stack)  # an executed UPDATE change set is an update too
    return result


cfn_models.CloudFormationBackend.execute_change_set = _execute_change_set


def _update_termination_protection_response(self):
    name = self._get_param("StackName")
    enable = self._get_bool_param("EnableTerminationProtection")
    if enable is None:
        raise _cfn_error("1 validation error detected: Value null at "
                         "'enableTerminationProtection' failed to satisfy constraint: "
                         "Member must not be null")
    stack = _live_stack(self.cloudformation_backend, name)
    if stack is None:
        raise _cfn_error(f"Stack [{name}] does not exist")
    # AWS refuses this on a nested stack (it inherits its root's setting); a ParentId scripted
    # by cloudformation/stack-state does not make it refuse here (AWS's message is not known).
    stack.enable_termination_protection = bool(enable)  # LastUpdatedTime stays, as on AWS
    return ActionResult({"StackId": stack.stack_id})


def _delete_stack_response(self):
    """DeleteStack as AWS: refused (400) under termination protection; otherwise 200 and
    deletion 'happens' at once, unless a scripted failure leaves the stack DELETE_FAILED,
    or one of its exports is imported (the stack stays, UPDATE_COMPLETE, with a reason)."""
    name = self._get_param("StackName")
    backend = self.cloudformation_backend
    stack = _live_stack(backend, name)
    if stack is None:  # AWS answers 200 for a stack that does not exist (or is deleted)
        return EmptyResult()
    if stack.enable_termination_protection:
        raise _cfn_error(f"Stack [{name}] cannot be deleted while TerminationProtection is enabled")
    if stack.status in UNDELETABLE:
        raise _cfn_error(f"Stack [{name}] cannot be deleted while in status {stack.status}")
    failure = next((f for f in DELETE_FAILURES
                    if f["stackName"] in (stack.name, stack.stack_id)), None)
    if failure is not None:
        DELETE_FAILURES.remove(failure)
        stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack._add_stack_event("DELETE_FAILED", resource_status_reason=failure["reason"])
        stack.status, stack.status_reason = "DELETE_FAILED", failure["reason"]
        return EmptyResult()
    for export in stack.exports:
        users = [n for n in _importers(backend, export.name) if n != stack.name]
        if users:
            reason = (f"Export {export.name} cannot be deleted as it is in use by "
                      + " and ".join(users))
            stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
            stack._add_stack_event("UPDATE_COMPLETE", resource_status_reason=reason)
            stack.status, stack.status_reason = "UPDATE_COMPLETE", reason
            return EmptyResult()
    stack.status_reason = None
    backend.delete_stack(stack.stack_id)
    return EmptyResult()


def _list_imports_response(self):
    """ListImports (moto lacks it): names of the stacks importing an export, 100 a page."""
    export_name = self._get_param("ExportName")
    names = _importers(self.cloudformation_backend, export_name)
    if not names:
        raise _cfn_error(f"Export '{export_name}' is not imported by any stack.")
    token = self._get_param("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise _cfn_error("Invalid NextToken")
    page = names[start:start + 100]
    answer = {"Imports": page}
    if start + 100 < len(names):
        answer["NextToken"] = str(start + 100)
    return ActionResult(answer)


UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
             "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
# every StackStatus value, and those in which DeleteStack is refused (an update or import is
# running: AWS answers "Stack [x] cannot be deleted while in status UPDATE_IN_PROGRESS")
STACK_STATUSES = create_loader().load_service_model(
    "cloudformation", "service-2")["shapes"]["StackStatus"]["enum"]
UNDELETABLE = {s for s in STACK_STATUSES
               if s.startswith(("UPDATE_", "IMPORT_")) and s.endswith("_IN_PROGRESS")}


def _validate_status(self, stack):
    """UpdateStack is refused outside the settled states (moto checks ROLLBACK_COMPLETE only):
    *_IN_PROGRESS, *_FAILED (DELETE_FAILED included), ROLLBACK_COMPLETE..."""
    if stack.status not in UPDATABLE:
        raise _cfn_error(f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")


_orig_validate_different_update = CFR._validate_different_update


def _validate_different_update(self, incoming_params, stack_body, old_stack):
    """The state comes first: an UpdateStack of a stack in UPDATE_IN_PROGRESS is refused for
    that, even with nothing to change (moto would answer "No updates are to be performed.")."""
    _validate_status(self, old_stack)
    _orig_validate_different_update(self, incoming_params, stack_body, old_stack)


def _describe_stacks_response(self):
    """moto's pages of 50, with a token that survives the deletion of the stack it names
    (moto's is that stack's id, and a deleted one made the next page a 500)."""
    backend = self.cloudformation_backend
    stacks = backend.describe_stacks(self._get_param("StackName"))
    start, token = 0, self._get_param("NextToken")
    if token:
        try:
            last = json.loads(base64.b64decode(token))
            after = datetime.datetime.fromisoformat(last["created"])
        except (ValueError, TypeError, KeyError):
            raise _cfn_error("Invalid NextToken")
        ids = [s.stack_id for s in stacks]
        start = (ids.index(last["id"]) + 1 if last["id"] in ids
                 else next((i for i, s in enumerate(stacks) if s.creation_time > after),
                           len(stacks)))
    page = stacks[start:start + 50]
    answer = {"Stacks": page}
    if start + 50 < len(stacks):
        answer["NextToken"] = base64.b64encode(json.dumps(
            {"id": page[-1].stack_id, "created": page[-1].creation_time.isoformat()}).encode()
        ).decode()
    return ActionResult(answer)


CFR._validate_status = _validate_status
CFR._validate_different_update = _validate_different_update
CFR.describe_stacks = _describe_stacks_response
CFR.update_termination_protection = _update_termination_protection_response
CFR.delete_stack = _delete_stack_response
CFR.list_imports = _list_imports_response


def _find_live_stack(name_or_id, region=None):
    """(backend, stack) of a live stack in any account and `region` (default: any), by name or
    id; or (None, None)."""
    for backend in _every_backend(cfn_models.cloudformation_backends):
        if region and backend.region_name != region:
            continue
        stack = _live_stack(backend, name_or_id)
        if stack is not None:
            return backend, stack
    return None, None


def set_stack_state(data):
    """Control endpoint cloudformation/stack-state -> (HTTP status, body): see `control`."""
    name, status = data.get("stackName"), data.get("status")
    if not name:
        return 400, {"message": "need 'stackName'"}
    if status is not None and (status not in STACK_STATUSES or status == "DELETE_COMPLETE"):
        return 400, {"message": f"status {status!r} is not a StackStatus this can set "
                                "(DELETE_COMPLETE: use DeleteStack)"}
    backend, stack = _find_live_stack(name, data.get("region"))
    if stack is None:
        return 404, {"message": f"no stack {name}"}
    ids = {}
    for key in ("parentId", "rootId"):
        if data.get(key):  # a stack id (or name) in the same account and region
            other = _live_stack(backend, data[key])
            if other is None:
                return 404, {"message": f"no stack {data[key]} (the {key} of {name})"}
            if other is stack:
                return 400, {"message": f"stack {name} cannot be its own {key}"}
            ids[key] = other
    parent, root = ids.get("parentId"), ids.get("rootId")
    if "parentId" in data:  # null or "" makes it a root stack again
        stack.parent_id = parent.stack_id if parent else None
    if root is not None:
        stack.root_id = root.stack_id
    elif parent is not None:  # AWS's RootId: the top-level stack of the tree
        stack.root_id = getattr(parent, "root_id", None) or parent.stack_id
    elif "parentId" in data or "rootId" in data:
        stack.root_id = None
    if status is not None and status != stack.status:
        stack.status, stack.status_reason = status, None
        stack._add_stack_event(status)
    return 200, {"stackId": stack.stack_id, "stackName": stack.name, "status": stack.status,
                 "parentId": getattr(stack, "parent_id", None),
                 "rootId": getattr(stack, "root_id", None)}


# ------------------------------------------------------------------ faults and control

def _cbor_text(environ, body: bytes) -> str:
    """An rpcv2Cbor body as JSON text (gunzipped, decoded), for matching faults against."""
    try:
        if "gzip" in environ.get("HTTP_CONTENT_ENCODING", ""):
            body = gzip.decompress(body)
        return json.dumps(cbor2.loads(body) if body else {}, default=str, ensure_ascii=False)
    except (cbor2.CBORError, ValueError, TypeError, OSError, EOFError):
        return body.decode("utf-8", "replace")


def _request_target(environ, body: bytes):
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


CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]*)/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")


def _credential_scope(environ):
    """(access key id, region, service) of a request's SigV4 credential scope (Authorization
    header, or X-Amz-Credential of a presigned URL); ("", "", "unknown") if unsigned."""
    presigned = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    scope = (CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
             or CREDENTIAL_SCOPE.search(f"Credential={presigned}"))
    return (scope[1], scope[2], scope[3]) if scope else ("", "", "unknown")


def _count_request(environ, called) -> None:
    """Counts a request as "<service>.<Operation>" under its access key id: both from its
    `_credential_scope` ("unknown" service if unsigned), the operation from `_request_target`,
    or "METHOD /path" (no query string) for REST."""
    target, action, _ = called
    access_key, _, service = _credential_scope(environ)
    operation = (target.rsplit(".", 1)[-1] if target else action
                 or f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}")
    key = (access_key, f"{service}.{operation}")
    REQUEST_COUNTS[key] = REQUEST_COUNTS.get(key, 0) + 1


def _take_fault(environ, body: bytes, called):
    """The first pending fault matching this request (its count decremented), or None;
    `called` is the request's `_request_target`."""
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    target, action, rpc = called
    text = _cbor_text(environ, body) if rpc else body.decode("utf-8", "replace")
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


def _fault_response(fault, target, action, cbor):
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
        status, more, body = _lambda_error(status, code, message)
        headers.update(more)
    return status, headers, body


def _record_refused_hook_report(body: bytes, error: str, refused_by: str):
    """A hook report refused before moto is still a call the hook made; `refused_by` is
    "injected" (a fault) or "denied" (IAM enforcement), set true in the record."""
    sent = _json_or_text(body) if body else {}
    sent = sent if isinstance(sent, dict) else {}
    HOOK_REPORTS.append({
        "deploymentId": sent.get("deploymentId"),
        "lifecycleEventHookExecutionId": sent.get("lifecycleEventHookExecutionId"),
        "status": sent.get("status"), "accepted": False, "error": error, refused_by: True})


def _normalize_behaviour(b):
    behaviour = {"payload": b.get("payload"), "functionError": b.get("functionError") or None,
                 "delayMs": int(b.get("delayMs") or 0), "throttle": bool(b.get("throttle"))}
    if "whenPayload" in b:  # only for requests with this payload (compared as JSON)
        behaviour["whenPayload"] = b["whenPayload"]
    return behaviour


# ------------------------------------------------------------------------ IAM enforcement

# AccessDenied per credential-scope service: (HTTP status, error code), shaped by the
# service's protocol (`_denial_response`), as each service answers it.
ACCESS_DENIED = {
    "lambda": (403, "AccessDeniedException"),  # REST-JSON
    "codedeploy": (400, "AccessDeniedException"),  # awsJson1.1
    "dynamodb": (400, "com.amazonaws.dynamodb.v20120810#AccessDeniedException"),  # awsJson1.0
    "cloudformation": (403, "AccessDenied"),  # query
    "sns": (403, "AuthorizationError"),  # query: AuthorizationErrorException in SNS's model
    "monitoring": (403, "AccessDenied"),  # rpcv2Cbor / awsJson / query, awsQueryCompatible
}


def register_principal(data):
    """Control endpoint iam/principals -> (HTTP status, body): see `control`."""
    name, policies = data.get("name"), data.get("policies")
    if not isinstance(name, str) or not re.fullmatch(r"[\w+=,.@-]{1,64}", name):
        return 400, {"message": "need 'name', a role name ([\\w+=,.@-], at most 64)"}
    if not isinstance(policies, list):
        return 400, {"message": "need 'policies', a list of policy documents"}
    for i, policy in enumerate(policies):
        try:
            iam_policy.validate(policy)
        except iam_policy.PolicyError as err:
            return 400, {"message": f"policies[{i}]: {err}"}
    while (access_key := "LGIAM" + secrets.token_hex(8).upper()[:15]) in PRINCIPALS:
        pass  # 20 characters, as AWS's access key ids; unique
    arn = f"arn:aws:sts::{DEFAULT_ACCOUNT_ID}:assumed-role/{name}/{name}"
    PRINCIPALS[access_key] = {"name": name, "arn": arn, "policies": copy.deepcopy(policies)}
    return 200, {"accessKeyId": access_key, "principalArn": arn}


def resolve_role_policies(data):
    """Control endpoint iam/role-policies -> (HTTP status, body): see `control`."""
    import roles  # noqa: PLC0415 (SAM CLI takes seconds to import: only this endpoint needs it)

    if not data.get("template") or not (data.get("function") or data.get("role")):
        return 400, {"message": "need 'template' and 'function' or 'role'"}
    template = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            data["template"])  # relative to the repository root
    region = data.get("region") or "us-east-1"
    account = data.get("account") or DEFAULT_ACCOUNT_ID
    stack_id = data.get("stackId")
    if not stack_id and data.get("stackName"):  # AWS::StackId of that stack, if it exists here
        backend = cfn_models.cloudformation_backends[account][region]
        stack = _live_stack(backend, data["stackName"])
        stack_id = stack.stack_id if stack else None
    try:
        role, policies = roles.role_policies(
            template, function=data.get("function"), role=data.get("role"),
            parameters=data.get("parameters"), resources=data.get("resources"),
            attributes=data.get("attributes"), stack_name=data.get("stackName"),
            stack_id=stack_id, region=region, account=account)
    except roles.RoleError as err:
        return 400, {"message": str(err)}
    return 200, {"role": role,
                 "policies": [{"name": p["name"], "document": p["document"]} for p in policies]}


def _denial_response(service, called, message):
    """AccessDenied as `service` answers it, in the request's protocol."""
    status, code = ACCESS_DENIED.get(service, (403, "AccessDenied"))
    target, action, rpc = called
    if not (target or action):  # REST-JSON (Lambda): IAM's refusal is {"Message": ...} only
        return status, {"x-amzn-ErrorType": code, "Content-Type": "application/json",
                        "x-amzn-RequestId": str(uuid.uuid4())}, json.dumps({"Message": message})
    status, headers, body = _fault_response(
        {"status": status, "code": code, "message": message}, target, action, bool(rpc))
    if service == "monitoring" and target and not rpc:  # awsJson of an awsQueryCompatible API
        headers["x-amzn-query-error"] = f"{code};Sender"
    return status, headers, body


def authorize(environ, body, called):
    """(denial response or None, GetFunction TagsError message or None) of a request: requests
    signed with a bound principal's access key id need every check of their
    `authorization.plan` allowed by its policies; any other request goes through."""
    access_key, region, service = scope = _credential_scope(environ)
    principal = PRINCIPALS.get(access_key)
    if principal is None:
        return None, None
    cbor_params = None
    if environ.get("PATH_INFO", "").startswith(CW_PATH):  # CloudWatch's rpcv2Cbor
        try:
            cbor_params = cbor_input(environ, body)[1]
        except RequestRejected:  # refused as such by cloudwatch_cbor, before moto
            return None, None
    call = authorization.call_of(environ, body, scope, called, cbor_params)
    denial = {"time": utcnow().isoformat() + "Z", "accessKey": access_key,
              "operation": f"{service}.{call.operation}"}
    try:
        plan = authorization.plan(call, principal["name"])
    except authorization.Unmapped as err:
        message = (f"The local AWS cannot authorize {err} for {principal['arn']}: the operation "
                   "is not mapped to IAM actions (localaws/authorization.py), so it is denied.")
        DENIALS.append({**denial, "action": None, "resource": None, "reason": message})
        return _denial_response(service, called, message), None
    for check in plan.checks + ([plan.tags_check] if plan.tags_check else []):
        decision = iam_policy.evaluate(principal["policies"], check.action, check.resource,
                                       check.context)
        if decision.allowed:
            continue
        message = decision.message(principal["arn"], check.action, check.resource)
        if check is plan.tags_check:  # GetFunction still answers, without the tags
            return None, message
        DENIALS.append({**denial, "action": check.action, "resource": check.resource,
                        "reason": decision.reason})
        return _denial_response(service, called, message), None
    return None, None


def _without_tags(response, message):
    """GetFunction's answer to a caller not allowed lambda:ListTags: no Tags, a TagsError."""
    status, headers, chunks = response
    if not status.startswith("200"):
        return response
    answer = json.loads(b"".join(chunks))
    answer.pop("Tags", None)
    answer["TagsError"] = {"ErrorCode": "AccessDeniedException", "Message": message}
    data = json.dumps(answer).encode()
    headers = [(k, str(len(data)) if k.lower() == "content-length" else v) for k, v in headers]
    return status, headers, [data]


def control(method, path, args, data):
    """Our own endpoints under /_lifeguard/ -> (HTTP status, JSON-able body)."""
    if path == "/_lifeguard/health":  # answered under LOCK: proves moto is not stuck
        return 200, {"status": "ok"}
    if path == "/_lifeguard/lambda/scripts" and method == "POST":
        behaviours = data.get("behaviours")
        if not data.get("function") or not isinstance(behaviours, list) or not behaviours:
            return 400, {"message": "need 'function' and a non-empty 'behaviours' list"}
        name, qualifier = _split_qualifier(data["function"], data.get("qualifier"))
        script = [_normalize_behaviour(b) for b in behaviours]
        SCRIPTS[(name, str(qualifier or "$LATEST"))] = script
        return 200, {"function": name, "qualifier": str(qualifier or "$LATEST"),
                     "behaviours": script}
    if path == "/_lifeguard/lambda/scripts" and method == "DELETE":
        SCRIPTS.clear()
        return 200, {}
    if path == "/_lifeguard/lambda/invocations" and method == "GET":
        wanted = args.get("function") and _split_qualifier(args["function"], None)[0]
        return 200, [i for i in INVOCATIONS if not wanted or i["function"] == wanted]
    # POST faults {"target", "match", "count", "status", "code", "message"}: the next `count`
    # requests to `target` whose body, path, query or Authorization header (so an access key
    # id) contains `match` get `status` and `code`,
    # shaped as their protocol shapes errors. target: an X-Amz-Target
    # ("CodeDeploy_20141006.GetDeployment"), a query Action ("CreateStack"), a "METHOD /path"
    # prefix ("POST /2015-03-31/functions/f/invocations"), or for rpcv2Cbor "Service.Operation"
    # ("GraniteServiceVersion20100801.GetMetricData": matched against the decoded CBOR body,
    # answered as a CBOR error, e.g. 400 Throttling, which SDKs retry, or 500 InternalFailure).
    if path == "/_lifeguard/faults" and method == "POST":
        if not data.get("target"):
            return 400, {"message": "need 'target'"}
        fault = {"target": data["target"], "match": data.get("match") or "",
                 "count": int(data.get("count", 1)), "status": int(data.get("status", 500)),
                 "code": data.get("code") or "InternalFailure",
                 "message": data.get("message") or "Injected fault"}
        FAULTS.append(fault)
        return 200, fault
    # POST cloudformation/delete-failures {"stackName", "reason"}: the next DeleteStack of that
    # stack (by name or stack id) answers 200 as on AWS but leaves it DELETE_FAILED with
    # StackStatusReason `reason`; a later DeleteStack without one deletes it.
    if path == "/_lifeguard/cloudformation/delete-failures" and method == "POST":
        if not data.get("stackName"):
            return 400, {"message": "need 'stackName'"}
        failure = {"stackName": data["stackName"], "reason": data.get("reason") or (
            "The following resource(s) failed to delete: [Resource]. ")}
        DELETE_FAILURES.append(failure)
        return 200, failure
    # GET lists what is still pending on a scripted list (faults, delete-failures); DELETE drops it.
    pending = SCRIPTED_LISTS.get(path)
    if pending is not None and method == "GET":
        return 200, pending
    if pending is not None and method == "DELETE":
        pending.clear()
        return 200, {}
    # POST cloudformation/stack-state {"stackName", "region"?, "status"?, "parentId"?, "rootId"?}: sets a
    # live stack's (by name or id) StackStatus (any but DELETE_COMPLETE; StackStatusReason
    # cleared, a stack event added) and ParentId / RootId (a stack's name or id in the same
    # region; stored as its id; RootId defaults to the parent's RootId, else the parent; null
    # clears). The launcher's UpdateStack/DeleteStack checks then see them. Answers
    # {"stackId", "stackName", "status", "parentId", "rootId"}; 404 for an unknown stack.
    if path == "/_lifeguard/cloudformation/stack-state" and method == "POST":
        return set_stack_state(data)
    # POST cloudformation/clear-region {"region"}: forgets every stack of that region (all
    # accounts), so a test that owns a region starts from nothing on a reused server.
    if path == "/_lifeguard/cloudformation/clear-region" and method == "POST":
        region = data.get("region")
        if not region:
            return 400, {"message": "region is required"}
        cleared = 0
        for regions in cfn_models.cloudformation_backends.values():
            if region in regions:
                cleared += len(regions[region].stacks)
                regions[region].reset()
        return 200, {"region": region, "stacksCleared": cleared}
    # GET requests[?accessKey=AKID]: {"counts": {"<service>.<Operation>": n, ...}, "total": n}
    # of every request (signed with that access key id) but /_lifeguard/ and /moto-api/ ones
    # (see _count_request); DELETE zeroes them.
    if path == "/_lifeguard/requests" and method == "GET":
        counts = {}
        for (access_key, operation), count in REQUEST_COUNTS.items():
            if args.get("accessKey") in (None, access_key):
                counts[operation] = counts.get(operation, 0) + count
        return 200, {"counts": dict(sorted(counts.items())), "total": sum(counts.values())}
    if path == "/_lifeguard/requests" and method == "DELETE":
        REQUEST_COUNTS.clear()
        return 200, {"counts": {}, "total": 0}
    # POST iam/principals {"name": role name, "policies": [policy document, ...]} ->
    # {"accessKeyId": "LGIAM...", "principalArn": "arn:aws:sts::123456789012:assumed-role/
    # <name>/<name>"}: a session of that role bound to exactly those identity-based policies
    # (400 for a policy iam_policy.validate refuses). Requests signed with its access key id
    # are authorized before faults and moto (see `authorize`); other keys are unrestricted.
    if path == "/_lifeguard/iam/principals" and method == "POST":
        return register_principal(data)
    # POST iam/role-policies {"template" (path from the repo root, or absolute), "function" or
    # "role" (logical id), "parameters"?, "resources"? {LogicalId: physical id}, "attributes"?
    # {"LogicalId.Attr": value}, "stackName"?, "stackId"? (default: that stack's here),
    # "region"?, "account"?} -> {"role": logical id, "policies": [{"name", "document"}, ...]}: the role's
    # policies as the SAM template deploys them, resolved (localaws/roles.py); 400 naming
    # what does not resolve.
    if path == "/_lifeguard/iam/role-policies" and method == "POST":
        return resolve_role_policies(data)
    # GET iam/denials[?accessKey=ID]: requests refused by IAM enforcement, in order:
    # [{"time", "accessKey", "operation" ("<service>.<Operation>"), "action", "resource",
    # "reason"}] (action and resource null for an operation the local AWS cannot authorize);
    # DELETE forgets them.
    if path == "/_lifeguard/iam/denials" and method == "GET":
        return 200, [d for d in DENIALS if args.get("accessKey") in (None, d["accessKey"])]
    if path == "/_lifeguard/iam/denials" and method == "DELETE":
        DENIALS.clear()
        return 200, []
    if path == "/_lifeguard/codedeploy/lifecycle-events" and method == "GET":
        deployment = find_deployment(args.get("deploymentId"))
        if deployment is None:
            return 404, {"message": f"no deployment {args.get('deploymentId')}"}
        return 200, deployment.hook_executions
    if path == "/_lifeguard/codedeploy/hook-reports" and method == "GET":
        wanted = args.get("deploymentId")
        return 200, [{k: v for k, v in r.items() if k != "deploymentId"}
                     for r in HOOK_REPORTS if not wanted or r["deploymentId"] == wanted]
    return 404, {"message": f"no control endpoint {method} {path}"}


# ------------------------------------------------------------------------ WSGI wrapper

class Lifeguard:
    """WSGI middleware in front of moto: control endpoints, faults, one-at-a-time moto."""

    def __init__(self, moto_app):
        self.moto_app = moto_app

    def __call__(self, environ, start_response):
        body = Request(environ).get_data()  # buffer the body: we inspect it, moto reads it
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        _thread.delay_ms = 0

        with LOCK:
            if path.startswith("/_lifeguard/"):
                request = Request(environ)
                data = request.get_json(force=True, silent=True) or {}
                status, payload = control(method, path, request.args, data)
                response = status, {"Content-Type": "application/json"}, json.dumps(payload)
            elif path.startswith("/moto-api/"):
                response = self._call_moto(environ)
                if method == "POST" and path == "/moto-api/reset":
                    clear_state()
            else:
                response = self._serve(environ, body)

        delay_ms = getattr(_thread, "delay_ms", 0)
        _thread.delay_ms = 0
        if delay_ms:
            time.sleep(delay_ms / 1000)  # outside LOCK: concurrent invokes overlap

        status, headers, payload = response
        if isinstance(status, int):
            data = payload.encode("utf-8") if isinstance(payload, str) else payload
            headers = [(k, str(v)) for k, v in headers.items()]
            headers.append(("Content-Length", str(len(data))))
            status = f"{status} {HTTP_STATUS_CODES.get(status, 'Error')}"
            payload = [data]
        start_response(status, headers)
        return payload

    def _serve(self, environ, body):
        """An AWS request: counted, authorized (bound principals only), then answered by an
        injected fault, or by moto."""
        called = _request_target(environ, body)
        _count_request(environ, called)
        hook_report = called[0] == "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"
        denial, tags_error = authorize(environ, body, called)
        if denial:
            if hook_report:
                _record_refused_hook_report(body, "AccessDeniedException", "denied")
            return denial
        if fault := _take_fault(environ, body, called):
            if hook_report:
                _record_refused_hook_report(body, fault[0]["code"], "injected")
            return _fault_response(*fault)
        if environ["REQUEST_METHOD"] == "POST" and environ.get("PATH_INFO", "").startswith(CW_PATH):
            return cloudwatch_cbor(self._call_moto, environ, body)
        response = self._call_moto(environ)
        # lambda:GetFunction by a caller not allowed lambda:ListTags
        return _without_tags(response, tags_error) if tags_error else response

    def _call_moto(self, environ):
        """Run moto's app to completion (status line, headers, body chunks)."""
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return written.append  # WSGI's legacy write(); Flask never calls it

        written: list[bytes] = []
        chunks = self.moto_app(environ, capture)
        try:
            body = b"".join(written) + b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        return captured["status"], captured["headers"], [body]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4599)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto calls itself on this port
    app = Lifeguard(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True,
               request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
