"""The control API under /_lifeguard/: how tests script the stand-in and read back what the code
under test did. AWS has no such API; the Rust tests (tests/src/lib.rs) and the self-test call
it over HTTP with JSON bodies.

ROUTES maps (method, path) to a handler(args, data) -> (HTTP status, JSON-able body), `args`
being the query string (werkzeug MultiDict) and `data` the JSON body ({} when there is none).
Every handler runs under the global lock (see app.py), so it sees moto and our state at rest.
An unknown (method, path) answers 404 {"message": "no control endpoint METHOD PATH"}.
"""

from . import awslambda, cloudformation, codedeploy, sns
from .iam import enforcement
from .state import (DELETE_FAILURES, DENIALS, FAULTS, HOOK_REPORTS, INVOCATIONS, REQUEST_COUNTS,
                    SCRIPTS)

ANY = "*"  # a route for every method


def health(args, data):
    """Any method: {"status": "ok"}, answered under the global lock, so it proves moto is not
    stuck (and tells the stand-in from a plain moto)."""
    return 200, {"status": "ok"}


# ------------------------------------------------------------------------------------ Lambda

def put_lambda_script(args, data):
    """POST lambda/scripts {"function" (name, name:qualifier or ARN), "qualifier"?,
    "behaviours": [{"payload"?, "functionError"?, "delayMs"?, "throttle"?, "whenPayload"?},
    ...]}: how that function version ($LATEST by default) answers synchronous invokes from now
    on (see awslambda.py), replacing its earlier script. Answers the normalized script."""
    behaviours = data.get("behaviours")
    if not data.get("function") or not isinstance(behaviours, list) or not behaviours:
        return 400, {"message": "need 'function' and a non-empty 'behaviours' list"}
    name, qualifier = awslambda.split_qualifier(data["function"], data.get("qualifier"))
    script = [awslambda.normalize_behaviour(b) for b in behaviours]
    SCRIPTS[(name, str(qualifier or "$LATEST"))] = script
    return 200, {"function": name, "qualifier": str(qualifier or "$LATEST"),
                 "behaviours": script}


def clear_lambda_scripts(args, data):
    """DELETE lambda/scripts: every function answers as moto does again."""
    SCRIPTS.clear()
    return 200, {}


def lambda_invocations(args, data):
    """GET lambda/invocations[?function=NAME]: every Invoke (of that function), in order:
    [{"function", "qualifier", "executedVersion", "payload", "status"}]."""
    wanted = args.get("function") and awslambda.split_qualifier(args["function"], None)[0]
    return 200, [i for i in INVOCATIONS if not wanted or i["function"] == wanted]


# ------------------------------------------------------------------------------------ faults

def add_fault(args, data):
    """POST faults {"target", "match", "count", "status", "code", "message"}: the next `count`
    requests to `target` whose body, path, query or Authorization header (so an access key id)
    contains `match` get `status` and `code`, shaped as their protocol shapes errors. target:
    an X-Amz-Target ("CodeDeploy_20141006.GetDeployment"), a query Action ("CreateStack"), a
    "METHOD /path" prefix ("POST /2015-03-31/functions/f/invocations"), or for rpcv2Cbor
    "Service.Operation" ("GraniteServiceVersion20100801.GetMetricData": matched against the
    decoded CBOR body, answered as a CBOR error, e.g. 400 Throttling, which SDKs retry, or 500
    InternalFailure). See faults.py."""
    if not data.get("target"):
        return 400, {"message": "need 'target'"}
    fault = {"target": data["target"], "match": data.get("match") or "",
             "count": int(data.get("count", 1)), "status": int(data.get("status", 500)),
             "code": data.get("code") or "InternalFailure",
             "message": data.get("message") or "Injected fault"}
    FAULTS.append(fault)
    return 200, fault


def pending(scripted: list):
    """GET of a scripted list (faults, cloudformation/delete-failures): what is still pending."""
    return lambda args, data: (200, scripted)


def drop_pending(scripted: list):
    """DELETE of a scripted list (faults, cloudformation/delete-failures): drops what is
    pending."""
    def drop(args, data):
        scripted.clear()
        return 200, {}
    return drop


