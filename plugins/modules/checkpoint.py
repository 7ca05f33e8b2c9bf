#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: checkpoint
short_description: Create, rename and remove Hyper-V checkpoints
version_added: 0.1.0
description:
  - Creates a checkpoint with an exact name when none exists (O(state=present)), renames one (O(new_name)), or
    removes one with or without its subtree and waits for the disk merge (O(state=absent)).
  - VMs and checkpoints are matched by exact name (case-sensitive, no trimming) or by Id. Names are never passed
    to a wildcard-capable C(-Name) parameter, so C(web*) or C(db[01]) only match a checkpoint literally named so.
  - When a name matches several checkpoints the task fails and lists their Ids; nothing is acted on silently.
  - Before a checkpoint is created, a preflight checks, without changing anything, that the VM exists and is not
    busy (a running merge is waited for up to O(wait_timeout)), that checkpoints are not disabled, that the VM is
    below the limit of 50 checkpoints, that the volumes have room, that no pass-through disk, shared VHDX or virtual
    Fibre Channel adapter is attached, and that the guest is not a domain controller.
  - With O(vm_names) or O(vm_ids) the task creates or removes the checkpoint O(name) on many VMs of one host in
    one session (batch mode, see the notes), with up to O(parallel) operations at once and one result per VM in
    RV(results).
author:
  - hyperv.checkpoints contributors (!UNKNOWN)
options:
  vm_name:
    description:
      - Exact name of the VM. Fails when several VMs share the name; use O(vm_id) then.
      - One of O(vm_name) and O(vm_id) is required. With both, the VM is looked up by Id and its name must match.
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
        O(vm_id). The same names as in M(hyperv.checkpoints.checkpoint_policy).
      - In batch mode O(name) is required and O(checkpoint_id) and O(new_name) are not accepted.
    type: list
    elements: str
  vm_ids:
    description:
      - Batch mode. Ids (GUIDs) of several VMs of the host, for example the C(hyperv_vm_ids) host variable of the
        C(hyperv.checkpoints.hyperv) inventory.
    type: list
    elements: str
  parallel:
    description:
      - Batch mode. At most this many create or remove pipelines are in flight at once on the one runspace pool
        of the session (PSRP), as a sliding window; the next one starts as soon as the oldest has finished.
        Between 1 and 16.
      - The default 4 is twice the host capacity of the cost model the collection is measured with (docs/hvsim.md
        section 4, where a host runs 2 checkpoint or merge operations at once and queues the rest), so the host always
        has its next operation waiting while the controller reads a result. A higher value only queues more on
        the host.
      - With O(hyperv_transport=winrm) the pipelines are sent O(parallel) per request and run one after the other
        on the host, so O(parallel) only sets the request size.
    type: int
    default: 4
  batch_failure:
    description:
      - Batch mode. What one VM's failure does to the others.
      - V(collect) attempts every VM; the task fails at the end when any VM failed, and its message lists them.
      - V(fail_fast) sends no new write after the first failure. A failure found by the preflight (before any
        write) therefore changes nothing at all; a failure during the writes lets the pipelines already in flight
        finish. The VMs not attempted are reported with RV(results[].skipped=true).
      - Either way every VM has an entry in RV(results), and a VM that was changed before the failure reports
        C(changed=true).
    type: str
    choices: [collect, fail_fast]
    default: collect
  state:
    description:
      - V(present) creates the checkpoint O(name) when no checkpoint of the VM has exactly that name, or renames
        it when O(new_name) is set.
      - V(absent) removes the checkpoint O(name) or O(checkpoint_id). A checkpoint that does not exist gives
        C(changed=false).
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - Exact name of the checkpoint. At most 100 characters, not blank, no control characters.
      - Required with O(state=present) unless O(checkpoint_id) and O(new_name) are given.
    type: str
  checkpoint_id:
    description:
      - Id (GUID) of the checkpoint, to remove or rename one of several checkpoints that share a name.
    type: str
  new_name:
    description:
      - Rename the checkpoint O(name) (or O(checkpoint_id)) to this name. Only with O(state=present).
      - This is idempotent. When no checkpoint is named O(name) any more but one is named O(new_name), nothing changes.
      - Renaming to a name another checkpoint already has fails unless O(allow_duplicate_name=true).
    type: str
  allow_duplicate_name:
    description:
      - Hyper-V accepts several checkpoints with the same name. By default the module creates none when one exists
        (C(changed=false)).
      - With V(true) a new checkpoint is created on B(every) run, so the task is no longer idempotent.
    type: bool
    default: false
  require_production:
    description:
      - Fail unless the new checkpoint is a production (application-consistent) checkpoint.
      - A VM set to C(Production) silently falls back to a standard checkpoint when the guest cannot take a
        production one. With V(true) the preflight refuses when the fallback is predictable (Backup integration
        service off or not answering, VM not running); if the host falls back anyway, the unwanted standard
        checkpoint is removed again and the task fails.
      - Without it a fallback only gives a warning and RV(achieved_type=standard).
    type: bool
    default: false
  allow_domain_controller:
    description:
      - Checkpoints of domain controllers (guest KVP C(ProductType) 2) are refused by default, because restoring
        one risks USN rollback. V(true) allows it; the VM must then use production checkpoints, and a fallback to
        standard is treated as with O(require_production=true).
    type: bool
    default: false
  remove_children:
    description:
      - With O(state=absent), remove the checkpoint's whole subtree (C(-IncludeAllChildSnapshots)).
      - Without it the children are re-parented onto the removed checkpoint's parent, as Hyper-V does.
    type: bool
    default: false
  wait_for_merge:
    description:
      - With O(state=absent), wait until the VM's operational status no longer shows C(MergingDisks), at most
        O(merge_timeout) seconds, and report the time in RV(merge_seconds).
      - Removing a checkpoint merges its differencing disk into the parent; the next checkpoint operation on the
        VM cannot start before the merge ends.
    type: bool
    default: true
  merge_timeout:
    description:
      - Seconds to wait for the merge after a removal. On timeout the task fails with C(changed=true), because the
        checkpoint is gone, the merge goes on.
    type: int
    default: 600
  wait_timeout:
    description:
      - Seconds to wait, before changing anything, for a VM that is busy (a running merge, a transition such as
        C(Stopping)). A VM held by a backup or in the middle of an apply is never waited for; the task fails.
    type: int
    default: 300
  poll_interval:
    description:
      - Seconds between two reads of the VM while waiting for a busy VM or a disk merge.
    type: float
    default: 2.0
