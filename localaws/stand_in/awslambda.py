"""Lambda Invoke as the hooks need it (what moto 5.2.5 answers otherwise or lacks).

  * 404 ResourceNotFoundException for an unknown function, version or alias;
  * X-Amz-Executed-Version on a successful Invoke: "$LATEST", or the published version the
    qualifier (a version or an alias) resolves to;
  * scripted answers per function version, registered by the control endpoint lambda/scripts:
    a payload, a FunctionError, a delay (slept outside the global lock, so concurrent invokes
    overlap) or throttling (429 TooManyRequestsException), optionally chosen by the request
    payload (`whenPayload`); unscripted invokes get moto's answer;
  * every Invoke recorded in order, for the control endpoint lambda/invocations;
  * LoggingConfig, which moto drops: kept from CreateFunction and UpdateFunctionConfiguration and
    answered in every function configuration with Lambda's documented defaults (LogFormat Text,
    LogGroup /aws/lambda/<function name>; JSON format adds ApplicationLogLevel and SystemLogLevel
    INFO).
"""

import json
from urllib.parse import unquote

from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.models import LambdaFunction
from moto.awslambda.responses import LambdaResponse

from .calls import json_or_text
from .state import INVOCATIONS, SCRIPTS, this_request


def lambda_error(status, code, message, **extra):
    """Lambda (REST-JSON) error: x-amzn-ErrorType header, {"Type": "User", "message": ...}."""
    body = json.dumps({**extra, "Type": "User" if status < 500 else "Service",
                       "message": message})
    return status, {"x-amzn-ErrorType": code, "Content-Type": "application/json"}, body


def split_qualifier(name_or_arn, qualifier):
    """('fn', '2') from 'fn', 'fn:2' or an ARN, plus a ?Qualifier= given separately."""
    tail = name_or_arn.split(":function:")[-1]
    name, _, in_name = tail.partition(":")
    return name, in_name or qualifier


_orig_invoke = LambdaResponse.invoke


def invoke(self):
    """Invoke: unknown function/version -> 404; scripted answer if one exists for the
    (function, qualifier) or (function, resolved version); else moto's, plus the header."""
    name_or_arn = unquote(self.path.rsplit("/", 2)[-2])
    query_qualifier = self.querystring.get("Qualifier", [None])[0]
    _, qualifier = split_qualifier(name_or_arn, query_qualifier)
    try:
        fn = self.backend.get_function(name_or_arn, query_qualifier)
    except UnknownFunctionException as err:
        status, headers, body = lambda_error(404, "ResourceNotFoundException", err.message)
        return status, {**headers, "status": status}, body  # moto reads the status from here
    version = str(fn.version)  # "$LATEST" or the published version an alias points to
    script = SCRIPTS.get((fn.function_name, qualifier or "$LATEST")) or SCRIPTS.get(
        (fn.function_name, version))
    sync = self.headers.get("X-Amz-Invocation-Type", "RequestResponse") == "RequestResponse"

    behaviour = _pick_behaviour(script, json_or_text(self.body)) if script and sync else None
    if behaviour:
        this_request.delay_ms = behaviour["delayMs"]
        if behaviour["throttle"]:
            status, headers, body = lambda_error(
                429, "TooManyRequestsException", "Rate Exceeded.",
                Reason="CallerRateLimitExceeded")
        else:
            status, body = 200, json.dumps(behaviour["payload"])
            headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": version}
            if behaviour["functionError"]:
                headers["X-Amz-Function-Error"] = behaviour["functionError"]
    else:
        status, headers, body = _orig_invoke(self)
        if status == 200:
            headers["X-Amz-Executed-Version"] = version

    INVOCATIONS.append({"function": fn.function_name, "qualifier": qualifier,
                        "executedVersion": version, "payload": json_or_text(self.body),
                        "status": status})
    return status, {**headers, "status": status}, body  # moto reads the status from here


LambdaResponse.invoke = invoke


def logging_config(function_name, given):
    """The LoggingConfig Lambda answers for a function configured with `given` (or nothing)."""
    config = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function_name}", **(given or {})}
    if config["LogFormat"] == "JSON":
        config = {"ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", **config}
    return config


_orig_function_init = LambdaFunction.__init__
_orig_get_configuration = LambdaFunction.get_configuration
_orig_update_configuration = LambdaFunction.update_configuration


def function_init(self, account_id, spec, region, version=1):
    _orig_function_init(self, account_id, spec, region, version)
    self.lifeguard_logging_config = spec.get("LoggingConfig")


def get_configuration(self, *args, **kwargs):
    config = _orig_get_configuration(self, *args, **kwargs)
    config["LoggingConfig"] = logging_config(
        self.function_name, getattr(self, "lifeguard_logging_config", None))
    return config


def update_configuration(self, config_updates):
    if "LoggingConfig" in config_updates:
        self.lifeguard_logging_config = {
            **(getattr(self, "lifeguard_logging_config", None) or {}),
            **config_updates["LoggingConfig"]}
    return _orig_update_configuration(self, config_updates)


LambdaFunction.__init__ = function_init
LambdaFunction.get_configuration = get_configuration
LambdaFunction.update_configuration = update_configuration


def _pick_behaviour(script, payload):
    """The first behaviour whose `whenPayload` equals the request payload (it stays); else the
    next one without `whenPayload` (used up in order, the last repeats); else None."""
    for behaviour in script:
        if "whenPayload" in behaviour and behaviour["whenPayload"] == payload:
            return behaviour
    queue = [b for b in script if "whenPayload" not in b]
    if not queue:
        return None
    if len(queue) > 1:
        script.remove(queue[0])
    return queue[0]


def normalize_behaviour(b):
    """A scripted behaviour as registered by lambda/scripts, every field defaulted."""
    behaviour = {"payload": b.get("payload"), "functionError": b.get("functionError") or None,
                 "delayMs": int(b.get("delayMs") or 0), "throttle": bool(b.get("throttle"))}
    if "whenPayload" in b:  # only for requests with this payload (compared as JSON)
        behaviour["whenPayload"] = b["whenPayload"]
    return behaviour