def request_counts(args, data):
    """GET requests[?accessKey=AKID]: {"counts": {"<service>.<Operation>": n, ...}, "total": n}
    of every request (signed with that access key id) but /_lifeguard/ and /moto-api/ ones
    (see faults.count_request)."""
    counts = {}
    for (access_key, operation), count in REQUEST_COUNTS.items():
        if args.get("accessKey") in (None, access_key):
            counts[operation] = counts.get(operation, 0) + count
    return 200, {"counts": dict(sorted(counts.items())), "total": sum(counts.values())}


def clear_request_counts(args, data):
    """DELETE requests: zeroes the counts."""
    REQUEST_COUNTS.clear()
    return 200, {"counts": {}, "total": 0}


# ---------------------------------------------------------------------------- CloudFormation

def add_delete_failure(args, data):
    """POST cloudformation/delete-failures {"stackName", "reason"}: the next DeleteStack of that
    stack (by name or stack id) answers 200 as on AWS but leaves it DELETE_FAILED with
    StackStatusReason `reason`; a later DeleteStack without one deletes it."""
    if not data.get("stackName"):
        return 400, {"message": "need 'stackName'"}
    failure = {"stackName": data["stackName"], "reason": data.get("reason") or (
        "The following resource(s) failed to delete: [Resource]. ")}
    DELETE_FAILURES.append(failure)
    return 200, failure


def confirm_sns_subscription(args, data):
    """POST sns/confirm-subscription {"topicArn", "endpoint"}: confirms a pending subscription
    (email, http...), as its recipient following the confirmation link would."""
    return sns.confirm_subscription(data)


def set_stack_state(args, data):
    """POST cloudformation/stack-state {"stackName", "region"?, "status"?, "parentId"?,
    "rootId"?, "resourceStatuses"?}: sets the ResourceStatus of the named resources (logical id
    -> status, e.g. IMPORT_COMPLETE) and a live stack's (by name or id) StackStatus (any but DELETE_COMPLETE;
    StackStatusReason cleared, a stack event added) and ParentId / RootId (a stack's name or id
    in the same region; stored as its id; RootId defaults to the parent's RootId, else the
    parent; null clears). The stand-in's UpdateStack/DeleteStack checks then see them. Answers
    {"stackId", "stackName", "status", "parentId", "rootId"}; 404 for an unknown stack."""
    return cloudformation.set_stack_state(data)


def clear_region(args, data):
    """POST cloudformation/clear-region {"region"}: forgets every stack of that region (all
    accounts), so a test that owns a region starts from nothing on a reused server. Answers
    {"region", "stacksCleared"}."""
    region = data.get("region")
    if not region:
        return 400, {"message": "region is required"}
    return 200, {"region": region, "stacksCleared": cloudformation.clear_region(region)}


# --------------------------------------------------------------------------------------- IAM

def add_principal(args, data):
    """POST iam/principals {"name": role name, "policies": [policy document, ...]} ->
    {"accessKeyId": "LGIAM...", "principalArn": "arn:aws:sts::123456789012:assumed-role/
    <name>/<name>"}: a session of that role bound to exactly those identity-based policies (400
    for a policy iam.policy.validate refuses). Requests signed with its access key id are
    authorized before faults and moto (see iam/enforcement.py); other keys are unrestricted."""
    return enforcement.register_principal(data)


def role_policies(args, data):
    """POST iam/role-policies {"template" (path from the repo root, or absolute), "function" or
    "role" (logical id), "parameters"?, "resources"? {LogicalId: physical id}, "attributes"?
    {"LogicalId.Attr": value}, "stackName"?, "stackId"? (default: that stack's here),
    "region"?, "account"?} -> {"role": logical id, "policies": [{"name", "document"}, ...]}:
    the role's policies as the SAM template deploys them, resolved (iam/roles.py); 400 naming
    what does not resolve."""
    return enforcement.resolve_role_policies(data)


def denials(args, data):
    """GET iam/denials[?accessKey=ID]: requests refused by IAM enforcement, in order:
    [{"time", "accessKey", "operation" ("<service>.<Operation>"), "action", "resource",
    "reason"}] (action and resource null for an operation the local AWS cannot authorize)."""
    return 200, [d for d in DENIALS if args.get("accessKey") in (None, d["accessKey"])]


