#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: checkpoint_info
short_description: Read the checkpoint tree of Hyper-V virtual machines
version_added: 0.1.0
description:
  - Returns the checkpoints (snapshots) of one, several or all VMs of a Hyper-V host, as a tree.
  - For each VM it reports where the current state ("Now") hangs in the tree, the depth of the differencing
    chain of each disk, and whether a disk merge is still running.
  - For each checkpoint it reports its parent and children, its age, its type, whether it holds a memory state
    and which kind of checkpoint was actually captured, and the size of its own differencing (AVHDX) files.
  - VMs and checkpoints are selected by exact name or by Id. Names are compared exactly (case-sensitive, no
    trimming) and are never passed to a wildcard-capable C(-Name) parameter on the host.
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
      - Exact names of several VMs.
    type: list
    elements: str
  vm_ids:
    description:
      - Ids (GUIDs) of several VMs.
    type: list
    elements: str
  name:
    description:
      - Return only the checkpoints with exactly this name (case-sensitive, no trimming).
      - Several checkpoints can share a name; all of them are returned.
      - The tree facts (parent, children, depth, Now position) are still computed over all checkpoints.
    type: str
  checkpoint_id:
    description:
      - Return only the checkpoint with this Id (GUID).
    type: str
  include_files:
    description:
      - Read the disks of each checkpoint and the size of its differencing files (RV(vms[].checkpoints[].files),
        RV(vms[].checkpoints[].size)), and the VHD chain of each VM disk (RV(vms[].disks)).
      - Costs extra calls to the host.
    type: bool
    default: true
notes:
  - "Failure rule: all or nothing. A VM that is not found, or whose read fails, fails the task with a message that
    names it; no partial list is returned. Reading changes nothing, so the task can simply be run again."
  - When none of O(vm_name), O(vm_id), O(vm_names) and O(vm_ids) is given, the checkpoints of every VM are returned.
  - The reads go in one round per kind of fact (VMs by Id, checkpoints, disks, checkpoint disks, each level of the
    VHD chains), one pipeline per VM, checkpoint or path, at most O(parallel) at once.
  - The captured kind (RV(vms[].checkpoints[].captured_type)) follows the rule that a checkpoint with a saved
    memory state (C(State=Saved)) is a standard checkpoint of a running VM, and one without (C(State=Off)) is a
    production checkpoint, or a checkpoint of a VM that was off, where both kinds hold the same content. Hyper-V
    reports C(SnapshotType=Standard) for both kinds, so this is the only available signal; it is not yet verified
    on every Windows Server version.
seealso:
  - module: hyperv.checkpoints.vm_info
extends_documentation_fragment:
  - hyperv.checkpoints.connection
  - hyperv.checkpoints.batch
  - hyperv.checkpoints._attributes
  - hyperv.checkpoints._attributes.INFO_MODULE
  - hyperv.checkpoints._attributes.ACTION_GROUP
"""

EXAMPLES = r"""
- name: Checkpoint tree of one VM
  hyperv.checkpoints.checkpoint_info:
    hyperv_host: hv01.example.com
    vm_name: web01
  delegate_to: localhost
  register: tree

- name: Show where the current state hangs
  ansible.builtin.debug:
    msg: "web01 derives from {{ tree.vms[0].now_parent_name | default('no checkpoint') }}"

- name: Wait until no merge is pending on the VM
  hyperv.checkpoints.checkpoint_info:
    hyperv_host: hv01.example.com
    vm_id: 6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f
    include_files: false
  delegate_to: localhost
  register: merge
  until: not merge.vms[0].merge_pending
  retries: 30
  delay: 10

- name: Find the checkpoints named before-patch on all VMs
  hyperv.checkpoints.checkpoint_info:
    hyperv_host: hv01.example.com
    name: before-patch
    include_files: false
  delegate_to: localhost
  register: before_patch
