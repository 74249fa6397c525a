"""What an AWS request asks IAM to allow: its action(s), resource ARN(s) and condition context.

    call = call_of(environ, body, scope, called)     # the request, decoded
    plan(call, role_name) -> Plan(checks=[Check(action, resource, context), ...], tags_check)

Every check must be allowed for the request to go through (policy.evaluate decides each).
An operation not mapped below raises Unmapped: the local AWS then refuses it rather than let a
new call through unchecked. Resources and condition keys follow the Service Authorization
Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/) and each
service's IAM guide; the resources' tags and ids come from moto's state, the account/region
the request is signed for (moto keeps everything in its default account 123456789012).

Every check carries the global keys aws:PrincipalArn (the role's ARN, as AWS gives for a role
session), aws:PrincipalAccount, aws:PrincipalType (AssumedRole) and aws:RequestedRegion, plus
aws:ResourceTag/<key> for each tag of its resource where the resource exists. aws:CalledVia
is absent: these are direct calls, so `ForAnyValue:StringEquals aws:CalledVia` fails, as on
AWS. Not derived (absent from the context): aws:SecureTransport, aws:SourceIp, aws:CurrentTime
and the like, dynamodb:LeadingKeys / dynamodb:Attributes.
"""

import functools
import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from botocore.exceptions import DataNotFoundError
from botocore.loaders import create_loader
from botocore.model import ServiceModel

from moto.cloudformation import models as cfn_models
from moto.cloudformation.exceptions import ValidationError as StackNotFound
from moto.codedeploy import models as cd_models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.resource_tagging import iter_taggable_backends
from moto.utilities.utils import get_partition


@dataclass(frozen=True)
class Call:
    """One AWS API call as signed and sent."""
    service: str  # the SigV4 credential scope's service: lambda, monitoring, cloudformation...
    operation: str  # e.g. "Invoke", "DescribeStacks"; "METHOD /path" for an unknown REST call
    params: dict  # its input: JSON/CBOR body; query form (Name.member.N keys); REST URI + query
    region: str
    account: str

    @property
    def partition(self):
        return get_partition(self.region)

    def arn(self, service, resource):
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


@dataclass(frozen=True)
class Check:
    action: str
    resource: str
    context: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    checks: list
    # lambda:GetFunction returns the function's Tags only to a caller also allowed
    # lambda:ListTags; otherwise the answer carries TagsError instead
    # (https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html#API_GetFunction_ResponseSyntax).
    tags_check: Check | None = None


class Unmapped(Exception):
    """An operation the local AWS does not know how to authorize."""


# ----------------------------------------------------------------------------- the request

def call_of(environ, body: bytes, scope, called, cbor_params=None) -> Call:
    """The Call a request makes. `scope` is its credential scope (access key, region,
    service); `called` its calls.request_target (X-Amz-Target or rpcv2Cbor
    Service.Operation, query Action, rpc path match); `cbor_params` the decoded input of an
    rpcv2Cbor request."""
    _, region, service = scope
    target, action, rpc = called
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if target:  # awsJson (X-Amz-Target) or rpcv2Cbor (Service.Operation)
        operation = target.rsplit(".", 1)[-1]
        params = cbor_params if rpc else _json_object(body)
    elif action:  # query protocol: form body and/or query string
        operation = action
        form = parse_qs(body.decode("utf-8", "replace")) if "x-www-form-urlencoded" in (
            environ.get("CONTENT_TYPE", "")) else {}
        params = {**query, **{k: v[0] for k, v in form.items()}}
    else:  # REST: the operation whose HTTP route matches, per botocore's model
        operation, params = _rest_operation(service, environ["REQUEST_METHOD"],
                                            environ.get("PATH_INFO", ""), query)
    return Call(service, operation, params or {}, region, DEFAULT_ACCOUNT_ID)


