"""Local AWS for lifeguard's tests: moto 5.2.5 plus what our tests need of AWS.

    .venv/bin/python localaws/launcher.py --port 4599

What is added to moto (each faithful to AWS's documented behaviour):
  * one global lock around every call into moto (moto is not thread-safe), while
    scripted Lambda delays sleep outside it;
  * CodeDeploy: AWS-shaped deployment ids, GetDeployment returning only the sha256 of an
    AppSpecContent revision, GetApplicationRevision, lifecycle hook executions parsed from
    the AppSpec's Hooks, PutLifecycleEventHookExecutionStatus, StopDeployment;
  * Lambda Invoke: 404 for unknown functions/versions, X-Amz-Executed-Version, and scripted
    answers per function version (payload, FunctionError, delay, throttling), optionally
    chosen by the request payload (`whenPayload`);
  * fault injection for any service, and read-back of what the code under test did.
Control endpoints live under /_lifeguard/ (see `control`); POST /moto-api/reset clears
their state too.
"""

import argparse
import base64
import copy
import hashlib
import io
import json
import os
import secrets
import string
import threading
import time
from urllib.parse import parse_qs, unquote

import yaml
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import run_simple
from werkzeug.wrappers import Request

from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.responses import LambdaResponse
from moto.codedeploy import models as cd_models
from moto.codedeploy import responses as cd_responses
from moto.codedeploy.exceptions import CodeDeployException
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

# Everything below (moto and our own state) is only touched while holding LOCK.
LOCK = threading.RLock()
SCRIPTS: dict[tuple[str, str], list[dict]] = {}  # (function name, qualifier) -> behaviours
INVOCATIONS: list[dict] = []  # every Invoke, in order
FAULTS: list[dict] = []  # pending injected faults
HOOK_REPORTS: list[dict] = []  # every PutLifecycleEventHookExecutionStatus call, in order
_thread = threading.local()  # .delay_ms: set by a scripted invoke, slept outside LOCK


def clear_state() -> None:
    SCRIPTS.clear()
    INVOCATIONS.clear()
    FAULTS.clear()
    HOOK_REPORTS.clear()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


R = cd_responses.CodeDeployResponse
R.put_lifecycle_event_hook_execution_status = _put_hook_status_response
R.get_application_revision = _get_application_revision_response
R.stop_deployment = _stop_deployment_response


def find_deployment(deployment_id):
    """A deployment in any account/region (for read-back), or None."""
    for regions in cd_models.codedeploy_backends.values():
        for backend in regions.values():
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


# ------------------------------------------------------------------ faults and control

def _take_fault(environ, body: bytes):
    """The first pending fault matching this request (its count decremented), or None."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    action = None  # query-protocol services (CloudFormation, IAM, ...) name it in the body
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]
    haystack = "\n".join([body.decode("utf-8", "replace"), path, environ.get("RAW_URI", ""),
                          unquote(environ.get("QUERY_STRING", ""))])
    for fault in FAULTS:
        wanted = fault["target"]
        hit = (wanted == target if target else wanted == action if action
               else f"{method} {path}".startswith(wanted))
        if hit and fault["match"] in haystack:
            fault["count"] -= 1
            if fault["count"] <= 0:
                FAULTS.remove(fault)
            return fault, target, action
    return None


def _fault_response(fault, target, action):
    code, message, status = fault["code"], fault["message"], fault["status"]
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


def _record_injected_hook_report(fault, body: bytes):
    """A hook report refused by an injected fault is still a call the hook made."""
    sent = _json_or_text(body) if body else {}
    sent = sent if isinstance(sent, dict) else {}
    HOOK_REPORTS.append({
        "deploymentId": sent.get("deploymentId"),
        "lifecycleEventHookExecutionId": sent.get("lifecycleEventHookExecutionId"),
        "status": sent.get("status"), "accepted": False, "error": fault["code"],
        "injected": True})


def _normalize_behaviour(b):
    behaviour = {"payload": b.get("payload"), "functionError": b.get("functionError") or None,
                 "delayMs": int(b.get("delayMs") or 0), "throttle": bool(b.get("throttle"))}
    if "whenPayload" in b:  # only for requests with this payload (compared as JSON)
        behaviour["whenPayload"] = b["whenPayload"]
    return behaviour


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
    if path == "/_lifeguard/faults" and method == "POST":
        if not data.get("target"):
            return 400, {"message": "need 'target'"}
        fault = {"target": data["target"], "match": data.get("match") or "",
                 "count": int(data.get("count", 1)), "status": int(data.get("status", 500)),
                 "code": data.get("code") or "InternalFailure",
                 "message": data.get("message") or "Injected fault"}
        FAULTS.append(fault)
        return 200, fault
    if path == "/_lifeguard/faults" and method == "GET":
        return 200, FAULTS
    if path == "/_lifeguard/faults" and method == "DELETE":
        FAULTS.clear()
        return 200, {}
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
            elif fault := _take_fault(environ, body):
                response = _fault_response(*fault)
                if fault[1] == "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus":
                    _record_injected_hook_report(fault[0], body)
            else:
                response = self._call_moto(environ)
                if method == "POST" and path == "/moto-api/reset":
                    clear_state()

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