"""

RETURN = r"""
vms:
  description: One entry per selected VM.
  returned: success
  type: list
  elements: dict
  contains:
    vm_id:
      description: VM Id.
      type: str
    vm_name:
      description: VM name.
      type: str
    state:
      description: VM state (enum name).
      type: str
    operational_status:
      description: VM operational status values.
      type: list
      elements: str
    checkpoint_type:
      description: Configured checkpoint type of the VM.
      type: str
    checkpoint_count:
      description: Number of checkpoints of the VM (all types), whatever the filter.
      type: int
    now_parent_id:
      description: Id of the checkpoint the current state ("Now") derives from; V(null) without checkpoints.
        Hyper-V Manager's I(Revert) applies this checkpoint.
      type: str
    now_parent_name:
      description: Name of that checkpoint.
      type: str
    now_depth:
      description: Number of checkpoints between the root and "Now".
      type: int
    latest_id:
      description: The Revert target (the parent of "Now"); same as RV(vms[].now_parent_id).
      type: str
    root_ids:
      description: Ids of the root checkpoints, oldest first.
      type: list
      elements: str
    merge_pending:
      description: V(true) while the VM reports C(MergingDisks), that is a removed checkpoint is still being
        merged. Wait before the next checkpoint operation.
      type: bool
    disks:
      description: VM disks with the depth of their differencing chain. Empty when O(include_files=false).
      type: list
      elements: dict
      contains:
        path:
          description: Current file of the disk.
          type: str
        chain_depth:
          description: Number of differencing files in the chain.
          type: int
        avhdx_paths:
          description: Differencing files, newest first.
          type: list
          elements: str
    checkpoints:
      description: The checkpoints, pre-order from the oldest root (a parent before its children).
      type: list
      elements: dict
      contains:
        id:
          description: Checkpoint Id.
          type: str
        name:
          description: Checkpoint name, exactly as Hyper-V reports it.
          type: str
        vm_id:
          description: Id of the VM.
          type: str
        vm_name:
          description: Name of the VM.
          type: str
        parent_id:
          description: Id of the parent checkpoint, V(null) for a root.
          type: str
        parent_name:
          description: Name of the parent checkpoint.
          type: str
        children_ids:
          description: Ids of the immediate children, oldest first.
          type: list
          elements: str
        depth:
          description: 1 for a root, 2 for its children, and so on.
          type: int
        creation_time:
          description: Creation time, ISO 8601 with offset.
          type: str
          sample: "2026-11-25T15:07:27.0000000+00:00"
        age_seconds:
          description: Seconds since creation, measured on the controller.
          type: int
        snapshot_type:
          description: V(Standard) for user checkpoints (production and standard alike), or V(Recovery),
            V(Planned), V(Missing), V(Replica), V(AppConsistentReplica), V(SyncedReplica).
          type: str
        state:
          description: V(Saved) when the checkpoint holds a memory state, V(Off) otherwise.
          type: str
        captured_memory:
          description: Whether the checkpoint holds a memory state.
          type: bool
        captured_type:
          description: V(standard) when memory was captured (standard checkpoint of a running VM), V(production)
            when not. See the notes for the rule and its limits.
          type: str
        is_automatic:
          description: Whether Hyper-V created it automatically.
          type: bool
        is_current:
          description: Whether "Now" hangs directly under this checkpoint.
          type: bool
        on_now_path:
          description: Whether this checkpoint is an ancestor of "Now" (its files are in the live chain).
          type: bool
        path:
          description: Folder of the checkpoint configuration.
          type: str
        files:
          description: The checkpoint's own differencing files; V(null) when not read.
          type: list
          elements: str
        size:
          description: Total size in bytes of RV(vms[].checkpoints[].files); V(null) when unknown.
          type: int
checkpoints:
  description: All returned checkpoints of all VMs in one flat list (same entries as RV(vms[].checkpoints)).
  returned: success
  type: list
  elements: dict
