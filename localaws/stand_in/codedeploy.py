"""CodeDeploy as the hooks see it: what moto 5.2.5 lacks or answers differently from AWS.

  * deployment ids shaped as AWS's ("d-" and 9 upper-case alphanumerics; moto uses a UUID);
  * GetDeployment / BatchGetDeployments return only the sha256 of an AppSpecContent revision,
    never its content (String revisions come back whole);
  * inline revisions are registered with their application, so GetApplicationRevision answers
    the AppSpec text (moto lacks GetApplicationRevision);
  * lifecycle hook executions parsed from the AppSpec's `Hooks` (JSON or YAML), each with an
    opaque execution id as AWS's, read back by the control endpoint
    codedeploy/lifecycle-events;
  * PutLifecycleEventHookExecutionStatus (moto lacks it) with AWS's validation and errors
    (ValidationException, InvalidLifecycleEventHookExecutionId/StatusException,
    LifecycleEventAlreadyCompletedException), every call recorded in order for the control
    endpoint codedeploy/hook-reports, refused ones included;
  * StopDeployment (moto lacks it), and the deployment group's alarm configuration in
    GetDeploymentGroup (moto stores it but answers `{}`);
  * a deployment is InProgress from its creation (moto leaves it Created), as a Lambda
    deployment is until it succeeds, fails or is stopped;
  * traffic shifting, which AWS does on its own clock, driven step by step by the control
    endpoint codedeploy/shift: before each step CodeDeploy's documented alarm monitoring (the
    deployment group's enabled alarms, as the local CloudWatch evaluates them now); an alarm in
    ALARM stops the deployment (errorInformation ALARM_ACTIVE) and, when the group's automatic
    rollback covers DEPLOYMENT_STOP_ON_ALARM, moves the alias back to the current version;
    otherwise the alias's weights move (100 %: the target version alone). The control endpoint
    codedeploy/create-time backdates a deployment, so tests can replay minutes already past.
"""

import base64
import copy
import datetime
import hashlib
import json
import secrets
import string

import yaml
from moto.awslambda import utils as lambda_utils
from moto.codedeploy import models as cd_models
from moto.codedeploy import responses as cd_responses
from moto.codedeploy.exceptions import CodeDeployException
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

from . import cloudwatch
from .calls import json_or_text
from .state import HOOK_REPORTS, every_backend


class CodeDeployError(CodeDeployException):
    """Any CodeDeploy error: HTTP 400, {"__type": code, "message": ...}, x-amzn-ErrorType."""

    code = 400


HOOK_STATUSES = ["Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Unknown"]
REVISION_KEYS = {"AppSpecContent": "appSpecContent", "String": "string"}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _with_sha256(revision):
    """A copy of an inline revision with its sha256 filled in when only content was given."""
    revision = copy.deepcopy(revision) or {}
    body = revision.get(REVISION_KEYS.get(revision.get("revisionType"), ""))
    if isinstance(body, dict) and body.get("content") is not None and not body.get("sha256"):
        body["sha256"] = _sha256(body["content"])
    return revision


def _revision_key(application_name, revision):
    body = _with_sha256(revision).get(REVISION_KEYS.get(revision.get("revisionType"), ""))
    return (application_name, revision.get("revisionType"), (body or {}).get("sha256"))


def _hook_execution_id() -> str:
    # AWS's ids are opaque base64 of an encrypted JSON blob ("eyJlbmNyeXB0ZWREYXRhIjoi...").
    b64 = lambda n: base64.b64encode(secrets.token_bytes(n)).decode()
    blob = {"encryptedData": b64(96), "ivParameterSpec": b64(16), "materialSetSerial": 1}
    return base64.b64encode(json.dumps(blob, separators=(",", ":")).encode()).decode()


