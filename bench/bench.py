"""Benchmark figures for the function binaries; run through `./dev bench` (bench/bench.sh builds
the binaries and starts the local AWS first).

    bench.py NAME...     e.g. bench.py pre-traffic loyalty

Per function: local cold start (process start -> first GET .../invocation/next on a stub Lambda
Runtime API), also as a ratio to the floor's (bench/floor: lambda_runtime alone, built the same
way, answering {}; measured in the same run, its cold starts interleaved with the functions'),
peak RSS after serving one real invocation, and the zipped arm64 bootstrap size.
For pre-traffic, also the hook's overhead over its slowest check, with 8 checks against moto.
Prints figures, not verdicts: a missed target does not fail; a measurement that could not be made
does (exit 1).
"""

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
import uuid
import zipfile
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where bench.sh built the host binaries and the arm64 bootstraps.
HOST_RELEASE_DIR = os.path.join(ROOT, os.environ.get("BENCH_HOST_RELEASE_DIR", "target/release"))
LAMBDA_DIR = os.path.join(ROOT, os.environ.get("BENCH_LAMBDA_DIR", "target/lambda"))
AWS_URL = os.environ["AWS_ENDPOINT_URL"]  # set by ./dev's local_env
COLD_RUNS, HOOK_RUNS, CHECKS = 25, 10, 8
# Scripted delays of version 2's answers, 100..800 ms, handed out in order of arrival at the local
# AWS. The stand-in serialises moto under one lock (~3 ms per invoke), which real Lambda does not:
# the slowest answer goes to the first arrival so that queue does not count as hook overhead.
DELAYS_MS = [100 * (CHECKS - i) for i in range(CHECKS)]
# Cold start as a multiple of the floor's, peak RSS (MB), zipped bootstrap (MB), hook overhead (ms).
TARGETS = {"ratio": 1.6, "rss": 10, "zip": 3, "overhead": 25}
# The floor binary (bench/floor): lambda_runtime alone, built with the functions.
FLOOR = "runtime-floor"
MB = 1e6
# CodeDeploy hook binaries and the lifecycle event each serves in the bench's deployments.
HOOKS = {"pre-traffic": "BeforeAllowTraffic", "post-traffic": "AfterAllowTraffic"}


def ms(ns):
    return ns / 1e6


def hook_function(name):
    return f"CodeDeployHook_bench-{name}"


def p90(samples):
    return statistics.quantiles(samples, n=10, method="inclusive")[-1]


# --------------------------------------------------------------------- stub Lambda Runtime API

