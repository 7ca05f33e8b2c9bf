#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vm_power
short_description: Start, shut down, save or turn off Hyper-V virtual machines and wait for a stable state
version_added: 0.1.0
description:
  - Brings one or several Hyper-V VMs to a power state and waits until the state is reached and stable.
  - Idempotent. A VM already in the requested state is left alone and reported as not changed.
  - Returns the state each VM had before (RV(previous_state), RV(vms[].previous_state)), so that a workflow
    can restore it afterwards, for example start again only the VMs that were running.
  - O(state=stopped) asks the guest to shut down through the Shutdown integration service and turns the VM off
    only when O(force_after_timeout=true) and the shutdown fails or does not finish within O(shutdown_timeout).
  - Refuses to turn off a VM that is merging disks (a removed checkpoint is still being merged), because a power
    loss in the middle of a merge is the situation Microsoft warns about; see O(merge_timeout).
  - VMs are selected by exact name or by Id. Names are compared exactly (case-sensitive, no trimming) and are
    never passed to a wildcard-capable C(-Name) parameter on the host.
author:
  - hyperv.checkpoints contributors (!UNKNOWN)
options:
  vm_name:
    description:
      - Exact name of one VM. Fails when no VM or more than one VM has this name; use O(vm_id) then.
    type: str
  vm_id:
    description:
      - Id (GUID) of one VM.
    type: str
  vm_names:
    description:
      - Exact names of several VMs. They are handled one after the other, in this order.
    type: list
    elements: str
    aliases: [vms]
  vm_ids:
    description:
      - Ids (GUIDs) of several VMs, handled after O(vm_names), in this order.
    type: list
    elements: str
  state:
    description:
      - V(started) runs the VM (C(Start-VM)). A saved VM resumes from its saved state, a paused VM is resumed.
      - V(stopped) shuts the guest down through the Shutdown integration service (C(Stop-VM) without C(-Force),
        C(-TurnOff) or C(-AsJob)), so nothing is turned off by surprise. A VM that is saved or paused has no
        running guest to shut down; it fails unless O(force_after_timeout=true), which turns it off.
      - V(saved) saves the memory state (C(Save-VM)). An Off VM cannot be saved and fails.
      - V(off) turns the VM off (C(Stop-VM -TurnOff)), like pulling the power cord. Unsaved guest data is lost.
    type: str
    required: true
    choices: [started, stopped, saved, "off"]
  shutdown_timeout:
    description:
      - Seconds to wait, after the guest shutdown was requested, for the VM to be Off.
      - C(Stop-VM) itself returns once Hyper-V reports the shutdown as done or failed, so this bounds the wait
        that follows the request; it cannot shorten a shutdown that the host keeps waiting for.
    type: int
    default: 300
  force_after_timeout:
    description:
      - With O(state=stopped), turn the VM off (C(Stop-VM -TurnOff)) when the guest shutdown fails, is not
        possible (integration service disabled or not answering, VM saved or paused) or does not finish within
        O(shutdown_timeout). A warning says why.
      - A VM that is merging disks is never turned off, whatever this option says.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the VM to leave a transitional state (Starting, Stopping, Saving, ...) before acting,
        and for it to reach the target state after a start, a save or a turn-off.
    type: int
    default: 300
  merge_timeout:
    description:
      - When a turn-off is needed and the VM is merging disks, wait up to this many seconds for the merge to end
        before turning it off. V(0) (the default) refuses at once.
    type: int
    default: 0
  poll_interval:
    description:
      - Seconds between two reads of the VM state while waiting. The state counts as stable after two reads in a
        row show it.
    type: float
    default: 2.0
