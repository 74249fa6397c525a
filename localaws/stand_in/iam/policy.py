"""IAM identity-based policy evaluation, as AWS documents it, for the local AWS.

Why not moto's own access control (moto/iam/access_control.py, on after the first
INITIAL_NO_AUTH_ACTION_COUNT requests): its action is "<credential-scope service>:<moto's
operation>" ("monitoring:GetMetricData", "lambda:Invoke"); services hand it the resource "*"
(S3, SQS, IAM and STS excepted), matched by an unescaped case-sensitive regex; of Condition it
knows StringEquals on request parameters only (no aws:ResourceTag, no missing-key rules) and
passes other operators; it needs moto IAM users or STS sessions with valid signatures, and
answers IAM's AccessDenied shape for every service but S3 and EC2. So we evaluate here.

    evaluate(policies, action, resource, context) -> Decision

Semantics (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny in any statement wins; otherwise some Allow must apply; otherwise the request
is implicitly denied. A statement applies when its Action/NotAction matches the action
(case-insensitive, `*` and `?` wildcards), its Resource/NotResource matches the resource ARN
(case-sensitive; `*` matches any run of characters, `:` and `/` included, as Lambda's
"function:my-function*" matching qualified ARNs shows) and every condition holds: AND across
operators and keys, OR across the values given for one key.

Conditions (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
condition keys are case-insensitive (so are tag keys in aws:RequestTag/aws:ResourceTag; tag
values are not). A key missing from the request context makes a condition false, except for
the negated operators (StringNotEquals, StringNotLike, ArnNotLike, ...: true), `...IfExists`
(true) and `Null` (which tests presence). A multivalued key (a list in the context) needs a
set operator (reference_policies_condition-single-vs-multi-valued-context-keys.html):
`ForAllValues:` holds when every request value matches (also when the key is missing or
empty), `ForAnyValue:` when at least one does (false when missing or empty). Without one, a
list matches when any of its values does. A negated operator is the negation of its positive
form per value: StringNotEquals holds when the value equals none of the policy's values.

Not supported (a policy using them is refused by `validate`, never evaluated wrongly): Date,
IpAddress and Binary operators, and policy variables (`${aws:username}`, ...).
"""

import functools
import re
from dataclasses import dataclass

VERSIONS = ("2012-10-17", "2008-10-17")
STRING_OPERATORS = {"StringEquals", "StringEqualsIgnoreCase", "StringLike"}
NUMERIC_OPERATORS = {"NumericEquals", "NumericLessThan", "NumericLessThanEquals",
                     "NumericGreaterThan", "NumericGreaterThanEquals"}
ARN_OPERATORS = {"ArnEquals", "ArnLike"}
POSITIVE_OPERATORS = STRING_OPERATORS | NUMERIC_OPERATORS | ARN_OPERATORS | {"Bool"}
# the negated operators and the positive operator each one negates
NEGATED_OPERATORS = {"StringNotEquals": "StringEquals",
                     "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
                     "StringNotLike": "StringLike", "NumericNotEquals": "NumericEquals",
                     "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}
SET_PREFIXES = ("ForAllValues", "ForAnyValue")
STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                  "Condition"}


class PolicyError(ValueError):
    """A policy document this evaluator refuses (malformed, or beyond what it supports)."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool
    statement: str | None  # the deciding statement ("Sid" or "policy N statement M"), if any

    @property
    def reason(self) -> str:
        if self.allowed:
            return f"allowed by {self.statement}"
        if self.explicit_deny:
            return f"explicit deny in an identity-based policy ({self.statement})"
        return "no identity-based policy allows it"

    def message(self, principal_arn: str, action: str, resource: str) -> str:
        """AWS's AccessDenied message for this (denying) decision."""
        why = ("with an explicit deny in an identity-based policy" if self.explicit_deny
               else f"because no identity-based policy allows the {action} action")
        return (f"User: {principal_arn} is not authorized to perform: {action} "
                f"on resource: {resource} {why}")


# ----------------------------------------------------------------------------- validation

def validate(policy) -> None:
    """Raises PolicyError unless `policy` is an identity-based policy document this module
    evaluates faithfully."""
    if not isinstance(policy, dict) or "Statement" not in policy:
        raise PolicyError("a policy document is an object with a Statement")
    unknown = set(policy) - {"Version", "Id", "Statement"}
    if unknown:
        raise PolicyError(f"unknown policy element(s) {sorted(unknown)}")
    version = policy.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyError(f"Version {version!r} is not one of {list(VERSIONS)}")
    for s, statement in enumerate(_statement_list(policy), 1):
        _validate_statement(f"statement {s}", statement, version)


def _validate_statement(where, statement, version):
    if not isinstance(statement, dict):
        raise PolicyError(f"{where} is not an object")
    if "Principal" in statement or "NotPrincipal" in statement:
        raise PolicyError(f"{where}: an identity-based policy names no Principal")
    unknown = set(statement) - STATEMENT_KEYS
    if unknown:
        raise PolicyError(f"{where}: unknown element(s) {sorted(unknown)}")
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect must be Allow or Deny")
    for pair in (("Action", "NotAction"), ("Resource", "NotResource")):
        present = [k for k in pair if k in statement]
        if len(present) != 1:
            raise PolicyError(f"{where}: needs exactly one of {' and '.join(pair)}")
        values = _values(statement[present[0]])
        if not values or not all(isinstance(v, str) and v for v in values):
            raise PolicyError(f"{where}: {present[0]} must be a non-empty string or list of them")
        if pair[0] == "Action" and not all(v == "*" or re.fullmatch(r"[\w-]+:[\w*?-]+", v)
                                           for v in values):
            raise PolicyError(f"{where}: an action is 'service:Action' (or '*')")
    condition = statement.get("Condition", {})
    if not isinstance(condition, dict):
        raise PolicyError(f"{where}: Condition must be an object")
    for operator, keys in condition.items():
        _parse_operator(operator, where)
        if not isinstance(keys, dict) or not keys:
            raise PolicyError(f"{where}: {operator} must map condition keys to values")
        for key, wanted in keys.items():
            values = _values(wanted)
            if not values or not all(isinstance(v, (str, bool, int, float)) for v in values):
                raise PolicyError(f"{where}: {operator} {key} needs a value or list of values")
    if version == "2012-10-17":
        texts = [*(_values(statement.get("Resource") or statement.get("NotResource"))),
                 *(str(v) for keys in condition.values() for w in keys.values()
                   for v in _values(w))]
        if any("${" in text for text in texts):
            raise PolicyError(f"{where}: policy variables (${{...}}) are not supported "
                              "by the local AWS")


