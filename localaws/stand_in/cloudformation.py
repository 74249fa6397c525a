"""CloudFormation as the reaper sees it: AWS's documented behaviour where moto 5.2.5 differs
or lacks it (moto creates and deletes stacks at once, and never nests them).

  * UpdateTerminationProtection (StackId back; "Stack [name] does not exist"; LastUpdatedTime
    untouched); DeleteStack refused with 400 ValidationError "Stack [<name or id as given>]
    cannot be deleted while TerminationProtection is enabled";
  * LastUpdatedTime set by every UpdateStack and executed UPDATE change set;
  * UpdateStack refused outside the settled states (DELETE_FAILED, *_IN_PROGRESS, ...), for
    that before "No updates are to be performed.";
  * DeleteStack refused with 400 ValidationError "Stack [<name or id as given>] cannot be
    deleted while in status <S>" while an update or import runs (UPDATE_*/IMPORT_*
    _IN_PROGRESS);
  * DeleteStack of a stack whose export is imported answers 200 but the stack stays
    (UPDATE_COMPLETE, StackStatusReason "Export X cannot be deleted as it is in use by Y");
    ListImports;
  * a DescribeStacks NextToken that survives deletion of the stack it points at;
  * ListStackResources naming every resource by its logical id and type as the template gives
    them (moto leaves both blank for some types), each with its own ResourceStatus;
  * scripted DELETE_FAILED (control endpoint cloudformation/delete-failures); a scripted
    StackStatus, ParentId and RootId, and resources' statuses (e.g. IMPORT_COMPLETE for a
    resource brought in by an import) (cloudformation/stack-state), which DescribeStacks,
    ListStacks and ListStackResources show; a region's stacks forgotten
    (cloudformation/clear-region).
"""

import base64
import datetime
import json

from botocore.loaders import create_loader
from moto.cloudformation import exceptions as cfn_exceptions
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow

from .state import DELETE_FAILURES, every_backend

CFR = cfn_responses.CloudFormationResponse


def _cfn_error(message):
    return cfn_exceptions.ValidationError(message=message)  # HTTP 400, Code ValidationError


def live_stack(backend, name_or_id):
    """A stack that is not deleted, by name or stack id (ARN), or None."""
    for stack in backend.stacks.values():
        if name_or_id in (stack.name, stack.stack_id) and stack.status != "DELETE_COMPLETE":
            return stack
    return None


def _import_names(stack) -> set:
    """Export names a stack imports: every Fn::ImportValue in its template, resolved as moto
    resolved it at creation (a literal, or e.g. Fn::Sub over its parameters)."""
    names, todo = set(), [getattr(stack, "template_dict", None) or {}]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Fn::ImportValue":
                    try:
                        name = value if isinstance(value, str) else cfn_parsing.clean_json(
                            value, stack.resource_map)
                    except Exception:  # an import name moto cannot resolve: not tracked
                        name = None
                    if isinstance(name, str):
                        names.add(name)
                else:
                    todo.append(value)
        elif isinstance(node, list):
            todo.extend(node)
    return names


def _importers(backend, export_name) -> list[str]:
    """Names of the live stacks importing `export_name`, in creation order."""
    return [s.name for s in backend.stacks.values()
            if s.status != "DELETE_COMPLETE" and export_name in _import_names(s)]


def _set_last_updated(stack):
    stack.last_updated_time = utcnow()  # DescribeStacks' LastUpdatedTime (moto never sets it)


_orig_stack_update = cfn_models.Stack.update


def _stack_update(self, *args, **kwargs):
    _orig_stack_update(self, *args, **kwargs)
    _set_last_updated(self)  # every successful UpdateStack moves LastUpdatedTime
    self.status_reason = None


cfn_models.Stack.update = _stack_update

_orig_execute_change_set = cfn_models.CloudFormationBackend.execute_change_set


def _execute_change_set(self, change_set_name, stack_name=None):
    result = _orig_execute_change_set(self, change_set_name=change_set_name, stack_name=stack_name)
    change_set = self.change_sets.get(change_set_name) or next(
        (c for c in self.change_sets.values() if change_set_name in (c.change_set_id, c.change_set_name)),
        None)
    if change_set is not None and change_set.change_set_type == "UPDATE":
        stack = self.get_stack(change_set.stack_id)
        _set_last_updated(stack)  # an executed UPDATE change set is an update too
    return result


cfn_models.CloudFormationBackend.execute_change_set = _execute_change_set