def _json_object(body):
    """An awsJson body's input (a body that is no JSON object: none, as moto will say)."""
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@functools.cache
def _rest_routes(service):
    """(method, path regex, literal length, operation model) of a REST service's operations,
    most specific route first."""
    try:
        model = ServiceModel(create_loader().load_service_model(service, "service-2"), service)
    except DataNotFoundError:
        return ()
    routes = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        # "/2015-03-31/functions/{FunctionName}/invocations": literal, name, "+"?, literal...
        pieces = re.split(r"\{(\w+)(\+?)\}", operation.http["requestUri"].split("?", 1)[0])
        regex, literal = "", 0
        for i in range(0, len(pieces), 3):
            regex, literal = regex + re.escape(pieces[i]), literal + len(pieces[i])
            if i + 1 < len(pieces):  # a URI member; {Name+} spans slashes
                regex += f"(?P<{pieces[i + 1]}>{'.+' if pieces[i + 2] else '[^/]+'})"
        routes.append((operation.http["method"], re.compile(regex), literal, operation))
    return tuple(sorted(routes, key=lambda r: -r[2]))


def _rest_operation(service, method, path, query):
    """(operation name, input members from the URI and query string) of a REST request."""
    for verb, regex, _, operation in _rest_routes(service):
        match = regex.fullmatch(path) if verb == method else None
        if match:
            params = dict(match.groupdict())
            for member, shape in (operation.input_shape.members.items()
                                  if operation.input_shape else ()):
                where = shape.serialization
                if where.get("location") == "querystring" and where.get("name") in query:
                    params[member] = query[where["name"]]
            return operation.name, params
    return f"{method} {path}", {}


def _members(params, name):
    """A list parameter: as given (JSON/CBOR), or from query-protocol keys Name.member.N[.Field]."""
    value = params.get(name)
    if isinstance(value, list):
        return value
    items, prefix = {}, f"{name}.member."
    for key, item in params.items():
        index, _, member = key.removeprefix(prefix).partition(".")
        if key.startswith(prefix) and index.isdigit():
            if member:
                items.setdefault(int(index), {})[member] = item
            else:
                items[int(index)] = item
    return [items[i] for i in sorted(items)]


# ----------------------------------------------------------------------------- moto's state

