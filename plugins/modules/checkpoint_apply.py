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
  - With O(vm_names) or O(vm_ids) the task applies the checkpoint O(name), or with O(latest=true) each VM's latest
    checkpoint, on many VMs of one host in one session (batch mode, see the notes), with one result per VM in
    RV(results).
author:
  - hyperv.checkpoints contributors (!UNKNOWN)
options:
  vm_name:
    description:
      - Exact name of the VM. Fails when several VMs share the name; use O(vm_id) then.
      - One of O(vm_name), O(vm_id), O(vm_names) and O(vm_ids) is required.
    type: str
  vm_id:
    description:
      - Id (GUID) of the VM.
    type: str
  vm_names:
    description:
      - Batch mode. Exact names of several VMs of the host, each matched as O(vm_name) is. A name that matches no
        VM or several VMs is a failure of that entry only (see O(batch_failure)).
      - Can be combined with O(vm_ids); a VM named by both is handled once. Mutually exclusive with O(vm_name) and
        O(vm_id).
      - In batch mode O(name) or O(latest=true) is required and O(checkpoint_id) is not accepted.
    type: list
    elements: str
  vm_ids:
    description:
      - Batch mode. Ids (GUIDs) of several VMs of the host, for example the C(hyperv_vm_ids) host variable of the
        C(hyperv.checkpoints.hyperv) inventory. Handled after O(vm_names), in this order.
    type: list
    elements: str
  batch_failure:
    description:
      - Batch mode. What one VM's failure does to the others.
      - V(collect) attempts every VM; the task fails at the end when any VM failed, and its message lists them.
      - V(fail_fast) attempts no VM after the first failure. Every VM is checked before the first one is changed,
        so a VM that is not found or fails its checks stops the batch before anything is changed; a failure while
        applying stops it before the next VM. The VMs not attempted are reported with
        RV(results[].skipped=true), and nothing was changed on them.
      - Either way every VM has an entry in RV(results), and a VM that was changed before it failed (for example
        stopped) reports C(changed=true).
    type: str
    choices: [collect, fail_fast]
    default: collect
  name:
    description:
      - Exact name of the checkpoint to apply. Fails and lists the Ids when several checkpoints have this name.
      - In batch mode the checkpoint of this name is looked up on each VM separately, exactly.
    type: str
  checkpoint_id:
    description:
      - Id (GUID) of the checkpoint to apply.
      - Not accepted in batch mode (a checkpoint Id belongs to one VM).
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
  - "Batch mode (O(vm_names), O(vm_ids)): the VMs, every checkpoint of the host and the guest KVP data are read
    in one round of concurrent read pipelines (at most O(parallel) at once). Every VM is then checked with the
    same rules as a single VM (checkpoint found, not busy, not a domain controller, O(force), O(stop_method),
    O(save_current_state_as) preflight) before the first VM is changed. The VMs are then applied one after the
    other, in the order given, not in parallel; each VM is re-read by Id just before and checked again when its
    state moved meanwhile. Each VM is always reported changed, as for a single VM."
seealso:
  - module: hyperv.checkpoints.checkpoint
  - module: hyperv.checkpoints.checkpoint_info
extends_documentation_fragment:
  - hyperv.checkpoints.connection
  - hyperv.checkpoints.batch
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
      - In batch mode one before/after pair per VM.
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

- name: Revert VMs of one host to their checkpoint pre-patch, stop at the first failure
  hyperv.checkpoints.checkpoint_apply:
    hyperv_host: hv01.example.com
    vm_names: [web01, web02, app01]
    name: pre-patch
    force: true
    stop_method: turn_off
    power_state: started
    batch_failure: fail_fast
  delegate_to: localhost
  register: rollback
  ignore_errors: true

- name: VMs that were not reverted (failed, or not attempted after the first failure)
  ansible.builtin.debug:
    msg: "{{ rollback.results | rejectattr('vm') | map(attribute='vm_name') | list }}"
  when: rollback is failed

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
  returned: success, single VM
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
  returned: success, single VM
  type: str