def _appspec_hooks(revision) -> list[tuple[str, str]]:
    """(lifecycle event, hook function) pairs from the AppSpec's `Hooks` (JSON or YAML)."""
    body = revision.get(REVISION_KEYS.get(revision.get("revisionType"), "")) or {}
    try:
        spec = yaml.safe_load(body.get("content") or "")  # YAML also parses JSON
    except yaml.YAMLError:
        return []
    hooks = spec.get("Hooks") if isinstance(spec, dict) else None
    entries = [hooks] if isinstance(hooks, dict) else hooks if isinstance(hooks, list) else []
    return [
        (event, fn)
        for entry in entries
        if isinstance(entry, dict)
        for event, fn in entry.items()
        if isinstance(fn, str)  # EC2/on-premises hooks are script lists: not hook functions
    ]


_orig_info_init = cd_models.DeploymentInfo.__init__


def _info_init(self, *args, **kwargs):
    _orig_info_init(self, *args, **kwargs)
    # AWS deployment ids are "d-" and 9 upper-case alphanumerics (moto uses a UUID).
    alphabet = string.ascii_uppercase + string.digits
    self.deployment_id = "d-" + "".join(secrets.choice(alphabet) for _ in range(9))
    self.hook_executions: list[dict] = []  # filled by create_deployment below


cd_models.DeploymentInfo.__init__ = _info_init

_orig_backend_init = cd_models.CodeDeployBackend.__init__


def _backend_init(self, *args, **kwargs):
    _orig_backend_init(self, *args, **kwargs)
    self.revisions: dict[tuple, dict] = {}  # _revision_key -> registered revision


cd_models.CodeDeployBackend.__init__ = _backend_init

_orig_create_deployment = cd_models.CodeDeployBackend.create_deployment


def create_deployment(self, **kwargs):
    """moto's CreateDeployment, plus revision registration and hook executions."""
    kwargs["revision"] = revision = _with_sha256(kwargs.get("revision"))
    deployment = self.deployments[_orig_create_deployment(self, **kwargs)]
    key = _revision_key(deployment.application_name, revision)
    if key[2]:  # an inline revision: AWS registers it with the application
        now = utcnow()
        entry = self.revisions.setdefault(
            key, {"revision": revision, "registerTime": now, "firstUsedTime": now,
                  "deploymentGroups": [], "description": kwargs.get("description")})
        entry["lastUsedTime"] = now
        if deployment.deployment_group_name not in entry["deploymentGroups"]:
            entry["deploymentGroups"].append(deployment.deployment_group_name)
    deployment.hook_executions = [
        {"lifecycleEvent": event, "hookFunction": fn,
         "lifecycleEventHookExecutionId": _hook_execution_id(), "status": "Pending"}
        for event, fn in _appspec_hooks(revision)
    ]
    # A Lambda deployment starts at once (moto leaves it Created): InProgress until it ends.
    deployment.status = "InProgress"
    return deployment.deployment_id


def put_lifecycle_event_hook_execution_status(self, deployment_id, execution_id, status):
    if status is not None and status not in HOOK_STATUSES:  # input validation comes first
        raise CodeDeployError(
            "ValidationException",
            f"1 validation error detected: Value '{status}' at 'status' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(HOOK_STATUSES)}]")
    if not deployment_id:
        raise CodeDeployError("DeploymentIdRequiredException", "Deployment ID is required.")
    deployment = self.get_deployment(deployment_id)  # DeploymentDoesNotExistException
    hook = next((h for h in deployment.hook_executions
                 if h["lifecycleEventHookExecutionId"] == execution_id), None)
    if hook is None:
        raise CodeDeployError(
            "InvalidLifecycleEventHookExecutionIdException",
            f"A lifecycle event hook execution with ID {execution_id} does not exist "
            f"for deployment {deployment_id}.")
    if status not in ("Succeeded", "Failed"):
        raise CodeDeployError(
            "InvalidLifecycleEventHookExecutionStatusException",
            f"The status {status} is not valid: only Succeeded or Failed can be reported.")
    if hook["status"] != "Pending":
        raise CodeDeployError(
            "LifecycleEventAlreadyCompletedException",
            f"The lifecycle event hook execution {execution_id} is already {hook['status']}.")
    hook["status"] = status
    return execution_id