notes:
  - RV(achieved_type) follows the rule that a checkpoint with a saved memory state (C(State=Saved)) is a standard
    checkpoint and one without (C(State=Off)) a production checkpoint when the VM was running. Hyper-V reports
    C(SnapshotType=Standard) for both, so this is the only available signal and it is not yet verified on every
    Windows Server version. For a VM that is off both kinds hold the same content; the VM's configured type is
    reported.
  - The free-space estimate of the preflight is the VM's memory (assigned memory, or startup memory when off) on
    the volume of SnapshotFileLocation for a checkpoint that can hold memory (standard, or production that may fall
    back) of a running, paused or saved VM, plus 1 MiB for the configuration, plus 64 MiB per virtual disk on the
    volume of that disk. Volumes that cannot be identified (for example SMB shares) are reported with C(ok=null).
  - Before a removal, the free space the disk merge needs is checked. The estimate is the size of every
    differencing file that sits directly on a disk file of a removed checkpoint (the file of its child checkpoint,
    or of the current state), needed on the volume of the file it merges into.
  - Removal refuses Recovery, Replica, Planned and Missing checkpoints, which belong to backup software, Hyper-V
    Replica or Hyper-V itself. With O(remove_children=true) this applies to every checkpoint of the subtree.
  - If the connection drops after the create or remove command was sent, the module reconnects and re-reads the
    checkpoints by name and Id before deciding; it never repeats a create blindly, and retries a removal once only
    when the checkpoint is still there.
  - "Batch mode (O(vm_names), O(vm_ids)): everything is read first in one round of concurrent read pipelines
    (every VM, every checkpoint of the host, the volumes once, the host's disks, integration services and guest
    KVP data, and for a removal the checkpoint disks and one C(Get-VHD) for all paths). Each VM is then decided
    with the same preflight rules as a single VM; free space is reserved per volume across the batch. The writes
    run through a sliding window of at most O(parallel) pipelines, and with O(wait_for_merge=true) all merges
    are polled together with one C(Get-VM) listing per poll, at half the predicted time left (never more often
    than O(poll_interval)), predicted from the time since the first removal was sent."
  - Batch mode and dropped connections or WinRM quota faults during the writes. Nothing is re-sent blindly. The
    module reconnects and re-reads every checkpoint of the host. A create or removal found applied is adopted
    (with a warning); one found not applied while the VM is idle is sent once more with O(batch_failure=collect),
    and is a failure with O(batch_failure=fail_fast). A rerun converges and never checkpoints a VM twice. Reads
    that hit a quota fault are retried after 1, 2 and 4 seconds.
  - Compared with C(microsoft.hyperv.hv_checkpoint), names are literal (no wildcard fan-out), duplicates are never
    acted on silently, the consistency actually achieved is reported, and removal waits for the merge.
