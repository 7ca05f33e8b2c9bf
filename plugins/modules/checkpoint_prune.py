#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: checkpoint_prune
short_description: Apply a retention policy to the checkpoints of Hyper-V virtual machines
version_added: 0.1.0
description:
  - Removes old checkpoints of one or several VMs according to O(keep_newest) and/or O(older_than), oldest first,
    one merge at a time per VM, waiting for each merge with O(merge_timeout), so that a prune never starts a merge
    storm on the host.
  - B(Scoped.) By default only checkpoints that this collection owns are considered, that is checkpoints whose name
    starts with O(owned_prefix) (V(ansible-) by default). Give the checkpoints you create with
    M(hyperv.checkpoints.checkpoint) such a name, for example V(ansible-nightly-2026-11-25). Hyper-V has no
    cmdlet to tag a checkpoint (its C(Notes) are a copy of the VM notes), so the name prefix is the only marker that
    survives export, import and host moves. O(name_pattern) narrows the scope further.
  - B(Never) removes a checkpoint whose type is not C(Standard) (Recovery, Planned, Missing, Replica,
    AppConsistentReplica, SyncedReplica are owned by backup products, Hyper-V Replica or Hyper-V itself), and never
    the checkpoint the VM currently runs from unless O(include_current=true).
  - Each removal is C(Remove-VMSnapshot) of one checkpoint by Id, without its children; the children are re-parented
    onto its parent by Hyper-V. Removing a checkpoint merges its differencing disk; nothing is lost from the VM's
    current state.
  - In check mode the module lists exactly the checkpoints that would be removed, in the order they would be removed.
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
      - Exact names of several VMs of the host. They are pruned side by side (see the notes); RV(vms) and
        RV(removed) list them in this order.
    type: list
    elements: str
    aliases: [vms]
  vm_ids:
    description:
      - Ids (GUIDs) of several VMs of the host, listed after O(vm_names) in RV(vms) and RV(removed).
    type: list
    elements: str
  keep_newest:
    description:
      - Keep this many of the newest checkpoints in scope (by creation time). Older ones in scope are removed,
        subject to O(older_than) when it is set too.
      - At least one of O(keep_newest) and O(older_than) is required.
    type: int
  older_than:
    description:
      - Remove only checkpoints in scope older than this, for example V(7d), V(12h), V(90m), V(2w) or V(1d12h)
        (units C(s), C(m), C(h), C(d), C(w); a bare number is seconds). The age is measured on the controller from
        the checkpoint's creation time.
      - With O(keep_newest) as well, a checkpoint is removed only when it is both outside the newest O(keep_newest)
        and older than this.
    type: str
  name_pattern:
    description:
      - Only checkpoints whose name matches this pattern are in scope. Matched on the controller, case-sensitive;
        never sent to the host's wildcard-capable C(-Name) parameter.
      - With O(pattern_type=glob) the whole name must match (C(*), C(?), C([seq])). With O(pattern_type=regex) it is
        a Python regular expression searched in the name; anchor it with C(^) and C($).
      - Required when O(owned_only=false), so that a prune is never unscoped.
    type: str
  pattern_type:
    description:
      - How O(name_pattern) is read.
    type: str
    choices: [glob, regex]
    default: glob
  owned_prefix:
    description:
      - The name prefix that marks a checkpoint as created by this collection. Compared case-sensitively.
    type: str
    default: ansible-
  owned_only:
    description:
      - Consider only checkpoints whose name starts with O(owned_prefix).
      - Set to V(false) to prune checkpoints made by people or other tools too; O(name_pattern) is then required.
    type: bool
    default: true
  include_current:
    description:
      - Allow removing the checkpoint the VM currently runs from (the parent of "Now", C(ParentSnapshotId)). The VM's
        current state is kept either way; only the point to revert to is lost.
    type: bool
    default: false
  wait_for_merge:
    description:
      - Wait, after the last removal of each VM, until the VM no longer reports C(MergingDisks).
      - Between two removals of the same VM the module always waits for the merge, whatever this option says.
    type: bool
    default: true
  merge_timeout:
    description:
      - Seconds to wait for one merge (and for a merge already running when the task starts) to finish. When it
        expires the task fails, names the checkpoint and reports what was removed so far; rerun the task later.
    type: int
    default: 600
  check_free_space:
    description:
      - Before removing anything, check that the volume of each differencing file to merge has at least the size
        of that file free (a merge writes the changed blocks into the parent disk). Fails with the numbers
        otherwise, before any change.
    type: bool
    default: true
  poll_interval:
    description:
      - Seconds between two reads of the VM while waiting for a merge.
    type: float
    default: 2.0