class RuntimeApi:
    """A local Lambda Runtime API for one function process at a time. Records when the process
    asks for work (GET .../invocation/next) and answers; hands out events given to `deliver`;
    holds the GET otherwise. `reset` forgets everything and releases held GETs."""

    PREFIX = "/2018-06-01/runtime/"

    def __init__(self):
        self.cond = threading.Condition()
        self.reset()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else a keep-alive answer can stall 40 ms (delayed ACK)

            def log_message(self, *args):
                pass

            def do_GET(self):
                arrived = time.monotonic_ns()
                if self.path != api.PREFIX + "invocation/next":
                    return self.answer(404, b'{"errorMessage":"not found"}')
                event = api.wait_for_event(arrived)
                if event is None:  # reset: the process is gone
                    self.close_connection = True
                    return
                request_id, payload = event
                body = json.dumps(payload).encode()
                deadline_ms = int(time.time() * 1000) + 300_000
                with api.cond:
                    api.delivered[request_id] = time.monotonic_ns()
                self.send_response(200)
                for name, value in (("Lambda-Runtime-Aws-Request-Id", request_id),
                                    ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                                    ("Lambda-Runtime-Invoked-Function-Arn",
                                     "arn:aws:lambda:us-east-1:123456789012:function:bench"),
                                    ("Lambda-Runtime-Trace-Id",
                                     "Root=1-00000000-000000000000000000000000"),
                                    ("Content-Type", "application/json"),
                                    ("Content-Length", str(len(body)))):
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                arrived = time.monotonic_ns()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path[len(api.PREFIX):].split("/")  # invocation/<id>/response|error
                with api.cond:
                    if len(parts) == 3 and parts[0] == "invocation":
                        api.results[parts[1]] = (parts[2], arrived, body)
                    else:  # init/error
                        api.results["init"] = (self.path, arrived, body)
                    api.cond.notify_all()
                self.answer(202, b'{"status":"OK"}')

            def answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{server.server_port}"

    def reset(self):
        with self.cond:
            self.generation = getattr(self, "generation", 0) + 1
            self.polls, self.events, self.delivered, self.results = [], [], {}, {}
            self.cond.notify_all()

    def wait_for_event(self, arrived):
        with self.cond:
            generation = self.generation
            self.polls.append(arrived)
            self.cond.notify_all()
            while not self.events and self.generation == generation:
                self.cond.wait()
            return self.events.pop(0) if self.generation == generation else None

    def deliver(self, payload):
        request_id = str(uuid.uuid4())
        with self.cond:
            self.events.append((request_id, payload))
            self.cond.notify_all()
        return request_id

    def wait(self, what, process, timeout=30):
        """Waits until `what()` (called under the lock) is truthy; fails if the process exits."""
        end = time.monotonic() + timeout
        with self.cond:
            while not (found := what()):
                if "init" in self.results:
                    raise RuntimeError(f"init error: {self.results['init'][2].decode()[:500]}")
                if process.poll() is not None:
                    raise RuntimeError(f"process exited with status {process.returncode}"
                                       f" (its output: {HOST_RELEASE_DIR}/bench-*.log)")
                if time.monotonic() > end:
                    raise RuntimeError(f"nothing from the process within {timeout} s")
                self.cond.wait(0.05)
            return found

    def poll_number(self, n, process):
        """Arrival time of the n-th GET .../next (1-based)."""
        return self.wait(lambda: len(self.polls) >= n and self.polls[n - 1], process)

    def result(self, request_id, process):
        """(kind, arrival, body) of the answer to an invocation, plus when it was delivered."""
        kind, arrived, body = self.wait(lambda: self.results.get(request_id), process)
        return kind, self.delivered[request_id], arrived, body


# ------------------------------------------------------------------------ function processes