def get_application_revision(self, application_name, revision):
    if not application_name:
        raise CodeDeployError("ApplicationNameRequiredException",
                              "The minimum number of required application names was not specified.")
    self.get_application(application_name)  # ApplicationDoesNotExistException
    if not revision:
        raise CodeDeployError("RevisionRequiredException", "The revision ID was not specified.")
    entry = self.revisions.get(_revision_key(application_name, revision))
    if entry is None:
        raise CodeDeployError(
            "RevisionDoesNotExistException",
            f"No application revision found for revision {json.dumps(revision)}")
    return entry


def stop_deployment(self, deployment_id):
    deployment = self.get_deployment(deployment_id)
    if deployment.status in ("Succeeded", "Failed", "Stopped"):
        raise CodeDeployError("DeploymentAlreadyCompletedException",
                              f"The deployment {deployment_id} has already completed.")
    deployment.status, deployment.complete_time = "Stopped", utcnow()


cd_models.CodeDeployBackend.create_deployment = create_deployment
cd_models.CodeDeployBackend.put_lifecycle_event_hook_execution_status = (
    put_lifecycle_event_hook_execution_status)
cd_models.CodeDeployBackend.get_application_revision = get_application_revision
cd_models.CodeDeployBackend.stop_deployment = stop_deployment

_orig_deployment_info = cd_responses._deployment_info