def _parse_operator(operator, where="a statement"):
    """(set prefix or None, base operator, IfExists?) of a condition operator name."""
    prefix, _, base = operator.rpartition(":")
    if prefix and prefix not in SET_PREFIXES:
        raise PolicyError(f"{where}: unknown set operator {prefix}:")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    base = base[:-len("IfExists")] if if_exists else base
    known = POSITIVE_OPERATORS | set(NEGATED_OPERATORS) | {"Null"}
    if base not in known or (base == "Null" and (if_exists or prefix)):
        raise PolicyError(f"{where}: condition operator {operator} is not supported "
                          f"(supported: {', '.join(sorted(known))}, with IfExists and "
                          f"ForAllValues:/ForAnyValue: except for Null)")
    return prefix or None, base, if_exists


# ----------------------------------------------------------------------------- evaluation

def evaluate(policies, action: str, resource: str, context: dict) -> Decision:
    """The decision for `action` on `resource` under `policies` (documents, each valid per
    `validate`); `context` maps condition keys to a string or a list of strings."""
    ctx = {key.lower(): value for key, value in context.items()}
    allowed_by = None
    for where, statement in _statements(policies):
        if not _applies(statement, action, resource, ctx):
            continue
        label = statement.get("Sid") or where
        if statement["Effect"] == "Deny":
            return Decision(False, True, label)
        allowed_by = allowed_by or label
    return Decision(allowed_by is not None, False, allowed_by)


def _statement_list(policy):
    statements = policy["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _statements(policies):
    for p, policy in enumerate(policies, 1):
        for s, statement in enumerate(_statement_list(policy), 1):
            yield f"policy {p} statement {s}", statement


def _values(value):
    return value if isinstance(value, list) else [] if value is None else [value]


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, flags=0):
    """A regex for an IAM wildcard pattern: `*` any run of characters, `?` one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, flags | re.DOTALL)


def _matches_any(patterns, value, flags=0):
    return any(_glob(p, flags).fullmatch(value) for p in _values(patterns))


def _applies(statement, action, resource, ctx) -> bool:
    if "Action" in statement:
        if not _matches_any(statement["Action"], action, re.IGNORECASE):
            return False
    elif _matches_any(statement["NotAction"], action, re.IGNORECASE):
        return False
    if "Resource" in statement:
        if not _matches_any(statement["Resource"], resource):
            return False
    elif _matches_any(statement["NotResource"], resource):
        return False
    return all(_condition(operator, key, wanted, ctx)
               for operator, keys in statement.get("Condition", {}).items()
               for key, wanted in keys.items())


def _text(value) -> str:
    """A policy or context value as IAM compares it (JSON true -> "true")."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _condition(operator, key, wanted, ctx) -> bool:
    prefix, base, if_exists = _parse_operator(operator)
    wanted = [_text(w) for w in _values(wanted)]
    value = ctx.get(key.lower())
    request = [_text(v) for v in _values(value)]
    if base == "Null":  # "true": the key is absent (or an empty set); "false": present
        return any((w.lower() == "true") == (not request) for w in wanted)
    negated = base in NEGATED_OPERATORS
    positive = NEGATED_OPERATORS.get(base, base)
    if not request:
        if if_exists or prefix == "ForAllValues":
            return True
        return negated and prefix != "ForAnyValue"

    def holds(v):
        hit = any(_match(positive, v, w) for w in wanted)
        return not hit if negated else hit

    if prefix == "ForAllValues":
        return all(holds(v) for v in request)
    if prefix == "ForAnyValue":
        return any(holds(v) for v in request)
    hit = any(_match(positive, v, w) for v in request for w in wanted)
    return not hit if negated else hit


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


def _match(operator, value: str, wanted: str) -> bool:
    """Whether a request value satisfies a positive operator against one policy value."""
    if operator == "StringEquals":
        return value == wanted
    if operator == "StringEqualsIgnoreCase":
        return value.casefold() == wanted.casefold()
    if operator == "StringLike":
        return _glob(wanted).fullmatch(value) is not None
    if operator == "Bool":
        return value.lower() == wanted.lower()
    if operator in ARN_OPERATORS:  # the six ARN components matched one by one, wildcards too
        have, want = value.split(":", 5), wanted.split(":", 5)
        return len(have) == len(want) == 6 and all(
            _glob(w).fullmatch(h) for h, w in zip(have, want))
    a, b = _number(value), _number(wanted)  # numeric operators
    if a is None or b is None:
        return False
    return {"NumericEquals": a == b, "NumericLessThan": a < b, "NumericLessThanEquals": a <= b,
            "NumericGreaterThan": a > b, "NumericGreaterThanEquals": a >= b}[operator]