applied_checkpoint:
  description: The checkpoint applied.
  returned: success, single VM
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
  returned: success, single VM
  type: dict
saved_achieved_type:
  description: V(production) or V(standard) for the checkpoint of O(save_current_state_as); the prediction in
    check mode; V(null) without it.
  returned: success, single VM
  type: str
stop_action:
  description: How the VM was stopped before the apply (V(save), V(shut_down), V(turn_off)), V(null) if it was not
    running.
  returned: success, single VM
  type: str
power_action:
  description: What O(power_state) did after the apply, V(started), V(stopped) or V(null).
  returned: success, single VM
  type: str
preflight:
  description: The preflight of O(save_current_state_as) (see M(hyperv.checkpoints.checkpoint)); V(null) without it.
  returned: success, single VM
  type: dict
diff:
  description:
    - VM power state and tree position before and after.
    - In batch mode a list with one C(before)/C(after) pair per VM, headed C(<vm name> (<vm id>)).
  returned: when diff mode is on
  type: raw
results:
  description:
    - Batch mode. One entry per requested VM, in the order given (O(vm_names) first, then O(vm_ids)).
    - In check mode the same shape, with the predicted values.
  returned: with O(vm_names) or O(vm_ids)
  type: list
  elements: dict
  contains:
    vm_id:
      description: VM Id; V(null) when the name matched no VM.
      type: str
    vm_name:
      description: VM name.
      type: str
    changed:
      description: Whether this VM was changed (or would be in check mode); V(true) for every VM applied.
      type: bool
    failed:
      description: Whether this VM failed; RV(results[].msg) says why and what to do.
      type: bool
    skipped:
      description: V(true) when the VM was not attempted because of O(batch_failure=fail_fast).
      type: bool
    msg:
      description: Failure or skip message naming the host, the VM and the checkpoint; V(null) on success.
      type: str
    vm:
      description: As RV(vm), for this VM; V(null) when it was not applied.
      type: dict
    previous_state:
      description: As RV(previous_state), for this VM.
      type: str
    applied_checkpoint:
      description: As RV(applied_checkpoint), for this VM.
      type: dict
    saved_checkpoint:
      description: As RV(saved_checkpoint), for this VM.
      type: dict
    saved_achieved_type:
      description: As RV(saved_achieved_type), for this VM.
      type: str
    stop_action:
      description: As RV(stop_action), for this VM.
      type: str
    power_action:
      description: As RV(power_action), for this VM.
      type: str
    preflight:
      description: As RV(preflight), for this VM.
      type: dict
    warnings:
      description: Warnings about this VM (they are also emitted as task warnings, prefixed with the VM).
      type: list
      elements: str
    error:
      description: Details of the failure (C(kind), C(fqid), C(category), ...), V(null) without one.
      type: dict
summary:
  description: Batch mode. Counts of VMs C(total), C(changed), C(unchanged), C(failed) and C(skipped).
  returned: with O(vm_names) or O(vm_ids)
  type: dict