notes:
  - The module never sends C(-Force) or C(-AsJob) with a guest shutdown. With those, Hyper-V answers its own
    "turn the VM off instead?" question with yes when the Shutdown integration service is unavailable.
  - A VM that is busy (backup in progress, checkpoint being created, applied or deleted, export, migration) is
    not touched; the task fails and names the operation.
  - C(Start-VM) on an Off VM with automatic checkpoints enabled and no checkpoint creates an automatic
    checkpoint first (Hyper-V behaviour); C(Stop-VM) removes the VM's parent checkpoint again when it is an
    automatic one.
  - With a VM list, the VMs given by Id are read in one round, and with O(state=stopped) the integration services
    of every running VM are read in one round too, one pipeline per VM, at most O(parallel) at once. The power
    changes themselves are not parallelised; the VMs are handled one after the other. A turn-off is only ever
    decided on a fresh read of the Shutdown integration service of that VM.
  - "Failure rule with a VM list: fail fast. The first VM that fails stops the task; the VMs handled before it are in
    RV(vms), the failed one is named in the message, and the VMs after it, not attempted, are in
    RV(not_attempted). A rerun converges: a VM already in the wanted state is left alone."
seealso:
  - module: hyperv.checkpoints.vm_info
  - module: hyperv.checkpoints.checkpoint_apply
extends_documentation_fragment:
  - hyperv.checkpoints.connection
  - hyperv.checkpoints.batch
  - hyperv.checkpoints._attributes
  - hyperv.checkpoints._attributes.ACTION_GROUP
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the power state of each VM before and after.
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Shut down both guest-cluster members before a group checkpoint
  hyperv.checkpoints.vm_power:
    hyperv_host: hv01.example.com
    vm_names: [sqlclu-a, sqlclu-b]
    state: stopped
    shutdown_timeout: 600
  delegate_to: localhost
  register: power_before

- name: Start again only the VMs that were running
  hyperv.checkpoints.vm_power:
    hyperv_host: hv01.example.com
    vm_id: "{{ item.vm_id }}"
    state: started
  loop: "{{ power_before.vms | selectattr('previous_state', 'equalto', 'Running') | list }}"
  delegate_to: localhost

- name: Stop a VM, turning it off if the guest does not shut down within 2 minutes
  hyperv.checkpoints.vm_power:
    hyperv_host: hv01.example.com
    vm_name: web01
    state: stopped
    shutdown_timeout: 120
    force_after_timeout: true
  delegate_to: localhost

- name: Save a VM's memory state
  hyperv.checkpoints.vm_power:
    hyperv_host: hv01.example.com
    vm_id: 6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f
    state: saved
  delegate_to: localhost

- name: Turn a VM off, waiting up to 10 minutes for a running merge to end first
  hyperv.checkpoints.vm_power:
    hyperv_host: hv01.example.com
    vm_name: lab-scratch
    state: "off"
    merge_timeout: 600
  delegate_to: localhost
"""

RETURN = r"""
vm_id:
  description: Id of the VM when exactly one VM was selected.
  returned: success, one VM selected
  type: str
vm_name:
  description: Name of the VM when exactly one VM was selected.
  returned: success, one VM selected
  type: str
previous_state:
  description: State of the VM before the task (C(Running), C(Off), C(Saved), C(Paused), ...) when exactly one
    VM was selected. Use it to restore the state later.
  returned: success, one VM selected
  type: str
  sample: Running
state:
  description: State of the VM after the task when exactly one VM was selected. In check mode, the predicted state.
  returned: success, one VM selected
  type: str
  sample: "Off"
action:
  description: What was (or in check mode would be) done to the single VM; see RV(vms[].action).
  returned: success, one VM selected
  type: str
not_attempted:
  description: On failure, the selected VMs the task did not touch (C(vm_id) and C(vm_name) each), the ones after
    the failed one, or all of them when reading them failed; empty otherwise.
  returned: always
  type: list
  elements: dict
vms:
  description: One entry per selected VM, in the order they were handled. On failure, the VMs handled so far.
  returned: always
  type: list
  elements: dict
  contains:
    vm_id:
      description: VM Id.
      type: str
    vm_name:
      description: VM name.
      type: str
    previous_state:
      description: State before the task.
      type: str
    state:
      description: State after the task (predicted in check mode).
      type: str
    action:
      description: V(none), V(start), V(shutdown), V(save) or V(turn_off). For a shutdown that fell back to a
        turn-off the value is V(shutdown) and RV(vms[].actions) lists both.
      type: str
    actions:
      description: Every power command sent, in order (empty in check mode and when nothing changed).
      type: list
      elements: str
    changed:
      description: Whether this VM's state was (or would be) changed.
      type: bool
    reason:
      description: Why a turn-off replaced a shutdown, or V(null).
      type: str