class Function:
    """One release binary run as a Lambda function under the stub Runtime API."""

    def __init__(self, api, name, function_name=None, **env):
        self.api, self.name = api, name
        self.binary = os.path.join(HOST_RELEASE_DIR, name)
        self.log = open(os.path.join(HOST_RELEASE_DIR, f"bench-{name}.log"), "wb")
        keep = ("PATH", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED")
        self.env = {k: os.environ[k] for k in keep if k in os.environ} | {
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_NAME": function_name or name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL": AWS_URL,
            "LIFEGUARD_CHECKS_FILE": os.path.join(ROOT, "examples", "loyalty", "checks", "checks.yaml"),
        } | env
        self.process = None

    def start(self):
        """Starts a fresh process; returns the monotonic time taken right before the spawn."""
        self.api.reset()
        started = time.monotonic_ns()
        self.process = subprocess.Popen([self.binary], env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        return started

    def invoke(self, payload):
        """Delivers one event to the waiting process: (answer JSON, ns from delivery to answer,
        CPU ns the process spent on the invocation)."""
        polls = max(len(self.api.polls), 1)
        self.api.poll_number(polls, self.process)
        cpu = self.cpu_ns()
        request_id = self.api.deliver(payload)
        kind, delivered, answered, body = self.api.result(request_id, self.process)
        if kind != "response":
            raise RuntimeError(f"invocation {kind}: {body.decode()[:500]}")
        self.api.poll_number(polls + 1, self.process)  # back to idle: bookkeeping done
        return json.loads(body), answered - delivered, self.cpu_ns() - cpu

    def cpu_ns(self):
        """CPU time of all the process's threads so far (schedstat: ns on a CPU)."""
        total, tasks = 0, f"/proc/{self.process.pid}/task"
        for task in os.listdir(tasks):
            try:
                with open(f"{tasks}/{task}/schedstat") as stat:
                    total += int(stat.read().split()[0])
            except FileNotFoundError:  # a thread that just ended
                pass
        return total

    def peak_rss_mb(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        return kb * 1024 / MB

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
        if self.process:
            self.process.wait()
        self.api.reset()  # releases the held GET


def cold_starts(fns):
    """Per function of `fns` (name -> Function): median, p90 and min of process start -> first
    GET .../next (ms) over COLD_RUNS runs, and the median peak RSS (MB) at that point. The runs
    go round-robin over the functions, so a change in the machine's load during the bench weighs
    on all of them alike (and on their ratios to the floor as little as it can)."""
    samples, rss = {name: [] for name in fns}, {name: [] for name in fns}
    for _ in range(COLD_RUNS):
        for name, fn in fns.items():
            started = fn.start()
            try:
                samples[name].append(ms(fn.api.poll_number(1, fn.process) - started))
                rss[name].append(fn.peak_rss_mb())
            finally:
                fn.stop()
    return {name: (statistics.median(samples[name]), p90(samples[name]), min(samples[name]),
                   statistics.median(rss[name])) for name in fns}


def peak_rss_after(fn, payload, accept):
    """VmHWM (MB) of a fresh process after it served `payload`; `accept(answer)` names a problem."""
    fn.start()
    try:
        answer, _, _ = fn.invoke(payload)
        if problem := accept(answer):
            raise RuntimeError(f"unexpected answer ({problem}): {json.dumps(answer)[:500]}")
        return fn.peak_rss_mb()
    finally:
        fn.stop()


def zipped_size(name):
    """(unzipped, zipped) MB of the arm64 bootstrap built by `cargo lambda build`."""
    path = os.path.join(LAMBDA_DIR, name, "bootstrap")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, "bootstrap")
    return os.path.getsize(path) / MB, len(buffer.getvalue()) / MB


# ------------------------------------------------------------------ seeded deployment (moto)

class Seed:
    """A function with versions 1 and 2 behind alias `live`, a CodeDeploy application and group;
    each `deployment()` moves `live` from 1 to 2, naming every hook of HOOKS in its AppSpec.
    Names are unique per bench run, so a local AWS shared with running tests is left alone."""

    def __init__(self):
        run = uuid.uuid4().hex[:8]
        kw = dict(endpoint_url=AWS_URL, region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing", config=Config(retries={"total_max_attempts": 1}))
        self.lam, self.cd = boto3.client("lambda", **kw), boto3.client("codedeploy", **kw)
        self.function, self.app = f"bench-fn-{run}", f"bench-app-{run}"
        role = boto3.client("iam", **kw).create_role(
            RoleName=f"bench-role-{run}", AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": "sts:AssumeRole",
                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("bootstrap", "#!/bin/sh\n")
        self.lam.create_function(FunctionName=self.function, Runtime="provided.al2023", Role=role,
                                 Handler="bootstrap", Code={"ZipFile": code.getvalue()},
                                 Tags={"aws:cloudformation:logical-id": "BenchFunction"})
        self.lam.publish_version(FunctionName=self.function)
        self.lam.update_function_code(FunctionName=self.function, ZipFile=code.getvalue() + b"\0")
        self.lam.publish_version(FunctionName=self.function)
        self.lam.create_alias(FunctionName=self.function, Name="live", FunctionVersion="1")
        self.cd.create_application(applicationName=self.app, computePlatform="Lambda")
        self.cd.create_deployment_group(
            applicationName=self.app, deploymentGroupName="bench",
            serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
            deploymentConfigName="CodeDeployDefault.LambdaAllAtOnce",
            deploymentStyle={"deploymentType": "BLUE_GREEN",
                             "deploymentOption": "WITH_TRAFFIC_CONTROL"})
        self.checks_file = tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="bench-checks-")
        json.dump({"settings": {"maxConcurrency": CHECKS}, "functions": {"BenchFunction": [
            {"name": f"check-{i + 1}", "payload": {"customerId": "alice", "check": i + 1},
             "expect": {"statusCode": 200, "values": {"/body/level": "Gold"}}}
            for i in range(CHECKS)]}}, self.checks_file)  # JSON is YAML
        self.checks_file.flush()

    def deployment(self, hook="pre-traffic"):
        """A fresh deployment, version 2's answers scripted with DELAYS_MS: the event for `hook`."""
        appspec = {"version": 0.0, "Resources": [{"BenchFunction": {
            "Type": "AWS::Lambda::Function", "Properties": {
                "Name": self.function, "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}}}],
            "Hooks": [{event: hook_function(name)} for name, event in HOOKS.items()]}
        deployment_id = self.cd.create_deployment(
            applicationName=self.app, deploymentGroupName="bench",
            revision={"revisionType": "AppSpecContent",
                      "appSpecContent": {"content": json.dumps(appspec)}})["deploymentId"]
        answer = {"statusCode": 200, "body": json.dumps({"level": "Gold", "version": "2"})}
        control("POST", "lambda/scripts", {
            "function": self.function, "qualifier": "2",
            "behaviours": [{"payload": answer, "delayMs": delay} for delay in DELAYS_MS]})
        # After traffic has moved (AfterAllowTraffic) the alias points at the target version.
        self.lam.update_alias(FunctionName=self.function, Name="live",
                              FunctionVersion="2" if HOOKS[hook] == "AfterAllowTraffic" else "1")
        events = control("GET", f"codedeploy/lifecycle-events?deploymentId={deployment_id}")
        execution = next(e for e in events if e["hookFunction"] == hook_function(hook))
        return {"DeploymentId": deployment_id,
                "LifecycleEventHookExecutionId": execution["lifecycleEventHookExecutionId"]}


def control(method, path, data=None):
    request = urllib.request.Request(f"{AWS_URL}/_lifeguard/{path}", method=method,
                                     data=json.dumps(data).encode() if data is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def succeeded(report):
    return None if report.get("verdict") == "Succeeded" else f"verdict {report.get('verdict')}"


def hook_overhead(fn, seed):
    """Per run, a fresh process serves two fresh deployments: the first invocation of a cold
    process, then a warm one. Overhead = delivery -> response minus the slowest check delay."""
    runs = []
    for _ in range(HOOK_RUNS):
        fn.start()
        try:
            for warm in (False, True):
                report, wall_ns, cpu_ns = fn.invoke(seed.deployment())
                if problem := succeeded(report):
                    raise RuntimeError(f"{problem}: {report.get('reason')}")
                checks = [c["durationMs"] for c in report["checks"]]
                runs.append({"warm": warm, "wall": ms(wall_ns), "cpu": ms(cpu_ns),
                             "hook": report["durationMs"],
                             "slowest_check": max(checks), "checks": checks})
        finally:
            fn.stop()
    return runs


def hook_calls_ms(seed, runs=10):
    """Median ms of the 4 sequential calls the hook makes around its checks, made from here over
    plain HTTP, and of an empty control call. The local AWS (werkzeug's dev server) closes every
    connection after one response, so each call, like each of the hook's, opens a new one."""
    host, port = AWS_URL.removeprefix("http://").split(":")
    auth = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{}/aws4_request, Signature=x"

    def codedeploy(action, **body):
        return "POST", "/", json.dumps(body), {
            "X-Amz-Target": f"CodeDeploy_20141006.{action}",
            "Content-Type": "application/x-amz-json-1.1", "Authorization": auth.format("codedeploy")}

    def call(took, request):
        started = time.monotonic_ns()
        connection = HTTPConnection(host, int(port), timeout=10)
        connection.request(*request)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        took.append(ms(time.monotonic_ns() - started))
        if response.status != 200:
            raise RuntimeError(f"{request[:2]} answered {response.status}: {body[:300]}")
        return json.loads(body)

    timings = []  # per run: ms of health, then of each of the 4 calls
    for _ in range(runs):
        event, took = seed.deployment(), []
        deployment_id = event["DeploymentId"]
        call(took, ("GET", "/_lifeguard/health"))
        info = call(took, codedeploy("GetDeployment", deploymentId=deployment_id))
        call(took, codedeploy("GetApplicationRevision", applicationName=seed.app,
                              revision=info["deploymentInfo"]["revision"]))
        call(took, ("GET", f"/2015-03-31/functions/{seed.function}", None,
                    {"Authorization": auth.format("lambda")}))
        call(took, codedeploy("PutLifecycleEventHookExecutionStatus", deploymentId=deployment_id,
                              lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
                              status="Succeeded"))
        timings.append(took)
    return [statistics.median(run[i] for run in timings) for i in range(5)]


# --------------------------------------------------------------------------------- the bench

def reaper_event():
    """events/reaper.json: a scheduled event whose `time` is the run's instant."""
    with open(os.path.join(ROOT, "events", "reaper.json")) as event:
        return json.load(event)


def reaper_ran(report):
    """The reaper runs with Function's environment: no REAPER_* variable, so report mode without
    marks table or topic; it lists the stacks of the local AWS's us-east-1 and changes nothing."""
    if report.get("mode") != "report" or report.get("disabled") is not False:
        return f"mode {report.get('mode')}, disabled {report.get('disabled')}"
    return None if isinstance(report.get("counts"), dict) else "no counts"


# The event each function serves before its peak RSS is read, and how to tell it went well. A
# hook of HOOKS gets a fresh deployment's event; any other function needs its line here.
def events(seed, name):
    if name in HOOKS:
        return lambda: seed.deployment(name), succeeded
    return {
        FLOOR: (lambda: {}, lambda answer: None if answer == {} else "not {}"),
        "loyalty": (lambda: {"customerId": "alice"},
                    lambda answer: None if answer.get("statusCode") == 200 else "statusCode"),
        "reaper": (reaper_event, reaper_ran),
        "canary-judge": (reaper_event, judge_ran),
    }.get(name)


def judge_ran(report):
    """The in-flight judge runs for the bench's CodeDeploy application (set below), judging its
    deployments in progress; its report lists them."""
    return None if isinstance(report.get("deployments"), list) else "no deployments list"


def measure(what, name, failures, step, *args):
    print(f"  {name}: {what} ...", flush=True)
    try:
        return step(*args)
    except Exception as error:  # one failed measurement does not stop the others
        failures.append(f"{name}: {what}: {error}")
        traceback.print_exc()
        return None


def fmt(value, target=None, digits=1):
    if value is None:
        return "n/a"
    mark = "" if target is None else (" met" if value <= target else " MISS")
    return f"{value:.{digits}f}{mark}"


def main(names):
    began, load = time.monotonic(), os.getloadavg()[0]
    api, failures, rows, fns = RuntimeApi(), [], {}, {}
    seed, overhead = Seed(), None
    for name in [FLOOR] + [name for name in names if name != FLOOR]:
        rows[name] = {}
        if not os.path.exists(os.path.join(HOST_RELEASE_DIR, name)):
            failures.append(f"{name}: no release binary {os.path.join(HOST_RELEASE_DIR, name)}")
            continue
        fns[name] = Function(api, name, hook_function(name) if name in HOOKS else None)
    colds = measure(f"cold start x{COLD_RUNS}, interleaved", ", ".join(fns), failures,
                    cold_starts, fns) or {}
    for name, fn in fns.items():
        row = rows[name]
        row["cold"] = colds.get(name)
        if name in HOOKS or name == "canary-judge":  # the bench's deployments and checks
            fn.env["LIFEGUARD_CHECKS_FILE"] = seed.checks_file.name
            fn.env["LIFEGUARD_CODEDEPLOY_APPLICATION"] = seed.app
        if event := events(seed, name):
            make_event, accept = event
            row["rss"] = measure("peak RSS after one invocation", name, failures,
                                 lambda: peak_rss_after(fn, make_event(), accept))
        else:
            failures.append(f"{name}: no bench event: add one to `events` in bench/bench.py")
        row["size"] = measure("zipped arm64 bootstrap", name, failures, zipped_size, name)
        if name == "pre-traffic":
            overhead = measure(f"hook overhead, {CHECKS} checks x{HOOK_RUNS} deployments", name,
                               failures, hook_overhead, fn, seed)

    moto = None
    if overhead:
        moto = measure("the hook's 4 calls, made from Python", "local AWS", failures,
                       hook_calls_ms, seed)
    report(rows, overhead, moto)
    builds = [os.environ.get(f"BENCH_{kind}_BUILD_S", "?") for kind in ("HOST", "ARM64")]
    print(f"\nbuilds: host release {builds[0]} s, arm64 release (cargo lambda) {builds[1]} s;"
          f" measurements: {time.monotonic() - began:.0f} s; load average at the start"
          f" {load:.1f} on {os.cpu_count()} CPUs (other work on the machine shows in the timings)")
    if failures:
        print("\nmeasurements that could not be made:\n  " + "\n  ".join(failures))
        return 1
    return 0


def report(rows, overhead, moto):
    t = TARGETS
    floor = rows.get(FLOOR, {}).get("cold")
    print(f"\n{'function':<13} {'cold median ms':>15} {'x floor':>9} {'p90':>6} {'min':>6}"
          f" {'peak RSS MB':>12} {'(at init)':>10} {'zip MB':>10} {'unzipped MB':>12}")
    print(f"{'(target)':<13} {'':>15} {'<= ' + str(t['ratio']):>9} {'':>6} {'':>6}"
          f" {'<= ' + str(t['rss']):>12} {'':>10} {'<= ' + str(t['zip']):>10} {'':>12}")
    for name, row in rows.items():
        cold, rss, size = row.get("cold"), row.get("rss"), row.get("size")
        ratio = cold[0] / floor[0] if cold and floor else None
        ratio_target = None if name == FLOOR else t["ratio"]
        print(f"{name:<13} {fmt(cold and cold[0], None, 2):>15} {fmt(ratio, ratio_target, 2):>9}"
              f" {fmt(cold and cold[1], None, 2):>6} {fmt(cold and cold[2], None, 2):>6}"
              f" {fmt(rss, t['rss']):>12} {fmt(cold and cold[3]):>10}"
              f" {fmt(size and size[1], t['zip'], 2):>10} {fmt(size and size[0], None, 2):>12}")
    print(f"(cold start: {COLD_RUNS} runs per binary, round-robin, spawn -> first GET /next;"
          f" x floor: median / {FLOOR}'s median,\n the floor being lambda_runtime alone built the"
          f" same way (bench/floor); peak RSS: VmHWM after serving one invocation, and at the first"
          f" GET /next;\n zip: arm64 bootstrap, deflated; MB = 10^6 bytes)")
    if not overhead:
        return
    slowest = max(DELAYS_MS)
    print(f"\npre-traffic hook overhead: {CHECKS} checks, version 2 scripted to answer in"
          f" {min(DELAYS_MS)}..{slowest} ms, a fresh deployment per invocation, {HOOK_RUNS} processes.\n"
          f"overhead = event delivered -> response posted, minus {slowest} ms (target <= {t['overhead']} ms)."
          f" Split, from the report's whole-ms durationMs: runtime = outside the hook's own timing;\n"
          f"discovery+tags+report = hook minus its slowest check; hook CPU = all threads. Medians, ms.")
    print(f"  {'':<24} {'overhead':>9} {'min':>6} {'max':>6} | {'runtime':>7}"
          f" {'discovery+tags+report':>21} {'slowest check-delay':>19} | {'hook CPU':>8}")
    for warm, label in ((False, "1st invoke, new process"), (True, "2nd invoke, same process")):
        runs = [r for r in overhead if r["warm"] == warm]
        over = [r["wall"] - slowest for r in runs]
        med = lambda f: statistics.median(f(r) for r in runs)  # noqa: E731
        print(f"  {label:<24} {fmt(statistics.median(over), t['overhead']):>9} {min(over):>6.1f}"
              f" {max(over):>6.1f} | {med(lambda r: r['wall'] - r['hook']):>7.1f}"
              f" {med(lambda r: r['hook'] - r['slowest_check']):>21.1f}"
              f" {med(lambda r: r['slowest_check'] - slowest):>19.1f} | {med(lambda r: r['cpu']):>8.1f}")
    print(f"  per-check durationMs, last run: {overhead[-1]['checks']}")
    if moto:
        health, *calls = moto
        print(f"  the hook's 4 sequential calls, made from Python: {sum(calls):.1f} ms (GetDeployment"
              f" {calls[0]:.1f}, GetApplicationRevision {calls[1]:.1f}, GetFunction {calls[2]:.1f},"
              f" PutLifecycleEventHookExecutionStatus {calls[3]:.1f});\n  an empty call to the local"
              f" AWS (/_lifeguard/health) takes {health:.1f} ms. The local AWS closes every connection"
              f" after one answer: each call opens a new one.")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["pre-traffic", "loyalty"]))