def _tags(arn) -> dict:
    """The tags of an existing resource, by ARN (moto's Resource Groups Tagging API view)."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return {}
    for backend in iter_taggable_backends(parts[4], parts[3]):
        if backend.owns_arn(arn):
            for resource in backend.iter_tagged_resources():
                if resource.arn == arn:
                    return dict(resource.tags)
    return {}


def _resource_tags(arn) -> dict:
    return {f"aws:ResourceTag/{k}": v for k, v in _tags(arn).items()}


def _request_tags(tags) -> dict:
    """aws:RequestTag/<key> for each tag sent, and aws:TagKeys (multivalued)."""
    context = {f"aws:RequestTag/{t['Key']}": t.get("Value", "") for t in tags}
    return {**context, "aws:TagKeys": [t["Key"] for t in tags]}


# ----------------------------------------------------------------------------- the plans

# The function name forms Lambda accepts (API reference, FunctionName "Pattern").
FUNCTION_NAME = re.compile(
    r"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d{1}:)?"
    r"(?P<account>\d{12}:)?(?:function:)?(?P<name>[a-zA-Z0-9-_.]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?")


def _function(call, name_or_arn, qualifier=None):
    """(resource ARN, unqualified function ARN) of a FunctionName (+ Qualifier). Lambda
    authorizes on the qualified ARN when a version or alias is named, in the FunctionName or
    the Qualifier (https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html,
    "Function resource names")."""
    match = FUNCTION_NAME.fullmatch(name_or_arn or "")
    if match is None:
        raise Unmapped(f"lambda.{call.operation} with FunctionName {name_or_arn!r}")
    region = (match["region"] or "").rstrip(":") or call.region
    account = (match["account"] or "").rstrip(":") or call.account
    function = f"arn:{call.partition}:lambda:{region}:{account}:function:{match['name']}"
    qualifier = match["qualifier"] or qualifier
    return (f"{function}:{qualifier}" if qualifier else function), function


def _lambda(call):
    """Function actions authorize on aws:ResourceTag of the function: aliases and versions have
    no tags of their own."""
    p = call.params
    action = {"Invoke": "InvokeFunction"}.get(call.operation, call.operation)
    if call.operation == "ListTags":
        resource, function = p.get("Resource", ""), p.get("Resource", "")
    elif call.operation == "GetAlias":  # resource type "function": the unqualified ARN
        function = resource = _function(call, p.get("FunctionName"))[1]
    else:
        resource, function = _function(call, p.get("FunctionName"), p.get("Qualifier"))
    tags = _resource_tags(function)
    check = Check(f"lambda:{action}", resource, tags)
    if call.operation == "GetFunction":
        return Plan([check], tags_check=Check("lambda:ListTags", function, tags))
    return Plan([check])


def _deployment_group(call, deployment_id):
    """A deployment's group ARN. For an unknown deployment, `deploymentgroup:*`: only a caller
    allowed on every group learns from CodeDeploy that it does not exist."""
    backend = cd_models.codedeploy_backends[call.account][call.region]
    deployment = backend.deployments.get(deployment_id or "")
    if deployment is None:
        return call.arn("codedeploy", "deploymentgroup:*")
    return call.arn("codedeploy", f"deploymentgroup:{deployment.application_name}/"
                                  f"{deployment.deployment_group_name}")


def _codedeploy(call):
    p = call.params
    if call.operation in ("GetDeployment", "PutLifecycleEventHookExecutionStatus"):
        # The Service Authorization Reference lists no resource type for
        # PutLifecycleEventHookExecutionStatus; CodeDeploy's AccessDenied for it names the
        # deployment's group, as for GetDeployment.
        resource = _deployment_group(call, p.get("deploymentId"))
    elif call.operation in ("GetApplicationRevision", "ListDeploymentGroups"):
        resource = call.arn("codedeploy", f"application:{p.get('applicationName')}")
    else:  # GetDeploymentGroup, ListDeployments (of one group)
        resource = call.arn("codedeploy", f"deploymentgroup:{p.get('applicationName')}/"
                                          f"{p.get('deploymentGroupName')}")
    return Plan([Check(f"codedeploy:{call.operation}", resource, _resource_tags(resource))])


def _cloudwatch(call):
    if call.operation == "GetMetricData":  # metrics have no ARN
        return Plan([Check("cloudwatch:GetMetricData", "*")])
    if call.operation == "PutMetricData":  # no resource type; the namespace is a condition key
        return Plan([Check("cloudwatch:PutMetricData", "*",
                           {"cloudwatch:namespace": call.params.get("Namespace", "")})])
    # DescribeAlarms: each alarm named (all must be allowed); without names, every alarm
    names = _members(call.params, "AlarmNames")
    arns = [call.arn("cloudwatch", f"alarm:{n}") for n in names] or [
        call.arn("cloudwatch", "alarm:*")]
    return Plan([Check("cloudwatch:DescribeAlarms", arn, _resource_tags(arn)) for arn in arns])


def _stack_arn(call, name_or_id):
    """A stack's ARN (its StackId) by name or id; for a stack that does not exist,
    `stack/<name>/*`, the form AWS's AccessDenied messages name then."""
    if name_or_id.startswith("arn:"):
        return name_or_id
    backend = cfn_models.cloudformation_backends[call.account][call.region]
    try:
        return backend.get_stack(name_or_id).stack_id
    except StackNotFound:
        return call.arn("cloudformation", f"stack/{name_or_id}/*")


def _cloudformation(call):
    p, op = call.params, call.operation
    if op in ("ListStacks", "ListImports") or (op == "DescribeStacks" and not p.get("StackName")):
        return Plan([Check(f"cloudformation:{op}", "*")])
    if op == "CreateStack":
        stack = call.arn("cloudformation", f"stack/{p.get('StackName')}/*")
    else:
        stack = _stack_arn(call, p.get("StackName") or "")
    context = _resource_tags(stack)
    # CloudFormation's own condition keys, from the request
    # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/control-access-with-iam.html)
    for key, param in (("RoleArn", "RoleARN"), ("TemplateUrl", "TemplateURL"),
                       ("StackPolicyUrl", "StackPolicyURL")):
        if p.get(param):
            context[f"cloudformation:{key}"] = p[param]
    tags = _members(p, "Tags") if op in ("CreateStack", "UpdateStack") else []
    checks = [Check(f"cloudformation:{op}", stack, {**context, **_request_tags(tags)}
                    if tags else context)]
    if tags:  # stack tags sent to CreateStack/UpdateStack are also a TagResource
        checks.append(Check("cloudformation:TagResource", stack, {
            **context, **_request_tags(tags), "cloudformation:CreateAction": op}))
    if p.get("RoleARN"):  # a service role is passed to CloudFormation
        checks.append(Check("iam:PassRole", p["RoleARN"],
                            {"iam:PassedToService": "cloudformation.amazonaws.com"}))
    return Plan(checks)