def _deployment_info(deployment):
    """GetDeployment / BatchGetDeployments: AWS returns an AppSpecContent revision's
    sha256 only, never its content (String revisions come back whole); a deployment stopped on
    an alarm carries its errorInformation and rollbackInfo."""
    info = _orig_deployment_info(deployment)
    for key, attribute in (("errorInformation", "error_information"), ("rollbackInfo", "rollback_info")):
        if getattr(deployment, attribute, None):
            info[key] = getattr(deployment, attribute)
    revision = info.get("revision") or {}
    if revision.get("revisionType") == "AppSpecContent":
        sha = (revision.get("appSpecContent") or {}).get("sha256")
        info["revision"] = {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": sha}}
    return info


cd_responses._deployment_info = _deployment_info


def _put_hook_status_response(self):
    report = {"deploymentId": self._get_param("deploymentId"),
              "lifecycleEventHookExecutionId": self._get_param("lifecycleEventHookExecutionId"),
              "status": self._get_param("status"), "accepted": False, "error": None}
    HOOK_REPORTS.append(report)  # recorded whether accepted or not
    try:
        execution_id = self.codedeploy_backend.put_lifecycle_event_hook_execution_status(
            report["deploymentId"], report["lifecycleEventHookExecutionId"], report["status"])
    except JsonRESTError as err:
        report["error"] = err.error_type
        raise
    report["accepted"] = True
    return ActionResult({"lifecycleEventHookExecutionId": execution_id})


def _get_application_revision_response(self):
    name = self._get_param("applicationName")
    entry = self.codedeploy_backend.get_application_revision(name, self._get_param("revision"))
    info = {k: v for k, v in entry.items() if k != "revision" and v is not None}
    return ActionResult({"applicationName": name, "revision": entry["revision"],
                         "revisionInfo": info})


def _stop_deployment_response(self):
    self.codedeploy_backend.stop_deployment(self._get_param("deploymentId"))
    return ActionResult({"status": "Succeeded", "statusMessage": "Deployment stopped."})


_moto_deployment_group_info = cd_responses._deployment_group_info


def _deployment_group_info_with_alarms(deployment_group):
    """moto stores a group's alarm configuration but answers `{}`; AWS returns it."""
    info = _moto_deployment_group_info(deployment_group)
    if deployment_group.alarm_configuration:
        info["alarmConfiguration"] = deployment_group.alarm_configuration
    return info


cd_responses._deployment_group_info = _deployment_group_info_with_alarms

CDR = cd_responses.CodeDeployResponse
CDR.put_lifecycle_event_hook_execution_status = _put_hook_status_response
CDR.get_application_revision = _get_application_revision_response
CDR.stop_deployment = _stop_deployment_response


def find_deployment(deployment_id):
    """A deployment in any account/region (for read-back), or None."""
    for backend in every_backend(cd_models.codedeploy_backends):
        if deployment_id in backend.deployments:
            return backend.deployments[deployment_id]
    return None


def record_refused_hook_report(body: bytes, error: str, refused_by: str):
    """A hook report refused before moto is still a call the hook made; `refused_by` is
    "injected" (a fault) or "denied" (IAM enforcement), set true in the record."""
    sent = json_or_text(body) if body else {}
    sent = sent if isinstance(sent, dict) else {}
    HOOK_REPORTS.append({
        "deploymentId": sent.get("deploymentId"),
        "lifecycleEventHookExecutionId": sent.get("lifecycleEventHookExecutionId"),
        "status": sent.get("status"), "accepted": False, "error": error, refused_by: True})


def _appspec_target(revision):
    """(function, alias, current version, target version) of the AppSpec's one Lambda resource."""
    body = revision.get(REVISION_KEYS.get(revision.get("revisionType"), "")) or {}
    spec = yaml.safe_load(body.get("content") or "") or {}
    (resource,) = spec["Resources"]
    (properties,) = [r["Properties"] for r in resource.values()]
    return (properties["Name"], properties["Alias"], str(properties.get("CurrentVersion", "")),
            str(properties["TargetVersion"]))


def _find_with_backend(deployment_id):
    for backend in every_backend(cd_models.codedeploy_backends):
        if deployment_id in backend.deployments:
            return backend, backend.deployments[deployment_id]
    raise KeyError(deployment_id)


def set_create_time(deployment_id, create_time):
    """Backdates a deployment (createTime, an ISO 8601 UTC instant) for tests replaying time."""
    _, deployment = _find_with_backend(deployment_id)
    moment = datetime.datetime.fromisoformat(create_time.replace("Z", "+00:00"))
    deployment.create_time = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return {"deploymentId": deployment_id, "createTime": deployment.create_time.isoformat() + "Z"}


def shift_traffic(deployment_id, percent):
    """One traffic-shifting step of a Lambda deployment to `percent` % of the alias's traffic on
    the target version, after CodeDeploy's alarm check (see the module docstring). Returns the
    deployment's status, the alarms found in ALARM and where the alias points."""
    backend, deployment = _find_with_backend(deployment_id)
    if deployment.status != "InProgress":
        return {"status": deployment.status, "alarms": [], "percent": None}
    group = backend.deployment_groups[deployment.application_name][deployment.deployment_group_name]
    function, alias, current, target = _appspec_target(deployment.revision)
    # moto's Lambda backend as its responses pick it (the "simple" one without Docker).
    functions = lambda_utils.get_backend(backend.account_id, backend.region_name)
    config = group.alarm_configuration or {}
    names = [a["name"] for a in config.get("alarms", [])] if config.get("enabled") else []
    watch = cloudwatch.cw_models.cloudwatch_backends[backend.account_id][backend.region_name]
    in_alarm = [a.name for a in cloudwatch.current_alarms(watch, names) if a.state_value == "ALARM"]
    if in_alarm:
        deployment.status, deployment.complete_time = "Stopped", utcnow()
        deployment.error_information = {
            "code": "ALARM_ACTIVE",
            "message": f"One or more alarms have been activated: {', '.join(in_alarm)}"}
        rollback = group.auto_rollback_configuration or {}
        if rollback.get("enabled") and "DEPLOYMENT_STOP_ON_ALARM" in rollback.get("events", []):
            functions.update_alias(alias, function, current or target, None, {})
            deployment.rollback_info = {"rollbackMessage": "Stopped on alarm; rolled back"}
        return {"status": deployment.status, "alarms": in_alarm, "percent": None}
    if percent >= 100:
        functions.update_alias(alias, function, target, None, {})
    else:
        functions.update_alias(alias, function, current or target, None,
                               {"AdditionalVersionWeights": {target: percent / 100}})
    return {"status": deployment.status, "alarms": [], "percent": percent}
