#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: checkpoint_policy
short_description: Set the checkpoint type, automatic checkpoints and checkpoint file location of Hyper-V VMs
version_added: 0.1.0
description:
  - Sets, per VM, which kind of checkpoint Hyper-V takes (O(checkpoint_type)), whether it takes automatic
    checkpoints when the VM starts (O(automatic_checkpoints)), and where the checkpoint configuration and memory
    files go (O(snapshot_file_location)).
  - Only the settings given are compared and changed. Every VM is checked before any VM is changed, so a refusal
    by these checks on one VM leaves all of them untouched; Hyper-V refusing a C(Set-VM) itself fails that VM
    only (see the notes).
author:
  - hyperv.checkpoints contributors (!UNKNOWN)
options:
  vm_name:
    description:
      - Exact name of one VM. Fails when several VMs share the name; use O(vm_id) then.
    type: str
  vm_id:
    description:
      - Id (GUID) of one VM.
    type: str
  vm_names:
    description:
      - Exact names of several VMs.
    type: list
    elements: str
  vm_ids:
    description:
      - Ids (GUIDs) of several VMs.
    type: list
    elements: str
  checkpoint_type:
    description:
      - V(production) takes application-consistent checkpoints (VSS in Windows guests, fsfreeze in Linux guests)
        and falls back to a standard checkpoint when the guest cannot take one. This is the Hyper-V default.
      - V(production_only) takes production checkpoints and fails instead of falling back.
      - V(standard) captures the disks plus the memory and device state.
      - V(disabled) prevents checkpoints.
      - Lower-case option values; the Hyper-V names are C(Production), C(ProductionOnly), C(Standard), C(Disabled).
    type: str
    choices: [disabled, standard, production, production_only]
  automatic_checkpoints:
    description:
      - Whether Hyper-V takes an automatic checkpoint when the VM starts.
    type: bool
  snapshot_file_location:
    description:
      - Folder on the Hyper-V host for the checkpoint configuration and saved-state files (C(SnapshotFileLocation)).
        The differencing disks (AVHDX) always stay next to their parent VHDX.
      - An absolute path, a drive path such as C(D:\\Hyper-V\\Checkpoints) or a UNC path such as
        C(\\\\fs01\\vms\\checkpoints). It is compared case-insensitively, with C(/) and C(\\) alike, repeated and
        trailing separators ignored and C(.) and C(..) resolved, so an equal path never reports a change.
      - A drive root (C(D:\\)) or share root (C(\\\\fs01\\vms)) is refused; Hyper-V does not support VM files there.
      - Hyper-V allows this change only while the VM has no checkpoints. With checkpoints the task fails before
        anything is changed and lists them; remove them first, or move their files with C(Move-VMStorage
        -SnapshotFilePath) outside this module.
      - The folder is not created by this module; Hyper-V reports an error if it cannot use it.
    type: str
  allow_unverified_paths:
    description:
      - For clustered VMs, pass C(-AllowUnverifiedPaths) so that a location the cluster cannot verify is accepted.
    type: bool
    default: false
  allow_domain_controller:
    description:
      - Setting O(checkpoint_type=standard) on a domain controller guest (KVP C(ProductType) 2) is refused by
        default, because only production checkpoints are supported for domain controllers. V(true) allows it.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for a VM that is busy (a running merge, a transition) before changing it. A VM held by a
        backup or in the middle of an apply is not waited for; the task fails.
    type: int
    default: 300
  poll_interval:
    description:
      - Seconds between two reads of the VM while waiting for a busy VM or a disk merge.
    type: float
    default: 2.0
notes:
  - One of O(vm_name), O(vm_id), O(vm_names) and O(vm_ids) is required; they can be combined and each VM is
    handled once.
  - The settings are read from and written to the host with C(Get-VM -Id) and C(Get-VM -Id | Set-VM); VM names are
    never passed to a wildcard-capable C(-Name) parameter.
  - The VMs are read in one round (one C(Get-VM) listing for the names, one C(Get-VM -Id) per Id, at most
    O(parallel) at once). The C(Set-VM) pipelines of all VMs to change are then sent together, at most
    O(parallel) at once; each VM gets one C(Set-VM), so no two writes ever touch one VM. When Hyper-V refuses
    the change on one VM, the other VMs are still changed; the task fails, its message names every VM that failed
    and RV(vms) lists the VMs that were changed. Rerunning the task
    compares the settings again and changes only what still differs.
