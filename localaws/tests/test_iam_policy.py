"""Unit tests of localaws/stand_in/iam/policy.py (IAM policy evaluation as AWS documents it).

    .venv/bin/python -m pytest -q localaws/tests/test_iam_policy.py
"""

import unittest

from stand_in.iam.policy import PolicyError, evaluate, validate

FN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action="*", resource="*", **more):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(action="*", resource="*", **more):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}


def holds(operator, key, value, context):
    """Whether one condition holds: an Allow of everything under it is allowed."""
    document = policy(allow(Condition={operator: {key: value}}))
    validate(document)
    return evaluate([document], "s3:GetObject", "arn:aws:s3:::b/k", context).allowed


class DecisionTest(unittest.TestCase):
    def test_allow_implicit_deny_explicit_deny(self):
        allowed = evaluate([policy(allow("lambda:InvokeFunction", FN))],
                           "lambda:InvokeFunction", FN, {})
        self.assertTrue(allowed.allowed)
        implicit = evaluate([policy(allow("lambda:GetFunction", FN))],
                            "lambda:InvokeFunction", FN, {})
        self.assertEqual((implicit.allowed, implicit.explicit_deny), (False, False))
        self.assertEqual(evaluate([], "lambda:InvokeFunction", FN, {}).allowed, False)

    def test_explicit_deny_wins_across_policies_and_order(self):
        for policies in ([policy(allow()), policy(deny(Sid="No"))],
                         [policy(deny(Sid="No"), allow())]):
            decision = evaluate(policies, "lambda:InvokeFunction", FN, {})
            self.assertEqual((decision.allowed, decision.explicit_deny, decision.statement),
                             (False, True, "No"))

    def test_deny_that_does_not_apply_leaves_the_allow(self):
        decision = evaluate([policy(allow(), deny("lambda:DeleteFunction"))],
                            "lambda:InvokeFunction", FN, {})
        self.assertTrue(decision.allowed)
        self.assertEqual(decision.statement, "policy 1 statement 1")

    def test_messages_are_aws_s(self):
        principal = "arn:aws:sts::123456789012:assumed-role/r/r"
        implicit = evaluate([], "lambda:InvokeFunction", FN, {})
        self.assertEqual(
            implicit.message(principal, "lambda:InvokeFunction", FN),
            f"User: {principal} is not authorized to perform: lambda:InvokeFunction on "
            f"resource: {FN} because no identity-based policy allows the "
            "lambda:InvokeFunction action")
        explicit = evaluate([policy(deny())], "lambda:InvokeFunction", FN, {})
        self.assertEqual(
            explicit.message(principal, "lambda:InvokeFunction", FN),
            f"User: {principal} is not authorized to perform: lambda:InvokeFunction on "
            f"resource: {FN} with an explicit deny in an identity-based policy")

    def test_statement_may_be_a_single_object(self):
        document = {"Version": "2012-10-17", "Statement": allow("sns:Publish")}
        validate(document)
        self.assertTrue(evaluate([document], "sns:Publish", "arn:aws:sns:r:a:t", {}).allowed)