def clear_denials(args, data):
    """DELETE iam/denials: forgets them."""
    DENIALS.clear()
    return 200, []


# -------------------------------------------------------------------------------- CodeDeploy

def lifecycle_events(args, data):
    """GET codedeploy/lifecycle-events?deploymentId=ID: the deployment's hook executions
    [{"lifecycleEvent", "hookFunction", "lifecycleEventHookExecutionId", "status"}] (any
    account/region); 404 for an unknown deployment."""
    deployment = codedeploy.find_deployment(args.get("deploymentId"))
    if deployment is None:
        return 404, {"message": f"no deployment {args.get('deploymentId')}"}
    return 200, deployment.hook_executions


def hook_reports(args, data):
    """GET codedeploy/hook-reports[?deploymentId=ID]: every PutLifecycleEventHookExecutionStatus
    call (of that deployment), in order, accepted or not: [{"lifecycleEventHookExecutionId",
    "status", "accepted", "error", "injected"? | "denied"?}]."""
    wanted = args.get("deploymentId")
    return 200, [{k: v for k, v in r.items() if k != "deploymentId"}
                 for r in HOOK_REPORTS if not wanted or r["deploymentId"] == wanted]


def shift(args, data):
    """POST codedeploy/shift {"deploymentId", "percent"}: one traffic-shifting step, after the
    deployment group's alarms are checked (codedeploy.shift_traffic); 404 for an unknown one."""
    try:
        return 200, codedeploy.shift_traffic(data["deploymentId"], float(data["percent"]))
    except KeyError:
        return 404, {"message": f"no deployment {data.get('deploymentId')}"}


def create_time(args, data):
    """POST codedeploy/create-time {"deploymentId", "createTime"}: backdates the deployment."""
    try:
        return 200, codedeploy.set_create_time(data["deploymentId"], data["createTime"])
    except KeyError:
        return 404, {"message": f"no deployment {data.get('deploymentId')}"}


ROUTES = {
    (ANY, "/_lifeguard/health"): health,
    ("POST", "/_lifeguard/lambda/scripts"): put_lambda_script,
    ("DELETE", "/_lifeguard/lambda/scripts"): clear_lambda_scripts,
    ("GET", "/_lifeguard/lambda/invocations"): lambda_invocations,
    ("POST", "/_lifeguard/faults"): add_fault,
    ("GET", "/_lifeguard/faults"): pending(FAULTS),
    ("DELETE", "/_lifeguard/faults"): drop_pending(FAULTS),
    ("GET", "/_lifeguard/requests"): request_counts,
    ("DELETE", "/_lifeguard/requests"): clear_request_counts,
    ("POST", "/_lifeguard/cloudformation/delete-failures"): add_delete_failure,
    ("GET", "/_lifeguard/cloudformation/delete-failures"): pending(DELETE_FAILURES),
    ("DELETE", "/_lifeguard/cloudformation/delete-failures"): drop_pending(DELETE_FAILURES),
    ("POST", "/_lifeguard/cloudformation/stack-state"): set_stack_state,
    ("POST", "/_lifeguard/cloudformation/clear-region"): clear_region,
    ("POST", "/_lifeguard/sns/confirm-subscription"): confirm_sns_subscription,
    ("POST", "/_lifeguard/iam/principals"): add_principal,
    ("POST", "/_lifeguard/iam/role-policies"): role_policies,
    ("GET", "/_lifeguard/iam/denials"): denials,
    ("DELETE", "/_lifeguard/iam/denials"): clear_denials,
    ("GET", "/_lifeguard/codedeploy/lifecycle-events"): lifecycle_events,
    ("GET", "/_lifeguard/codedeploy/hook-reports"): hook_reports,
    ("POST", "/_lifeguard/codedeploy/shift"): shift,
    ("POST", "/_lifeguard/codedeploy/create-time"): create_time,
}


def control(method, path, args, data):
    """A control request -> (HTTP status, JSON-able body), by ROUTES."""
    handler = ROUTES.get((method, path)) or ROUTES.get((ANY, path))
    if handler is None:
        return 404, {"message": f"no control endpoint {method} {path}"}
    return handler(args, data)