def _update_termination_protection_response(self):
    name = self._get_param("StackName")
    enable = self._get_bool_param("EnableTerminationProtection")
    if enable is None:
        raise _cfn_error("1 validation error detected: Value null at "
                         "'enableTerminationProtection' failed to satisfy constraint: "
                         "Member must not be null")
    stack = live_stack(self.cloudformation_backend, name)
    if stack is None:
        raise _cfn_error(f"Stack [{name}] does not exist")
    # AWS refuses this on a nested stack (it inherits its root's setting); a ParentId scripted
    # by cloudformation/stack-state does not make it refuse here (AWS's message is not known).
    stack.enable_termination_protection = bool(enable)  # LastUpdatedTime stays, as on AWS
    return ActionResult({"StackId": stack.stack_id})


def _delete_stack_response(self):
    """DeleteStack as AWS: refused (400) under termination protection; otherwise 200 and
    deletion 'happens' at once, unless a scripted failure leaves the stack DELETE_FAILED,
    or one of its exports is imported (the stack stays, UPDATE_COMPLETE, with a reason)."""
    name = self._get_param("StackName")
    backend = self.cloudformation_backend
    stack = live_stack(backend, name)
    if stack is None:  # AWS answers 200 for a stack that does not exist (or is deleted)
        return EmptyResult()
    if stack.enable_termination_protection:
        raise _cfn_error(f"Stack [{name}] cannot be deleted while TerminationProtection is enabled")
    if stack.status in UNDELETABLE:
        raise _cfn_error(f"Stack [{name}] cannot be deleted while in status {stack.status}")
    failure = next((f for f in DELETE_FAILURES
                    if f["stackName"] in (stack.name, stack.stack_id)), None)
    if failure is not None:
        DELETE_FAILURES.remove(failure)
        stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack._add_stack_event("DELETE_FAILED", resource_status_reason=failure["reason"])
        stack.status, stack.status_reason = "DELETE_FAILED", failure["reason"]
        return EmptyResult()
    for export in stack.exports:
        users = [n for n in _importers(backend, export.name) if n != stack.name]
        if users:
            reason = (f"Export {export.name} cannot be deleted as it is in use by "
                      + " and ".join(users))
            stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
            stack._add_stack_event("UPDATE_COMPLETE", resource_status_reason=reason)
            stack.status, stack.status_reason = "UPDATE_COMPLETE", reason
            return EmptyResult()
    stack.status_reason = None
    backend.delete_stack(stack.stack_id)
    return EmptyResult()