class ActionAndResourceTest(unittest.TestCase):
    def allowed(self, statement, action="lambda:InvokeFunction", resource=FN):
        return evaluate([policy(statement)], action, resource, {}).allowed

    def test_action_is_case_insensitive_with_wildcards(self):
        self.assertTrue(self.allowed(allow("LAMBDA:invokefunction")))
        self.assertTrue(self.allowed(allow("lambda:*")))
        self.assertTrue(self.allowed(allow("lambda:Invoke*")))
        self.assertTrue(self.allowed(allow("lambda:InvokeFunctio?")))
        self.assertFalse(self.allowed(allow("lambda:Invoke?")))
        self.assertTrue(self.allowed(allow(["sns:Publish", "lambda:InvokeFunction"])))
        self.assertFalse(self.allowed(allow("lambda:GetFunction")))

    def test_not_action(self):
        self.assertFalse(self.allowed({"Effect": "Allow", "NotAction": "lambda:Invoke*",
                                       "Resource": "*"}))
        self.assertTrue(self.allowed({"Effect": "Allow", "NotAction": "lambda:Get*",
                                      "Resource": "*"}))

    def test_resource_is_case_sensitive(self):
        self.assertTrue(self.allowed(allow(resource=FN)))
        self.assertFalse(self.allowed(allow(resource=FN.upper())))
        self.assertFalse(self.allowed(allow(resource=FN + "-other")))

    def test_resource_star_spans_colons_and_slashes_question_mark_one_character(self):
        self.assertTrue(self.allowed(allow(resource="*")))
        self.assertTrue(self.allowed(allow(resource=FN + "*"), resource=FN + ":live"))
        self.assertTrue(self.allowed(allow(resource=FN + ":*"), resource=FN + ":1"))
        self.assertFalse(self.allowed(allow(resource=FN + ":*"), resource=FN))
        self.assertTrue(self.allowed(allow(resource="arn:aws:cloudformation:*:*:stack/*/*"),
                                     resource="arn:aws:cloudformation:us-east-1:1:stack/s/id"))
        self.assertTrue(self.allowed(allow(resource=FN[:-1] + "?")))
        self.assertFalse(self.allowed(allow(resource=FN[:-1] + "?"), resource=FN + "g"))

    def test_a_wildcard_request_resource_needs_star(self):
        self.assertFalse(self.allowed(allow(resource=FN), resource="*"))
        self.assertTrue(self.allowed(allow(resource="*"), resource="*"))

    def test_not_resource(self):
        statement = {"Effect": "Deny", "Action": "*", "NotResource": FN + ":*"}
        denied = evaluate([policy(allow(), statement)], "lambda:InvokeFunction", FN, {})
        self.assertTrue(denied.explicit_deny)
        passes = evaluate([policy(allow(), statement)], "lambda:InvokeFunction", FN + ":1", {})
        self.assertTrue(passes.allowed)


