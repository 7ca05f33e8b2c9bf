#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: checkpoint_apply
short_description: Apply (restore) a Hyper-V checkpoint, or revert to the latest one
version_added: 0.1.0
description:
  - Applies a checkpoint to its VM (C(Restore-VMSnapshot)). The VM's current state is B(discarded) and replaced by
    the checkpoint's disks, configuration and, for a standard checkpoint, memory.
  - The checkpoint is chosen by exact O(name), by O(checkpoint_id), or with O(latest=true) the checkpoint the
    current state derives from, which is what Hyper-V Manager's I(Revert) applies.
  - O(save_current_state_as) first checkpoints the current state, as Hyper-V Manager offers when you apply, so
    nothing is lost by accident.
  - A running, paused or saved VM is refused unless O(force=true); a running or paused VM is then stopped the way
    O(stop_method) says before the checkpoint is applied. O(power_state) says what to do with the VM afterwards.
author:
  - hyperv.checkpoints contributors (!UNKNOWN)
options:
  vm_name:
    description:
      - Exact name of the VM. Fails when several VMs share the name; use O(vm_id) then.
      - One of O(vm_name) and O(vm_id) is required.
    type: str
  vm_id:
    description:
      - Id (GUID) of the VM.
    type: str
  name:
    description:
      - Exact name of the checkpoint to apply. Fails and lists the Ids when several checkpoints have this name.
    type: str
  checkpoint_id:
    description:
      - Id (GUID) of the checkpoint to apply.
    type: str
  latest:
    description:
      - Apply the checkpoint the VM's current state derives from (the parent of "Now", C(ParentSnapshotId)),
        which is Hyper-V Manager's I(Revert).
      - The target is resolved before O(save_current_state_as) takes its checkpoint.
    type: bool
    default: false
  save_current_state_as:
    description:
      - Checkpoint the current state under this name before applying, with the same preflight as
        M(hyperv.checkpoints.checkpoint) (type not disabled, below 50 checkpoints, free space, no unsupported
        devices). The checkpoint is taken while the VM still runs, before it is stopped.
      - Fails when a checkpoint of the VM already has this name, so that repeated runs do not pile up checkpoints
        with one name; use a unique name (for example with a timestamp) or remove the old one.
    type: str
  force:
    description:
      - Allow applying to a running, paused or saved VM, whose current state (for a saved VM its saved memory) the
        apply discards. A running or paused VM is first stopped with O(stop_method). Without it such a VM is refused
        and nothing is changed. A VM that is off needs no O(force).
    type: bool
    default: false
  stop_method:
    description:
      - How a running or paused VM is stopped before the apply when O(force=true).
      - V(shut_down) shuts the guest down through the Shutdown integration service (needs a running guest that
        answers; a paused VM is refused with this method).
      - V(save) saves the VM. V(turn_off) cuts the power. The state is discarded by the apply in every case.
    type: str
    choices: [save, shut_down, turn_off]
    default: shut_down
  power_state:
    description:
      - The VM's power state after the apply.
      - V(as_captured) leaves it as Hyper-V leaves it, which follows the checkpoint, V(Off) after a production
        checkpoint and V(Saved) (resumable) after a standard checkpoint that holds memory.
      - V(started) starts (or resumes) the VM. V(stopped) turns it off, which discards a restored memory state.
    type: str
    choices: [as_captured, started, stopped]
    default: as_captured
  allow_domain_controller:
    description:
      - Applying a checkpoint to a domain controller guest (KVP C(ProductType) 2) is refused by default, because it
        risks USN rollback in the domain. V(true) allows it.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for a VM that is busy (a running merge, a transition) before changing it. A VM held by a
        backup, or one where an apply is already running, is not waited for; the task fails.
    type: int
    default: 300
  poll_interval:
    description:
      - Seconds between two reads of the VM while waiting for a busy VM or a disk merge.
    type: float
    default: 2.0