seealso:
  - module: hyperv.checkpoints.checkpoint_apply
  - module: hyperv.checkpoints.checkpoint_policy
  - module: hyperv.checkpoints.checkpoint_info
extends_documentation_fragment:
  - hyperv.checkpoints.connection
  - hyperv.checkpoints._attributes
  - hyperv.checkpoints._attributes.ACTION_GROUP
attributes:
  check_mode:
    support: full
    details:
      - The preflight runs in check mode too; only the change itself is skipped.
  diff_mode:
    support: full
    details:
      - Before and after are the VM's checkpoint tree (names, parents and the current position); in batch mode
        one diff per VM.
  idempotent:
    support: full
    details:
      - Except with O(allow_duplicate_name=true), which creates a checkpoint on every run.
"""

EXAMPLES = r"""
- name: Checkpoint web01 before patching (nothing happens if the checkpoint exists)
  hyperv.checkpoints.checkpoint:
    hyperv_host: hv01.example.com
    vm_name: web01
    name: before-patch
  delegate_to: localhost
  register: cp

- name: Show what was obtained
  ansible.builtin.debug:
    msg: "Checkpoint {{ cp.checkpoint.id }} is {{ cp.achieved_type }}"

- name: Insist on an application-consistent checkpoint
  hyperv.checkpoints.checkpoint:
    hyperv_host: hv01.example.com
    vm_name: sql01
    name: pre-upgrade
    require_production: true
  delegate_to: localhost

- name: Rename a checkpoint
  hyperv.checkpoints.checkpoint:
    hyperv_host: hv01.example.com
    vm_name: web01
    name: before-patch
    new_name: before-patch-2026-11
  delegate_to: localhost

- name: Remove a checkpoint and everything below it, and wait for the merge
  hyperv.checkpoints.checkpoint:
    hyperv_host: hv01.example.com
    vm_name: web01
    name: before-patch-2026-11
    state: absent
    remove_children: true
    merge_timeout: 1800
  delegate_to: localhost

- name: Checkpoint every VM of a host in one task (batch mode), 4 pipelines in flight
  hyperv.checkpoints.checkpoint:
    hyperv_host: "{{ hyperv_address }}"
    vm_ids: "{{ hyperv_vm_ids }}"
    name: pre-patch-2026-11
    parallel: 4
  delegate_to: localhost
  register: batch

- name: Show the VMs that got a new checkpoint
  ansible.builtin.debug:
    msg: "{{ batch.results | selectattr('changed') | map(attribute='vm_name') | list }}"

- name: Remove that checkpoint from some VMs and wait for all merges; stop at the first failure
  hyperv.checkpoints.checkpoint:
    hyperv_host: hv01.example.com
    vm_names: [web01, web02, app01]
    name: pre-patch-2026-11
    state: absent
    batch_failure: fail_fast
  delegate_to: localhost

- name: Remove one of two checkpoints that share a name
  hyperv.checkpoints.checkpoint:
    hyperv_host: hv01.example.com
    vm_id: 6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f
    checkpoint_id: 0b7e2f7c-3d1a-4a51-9d6e-2f4c8a9b1c0d
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
vm:
  description: The VM after the task (predicted in check mode for the checkpoint count and position).
  returned: success, with O(vm_name) or O(vm_id)
  type: dict
  contains:
    id:
      description: VM Id.
      type: str
    name:
      description: VM name.
      type: str
    state:
      description: VM state (C(Running), C(Off), ...).
      type: str
    operational_status:
      description: Operational status values of the VM.
      type: list
      elements: str
    checkpoint_type:
      description: Configured type, V(disabled), V(standard), V(production) or V(production_only).
      type: str
    checkpoint_count:
      description: Number of checkpoints of the VM.
      type: int
    current_checkpoint_id:
      description: Id of the checkpoint the current state derives from.
      type: str
    current_checkpoint_name:
      description: Name of that checkpoint.
      type: str
checkpoint:
  description:
    - The checkpoint created, found, renamed or removed. V(null) when O(state=absent) found nothing, and for a
      create in check mode (it does not exist yet).
  returned: success, with O(vm_name) or O(vm_id)
  type: dict
  contains:
    id:
      description: Checkpoint Id.
      type: str
    name:
      description: Checkpoint name.
      type: str
    vm_id:
      description: VM Id.
      type: str
    vm_name:
      description: VM name.
      type: str
    parent_id:
      description: Id of the parent checkpoint.
      type: str
    parent_name:
      description: Name of the parent checkpoint.
      type: str
    snapshot_type:
      description: Hyper-V snapshot type (V(Standard) for user checkpoints).
      type: str
    state:
      description: V(Saved) when the checkpoint holds memory, V(Off) otherwise.
      type: str
    captured_type:
      description: V(standard) or V(production), from RV(checkpoint.state).
      type: str
    creation_time:
      description: Creation time, ISO 8601 with offset.
      type: str
    is_automatic:
      description: Whether Hyper-V created it automatically.
      type: bool