class ConditionTest(unittest.TestCase):
    def test_string_equals(self):
        key = "aws:ResourceTag/team"
        self.assertTrue(holds("StringEquals", key, "a", {key: "a"}))
        self.assertFalse(holds("StringEquals", key, "a", {key: "A"}))
        self.assertFalse(holds("StringEquals", key, "a*", {key: "ab"}))
        self.assertFalse(holds("StringEquals", key, "a", {}))

    def test_string_not_equals(self):
        self.assertTrue(holds("StringNotEquals", "k", ["a", "b"], {"k": "c"}))
        self.assertFalse(holds("StringNotEquals", "k", ["a", "b"], {"k": "b"}))
        self.assertTrue(holds("StringNotEquals", "k", "a", {}))  # missing key: true

    def test_string_equals_ignore_case(self):
        self.assertTrue(holds("StringEqualsIgnoreCase", "k", "ABC", {"k": "abc"}))
        self.assertFalse(holds("StringEqualsIgnoreCase", "k", "ABC", {"k": "abd"}))
        self.assertFalse(holds("StringEqualsIgnoreCase", "k", "ABC", {}))

    def test_string_not_equals_ignore_case(self):
        self.assertFalse(holds("StringNotEqualsIgnoreCase", "k", "ABC", {"k": "abc"}))
        self.assertTrue(holds("StringNotEqualsIgnoreCase", "k", "ABC", {"k": "abd"}))
        self.assertTrue(holds("StringNotEqualsIgnoreCase", "k", "ABC", {}))

    def test_string_like(self):
        self.assertTrue(holds("StringLike", "k", "lifeguard-*", {"k": "lifeguard-pr-1"}))
        self.assertTrue(holds("StringLike", "k", "v?", {"k": "v2"}))
        self.assertFalse(holds("StringLike", "k", "v?", {"k": "v22"}))
        self.assertFalse(holds("StringLike", "k", "Lifeguard-*", {"k": "lifeguard-x"}))
        self.assertFalse(holds("StringLike", "k", "*", {}))

    def test_string_not_like(self):
        self.assertFalse(holds("StringNotLike", "k", ["x*", "lifeguard-*"], {"k": "lifeguard-a"}))
        self.assertTrue(holds("StringNotLike", "k", ["x*"], {"k": "lifeguard-a"}))
        self.assertTrue(holds("StringNotLike", "k", "*", {}))

    def test_arn_equals_and_like_match_the_six_components(self):
        arn = "arn:aws:sns:us-east-1:123456789012:topic"
        for operator in ("ArnEquals", "ArnLike"):
            self.assertTrue(holds(operator, "aws:SourceArn", arn, {"aws:SourceArn": arn}))
            self.assertTrue(holds(operator, "aws:SourceArn", "arn:aws:sns:*:123456789012:*",
                                  {"aws:SourceArn": arn}))
            self.assertFalse(holds(operator, "aws:SourceArn", "arn:aws:sns:*:999999999999:*",
                                   {"aws:SourceArn": arn}))
            self.assertFalse(holds(operator, "aws:SourceArn", arn, {"aws:SourceArn": "topic"}))
            self.assertFalse(holds(operator, "aws:SourceArn", arn, {}))

    def test_arn_not_equals_and_not_like(self):
        arn = "arn:aws:sns:us-east-1:123456789012:topic"
        for operator in ("ArnNotEquals", "ArnNotLike"):
            self.assertFalse(holds(operator, "aws:SourceArn", "arn:aws:sns:*:*:top*",
                                   {"aws:SourceArn": arn}))
            self.assertTrue(holds(operator, "aws:SourceArn", "arn:aws:sqs:*:*:*",
                                  {"aws:SourceArn": arn}))
            self.assertTrue(holds(operator, "aws:SourceArn", arn, {}))

    def test_bool(self):
        key = "aws:SecureTransport"
        self.assertTrue(holds("Bool", key, "true", {key: "true"}))
        self.assertTrue(holds("Bool", key, True, {key: "TRUE"}))
        self.assertFalse(holds("Bool", key, "true", {key: "false"}))
        self.assertFalse(holds("Bool", key, "false", {}))

    def test_null(self):
        self.assertTrue(holds("Null", "aws:ResourceTag/t", "true", {}))
        self.assertFalse(holds("Null", "aws:ResourceTag/t", "true", {"aws:ResourceTag/t": "x"}))
        self.assertTrue(holds("Null", "aws:ResourceTag/t", "false", {"aws:ResourceTag/t": "x"}))
        self.assertFalse(holds("Null", "aws:ResourceTag/t", "false", {}))
        self.assertTrue(holds("Null", "aws:TagKeys", "true", {"aws:TagKeys": []}))

    def test_numeric(self):
        ctx = {"s3:max-keys": "10"}
        cases = {"NumericEquals": ("10", "11"), "NumericNotEquals": ("11", "10"),
                 "NumericLessThan": ("11", "10"), "NumericLessThanEquals": ("10", "9"),
                 "NumericGreaterThan": ("9", "10"), "NumericGreaterThanEquals": ("10", "11")}
        for operator, (true, false) in cases.items():
            self.assertTrue(holds(operator, "s3:max-keys", true, ctx), operator)
            self.assertFalse(holds(operator, "s3:max-keys", false, ctx), operator)
        self.assertFalse(holds("NumericEquals", "s3:max-keys", "10", {"s3:max-keys": "ten"}))
        self.assertFalse(holds("NumericLessThan", "s3:max-keys", "10", {}))
        self.assertTrue(holds("NumericNotEquals", "s3:max-keys", "10", {}))

    def test_if_exists(self):
        self.assertTrue(holds("StringEqualsIfExists", "k", "a", {}))
        self.assertTrue(holds("StringEqualsIfExists", "k", "a", {"k": "a"}))
        self.assertFalse(holds("StringEqualsIfExists", "k", "a", {"k": "b"}))
        self.assertTrue(holds("ArnLikeIfExists", "k", "arn:*:*:*:*:*", {}))
        self.assertTrue(holds("BoolIfExists", "k", "false", {}))
        self.assertTrue(holds("NumericLessThanIfExists", "k", "3", {}))

    def test_for_all_values(self):
        keys = ["lifeguard:*", "aws:cloudformation:*"]
        self.assertTrue(holds("ForAllValues:StringLike", "aws:TagKeys", keys,
                              {"aws:TagKeys": ["lifeguard:ttl", "aws:cloudformation:stack-id"]}))
        self.assertFalse(holds("ForAllValues:StringLike", "aws:TagKeys", keys,
                               {"aws:TagKeys": ["lifeguard:ttl", "owner"]}))
        self.assertTrue(holds("ForAllValues:StringLike", "aws:TagKeys", keys, {}))
        self.assertTrue(holds("ForAllValues:StringLike", "aws:TagKeys", keys, {"aws:TagKeys": []}))
        self.assertTrue(holds("ForAllValues:StringNotEquals", "aws:TagKeys", ["a"],
                              {"aws:TagKeys": ["b", "c"]}))
        self.assertFalse(holds("ForAllValues:StringNotEquals", "aws:TagKeys", ["a"],
                               {"aws:TagKeys": ["a", "c"]}))

    def test_for_any_value(self):
        self.assertTrue(holds("ForAnyValue:StringEquals", "aws:TagKeys", ["a", "b"],
                              {"aws:TagKeys": ["x", "b"]}))
        self.assertFalse(holds("ForAnyValue:StringEquals", "aws:TagKeys", ["a"],
                               {"aws:TagKeys": ["x"]}))
        self.assertFalse(holds("ForAnyValue:StringEquals", "aws:TagKeys", ["a"], {}))
        self.assertFalse(holds("ForAnyValue:StringEquals", "aws:CalledVia",
                               "cloudformation.amazonaws.com", {"aws:CalledVia": []}))
        self.assertTrue(holds("ForAnyValue:StringNotEquals", "aws:TagKeys", ["a"],
                              {"aws:TagKeys": ["a", "b"]}))
        self.assertFalse(holds("ForAnyValue:StringNotEquals", "aws:TagKeys", ["a"], {}))

    def test_a_list_without_set_operator_matches_any_of_its_values(self):
        self.assertTrue(holds("StringEquals", "aws:TagKeys", "b", {"aws:TagKeys": ["a", "b"]}))
        self.assertFalse(holds("StringNotEquals", "aws:TagKeys", "b", {"aws:TagKeys": ["a", "b"]}))

    def test_keys_are_case_insensitive_tag_values_are_not(self):
        self.assertTrue(holds("StringEquals", "AWS:ResourceTag/Lifeguard:Temporary", "true",
                              {"aws:resourcetag/lifeguard:temporary": "true"}))
        self.assertFalse(holds("StringEquals", "aws:ResourceTag/lifeguard:temporary", "true",
                               {"aws:ResourceTag/lifeguard:temporary": "True"}))

    def test_and_across_operators_and_keys_or_across_values(self):
        condition = {"StringEquals": {"aws:ResourceTag/a": ["1", "2"], "aws:RequestTag/a": "1"},
                     "StringLike": {"aws:PrincipalArn": "*:role/hook"}}
        document = policy(allow(Condition=condition))
        context = {"aws:ResourceTag/a": "2", "aws:RequestTag/a": "1",
                   "aws:PrincipalArn": "arn:aws:iam::1:role/hook"}
        self.assertTrue(evaluate([document], "x:Y", "*", context).allowed)
        for key, value in (("aws:ResourceTag/a", "3"), ("aws:RequestTag/a", "2"),
                           ("aws:PrincipalArn", "arn:aws:iam::1:role/other")):
            self.assertFalse(evaluate([document], "x:Y", "*", {**context, key: value}).allowed)

    def test_a_condition_on_a_deny(self):
        document = policy(allow(), deny(Condition={"StringNotEquals": {"aws:ResourceTag/t": "y"}}))
        self.assertTrue(evaluate([document], "x:Y", "*", {"aws:ResourceTag/t": "y"}).allowed)
        self.assertTrue(evaluate([document], "x:Y", "*", {}).explicit_deny)


