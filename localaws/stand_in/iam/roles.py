"""The IAM policy documents a role gets from a SAM template, resolved for one deployment.

    role_policies(template_path, function="PreTrafficHook", parameters={...},
                  resources={"LogicalId": "physical id"}, attributes={"LogicalId.Arn": "..."},
                  stack_name="s", stack_id="arn:...", region="us-east-1", account="123456789012")
        -> ("PreTrafficHookRole", [{"name": "pre-traffic-hook", "document": {...}}, ...])

The template goes through the SAM transform exactly as `sam validate` runs it offline (SAM
CLI's SamTemplateValidator: aws-sam-translator with local CodeUri/ContentUri made S3 URIs and a
managed-policy loader, here one that knows no names and calls no AWS API), so the role is the
one AWS deploys: an explicit AWS::IAM::Role, or the `<Function>Role` SAM generates. Its
policies are its inline `Policies`, AWS::IAM::Policy / RolePolicy / ManagedPolicy resources of
the template attached to it (SAM connectors generate those), and `ManagedPolicyArns` naming
such a resource or an AWS managed policy listed in AWS_MANAGED_POLICIES; any other managed
policy, or a PermissionsBoundary, is an error (its statements are unknown here).

Intrinsics are resolved as CloudFormation does: Ref (parameters, pseudo parameters, resources'
physical ids as given), Fn::GetAtt (attributes as given), Fn::Sub (both forms, ${Res.Attr},
${!Literal}), Fn::Join, Fn::Split, Fn::Select, Fn::If over the template's Conditions
(Fn::Equals/And/Or/Not, Condition), AWS::NoValue dropping its key or list item. Only what the
role's policies use must be given; anything unresolved is an error naming it. Transforms are
cached by (path, mtime, parameters, region).

CLI (prints {"role": id, "policies": [{"name", "document"}]}):
    PYTHONPATH=localaws .venv/bin/python -m stand_in.iam.roles TEMPLATE
        (--function ID | --role ID) [--param K=V ...] [--resource ID=physical-id ...]
        [--attr ID.Attr=value ...] [--stack-name S] [--stack-id ARN] [--region R] [--account A]
"""

import argparse
import functools
import json
import os
import re
import sys

import yaml
from cfnlint.decode import cfn_yaml
from samcli.commands.validate.lib.exceptions import InvalidSamDocumentException
from samcli.lib.translate.sam_template_validator import SamTemplateValidator
from samtranslator.translator.arn_generator import ArnGenerator

DEFAULT_ACCOUNT = "123456789012"  # moto's default account
# AWS managed policies our templates attach, with their documented statements.
AWS_MANAGED_POLICIES = {
    # https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html
    "service-role/AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]}]},
}
ATTACHED_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::ManagedPolicy")
NO_VALUE = object()  # what Ref AWS::NoValue resolves to: its key or list item is dropped


class RoleError(ValueError):
    """The template, the role asked for, or the values given do not resolve."""


class _NoManagedPolicies:
    """ManagedPolicyLoader stand-in: SAM asks it for AWS managed policy names (to turn
    `Policies: [SomeName]` into an ARN); knowing none, SAM keeps such names as they are."""

    def load(self):
        return {}


def _plain(value):
    """cfn-lint's parsed nodes (dict/str subclasses carrying line marks) as plain JSON types."""
    return json.loads(json.dumps(value))


