# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checkpoint lifecycle logic shared by the checkpoint and checkpoint_apply modules.

Preflight checks (busy state, type, count limit, free space, unsupported disks, domain
controllers), planning helpers, waits with timeouts, and the "re-read before deciding"
recovery after a connection drop. Nothing here exits the module: failures are raised as
collection exceptions (``PreflightError`` and the classes of ``_errors``) and mapped by the
module's ``main()``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _tree as tree
from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import (
    GET_HDD,
    GET_VM,
    normalize_guid,
    raise_for_result,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import (
    CommandError,
    ConnectionError as HvConnectionError,
    HyperVError,
    NotFoundError,
    OperationTimeoutError,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import VM, properties_read
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import command

MiB = 1024 * 1024
GiB = 1024 * MiB

#: Hyper-V's documented limit of checkpoints per VM (hyperv-behaviour.md section 6).
MAX_CHECKPOINTS = 50
#: Free space asked for on the volume of every VHDX: a new differencing (AVHDX) disk starts at a few
#: MiB and grows with every guest write; this is the floor the preflight demands per disk.
AVHDX_ESTIMATE = 64 * MiB
#: Free space asked for the checkpoint configuration files (.vmcx and friends).
CONFIG_ESTIMATE = 1 * MiB

#: option vocabulary <-> Hyper-V CheckpointType enum names
TYPE_TO_HV = {"disabled": "Disabled", "standard": "Standard", "production": "Production",
              "production_only": "ProductionOnly"}
HV_TO_TYPE = dict((v, k) for k, v in TYPE_TO_HV.items())

#: VM states that are in the middle of a transition; wait for them like for a busy status.
TRANSITIONAL_STATES = ("Starting", "Stopping", "Saving", "Pausing", "Resuming", "Reset", "FastSaving")
#: Critical states (a full volume, a lost storage path): never act on them.
CRITICAL_SUFFIX = "Critical"
#: Operational statuses that fail at once instead of being waited for.
BACKUP_STATUS = "BackingUpVirtualMachine"
APPLYING_STATUSES = ("ApplyingSnapshot", "32769")

VSS_HINT = ("Check the guest: the Backup (volume shadow copy) integration service must be enabled and "
            "answering (on Linux, hv_vss_daemon must run); inside Windows run 'vssadmin list writers' and look "
            "for failed writers, and check the Hyper-V-VMMS Admin log for events 8229 and 12293.")

# Indirections so tests can drive time (never patch time.sleep globally).
sleep = time.sleep
monotonic = time.monotonic


class PreflightError(HyperVError):
    """A precondition failed before anything was changed on the host."""

    kind = "preflight"

    def __init__(self, message, hint=None, details=None):
        super(PreflightError, self).__init__(message, hint=hint)
        self.details = dict(details or {})


def quote(name):
    return "'%s'" % name


def gib(nbytes):
    if nbytes is None:
        return "unknown"
    return "%.2f GiB" % (float(nbytes) / GiB)


def vm_label(vm):
    return "VM %s (%s)" % (quote(vm.name), vm.id)


def checkpoint_label(cp):
    return "checkpoint %s (%s)" % (quote(cp.name), cp.id)


def checkpoint_summary(cp):
    """Plain data for results and diffs."""
    if cp is None:
        return None
    return {
        "id": cp.id,
        "name": cp.name,
        "vm_id": cp.vm_id,
        "vm_name": cp.vm_name,
        "parent_id": cp.parent_id,
        "parent_name": cp.parent_name,
        "snapshot_type": cp.snapshot_type,
        "state": cp.state,
        "captured_type": cp.captured_type,
        "creation_time": cp.creation_time,
        "is_automatic": cp.is_automatic,
    }


def vm_summary(vm, checkpoints=None):
    current = tree.current(checkpoints or [], vm.parent_checkpoint_id) if checkpoints is not None else None
    return {
        "id": vm.id,
        "name": vm.name,
        "state": vm.state,
        "operational_status": list(vm.operational_status),
        "checkpoint_type": HV_TO_TYPE.get(vm.checkpoint_type, vm.checkpoint_type),
        "checkpoint_count": len(checkpoints) if checkpoints is not None else None,
        "current_checkpoint_id": vm.parent_checkpoint_id,
        "current_checkpoint_name": current.name if current is not None else vm.parent_checkpoint_name,
    }


def tree_view(vm, checkpoints):
    """The checkpoint tree as diff data: Now's position and each checkpoint's name and parent."""
    return {
        "vm": vm.name,
        "vm_id": vm.id,
        "current_checkpoint_id": vm.parent_checkpoint_id,
        "checkpoints": [
            {"id": cp.id, "name": cp.name, "parent_id": cp.parent_id} for cp in tree.walk(checkpoints)
        ],
    }


# ---------------------------------------------------------------------------------------------- reads
def read_vm_raw(client, vm_id):
    """(VM, raw dict) from Get-VM -Id, for properties the VM model does not keep."""
    result = client.run_one([command(GET_VM, ("Id", normalize_guid(vm_id, "vm_id")))])
    output = raise_for_result(result, "reading VM", not_found_ok=True)
    if not output:
        raise NotFoundError("No VM with Id %s on host %s" % (vm_id, client.host), category="ObjectNotFound")
    return VM.from_plain(output[0]), output[0]


def read_disks_raw(client, vm_id):
    """Raw Get-VMHardDiskDrive objects of the VM (keeps SupportPersistentReservations and DiskNumber)."""
    result = client.run_one([command(GET_VM, ("Id", normalize_guid(vm_id, "vm_id"))), command(GET_HDD)])
    return raise_for_result(result, "listing hard disks")


def find_checkpoint_or_none(client, vm, checkpoints, name=None, checkpoint_id=None):
    """The exact match, None when there is none; AmbiguousError (listing the Ids) for duplicates."""
    try:
        return client.find_checkpoint(vm, name=name, checkpoint_id=checkpoint_id, checkpoints=checkpoints)
    except NotFoundError:
        return None


# ---------------------------------------------------------------------------------------------- busy / waits
def busy_blocker(vm):
    """(kind, text) for a state that must not be waited for, else None."""
    if BACKUP_STATUS in vm.operational_status:
        return ("backup", "the VM is busy: a backup holds it (BackingUpVirtualMachine)")
    if any(s in vm.operational_status for s in APPLYING_STATUSES):
        return ("applying", "a checkpoint is being applied to the VM right now (ApplyingSnapshot), possibly by "
                            "an earlier run that was interrupted")
    if vm.state and vm.state.endswith(CRITICAL_SUFFIX):
        return ("critical", "the VM is in state %s (usually a full volume or lost storage)" % vm.state)
    return None


def is_idle(vm):
    return not vm.busy and (vm.state not in TRANSITIONAL_STATES)


def wait_until_idle(client, vm, timeout, interval=2.0, action="act on it"):
    """Return the re-read VM once it is idle; wait up to ``timeout`` seconds for a merge or transition.

    A backup, an apply in flight or a critical state fail at once: they are never waited out or forced.
    """
    deadline = monotonic() + max(0.0, float(timeout))
    while True:
        blocker = busy_blocker(vm)
        if blocker is not None:
            kind, text = blocker
            hints = {
                "backup": "Wait for the backup job to finish, then run the task again. The module never forces "
                          "an operation on a VM held by a backup.",
                "applying": "Do not apply again: wait until the host finishes (see vm_info operational_status), "
                            "then check the result with checkpoint_info.",
                "critical": "Free space on the VM's volumes or restore its storage, resume the VM, then retry.",
            }
            raise PreflightError("Cannot %s: %s" % (action, text), hint=hints[kind])
        if is_idle(vm):
            return vm
        if monotonic() >= deadline:
            what = ", ".join(vm.busy_reasons) or ("state %s" % vm.state)
            hint = "Raise wait_timeout, or check the host for a stuck operation (vm_info shows operational_status)."
            if vm.merging:
                hint = ("A disk merge from a removed checkpoint is still running. Raise wait_timeout, or wait for "
                        "the merge (checkpoint_info merge_pending) before the next chain operation.")
            raise OperationTimeoutError(
                "Cannot %s: the VM is still busy (%s) after waiting %ss" % (action, what, timeout), hint=hint
            )
        sleep(interval)
        vm = client.get_vm(vm.id)


def wait_for_merge(client, vm_id, timeout, interval=2.0):
    """Poll Get-VM -Id until MergingDisks is gone. Returns (seconds waited, VM). Raises OperationTimeoutError."""
    start = monotonic()
    deadline = start + max(0.0, float(timeout))
    while True:
        try:
            vm = client.get_vm(vm_id)
        except NotFoundError as exc:
            # Get-VM -Id is the re-read: the VM left this host after the removal (live migration, B6).
            raise NotFoundError(
                "VM %s is no longer on host %s: re-reading it by Id while waiting for the disk merge found no such "
                "VM, it may have live-migrated to another cluster node. What this task already wrote on this host "
                "before the VM left stays applied (see changed); the disk merge continues with the VM on its new "
                "owner." % (vm_id, client.host),
                category="ObjectNotFound", hint=MIGRATION_HINT, fqid=exc.fqid, errors=exc.errors)
        if not vm.merging:
            return round(monotonic() - start, 3), vm
        if monotonic() >= deadline:
            raise OperationTimeoutError(
                "The disk merge of VM %s (%s) was still running after %ss" % (quote(vm.name), vm.id, timeout),
                hint="The checkpoint itself is removed; the merge continues on the host. Raise merge_timeout, or "
                     "watch checkpoint_info merge_pending before the next checkpoint operation.",
            )
        sleep(interval)


# ---------------------------------------------------------------------------------------------- preflight
def unsupported_devices(raw_vm, raw_disks):
    """Reasons the VM cannot be checkpointed: pass-through disks, shared VHDX, virtual Fibre Channel.

    VHD Sets are not among them (hyperv-behaviour.md section 9).
    """
    reasons = []
    for d in raw_disks:
        path = d.get("Path") or None
        where = "%s %s:%s" % (d.get("ControllerType") or "controller", d.get("ControllerNumber"),
                              d.get("ControllerLocation"))
        if not path and d.get("DiskNumber") is not None:
            reasons.append("pass-through disk (physical disk %s at %s)" % (d.get("DiskNumber"), where))
        elif d.get("SupportPersistentReservations") is True and not (path or "").lower().endswith(".vhds"):
            # A VHD Set (.vhds) can be checkpointed, the host checks its guest-cluster preconditions
            # (hyperv-behaviour.md section 9); a shared .vhdx cannot.
            reasons.append("shared virtual hard disk %s (persistent reservations enabled)" % path)
    hbas = raw_vm.get("FibreChannelHostBusAdapters")
    if isinstance(hbas, list) and hbas:
        reasons.append("virtual Fibre Channel adapter(s): %d" % len(hbas))
    elif hbas not in (None, [], "") and not isinstance(hbas, list):
        reasons.append("virtual Fibre Channel adapter")
    return reasons


#: The raw Get-VM properties ``unsupported_devices`` reads besides the ``VM`` model's (recorded)
RAW_VM_PROPERTIES = properties_read(lambda raw_vm: unsupported_devices(raw_vm, []))


def memory_estimate(vm):
    """Bytes of memory a saved state holds: the assigned memory of a running VM, else its startup memory."""
    return vm.memory_assigned or vm.memory_startup or 0


def may_capture_memory(vm):
    """True when the checkpoint can hold a memory state (standard, or production falling back)."""
    return vm.state in ("Running", "Paused", "Saved") and vm.checkpoint_type in ("Standard", "Production")


def space_needs(vm, raw_disks):
    """{path: bytes} the checkpoint needs: config + memory on SnapshotFileLocation, an AVHDX per disk."""
    needs = []
    location = vm.snapshot_file_location or vm.path
    memory = memory_estimate(vm) if may_capture_memory(vm) else 0
    if location:
        needs.append({"path": location, "what": "checkpoint configuration%s" % (
            " and saved memory (%s)" % gib(memory) if memory else ""), "bytes": CONFIG_ESTIMATE + memory})
    for d in raw_disks:
        path = d.get("Path") or None
        if path:
            needs.append({"path": path, "what": "new differencing disk next to %s" % path, "bytes": AVHDX_ESTIMATE})
    return needs


def check_space(client, needs, volumes=None):
    """Sum the needs per volume and compare with SizeRemaining. Returns (report list, problems list)."""
    if not needs:
        return [], []
    if volumes is None:
        volumes = client.list_volumes()
    per_volume = {}
    order = []
    unknown = []
    for need in needs:
        vol = client.free_space_for(need["path"], volumes)
        if vol is None:
            unknown.append(need)
            continue
        key = vol.drive_letter or vol.path
        if key not in per_volume:
            per_volume[key] = {"volume": ("%s:\\" % vol.drive_letter) if vol.drive_letter else vol.path,
                               "free_bytes": vol.size_remaining, "needed_bytes": 0, "for": []}
            order.append(key)
        per_volume[key]["needed_bytes"] += need["bytes"]
        per_volume[key]["for"].append(need["what"])
    report = []
    problems = []
    for key in order:
        entry = per_volume[key]
        entry["ok"] = entry["free_bytes"] is None or entry["free_bytes"] >= entry["needed_bytes"]
        report.append(entry)
        if not entry["ok"]:
            problems.append("volume %s has %s free but needs about %s (%s)" % (
                entry["volume"], gib(entry["free_bytes"]), gib(entry["needed_bytes"]), "; ".join(entry["for"])))
    for need in unknown:
        report.append({"volume": None, "free_bytes": None, "needed_bytes": need["bytes"], "for": [need["what"]],
                       "ok": None, "path": need["path"]})
    return report, problems


def vss_state(client, vm_id):
    """True / False / None: the Backup (VSS) integration service is enabled and the guest answers."""
    try:
        services = client.list_integration_services(vm_id)
    except HyperVError:
        return None
    return vss_from_services(services)


def vss_from_services(services):
    """vss_state from an already read list of IntegrationService (pure)."""
    for svc in services:
        if svc.kind == "vss":
            if svc.enabled is False:
                return False
            return svc.guest_responding
    return False


def predict_type(vm, vss):
    """(predicted achieved type or None, will_fail_reason or None) for a new checkpoint of ``vm``."""
    if vm.checkpoint_type == "Standard":
        return "standard", None
    if vm.checkpoint_type not in ("Production", "ProductionOnly"):
        return None, None
    if vm.state == "Off":
        return "production", None
    if vm.state != "Running" or vss is False:
        why = ("the VM is %s (a production checkpoint needs a running guest)" % vm.state
               if vm.state != "Running" else
               "the Backup (volume shadow copy) integration service is disabled or the guest does not answer it")
        if vm.checkpoint_type == "ProductionOnly":
            return None, why
        return "standard", why
    if vss is None:
        return None, None
    return "production", None


def achieved_type(cp, vm_state_before, vm_type_before):
    """The kind of checkpoint actually obtained (hyperv-behaviour.md section 2, unverified rule).

    State Saved holds memory: a standard checkpoint. State Off of a VM that was running: production.
    For a VM that was off both kinds hold the same content; the VM's configured type is reported.
    """
    if cp is None or cp.state is None:
        return None
    if cp.state == "Saved":
        return "standard"
    if vm_state_before == "Off":
        return "standard" if vm_type_before == "Standard" else "production"
    return "production"


# Each check_* function below is pure (no I/O): it raises PreflightError with the message and hint of
# its rule. preflight_create (one VM, reads as it goes) and the batch path of the checkpoint module
# (every VM read up front, _batch.py) apply the same functions in the same order.
def check_type(vm):
    if vm.checkpoint_type == "Disabled":
        raise PreflightError(
            "Checkpoints are disabled for the VM (CheckpointType Disabled)",
            hint="Enable them first with hyperv.checkpoints.checkpoint_policy (checkpoint_type: production, "
                 "production_only or standard); this module never changes the type on its own.",
        )


def check_count(count):
    if count >= MAX_CHECKPOINTS:
        raise PreflightError(
            "The VM already has %d checkpoints; Hyper-V supports at most %d per VM" % (count, MAX_CHECKPOINTS),
            hint="Remove old checkpoints first (hyperv.checkpoints.checkpoint state=absent).",
        )


def check_devices(reasons):
    if reasons:
        raise PreflightError(
            "The VM has devices that Hyper-V cannot checkpoint: %s" % "; ".join(reasons),
            hint="Pass-through disks, shared VHDX and virtual Fibre Channel are unsupported for checkpoints. "
                 "Back the VM up with a tool that supports them, or detach the device first.",
        )


def check_create_space(problems):
    if problems:
        raise PreflightError(
            "Not enough free space for the checkpoint: %s" % "; ".join(problems),
            hint="Free space on those volumes, or move SnapshotFileLocation (checkpoint_policy, only while the VM "
                 "has no checkpoints). The estimate is the VM's memory for a standard checkpoint of a running VM "
                 "plus %d MiB per virtual disk; a full volume pauses every VM on it." % (AVHDX_ESTIMATE // MiB),
        )


def check_guest_role(vm, role, allow_domain_controller):
    if role.domain_controller:
        if not allow_domain_controller:
            raise PreflightError(
                "The guest is a domain controller (KVP ProductType 2)",
                hint="Checkpoints of domain controllers risk USN rollback and are refused by default. Set "
                     "allow_domain_controller: true only if you accept that; the VM must then use production "
                     "checkpoints.",
            )
        if vm.checkpoint_type == "Standard":
            raise PreflightError(
                "The guest is a domain controller and the VM uses standard checkpoints",
                hint="Only production checkpoints are supported for domain controllers; set checkpoint_type "
                     "production_only with hyperv.checkpoints.checkpoint_policy first.",
            )


def needs_vss(vm):
    """True when the VSS state matters for the prediction (production types, VM not off)."""
    return vm.checkpoint_type in ("Production", "ProductionOnly") and vm.state != "Off"


def check_consistency(vm, role, vss, require_production):
    """Returns the predicted type; raises when production is impossible and required."""
    predicted, why = predict_type(vm, vss)
    if vm.checkpoint_type == "ProductionOnly" and why:
        raise PreflightError(
            "A production checkpoint is impossible now (the VM is set to production_only): %s" % why,
            hint=VSS_HINT,
        )
    if why and (require_production or role.domain_controller):
        raise PreflightError(
            "A production checkpoint is impossible now and would fall back to standard: %s" % why,
            hint=VSS_HINT + (" Domain controllers must not get standard checkpoints." if role.domain_controller else
                             " Or drop require_production to accept a standard checkpoint."),
        )
    return predicted


def preflight_create(client, vm, checkpoints, allow_domain_controller=False, require_production=False,
                     extra=0):
    """Every check before Checkpoint-VM. Returns the preflight report; raises PreflightError.

    ``extra`` counts checkpoints this run creates before (save_current_state_as).
    """
    report = {"checks": [], "space": [], "unsupported": [], "guest_role": None, "vss_available": None,
              "predicted_type": None}
    vm_raw = read_vm_raw(client, vm.id)[1]
    check_type(vm)
    report["checks"].append("type")
    check_count(len(checkpoints) + extra)
    report["checks"].append("count")
    raw_disks = read_disks_raw(client, vm.id)
    reasons = unsupported_devices(vm_raw, raw_disks)
    report["unsupported"] = reasons
    check_devices(reasons)
    report["checks"].append("devices")
    space, problems = check_space(client, space_needs(vm, raw_disks))
    report["space"] = space
    check_create_space(problems)
    report["checks"].append("space")
    role = client.guest_role(vm.id)
    report["guest_role"] = role.role
    check_guest_role(vm, role, allow_domain_controller)
    report["checks"].append("guest_role")
    vss = None
    if needs_vss(vm):
        vss = vss_state(client, vm.id)
    report["vss_available"] = vss
    report["predicted_type"] = predict_type(vm, vss)[0]
    check_consistency(vm, role, vss, require_production)
    report["checks"].append("consistency")
    return report


# ---------------------------------------------------------------------------------------------- writes with recovery
MIGRATION_HINT = ("Run the task against the VM's current owner node (find it with Get-ClusterGroup on the cluster, or "
                  "with the hyperv.checkpoints.hyperv inventory plugin), then check the checkpoints there with "
                  "checkpoint_info before acting again.")


def vm_gone_from_host(client, vm):
    """Re-resolve the VM by Id on the same host once (a read, never a write): True when it is gone.

    A read that fails for any other reason answers False, so the caller keeps its original error.
    """
    try:
        client.get_vm(vm.id)
    except NotFoundError:
        return True
    except HyperVError:
        return False
    return False


def vm_migrated_error(client, vm, what, cause=None):
    """NotFoundError for a VM that left this host mid-run (test-matrix B6). ``what`` says what was (not) written."""
    info = {}
    if isinstance(cause, CommandError):
        info = dict(fqid=cause.fqid, target=cause.target, exception=cause.exception, errors=cause.errors)
    return NotFoundError(
        "%s is no longer on host %s: re-reading it by Id found no such VM, it may have live-migrated to another "
        "cluster node. %s" % (vm_label(vm), client.host, what),
        category="ObjectNotFound", hint=MIGRATION_HINT, **info)


def create_checkpoint(client, vm, name, before_ids):
    """Checkpoint-VM; after a connection drop, re-read and adopt the new checkpoint instead of repeating.

    Returns (Checkpoint, warnings). ``before_ids`` are the Ids of the VM's checkpoints before the call.
    """
    warnings = []
    try:
        return client.create_checkpoint(vm.id, name), warnings
    except NotFoundError as exc:
        # The VM may have left the host between the lookup and Checkpoint-VM (live migration): re-read once.
        if vm_gone_from_host(client, vm):
            raise vm_migrated_error(
                client, vm, "Checkpoint-VM failed, so checkpoint %s was not created (nothing was written on this "
                            "host)." % quote(name), exc)
        raise
    except HvConnectionError as exc:
        if not (exc.write_may_have_applied or exc.request_sent):
            raise
        fresh = client.list_checkpoints(vm.id)
        new = [cp for cp in fresh if cp.name == name and cp.id not in before_ids]
        if len(new) == 1:
            warnings.append(
                "The connection to host %s dropped after Checkpoint-VM was sent; re-reading the VM by Id found the "
                "new checkpoint %s (%s), so it was not created again." % (client.host, quote(name), new[0].id))
            return new[0], warnings
        if not new:
            raise HvConnectionError(
                "%s. Re-reading the VM after the drop found no new checkpoint named %s, so nothing was created"
                % (exc, quote(name)), hint="Run the task again; it re-reads the checkpoints before acting.")
        raise HvConnectionError(
            "%s. Re-reading the VM after the drop found %d new checkpoints named %s (%s)"
            % (exc, len(new), quote(name), ", ".join(c.id for c in new)),
            hint="Remove the extra one by checkpoint_id.")


def with_create_hint(exc, vm):
    """Give a host-side Checkpoint-VM failure the advice that fits it (VSS for production types)."""
    if exc.hint is None:
        if vm.checkpoint_type in ("Production", "ProductionOnly"):
            exc.hint = VSS_HINT
        else:
            exc.hint = "Check the Hyper-V-VMMS Admin event log on the host, then run the task again."
    return exc


def remove_checkpoint(client, cp, include_children):
    """Remove-VMSnapshot by Id. After a connection drop: re-read by Id; gone = done, present = retry once.

    Returns (removed: bool, warnings).
    """
    warnings = []
    try:
        removed = client.remove_checkpoint(cp.id, include_children=include_children, missing_ok=True)
    except NotFoundError as exc:
        if vm_gone_from_host(client, vm_of(cp)):
            raise vm_migrated_error(client, vm_of(cp), "Remove-VMSnapshot failed, so %s was not removed (nothing "
                                                       "was written on this host)." % checkpoint_label(cp), exc)
        raise
    except HvConnectionError as exc:
        if not (exc.write_may_have_applied or exc.request_sent):
            raise
        try:
            client.get_checkpoint(cp.id)
        except NotFoundError:
            warnings.append(
                "The connection to host %s dropped after Remove-VMSnapshot was sent; re-reading by Id shows %s "
                "is gone. The disk merge may still be running." % (client.host, checkpoint_label(cp)))
            return True, warnings
        warnings.append(
            "The connection to host %s dropped during Remove-VMSnapshot; %s was still present, so the removal "
            "was retried once." % (client.host, checkpoint_label(cp)))
        return client.remove_checkpoint(cp.id, include_children=include_children, missing_ok=True), warnings
    if not removed and cp.vm_id and vm_gone_from_host(client, vm_of(cp)):
        # "Not found" for the checkpoint can mean that the whole VM left this host (live migration), not that
        # the checkpoint was already removed: re-read the VM by Id once before reporting "already gone".
        raise vm_migrated_error(client, vm_of(cp), "Remove-VMSnapshot found no %s here, so nothing was removed on "
                                                   "this host." % checkpoint_label(cp))
    return removed, warnings


def vm_of(cp):
    """A minimal VM (Id and name) for a checkpoint, for re-reads and messages."""
    return VM(id=cp.vm_id, name=cp.vm_name)


def merge_space_needs(client, vm, checkpoints, targets):
    """What the merge after removing ``targets`` writes, per parent file (reads only).

    Removing a checkpoint folds the differencing file that was created on top of its frozen disk
    file (the one its child checkpoint or the current state runs on) into that frozen file. So the
    estimate is the FileSize of every differencing file whose ParentPath is a frozen file of a removed
    checkpoint, needed on the volume of that parent file.
    """
    all_disks = client.list_checkpoint_disks_many([c.id for c in checkpoints]) if checkpoints else {}
    current = [d.path for d in client.list_hard_disks(vm.id) if d.path]
    paths, frozen = merge_paths(all_disks, current, targets)
    if not frozen:
        return []
    return merge_needs_from(client.get_vhds(paths), frozen)


def merge_paths(all_disks, current_paths, targets):
    """(every disk path to read with Get-VHD, lower-case frozen paths of the targets) (pure).

    ``all_disks`` is {checkpoint_id: [Disk] or None}; ``current_paths`` the VM's current disk paths.
    """
    target_ids = set(c.id for c in targets)
    frozen = set()
    paths = []
    for cid, disks in all_disks.items():
        for d in disks or []:
            if d.path:
                paths.append(d.path)
                if cid in target_ids:
                    frozen.add(d.path.lower())
    paths.extend(p for p in current_paths if p)
    return paths, frozen


def merge_needs_from(vhds, frozen):
    """Merge space needs from {path: VhdChainLink or None} and the frozen paths (pure)."""
    needs = []
    for path, link in sorted(vhds.items()):
        if link is None or not link.is_differencing or not link.parent_path:
            continue
        if link.parent_path.lower() in frozen:
            needs.append({"path": link.parent_path, "bytes": link.file_size or 0,
                          "what": "merge of %s (%s) into %s" % (path, gib(link.file_size), link.parent_path)})
    return needs


def preflight_remove(client, vm, checkpoints, targets):
    """Free space for the merge; returns the space report, raises PreflightError with the numbers."""
    needs = merge_space_needs(client, vm, checkpoints, targets)
    report, problems = check_space(client, needs)
    check_merge_space(problems)
    return report


def check_merge_space(problems):
    if problems:
        raise PreflightError(
            "Not enough free space for the disk merge that removing the checkpoint starts: %s" % "; ".join(problems),
            hint="Free space on that volume first; a merge that fills a volume pauses every VM on it "
                 "(Paused-Critical). Nothing was removed.",
        )


def removable_problems(cps):
    """Messages for checkpoints the collection never removes (non-Standard types, hyperv-behaviour §12)."""
    bad = [cp for cp in cps if (cp.snapshot_type or "Standard") != "Standard"]
    return ["%s is a %s checkpoint" % (checkpoint_label(cp), cp.snapshot_type) for cp in bad]


def new_checkpoints(before, after):
    ids = set(cp.id for cp in before)
    return [cp for cp in after if cp.id not in ids]