notes:
  - B(Always changed.) Applying reports C(changed=true) on every run, also in check mode, like
    C(vmware.vmware.vm_snapshot_revert). The VM begins to drift from the checkpoint as soon as it runs, and no
    property of the VM proves that its disks still equal the checkpoint. C(ParentSnapshotId) (the "Now" position)
    only says which checkpoint the state derives from, not that nothing changed since, which is the mistake of
    C(microsoft.hyperv.hv_checkpoint) that reports "reverted" from the parent's name. So the module applies every
    time it runs; guard the task with C(when) if it must run only once.
  - Only checkpoints of type C(Standard) (the user checkpoints, production and standard alike) are applied;
    Recovery, Replica, Planned and Missing checkpoints are refused.
  - The state after applying a standard checkpoint that holds memory is expected to be C(Saved); this is not yet
    verified on every Windows Server version, so the module reports the state it actually finds in RV(vm.state).
  - If the connection drops while the apply runs, the module reconnects and re-reads the VM by Id. It reports an
    apply that is still running (C(ApplyingSnapshot)) instead of starting another one.
seealso:
  - module: hyperv.checkpoints.checkpoint
  - module: hyperv.checkpoints.checkpoint_info
extends_documentation_fragment:
  - hyperv.checkpoints.connection
  - hyperv.checkpoints._attributes
  - hyperv.checkpoints._attributes.ACTION_GROUP
attributes:
  check_mode:
    support: full
    details:
      - Predicts the final state and returns the same keys; nothing is changed.
  diff_mode:
    support: full
    details:
      - Before and after are the VM's power state and its position in the checkpoint tree.
  idempotent:
    support: none
    details:
      - Always applies and reports a change; see the notes for why.
"""

EXAMPLES = r"""
- name: Go back to before-patch, keeping the current state as a checkpoint, and start the VM again
  hyperv.checkpoints.checkpoint_apply:
    hyperv_host: hv01.example.com
    vm_name: web01
    name: before-patch
    save_current_state_as: "web01-before-rollback-{{ ansible_date_time.iso8601_basic_short }}"
    force: true
    stop_method: shut_down
    power_state: started
  delegate_to: localhost

- name: Revert (apply the checkpoint the current state derives from), discarding the current state
  hyperv.checkpoints.checkpoint_apply:
    hyperv_host: hv01.example.com
    vm_name: web01
    latest: true
    force: true
    stop_method: turn_off
  delegate_to: localhost
  register: reverted

- name: Show where the VM is now
  ansible.builtin.debug:
    msg: "{{ reverted.vm.name }} is {{ reverted.vm.state }} at {{ reverted.vm.current_checkpoint_name }}"

- name: Apply one of two checkpoints that share a name, by Id
  hyperv.checkpoints.checkpoint_apply:
    hyperv_host: hv01.example.com
    vm_id: 6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f
    checkpoint_id: 0b7e2f7c-3d1a-4a51-9d6e-2f4c8a9b1c0d
  delegate_to: localhost
"""

RETURN = r"""
vm:
  description: The VM after the apply (predicted in check mode).
  returned: success
  type: dict
  contains:
    id:
      description: VM Id.
      type: str
    name:
      description: VM name.
      type: str
    state:
      description: Final VM state (C(Off), C(Saved), C(Running)).
      type: str
    operational_status:
      description: Operational status values of the VM.
      type: list
      elements: str
    checkpoint_type:
      description: Configured checkpoint type in option vocabulary.
      type: str
    checkpoint_count:
      description: Number of checkpoints of the VM.
      type: int
    current_checkpoint_id:
      description: The new current position, the Id of the checkpoint the state now derives from (the applied one).
      type: str
    current_checkpoint_name:
      description: Its name.
      type: str
previous_state:
  description: The VM state before the task.
  returned: success
  type: str
applied_checkpoint:
  description: The checkpoint applied.
  returned: success
  type: dict
  contains:
    id:
      description: Checkpoint Id.
      type: str
    name:
      description: Checkpoint name.
      type: str
    parent_id:
      description: Id of its parent checkpoint.
      type: str
    state:
      description: V(Saved) when it holds memory, V(Off) otherwise.
      type: str
    captured_type:
      description: V(standard) or V(production).
      type: str
saved_checkpoint:
  description: The checkpoint made by O(save_current_state_as), V(null) without it (and in check mode).
  returned: success
  type: dict
saved_achieved_type:
  description: V(production) or V(standard) for the checkpoint of O(save_current_state_as); the prediction in
    check mode; V(null) without it.
  returned: success
  type: str
stop_action:
  description: How the VM was stopped before the apply (V(save), V(shut_down), V(turn_off)), V(null) if it was not
    running.
  returned: success
  type: str