matches:
  description: Ids of every checkpoint of the VM named O(name) after the task (several when names are shared).
  returned: O(state=present), with O(vm_name) or O(vm_id)
  type: list
  elements: str
action:
  description: What the module did or would do, V(create), V(rename), V(remove) or V(none).
  returned: success, with O(vm_name) or O(vm_id)
  type: str
requested_type:
  description: The VM's configured checkpoint type when a checkpoint is created, in option vocabulary.
  returned: success, with O(vm_name) or O(vm_id)
  type: str
achieved_type:
  description:
    - For a create, V(production) or V(standard), the kind actually captured (see the notes for the rule).
    - In check mode the prediction, V(null) when it cannot be predicted. V(null) when nothing was created.
  returned: success, with O(vm_name) or O(vm_id)
  type: str
fallback:
  description: V(true) when production was requested and a standard checkpoint was obtained.
  returned: success, with O(vm_name) or O(vm_id)
  type: bool
removed:
  description: The checkpoints removed (with O(remove_children=true) the whole subtree), or that would be.
  returned: success, with O(vm_name) or O(vm_id)
  type: list
  elements: dict
merge_seconds:
  description: Seconds spent waiting for the disk merge after a removal; V(null) when there was no wait.
  returned: success, with O(vm_name) or O(vm_id)
  type: float
preflight:
  description:
    - The checks made before a create or a removal, and their findings.
    - For a removal, RV(preflight.space) is the free space needed by the disk merge (see the notes).
  returned: when a checkpoint is created or removed, or would be
  type: dict
  contains:
    checks:
      description: Names of the checks that passed, in order.
      type: list
      elements: str
    space:
      description: Per volume the free bytes, the estimated need and whether it fits.
      type: list
      elements: dict
    unsupported:
      description: Devices that prevent a checkpoint (empty when the check passed).
      type: list
      elements: str
    guest_role:
      description: Guest role from KVP, V(domain_controller), V(server), V(workstation) or V(unknown).
      type: str
    vss_available:
      description: Whether the Backup (VSS) integration service is enabled and answering; V(null) when unknown or
        not relevant.
      type: bool
    predicted_type:
      description: The type the checkpoint is expected to have.
      type: str
diff:
  description:
    - Before and after checkpoint tree, returned in diff mode.
    - In batch mode a list with one C(before)/C(after) pair per VM, headed C(<vm name> (<vm id>)).
  returned: when diff mode is on
  type: raw
results:
  description:
    - Batch mode. One entry per requested VM, in the order given (O(vm_names) first, then O(vm_ids)).
    - In check mode the same shape, with the predicted action.
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
      description: Whether this VM was changed (or would be in check mode).
      type: bool
    action:
      description: V(create), V(remove) or V(none).
      type: str
    failed:
      description: Whether this VM failed; RV(results[].msg) says why and what to do.
      type: bool
    skipped:
      description: V(true) when the VM was not attempted because of O(batch_failure=fail_fast).
      type: bool
    msg:
      description: Failure or skip message naming the host, the VM and the checkpoint; V(null) on success.
      type: str
    checkpoint:
      description: The checkpoint created, found or removed (same keys as RV(checkpoint)).
      type: dict
    achieved_type:
      description: As RV(achieved_type), for this VM.
      type: str
    requested_type:
      description: As RV(requested_type), for this VM.
      type: str
    fallback:
      description: As RV(fallback), for this VM.
      type: bool
    removed:
      description: As RV(removed), for this VM.
      type: list
      elements: dict
    merge_seconds:
      description: As RV(merge_seconds), for this VM.
      type: float
    preflight:
      description: As RV(preflight), for this VM; in batch mode each space entry also has C(reserved_bytes), the
        bytes earlier VMs of the batch already need on that volume.
      type: dict
    warnings:
      description: Warnings about this VM (they are also emitted as task warnings, prefixed with the VM).
      type: list
      elements: str
    error:
      description: Details of the failure (C(kind), C(fqid), C(category), ...), as the task-level C(error).
      type: dict
summary:
  description: Batch mode. Counts of VMs C(total), C(changed), C(unchanged), C(failed) and C(skipped).
  returned: with O(vm_names) or O(vm_ids)
  type: dict