"""

import datetime

from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import HyperVError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._module import (
    HyperVModule,
    validate_checkpoint_name,
    validate_guid,
    validate_vm_name,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._parallel import parallel_argument, parallel_problem
from ansible_collections.hyperv.checkpoints.plugins.module_utils._reports import vm_tree_report


def argument_spec():
    return dict(
        vm_name=dict(type="str"),
        vm_id=dict(type="str"),
        vm_names=dict(type="list", elements="str"),
        vm_ids=dict(type="list", elements="str"),
        name=dict(type="str"),
        checkpoint_id=dict(type="str"),
        include_files=dict(type="bool", default=True),
        parallel=parallel_argument(),
    )


def gather(client, vm_names, vm_ids, name, checkpoint_id, include_files, now):
    """Read the selected VMs' checkpoints and build the report (no exits)."""
    vms = client.select_vms(vm_names, vm_ids)
    ids = [vm.id for vm in vms]
    checkpoints = client.list_checkpoints_many(ids) if ids else {}
    wanted_id = checkpoint_id.strip().strip("{}").lower() if checkpoint_id else None

    selected = {}
    for vm in vms:
        cps = checkpoints[vm.id]
        if name is not None or wanted_id is not None:
            selected[vm.id] = [
                c for c in cps if (name is None or c.name == name) and (wanted_id is None or c.id == wanted_id)
            ]
        else:
            selected[vm.id] = None

    disks = {vm_id: [] for vm_id in ids}
    files = {}
    if include_files and ids:
        per_vm = client.list_hard_disks_many(ids)
        owners = [vm_id for vm_id in ids for dummy in per_vm[vm_id]]
        resolved = client.resolve_chains([d for vm_id in ids for d in per_vm[vm_id]])
        for vm_id, disk in zip(owners, resolved):
            disks[vm_id].append(disk)
        shown = [c for vm in vms for c in (selected[vm.id] if selected[vm.id] is not None else checkpoints[vm.id])]
        if shown:
            cp_disks = client.list_checkpoint_disks_many([c.id for c in shown])
            paths = [d.path for ds in cp_disks.values() if ds for d in ds if d.path]
            vhds = client.get_vhds(paths) if paths else {}
            for cid, ds in cp_disks.items():
                if ds is None:
                    continue
                links = [vhds.get(d.path) for d in ds if d.path]
                if any(link is None for link in links):
                    continue
                files[cid] = [link for link in links if link.is_differencing]

    reports = [
        vm_tree_report(vm, checkpoints[vm.id], disks.get(vm.id), now, files, selected=selected[vm.id]) for vm in vms
    ]
    return reports


def main():
    module = HyperVModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[("name", "checkpoint_id")],
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
            (validate_checkpoint_name, params["name"], "name"),
            (validate_guid, params["checkpoint_id"], "checkpoint_id"),
        ]
    )
    problem = parallel_problem(params["parallel"])
    if problem:
        problems.append(problem)
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False)
    module.connection_options()  # refuses insecure combinations and missing libraries before connecting

    target = {}
    if len(vm_names) == 1 and not vm_ids:
        target["vm"] = vm_names[0]
    if len(vm_ids) == 1 and not vm_names:
        target["vm_id"] = vm_ids[0]
    if params["name"] is not None:
        target["checkpoint"] = params["name"]
    if params["checkpoint_id"] is not None:
        target["checkpoint_id"] = params["checkpoint_id"]
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        with module.client(parallel=params["parallel"]) as client:
            vms = gather(
                client, vm_names, vm_ids, params["name"], params["checkpoint_id"], params["include_files"], now
            )
    except HyperVError as exc:
        module.fail_from(exc, "read checkpoints", **target)
    except Exception as exc:  # pylint: disable=broad-except
        # an unexpected bug: still fail cleanly, with the traceback in the result
        module.fail_from(exc, "read checkpoints", **target)
    flat = [cp for vm in vms for cp in vm["checkpoints"]]
    module.exit_json(changed=False, vms=vms, checkpoints=flat)


if __name__ == "__main__":
    main()