seealso:
  - module: hyperv.checkpoints.checkpoint
  - module: hyperv.checkpoints.vm_info
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
      - Before and after are the three settings of every selected VM.
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Production checkpoints with the standard fallback (the Hyper-V default), no automatic checkpoints
  hyperv.checkpoints.checkpoint_policy:
    hyperv_host: hv01.example.com
    vm_name: web01
    checkpoint_type: production
    automatic_checkpoints: false
  delegate_to: localhost

- name: Production checkpoints only (fail rather than fall back) on the SQL servers
  hyperv.checkpoints.checkpoint_policy:
    hyperv_host: hv02.example.com
    vm_names: [sql01, sql02]
    checkpoint_type: production_only
  delegate_to: localhost

- name: Keep checkpoint files on a dedicated volume (the VM must have no checkpoints)
  hyperv.checkpoints.checkpoint_policy:
    hyperv_host: hv01.example.com
    vm_id: 6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f
    snapshot_file_location: 'E:\Hyper-V\Checkpoints'
  delegate_to: localhost

- name: Disable checkpoints on a VM that must never have one
  hyperv.checkpoints.checkpoint_policy:
    hyperv_host: hv01.example.com
    vm_name: legacy01
    checkpoint_type: disabled
  delegate_to: localhost
"""

RETURN = r"""
vms:
  description: One entry per selected VM, in the order given. On failure, the VMs that were changed.
  returned: success, and on a failure after the settings were read
  type: list
  elements: dict
  contains:
    vm_id:
      description: VM Id.
      type: str
    vm_name:
      description: VM name.
      type: str
    changed:
      description: Whether this VM was (or in check mode would be) changed.
      type: bool
    changes:
      description: The options that differ, among V(checkpoint_type), V(automatic_checkpoints) and
        V(snapshot_file_location).
      type: list
      elements: str
    before:
      description: The settings before the task.
      type: dict
      contains:
        checkpoint_type:
          description: V(disabled), V(standard), V(production) or V(production_only).
          type: str
        automatic_checkpoints:
          description: Whether automatic checkpoints are on.
          type: bool
        snapshot_file_location:
          description: The checkpoint file location as the host reports it.
          type: str
    after:
      description: The settings after the task, as the host reports them (predicted in check mode). Same keys as
        RV(vms[].before).
      type: dict
diff:
  description: Settings of every selected VM before and after, keyed by C(<name> (<id>)).
  returned: when diff mode is on
  type: dict
