"""IAM enforcement for principals bound to policy documents: the control endpoints
iam/principals and iam/role-policies, and the check of every request such a principal signs.

Requests signed with a bound principal's access key id (e.g. a role's policies from a SAM
template, roles.py) are authorized before faults and moto with IAM's evaluation logic
(policy.py) on the actions, resource ARNs and condition keys AWS uses, aws:ResourceTag from
moto's state included (authorization.py); refusals get AWS's AccessDenied message in the
service's own error shape and are recorded (control endpoint iam/denials); an operation not
mapped there is refused; GetFunction without lambda:ListTags answers a TagsError instead of
Tags. Other keys are unrestricted.
"""

import copy
import json
import os
import re
import secrets
import uuid

from moto.cloudformation import models as cfn_models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.utils import utcnow

from ..calls import credential_scope
from ..cloudformation import live_stack
from ..cloudwatch import CW_PATH, RequestRejected, cbor_input
from ..faults import fault_response
from ..state import DENIALS, PRINCIPALS
from . import authorization
from . import policy as iam_policy

# The repository root: iam/role-policies reads templates by a path relative to it.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

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
    """Control endpoint iam/principals -> (HTTP status, body): see control.py."""
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
    """Control endpoint iam/role-policies -> (HTTP status, body): see control.py."""
    # SAM CLI takes seconds to import: only this endpoint needs it
    from . import roles  # noqa: PLC0415

    if not data.get("template") or not (data.get("function") or data.get("role")):
        return 400, {"message": "need 'template' and 'function' or 'role'"}
    template = os.path.join(REPO_ROOT, data["template"])  # relative to the repository root
    region = data.get("region") or "us-east-1"
    account = data.get("account") or DEFAULT_ACCOUNT_ID
    stack_id = data.get("stackId")
    if not stack_id and data.get("stackName"):  # AWS::StackId of that stack, if it exists here
        backend = cfn_models.cloudformation_backends[account][region]
        stack = live_stack(backend, data["stackName"])
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


def denial_response(service, called, message):
    """AccessDenied as `service` answers it, in the request's protocol."""
    status, code = ACCESS_DENIED.get(service, (403, "AccessDenied"))
    target, action, rpc = called
    if not (target or action):  # REST-JSON (Lambda): IAM's refusal is {"Message": ...} only
        return status, {"x-amzn-ErrorType": code, "Content-Type": "application/json",
                        "x-amzn-RequestId": str(uuid.uuid4())}, json.dumps({"Message": message})
    status, headers, body = fault_response(
        {"status": status, "code": code, "message": message}, target, action, bool(rpc))
    if service == "monitoring" and target and not rpc:  # awsJson of an awsQueryCompatible API
        headers["x-amzn-query-error"] = f"{code};Sender"
    return status, headers, body


def authorize(environ, body, called):
    """(denial response or None, GetFunction TagsError message or None) of a request: requests
    signed with a bound principal's access key id need every check of their
    `authorization.plan` allowed by its policies; any other request goes through."""
    access_key, region, service = scope = credential_scope(environ)
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
                   "is not mapped to IAM actions (localaws/stand_in/iam/authorization.py), so it "
                   "is denied.")
        DENIALS.append({**denial, "action": None, "resource": None, "reason": message})
        return denial_response(service, called, message), None
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
        return denial_response(service, called, message), None
    return None, None


def without_tags(response, message):
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
