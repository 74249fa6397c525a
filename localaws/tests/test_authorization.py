"""Unit tests of localaws/stand_in/iam/authorization.py (request -> IAM actions, resources, context), with
moto in-process for the resources' state.

    .venv/bin/python -m pytest -q localaws/tests/test_authorization.py
"""

import io
import json
import os
import unittest
import zipfile
from unittest import mock

import boto3
from moto import mock_aws

from stand_in.iam.authorization import Call, Unmapped, call_of, plan

# moto runs in-process here: while these tests run, clients must not follow an endpoint the
# environment points at (./dev test exports the local AWS's, which the self-test then uses).
_environ = mock.patch.dict(os.environ)


def setUpModule():
    _environ.start()
    for name in [n for n in os.environ
                 if n == "AWS_ENDPOINT_URL" or n.startswith("AWS_ENDPOINT_URL_")]:
        del os.environ[name]


def tearDownModule():
    _environ.stop()


ACCOUNT, REGION = "123456789012", "us-east-1"
FN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"
STACKS = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack"
PRINCIPAL = {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/hook",
             "aws:PrincipalAccount": ACCOUNT, "aws:PrincipalType": "AssumedRole",
             "aws:RequestedRegion": REGION}


def checks(service, operation, **params):
    """The checks of a call, as (action, resource, context without the principal keys)."""
    found = plan(Call(service, operation, params, REGION, ACCOUNT), "hook")
    return [strip(c) for c in found.checks]


def strip(check):
    assert {k: check.context[k] for k in PRINCIPAL} == PRINCIPAL, check.context
    return check.action, check.resource, {k: v for k, v in check.context.items()
                                          if k not in PRINCIPAL}


class CallOfTest(unittest.TestCase):
    scope = ("LGIAMX", REGION, "lambda")

    def test_rest_route_from_botocore_model(self):
        environ = {"REQUEST_METHOD": "POST", "QUERY_STRING": "Qualifier=live",
                   "PATH_INFO": f"/2015-03-31/functions/{FN}:f/invocations"}
        self.assertEqual(call_of(environ, b"{}", self.scope, (None, None, None)),
                         Call("lambda", "Invoke", {"FunctionName": f"{FN}:f", "Qualifier": "live"},
                              REGION, ACCOUNT))
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/2015-03-31/functions/f/aliases/live"}
        self.assertEqual(call_of(environ, b"", self.scope, (None, None, None)).params,
                         {"FunctionName": "f", "Name": "live"})
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/nowhere"}
        self.assertEqual(call_of(environ, b"", self.scope, (None, None, None)).operation,
                         "GET /nowhere")

    def test_json_query_and_cbor(self):
        call = call_of({"REQUEST_METHOD": "POST"}, b'{"deploymentId": "d-1"}',
                       ("k", REGION, "codedeploy"),
                       ("CodeDeploy_20141006.GetDeployment", None, None))
        self.assertEqual((call.operation, call.params), ("GetDeployment", {"deploymentId": "d-1"}))
        form = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/x-www-form-urlencoded"}
        call = call_of(form, b"Action=DeleteStack&StackName=s&Version=2010-05-15",
                       ("k", REGION, "cloudformation"), (None, "DeleteStack", None))
        self.assertEqual((call.operation, call.params["StackName"]), ("DeleteStack", "s"))
        call = call_of({"REQUEST_METHOD": "POST"}, b"\xa0", ("k", REGION, "monitoring"),
                       ("GraniteServiceVersion20100801.DescribeAlarms", None, True),
                       {"AlarmNames": ["a"]})
        self.assertEqual((call.operation, call.params), ("DescribeAlarms", {"AlarmNames": ["a"]}))