class ValidateTest(unittest.TestCase):
    def refused(self, document, text):
        with self.assertRaises(PolicyError) as caught:
            validate(document)
        self.assertIn(text, str(caught.exception))

    def test_refusals(self):
        self.refused({"Version": "2012-10-17"}, "Statement")
        self.refused({"Version": "2001-01-01", "Statement": []}, "Version")
        self.refused(policy({"Action": "*", "Resource": "*"}), "Effect")
        self.refused(policy(allow(Principal="*")), "Principal")
        self.refused(policy({"Effect": "Allow", "Action": "*", "NotAction": "x:y",
                             "Resource": "*"}), "exactly one of Action and NotAction")
        self.refused(policy({"Effect": "Allow", "Action": "*"}), "Resource and NotResource")
        self.refused(policy(allow("InvokeFunction")), "service:Action")
        self.refused(policy(allow(Condition={"DateLessThan": {"aws:CurrentTime": "x"}})),
                     "DateLessThan is not supported")
        self.refused(policy(allow(Condition={"NullIfExists": {"k": "true"}})), "not supported")
        self.refused(policy(allow(Condition={"ForSomeValues:StringEquals": {"k": "v"}})),
                     "unknown set operator")
        self.refused(policy(allow(resource="arn:aws:s3:::${aws:username}/*")),
                     "policy variables")

    def test_accepts_what_it_evaluates(self):
        validate(policy(allow(Condition={
            "ForAllValues:StringLikeIfExists": {"aws:TagKeys": ["a*"]},
            "Null": {"aws:ResourceTag/x": "false"}, "Bool": {"aws:SecureTransport": True}})))
        validate({"Version": "2008-10-17", "Statement": [allow(resource="${literal}")]})


if __name__ == "__main__":
    unittest.main()