@functools.lru_cache(maxsize=32)
def _transform(path: str, mtime_ns: int, parameters: tuple, region: str) -> dict:
    """The template at `path` after the SAM transform; `mtime_ns` is only part of the cache
    key, so that an edited template is transformed again."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        template = _plain(cfn_yaml.loads(text, path))
    except (cfn_yaml.CfnParseError, yaml.YAMLError) as err:  # they carry the position
        raise RoleError(f"{path}: cannot parse the template: {err}") from err
    if "Transform" not in template:
        return template
    validator = SamTemplateValidator(template, _NoManagedPolicies(), region=region,
                                     parameter_overrides=dict(parameters))
    try:
        return _plain(cfn_yaml.loads(validator.get_translated_template_if_valid(), path))
    except InvalidSamDocumentException as err:
        raise RoleError(f"{path}: the SAM transform fails: {err}") from err


def transformed(path, parameters=None, region="us-east-1") -> dict:
    """The CloudFormation template that `path` deploys as (SAM transform applied)."""
    path = os.path.abspath(path)
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError as err:
        raise RoleError(f"cannot read template {path}: {err.strerror}") from err
    params = tuple(sorted((k, str(v)) for k, v in (parameters or {}).items()))
    return _transform(path, mtime, params, region)


class Resolver:
    """CloudFormation's intrinsic functions over one template and one set of values."""

    def __init__(self, template, parameters, resources, attributes, pseudo):
        self.template = template
        self.resources = resources
        self.attributes = attributes
        self.pseudo = pseudo
        self.parameters = self._parameter_values(parameters)
        self._conditions = {}

    def _parameter_values(self, given):
        declared = self.template.get("Parameters") or {}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise RoleError(f"Parameters {unknown} do not exist in the template")
        values = {}
        for name, spec in declared.items():
            value = given.get(name, spec.get("Default"))
            if value is None:
                continue  # an error only if something uses it (see _ref)
            value = (str(value).lower() if isinstance(value, bool) else
                     ",".join(map(str, value)) if isinstance(value, list) else str(value))
            kind = spec.get("Type", "String")
            values[name] = (value.split(",") if kind == "CommaDelimitedList"
                            or kind.startswith("List<") else value)
        return values

    # -------------------------------------------------------------------- values

    def value(self, node):
        """`node` with every intrinsic function resolved (NO_VALUE for AWS::NoValue)."""
        if isinstance(node, dict):
            if len(node) == 1:
                (key, arg), = node.items()
                if key == "Ref":
                    return self._ref(arg)
                if key.startswith("Fn::"):
                    return self._function(key, arg)
            resolved = {k: self.value(v) for k, v in node.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not NO_VALUE]
        return node

    def _text(self, node, where):
        value = self.value(node)
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise RoleError(f"{where}: expected a string, got {json.dumps(value, default=str)}")
        return str(value)

    def _list(self, node, where):
        value = self.value(node)
        if not isinstance(value, list):
            raise RoleError(f"{where}: expected a list, got {json.dumps(value, default=str)}")
        return value

    def _ref(self, name):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            if self.pseudo[name] is None:
                what = "name" if name == "AWS::StackName" else "id (ARN)"
                raise RoleError(f"Ref {name}: unknown; give the stack's {what}")
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in (self.template.get("Parameters") or {}):
            raise RoleError(f"Ref {name}: the parameter has no Default; give its value")
        resource = (self.template.get("Resources") or {}).get(name)
        if resource is None:
            raise RoleError(f"Ref {name}: no such parameter, pseudo parameter or resource")
        if name not in self.resources:
            raise RoleError(f"Ref {name}: give the physical id of resource {name} "
                            f"({resource.get('Type')}) in resources")
        return self.resources[name]

    def _get_att(self, resource, attribute):
        if resource not in (self.template.get("Resources") or {}):
            raise RoleError(f"Fn::GetAtt {resource}.{attribute}: no resource {resource}")
        key = f"{resource}.{attribute}"
        if key not in self.attributes:
            raise RoleError(f"Fn::GetAtt {key}: give its value in attributes[{key!r}]")
        return self.attributes[key]

    def _function(self, name, arg):
        if name == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            if not isinstance(parts, list) or len(parts) != 2:
                raise RoleError(f"Fn::GetAtt {arg!r}: expected [resource, attribute]")
            return self._get_att(parts[0], self._text(parts[1], "Fn::GetAtt attribute"))
        if name == "Fn::Sub":
            return self._sub(arg)
        if name == "Fn::Join":
            delimiter, items = self._args(name, arg, 2)
            texts = [self._text(item, "Fn::Join item") for item in self._list(items, name)]
            return self._text(delimiter, "Fn::Join delimiter").join(texts)
        if name == "Fn::Split":
            delimiter, text = self._args(name, arg, 2)
            return self._text(text, name).split(self._text(delimiter, "Fn::Split delimiter"))
        if name == "Fn::Select":
            index, items = self._args(name, arg, 2)
            items, index = self._list(items, name), self._text(index, "Fn::Select index")
            if not index.isdigit() or int(index) >= len(items):
                raise RoleError(f"Fn::Select: index {index} out of range for {items}")
            return items[int(index)]
        if name == "Fn::If":
            condition, if_true, if_false = self._args(name, arg, 3)
            return self.value(if_true if self.condition(condition) else if_false)
        raise RoleError(f"{name}: not resolved by the local AWS (supported: Ref, Fn::GetAtt, "
                        "Fn::Sub, Fn::Join, Fn::Split, Fn::Select, Fn::If)")

    @staticmethod
    def _args(name, arg, count):
        if not isinstance(arg, list) or len(arg) != count:
            raise RoleError(f"{name}: expected a list of {count} arguments, got {arg!r}")
        return arg

    def _sub(self, arg):
        if isinstance(arg, list):
            text, variables = self._args("Fn::Sub", arg, 2)
        else:
            text, variables = arg, {}
        if not isinstance(text, str) or not isinstance(variables, dict):
            raise RoleError(f"Fn::Sub: expected a string or [string, {{variables}}], got {arg!r}")

        def substitute(match):
            name = match[1]
            if name.startswith("!"):  # ${!Literal} stands for ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return self._text(variables[name], f"Fn::Sub variable {name}")
            if "." in name and not name.startswith("AWS::"):
                return str(self._get_att(*name.split(".", 1)))
            return self._text({"Ref": name}, f"Fn::Sub ${{{name}}}")

        return re.sub(r"\$\{([^}]+)\}", substitute, text)

    # ---------------------------------------------------------------- conditions

    def condition(self, name) -> bool:
        """The value of one of the template's Conditions."""
        if name not in self._conditions:
            definition = (self.template.get("Conditions") or {}).get(name)
            if definition is None:
                raise RoleError(f"Condition {name} is not defined in the template")
            self._conditions[name] = self._truth(definition, name)
        return self._conditions[name]

    def _truth(self, node, where) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            (key, arg), = node.items()
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                a, b = self._args(key, arg, 2)
                return self._comparable(a) == self._comparable(b)
            if key == "Fn::Not":
                return not self._truth(self._args(key, arg, 1)[0], where)
            if key in ("Fn::And", "Fn::Or") and isinstance(arg, list) and arg:
                results = (self._truth(item, where) for item in arg)
                return all(results) if key == "Fn::And" else any(results)
        raise RoleError(f"Condition {where}: cannot evaluate {json.dumps(node)}")

    def _comparable(self, node):
        value = self.value(node)
        return str(value).lower() if isinstance(value, bool) else value

    def created(self, logical_id) -> bool:
        condition = (self.template["Resources"][logical_id]).get("Condition")
        return condition is None or self.condition(condition)