notes:
  - On each VM the checkpoints are removed one at a time, oldest first, and the module waits for each merge before
    that VM's next removal, so a prune of a long chain can take a long time. Use O(merge_timeout) and C(async) if
    needed.
  - The VMs of the host are pruned side by side. At most O(parallel) merges started by the task run at once (a merge
    already running on a target VM when the task starts counts), so a prune of many VMs neither goes one VM after
    the other nor floods the host's storage with merges. O(parallel=1) gives the one-VM-after-the-other order.
  - "Failure rule: fail fast. The first failed removal or merge timeout stops the task: no new removal is sent, every
    removal already sent is settled and listed in RV(removed), and the planned removals not made are listed per VM
    in RV(vms[].not_removed) (and in a warning). A rerun re-reads the checkpoints and continues; it never repeats a
    removal that was applied."
  - Before the first removal every target VM is read again by Id; if any is busy (a backup, an export, a migration,
    another checkpoint operation), the task fails before it removes anything from any VM.
  - If the connection drops after a removal was sent, the module reconnects and re-reads by Id each checkpoint whose
    removal was sent but not confirmed. When it is gone the removal counts as done (RV(removed[].note) says so); when
    it is still there the removal is sent once more. Removals the window had not sent yet are sent normally
    afterwards. If reconnecting fails, the task fails; run it again, it re-reads the checkpoints and never repeats a
    removal that was applied.
  - RV(reclaimed_bytes) is an estimate, the size of the differencing (AVHDX) files of the removed checkpoints read
    before removal; the exact space freed by a merge depends on how many blocks the parent already holds.
  - The reads go in one round per kind of fact (the VMs by Id, the checkpoints of every VM, their disks and the
    C(Get-VHD) of their files), one pipeline per VM, checkpoint or path, at most O(parallel) at once. The removals
    go out in windows holding the oldest planned checkpoint of each idle VM, and one host-wide C(Get-VM) per poll
    tells which merges have finished.
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
      - Lists exactly the checkpoints that would be removed, oldest first.
  diff_mode:
    support: full
    details:
      - The diff shows the checkpoint tree of each VM before and after.
  idempotent:
    support: full
    details:
      - A second run with the same options and an unchanged clock removes nothing. Time passing can make more
        checkpoints older than O(older_than).
"""

EXAMPLES = r"""
- name: Take tonight's checkpoint with a name that marks it as owned by the collection
  hyperv.checkpoints.checkpoint:
    hyperv_host: hv01.example.com
    vm_name: web01
    name: "ansible-nightly-{{ now(utc=true).strftime('%Y-%m-%d') }}"
    state: present
  delegate_to: localhost

- name: Keep the 7 newest nightly checkpoints this collection made
  hyperv.checkpoints.checkpoint_prune:
    hyperv_host: hv01.example.com
    vm_name: web01
    name_pattern: "ansible-nightly-*"
    keep_newest: 7
  delegate_to: localhost

- name: Remove our checkpoints older than 14 days on several VMs, but always keep the newest 2
  hyperv.checkpoints.checkpoint_prune:
    hyperv_host: hv01.example.com
    vm_names: [web01, app01]
    older_than: 14d
    keep_newest: 2
    merge_timeout: 3600
  delegate_to: localhost
  register: pruned

- name: Show what was removed and the space reclaimed
  ansible.builtin.debug:
    msg: "{{ pruned.removed | map(attribute='name') | list }} ({{ pruned.reclaimed_bytes | default(0) | human_readable }})"