# TransactWriteItems has no action of its own: each item is authorized as the single-item
# action it performs, on its own table ("Using IAM with DynamoDB transactions",
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem"}


def _table_arn(call, table):
    table = table or ""
    return table if table.startswith("arn:") else call.arn("dynamodb", f"table/{table}")


def _dynamodb(call):
    p = call.params
    if call.operation == "TransactWriteItems":
        checks = []
        for item in p.get("TransactItems") or []:
            for kind, action in _TRANSACT_ACTIONS.items():
                if kind in item:
                    table = _table_arn(call, item[kind].get("TableName"))
                    checks.append(Check(f"dynamodb:{action}", table, _resource_tags(table)))
        return Plan(checks)
    table = _table_arn(call, p.get("TableName"))
    # Query and Scan of an index authorize on the index
    resource = f"{table}/index/{p['IndexName']}" if p.get("IndexName") else table
    context = {**_resource_tags(table),
               **{f"dynamodb:{k}": p[k] for k in ("Select", "ReturnValues",
                                                  "ReturnConsumedCapacity") if p.get(k)}}
    return Plan([Check(f"dynamodb:{call.operation}", resource, context)])


def _sns(call):
    p = call.params
    if call.operation == "GetSubscriptionAttributes":  # no resource type: "*" only
        return Plan([Check("sns:GetSubscriptionAttributes", "*")])
    topic = p.get("TopicArn") or (p.get("TargetArn") if call.operation == "Publish" else None)
    if not topic:
        raise Unmapped(f"sns.{call.operation} without TopicArn (or TargetArn)")
    return Plan([Check(f"sns:{call.operation}", topic, _resource_tags(topic))])


PLANS = {
    "lambda": (_lambda, {"Invoke", "GetFunction", "GetFunctionConfiguration", "GetAlias",
                         "ListTags", "DeleteFunction"}),
    "codedeploy": (_codedeploy, {"GetDeployment", "PutLifecycleEventHookExecutionStatus",
                                 "GetApplicationRevision", "GetDeploymentGroup",
                                 "ListDeploymentGroups", "ListDeployments"}),
    "monitoring": (_cloudwatch, {"GetMetricData", "DescribeAlarms", "PutMetricData"}),
    "cloudformation": (_cloudformation, {"DescribeStacks", "ListStacks", "ListImports",
                                         "ListStackResources", "CreateStack", "UpdateStack",
                                         "DeleteStack", "UpdateTerminationProtection"}),
    "dynamodb": (_dynamodb, {"Scan", "Query", "GetItem", "PutItem", "UpdateItem",
                             "DeleteItem", "DescribeTable", "TransactWriteItems"}),
    "sns": (_sns, {"Publish", "GetTopicAttributes", "ListSubscriptionsByTopic",
                   "GetSubscriptionAttributes"}),
    # "No permissions are required to perform this operation" (STS API reference)
    "sts": (lambda call: Plan([]), {"GetCallerIdentity"}),
}


def plan(call: Call, role_name: str) -> Plan:
    """What `call`, made by a session of role `role_name`, needs allowed; Unmapped if unknown."""
    mapped = PLANS.get(call.service)
    if mapped is None or call.operation not in mapped[1]:
        raise Unmapped(f"{call.service}.{call.operation}")
    found = mapped[0](call)
    principal = {"aws:PrincipalArn": f"arn:{call.partition}:iam::{call.account}:role/{role_name}",
                 "aws:PrincipalAccount": call.account, "aws:PrincipalType": "AssumedRole",
                 "aws:RequestedRegion": call.region}

    def with_principal(check):
        return Check(check.action, check.resource, {**principal, **check.context})

    return Plan([with_principal(c) for c in found.checks],
                with_principal(found.tags_check) if found.tags_check else None)
