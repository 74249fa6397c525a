"""Unit tests of localaws/stand_in/iam/roles.py (a role's policies from a SAM template, resolved).

    .venv/bin/python -m pytest -q localaws/tests/test_roles.py
"""

import contextlib
import io
import json
import os
import tempfile
import unittest

from stand_in.iam import roles
from stand_in.iam.roles import RoleError, role_policies

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Mode:
    Type: String
    Default: report
  Names:
    Type: CommaDelimitedList
    Default: a,b
  Required:
    Type: String
Conditions:
  Enforce: !Equals [!Ref Mode, enforce]
  EnforceNotB: !And
    - !Condition Enforce
    - !Not [!Equals [!Select [1, !Ref Names], 'b']]
  Either: !Or [!Condition Enforce, !Equals [!Ref Mode, audit]]
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Hook:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      CodeUri: .
      Role: !GetAtt HookRole.Arn
  HookRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
      Policies:
        - PolicyName: !Sub '${AWS::StackName}-hook'
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Sid: Sub
                Effect: Allow
                Action: sns:Publish
                Resource:
                  - !Ref Topic
                  - !Sub 'arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${Hook}:*'
                  - !Sub '${Topic.TopicName}-${!literal}'
                  - !Sub ['${Prefix}-${Mode}', {Prefix: !Join ['/', !Split [',', 'x,y']]}]
                  - !Ref AWS::StackId
              - !If
                - Enforce
                - Sid: OnlyWhenEnforcing
                  Effect: Allow
                  Action: cloudformation:DeleteStack
                  Resource: '*'
                - !Ref AWS::NoValue
              - Sid: Choice
                Effect: Allow
                Action: !If [EnforceNotB, 'a:B', !If [Either, 'c:D', 'e:F']]
                Resource: !Select [0, !Ref Names]
                Condition: !If [Enforce, {StringEquals: {'aws:ResourceTag/x': !Ref Required}}, !Ref AWS::NoValue]
  Extra:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: extra
      Roles: [!Ref HookRole]
      PolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: 'x:Y', Resource: '*'}]}
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      CodeUri: .
      Policies:
        - SNSPublishMessagePolicy:
            TopicName: !GetAtt Topic.TopicName
  Managed:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
      ManagedPolicyArns: [!Sub 'arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess']
  Conditional:
    Type: AWS::IAM::Role
    Condition: Enforce
    Properties:
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
"""
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1111"
GIVEN = dict(parameters={"Required": "r"}, stack_name="s", stack_id=STACK_ID,
             resources={"Topic": "arn:aws:sns:us-east-1:123456789012:t", "Hook": "s-Hook"},
             attributes={"Topic.TopicName": "t"})


class RolePoliciesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.dir.name, "template.yaml")
        with open(cls.path, "w") as f:
            f.write(TEMPLATE)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def resolve(self, **kwargs):
        return role_policies(self.path, **{**GIVEN, **kwargs})

    def statements(self, **kwargs):
        role, policies = self.resolve(function="Hook", **kwargs)
        self.assertEqual(role, "HookRole")
        return {s["Sid"]: s for s in policies[0]["document"]["Statement"] if "Sid" in s}

    def test_function_role_intrinsics(self):
        role, policies = self.resolve(function="Hook")
        self.assertEqual([p["name"] for p in policies], ["s-hook", "extra"])
        self.assertEqual(policies[0]["document"]["Statement"][0]["Resource"], [
            "arn:aws:sns:us-east-1:123456789012:t",
            "arn:aws:lambda:us-east-1:123456789012:function:s-Hook:*",
            "t-${literal}", "x/y-report", STACK_ID])
        self.assertEqual(policies[1]["document"]["Statement"],
                         [{"Effect": "Allow", "Action": "x:Y", "Resource": "*"}])

    def test_conditions_if_and_no_value(self):
        report = self.statements()
        self.assertNotIn("OnlyWhenEnforcing", report)
        self.assertEqual((report["Choice"]["Action"], report["Choice"]["Resource"]), ("e:F", "a"))
        self.assertNotIn("Condition", report["Choice"])
        audit = self.statements(parameters={"Required": "r", "Mode": "audit"})
        self.assertEqual(audit["Choice"]["Action"], "c:D")
        enforce = self.statements(parameters={"Required": "r", "Mode": "enforce"})
        self.assertIn("OnlyWhenEnforcing", enforce)
        self.assertEqual(enforce["Choice"]["Action"], "c:D")
        self.assertEqual(enforce["Choice"]["Condition"],
                         {"StringEquals": {"aws:ResourceTag/x": "r"}})
        not_b = self.statements(parameters={"Required": "r", "Mode": "enforce", "Names": "q,z"})
        self.assertEqual((not_b["Choice"]["Action"], not_b["Choice"]["Resource"]), ("a:B", "q"))

    def test_sam_generated_role_with_policy_template_and_basic_execution(self):
        role, policies = self.resolve(function="Plain")
        self.assertEqual(role, "PlainRole")
        documents = {p["name"]: p["document"] for p in policies}
        self.assertEqual(documents["PlainRolePolicy0"]["Statement"][0]["Resource"],
                         "arn:aws:sns:us-east-1:123456789012:t")
        self.assertEqual(documents["AWSLambdaBasicExecutionRole"],
                         roles.AWS_MANAGED_POLICIES["service-role/AWSLambdaBasicExecutionRole"])

    def test_errors_name_what_is_missing(self):
        cases = [
            (dict(function="Hook", attributes={}), "Topic.TopicName"),
            (dict(function="Hook", resources={"Topic": "t"}), "physical id of resource Hook"),
            (dict(function="Hook", stack_id=None), "AWS::StackId"),
            # Required is only used when enforcing: only then must it be given
            (dict(function="Hook", parameters={"Mode": "enforce"}), "Ref Required"),
            (dict(function="Hook", parameters={"Nope": "1"}), "['Nope'] do not exist"),
            (dict(role="Managed"), "ReadOnlyAccess is not known"),
            (dict(role="Conditional"), "Conditional is not created"),
            (dict(role="Topic"), "not an AWS::IAM::Role"),
            (dict(function="Topic"), "not a function"),
            (dict(function="Hook", role="HookRole"), "exactly one of"),
        ]
        for kwargs, text in cases:
            with self.assertRaises(RoleError, msg=kwargs) as caught:
                self.resolve(**kwargs)
            self.assertIn(text, str(caught.exception), kwargs)

    def test_transform_cached_until_the_file_changes(self):
        first = roles.transformed(self.path, {"Required": "r"})
        self.assertIs(roles.transformed(self.path, {"Required": "r"}), first)
        stat = os.stat(self.path)
        os.utime(self.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        self.assertIsNot(roles.transformed(self.path, {"Required": "r"}), first)

    def test_cli(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            roles.main([self.path, "--role", "HookRole", "--param", "Required=r",
                        "--resource", "Topic=arn:t", "--resource", "Hook=h",
                        "--attr", "Topic.TopicName=t", "--stack-name", "s",
                        "--stack-id", STACK_ID])
        printed = json.loads(out.getvalue())
        self.assertEqual((printed["role"], [p["name"] for p in printed["policies"]]),
                         ("HookRole", ["s-hook", "extra"]))


if __name__ == "__main__":
    unittest.main()