- name: Preview a prune of manual checkpoints named like pre-patch-2026-..., with a regex
  hyperv.checkpoints.checkpoint_prune:
    hyperv_host: hv01.example.com
    vm_id: 6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f
    owned_only: false
    name_pattern: '^pre-patch-\d{4}-\d{2}-\d{2}$'
    pattern_type: regex
    older_than: 30d
  check_mode: true
  diff: true
  delegate_to: localhost
"""

RETURN = r"""
removed:
  description: The checkpoints removed (in check mode, that would be removed), VM by VM in the order the VMs were
    given, and on each VM in the order of removal (oldest first).
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
    id:
      description: Checkpoint Id.
      type: str
    name:
      description: Checkpoint name.
      type: str
    creation_time:
      description: Creation time, ISO 8601.
      type: str
    age_seconds:
      description: Age when the task ran.
      type: int
    size:
      description: Size in bytes of the checkpoint's own differencing files; V(null) when unknown.
      type: int
    merge_seconds:
      description: How long the module waited for the merge after this removal; V(null) in check mode or when not
        waited.
      type: float
    already_absent:
      description: V(true) when the checkpoint was already gone when the removal was sent (another task removed it).
      type: bool
    note:
      description: Set when the connection dropped after the removal was sent, or the host refused it with a WinRM
        quota fault, and the module reconnected and re-read the checkpoint by Id (gone, so counted as removed; or
        still there, so removed once more).
      type: str
reclaimed_bytes:
  description: Sum of RV(removed[].size); an estimate, see the notes. V(null) when a size is unknown.
  returned: always
  type: int
vms:
  description: One entry per VM with the decision for every checkpoint.
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
    removed:
      description: Same entries as RV(removed), for this VM.
      type: list
      elements: dict
    kept:
      description: Checkpoints in scope that stay, each with C(id), C(name), C(creation_time) and C(reason).
      type: list
      elements: dict
    skipped:
      description: Checkpoints outside the scope, each with C(id), C(name), C(snapshot_type) and C(reason)
        (type never pruned, not owned, name does not match).
      type: list
      elements: dict
    not_removed:
      description: Planned removals (C(id), C(name)) the task did not make because it stopped at a failure (see the
        failure rule in the notes); empty when the task succeeded and in check mode.
      type: list
      elements: dict
    reclaimed_bytes:
      description: Estimated bytes reclaimed on this VM.
      type: int
"""

import contextlib
import datetime

from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import volume_for_path
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import HyperVError, OperationTimeoutError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._module import (
    HyperVModule,
    validate_guid,
    validate_vm_name,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._parallel import parallel_argument, parallel_problem
from ansible_collections.hyperv.checkpoints.plugins.module_utils._prune import (
    Lane,
    LaneError,
    PruneRefused,
    PruneRun,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._reports import age_seconds
from ansible_collections.hyperv.checkpoints.plugins.module_utils._retention import (
    RetentionError,
    compile_matcher,
    parse_duration,
    select,
    tree_after,
    tree_before,
)


class Session(object):
    """The module's client, which can be reopened once after a dropped connection."""

    def __init__(self, module, parallel=1):
        self.module = module
        self.parallel = parallel
        self.stack = contextlib.ExitStack()
        self.client = None

    def open(self):
        self.client = self.stack.enter_context(self.module.client(parallel=self.parallel))
        return self.client

    def reopen(self):
        try:
            self.stack.close()
        except Exception:  # pylint: disable=broad-except
            pass  # the old transport is broken; closing it is best effort
        self.stack = contextlib.ExitStack()
        return self.open()

    def close(self):
        self.stack.close()


def argument_spec():
    return dict(
        vm_name=dict(type="str"),
        vm_id=dict(type="str"),
        vm_names=dict(type="list", elements="str", aliases=["vms"]),
        vm_ids=dict(type="list", elements="str"),
        keep_newest=dict(type="int"),
        older_than=dict(type="str"),
        name_pattern=dict(type="str"),
        pattern_type=dict(type="str", default="glob", choices=["glob", "regex"]),
        owned_prefix=dict(type="str", default="ansible-"),
        owned_only=dict(type="bool", default=True),
        include_current=dict(type="bool", default=False),
        wait_for_merge=dict(type="bool", default=True),
        merge_timeout=dict(type="int", default=600),
        check_free_space=dict(type="bool", default=True),
        poll_interval=dict(type="float", default=2.0),
        parallel=parallel_argument(),
    )