"""

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _lifecycle as lc
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _parallel as par
from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import (
    HyperVClient,
    match_exact,
    normalize_guid,
    raise_for_result,
    roles_from_kvp_result,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import (
    AmbiguousError,
    CommandError,
    ConnectionError as HvConnectionError,
    HyperVError,
    NotFoundError,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._host_reads import (
    all_checkpoints_pipeline,
    list_vms_pipeline,
    run_reads,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import VM, Checkpoint
from ansible_collections.hyperv.checkpoints.plugins.module_utils._module import (
    HyperVModule,
    validate_checkpoint_name,
    validate_guid,
    validate_vm_name,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import STATE_FAILED

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
        vm_names=dict(type="list", elements="str"),
        vm_ids=dict(type="list", elements="str"),
        batch_failure=dict(type="str", default="collect", choices=par.BATCH_FAILURE_CHOICES),
        parallel=par.parallel_argument(),
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


class Plan(object):
    """What prepare() decided for one VM; nothing has been changed yet."""

    def __init__(self, before_vm, before_cps, vm, cp, checkpoints, running, save_name):
        self.before_vm = before_vm
        self.before_cps = before_cps
        self.vm = vm
        self.cp = cp
        self.checkpoints = checkpoints
        self.running = running
        self.save_name = save_name


def run(client, params, check_mode, out):
    """The single-VM path: read, prepare, execute. Returns (before VM, before checkpoints, final summary)."""
    vm = client.find_vm(name=params["vm_name"], vm_id=params["vm_id"])
    out.target["vm"], out.target["vm_id"] = vm.name, vm.id
    checkpoints = client.list_checkpoints(vm.id)
    return execute(client, params, check_mode, out, prepare(client, params, out, vm, checkpoints))


def prepare(client, params, out, vm, checkpoints, role=None):
    """Select the checkpoint of ``vm`` and check every precondition; changes nothing. Returns a Plan.

    ``role`` is the VM's GuestRole when the caller has read it already (batch mode); else it is read here.
    Raises a HyperVError (PreflightError, NotFoundError, ...) when the VM must not be applied.
    """
    out.target["vm"], out.target["vm_id"] = vm.name, vm.id
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
    if role is None:
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
    return Plan(before_vm, before_cps, vm, cp, checkpoints, running, save_name)


def execute(client, params, check_mode, out, plan):
    """Apply ``plan`` (or predict the result in check mode). Returns (before VM, before checkpoints, final)."""
    before_vm, before_cps = plan.before_vm, plan.before_cps
    vm, cp, checkpoints, running, save_name = plan.vm, plan.cp, plan.checkpoints, plan.running, plan.save_name
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


# ---------------------------------------------------------------------------------------------- batch mode


class BatchEntry(object):
    """One requested VM of a batch and what happened to it."""

    def __init__(self, requested, params, vm_name=None, vm_id=None):
        self.requested = requested
        self.vm = None
        self.vm_name = vm_name
        self.vm_id = vm_id
        self.out = Outcome()
        self.out.step = "find the VM"
        if vm_name is not None:
            self.out.target["vm"] = vm_name
        if vm_id is not None:
            self.out.target["vm_id"] = vm_id
        if params["name"] is not None:
            self.out.target["checkpoint"] = params["name"]
        self.plan = None
        self.before = None
        self.final = None
        self.failed = False
        self.skipped = False
        self.msg = None
        self.error = None

    def set_vm(self, vm):
        self.vm, self.vm_name, self.vm_id = vm, vm.name, vm.id
        self.out.target["vm"], self.out.target["vm_id"] = vm.name, vm.id

    def label(self):
        return par.label(self.vm_name, self.vm_id, self.requested)

    @property
    def changed(self):
        if self.skipped:
            return False
        if self.failed:
            return self.out.wrote
        return True  # applying always reports a change, as the single-VM path (see the notes)

    def result(self):
        out = dict(self.out.result)
        out.update(vm_id=self.vm_id, vm_name=self.vm_name, changed=self.changed, failed=self.failed,
                   skipped=self.skipped, msg=self.msg, error=self.error, warnings=list(self.out.warnings))
        return out


class BatchApply(object):
    """Apply the checkpoint ``name`` (or the latest one) on many VMs of one host.

    1. One round of reads (``client.run`` of three pipelines): every VM, every checkpoint of the
       host and the guest KVP data. Names and Ids are matched on the controller.
    2. Every VM is prepared with the single-VM rules (``prepare``), nothing changed yet.
    3. The VMs are applied one after the other (``execute``), each re-read by Id first; a VM whose
       state moved since step 1 is prepared again on the fresh state.
    With ``fail_fast`` no VM is attempted after the first failure (so a failure in steps 1-2
    changes nothing at all).
    """

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.check_mode = module.check_mode
        self.entries = []
        self.phase = "read the VMs and their checkpoints"
        self.first_failure = None

    def fail(self, entry, exc):
        entry.failed = True
        entry.msg, entry.error = self.module.describe_error(exc, entry.out.step, **entry.out.target)
        if self.first_failure is None:
            self.first_failure = entry

    def stopped(self, entry):
        """True (and the entry marked skipped) when fail_fast stops the batch before ``entry``."""
        if self.params["batch_failure"] != "fail_fast" or self.first_failure is None:
            return False
        entry.skipped = True
        entry.msg = par.skip_message(self.first_failure.label())
        return True

    def live(self):
        return [e for e in self.entries if not (e.failed or e.skipped)]

    def read(self):
        client = self.client
        vms_res, cps_res, kvp_res = run_reads(
            client, [list_vms_pipeline(), all_checkpoints_pipeline(), HyperVClient.kvp_pipeline()], lc.sleep)
        vms = [VM.from_plain(o) for o in raise_for_result(vms_res, "listing VMs")]
        checkpoints = None
        if not (cps_res.get("errors") or cps_res.get("state") == STATE_FAILED):
            checkpoints = dict((vm.id, []) for vm in vms)
            for obj in cps_res.get("output") or []:
                cp = Checkpoint.from_plain(obj)
                checkpoints.setdefault(cp.vm_id, []).append(cp)
        return vms, checkpoints, kvp_res

    def resolve(self, vms):
        params = self.params
        seen = set()
        scope = "on host %s" % self.client.host
        for name in params["vm_names"] or []:
            entry = BatchEntry(name, params, vm_name=name)
            try:
                vm = match_exact(vms, name, "VM", scope, "vm_ids")
            except (NotFoundError, AmbiguousError) as exc:
                self.entries.append(entry)
                self.fail(entry, exc)
                continue
            self._add(entry, vm, seen)
        for raw in params["vm_ids"] or []:
            vm_id = normalize_guid(raw, "vm_ids")
            entry = BatchEntry(raw, params, vm_id=vm_id)
            vm = next((v for v in vms if v.id == vm_id), None)
            if vm is None:
                self.entries.append(entry)
                self.fail(entry, NotFoundError("No VM with Id %s %s" % (vm_id, scope), category="ObjectNotFound"))
                continue
            self._add(entry, vm, seen)

    def _add(self, entry, vm, seen):
        if vm.id in seen:
            return
        seen.add(vm.id)
        entry.set_vm(vm)
        self.entries.append(entry)

    def listings(self, checkpoints):
        """{vm_id: [Checkpoint]} of the live entries; per-VM pipelines (one round) if the host-wide list failed."""
        if checkpoints is not None:
            return checkpoints
        live = self.live()
        results = self.client.run([HyperVClient.list_checkpoints_pipeline(e.vm_id) for e in live])
        checkpoints = {}
        for entry, res in zip(live, results):
            entry.out.step = "read the VM and its checkpoints"
            try:
                checkpoints[entry.vm_id] = [Checkpoint.from_plain(o)
                                            for o in raise_for_result(res, "listing checkpoints")]
            except HyperVError as exc:
                self.fail(entry, exc)
        return checkpoints

    def run(self):
        vms, checkpoints, kvp = self.read()
        self.resolve(vms)
        checkpoints = self.listings(checkpoints)
        roles = roles_from_kvp_result(kvp, [e.vm_id for e in self.live()])
        self.phase = "check the preconditions"
        for entry in self.entries:
            if entry.failed or self.stopped(entry):
                continue
            try:
                entry.plan = prepare(self.client, self.params, entry.out, entry.vm, checkpoints[entry.vm_id],
                                     role=roles.get(entry.vm_id))
            except HyperVError as exc:
                self.fail(entry, exc)
        self.phase = "apply the checkpoints"
        for entry in self.entries:
            if entry.failed or entry.skipped or self.stopped(entry):
                continue
            try:
                plan = entry.plan if self.check_mode else self.refresh(entry)
                entry.before = (plan.before_vm, plan.before_cps)
                dummy, dummy2, entry.final = execute(self.client, self.params, self.check_mode, entry.out, plan)
            except HyperVError as exc:
                self.fail(entry, exc)

    def refresh(self, entry):
        """The entry's plan, prepared again when the VM moved since the read round (others were applied meanwhile)."""
        entry.out.step = "re-read the VM before applying"
        plan = entry.plan
        fresh = self.client.get_vm(entry.vm_id)
        if (fresh.state, fresh.parent_checkpoint_id, list(fresh.operational_status or [])) == (
                plan.vm.state, plan.vm.parent_checkpoint_id, list(plan.vm.operational_status or [])):
            return plan
        checkpoints = self.client.list_checkpoints(entry.vm_id)
        return prepare(self.client, self.params, entry.out, fresh, checkpoints)

    def diff(self):
        out = []
        for entry in self.entries:
            if entry.final is None or entry.before is None:
                continue
            header = "%s (%s)" % (entry.vm_name, entry.vm_id)
            out.append({"before_header": header, "after_header": header,
                        "before": _view(entry.before[0], entry.before[1]), "after": _view(entry.final)})
        return out