@mock_aws
class PlanTest(unittest.TestCase):
    def setUp(self):
        client = lambda service: boto3.client(service, region_name=REGION)  # noqa: E731
        role = client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("bootstrap", "")
        client("lambda").create_function(
            FunctionName="f", Runtime="provided.al2023", Role=role["Role"]["Arn"],
            Handler="bootstrap", Code={"ZipFile": code.getvalue()}, Tags={"team": "a"})
        self.cfn, self.cd = client("cloudformation"), client("codedeploy")
        self.stack = self.cfn.create_stack(
            StackName="s", Tags=[{"Key": "lifeguard:temporary", "Value": "true"}],
            TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))["StackId"]
        self.cd.create_application(applicationName="app", computePlatform="Lambda",
                                   tags=[{"Key": "team", "Value": "b"}])
        self.cd.create_deployment_group(
            applicationName="app", deploymentGroupName="dg",
            serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/cd")
        self.deployment = self.cd.create_deployment(
            applicationName="app", deploymentGroupName="dg",
            revision={"revisionType": "String", "string": {"content": "x"}})["deploymentId"]
        client("dynamodb").create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            Tags=[{"Key": "team", "Value": "c"}])

    def test_lambda_qualified_and_unqualified_arns(self):
        tag = {"aws:ResourceTag/team": "a"}
        for params, resource in (({"FunctionName": "f"}, f"{FN}:f"),
                                 ({"FunctionName": "f:1"}, f"{FN}:f:1"),
                                 ({"FunctionName": "f", "Qualifier": "live"}, f"{FN}:f:live"),
                                 ({"FunctionName": f"{FN}:f:$LATEST"}, f"{FN}:f:$LATEST"),
                                 ({"FunctionName": f"{ACCOUNT}:function:f"}, f"{FN}:f")):
            self.assertEqual(checks("lambda", "Invoke", **params),
                             [("lambda:InvokeFunction", resource, tag)], params)
        other = "arn:aws:lambda:eu-west-1:111111111111:function:g"
        self.assertEqual(checks("lambda", "Invoke", FunctionName=other),
                         [("lambda:InvokeFunction", other, {})])
        self.assertEqual(checks("lambda", "GetFunctionConfiguration", FunctionName="f",
                                Qualifier="2"),
                         [("lambda:GetFunctionConfiguration", f"{FN}:f:2", tag)])
        self.assertEqual(checks("lambda", "GetAlias", FunctionName="f", Name="live"),
                         [("lambda:GetAlias", f"{FN}:f", tag)])
        self.assertEqual(checks("lambda", "ListTags", Resource=f"{FN}:f"),
                         [("lambda:ListTags", f"{FN}:f", tag)])
        with self.assertRaises(Unmapped):
            checks("lambda", "Invoke", FunctionName="no/such")

    def test_get_function_tags_need_list_tags_on_the_function(self):
        found = plan(Call("lambda", "GetFunction", {"FunctionName": "f:live"}, REGION, ACCOUNT),
                     "hook")
        self.assertEqual([strip(c) for c in found.checks],
                         [("lambda:GetFunction", f"{FN}:f:live", {"aws:ResourceTag/team": "a"})])
        self.assertEqual(strip(found.tags_check),
                         ("lambda:ListTags", f"{FN}:f", {"aws:ResourceTag/team": "a"}))

    def test_codedeploy(self):
        groups = f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentgroup"
        for operation in ("GetDeployment", "PutLifecycleEventHookExecutionStatus"):
            self.assertEqual(checks("codedeploy", operation, deploymentId=self.deployment),
                             [(f"codedeploy:{operation}", f"{groups}:app/dg", {})])
            self.assertEqual(checks("codedeploy", operation, deploymentId="d-NOPE"),
                             [(f"codedeploy:{operation}", f"{groups}:*", {})])
        self.assertEqual(checks("codedeploy", "GetApplicationRevision", applicationName="app"),
                         [("codedeploy:GetApplicationRevision",
                           f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:application:app",
                           {"aws:ResourceTag/team": "b"})])
        self.assertEqual(checks("codedeploy", "GetDeploymentGroup", applicationName="app",
                                deploymentGroupName="dg"),
                         [("codedeploy:GetDeploymentGroup", f"{groups}:app/dg", {})])
        self.assertEqual(checks("codedeploy", "ListDeployments", applicationName="app",
                                deploymentGroupName="dg", includeOnlyStatuses=["InProgress"]),
                         [("codedeploy:ListDeployments", f"{groups}:app/dg", {})])
        self.assertEqual(checks("codedeploy", "ListDeploymentGroups", applicationName="app"),
                         [("codedeploy:ListDeploymentGroups",
                           f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:application:app",
                           {"aws:ResourceTag/team": "b"})])

    def test_cloudwatch(self):
        alarms = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm"
        self.assertEqual(checks("monitoring", "GetMetricData"),
                         [("cloudwatch:GetMetricData", "*", {})])
        self.assertEqual(checks("monitoring", "PutMetricData", Namespace="Lifeguard"),
                         [("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Lifeguard"})])
        self.assertEqual(checks("monitoring", "DescribeAlarms", AlarmNames=["a", "b"]),
                         [("cloudwatch:DescribeAlarms", f"{alarms}:a", {}),
                          ("cloudwatch:DescribeAlarms", f"{alarms}:b", {})])
        self.assertEqual(checks("monitoring", "DescribeAlarms", **{"AlarmNames.member.2": "b",
                                                                   "AlarmNames.member.1": "a"}),
                         [("cloudwatch:DescribeAlarms", f"{alarms}:a", {}),
                          ("cloudwatch:DescribeAlarms", f"{alarms}:b", {})])
        self.assertEqual(checks("monitoring", "DescribeAlarms", AlarmNamePrefix="a"),
                         [("cloudwatch:DescribeAlarms", f"{alarms}:*", {})])

    def test_cloudformation(self):
        temporary = {"aws:ResourceTag/lifeguard:temporary": "true"}
        for operation in ("ListStacks", "ListImports", "DescribeStacks"):
            self.assertEqual(checks("cloudformation", operation),
                             [(f"cloudformation:{operation}", "*", {})])
        for operation in ("DescribeStacks", "DeleteStack", "UpdateTerminationProtection"):
            self.assertEqual(checks("cloudformation", operation, StackName="s"),
                             [(f"cloudformation:{operation}", self.stack, temporary)])
        self.assertEqual(checks("cloudformation", "DeleteStack", StackName="gone"),
                         [("cloudformation:DeleteStack", f"{STACKS}/gone/*", {})])
        self.assertEqual(checks("cloudformation", "UpdateStack", StackName=self.stack,
                                UsePreviousTemplate="true"),
                         [("cloudformation:UpdateStack", self.stack, temporary)])
        tagged = {**temporary, "aws:RequestTag/a": "1", "aws:RequestTag/b": "",
                  "aws:TagKeys": ["a", "b"]}
        self.assertEqual(
            checks("cloudformation", "UpdateStack", StackName="s", **{
                "Tags.member.1.Key": "a", "Tags.member.1.Value": "1", "Tags.member.2.Key": "b",
                "Tags.member.2.Value": ""}),
            [("cloudformation:UpdateStack", self.stack, tagged),
             ("cloudformation:TagResource", self.stack,
              {**tagged, "cloudformation:CreateAction": "UpdateStack"})])
        role = f"arn:aws:iam::{ACCOUNT}:role/cfn"
        self.assertEqual(
            checks("cloudformation", "CreateStack", StackName="new", RoleARN=role,
                   TemplateURL="https://b.s3.amazonaws.com/t", **{
                       "Tags.member.1.Key": "a", "Tags.member.1.Value": "1"}),
            [("cloudformation:CreateStack", f"{STACKS}/new/*", {
                "cloudformation:RoleArn": role, "cloudformation:TemplateUrl":
                "https://b.s3.amazonaws.com/t", "aws:RequestTag/a": "1", "aws:TagKeys": ["a"]}),
             ("cloudformation:TagResource", f"{STACKS}/new/*", {
                 "cloudformation:RoleArn": role, "cloudformation:TemplateUrl":
                 "https://b.s3.amazonaws.com/t", "aws:RequestTag/a": "1", "aws:TagKeys": ["a"],
                 "cloudformation:CreateAction": "CreateStack"}),
             ("iam:PassRole", role, {"iam:PassedToService": "cloudformation.amazonaws.com"})])

    def test_dynamodb(self):
        table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"
        tag = {"aws:ResourceTag/team": "c"}
        for operation in ("Scan", "GetItem", "PutItem", "UpdateItem", "DeleteItem",
                          "DescribeTable"):
            self.assertEqual(checks("dynamodb", operation, TableName="t"),
                             [(f"dynamodb:{operation}", table, tag)])
        self.assertEqual(
            checks("dynamodb", "Query", TableName=table, IndexName="i", Select="COUNT"),
            [("dynamodb:Query", f"{table}/index/i", {**tag, "dynamodb:Select": "COUNT"})])
        other = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other"
        items = [{"Put": {"TableName": "t", "Item": {}}}, {"Delete": {"TableName": other, "Key": {}}},
                 {"Update": {"TableName": "t", "Key": {}}},
                 {"ConditionCheck": {"TableName": "t", "Key": {}}}]
        self.assertEqual(
            checks("dynamodb", "TransactWriteItems", TransactItems=items),
            [("dynamodb:PutItem", table, tag), ("dynamodb:DeleteItem", other, {}),
             ("dynamodb:UpdateItem", table, tag), ("dynamodb:ConditionCheckItem", table, tag)])

    def test_sns_and_sts(self):
        topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:t"
        self.assertEqual(checks("sns", "Publish", TopicArn=topic), [("sns:Publish", topic, {})])
        self.assertEqual(checks("sns", "Publish", TargetArn=topic), [("sns:Publish", topic, {})])
        self.assertEqual(checks("sns", "ListSubscriptionsByTopic", TopicArn=topic),
                         [("sns:ListSubscriptionsByTopic", topic, {})])
        with self.assertRaises(Unmapped):
            checks("sns", "Publish", PhoneNumber="+15555550100")
        self.assertEqual(checks("sts", "GetCallerIdentity"), [])

    def test_unmapped(self):
        for service, operation in (("lambda", "ListFunctions"), ("s3", "GetObject"),
                                   ("lambda", "GET /2015-03-31/nowhere")):
            with self.assertRaises(Unmapped) as caught:
                checks(service, operation)
            self.assertEqual(str(caught.exception), f"{service}.{operation}")


if __name__ == "__main__":
    unittest.main()
