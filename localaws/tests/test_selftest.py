"""Self-test of the local AWS stand-in (localaws/stand_in) against the running server named by
AWS_ENDPOINT_URL (the `aws` fixture, tests/conftest.py): what it adds to moto, checked through
boto3 and raw HTTP as the code under test meets it.

    ./dev localaws start    # then, with ./dev's local_env exported:
    .venv/bin/python -m pytest -q localaws/tests/test_selftest.py

It resets the server first, and its tests run in file order, sharing that server's state (e.g.
test_cloudformation counts every stack of us-east-1; test_iam_role_policies uses the stack and
table of earlier IAM tests). Each test makes named checks (the `check` fixture): a failed check
does not stop its test, which then fails listing every failed check with its detail.
"""

import datetime
import hashlib
import io
import json
import os
import re
import threading
import time
import zipfile

import boto3
import cbor2
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError


def error_of(call, *args, **kwargs):
    """(code, HTTP status, error-type header, full response) of a call expected to fail."""
    try:
        call(*args, **kwargs)
    except ClientError as e:
        meta = e.response["ResponseMetadata"]
        return (e.response["Error"]["Code"], meta["HTTPStatusCode"],
                meta["HTTPHeaders"].get("x-amzn-errortype"), e.response)
    return (None, 200, None, None)


def zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\necho hi\n")
    return buf.getvalue()


# ---------------------------------------------------------------------------- setup

def setup_lambda(aws):
    """A fresh server: reset, then fn-sut (versions 1 and 2, alias live -> 2), fn-slow (version
    1) and CodeDeployHook_x; the ARN of fn-sut."""
    iam, lam = aws.iam, aws.lam
    aws.reset()
    role = iam.create_role(RoleName="lambda-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    arn = role["Role"]["Arn"]
    for name in ("fn-sut", "fn-slow", "CodeDeployHook_x"):
        lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=arn,
                            Handler="bootstrap", Code={"ZipFile": zip_bytes()})
    v1 = lam.publish_version(FunctionName="fn-sut")["Version"]
    lam.update_function_code(FunctionName="fn-sut", ZipFile=zip_bytes() + b"\0")
    v2 = lam.publish_version(FunctionName="fn-sut")["Version"]
    assert (v1, v2) == ("1", "2"), f"published versions 1 and 2  -- {(v1, v2)}"
    lam.create_alias(FunctionName="fn-sut", Name="live", FunctionVersion="2")
    lam.publish_version(FunctionName="fn-slow")
    return lam.get_function(FunctionName="fn-sut")["Configuration"]["FunctionArn"]


@pytest.fixture(scope="module", autouse=True)
def fn_arn(aws):
    """Before any test here, as the self-test always began: setup_lambda."""
    return setup_lambda(aws)


@pytest.fixture(scope="module")
def deployments(aws, fn_arn):
    """setup_codedeploy's deployment ids, made after setup_lambda's reset."""
    return setup_codedeploy(aws)


APPSPEC_YAML = """version: 0.0
Resources:
  - fnSut:
      Type: AWS::Lambda::Function
      Properties:
        Name: fn-sut
        Alias: live
        CurrentVersion: "1"
        TargetVersion: "2"
Hooks:
  - BeforeAllowTraffic: CodeDeployHook_x
  - AfterAllowTraffic: CodeDeployHook_after
"""
APPSPEC_JSON = json.dumps({"version": 0.0, "Resources": [], "Hooks": [
    {"BeforeAllowTraffic": "CodeDeployHook_json"}]})