def batch_problems(module):
    params = module.params
    problems = module.validation_errors([
        (validate_vm_name, params["vm_names"] or [], "vm_names"),
        (validate_guid, params["vm_ids"] or [], "vm_ids"),
        (validate_checkpoint_name, params["name"], "name"),
        (validate_checkpoint_name, params["save_current_state_as"], "save_current_state_as"),
    ])
    if params["checkpoint_id"] is not None:
        problems.append("checkpoint_id is not accepted with vm_names/vm_ids (a checkpoint Id belongs to one VM); "
                        "use name (the same checkpoint name on every VM) or latest=true")
    elif params["name"] is None and not params["latest"]:
        problems.append("vm_names/vm_ids need name (the same checkpoint name on every VM) or latest=true")
    elif params["name"] is not None and params["latest"]:
        problems.append("name and latest=true are mutually exclusive (got name, latest)")
    return problems


def main_batch(module):
    """vm_names / vm_ids: one session, one read round, then the VMs one after the other (BatchApply)."""
    runner = None
    try:
        with module.client(parallel=module.params["parallel"]) as client:
            runner = BatchApply(module, client)
            runner.run()
    except HyperVError as exc:
        # a failure of the session itself (connect, list the VMs): report what is known per VM
        entries = runner.entries if runner is not None else []
        result = {"changed": any(e.out.wrote for e in entries),
                  "results": [e.result() for e in entries]}
        module.fail_from(exc, runner.phase if runner is not None else "read the VMs and their checkpoints",
                         result=result)
    for entry in runner.entries:
        for warning in entry.out.warnings:
            module.warn("VM %s: %s" % (entry.label(), warning))
    results = [e.result() for e in runner.entries]
    result = {"changed": any(r["changed"] for r in results), "results": results, "summary": par.summary(results)}
    if module.module._diff:
        result["diff"] = runner.diff()
    msg = par.failure_message(results, module.host)
    if msg:
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


