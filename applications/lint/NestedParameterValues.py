"""cfn-lint rule E9001: literal values given to a local nested template must satisfy its
parameters' constraints.

cfn-lint's own E3043 checks only that a nested stack (AWS::CloudFormation::Stack TemplateURL, or
AWS::Serverless::Application Location) gets the parameters the child template declares, by
name; nothing offline compares the values with the child's AllowedPattern, MinLength, MaxLength,
AllowedValues, MinValue or MaxValue. CloudFormation does, at deploy time, when the nested stack
is created: the nested stack fails and the parent rolls back. This rule moves that refusal to
lint time for values written as literals (a Ref or any other intrinsic function is left to
CloudFormation).

Use: cfn-lint --append-rules <lifeguard>/applications/lint -- template.yaml
(./dev test does, on every template). Needs the template's file name (not stdin) to find the
child template; remote locations (https://, s3://, an ApplicationId) are skipped.
"""

from __future__ import annotations

import os
from typing import Any

import regex as re

from cfnlint.decode import decode
from cfnlint.rules import CloudFormationLintRule, RuleMatch

_LOCATION = {"AWS::CloudFormation::Stack": "TemplateURL", "AWS::Serverless::Application": "Location"}


def _is_local(location: Any) -> bool:
    return isinstance(location, str) and not location.startswith(("http://", "https://", "s3://"))


def _literal(value: Any) -> str | None:
    """The value as CloudFormation would pass it, or None for an intrinsic function."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _problems(name: str, value: str, spec: dict[str, Any]) -> list[str]:
    problems = []
    pattern = spec.get("AllowedPattern")
    # CloudFormation matches AllowedPattern against the whole value.
    if isinstance(pattern, str) and re.fullmatch(pattern, value) is None:
        problems.append(f"does not match AllowedPattern {pattern}")
    min_length, max_length = spec.get("MinLength"), spec.get("MaxLength")
    if min_length is not None and len(value) < int(min_length):
        problems.append(f"is shorter than MinLength {min_length}")
    if max_length is not None and len(value) > int(max_length):
        problems.append(f"is longer than MaxLength {max_length}")
    allowed = spec.get("AllowedValues")
    if isinstance(allowed, list) and value not in [str(v) for v in allowed]:
        problems.append(f"is not one of AllowedValues {allowed}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            problems.append("is not a number")
        else:
            if spec.get("MinValue") is not None and number < float(spec["MinValue"]):
                problems.append(f"is below MinValue {spec['MinValue']}")
            if spec.get("MaxValue") is not None and number > float(spec["MaxValue"]):
                problems.append(f"is above MaxValue {spec['MaxValue']}")
    description = spec.get("ConstraintDescription")
    return [f"{name}={value!r} {p}" + (f" (expected {description})" if description else "") for p in problems]


class NestedParameterValues(CloudFormationLintRule):
    id = "E9001"
    shortdesc = "Literal nested stack parameter values satisfy the child template's constraints"
    description = (
        "Checks literal values passed to a local nested template (AWS::CloudFormation::Stack "
        "TemplateURL, AWS::Serverless::Application Location) against the child's AllowedPattern, "
        "MinLength, MaxLength, AllowedValues, MinValue and MaxValue"
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html"
    tags = ["resources", "cloudformation", "nested stacks", "parameters"]

    def match(self, cfn):
        matches = []
        if not cfn.filename:
            return matches
        base_dir = os.path.dirname(os.path.abspath(cfn.filename))
        for resource_type, location_key in _LOCATION.items():
            for name, resource in cfn.get_resources(resource_type).items():
                properties = resource.get("Properties") or {}
                location = properties.get(location_key)
                parameters = properties.get("Parameters")
                if not _is_local(location) or not isinstance(parameters, dict):
                    continue
                try:
                    child, errors = decode(os.path.normpath(os.path.join(base_dir, location)))
                except Exception:  # noqa: BLE001 - an unreadable child is E3043's to report
                    continue
                if errors or not isinstance(child, dict):
                    continue
                specs = child.get("Parameters") or {}
                for key, value in parameters.items():
                    literal = _literal(value)
                    spec = specs.get(key)
                    if literal is None or not isinstance(spec, dict):
                        continue
                    for problem in _problems(key, literal, spec):
                        matches.append(
                            RuleMatch(
                                ["Resources", name, "Properties", "Parameters", key],
                                f"Nested stack {name}: {problem}",
                            )
                        )
        return matches