"""

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _batch as batch
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _lifecycle as lc
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _parallel as par
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import (
    CommandError,
    HyperVError,
    NotFoundError,
    OperationTimeoutError,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._module import (
    HyperVModule,
    validate_checkpoint_name,
    validate_guid,
    validate_vm_name,
)


def argument_spec():
    return dict(
        vm_name=dict(type="str"),
        vm_id=dict(type="str"),
        vm_names=dict(type="list", elements="str"),
        vm_ids=dict(type="list", elements="str"),
        parallel=dict(type="int", default=batch.DEFAULT_PARALLEL),
        batch_failure=dict(type="str", default="collect", choices=["collect", "fail_fast"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        name=dict(type="str"),
        checkpoint_id=dict(type="str"),
        new_name=dict(type="str"),
        allow_duplicate_name=dict(type="bool", default=False),
        require_production=dict(type="bool", default=False),
        allow_domain_controller=dict(type="bool", default=False),
        remove_children=dict(type="bool", default=False),
        wait_for_merge=dict(type="bool", default=True),
        merge_timeout=dict(type="int", default=600),
        wait_timeout=dict(type="int", default=300),
        poll_interval=dict(type="float", default=2.0),
    )


class Outcome(object):
    """Result being built, plus what the failure message should name."""

    def __init__(self):
        self.result = {
            "changed": False, "action": "none", "vm": None, "checkpoint": None, "matches": [],
            "requested_type": None, "achieved_type": None, "fallback": False, "removed": [],
            "merge_seconds": None, "preflight": None,
        }
        self.warnings = []
        self.target = {}
        self.step = "read the VM and its checkpoints"
        self.wrote = False


def _present(client, params, check_mode, out, vm, checkpoints):
    name = params["name"]
    new_name = params["new_name"]
    if new_name is not None:
        return _rename(client, params, check_mode, out, vm, checkpoints)

    before = checkpoints
    matches = [cp for cp in checkpoints if cp.name == name]
    out.result["matches"] = [cp.id for cp in matches]
    if matches and not params["allow_duplicate_name"]:
        out.result["checkpoint"] = lc.checkpoint_summary(matches[0])
        out.result["vm"] = lc.vm_summary(vm, checkpoints)
        if len(matches) > 1:
            out.warnings.append(
                "%d checkpoints of %s are named %s (Ids: %s); none was created. Use checkpoint_id to address one."
                % (len(matches), lc.vm_label(vm), lc.quote(name), ", ".join(cp.id for cp in matches)))
        return before, checkpoints, vm

    out.result["action"] = "create"
    out.step = "check the preconditions for checkpoint %s" % lc.quote(name)
    vm = lc.wait_until_idle(client, vm, params["wait_timeout"], params["poll_interval"], action="create checkpoint %s" % lc.quote(name))
    checkpoints = client.list_checkpoints(vm.id)
    dc_allowed = params["allow_domain_controller"]
    report = lc.preflight_create(client, vm, checkpoints, allow_domain_controller=dc_allowed,
                                 require_production=params["require_production"])
    out.result["preflight"] = report
    requested = lc.HV_TO_TYPE.get(vm.checkpoint_type, vm.checkpoint_type)
    out.result["requested_type"] = requested
    out.result["changed"] = True
    if check_mode:
        out.result["achieved_type"] = report["predicted_type"]
        out.result["fallback"] = requested == "production" and report["predicted_type"] == "standard"
        if out.result["fallback"]:
            out.warnings.append(_fallback_warning(vm, name))
        out.result["vm"] = lc.vm_summary(vm, checkpoints)
        out.result["vm"]["checkpoint_count"] = len(checkpoints) + 1
        return before, checkpoints, vm

    out.step = "create checkpoint %s" % lc.quote(name)
    state_before, type_before = vm.state, vm.checkpoint_type
    try:
        cp, warns = lc.create_checkpoint(client, vm, name, set(c.id for c in checkpoints))
    except CommandError as exc:
        raise lc.with_create_hint(exc, vm)
    out.wrote = True
    out.warnings.extend(warns)
    out.target["checkpoint_id"] = cp.id
    achieved = lc.achieved_type(cp, state_before, type_before)
    out.result["achieved_type"] = achieved
    out.result["checkpoint"] = lc.checkpoint_summary(cp)
    fallback = type_before in ("Production", "ProductionOnly") and achieved == "standard"
    out.result["fallback"] = fallback
    if fallback:
        if params["require_production"] or report.get("guest_role") == "domain_controller":
            out.step = "remove the unwanted standard checkpoint %s (%s)" % (lc.quote(name), cp.id)
            lc.remove_checkpoint(client, cp, False)
            try:
                lc.wait_for_merge(client, vm.id, params["merge_timeout"], params["poll_interval"])
            except OperationTimeoutError:
                out.warnings.append("The merge after removing the fallback checkpoint is still running.")
            out.wrote = False
            out.result["checkpoint"] = None
            raise lc.PreflightError(
                "Hyper-V fell back to a standard checkpoint (it holds memory, State Saved) although a production "
                "checkpoint was required; the fallback checkpoint %s was removed again" % cp.id,
                hint=lc.VSS_HINT,
            )
        out.warnings.append(_fallback_warning(vm, name))
    checkpoints = client.list_checkpoints(vm.id)
    vm = client.get_vm(vm.id)
    out.result["matches"] = [c.id for c in checkpoints if c.name == name]
    out.result["vm"] = lc.vm_summary(vm, checkpoints)
    return before, checkpoints, vm


def _fallback_warning(vm, name):
    return ("%s is set to production checkpoints but checkpoint %s is (or would be) a standard checkpoint with "
            "memory: the guest could not take a production checkpoint. %s Set require_production: true to fail "
            "instead." % (lc.vm_label(vm), lc.quote(name), lc.VSS_HINT))


def _rename(client, params, check_mode, out, vm, checkpoints):
    name, new_name, cid = params["name"], params["new_name"], params["checkpoint_id"]
    before = checkpoints
    out.step = "rename checkpoint %s to %s" % (lc.quote(name if name is not None else cid), lc.quote(new_name))
    cp = lc.find_checkpoint_or_none(client, vm, checkpoints, name=name, checkpoint_id=cid)
    if cp is None or cp.name == new_name:
        done = [c for c in checkpoints if c.name == new_name]
        if cp is None and cid is None and len(done) >= 1 or cp is not None:
            if len(done) > 1 and cp is None:
                out.warnings.append("%d checkpoints are named %s (Ids: %s)." % (
                    len(done), lc.quote(new_name), ", ".join(c.id for c in done)))
            hit = cp or done[0]
            out.result["checkpoint"] = lc.checkpoint_summary(hit)
            out.result["matches"] = [c.id for c in done]
            out.result["vm"] = lc.vm_summary(vm, checkpoints)
            return before, checkpoints, vm
        raise lc.PreflightError(
            "There is no checkpoint %s to rename, and none is named %s yet"
            % ("with Id %s" % cid if cid else "named %s" % lc.quote(name), lc.quote(new_name)),
            hint="Check the name with hyperv.checkpoints.checkpoint_info; names are compared exactly (case-sensitive).",
        )
    out.target["checkpoint"] = cp.name
    out.target["checkpoint_id"] = cp.id
    clash = [c for c in checkpoints if c.name == new_name and c.id != cp.id]
    if clash and not params["allow_duplicate_name"]:
        raise lc.PreflightError(
            "Another checkpoint is already named %s (Ids: %s)" % (lc.quote(new_name), ", ".join(c.id for c in clash)),
            hint="Choose another new_name, or set allow_duplicate_name: true to accept two checkpoints with one name.",
        )
    out.result["action"] = "rename"
    out.result["changed"] = True
    if check_mode:
        summary = lc.checkpoint_summary(cp)
        summary["name"] = new_name
        out.result["checkpoint"] = summary
        out.result["matches"] = [c.id for c in clash] + [cp.id]
        out.result["vm"] = lc.vm_summary(vm, checkpoints)
        after = [_renamed(c, new_name) if c.id == cp.id else c for c in checkpoints]
        return before, after, vm
    renamed = client.rename_checkpoint(cp.id, new_name) or client.get_checkpoint(cp.id)
    out.wrote = True
    checkpoints = client.list_checkpoints(vm.id)
    out.result["checkpoint"] = lc.checkpoint_summary(renamed)
    out.result["matches"] = [c.id for c in checkpoints if c.name == new_name]
    out.result["vm"] = lc.vm_summary(vm, checkpoints)
    return before, checkpoints, vm


def _renamed(cp, new_name):
    import dataclasses

    return dataclasses.replace(cp, name=new_name)


def _absent(client, params, check_mode, out, vm, checkpoints):
    name, cid = params["name"], params["checkpoint_id"]
    before = checkpoints
    what = lc.quote(name) if name is not None else cid
    out.step = "remove checkpoint %s" % what
    cp = lc.find_checkpoint_or_none(client, vm, checkpoints, name=name, checkpoint_id=cid)
    if cp is None:
        out.result["vm"] = lc.vm_summary(vm, checkpoints)
        return before, checkpoints, vm
    out.target["checkpoint"] = cp.name
    out.target["checkpoint_id"] = cp.id
    targets = lc.tree.subtree(checkpoints, cp.id) if params["remove_children"] else [cp]
    problems = lc.removable_problems(targets)
    if problems:
        raise lc.PreflightError(
            "Refusing to remove: %s" % "; ".join(problems),
            hint="Recovery, Replica, Planned and Missing checkpoints belong to backup software, Hyper-V Replica or "
                 "Hyper-V itself; remove them with the tool that owns them (for Replica, Complete-VMFailover).",
        )
    out.result["action"] = "remove"
    out.result["changed"] = True
    out.result["checkpoint"] = lc.checkpoint_summary(cp)
    out.result["removed"] = [lc.checkpoint_summary(c) for c in targets]
    vm = lc.wait_until_idle(client, vm, params["wait_timeout"], params["poll_interval"],
                            action="remove checkpoint %s" % what)
    out.result["preflight"] = {"checks": ["busy", "type", "merge_space"],
                               "space": lc.preflight_remove(client, vm, checkpoints, targets)}
    gone = set(c.id for c in targets)
    if check_mode:
        after = _simulate_remove(checkpoints, targets, gone)
        out.result["vm"] = lc.vm_summary(vm, after)
        out.result["vm"]["current_checkpoint_id"] = _now_after(vm, checkpoints, gone)
        return before, after, vm
    removed, warns = lc.remove_checkpoint(client, cp, params["remove_children"])
    out.wrote = removed
    out.warnings.extend(warns)
    if not removed:
        out.result["changed"] = False
        out.result["removed"] = []
    if params["wait_for_merge"]:
        out.step = "wait for the disk merge after removing checkpoint %s" % what
        seconds, vm = lc.wait_for_merge(client, vm.id, params["merge_timeout"], params["poll_interval"])
        out.result["merge_seconds"] = seconds
    else:
        vm = client.get_vm(vm.id)
    checkpoints = client.list_checkpoints(vm.id)
    out.result["vm"] = lc.vm_summary(vm, checkpoints)
    return before, checkpoints, vm


def _simulate_remove(checkpoints, targets, gone):
    import dataclasses

    idx = lc.tree.index(checkpoints)
    out = []
    for c in checkpoints:
        if c.id in gone:
            continue
        parent = c.parent_id
        while parent in gone:
            parent = idx[parent].parent_id if parent in idx else None
        out.append(dataclasses.replace(c, parent_id=parent))
    return out


def _now_after(vm, checkpoints, gone):
    idx = lc.tree.index(checkpoints)
    parent = vm.parent_checkpoint_id
    while parent in gone:
        parent = idx[parent].parent_id if parent in idx else None
    return parent


def run(client, params, check_mode, out):
    """Decide and (outside check mode) act. Returns (before tree, after tree, vm)."""
    vm = client.find_vm(name=params["vm_name"], vm_id=params["vm_id"])
    out.target["vm"] = vm.name
    out.target["vm_id"] = vm.id
    try:
        checkpoints = client.list_checkpoints(vm.id)
        if params["state"] == "absent":
            before, after, vm_after = _absent(client, params, check_mode, out, vm, checkpoints)
        else:
            before, after, vm_after = _present(client, params, check_mode, out, vm, checkpoints)
    except NotFoundError as exc:
        raise _explain_not_found(client, vm, out, exc)
    return vm, before, vm_after, after


def _explain_not_found(client, vm, out, exc):
    """A read that found nothing after the VM was resolved: say so when the VM itself left the host (B6)."""
    if exc.hint == lc.MIGRATION_HINT or not lc.vm_gone_from_host(client, vm):
        return exc
    what = ("What this task already wrote on this host before the VM left stays applied (see changed)."
            if out.wrote else "Nothing was written on this host.")
    return lc.vm_migrated_error(client, vm, what, cause=exc)


def _predicted_tree(out, vm, before, params):
    view = lc.tree_view(vm, before)
    if out.result["action"] == "create":
        view["checkpoints"].append({"id": "(new)", "name": params["name"], "parent_id": vm.parent_checkpoint_id})
        view["current_checkpoint_id"] = "(new)"
    return view


def main():
    module = HyperVModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_one_of=[("vm_name", "vm_id", "vm_names", "vm_ids")],
        mutually_exclusive=[("name", "checkpoint_id"), ("vm_name", "vm_names"), ("vm_name", "vm_ids"),
                            ("vm_id", "vm_names"), ("vm_id", "vm_ids")],
    )
    params = module.params
    if params["vm_names"] is not None or params["vm_ids"] is not None:
        return main_batch(module)
    problems = module.validation_errors([
        (validate_vm_name, params["vm_name"], "vm_name"),
        (validate_guid, params["vm_id"], "vm_id"),
        (validate_checkpoint_name, params["name"], "name"),
        (validate_checkpoint_name, params["new_name"], "new_name"),
        (validate_guid, params["checkpoint_id"], "checkpoint_id"),
    ])
    if params["state"] == "present":
        if params["name"] is None and not (params["checkpoint_id"] and params["new_name"] is not None):
            problems.append("state=present needs name (checkpoint_id is accepted only together with new_name)")
        if params["checkpoint_id"] and params["new_name"] is None:
            problems.append("checkpoint_id with state=present is only for renaming; set new_name, or use name to "
                            "create a checkpoint")
    else:
        if params["name"] is None and not params["checkpoint_id"]:
            problems.append("state=absent needs name or checkpoint_id")
        if params["new_name"] is not None:
            problems.append("new_name is only valid with state=present")
    for key in ("merge_timeout", "wait_timeout", "poll_interval"):
        if params[key] < 0:
            problems.append("%s must be 0 or more seconds" % key)
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False)

    out = Outcome()
    if params["vm_name"] is not None:
        out.target["vm"] = params["vm_name"]
    if params["vm_id"]:
        out.target["vm_id"] = params["vm_id"]
    if params["name"] is not None:
        out.target["checkpoint"] = params["name"]
    if params["checkpoint_id"]:
        out.target["checkpoint_id"] = params["checkpoint_id"]
    try:
        with module.client() as client:
            vm, before, vm_after, after = run(client, params, module.check_mode, out)
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
        if module.check_mode and out.result["action"] == "create":
            after_view = _predicted_tree(out, vm, before, params)
        else:
            after_view = lc.tree_view(vm_after, after)
            if module.check_mode and out.result["action"] == "remove":
                after_view["current_checkpoint_id"] = out.result["vm"]["current_checkpoint_id"]
        result["diff"] = {"before": lc.tree_view(vm, before), "after": after_view}
    module.exit_json(**result)


def batch_problems(module):
    params = module.params
    problems = module.validation_errors([
        (validate_vm_name, params["vm_names"] or [], "vm_names"),
        (validate_guid, params["vm_ids"] or [], "vm_ids"),
        (validate_checkpoint_name, params["name"], "name"),
    ])
    if params["name"] is None:
        problems.append("vm_names/vm_ids need name (the same checkpoint name on every VM)")
    if params["checkpoint_id"] is not None:
        problems.append("checkpoint_id is not accepted with vm_names/vm_ids (a checkpoint Id belongs to one VM)")
    if params["new_name"] is not None:
        problems.append("new_name (rename) is not accepted with vm_names/vm_ids; rename one VM at a time")
    if not batch.MAX_PARALLEL >= params["parallel"] >= 1:
        problems.append("parallel must be between 1 and %d" % batch.MAX_PARALLEL)
    for key in ("merge_timeout", "wait_timeout", "poll_interval"):
        if params[key] < 0:
            problems.append("%s must be 0 or more seconds" % key)
    return problems


def main_batch(module):
    """vm_names / vm_ids: one session, reads in one round, writes through a window of ``parallel`` (_batch.py)."""
    params = module.params
    problems = batch_problems(module)
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False)
    runner = None
    try:
        with module.client(parallel=params["parallel"]) as client:
            runner = batch.BatchRunner(client, params, module.check_mode, module.describe_error,
                                       want_diff=module.module._diff)
            runner.resolve(list(params["vm_names"] or []), list(params["vm_ids"] or []))
            runner.wait_idle()
            runner.prefetch_vhds()
            runner.decide()
            runner.write()
            runner.wait_merges()
            runner.finish()
    except HyperVError as exc:
        # a failure of the session itself (connect, list the VMs): no VM result can be trusted beyond
        # the writes already confirmed
        entries = runner.entries if runner is not None else []
        result = {"changed": any(e.wrote for e in entries), "results": [e.result() for e in entries]}
        module.fail_from(exc, runner.phase if runner is not None else "read the VMs and their checkpoints",
                         result=result)
    entries = runner.entries
    for entry in entries:
        for warning in entry.warnings:
            module.warn(warning if entry.vm_id and entry.vm_id in warning else "VM %s: %s" % (entry.label(), warning))
    results = [e.result() for e in entries]
    # a removal whose merge timed out is both changed and failed: counted by par.summary, never negative
    result = {"changed": any(e.changed for e in entries), "results": results, "summary": par.summary(results)}
    if module.module._diff:
        result["diff"] = runner.diff()
    failed = [e for e in entries if e.failed]
    if failed:
        skipped = [e for e in entries if e.skipped]
        msg = "%d of %d VMs failed on host %s: %s" % (
            len(failed), len(entries), module.host, " | ".join("%s: %s" % (e.label(), e.msg) for e in failed))
        if skipped:
            msg += " | batch_failure=fail_fast: %d VM(s) not attempted: %s" % (
                len(skipped), ", ".join(e.label() for e in skipped))
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