def single_problems(module):
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
    return problems


def main_single(module):
    params = module.params
    out = Outcome()
    for key, option in (("vm", "vm_name"), ("vm_id", "vm_id"), ("checkpoint", "name"),
                        ("checkpoint_id", "checkpoint_id")):
        if params[option]:
            out.target[key] = params[option]
    try:
        with module.client(parallel=params["parallel"]) as client:
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


def main():
    module = HyperVModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_one_of=[("vm_name", "vm_id", "vm_names", "vm_ids")],
        mutually_exclusive=[("name", "checkpoint_id"), ("vm_name", "vm_names"), ("vm_name", "vm_ids"),
                            ("vm_id", "vm_names"), ("vm_id", "vm_ids")],
    )
    params = module.params
    batch = params["vm_names"] is not None or params["vm_ids"] is not None
    problems = batch_problems(module) if batch else single_problems(module)
    if params["wait_timeout"] < 0:
        problems.append("wait_timeout must be 0 or more seconds")
    if params["poll_interval"] < 0:
        problems.append("poll_interval must be 0 or more seconds")
    problem = par.parallel_problem(params["parallel"])
    if problem:
        problems.append(problem)
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False)
    if batch:
        main_batch(module)
    else:
        main_single(module)


if __name__ == "__main__":
    main()
