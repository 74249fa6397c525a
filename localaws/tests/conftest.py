"""Fixtures of the local AWS's tests.

The unit tests (test_iam_policy, test_roles, test_authorization) need none of these and no
server. The self-test (test_selftest) uses:
  * `aws`: the running stand-in named by AWS_ENDPOINT_URL (./dev test starts it before pytest;
    by hand: `./dev localaws start` with ./dev's local_env), with clients and helpers;
  * `check`: the self-test's named checks. A failed check is recorded and the test goes on with
    its other checks; the test then fails with every failed check's name and detail.
"""

import json
import os
import tempfile
from urllib.parse import urlsplit

import boto3
import botocore.session
import pytest
import requests
from botocore.config import Config

NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
HOW_TO_START = ("start the local AWS with `./dev localaws start` and export "
                "AWS_ENDPOINT_URL=http://127.0.0.1:4599 (./dev's local_env), or run `./dev test`")


# ------------------------------------------------------------------------------------ checks

class Checks:
    """Named checks of one test: check(name, condition, detail shown if it fails)."""

    def __init__(self):
        self.passed, self.failed = 0, []

    def __call__(self, name, cond, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed.append(f"FAIL {name}  -- {detail}")
        print(f"ok   {name}" if cond else self.failed[-1])  # shown by pytest on a failure
        return bool(cond)

    def summary(self):
        """First line: the failed checks' names; then each with its detail."""
        names = "; ".join(f.split("  -- ", 1)[0].removeprefix("FAIL ") for f in self.failed)
        return (f"{len(self.failed)} of {self.passed + len(self.failed)} checks failed: {names}\n"
                + "\n".join(self.failed))


@pytest.fixture
def check():
    return Checks()


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    """A test using `check` fails when one of its checks failed, listing them all."""
    checks = pyfuncitem.funcargs.get("check")
    checks = checks if isinstance(checks, Checks) else None
    try:
        result = yield
    except BaseException as err:  # an unexpected exception: say which checks failed before it
        if checks and checks.failed:
            err.add_note(f"before it, {checks.summary()}")
        raise
    if checks and checks.failed:
        pytest.fail(checks.summary(), pytrace=False)
    return result


# ------------------------------------------------------------------------------- the server

class LocalAws:
    """The running stand-in at `url`: unrestricted clients (iam, lam, cd, cfn), the control API
    (ctl) and helpers. `models` is a scratch directory (CloudWatch client models, templates)."""

    def __init__(self, url, models):
        self.url, self.models = url, models
        self.kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing", config=NO_RETRY)
        self.iam, self.lam, self.cd, self.cfn = (
            self.client(s) for s in ("iam", "lambda", "codedeploy", "cloudformation"))

    def client(self, service, **overrides):
        return boto3.client(service, **{**self.kw, **overrides})

    def ctl(self, method, path, **kwargs):
        """(HTTP status, JSON body) of a control request to /_lifeguard/<path>."""
        r = requests.request(method, self.url + "/_lifeguard/" + path, timeout=10, **kwargs)
        return r.status_code, r.json()

    def reset(self):
        """Forgets everything (moto's state and ours); Lambda without Docker, as localaws.sh."""
        requests.post(self.url + "/moto-api/reset", timeout=10)
        requests.post(self.url + "/moto-api/config", json={"lambda": {"use_docker": False}},
                      timeout=10)

    def invoke(self, name, qualifier=None, payload=None):
        """(Invoke response, its payload decoded) of a synchronous invoke."""
        kwargs = {"FunctionName": name, "Payload": json.dumps(payload or {}).encode()}
        if qualifier:
            kwargs["Qualifier"] = qualifier
        r = self.lam.invoke(**kwargs)
        return r, json_or_raw(r["Payload"].read())

    def describe(self, name):
        return self.cfn.describe_stacks(StackName=name)["Stacks"][0]

    def cloudwatch_client(self, protocol, retries=1, access_key="testing"):
        """A CloudWatch client speaking `protocol` (botocore picks JSON; the Rust SDK
        rpcv2Cbor), from botocore's own model restricted to that protocol, in a data path of
        its own."""
        session = botocore.session.get_session()
        loader = session.get_component("data_loader")
        model = loader.load_service_model("cloudwatch", "service-2")
        model["metadata"]["protocols"] = [protocol]
        path = os.path.join(self.models, protocol)
        os.makedirs(f"{path}/cloudwatch/{model['metadata']['apiVersion']}", exist_ok=True)
        with open(f"{path}/cloudwatch/{model['metadata']['apiVersion']}/service-2.json",
                  "w") as f:
            json.dump(model, f)
        loader.search_paths.insert(0, path)
        config = Config(retries={"mode": "standard", "total_max_attempts": retries})
        return boto3.Session(botocore_session=session).client(
            "cloudwatch", **{**self.kw, "config": config, "aws_access_key_id": access_key})

    def principal(self, name, *statements):
        """(access key id, principal ARN) of a principal bound to one policy of `statements`."""
        st, answer = self.ctl("POST", "iam/principals", json={"name": name, "policies": [
            {"Version": "2012-10-17", "Statement": list(statements)}]})
        assert st == 200, answer
        return answer["accessKeyId"], answer["principalArn"]

    def signed_by(self, service, access_key):
        return self.client(service, aws_access_key_id=access_key)


@pytest.fixture(scope="session")
def aws():
    """The stand-in serving at AWS_ENDPOINT_URL (this machine only: the self-test resets it),
    checked through its health endpoint."""
    url = os.environ.get("AWS_ENDPOINT_URL", "").rstrip("/")
    if not url:
        pytest.fail(f"AWS_ENDPOINT_URL is not set: the self-test needs the local AWS; "
                    f"{HOW_TO_START}", pytrace=False)
    if urlsplit(url).hostname not in LOCAL_HOSTS:
        pytest.fail(f"AWS_ENDPOINT_URL={url} is not this machine; the self-test resets the "
                    "server it talks to, so it only talks to a local one", pytrace=False)
    try:
        health = requests.get(url + "/_lifeguard/health", timeout=10)
        healthy = health.status_code == 200 and health.json() == {"status": "ok"}
    except (requests.RequestException, ValueError) as err:
        healthy, health = False, err
    if not healthy:
        pytest.fail(f"{url} does not answer as the local AWS stand-in ({health}); "
                    f"{HOW_TO_START}", pytrace=False)
    with tempfile.TemporaryDirectory(prefix="selftest-models-") as models:
        yield LocalAws(url, models)


# ----------------------------------------------------------------------------------- helpers

def json_or_raw(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return raw