def checkpoint_sizes(client, checkpoints):
    """{checkpoint id: [VhdChainLink] of its own differencing files, or None when unknown}."""
    if not checkpoints:
        return {}
    cp_disks = client.list_checkpoint_disks_many([c.id for c in checkpoints])
    paths = [d.path for ds in cp_disks.values() if ds for d in ds if d.path]
    vhds = client.get_vhds(paths) if paths else {}
    out = {}
    for cid, ds in cp_disks.items():
        if ds is None:
            out[cid] = None
            continue
        links = [vhds.get(d.path) for d in ds if d.path]
        if any(link is None for link in links):
            out[cid] = None
            continue
        out[cid] = [link for link in links if link.is_differencing]
    return out


def _size(links):
    if links is None:
        return None
    sizes = [link.file_size for link in links]
    if any(s is None for s in sizes):
        return None
    return sum(sizes)


def free_space_problems(volumes, plans, files):
    """Messages for differencing files whose volume has less free space than the file's size."""
    problems = []
    for vm, selection in plans:
        for cp in selection["remove"]:
            for link in files.get(cp.id) or []:
                vol = volume_for_path(volumes, link.path)
                if vol is None or vol.size_remaining is None or link.file_size is None:
                    continue
                if vol.size_remaining < link.file_size:
                    problems.append(
                        "merging checkpoint '%s' (%s) of VM '%s' needs up to %d bytes on volume %s, which has %d "
                        "bytes free" % (cp.name, cp.id, vm.name, link.file_size,
                                        vol.drive_letter and vol.drive_letter + ":" or vol.path, vol.size_remaining))
    return problems


def not_removed(lanes, reports):
    """Record on each VM report the planned removals not done (the lane's queue); the reports that have some."""
    queues = dict((lane.vm.id, lane.queue) for lane in lanes)
    for report in reports:
        report["not_removed"] = [{"id": cp.id, "name": cp.name} for cp in queues.get(report["vm_id"], [])]
    return [report for report in reports if report["not_removed"]]