# ---------------------------------------------------------------------------- the role

def _role_of(template, function, role):
    """The logical id of the role asked for (by role, or as a function's execution role)."""
    resources = template.get("Resources") or {}
    if role is not None:
        if (resources.get(role) or {}).get("Type") != "AWS::IAM::Role":
            raise RoleError(f"{role} is not an AWS::IAM::Role of the template")
        return role
    resource = resources.get(function) or {}
    if resource.get("Type") != "AWS::Lambda::Function":
        raise RoleError(f"{function} is not a function (AWS::Serverless::Function or "
                        "AWS::Lambda::Function) of the template")
    target = (resource.get("Properties") or {}).get("Role")
    getatt = target.get("Fn::GetAtt") if isinstance(target, dict) else None
    parts = getatt.split(".", 1) if isinstance(getatt, str) else getatt
    if not (isinstance(parts, list) and len(parts) == 2 and parts[1] == "Arn"
            and (resources.get(parts[0]) or {}).get("Type") == "AWS::IAM::Role"):
        raise RoleError(f"{function}'s Role {json.dumps(target)} is not a role of this "
                        "template (expected Fn::GetAtt [<RoleId>, Arn])")
    return parts[0]


def _attached(resolver, template, role_id):
    """(name, document) of the template's policy resources attached to the role by Ref."""
    ref = {"Ref": role_id}
    for logical_id, resource in (template.get("Resources") or {}).items():
        kind, props = resource.get("Type"), resource.get("Properties") or {}
        if kind not in ATTACHED_POLICY_TYPES or not resolver.created(logical_id):
            continue
        if ref in (props.get("Roles") or []) or props.get("RoleName") == ref:
            name = props.get("PolicyName") or props.get("ManagedPolicyName") or logical_id
            yield resolver.value(name), props.get("PolicyDocument")


