"""The stand-in's own state (scripts, faults, read-back records, bound principals) and the one
lock around it and moto.

moto is not thread-safe (concurrent writes fail with "dictionary changed size during
iteration"), and werkzeug serves each request on a thread of its own: so every call into moto,
and every read or write of what is below, happens while holding LOCK (see app.Lifeguard). A
scripted Lambda delay is slept after LOCK is released, so concurrent invokes overlap as on AWS.
POST /moto-api/reset clears all of it (clear_state) along with moto's own.
"""

import threading

LOCK = threading.RLock()
SCRIPTS: dict[tuple[str, str], list[dict]] = {}  # (function name, qualifier) -> behaviours
INVOCATIONS: list[dict] = []  # every Invoke, in order
FAULTS: list[dict] = []  # pending injected faults
HOOK_REPORTS: list[dict] = []  # every PutLifecycleEventHookExecutionStatus call, in order
DELETE_FAILURES: list[dict] = []  # scripted CloudFormation DeleteStack failures, one-shot
REQUEST_COUNTS: dict[tuple[str, str], int] = {}  # (access key, "<service>.<Operation>") -> n
PRINCIPALS: dict[str, dict] = {}  # access key id -> {"name", "arn", "policies"} (iam.enforcement)
DENIALS: list[dict] = []  # every request refused by IAM enforcement, in order
this_request = threading.local()  # .delay_ms: set by a scripted invoke, slept outside LOCK


def clear_state() -> None:
    SCRIPTS.clear()
    INVOCATIONS.clear()
    FAULTS.clear()
    HOOK_REPORTS.clear()
    DELETE_FAILURES.clear()
    REQUEST_COUNTS.clear()
    PRINCIPALS.clear()
    DENIALS.clear()


def every_backend(backends):
    """Each region's backend of a moto service, across all accounts."""
    for regions in backends.values():
        yield from regions.values()