def main():
    module = HyperVModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_one_of=[("vm_name", "vm_id", "vm_names", "vm_ids"), ("keep_newest", "older_than")],
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
    older_than = None
    matcher = None
    try:
        if params["older_than"] is not None:
            older_than = parse_duration(params["older_than"])
        matcher = compile_matcher(params["name_pattern"], params["pattern_type"])
    except RetentionError as exc:
        problems.append(str(exc))
    if params["keep_newest"] is not None and params["keep_newest"] < 0:
        problems.append("keep_newest must be 0 or more")
    if params["merge_timeout"] < 0 or params["poll_interval"] < 0:
        problems.append("merge_timeout and poll_interval must be 0 or more")
    if not params["owned_only"] and params["name_pattern"] is None:
        problems.append("owned_only=false needs name_pattern: a prune is never unscoped (it would otherwise "
                        "consider every Standard checkpoint of the VM, including ones people made)")
    if params["owned_only"] and not params["owned_prefix"]:
        problems.append("owned_prefix must not be empty")
    problem = parallel_problem(params["parallel"])
    if problem:
        problems.append(problem)
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False, removed=[], reclaimed_bytes=0, vms=[])

    now = datetime.datetime.now(datetime.timezone.utc)
    check_mode = module.check_mode
    reports = []
    lanes = []
    warnings = []
    diff = {"before": {}, "after": {}}
    target = {}
    action = "plan the prune of"
    if len(vm_names) == 1 and not vm_ids:
        target["vm"] = vm_names[0]
    if len(vm_ids) == 1 and not vm_names:
        target["vm_id"] = vm_ids[0]

    def entry(vm, cp, files):
        return {"vm_id": vm.id, "vm_name": vm.name, "id": cp.id, "name": cp.name,
                "creation_time": cp.creation_time, "age_seconds": age_seconds(cp.creation_time, now),
                "size": _size(files.get(cp.id)), "merge_seconds": None, "already_absent": False, "note": None}

    def total(entries):
        sizes = [e["size"] for e in entries if not e["already_absent"]]
        return None if any(s is None for s in sizes) else sum(sizes)

    try:
        session = Session(module, parallel=params["parallel"])
        with contextlib.closing(session):
            client = session.open()
            vms = client.find_vms(vm_names, vm_ids)
            listing = client.list_checkpoints_many([vm.id for vm in vms]) if vms else {}
            plans = []
            for vm in vms:
                target = {"vm": vm.name, "vm_id": vm.id}
                selection = select(listing[vm.id], vm.parent_checkpoint_id, now, params["keep_newest"], older_than,
                                   matcher, params["owned_prefix"], params["owned_only"], params["include_current"])
                plans.append((vm, selection))
            target = {} if len(vms) != 1 else {"vm": vms[0].name, "vm_id": vms[0].id}
            to_remove = [cp for plan_item in plans for cp in plan_item[1]["remove"]]
            files = checkpoint_sizes(client, to_remove)
            if to_remove and params["check_free_space"]:
                short = free_space_problems(client.list_volumes(), plans, files)
                if short:
                    raise PruneRefused("not enough free space to merge: " + "; ".join(short),
                                       hint="Free space on the volume first; nothing was removed.")

            def recorder(report):
                def record(lane, cp, removed_now, note):
                    item = entry(lane.vm, cp, files)
                    item["already_absent"] = not removed_now
                    if note:
                        item["note"] = note
                        warnings.append("Checkpoint '%s' (%s) of VM '%s': %s." % (cp.name, cp.id, lane.vm.name, note))
                    report["removed"].append(item)
                    report["reclaimed_bytes"] = total(report["removed"])
                    return item
                return record

            for vm, sel in plans:
                report = {
                    "vm_id": vm.id, "vm_name": vm.name,
                    "removed": [],
                    "kept": [{"id": cp.id, "name": cp.name, "creation_time": cp.creation_time, "reason": why}
                             for cp, why in sel["keep"]],
                    "skipped": [{"id": cp.id, "name": cp.name, "snapshot_type": cp.snapshot_type, "reason": why}
                                for cp, why in sel["skip"]],
                    "reclaimed_bytes": 0,
                }
                reports.append(report)
                key = "%s (%s)" % (vm.name, vm.id)
                diff["before"][key] = tree_before(listing[vm.id])
                diff["after"][key] = tree_after(listing[vm.id], vm.parent_checkpoint_id,
                                                [cp.id for cp in sel["remove"]])[0]
                if check_mode:
                    for cp in sel["remove"]:
                        report["removed"].append(entry(vm, cp, files))
                    report["reclaimed_bytes"] = total(report["removed"])
                    continue
                lanes.append(Lane(vm, sel["remove"], recorder(report)))
            action = "remove the planned checkpoints of"
            PruneRun(session, lanes, params["parallel"], params["wait_for_merge"], params["merge_timeout"],
                     params["poll_interval"]).run()
    except (HyperVError, RetentionError) as exc:
        if isinstance(exc, RetentionError):
            exc = PruneRefused(str(exc))
        if isinstance(exc, LaneError):
            action, target, exc = exc.action, exc.target(), exc.error
        flat = [item for report in reports for item in report["removed"]]
        pending = not_removed(lanes, reports)
        if pending:
            warnings.append("Not removed, the task stopped at the first failure (fail fast): %s" % ", ".join(
                "%s (%s): %d checkpoint(s)" % (r["vm_name"], r["vm_id"], len(r["not_removed"])) for r in pending))
        for text in warnings:
            module.warn(text)
        if isinstance(exc, OperationTimeoutError) and flat and not check_mode:
            exc.hint = ("The checkpoint is removed and its merge is still running on the host; the tree is "
                        "consistent. Run the task again later: it waits for the merge and continues.")
        module.fail_from(exc, action, result={"changed": any(not e["already_absent"] for e in flat),
                                              "removed": flat, "reclaimed_bytes": total(flat), "vms": reports},
                         **target)
    flat = [item for report in reports for item in report["removed"]]
    not_removed(lanes, reports)
    for text in warnings:
        module.warn(text)
    result = {"changed": any(not e["already_absent"] for e in flat), "removed": flat,
              "reclaimed_bytes": total(flat), "vms": reports}
    if module.module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