power_action:
  description: What O(power_state) did after the apply, V(started), V(stopped) or V(null).
  returned: success
  type: str
preflight:
  description: The preflight of O(save_current_state_as) (see M(hyperv.checkpoints.checkpoint)); V(null) without it.
  returned: success
  type: dict
diff:
  description: VM power state and tree position before and after.
  returned: when diff mode is on
  type: dict
"""

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _lifecycle as lc
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import (
    CommandError,
    ConnectionError as HvConnectionError,
    HyperVError,
    NotFoundError,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._module import (
    HyperVModule,
    validate_checkpoint_name,
    validate_guid,
    validate_vm_name,
)

STOP_MODES = {"save": "save", "shut_down": "shutdown", "turn_off": "turn_off"}


def argument_spec():
    return dict(
        vm_name=dict(type="str"),
        vm_id=dict(type="str"),
        name=dict(type="str"),
        checkpoint_id=dict(type="str"),
        latest=dict(type="bool", default=False),
        save_current_state_as=dict(type="str"),
        force=dict(type="bool", default=False),
        stop_method=dict(type="str", default="shut_down", choices=["save", "shut_down", "turn_off"]),
        power_state=dict(type="str", default="as_captured", choices=["as_captured", "started", "stopped"]),
        allow_domain_controller=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=300),
        poll_interval=dict(type="float", default=2.0),
    )


class Outcome(object):
    def __init__(self):
        self.result = {
            "changed": True, "vm": None, "previous_state": None, "applied_checkpoint": None,
            "saved_checkpoint": None, "saved_achieved_type": None, "stop_action": None, "power_action": None,
            "preflight": None,
        }
        self.warnings = []
        self.target = {}
        self.step = "read the VM and its checkpoints"
        self.wrote = False


def predicted_state(cp, power_state):
    if power_state == "started":
        return "Running"
    if power_state == "stopped":
        return "Off"
    return "Saved" if cp.state == "Saved" else "Off"


def _resolve_target(client, params, vm, checkpoints):
    if params["latest"]:
        cp = lc.tree.latest(checkpoints, vm.parent_checkpoint_id)
        if cp is None:
            raise lc.PreflightError(
                "The VM has no current checkpoint to revert to (its state derives from no checkpoint)",
                hint="Use name or checkpoint_id to pick a checkpoint (checkpoint_info lists them).")
        return cp
    return client.find_checkpoint(vm, name=params["name"], checkpoint_id=params["checkpoint_id"],
                                  checkpoints=checkpoints)


def run(client, params, check_mode, out):
    vm = client.find_vm(name=params["vm_name"], vm_id=params["vm_id"])
    out.target["vm"], out.target["vm_id"] = vm.name, vm.id
    checkpoints = client.list_checkpoints(vm.id)
    before_vm, before_cps = vm, checkpoints
    out.result["previous_state"] = vm.state
    out.step = "select the checkpoint to apply"
    cp = _resolve_target(client, params, vm, checkpoints)
    out.target["checkpoint"], out.target["checkpoint_id"] = cp.name, cp.id
    out.result["applied_checkpoint"] = lc.checkpoint_summary(cp)
    out.step = "check the preconditions for applying checkpoint %s" % lc.quote(cp.name)
    if (cp.snapshot_type or "Standard") != "Standard":
        raise lc.PreflightError(
            "%s is a %s checkpoint; only user (Standard) checkpoints are applied"
            % (lc.checkpoint_label(cp), cp.snapshot_type),
            hint="Recovery and Replica checkpoints belong to backup software and Hyper-V Replica; use their tools "
                 "(for Replica, Start-VMFailover).")
    vm = lc.wait_until_idle(client, vm, params["wait_timeout"], params["poll_interval"], action="apply %s" % lc.checkpoint_label(cp))
    role = client.guest_role(vm.id)
    if role.domain_controller and not params["allow_domain_controller"]:
        raise lc.PreflightError(
            "The guest is a domain controller (KVP ProductType 2); applying a checkpoint can cause USN rollback",
            hint="Restore domain controllers with an AD-aware backup. Set allow_domain_controller: true only if you "
                 "accept the risk.")
    running = vm.state in ("Running", "Paused")
    if vm.state in ("Running", "Paused", "Saved") and not params["force"]:
        raise lc.PreflightError(
            "The VM is %s; applying the checkpoint would discard its current state%s"
            % (vm.state, " (including the saved memory)" if vm.state == "Saved" else ""),
            hint="Set force: true (the VM is then stopped with stop_method, default shut_down) or stop the VM first. "
                 "Add save_current_state_as to keep the current state as a checkpoint.")
    if running and vm.state == "Paused" and params["stop_method"] == "shut_down":
        raise lc.PreflightError(
            "The VM is Paused and stop_method shut_down needs a running guest",
            hint="Use stop_method: save or turn_off, or resume the VM first.")
    save_name = params["save_current_state_as"]
    if save_name is not None:
        dup = [c for c in checkpoints if c.name == save_name]
        if dup:
            raise lc.PreflightError(
                "A checkpoint named %s already exists (Ids: %s); save_current_state_as needs a new name"
                % (lc.quote(save_name), ", ".join(c.id for c in dup)),
                hint="Use a unique name, for example with a timestamp, or remove the old checkpoint first.")
        out.step = "check the preconditions for saving the current state as %s" % lc.quote(save_name)
        report = lc.preflight_create(client, vm, checkpoints, allow_domain_controller=params["allow_domain_controller"])
        out.result["preflight"] = report
        out.result["saved_achieved_type"] = report["predicted_type"]

    if check_mode:
        final = dict(lc.vm_summary(vm, checkpoints))
        final["state"] = predicted_state(cp, params["power_state"])
        final["current_checkpoint_id"], final["current_checkpoint_name"] = cp.id, cp.name
        if save_name is not None:
            final["checkpoint_count"] += 1
        out.result["vm"] = final
        out.result["stop_action"] = params["stop_method"] if running else None
        out.result["power_action"] = _power_action(final["state"], params["power_state"], predicted_state(
            cp, "as_captured"))
        return before_vm, before_cps, final

    if save_name is not None:
        out.step = "save the current state as checkpoint %s" % lc.quote(save_name)
        state_before, type_before = vm.state, vm.checkpoint_type
        try:
            saved, warns = lc.create_checkpoint(client, vm, save_name, set(c.id for c in checkpoints))
        except CommandError as exc:
            raise lc.with_create_hint(exc, vm)
        out.wrote = True
        out.warnings.extend(warns)
        out.result["saved_checkpoint"] = lc.checkpoint_summary(saved)
        out.result["saved_achieved_type"] = lc.achieved_type(saved, state_before, type_before)
        vm = client.get_vm(vm.id)

    if vm.state in ("Running", "Paused"):
        out.step = "stop the VM (%s) before applying checkpoint %s" % (params["stop_method"], lc.quote(cp.name))
        try:
            client.stop_vm(vm.id, mode=STOP_MODES[params["stop_method"]])
        except CommandError as exc:
            if exc.hint is None:
                exc.hint = ("Nothing was applied. Choose another stop_method (turn_off does not need the guest), or "
                            "stop the VM yourself and run the task again.")
            raise
        out.wrote = True
        out.result["stop_action"] = params["stop_method"]
        vm = client.get_vm(vm.id)

    out.step = "apply checkpoint %s" % lc.quote(cp.name)
    vm = lc.wait_until_idle(client, vm, params["wait_timeout"], params["poll_interval"], action="apply %s" % lc.checkpoint_label(cp))
    _restore(client, vm, cp, out)
    out.wrote = True
    vm = client.get_vm(vm.id)

    if params["power_state"] == "started" and vm.state != "Running":
        out.step = "start the VM after applying checkpoint %s" % lc.quote(cp.name)
        client.start_vm(vm.id)
        out.result["power_action"] = "started"
    elif params["power_state"] == "stopped" and vm.state != "Off":
        out.step = "turn the VM off after applying checkpoint %s" % lc.quote(cp.name)
        client.stop_vm(vm.id, mode="turn_off")
        out.result["power_action"] = "stopped"
    vm = client.get_vm(vm.id)
    checkpoints = client.list_checkpoints(vm.id)
    out.result["vm"] = lc.vm_summary(vm, checkpoints)
    return before_vm, before_cps, out.result["vm"]


def _power_action(final_state, power_state, captured_state):
    if power_state == "started" and captured_state != "Running":
        return "started"
    if power_state == "stopped" and captured_state != "Off":
        return "stopped"
    return None


def _restore(client, vm, cp, out):
    """Restore-VMSnapshot by Id; after a connection drop, re-read the VM instead of applying again."""
    try:
        client.restore_checkpoint(cp.id)
    except CommandError as exc:
        if isinstance(exc, NotFoundError) and lc.vm_gone_from_host(client, vm):
            raise lc.vm_migrated_error(client, vm, "Restore-VMSnapshot failed, so %s was not applied%s." % (
                lc.checkpoint_label(cp), "; the VM had been stopped (%s) on this host before it left"
                % out.result["stop_action"] if out.result.get("stop_action") else ""), exc)
        if exc.hint is None:
            exc.hint = ("Nothing was deleted. Check the disk chain (checkpoint_info, Get-VHD ParentPath) and the "
                        "Hyper-V-VMMS Admin event log; export or back up the VM before repairing anything.")
        raise
    except HvConnectionError as exc:
        if not (exc.write_may_have_applied or exc.request_sent):
            raise
        fresh = client.get_vm(vm.id)
        if lc.busy_blocker(fresh) and lc.busy_blocker(fresh)[0] == "applying":
            raise lc.PreflightError(
                "The connection dropped while the checkpoint was being applied, and the host still shows the apply "
                "running (ApplyingSnapshot)",
                hint="Do not run the apply again: wait until the VM is idle (vm_info), then check it with "
                     "checkpoint_info.")
        if fresh.parent_checkpoint_id == cp.id:
            out.warnings.append(
                "The connection to host %s dropped after Restore-VMSnapshot was sent; re-reading the VM by Id shows "
                "its state now derives from %s, so the apply was not repeated." % (client.host,
                                                                                   lc.checkpoint_label(cp)))
            return
        raise


def _view(vm_summary_or_vm, checkpoints=None):
    if isinstance(vm_summary_or_vm, dict):
        return {"state": vm_summary_or_vm["state"],
                "current_checkpoint_id": vm_summary_or_vm["current_checkpoint_id"],
                "current_checkpoint_name": vm_summary_or_vm["current_checkpoint_name"],
                "checkpoint_count": vm_summary_or_vm["checkpoint_count"]}
    return _view(lc.vm_summary(vm_summary_or_vm, checkpoints))


def main():
    module = HyperVModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_one_of=[("vm_name", "vm_id")],
        mutually_exclusive=[("name", "checkpoint_id")],
    )
    params = module.params
    problems = module.validation_errors([
        (validate_vm_name, params["vm_name"], "vm_name"),
        (validate_guid, params["vm_id"], "vm_id"),
        (validate_checkpoint_name, params["name"], "name"),
        (validate_guid, params["checkpoint_id"], "checkpoint_id"),
        (validate_checkpoint_name, params["save_current_state_as"], "save_current_state_as"),
    ])
    chosen = [o for o in ("name", "checkpoint_id") if params[o] is not None] + (["latest"] if params["latest"] else [])
    if not chosen:
        problems.append("one of name, checkpoint_id or latest=true is required")
    elif len(chosen) > 1:
        problems.append("name, checkpoint_id and latest=true are mutually exclusive (got %s)" % ", ".join(chosen))
    if params["wait_timeout"] < 0:
        problems.append("wait_timeout must be 0 or more seconds")
    if params["poll_interval"] < 0:
        problems.append("poll_interval must be 0 or more seconds")
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False)

    out = Outcome()
    for key, option in (("vm", "vm_name"), ("vm_id", "vm_id"), ("checkpoint", "name"),
                        ("checkpoint_id", "checkpoint_id")):
        if params[option]:
            out.target[key] = params[option]
    try:
        with module.client() as client:
            before_vm, before_cps, final = run(client, params, module.check_mode, out)
    except HyperVError as exc:
        for warning in out.warnings:
            module.warn(warning)
        result = dict(out.result)
        result["changed"] = out.wrote
        module.fail_from(exc, out.step, result=result, **out.target)
    for warning in out.warnings:
        module.warn(warning)
    result = dict(out.result)
    if module.module._diff:
        result["diff"] = {"before": _view(before_vm, before_cps), "after": _view(final)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