def _managed(resolver, template, arns, role_id):
    """(name, document) of each of the role's ManagedPolicyArns."""
    resources = template.get("Resources") or {}
    for arn in arns:
        if isinstance(arn, dict) and (resources.get(arn.get("Ref")) or {}).get("Type") == (
                "AWS::IAM::ManagedPolicy"):
            props = resources[arn["Ref"]].get("Properties") or {}
            yield resolver.value(props.get("ManagedPolicyName") or arn["Ref"]), props.get(
                "PolicyDocument")
            continue
        resolved = resolver.value(arn)
        name = re.fullmatch(r"arn:[\w-]+:iam::aws:policy/(.+)", str(resolved))
        if not name or name[1] not in AWS_MANAGED_POLICIES:
            raise RoleError(f"{role_id}: managed policy {resolved} is not known to the local "
                            f"AWS (known AWS managed policies: {sorted(AWS_MANAGED_POLICIES)})")
        yield name[1].rsplit("/", 1)[-1], AWS_MANAGED_POLICIES[name[1]]


def role_policies(template_path, *, function=None, role=None, parameters=None, resources=None,
                  attributes=None, stack_name=None, stack_id=None, region="us-east-1",
                  account=DEFAULT_ACCOUNT):
    """(role logical id, [{"name", "document"}]) of a function's execution role (`function`,
    a logical id) or of a role (`role`), resolved; raises RoleError naming what is missing."""
    if (function is None) == (role is None):
        raise RoleError("give exactly one of function and role")
    parameters = parameters or {}
    template = transformed(template_path, parameters, region)
    partition = ArnGenerator.get_partition_name(region)
    pseudo = {"AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": partition,
              "AWS::StackName": stack_name, "AWS::StackId": stack_id,
              "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
              "AWS::NotificationARNs": []}
    resolver = Resolver(template, parameters, resources or {}, attributes or {}, pseudo)
    for logical_id in filter(None, (function, role)):
        if logical_id in (template.get("Resources") or {}) and not resolver.created(logical_id):
            raise RoleError(f"{logical_id} is not created with these parameters (its "
                            f"Condition {template['Resources'][logical_id]['Condition']} is false)")
    role_id = _role_of(template, function, role)
    if not resolver.created(role_id):
        raise RoleError(f"role {role_id} is not created with these parameters")
    props = template["Resources"][role_id].get("Properties") or {}
    if "PermissionsBoundary" in props:
        raise RoleError(f"{role_id}: a PermissionsBoundary is not supported by the local AWS")
    named = [(p.get("PolicyName"), p.get("PolicyDocument"))
             for p in resolver.value(props.get("Policies") or [])]
    named += list(_attached(resolver, template, role_id))
    named += list(_managed(resolver, template, props.get("ManagedPolicyArns") or [], role_id))
    return role_id, [{"name": name, "document": resolver.value(document)}
                     for name, document in named]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--function", help="logical id of a function: its execution role")
    which.add_argument("--role", help="logical id of an AWS::IAM::Role")
    pair = lambda text: tuple(text.split("=", 1)) if "=" in text else parser.error(
        f"expected K=V, got {text!r}")
    parser.add_argument("--param", type=pair, action="append", default=[], metavar="K=V")
    parser.add_argument("--resource", type=pair, action="append", default=[],
                        metavar="ID=PHYSICAL_ID")
    parser.add_argument("--attr", type=pair, action="append", default=[],
                        metavar="ID.ATTR=VALUE")
    parser.add_argument("--stack-name")
    parser.add_argument("--stack-id")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--account", default=DEFAULT_ACCOUNT)
    args = parser.parse_args(argv)
    try:
        role_id, policies = role_policies(
            args.template, function=args.function, role=args.role,
            parameters=dict(args.param), resources=dict(args.resource),
            attributes=dict(args.attr), stack_name=args.stack_name, stack_id=args.stack_id,
            region=args.region, account=args.account)
    except RoleError as err:
        sys.exit(f"roles.py: {err}")
    print(json.dumps({"role": role_id, "policies": policies}, indent=2))


if __name__ == "__main__":
    main()