def setup_codedeploy(aws):
    """An application, a deployment group and four deployments of AppSpec revisions."""
    cd = aws.cd
    cd.create_application(applicationName="app", computePlatform="Lambda")
    cd.create_deployment_group(
        applicationName="app", deploymentGroupName="dg",
        serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
        deploymentConfigName="CodeDeployDefault.LambdaAllAtOnce",
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"})

    def deploy(revision):
        return cd.create_deployment(applicationName="app", deploymentGroupName="dg",
                                    revision=revision)["deploymentId"]

    return {
        "yaml": deploy({"revisionType": "AppSpecContent", "appSpecContent": {"content": APPSPEC_YAML}}),
        "json": deploy({"revisionType": "AppSpecContent", "appSpecContent": {"content": APPSPEC_JSON}}),
        "string": deploy({"revisionType": "String", "string": {
            "content": APPSPEC_YAML, "sha256": hashlib.sha256(APPSPEC_YAML.encode()).hexdigest()}}),
        "other": deploy({"revisionType": "AppSpecContent", "appSpecContent": {"content": APPSPEC_YAML}}),
    }


# ---------------------------------------------------------------------------- checks

def test_codedeploy(aws, deployments, check):
    d = deployments
    ctl, cd = aws.ctl, aws.cd
    sha = hashlib.sha256(APPSPEC_YAML.encode()).hexdigest()
    check("deployment ids look like AWS's", all(re.fullmatch(r"d-[A-Z0-9]{9}", x) for x in d.values()), d)

    rev = cd.get_deployment(deploymentId=d["yaml"])["deploymentInfo"]["revision"]
    check("GetDeployment: AppSpecContent revision has sha256 only",
          rev == {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": sha}}, rev)
    rev = cd.batch_get_deployments(deploymentIds=[d["yaml"]])["deploymentsInfo"][0]["revision"]
    check("BatchGetDeployments: same", "content" not in rev["appSpecContent"], rev)
    rev = cd.get_deployment(deploymentId=d["string"])["deploymentInfo"]["revision"]
    check("GetDeployment: String revision returned whole",
          rev == {"revisionType": "String", "string": {"content": APPSPEC_YAML, "sha256": sha}}, rev)

    r = cd.get_application_revision(applicationName="app", revision={
        "revisionType": "AppSpecContent", "appSpecContent": {"sha256": sha}})
    check("GetApplicationRevision returns the AppSpec text",
          r["applicationName"] == "app" and r["revision"] == {
              "revisionType": "AppSpecContent", "appSpecContent": {"content": APPSPEC_YAML, "sha256": sha}}
          and r["revisionInfo"]["deploymentGroups"] == ["dg"] and "registerTime" in r["revisionInfo"], r)
    code = error_of(cd.get_application_revision, applicationName="app", revision={
        "revisionType": "AppSpecContent", "appSpecContent": {"sha256": "0" * 64}})[:2]
    check("GetApplicationRevision unknown revision", code == ("RevisionDoesNotExistException", 400), code)
    code = error_of(cd.get_application_revision, applicationName="nope", revision={
        "revisionType": "AppSpecContent", "appSpecContent": {"sha256": sha}})[:2]
    check("GetApplicationRevision unknown application", code == ("ApplicationDoesNotExistException", 400), code)

    st, events = ctl("GET", "codedeploy/lifecycle-events", params={"deploymentId": d["yaml"]})
    check("lifecycle events from YAML Hooks",
          st == 200 and [(e["lifecycleEvent"], e["hookFunction"], e["status"]) for e in events]
          == [("BeforeAllowTraffic", "CodeDeployHook_x", "Pending"),
              ("AfterAllowTraffic", "CodeDeployHook_after", "Pending")], events)
    ids = [e["lifecycleEventHookExecutionId"] for e in events]
    check("hook execution ids are long, opaque, distinct",
          len(set(ids)) == 2 and all(len(i) > 100 and re.fullmatch(r"[A-Za-z0-9+/=]+", i) for i in ids), ids)
    st, ev = ctl("GET", "codedeploy/lifecycle-events", params={"deploymentId": d["json"]})
    check("lifecycle events from JSON Hooks", [e["hookFunction"] for e in ev] == ["CodeDeployHook_json"], ev)
    st, _ = ctl("GET", "codedeploy/lifecycle-events", params={"deploymentId": "d-NOTTHERE"})
    check("lifecycle events for unknown deployment -> 404", st == 404, st)

    put = cd.put_lifecycle_event_hook_execution_status
    before, after = ids
    e = error_of(put, deploymentId="d-NOTTHERE0", lifecycleEventHookExecutionId=before, status="Succeeded")
    check("report: unknown deployment", e[:3] == ("DeploymentDoesNotExistException", 400,
                                                 "DeploymentDoesNotExistException"), e[:3])
    body = json.loads(requests.post(aws.url + "/", data=json.dumps(
        {"deploymentId": "d-NOTTHERE0", "lifecycleEventHookExecutionId": "x", "status": "Succeeded"}),
        headers={"X-Amz-Target": "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus",
                 "Content-Type": "application/x-amz-json-1.1",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/codedeploy/aws4_request, SignedHeaders=host, Signature=x"},
        timeout=10).text)
    check("error body has JSON 1.1 shape", body.get("__type") == "DeploymentDoesNotExistException"
          and "message" in body, body)
    e = error_of(put, deploymentId=d["yaml"], lifecycleEventHookExecutionId=ids[0][::-1], status="Succeeded")
    check("report: unknown execution id", e[0] == "InvalidLifecycleEventHookExecutionIdException", e[:3])
    e = error_of(put, deploymentId=d["json"], lifecycleEventHookExecutionId=before, status="Succeeded")
    check("report: execution id of another deployment",
          e[0] == "InvalidLifecycleEventHookExecutionIdException", e[:3])
    e = error_of(put, deploymentId=d["yaml"], lifecycleEventHookExecutionId=before, status="Bogus")
    check("report: status outside the enum -> ValidationException", e[:2] == ("ValidationException", 400), e[:3])
    for bad in ("Pending", "InProgress", "Skipped", "Unknown"):
        e = error_of(put, deploymentId=d["yaml"], lifecycleEventHookExecutionId=before, status=bad)
        check(f"report: status {bad} refused",
              e[0] == "InvalidLifecycleEventHookExecutionStatusException", e[:3])
    r = put(deploymentId=d["yaml"], lifecycleEventHookExecutionId=before, status="Succeeded")
    check("report Succeeded accepted", r["lifecycleEventHookExecutionId"] == before, r)
    e = error_of(put, deploymentId=d["yaml"], lifecycleEventHookExecutionId=before, status="Succeeded")
    check("second report -> LifecycleEventAlreadyCompletedException",
          e[0] == "LifecycleEventAlreadyCompletedException", e[:3])
    e = error_of(put, deploymentId=d["yaml"], lifecycleEventHookExecutionId=before, status="Failed")
    check("second report (other status) refused too", e[0] == "LifecycleEventAlreadyCompletedException", e[:3])
    put(deploymentId=d["yaml"], lifecycleEventHookExecutionId=after, status="Failed")
    _, events = ctl("GET", "codedeploy/lifecycle-events", params={"deploymentId": d["yaml"]})
    check("lifecycle events show reported statuses",
          [e["status"] for e in events] == ["Succeeded", "Failed"], events)
    _, reports = ctl("GET", "codedeploy/hook-reports", params={"deploymentId": d["yaml"]})
    got = [(r["status"], r["accepted"], r["error"]) for r in reports]
    want = [("Succeeded", False, "InvalidLifecycleEventHookExecutionIdException"),
            ("Bogus", False, "ValidationException")] + [
        (s, False, "InvalidLifecycleEventHookExecutionStatusException")
        for s in ("Pending", "InProgress", "Skipped", "Unknown")] + [
        ("Succeeded", True, None), ("Succeeded", False, "LifecycleEventAlreadyCompletedException"),
        ("Failed", False, "LifecycleEventAlreadyCompletedException"), ("Failed", True, None)]
    check("hook reports recorded in order", got == want, got)
    check("hook reports carry execution ids",
          reports[-1]["lifecycleEventHookExecutionId"] == after, reports[-1])

    # Fault injection, matched on the deployment id so parallel tests don't collide.
    _, other = ctl("GET", "codedeploy/lifecycle-events", params={"deploymentId": d["other"]})
    _, js = ctl("GET", "codedeploy/lifecycle-events", params={"deploymentId": d["json"]})
    st, _ = ctl("POST", "faults", json={
        "target": "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus",
        "match": d["other"], "count": 2, "status": 500, "code": "InternalFailure", "message": "injected"})
    check("fault registered", st == 200)
    r = put(deploymentId=d["json"], lifecycleEventHookExecutionId=js[0]["lifecycleEventHookExecutionId"],
            status="Succeeded")
    check("fault does not hit a non-matching request", "lifecycleEventHookExecutionId" in r)
    x = other[0]["lifecycleEventHookExecutionId"]
    e1 = error_of(put, deploymentId=d["other"], lifecycleEventHookExecutionId=x, status="Succeeded")
    e2 = error_of(put, deploymentId=d["other"], lifecycleEventHookExecutionId=x, status="Succeeded")
    check("fault hits the matching request twice",
          e1[:3] == e2[:3] == ("InternalFailure", 500, "InternalFailure")
          and e1[3]["Error"]["Message"] == "injected", (e1[:3], e2[:3]))
    r = put(deploymentId=d["other"], lifecycleEventHookExecutionId=x, status="Succeeded")
    check("third request goes through", r["lifecycleEventHookExecutionId"] == x)
    _, reports = ctl("GET", "codedeploy/hook-reports", params={"deploymentId": d["other"]})
    check("injected faults recorded as rejected reports",
          [(r["accepted"], r["error"]) for r in reports]
          == [(False, "InternalFailure"), (False, "InternalFailure"), (True, None)], reports)
    retrying = boto3.client("codedeploy", **{**aws.kw, "config": Config(retries={"mode": "standard",
                                                                             "total_max_attempts": 3})})
    ctl("POST", "faults", json={"target": "CodeDeploy_20141006.GetDeployment", "match": d["json"],
                                "count": 1, "status": 503, "code": "ThrottlingException"})
    r = retrying.get_deployment(deploymentId=d["json"])
    check("SDK retries past an injected throttle", r["ResponseMetadata"]["RetryAttempts"] == 1,
          r["ResponseMetadata"])
    ctl("POST", "faults", json={"target": "CodeDeploy_20141006.GetDeployment", "match": "zzz", "count": 5})
    st, _ = ctl("DELETE", "faults")
    check("DELETE faults clears them", st == 200 and ctl("GET", "faults")[1] == [])

    r = cd.stop_deployment(deploymentId=d["json"])
    status = cd.get_deployment(deploymentId=d["json"])["deploymentInfo"]["status"]
    check("StopDeployment stops", r["status"] == "Succeeded" and status == "Stopped", (r, status))
    e = error_of(cd.stop_deployment, deploymentId=d["json"])
    check("StopDeployment twice", e[0] == "DeploymentAlreadyCompletedException", e[:3])


def test_lambda(aws, fn_arn, check):
    ctl, invoke, lam = aws.ctl, aws.invoke, aws.lam
    st, _ = ctl("POST", "lambda/scripts", json={"function": "fn-sut", "qualifier": "2", "behaviours": [
        {"payload": {"errorMessage": "boom", "errorType": "Panic"}, "functionError": "Unhandled"}]})
    check("script v2 registered", st == 200)
    ctl("POST", "lambda/scripts", json={"function": "fn-sut", "qualifier": "1",
                                        "behaviours": [{"payload": {"statusCode": 200}}]})
    st, _ = ctl("POST", "lambda/scripts", json={"function": "fn-sut"})
    check("script without behaviours refused", st == 400)

    r, body = invoke("fn-sut", "2", {"probe": 1})
    check("v2: FunctionError Unhandled, executed version 2",
          r.get("FunctionError") == "Unhandled" and r["ExecutedVersion"] == "2"
          and body == {"errorMessage": "boom", "errorType": "Panic"}, (r, body))
    r, body = invoke("fn-sut:1")
    check("v1 ('name:1' form): ok", "FunctionError" not in r and r["ExecutedVersion"] == "1"
          and body == {"statusCode": 200}, (r, body))
    r, body = invoke("fn-sut", "live")
    check("alias live resolves to v2", r["ExecutedVersion"] == "2" and r.get("FunctionError") == "Unhandled", r)
    r, body = invoke(fn_arn + ":1")
    check("ARN with qualifier", r["ExecutedVersion"] == "1" and body == {"statusCode": 200}, r)
    r, body = invoke("fn-sut", payload={"echo": True})
    check("unscripted $LATEST falls through to moto with executed version",
          r["StatusCode"] == 200 and r["ExecutedVersion"] == "$LATEST", r)

    ctl("POST", "lambda/scripts", json={"function": "fn-sut", "qualifier": "1", "behaviours": [
        {"throttle": True}, {"payload": "first"}, {"payload": "again"}]})
    e = error_of(lam.invoke, FunctionName="fn-sut", Qualifier="1", Payload=b"{}")
    check("throttle -> 429 TooManyRequestsException",
          e[:3] == ("TooManyRequestsException", 429, "TooManyRequestsException")
          and e[3].get("Reason") == "CallerRateLimitExceeded"
          and e[3]["Error"]["Message"] == "Rate Exceeded.", e[:3] + (e[3],))
    check("then ok", invoke("fn-sut", "1")[1] == "first")
    check("last behaviour repeats", [invoke("fn-sut", "1")[1] for _ in range(3)] == ["again"] * 3)
    retrying = boto3.client("lambda", **{**aws.kw, "config": Config(retries={"mode": "standard",
                                                                         "total_max_attempts": 3})})
    ctl("POST", "lambda/scripts", json={"function": "fn-sut", "qualifier": "1", "behaviours": [
        {"throttle": True}, {"payload": "after retry"}]})
    r = retrying.invoke(FunctionName="fn-sut", Qualifier="1", Payload=b"{}")
    check("SDK retries a throttle", r["Payload"].read() == b'"after retry"'
          and r["ResponseMetadata"]["RetryAttempts"] == 1, r["ResponseMetadata"])

    ctl("POST", "lambda/scripts", json={"function": "fn-sut", "qualifier": "1", "behaviours": [
        {"whenPayload": {"customerId": "alice"}, "payload": "gold"},
        {"whenPayload": {"customerId": "bob"}, "functionError": "Unhandled", "payload": "boom"},
        {"payload": "first other"}, {"payload": "other"}]})
    got = [(r.get("FunctionError"), body) for r, body in (
        invoke("fn-sut", "1", {"customerId": "bob"}), invoke("fn-sut", "1", {"customerId": "x"}),
        invoke("fn-sut", "1", {"customerId": "alice"}), invoke("fn-sut", "1", {"customerId": "x"}),
        invoke("fn-sut", "1", {"customerId": "alice"}), invoke("fn-sut", "1", {}))]
    check("whenPayload picks the behaviour by request payload",
          got == [("Unhandled", "boom"), (None, "first other"), (None, "gold"), (None, "other"),
                  (None, "gold"), (None, "other")], got)
    ctl("POST", "lambda/scripts", json={"function": "fn-sut", "qualifier": "1", "behaviours": [
        {"whenPayload": {"customerId": "alice"}, "payload": "gold"}]})
    r, body = invoke("fn-sut", "1", {"echo": 1})
    check("no matching behaviour falls through to moto", body == {"echo": 1}
          and r["ExecutedVersion"] == "1", (r, body))

    for name, q in (("fn-sut", "9"), ("fn-sut", "nope"), ("no-such-fn", None)):
        kwargs = {"FunctionName": name, "Payload": b"{}", **({"Qualifier": q} if q else {})}
        e = error_of(lam.invoke, **kwargs)
        check(f"unknown {name}:{q} -> 404 ResourceNotFoundException",
              e[:3] == ("ResourceNotFoundException", 404, "ResourceNotFoundException")
              and e[3].get("Type") == "User", e[:3])

    _, calls = ctl("GET", "lambda/invocations", params={"function": "fn-sut"})
    check("invocations recorded in order",
          [(c["qualifier"], c["executedVersion"], c["status"]) for c in calls][:6]
          == [("2", "2", 200), ("1", "1", 200), ("live", "2", 200), ("1", "1", 200),
              (None, "$LATEST", 200), ("1", "1", 429)], calls[:6])
    check("invocation payload recorded", calls[0]["payload"] == {"probe": 1}, calls[0])

    # Lambda (REST) fault injection by "METHOD path" prefix.
    ctl("POST", "faults", json={"target": "POST /2015-03-31/functions/fn-sut/invocations",
                                "match": "Qualifier=2", "count": 1, "status": 500,
                                "code": "ServiceException", "message": "injected"})
    e = error_of(lam.invoke, FunctionName="fn-sut", Qualifier="2", Payload=b"{}")
    check("REST fault on Lambda invoke", e[:3] == ("ServiceException", 500, "ServiceException"), e[:3])
    check("REST fault used up", invoke("fn-sut", "2")[0]["ExecutedVersion"] == "2")

    # Delays sleep outside the global lock: 8 x 300 ms run in parallel (one after another they
    # would take 2,400 ms; the margin is for a loaded 2-core machine).
    ctl("POST", "lambda/scripts", json={"function": "fn-slow", "qualifier": "1",
                                        "behaviours": [{"payload": "slow", "delayMs": 300}]})
    clients = [boto3.client("lambda", **aws.kw) for _ in range(8)]
    took = []

    def one(c):
        t = time.monotonic()
        c.invoke(FunctionName="fn-slow", Qualifier="1", Payload=b"{}")
        took.append(time.monotonic() - t)

    start = time.monotonic()
    threads = [threading.Thread(target=one, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = time.monotonic() - start
    check(f"8 concurrent 300 ms invokes took {total * 1000:.0f} ms (< 1200)",
          len(took) == 8 and min(took) >= 0.3 and total < 1.2, took)


def test_lambda_logging_config(aws, fn_arn, check):
    """LoggingConfig as Lambda answers it: defaults, what CreateFunction and
    UpdateFunctionConfiguration set, in GetFunctionConfiguration and GetFunction."""
    lam = aws.lam
    default = lam.get_function_configuration(FunctionName="fn-sut")["LoggingConfig"]
    check("default LoggingConfig", default == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn-sut"},
          default)
    role = lam.get_function_configuration(FunctionName="fn-sut")["Role"]
    lam.create_function(FunctionName="fn-logged", Runtime="provided.al2023", Role=role,
                        Handler="bootstrap", Code={"ZipFile": zip_bytes()},
                        LoggingConfig={"LogFormat": "JSON", "LogGroup": "/custom/group"})
    given = lam.get_function(FunctionName="fn-logged")["Configuration"]["LoggingConfig"]
    check("LoggingConfig from CreateFunction, JSON levels defaulted",
          given == {"LogFormat": "JSON", "LogGroup": "/custom/group",
                    "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO"}, given)
    lam.update_function_configuration(FunctionName="fn-logged",
                                      LoggingConfig={"ApplicationLogLevel": "WARN"})
    updated = lam.get_function_configuration(FunctionName="fn-logged")["LoggingConfig"]
    check("UpdateFunctionConfiguration changes only what it names",
          updated["ApplicationLogLevel"] == "WARN" and updated["LogGroup"] == "/custom/group", updated)


def test_cloudwatch(aws, check):
    ctl, cloudwatch_client = aws.ctl, aws.cloudwatch_client
    cw = cloudwatch_client("smithy-rpc-v2-cbor")
    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    dims = [{"Name": "FunctionName", "Value": "fn-cw"}, {"Name": "Resource", "Value": "fn-cw:live"},
            {"Name": "ExecutedVersion", "Value": "2"}]
    cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Errors", "Dimensions": dims, "Timestamp": now - datetime.timedelta(minutes=2),
         "Values": [1.0, 2.5], "Counts": [2, 1]},
        {"MetricName": "Errors", "Dimensions": dims, "Timestamp": now - datetime.timedelta(minutes=1),
         "Value": 7}])
    cw.put_metric_data(Namespace="Other", MetricData=[{"MetricName": "Errors", "Dimensions": dims,
                                                       "Timestamp": now, "Value": 100}])

    def get(client, **kwargs):  # dimensions reversed; StartTime 9 s past a minute
        metric = {"Namespace": "AWS/Lambda", "MetricName": "Errors", "Dimensions": dims[::-1]}
        query = {"Id": "e", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}
        r = client.get_metric_data(
            MetricDataQueries=[query], StartTime=now - datetime.timedelta(minutes=5, seconds=-9),
            EndTime=now + datetime.timedelta(minutes=1), ScanBy="TimestampAscending", **kwargs)
        return r, [(int(t.timestamp()), v) for res in r["MetricDataResults"]
                   for t, v in zip(res["Timestamps"], res["Values"])]

    epoch = int(now.timestamp())
    r, points = get(cw)
    check("CBOR: GetMetricData matches dimensions as a set, in its namespace, per rounded minute",
          points == [(epoch - 120, 4.5), (epoch - 60, 7.0)]
          and r["ResponseMetadata"]["HTTPHeaders"].get("smithy-protocol") == "rpc-v2-cbor", (points, r))
    r1, first = get(cw, MaxDatapoints=1)
    r2, second = get(cw, MaxDatapoints=1, NextToken=r1.get("NextToken", ""))
    check("CBOR: GetMetricData pages by MaxDatapoints",
          first + second == points and r1["MetricDataResults"][0]["StatusCode"] == "PartialData"
          and "NextToken" not in r2, (r1, r2))
    check("JSON (boto3's choice): same data", get(cloudwatch_client("json"))[1] == points)

    e = error_of(cw.set_alarm_state, AlarmName="no-such-alarm", StateValue="ALARM", StateReason="x")
    headers = e[3]["ResponseMetadata"]["HTTPHeaders"] if e[3] else {}
    check("CBOR error: status, x-amzn-query-error code", e[:2] == ("ResourceNotFound", 404)
          and headers.get("x-amzn-query-error") == "ResourceNotFound;Sender", e[:3])
    # On a dimension set nothing publishes: the local CloudWatch evaluates alarms on published
    # data, and this one is driven by SetAlarmState alone.
    cw.put_metric_alarm(AlarmName="cw-alarm", Namespace="AWS/Lambda", MetricName="Errors",
                        Dimensions=dims[:1], Statistic="Sum", Period=60, EvaluationPeriods=1,
                        Threshold=0.0, ComparisonOperator="GreaterThanThreshold")
    cw.set_alarm_state(AlarmName="cw-alarm", StateValue="ALARM", StateReason="selftest")
    alarms = cw.describe_alarms(AlarmNamePrefix="cw-")["MetricAlarms"]
    check("CBOR: alarm in ALARM",
          [(a["AlarmName"], a["StateValue"]) for a in alarms] == [("cw-alarm", "ALARM")]
          and isinstance(alarms[0]["StateUpdatedTimestamp"], datetime.datetime), alarms)

    ctl("POST", "faults", json={"target": "GraniteServiceVersion20100801.GetMetricData",
                                "match": "fn-cw", "count": 1, "status": 400, "code": "Throttling"})
    r, retried = get(cloudwatch_client("smithy-rpc-v2-cbor", retries=3))
    check("CBOR fault (Service.Operation target) is a throttle the SDK retries",
          retried == points and r["ResponseMetadata"]["RetryAttempts"] == 1, r["ResponseMetadata"])

    url = aws.url + "/service/GraniteServiceVersion20100801/operation/"
    auth = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/monitoring/"
                             "aws4_request, SignedHeaders=host, Signature=x"}
    bad = (400, "SerializationException")
    for op, body, want in (("NoSuchOperation", b"", (404, "UnknownOperationException")),
                           ("PutMetricData", b"\xa1\x69Namespace", bad),  # truncated CBOR
                           ("PutMetricData", cbor2.dumps({"Namespace": 5}), bad)):  # wrong type
        r = requests.post(url + op, data=body, headers=auth, timeout=10)
        got = (r.status_code, cbor2.loads(r.content).get("__type"), r.headers.get("smithy-protocol"))
        check(f"CBOR {op} {body[:12]!r} -> {want}", got == want + ("rpc-v2-cbor",), got)


def cfn_template(export=None, import_=None, queue="q"):
    resources = {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": queue}}}
    if import_:
        resources["P"] = {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": f"/imp/{queue}", "Type": "String", "Value": {"Fn::ImportValue": import_}}}
    body = {"Resources": resources}
    if export:
        body["Outputs"] = {"O": {"Value": {"Ref": "Q"}, "Export": {"Name": export}}}
    return json.dumps(body)


def test_cloudformation(aws, check):
    ctl, describe, cfn = aws.ctl, aws.describe, aws.cfn
    prot_id = cfn.create_stack(StackName="cf-prot", TemplateBody=cfn_template(queue="cf-prot"),
                           EnableTerminationProtection=True)["StackId"]
    cfn.create_stack(StackName="cf-plain", TemplateBody=cfn_template(queue="cf-plain"))
    check("CreateStack EnableTerminationProtection=true; DescribeStacks by name shows it",
          describe("cf-prot")["EnableTerminationProtection"] is True
          and describe("cf-plain")["EnableTerminationProtection"] is False)
    listed = {s["StackName"]: s.get("EnableTerminationProtection")
              for s in cfn.describe_stacks()["Stacks"]}
    check("DescribeStacks list form carries EnableTerminationProtection too",
          listed.get("cf-prot") is True and listed.get("cf-plain") is False, listed)

    e = error_of(cfn.delete_stack, StackName="cf-prot")
    msg = e[3]["Error"]["Message"] if e[3] else None
    check("DeleteStack under termination protection -> 400 ValidationError",
          e[:2] == ("ValidationError", 400)
          and msg == "Stack [cf-prot] cannot be deleted while TerminationProtection is enabled", (e[:2], msg))
    e = error_of(cfn.delete_stack, StackName=prot_id)
    check("... also by stack id, naming it as given",
          e[:2] == ("ValidationError", 400) and e[3]["Error"]["Message"] == (
              f"Stack [{prot_id}] cannot be deleted while TerminationProtection is enabled"), e[:2])
    check("protected stack stays", describe("cf-prot")["StackStatus"] == "CREATE_COMPLETE")

    e = error_of(cfn.update_termination_protection, StackName="cf-nope", EnableTerminationProtection=True)
    check("UpdateTerminationProtection unknown stack -> ValidationError",
          e[:2] == ("ValidationError", 400)
          and e[3]["Error"]["Message"] == "Stack [cf-nope] does not exist", e[:2])
    r = cfn.update_termination_protection(StackName="cf-prot", EnableTerminationProtection=False)
    stack = describe("cf-prot")
    check("UpdateTerminationProtection returns StackId, clears the flag, leaves LastUpdatedTime",
          r["StackId"] == prot_id and stack["EnableTerminationProtection"] is False
          and "LastUpdatedTime" not in stack, stack)
    r = cfn.update_termination_protection(StackName=prot_id, EnableTerminationProtection=True)
    check("UpdateTerminationProtection by stack id sets it",
          r["StackId"] == prot_id and describe(prot_id)["EnableTerminationProtection"] is True)
    cfn.update_termination_protection(StackName=prot_id, EnableTerminationProtection=False)

    check("no LastUpdatedTime before any update", "LastUpdatedTime" not in describe("cf-plain"))
    cfn.update_stack(StackName="cf-plain", TemplateBody=cfn_template(queue="cf-plain2"))
    first = describe("cf-plain")
    time.sleep(0.01)
    cfn.update_stack(StackName="cf-plain", UsePreviousTemplate=True,
                     Tags=[{"Key": "lifeguard:expires", "Value": "2026-01-01"}])
    second = describe("cf-plain")
    check("UpdateStack sets LastUpdatedTime, each update moves it",
          first["CreationTime"] <= first["LastUpdatedTime"] < second["LastUpdatedTime"]
          and second["StackStatus"] == "UPDATE_COMPLETE", (first, second))

    # Scripted DELETE_FAILED, then a clean retry.
    st, _ = ctl("POST", "cloudformation/delete-failures", json={"reason": "x"})
    check("delete-failures needs stackName", st == 400, st)
    reason = "The following resource(s) failed to delete: [Q]. "
    st, _ = ctl("POST", "cloudformation/delete-failures", json={"stackName": "cf-plain", "reason": reason})
    r = cfn.delete_stack(StackName="cf-plain")
    stack = describe("cf-plain")
    check("scripted failure: DeleteStack 200, stack DELETE_FAILED with reason",
          st == 200 and r["ResponseMetadata"]["HTTPStatusCode"] == 200
          and (stack["StackStatus"], stack.get("StackStatusReason")) == ("DELETE_FAILED", reason), stack)
    events = cfn.describe_stack_events(StackName="cf-plain")["StackEvents"]
    check("DELETE_FAILED event carries the reason",
          (events[0]["ResourceStatus"], events[0].get("ResourceStatusReason")) == ("DELETE_FAILED", reason),
          events[:2])
    e = error_of(cfn.update_stack, StackName="cf-plain", UsePreviousTemplate=True)
    check("UpdateStack refused in DELETE_FAILED", e[:2] == ("ValidationError", 400)
          and "is in DELETE_FAILED state and can not be updated" in e[3]["Error"]["Message"], e[:2])
    check("scripted failure used up", ctl("GET", "cloudformation/delete-failures")[1] == [])
    ctl("POST", "cloudformation/delete-failures", json={"stackName": "cf-never", "reason": "x"})
    st, _ = ctl("DELETE", "cloudformation/delete-failures")
    check("DELETE delete-failures drops what is pending",
          st == 200 and ctl("GET", "cloudformation/delete-failures")[1] == [])
    plain_id = stack["StackId"]
    cfn.delete_stack(StackName="cf-plain")
    e = error_of(cfn.describe_stacks, StackName="cf-plain")
    check("retry deletes it: by name -> ValidationError 'Stack with id X does not exist'",
          e[:2] == ("ValidationError", 400)
          and e[3]["Error"]["Message"] == "Stack with id cf-plain does not exist", e[:2])
    check("by stack id -> DELETE_COMPLETE", describe(plain_id)["StackStatus"] == "DELETE_COMPLETE")
    r = cfn.delete_stack(StackName="cf-plain")
    check("DeleteStack of a gone stack answers 200", r["ResponseMetadata"]["HTTPStatusCode"] == 200)

    # Exports and imports.
    cfn.create_stack(StackName="cf-exp", TemplateBody=cfn_template(export="cf-vpc", queue="cf-exp"))
    cfn.create_stack(StackName="cf-imp", TemplateBody=cfn_template(import_="cf-vpc", queue="cf-imp"))
    exports = [(x["Name"], x["ExportingStackId"].split("/")[1]) for x in cfn.list_exports()["Exports"]]
    check("ListExports", exports == [("cf-vpc", "cf-exp")], exports)
    r = cfn.list_imports(ExportName="cf-vpc")
    check("ListImports names the importing stack", r["Imports"] == ["cf-imp"], r)
    e = error_of(cfn.list_imports, ExportName="cf-nobody")
    check("ListImports of an export nobody imports -> ValidationError",
          e[:2] == ("ValidationError", 400)
          and e[3]["Error"]["Message"] == "Export 'cf-nobody' is not imported by any stack.", e[:2])
    r = cfn.delete_stack(StackName="cf-exp")
    stack = describe("cf-exp")
    check("deleting a stack whose export is imported: 200, the stack stays with the reason",
          r["ResponseMetadata"]["HTTPStatusCode"] == 200 and stack["StackStatus"] == "UPDATE_COMPLETE"
          and stack.get("StackStatusReason")
          == "Export cf-vpc cannot be deleted as it is in use by cf-imp", stack)
    cfn.delete_stack(StackName="cf-imp")
    cfn.delete_stack(StackName="cf-exp")
    e = error_of(cfn.describe_stacks, StackName="cf-exp")
    check("once the importer is gone the exporter deletes", e[0] == "ValidationError"
          and cfn.list_exports()["Exports"] == [], e[:2])

    # DescribeStacks pages of 50 with NextToken, robust to deletions between pages.
    tiny = json.dumps({"Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}})
    for i in range(120):
        cfn.create_stack(StackName=f"cf-many-{i:03d}", TemplateBody=tiny)
    pages = list(cfn.get_paginator("describe_stacks").paginate())
    names = [s["StackName"] for p in pages for s in p["Stacks"]]
    check("DescribeStacks: pages of 50 with NextToken, every stack once",
          [len(p["Stacks"]) for p in pages] == [50, 50, 21] and len(set(names)) == 121
          and "NextToken" not in pages[-1], [len(p["Stacks"]) for p in pages])
    p1 = cfn.describe_stacks()
    cfn.delete_stack(StackName=p1["Stacks"][-1]["StackName"])  # the stack the token points at
    p2 = cfn.describe_stacks(NextToken=p1["NextToken"])
    check("NextToken survives deletion of the stack it points at",
          p2["Stacks"][0]["StackName"] == names[50], p2["Stacks"][0]["StackName"])
    e = error_of(cfn.describe_stacks, NextToken="garbage")
    check("bad NextToken -> ValidationError", e[:2] == ("ValidationError", 400), e[:2])


def test_stack_state(aws, check):
    ctl, describe, cfn = aws.ctl, aws.describe, aws.cfn
    param_tpl = json.dumps({"Parameters": {"P": {"Type": "String"}},
                            "Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}})
    root_id = cfn.create_stack(StackName="st-root", TemplateBody=cfn_template(queue="st-root"))["StackId"]
    mid_id = cfn.create_stack(StackName="st-mid", TemplateBody=param_tpl,
                              Parameters=[{"ParameterKey": "P", "ParameterValue": "a"}])["StackId"]
    cfn.create_stack(StackName="st-leaf", TemplateBody=cfn_template(queue="st-leaf"))

    for body, want in (({"status": "UPDATE_IN_PROGRESS"}, 400),
                       ({"stackName": "st-mid", "status": "BOGUS"}, 400),
                       ({"stackName": "st-mid", "status": "DELETE_COMPLETE"}, 400),
                       ({"stackName": "st-mid", "parentId": "st-mid"}, 400),
                       ({"stackName": "st-mid", "parentId": "st-nope"}, 404)):
        st, answer = ctl("POST", "cloudformation/stack-state", json=body)
        check(f"stack-state {body} -> {want}", st == want and "message" in answer, (st, answer))
    st, answer = ctl("POST", "cloudformation/stack-state", json={"stackName": "st-nope"})
    check("stack-state of an unknown stack -> 404 naming it",
          st == 404 and "st-nope" in answer.get("message", ""), (st, answer))

    st, answer = ctl("POST", "cloudformation/stack-state", json={
        "stackName": "st-mid", "status": "UPDATE_IN_PROGRESS", "parentId": "st-root"})
    check("stack-state sets status and ParentId (given by name, stored as id); RootId = parent",
          st == 200 and answer == {"stackId": mid_id, "stackName": "st-mid",
                                   "status": "UPDATE_IN_PROGRESS", "parentId": root_id,
                                   "rootId": root_id}, (st, answer))
    st, answer = ctl("POST", "cloudformation/stack-state", json={"stackName": "st-leaf",
                                                                 "parentId": mid_id})
    check("a grandchild's RootId is its parent's RootId, its status unchanged",
          (answer.get("parentId"), answer.get("rootId"), answer.get("status"))
          == (mid_id, root_id, "CREATE_COMPLETE"), answer)

    got = {n: (s["StackStatus"], s.get("ParentId"), s.get("RootId"))
           for n in ("st-root", "st-mid", "st-leaf") for s in [describe(n)]}
    want = {"st-root": ("CREATE_COMPLETE", None, None),
            "st-mid": ("UPDATE_IN_PROGRESS", root_id, root_id),
            "st-leaf": ("CREATE_COMPLETE", mid_id, root_id)}
    check("DescribeStacks by name shows StackStatus, ParentId, RootId", got == want, got)
    listed = {s["StackName"]: (s["StackStatus"], s.get("ParentId"), s.get("RootId"))
              for page in cfn.get_paginator("describe_stacks").paginate() for s in page["Stacks"]
              if s["StackName"].startswith("st-")}
    check("DescribeStacks list form too", listed == want, listed)
    summaries = {s["StackName"]: (s["StackStatus"], s.get("ParentId"), s.get("RootId"))
                 for s in cfn.list_stacks()["StackSummaries"] if s["StackName"].startswith("st-")}
    check("ListStacks too", summaries == want, summaries)
    events = cfn.describe_stack_events(StackName="st-mid")["StackEvents"]
    check("a scripted status is a stack event", events[0]["ResourceStatus"] == "UPDATE_IN_PROGRESS",
          events[:1])

    e = error_of(cfn.update_stack, StackName="st-mid", TemplateBody=param_tpl,
                 Parameters=[{"ParameterKey": "P", "ParameterValue": "b"}])
    msg = e[3]["Error"]["Message"] if e[3] else None
    check("UpdateStack refused in UPDATE_IN_PROGRESS", e[:2] == ("ValidationError", 400) and msg
          == f"Stack:{mid_id} is in UPDATE_IN_PROGRESS state and can not be updated.", (e[:2], msg))
    e = error_of(cfn.update_stack, StackName="st-mid", TemplateBody=param_tpl,
                 Parameters=[{"ParameterKey": "P", "ParameterValue": "a"}])
    check("... for its state even with nothing to update", e[0] == "ValidationError"
          and "UPDATE_IN_PROGRESS state" in e[3]["Error"]["Message"], e[3] and e[3]["Error"])
    e = error_of(cfn.delete_stack, StackName="st-mid")
    msg = e[3]["Error"]["Message"] if e[3] else None
    check("DeleteStack refused in UPDATE_IN_PROGRESS", e[:2] == ("ValidationError", 400)
          and msg == "Stack [st-mid] cannot be deleted while in status UPDATE_IN_PROGRESS", (e[:2], msg))
    check("... and the stack stays", describe("st-mid")["StackStatus"] == "UPDATE_IN_PROGRESS")

    st, answer = ctl("POST", "cloudformation/stack-state", json={
        "stackName": mid_id, "status": "UPDATE_COMPLETE", "parentId": None})
    stack = describe("st-mid")
    check("stack-state by id: settled again, parentId null clears ParentId and RootId",
          st == 200 and (stack["StackStatus"], stack.get("ParentId"), stack.get("RootId"))
          == ("UPDATE_COMPLETE", None, None), (st, stack))
    cfn.update_stack(StackName="st-mid", TemplateBody=param_tpl,
                     Parameters=[{"ParameterKey": "P", "ParameterValue": "b"}])
    check("then UpdateStack goes through", describe("st-mid")["StackStatus"] == "UPDATE_COMPLETE")
    st, answer = ctl("POST", "cloudformation/stack-state", json={"stackName": "st-leaf",
                                                                 "rootId": "st-root"})
    check("rootId alone keeps ParentId", (answer.get("parentId"), answer.get("rootId"))
          == (mid_id, root_id), answer)
    st, answer = ctl("POST", "cloudformation/stack-state", json={"stackName": "st-leaf",
                                                                 "status": "UPDATE_ROLLBACK_IN_PROGRESS"})
    e = error_of(cfn.delete_stack, StackName="st-leaf")
    check("DeleteStack refused in UPDATE_ROLLBACK_IN_PROGRESS too",
          e[0] == "ValidationError" and "UPDATE_ROLLBACK_IN_PROGRESS" in e[3]["Error"]["Message"], e[:2])
    ctl("POST", "cloudformation/stack-state", json={"stackName": "st-leaf", "status": "CREATE_IN_PROGRESS"})
    cfn.delete_stack(StackName="st-leaf")  # AWS deletes a stack being created
    check("DeleteStack in CREATE_IN_PROGRESS deletes", error_of(cfn.describe_stacks, StackName="st-leaf")[0]
          == "ValidationError")
    for name in ("st-mid", "st-root"):
        cfn.delete_stack(StackName=name)


def test_request_counts(aws, check):
    ctl, cloudwatch_client = aws.ctl, aws.cloudwatch_client
    cd, lam, cfn = aws.cd, aws.lam, aws.cfn
    st, answer = ctl("DELETE", "requests")
    check("DELETE requests zeroes the counts", st == 200 and ctl("GET", "requests")[1]
          == {"counts": {}, "total": 0}, answer)
    cw_cbor, cw_json = cloudwatch_client("smithy-rpc-v2-cbor"), cloudwatch_client("json")
    cfn.describe_stacks()
    cfn.describe_stacks()
    cd.list_applications()
    lam.list_functions()
    cw_cbor.list_metrics()
    cw_json.list_metrics()
    ctl("POST", "faults", json={"target": "ListExports", "count": 1, "status": 500})
    e = error_of(cfn.list_exports)
    requests.get(aws.url + "/?Action=ListTopics&Version=2010-03-31", timeout=10, headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sns/aws4_request, "
                         "SignedHeaders=host, Signature=x"})
    requests.get(aws.url + "/moto-api/data.json", timeout=10)
    ctl("GET", "faults")
    st, answer = ctl("GET", "requests")
    want = {"cloudformation.DescribeStacks": 2, "codedeploy.ListApplications": 1,
            "lambda.GET /2015-03-31/functions": 1, "monitoring.ListMetrics": 2,
            "cloudformation.ListExports": 1, "sns.ListTopics": 1}
    check("requests counted by service.Operation (awsQuery, awsJson, REST, rpcv2Cbor, query string,"
          " fault-answered); control and moto-api not", st == 200 and e[1] == 500
          and answer == {"counts": want, "total": 8}, answer)
    other = boto3.client("cloudformation", **{**aws.kw, "aws_access_key_id": "AKIDSELFTEST"})
    other.describe_stacks()
    ctl("POST", "faults", json={"target": "DescribeStacks", "match": "AKIDSELFTEST", "count": 1,
                                "status": 400, "code": "Throttling"})
    cfn.describe_stacks()
    e = error_of(other.describe_stacks)
    st, answer = ctl("GET", "requests?accessKey=AKIDSELFTEST")
    check("requests?accessKey= counts only that key's requests; faults match the access key",
          st == 200 and answer == {"counts": {"cloudformation.DescribeStacks": 2}, "total": 2}
          and e[0] == "Throttling", (answer, e))
    ctl("DELETE", "requests")
    check("DELETE requests again zeroes them", ctl("GET", "requests")[1]["total"] == 0)


def test_clear_region(aws, check):
    ctl, describe, cfn = aws.ctl, aws.describe, aws.cfn
    west = boto3.client("cloudformation", **{**aws.kw, "region_name": "eu-west-3"})
    west.create_stack(StackName="cr-one", TemplateBody=cfn_template())
    cfn.create_stack(StackName="cr-east", TemplateBody=cfn_template())
    st, answer = ctl("POST", "cloudformation/clear-region", json={"region": "eu-west-3"})
    names = [s["StackName"] for s in west.describe_stacks()["Stacks"]]
    check("clear-region forgets that region's stacks only", st == 200 and names == []
          and answer["stacksCleared"] >= 1 and describe("cr-east")["StackStatus"] == "CREATE_COMPLETE",
          (st, answer, names))
    check("clear-region without a region -> 400",
          ctl("POST", "cloudformation/clear-region", json={})[0] == 400)


def test_concurrent_writes(aws, check):
    cd = aws.cd
    errors = []

    def create(i):
        try:
            boto3.client("codedeploy", **aws.kw).create_application(
                applicationName=f"par-{i}", computePlatform="Lambda")
        except Exception as e:  # moto unserialised fails with "mutated during iteration"
            errors.append(repr(e))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = cd.list_applications()["applications"]
    check("12 concurrent writes all succeed", not errors and sum(
        n.startswith("par-") for n in names) == 12, errors)


# ---------------------------------------------------------------------------- IAM

ACCOUNT, REGION = "123456789012", "us-east-1"


def refusal(principal_arn, action, resource, explicit=False):
    """AWS's AccessDenied message."""
    why = ("with an explicit deny in an identity-based policy" if explicit
           else f"because no identity-based policy allows the {action} action")
    return (f"User: {principal_arn} is not authorized to perform: {action} on resource: "
            f"{resource} {why}")


def message_of(e):
    return e[3]["Error"]["Message"] if e[3] else None


def test_iam(aws, check):
    ctl = aws.ctl
    st, answer = ctl("POST", "iam/principals", json={"name": "x", "policies": [
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*",
                                                 "Resource": "*", "Principal": "*"}]}]})
    check("IAM: a policy the local AWS cannot evaluate faithfully is refused (400)",
          st == 400 and "Principal" in answer.get("message", ""), (st, answer))


def test_iam_lambda(aws, check):
    ctl, principal, signed_by = aws.ctl, aws.principal, aws.signed_by
    lam, iam = aws.lam, aws.iam
    role = iam.create_role(RoleName="iam-fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    for name, tags in (("iam-tagged", {"guarded-by": "lifeguard"}), ("iam-plain", {})):
        lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=role,
                            Handler="bootstrap", Code={"ZipFile": zip_bytes()}, Tags=tags)
        lam.publish_version(FunctionName=name)
    fn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"
    key, arn = principal(
        "iam-hook",
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": f"{fn}:iam-*:*",
         "Condition": {"StringEquals": {"aws:ResourceTag/guarded-by": "lifeguard"}}},
        {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": f"{fn}:iam-*"})
    check("IAM: principals get an LGIAM access key id and an assumed-role ARN",
          re.fullmatch(r"LGIAM[0-9A-F]{15}", key)
          and arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/iam-hook/iam-hook", (key, arn))
    hook = signed_by("lambda", key)
    r = hook.invoke(FunctionName="iam-tagged", Qualifier="1", Payload=b"{}")
    check("IAM: invoke version 1 of a function carrying the tag the condition wants",
          r["StatusCode"] == 200 and r["ExecutedVersion"] == "1", r["StatusCode"])
    e = error_of(hook.invoke, FunctionName="iam-plain", Qualifier="1", Payload=b"{}")
    want = refusal(arn, "lambda:InvokeFunction", f"{fn}:iam-plain:1")
    check("IAM: ... an untagged one -> 403 AccessDeniedException, AWS's message",
          e[:3] == ("AccessDeniedException", 403, "AccessDeniedException")
          and message_of(e) == want, (e[:3], message_of(e)))
    e = error_of(hook.invoke, FunctionName=f"{fn}:iam-tagged", Payload=b"{}")
    check("IAM: function:<name>:* does not cover the unqualified function (ARN given)",
          message_of(e) == refusal(arn, "lambda:InvokeFunction", f"{fn}:iam-tagged"), e[:2])

    got = hook.get_function(FunctionName="iam-tagged")
    error = got.get("TagsError") or {}
    check("IAM: GetFunction without lambda:ListTags: no Tags, a TagsError",
          "Tags" not in got and error.get("ErrorCode") == "AccessDeniedException"
          and error.get("Message") == refusal(arn, "lambda:ListTags", f"{fn}:iam-tagged"), got)
    reader, _ = principal("iam-reader", {"Effect": "Allow", "Resource": f"{fn}:iam-*",
                                         "Action": ["lambda:GetFunction", "lambda:ListTags"]})
    got = signed_by("lambda", reader).get_function(FunctionName="iam-tagged")
    check("IAM: ... with lambda:ListTags: the Tags",
          got.get("Tags") == {"guarded-by": "lifeguard"} and "TagsError" not in got, got)

    e = error_of(hook.list_functions)
    check("IAM: an operation the local AWS does not map is denied, saying so",
          e[:2] == ("AccessDeniedException", 403)
          and "cannot authorize lambda.ListFunctions" in (message_of(e) or ""), e[:2])
    for other in ("testing", "AKIDUNBOUND"):
        r = signed_by("lambda", other).invoke(FunctionName="iam-plain", Payload=b"{}")
        check(f"IAM: an unbound access key ({other}) is unrestricted", r["StatusCode"] == 200)

    _, denials = ctl("GET", f"iam/denials?accessKey={key}")
    check("IAM: denials lists the refusals of that key, in order",
          [(d["operation"], d["action"], d["resource"]) for d in denials] == [
              ("lambda.Invoke", "lambda:InvokeFunction", f"{fn}:iam-plain:1"),
              ("lambda.Invoke", "lambda:InvokeFunction", f"{fn}:iam-tagged"),
              ("lambda.ListFunctions", None, None)]
          and denials[0]["reason"] == "no identity-based policy allows it", denials)


def test_iam_codedeploy(aws, check):
    ctl, principal, signed_by, cd = aws.ctl, aws.principal, aws.signed_by, aws.cd
    cd.create_application(applicationName="iam-app", computePlatform="Lambda")
    ids = {}
    for group in ("iam-dg", "iam-other"):
        cd.create_deployment_group(
            applicationName="iam-app", deploymentGroupName=group,
            serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/codedeploy",
            deploymentConfigName="CodeDeployDefault.LambdaAllAtOnce",
            deploymentStyle={"deploymentType": "BLUE_GREEN",
                             "deploymentOption": "WITH_TRAFFIC_CONTROL"})
        ids[group] = cd.create_deployment(
            applicationName="iam-app", deploymentGroupName=group, revision={
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": APPSPEC_YAML}})["deploymentId"]
    groups = f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentgroup"
    key, arn = principal("iam-cd", {"Effect": "Allow", "Action": "codedeploy:GetDeployment",
                                    "Resource": f"{groups}:iam-app/iam-dg"})
    client = signed_by("codedeploy", key)
    info = client.get_deployment(deploymentId=ids["iam-dg"])["deploymentInfo"]
    check("IAM: GetDeployment of a deployment of the allowed group",
          info["deploymentGroupName"] == "iam-dg", info)
    e = error_of(client.get_deployment, deploymentId=ids["iam-other"])
    check("IAM: ... of another group -> 400 AccessDeniedException naming that group",
          e[:3] == ("AccessDeniedException", 400, "AccessDeniedException")
          and message_of(e) == refusal(arn, "codedeploy:GetDeployment",
                                       f"{groups}:iam-app/iam-other"), (e[:3], message_of(e)))
    e = error_of(client.get_deployment, deploymentId="d-NOTTHERE0")
    check("IAM: ... of an unknown deployment -> AccessDenied on deploymentgroup:*, not its "
          "existence", message_of(e) == refusal(arn, "codedeploy:GetDeployment", f"{groups}:*"),
          message_of(e))
    _, events = ctl("GET", "codedeploy/lifecycle-events", params={"deploymentId": ids["iam-dg"]})
    execution = events[0]["lifecycleEventHookExecutionId"]
    e = error_of(client.put_lifecycle_event_hook_execution_status, deploymentId=ids["iam-dg"],
                 lifecycleEventHookExecutionId=execution, status="Succeeded")
    _, reports = ctl("GET", "codedeploy/hook-reports", params={"deploymentId": ids["iam-dg"]})
    check("IAM: a refused hook report is recorded as such, the execution stays Pending",
          e[0] == "AccessDeniedException" and [(r["status"], r["accepted"], r["error"],
                                                r.get("denied")) for r in reports]
          == [("Succeeded", False, "AccessDeniedException", True)]
          and ctl("GET", "codedeploy/lifecycle-events", params={"deploymentId": ids["iam-dg"]})
          [1][0]["status"] == "Pending", reports)


def test_iam_cloudformation(aws, check):
    describe, principal, signed_by, cfn = aws.describe, aws.principal, aws.signed_by, aws.cfn
    temporary = [{"Key": "lifeguard:temporary", "Value": "true"}]
    ids = {name: cfn.create_stack(StackName=name, TemplateBody=cfn_template(queue=name),
                                  **({"Tags": temporary} if name != "iam-prod" else {}))["StackId"]
           for name in ("iam-temp", "iam-own", "iam-prod")}
    stacks = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack"
    is_temporary = {"StringEquals": {"aws:ResourceTag/lifeguard:temporary": "true"}}
    key, arn = principal(
        "iam-reaper",
        {"Effect": "Allow", "Action": "cloudformation:DescribeStacks", "Resource": "*"},
        {"Effect": "Allow", "Action": ["cloudformation:DeleteStack", "cloudformation:UpdateStack"],
         "Resource": f"{stacks}/*/*", "Condition": is_temporary},
        {"Sid": "NeverOwnStack", "Effect": "Deny", "Action": "cloudformation:DeleteStack",
         "Resource": ids["iam-own"]})
    reaper = signed_by("cloudformation", key)
    e = error_of(reaper.delete_stack, StackName="iam-prod")
    check("IAM: DeleteStack of a stack without the tag -> 403 AccessDenied on its StackId",
          e[:2] == ("AccessDenied", 403) and message_of(e) == refusal(
              arn, "cloudformation:DeleteStack", ids["iam-prod"]), (e[:2], message_of(e)))
    e = error_of(reaper.delete_stack, StackName="iam-own")
    check("IAM: an explicit Deny beats the Allow",
          e[:2] == ("AccessDenied", 403) and message_of(e) == refusal(
              arn, "cloudformation:DeleteStack", ids["iam-own"], explicit=True), message_of(e))
    reaper.delete_stack(StackName="iam-temp")
    check("IAM: DeleteStack of a tagged stack goes through",
          describe(ids["iam-temp"])["StackStatus"] == "DELETE_COMPLETE")
    e = error_of(reaper.delete_stack, StackName="iam-gone")
    check("IAM: a stack that does not exist is named stack/<name>/*",
          message_of(e) == refusal(arn, "cloudformation:DeleteStack", f"{stacks}/iam-gone/*"),
          message_of(e))

    tags = temporary + [{"Key": "lifeguard:delete-after", "Value": "2026-01-01"}]
    e = error_of(reaper.update_stack, StackName="iam-own", UsePreviousTemplate=True, Tags=tags)
    check("IAM: UpdateStack with Tags is also cloudformation:TagResource",
          message_of(e) == refusal(arn, "cloudformation:TagResource", ids["iam-own"]),
          message_of(e))
    tagger, _ = principal(
        "iam-tagger",
        {"Effect": "Allow", "Action": "cloudformation:UpdateStack", "Resource": f"{stacks}/*/*",
         "Condition": {"StringEquals": {"aws:ResourceTag/lifeguard:temporary": "true",
                                        "aws:RequestTag/lifeguard:temporary": "true"},
                       "ForAllValues:StringLike": {"aws:TagKeys": "lifeguard:*"}}},
        {"Effect": "Allow", "Action": "cloudformation:TagResource", "Resource": f"{stacks}/*/*",
         "Condition": {"StringEquals": {"cloudformation:CreateAction": "UpdateStack"}}})
    signed_by("cloudformation", tagger).update_stack(
        StackName="iam-own", UsePreviousTemplate=True, Tags=tags)
    check("IAM: ... allowed with aws:RequestTag, aws:TagKeys and cloudformation:CreateAction",
          {t["Key"] for t in describe("iam-own")["Tags"]} == {t["Key"] for t in tags})
    e = error_of(signed_by("cloudformation", tagger).update_stack, StackName="iam-own",
                 UsePreviousTemplate=True, Tags=[{"Key": "lifeguard:temporary", "Value": "false"}])
    check("IAM: ... and refused when the request tags do not match the condition",
          e[:2] == ("AccessDenied", 403), e[:2])


def test_iam_data_services(aws, check):
    principal, signed_by, cloudwatch_client = aws.principal, aws.signed_by, aws.cloudwatch_client
    ddb, sns = (boto3.client(s, **aws.kw) for s in ("dynamodb", "sns"))
    for table in ("iam-marks", "iam-other"):
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    topics = [sns.create_topic(Name=name)["TopicArn"] for name in ("iam-notices", "iam-other")]
    cw = cloudwatch_client("smithy-rpc-v2-cbor")
    for alarm in ("iam-alarm", "iam-other"):
        cw.put_metric_alarm(AlarmName=alarm, Namespace="AWS/Lambda", MetricName="Errors",
                            Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=0.0,
                            ComparisonOperator="GreaterThanThreshold")
    alarms = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm"
    key, arn = principal(
        "iam-data",
        {"Effect": "Allow", "Action": ["dynamodb:Scan", "dynamodb:PutItem"],
         "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/iam-marks"},
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": topics[0]},
        {"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms",
         "Resource": f"{alarms}:iam-alarm"})

    table = signed_by("dynamodb", key)
    table.put_item(TableName="iam-marks", Item={"k": {"S": "x"}})
    check("IAM: DynamoDB Scan of the allowed table",
          table.scan(TableName="iam-marks")["Count"] == 1)
    e = error_of(table.scan, TableName="iam-other")
    raw = requests.post(aws.url + "/", timeout=10, data=json.dumps({"TableName": "iam-other"}),
                        headers={"X-Amz-Target": "DynamoDB_20120810.Scan",
                                 "Content-Type": "application/x-amz-json-1.0",
                                 "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20260101/"
                                 f"{REGION}/dynamodb/aws4_request, SignedHeaders=host, "
                                 "Signature=x"}).json()
    check("IAM: DynamoDB -> 400 com.amazonaws.dynamodb.v20120810#AccessDeniedException",
          e[:2] == ("AccessDeniedException", 400)
          and raw.get("__type") == "com.amazonaws.dynamodb.v20120810#AccessDeniedException"
          and message_of(e) == refusal(arn, "dynamodb:Scan", f"arn:aws:dynamodb:{REGION}:"
                                       f"{ACCOUNT}:table/iam-other"), (e[:2], raw))

    notices = signed_by("sns", key)
    notices.publish(TopicArn=topics[0], Message="hi")
    e = error_of(notices.publish, TopicArn=topics[1], Message="hi")
    check("IAM: SNS Publish to another topic -> 403 AuthorizationError",
          e[:2] == ("AuthorizationError", 403)
          and message_of(e) == refusal(arn, "sns:Publish", topics[1]), (e[:2], message_of(e)))

    watcher = cloudwatch_client("smithy-rpc-v2-cbor", access_key=key)
    got = watcher.describe_alarms(AlarmNames=["iam-alarm"])["MetricAlarms"]
    check("IAM: CBOR DescribeAlarms of the allowed alarm", [a["AlarmName"] for a in got]
          == ["iam-alarm"], got)
    e = error_of(watcher.describe_alarms, AlarmNames=["iam-alarm", "iam-other"])
    headers = e[3]["ResponseMetadata"]["HTTPHeaders"] if e[3] else {}
    check("IAM: ... naming another alarm too -> CBOR 403 AccessDenied, x-amzn-query-error",
          e[:2] == ("AccessDenied", 403) and headers.get("x-amzn-query-error")
          == "AccessDenied;Sender" and headers.get("smithy-protocol") == "rpc-v2-cbor"
          and message_of(e) == refusal(arn, "cloudwatch:DescribeAlarms", f"{alarms}:iam-other"),
          (e[:2], headers, message_of(e)))
    e = error_of(watcher.describe_alarms)
    check("IAM: ... naming none authorizes on alarm:*",
          message_of(e) == refusal(arn, "cloudwatch:DescribeAlarms", f"{alarms}:*"), message_of(e))
    e = error_of(cloudwatch_client("json", access_key=key).describe_alarms,
                 AlarmNames=["iam-other"])
    check("IAM: ... JSON CloudWatch too (403 AccessDenied)", e[:2] == ("AccessDenied", 403), e[:2])


def test_iam_role_policies(aws, check):
    ctl, describe, principal, signed_by = aws.ctl, aws.describe, aws.principal, aws.signed_by
    template = os.path.join(aws.models, "iam-role.yaml")
    with open(template, "w") as f:
        f.write("Resources:\n"
                "  Table: {Type: AWS::DynamoDB::Table}\n"
                "  Role:\n"
                "    Type: AWS::IAM::Role\n"
                "    Properties:\n"
                "      Policies:\n"
                "        - PolicyName: p\n"
                "          PolicyDocument:\n"
                "            Version: '2012-10-17'\n"
                "            Statement:\n"
                "              - {Effect: Allow, Action: 'dynamodb:Scan',\n"
                "                 Resource: !GetAtt Table.Arn}\n"
                "              - {Effect: Deny, Action: '*', Resource: !Ref AWS::StackId}\n")
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/iam-marks"
    st, answer = ctl("POST", "iam/role-policies", json={
        "template": template, "role": "Role", "attributes": {"Table.Arn": table},
        "stackName": "iam-own"})
    policy = answer.get("policies", [{}])[0]
    statements = policy.get("document", {}).get("Statement", [])
    check("IAM: role-policies resolves a role's policies (AWS::StackId from the stack here)",
          st == 200 and answer["role"] == "Role" and policy.get("name") == "p"
          and [s["Resource"] for s in statements] == [table, describe("iam-own")["StackId"]],
          (st, answer))
    key, _ = principal("iam-role", *statements)
    check("IAM: ... which bind a principal",
          signed_by("dynamodb", key).scan(TableName="iam-marks")["Count"] == 1)
    st, answer = ctl("POST", "iam/role-policies", json={"template": template, "role": "Role",
                                                         "stackName": "iam-own"})
    check("IAM: role-policies -> 400 naming what does not resolve",
          st == 400 and "Table.Arn" in answer.get("message", ""), (st, answer))


def test_health(aws, check):
    r = requests.get(aws.url + "/_lifeguard/health", timeout=10)
    check("health endpoint answers", r.status_code == 200 and r.json() == {"status": "ok"}, r.text)


def test_reset(aws, check):
    ctl, invoke, cd = aws.ctl, aws.invoke, aws.cd
    principal, signed_by = aws.principal, aws.signed_by
    ctl("POST", "faults", json={"target": "X", "count": 1})
    ctl("POST", "cloudformation/delete-failures", json={"stackName": "X"})
    cd.list_applications()
    key, _ = principal("reset", {"Effect": "Deny", "Action": "*", "Resource": "*"})
    error_of(signed_by("codedeploy", key).list_applications)  # a denial
    requests.post(aws.url + "/moto-api/reset", timeout=10)
    state = [ctl("GET", p)[1] for p in ("faults", "lambda/invocations", "codedeploy/hook-reports",
                                         "cloudformation/delete-failures", "requests",
                                         "iam/denials")]
    check("moto-api reset clears our state", state == [[], [], [], [], {"counts": {}, "total": 0},
                                                       []], state)
    check("... principals too: their keys are unrestricted again",
          "applications" in signed_by("codedeploy", key).list_applications())
    requests.post(aws.url + "/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=10)
    setup_lambda(aws)
    _, body = invoke("fn-sut", "1")
    check("scripts cleared by reset", body != {"statusCode": 200}, body)