"""

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _lifecycle as lc
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _policy as pol
from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import HyperVClient, raise_for_result
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import ConfigurationError, HyperVError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._module import (
    HyperVModule,
    validate_guid,
    validate_vm_name,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import VM
from ansible_collections.hyperv.checkpoints.plugins.module_utils._parallel import parallel_argument, parallel_problem


def argument_spec():
    return dict(
        vm_name=dict(type="str"),
        vm_id=dict(type="str"),
        vm_names=dict(type="list", elements="str"),
        vm_ids=dict(type="list", elements="str"),
        checkpoint_type=dict(type="str", choices=["disabled", "standard", "production", "production_only"]),
        automatic_checkpoints=dict(type="bool"),
        snapshot_file_location=dict(type="str"),
        allow_unverified_paths=dict(type="bool", default=False),
        allow_domain_controller=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=300),
        poll_interval=dict(type="float", default=2.0),
        parallel=parallel_argument(),
    )


def _label(vm):
    return "%s (%s)" % (vm.name, vm.id)


def plan(client, params, location, target):
    """Read every VM and decide; raises before anything is changed. Returns [(vm, plan)]."""
    names = ([params["vm_name"]] if params["vm_name"] is not None else []) + list(params["vm_names"] or [])
    ids = ([params["vm_id"]] if params["vm_id"] is not None else []) + list(params["vm_ids"] or [])
    vms = client.find_vms(names, ids)
    plans = []
    for vm in vms:
        p = pol.plan_vm(vm, params["checkpoint_type"], params["automatic_checkpoints"], location)
        plans.append((vm, p))
    moving = [vm for vm, p in plans if "snapshot_file_location" in p["changes"]]
    if moving:
        cps = client.list_checkpoints_many([vm.id for vm in moving])
        blocked = []
        for vm in moving:
            if cps[vm.id]:
                blocked.append("VM %s has %d checkpoint(s): %s" % (lc.quote(vm.name), len(cps[vm.id]), ", ".join(
                    "%s (%s)" % (lc.quote(c.name), c.id) for c in cps[vm.id])))
        if blocked:
            if len(moving) == 1:
                target["vm"], target["vm_id"] = moving[0].name, moving[0].id
            raise lc.PreflightError(
                "Cannot move the checkpoint file location to %s: Hyper-V allows it only while a VM has no "
                "checkpoints. %s" % (location[0], "; ".join(blocked)),
                hint="Remove the checkpoints first (hyperv.checkpoints.checkpoint state=absent), or move their files "
                     "with Move-VMStorage -SnapshotFilePath outside this module. Nothing was changed.",
            )
    for vm, p in plans:
        if "automatic_checkpoints" in p["changes"] and vm.automatic_checkpoints is None:
            target["vm"], target["vm_id"] = vm.name, vm.id
            raise lc.PreflightError(
                "The host does not report AutomaticCheckpointsEnabled for the VM, so it does not support automatic "
                "checkpoints (Windows Server 2016 and earlier)",
                hint="Leave automatic_checkpoints unset for this host.")
    if params["checkpoint_type"] == "standard" and not params["allow_domain_controller"]:
        changing = [vm for vm, p in plans if "checkpoint_type" in p["changes"]]
        if changing:
            roles = client.guest_roles([vm.id for vm in changing])
            dcs = [vm for vm in changing if roles[vm.id].domain_controller]
            if dcs:
                if len(dcs) == 1:
                    target["vm"], target["vm_id"] = dcs[0].name, dcs[0].id
                raise lc.PreflightError(
                    "Refusing standard checkpoints for domain controller guest(s): %s" % ", ".join(
                        _label(vm) for vm in dcs),
                    hint="Only production checkpoints are supported for domain controllers (USN rollback risk); use "
                         "production_only, or set allow_domain_controller: true to override.")
    return plans


def set_vm_pipeline(vm, p, params):
    s = p["set"]
    return HyperVClient.set_vm_pipeline(
        vm.id,
        checkpoint_type=s.get("checkpoint_type"),
        automatic_checkpoints=s.get("automatic_checkpoints"),
        snapshot_file_location=s.get("snapshot_file_location"),
        allow_unverified_paths=bool(params["allow_unverified_paths"]) and "snapshot_file_location" in s,
    )


def apply(client, plans, params, check_mode, target, report):
    """Make the changes (outside check mode), filling ``report`` (per-VM entries).

    Every VM to change is first waited for until idle (a timeout raises before anything is sent); then
    the Set-VM pipelines of all of them go in one ``client.run`` (at most ``parallel`` at once, one
    pipeline per VM). Every result is settled before a failure is raised, so ``report`` marks each VM
    that was changed, and the raised error names every VM that failed.
    """
    todo = []
    for vm, p in plans:
        entry = {"vm_id": vm.id, "vm_name": vm.name, "changed": bool(p["changes"]), "changes": p["changes"],
                 "before": p["before"], "after": p["after"]}
        report.append(entry)
        if p["changes"] and not check_mode:
            todo.append((vm, p, entry))
    for vm, p, entry in todo:
        target["vm"], target["vm_id"] = vm.name, vm.id
        lc.wait_until_idle(client, vm, params["wait_timeout"], params["poll_interval"],
                           action="change the checkpoint settings")
    if not todo:
        return report
    if len(todo) > 1:
        target.pop("vm", None)
        target.pop("vm_id", None)
    failures = []
    outputs = {}

    def settle(index, res):
        # mark each VM as its result arrives, so a session fault later in the window keeps ``changed`` true
        vm, _plan, entry = todo[index]
        try:
            outputs[index] = raise_for_result(res, "changing VM settings")
        except HyperVError as exc:
            failures.append((vm, exc))
            return
        entry["written"] = True

    try:
        client.run([set_vm_pipeline(vm, p, params) for vm, p, entry in todo], on_result=settle)
    except HyperVError as exc:
        unknown = [todo[i][0] for i in getattr(exc, "started", None) or []]
        if unknown:
            exc.hint = ((exc.hint or "") + " Set-VM was sent to %s but its result is unknown; run the task again: "
                        "it compares the settings again and changes only what still differs." % ", ".join(
                            "VM '%s' (%s)" % (v.name, v.id) for v in unknown)).strip()
        raise
    for index, output in outputs.items():
        vm, _plan, entry = todo[index]
        updated = VM.from_plain(output[-1]) if output else client.get_vm(vm.id)
        entry["after"] = pol.current_settings(updated)
    if failures:
        vm, exc = failures[0]
        target["vm"], target["vm_id"] = vm.name, vm.id
        if len(failures) > 1:
            others = "; ".join("VM '%s' (%s): %s" % (v.name, v.id, e) for v, e in failures[1:])
            exc.hint = ((exc.hint or "") + " %d VMs failed; also: %s." % (len(failures), others)).strip()
        raise exc
    return report


def main():
    module = HyperVModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_one_of=[("vm_name", "vm_id", "vm_names", "vm_ids")],
    )
    params = module.params
    problems = module.validation_errors([
        (validate_vm_name, params["vm_name"], "vm_name"),
        (validate_vm_name, params["vm_names"] or [], "vm_names"),
        (validate_guid, params["vm_id"], "vm_id"),
        (validate_guid, params["vm_ids"] or [], "vm_ids"),
    ])
    if params["checkpoint_type"] is None and params["automatic_checkpoints"] is None and \
            params["snapshot_file_location"] is None:
        problems.append("set at least one of checkpoint_type, automatic_checkpoints and snapshot_file_location")
    if params["wait_timeout"] < 0:
        problems.append("wait_timeout must be 0 or more seconds")
    if params["poll_interval"] < 0:
        problems.append("poll_interval must be 0 or more seconds")
    problem = parallel_problem(params["parallel"])
    if problem:
        problems.append(problem)
    location = None
    if params["snapshot_file_location"] is not None:
        try:
            location = pol.normalize_path(params["snapshot_file_location"])
        except ConfigurationError as exc:
            problems.append(str(exc))
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False)

    target = {}
    if params["vm_name"] is not None and not (params["vm_names"] or params["vm_ids"] or params["vm_id"]):
        target["vm"] = params["vm_name"]
    if params["vm_id"] is not None and not (params["vm_names"] or params["vm_ids"]):
        target["vm_id"] = params["vm_id"]
    step = "read the checkpoint settings"
    report = []
    try:
        with module.client(parallel=params["parallel"]) as client:
            plans = plan(client, params, location, target)
            step = "change the checkpoint settings"
            apply(client, plans, params, module.check_mode, target, report)
    except HyperVError as exc:
        done = [e for e in report if e.pop("written", False)]
        partial = {"changed": bool(done), "vms": done}
        module.fail_from(exc, step, result=partial, **target)
    for entry in report:
        entry.pop("written", None)
    result = {"changed": any(e["changed"] for e in report), "vms": report}
    if module.module._diff:
        result["diff"] = {
            "before": dict(("%s (%s)" % (e["vm_name"], e["vm_id"]), e["before"]) for e in report),
            "after": dict(("%s (%s)" % (e["vm_name"], e["vm_id"]), e["after"]) for e in report),
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