def _list_imports_response(self):
    """ListImports (moto lacks it): names of the stacks importing an export, 100 a page."""
    export_name = self._get_param("ExportName")
    names = _importers(self.cloudformation_backend, export_name)
    if not names:
        raise _cfn_error(f"Export '{export_name}' is not imported by any stack.")
    token = self._get_param("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise _cfn_error("Invalid NextToken")
    page = names[start:start + 100]
    answer = {"Imports": page}
    if start + 100 < len(names):
        answer["NextToken"] = str(start + 100)
    return ActionResult(answer)


UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
             "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
# every StackStatus value, and those in which DeleteStack is refused (an update or import is
# running: AWS answers "Stack [x] cannot be deleted while in status UPDATE_IN_PROGRESS")
STACK_STATUSES = create_loader().load_service_model(
    "cloudformation", "service-2")["shapes"]["StackStatus"]["enum"]
UNDELETABLE = {s for s in STACK_STATUSES
               if s.startswith(("UPDATE_", "IMPORT_")) and s.endswith("_IN_PROGRESS")}


def _validate_status(self, stack):
    """UpdateStack is refused outside the settled states (moto checks ROLLBACK_COMPLETE only):
    *_IN_PROGRESS, *_FAILED (DELETE_FAILED included), ROLLBACK_COMPLETE..."""
    if stack.status not in UPDATABLE:
        raise _cfn_error(f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")


_orig_validate_different_update = CFR._validate_different_update


def _validate_different_update(self, incoming_params, stack_body, old_stack):
    """The state comes first: an UpdateStack of a stack in UPDATE_IN_PROGRESS is refused for
    that, even with nothing to change (moto would answer "No updates are to be performed.")."""
    _validate_status(self, old_stack)
    _orig_validate_different_update(self, incoming_params, stack_body, old_stack)


def _describe_stacks_response(self):
    """moto's pages of 50, with a token that survives the deletion of the stack it names
    (moto's is that stack's id, and a deleted one made the next page a 500)."""
    backend = self.cloudformation_backend
    stacks = backend.describe_stacks(self._get_param("StackName"))
    start, token = 0, self._get_param("NextToken")
    if token:
        try:
            last = json.loads(base64.b64decode(token))
            after = datetime.datetime.fromisoformat(last["created"])
        except (ValueError, TypeError, KeyError):
            raise _cfn_error("Invalid NextToken")
        ids = [s.stack_id for s in stacks]
        start = (ids.index(last["id"]) + 1 if last["id"] in ids
                 else next((i for i, s in enumerate(stacks) if s.creation_time > after),
                           len(stacks)))
    page = stacks[start:start + 50]
    answer = {"Stacks": page}
    if start + 50 < len(stacks):
        answer["NextToken"] = base64.b64encode(json.dumps(
            {"id": page[-1].stack_id, "created": page[-1].creation_time.isoformat()}).encode()
        ).decode()
    return ActionResult(answer)


def _list_stack_resources_response(self):
    """Every resource of the stack, named as its template names it (AWS's StackResourceSummary),
    with its scripted status (default CREATE_COMPLETE)."""
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    declared = (stack.template_dict or {}).get("Resources", {})
    statuses = getattr(stack, "resource_statuses", {})
    summaries = []
    for logical_id, resource in stack.resource_map.items():
        summary = {
            "LogicalResourceId": logical_id,
            "ResourceType": declared.get(logical_id, {}).get("Type", ""),
            "ResourceStatus": statuses.get(logical_id, "CREATE_COMPLETE"),
            "LastUpdatedTimestamp": stack.creation_time,
        }
        physical = getattr(resource, "physical_resource_id", None)
        if isinstance(physical, str) and physical:
            summary["PhysicalResourceId"] = physical
        summaries.append(summary)
    return ActionResult({"StackResourceSummaries": summaries})


CFR._validate_status = _validate_status
CFR._validate_different_update = _validate_different_update
CFR.describe_stacks = _describe_stacks_response
CFR.update_termination_protection = _update_termination_protection_response
CFR.delete_stack = _delete_stack_response
CFR.list_imports = _list_imports_response
CFR.list_stack_resources = _list_stack_resources_response


def _find_live_stack(name_or_id, region=None):
    """(backend, stack) of a live stack in any account and `region` (default: any), by name or
    id; or (None, None)."""
    for backend in every_backend(cfn_models.cloudformation_backends):
        if region and backend.region_name != region:
            continue
        stack = live_stack(backend, name_or_id)
        if stack is not None:
            return backend, stack
    return None, None


def set_stack_state(data):
    """Control endpoint cloudformation/stack-state -> (HTTP status, body): see control.py."""
    name, status = data.get("stackName"), data.get("status")
    if not name:
        return 400, {"message": "need 'stackName'"}
    if status is not None and (status not in STACK_STATUSES or status == "DELETE_COMPLETE"):
        return 400, {"message": f"status {status!r} is not a StackStatus this can set "
                                "(DELETE_COMPLETE: use DeleteStack)"}
    backend, stack = _find_live_stack(name, data.get("region"))
    if stack is None:
        return 404, {"message": f"no stack {name}"}
    ids = {}
    for key in ("parentId", "rootId"):
        if data.get(key):  # a stack id (or name) in the same account and region
            other = live_stack(backend, data[key])
            if other is None:
                return 404, {"message": f"no stack {data[key]} (the {key} of {name})"}
            if other is stack:
                return 400, {"message": f"stack {name} cannot be its own {key}"}
            ids[key] = other
    parent, root = ids.get("parentId"), ids.get("rootId")
    if "parentId" in data:  # null or "" makes it a root stack again
        stack.parent_id = parent.stack_id if parent else None
    if root is not None:
        stack.root_id = root.stack_id
    elif parent is not None:  # AWS's RootId: the top-level stack of the tree
        stack.root_id = getattr(parent, "root_id", None) or parent.stack_id
    elif "parentId" in data or "rootId" in data:
        stack.root_id = None
    resource_statuses = data.get("resourceStatuses") or {}
    unknown = set(resource_statuses) - set(stack.resource_map.keys())
    if unknown:
        return 404, {"message": f"stack {name} has no resource {sorted(unknown)}"}
    stack.resource_statuses = {**getattr(stack, "resource_statuses", {}), **resource_statuses}
    if status is not None and status != stack.status:
        stack.status, stack.status_reason = status, None
        stack._add_stack_event(status)
    return 200, {"stackId": stack.stack_id, "stackName": stack.name, "status": stack.status,
                 "parentId": getattr(stack, "parent_id", None),
                 "rootId": getattr(stack, "root_id", None)}


def clear_region(region) -> int:
    """Forgets every stack of `region` in all accounts; how many there were."""
    cleared = 0
    for regions in cfn_models.cloudformation_backends.values():
        if region in regions:
            cleared += len(regions[region].stacks)
            regions[region].reset()
    return cleared