"""

from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import HyperVClient, raise_for_result
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import HyperVError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import IntegrationService
from ansible_collections.hyperv.checkpoints.plugins.module_utils._module import (
    HyperVModule,
    validate_guid,
    validate_vm_name,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._parallel import parallel_argument, parallel_problem
from ansible_collections.hyperv.checkpoints.plugins.module_utils._power import (
    ACTION_NONE,
    ACTION_SHUTDOWN,
    TRANSITIONAL_STATES,
    PowerController,
    PowerRefused,
    blocking_reasons,
    is_turn_off,
    plan,
    shutdown_service_usable,
)


def argument_spec():
    return dict(
        vm_name=dict(type="str"),
        vm_id=dict(type="str"),
        vm_names=dict(type="list", elements="str", aliases=["vms"]),
        vm_ids=dict(type="list", elements="str"),
        state=dict(type="str", required=True, choices=["started", "stopped", "saved", "off"]),
        shutdown_timeout=dict(type="int", default=300),
        force_after_timeout=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=300),
        merge_timeout=dict(type="int", default=0),
        poll_interval=dict(type="float", default=2.0),
        parallel=parallel_argument(),
    )


def prefetch_services(client, vms, desired):
    """{vm_id: [IntegrationService]} of the running VMs, read in one round when ``desired`` is stopped.

    A VM whose read failed is left out, so handle_vm reads it itself (and fails there, in order).
    """
    ids = [vm.id for vm in vms if vm.state == "Running"] if desired == "stopped" else []
    if len(ids) < 2:
        return {}
    out = {}
    for vm_id, res in zip(ids, client.run([HyperVClient.list_integration_services_pipeline(v) for v in ids])):
        try:
            out[vm_id] = [IntegrationService.from_plain(o) for o in raise_for_result(res, "listing integration services")]
        except HyperVError:
            continue
    return out


def shutdown_usable(client, vm, prefetched):
    """(usable, reason) for the guest shutdown of ``vm``.

    A prefetched listing is trusted only when it says the shutdown is usable: a turn-off (with
    force_after_timeout) is never decided on data read before the VMs handled earlier in the task.
    """
    services = (prefetched or {}).get(vm.id)
    if services is not None:
        usable, reason = shutdown_service_usable(services)
        if usable:
            return usable, reason
    return shutdown_service_usable(client.list_integration_services(vm.id))


def handle_vm(client, controller, vm, params, check_mode, warn, services=None):
    """Bring one VM to the desired state; returns its result entry (raises on refusal).

    ``services`` is the optional result of prefetch_services.
    """
    desired = params["state"]
    entry = {"vm_id": vm.id, "vm_name": vm.name, "previous_state": vm.state, "state": vm.state,
             "action": ACTION_NONE, "actions": [], "changed": False, "reason": None}
    if (vm.state or "") in TRANSITIONAL_STATES and not check_mode:
        vm = controller.wait_settled(vm.id, params["wait_timeout"])
        entry["previous_state"] = entry["state"] = vm.state
    busy = blocking_reasons(vm)
    target = {"started": "Running", "saved": "Saved"}.get(desired, "Off")
    if busy and vm.state != target:
        raise PowerRefused("the VM is busy: %s" % ", ".join(busy),
                           hint="Wait until the operation has finished; the module does not force a busy VM.")
    usable, reason = True, None
    if desired == "stopped" and vm.state == "Running":
        usable, reason = shutdown_usable(client, vm, services)
    step = plan(vm, desired, usable, reason, params["force_after_timeout"])
    entry["action"] = step["action"]
    entry["reason"] = step["reason"]
    if step["action"] == ACTION_NONE:
        return entry
    if step["reason"]:
        warn("VM '%s' (%s): %s" % (vm.name, vm.id, step["reason"]))
    if is_turn_off(step["action"]) and vm.merging:
        if params["merge_timeout"] <= 0:
            raise PowerRefused(
                "the VM is merging disks and is not turned off during a merge",
                hint="Wait until the merge has finished (checkpoint_info merge_pending), or set merge_timeout to wait "
                     "for it.")
        if check_mode:
            warn("VM '%s' (%s) is merging disks; the task would wait up to %ss for the merge before turning it off"
                 % (vm.name, vm.id, params["merge_timeout"]))
        else:
            vm = client.wait_for_merge(vm.id, params["merge_timeout"], interval=params["poll_interval"])
            # the merge may have changed nothing else, but re-plan on the fresh state
            step = plan(vm, desired, usable, reason, params["force_after_timeout"])
            entry["action"] = step["action"]
            if step["action"] == ACTION_NONE:
                return entry
    entry["changed"] = True
    entry["state"] = step["target"]
    if check_mode:
        return entry
    final, actions, warnings = controller.execute(
        vm, step, params["shutdown_timeout"], params["wait_timeout"], params["force_after_timeout"])
    for text in warnings:
        warn("VM '%s' (%s): %s" % (vm.name, vm.id, text))
        if step["action"] == ACTION_SHUTDOWN:
            entry["reason"] = text
    entry["actions"] = actions
    entry["state"] = final.state
    return entry


def main():
    module = HyperVModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_one_of=[("vm_name", "vm_id", "vm_names", "vm_ids")],
    )
    params = module.params
    vm_names = ([params["vm_name"]] if params["vm_name"] is not None else []) + list(params["vm_names"] or [])
    vm_ids = ([params["vm_id"]] if params["vm_id"] is not None else []) + list(params["vm_ids"] or [])
    problems = module.validation_errors(
        [
            (validate_vm_name, params["vm_name"], "vm_name"),
            (validate_vm_name, params["vm_names"] or [], "vm_names"),
            (validate_guid, params["vm_id"], "vm_id"),
            (validate_guid, params["vm_ids"] or [], "vm_ids"),
        ]
    )
    for option in ("shutdown_timeout", "wait_timeout", "merge_timeout"):
        if params[option] < 0:
            problems.append("%s must be 0 or more" % option)
    if params["poll_interval"] < 0:
        problems.append("poll_interval must be 0 or more")
    problem = parallel_problem(params["parallel"])
    if problem:
        problems.append(problem)
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False, vms=[])

    warnings = []
    results = []
    target = {}
    if len(vm_names) == 1 and not vm_ids:
        target["vm"] = vm_names[0]
    if len(vm_ids) == 1 and not vm_names:
        target["vm_id"] = vm_ids[0]
    action = "change the power state of"
    vms = []
    handling = None  # the VM being handled when a failure stops the task; None while reading
    try:
        with module.client(parallel=params["parallel"]) as client:
            controller = PowerController(client, poll_interval=params["poll_interval"])
            vms = client.find_vms(vm_names, vm_ids)
            services = prefetch_services(client, vms, params["state"])
            for vm in vms:
                handling = vm
                target = {"vm": vm.name, "vm_id": vm.id}
                action = "bring to state %s" % params["state"]
                results.append(handle_vm(client, controller, vm, params, module.check_mode, warnings.append,
                                         services=services))
    except HyperVError as exc:
        for text in warnings:
            module.warn(text)
        # fail fast: the VMs after the failed one were not touched; say which, so none is left half-done unseen
        not_attempted = [{"vm_id": vm.id, "vm_name": vm.name} for vm in vms[len(results):] if vm is not handling]
        if not_attempted:
            module.warn("Not attempted after this failure (fail fast): %s" % ", ".join(
                "%s (%s)" % (vm["vm_name"], vm["vm_id"]) for vm in not_attempted))
        module.fail_from(exc, action, result={"changed": any(r["changed"] for r in results), "vms": results,
                                              "not_attempted": not_attempted}, **target)
    for text in warnings:
        module.warn(text)
    result = {"changed": any(r["changed"] for r in results), "vms": results, "not_attempted": []}
    if len(results) == 1:
        one = results[0]
        result.update(vm_id=one["vm_id"], vm_name=one["vm_name"], previous_state=one["previous_state"],
                      state=one["state"], action=one["action"])
    if module.module._diff:
        result["diff"] = {
            "before": {r["vm_name"] + " (" + r["vm_id"] + ")": r["previous_state"] for r in results},
            "after": {r["vm_name"] + " (" + r["vm_id"] + ")": r["state"] for r in results},
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
