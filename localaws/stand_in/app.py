"""The WSGI middleware in front of moto's server: one request at a time into moto, our control
endpoints, and on every AWS request counting, IAM enforcement, fault injection and the
protocol translation moto needs, in that order.

  * one global lock (state.LOCK) around every call into moto, which is not thread-safe, while
    scripted Lambda delays sleep outside it;
  * /_lifeguard/... is answered by control.py; /moto-api/... goes to moto, and POST
    /moto-api/reset also clears our state;
  * any other request is counted (faults.count_request), authorized when a bound principal
    signed it (iam.enforcement), answered by a pending injected fault if one matches
    (faults.py), else by moto: CloudWatch's rpcv2Cbor through cloudwatch.cloudwatch_cbor.

Importing this module applies every patch of moto (codedeploy, awslambda, cloudwatch,
cloudformation, dynamodb, sns).
"""

import io
import json
import time

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from . import awslambda, cloudformation, codedeploy, dynamodb, sns  # noqa: F401 (they patch moto on import)
from .calls import request_target
from .cloudwatch import CW_PATH, cloudwatch_cbor
from .codedeploy import record_refused_hook_report
from .control import control
from .faults import count_request, fault_response, take_fault
from .iam.enforcement import authorize, without_tags
from .state import LOCK, clear_state, this_request


class Lifeguard:
    """WSGI middleware in front of moto: control endpoints, faults, one-at-a-time moto."""

    def __init__(self, moto_app):
        self.moto_app = moto_app

    def __call__(self, environ, start_response):
        body = Request(environ).get_data()  # buffer the body: we inspect it, moto reads it
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        this_request.delay_ms = 0

        with LOCK:
            if path.startswith("/_lifeguard/"):
                request = Request(environ)
                data = request.get_json(force=True, silent=True) or {}
                status, payload = control(method, path, request.args, data)
                response = status, {"Content-Type": "application/json"}, json.dumps(payload)
            elif path.startswith("/moto-api/"):
                response = self._call_moto(environ)
                if method == "POST" and path == "/moto-api/reset":
                    clear_state()
            else:
                response = self._serve(environ, body)

        delay_ms = getattr(this_request, "delay_ms", 0)
        this_request.delay_ms = 0
        if delay_ms:
            time.sleep(delay_ms / 1000)  # outside LOCK: concurrent invokes overlap

        status, headers, payload = response
        if isinstance(status, int):
            data = payload.encode("utf-8") if isinstance(payload, str) else payload
            headers = [(k, str(v)) for k, v in headers.items()]
            headers.append(("Content-Length", str(len(data))))
            status = f"{status} {HTTP_STATUS_CODES.get(status, 'Error')}"
            payload = [data]
        start_response(status, headers)
        return payload

    def _serve(self, environ, body):
        """An AWS request: counted, authorized (bound principals only), then answered by an
        injected fault, or by moto."""
        called = request_target(environ, body)
        count_request(environ, called)
        hook_report = called[0] == "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"
        denial, tags_error = authorize(environ, body, called)
        if denial:
            if hook_report:
                record_refused_hook_report(body, "AccessDeniedException", "denied")
            return denial
        if fault := take_fault(environ, body, called):
            if hook_report:
                record_refused_hook_report(body, fault[0]["code"], "injected")
            return fault_response(*fault)
        if environ["REQUEST_METHOD"] == "POST" and environ.get("PATH_INFO", "").startswith(CW_PATH):
            return cloudwatch_cbor(self._call_moto, environ, body)
        response = self._call_moto(environ)
        # lambda:GetFunction by a caller not allowed lambda:ListTags
        return without_tags(response, tags_error) if tags_error else response

    def _call_moto(self, environ):
        """Run moto's app to completion (status line, headers, body chunks)."""
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return written.append  # WSGI's legacy write(); Flask never calls it

        written: list[bytes] = []
        chunks = self.moto_app(environ, capture)
        try:
            body = b"".join(written) + b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        return captured["status"], captured["headers"], [body]


def create_app():
    """The stand-in: Lifeguard around moto's own server app (every service, by host or path)."""
    return Lifeguard(DomainDispatcherApplication(create_backend_app))
