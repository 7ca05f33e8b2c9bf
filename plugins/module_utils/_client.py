# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Hyper-V client: typed calls over a transport.

Identity rules (docs/architecture.md "Identity"):

* User text is never passed to ``-Name``/``-VMName`` (they are wildcards on every Hyper-V
  cmdlet). VMs are listed with ``Hyper-V\\Get-VM`` (no name) and checkpoints with
  ``Hyper-V\\Get-VM -Id <vm> | Hyper-V\\Get-VMSnapshot``, then matched on the controller.
* Names match **exactly**: case-sensitive, no trimming, no normalisation. A name that only
  matches ignoring case is reported as a hint in the not-found message, never used.
* Two or more exact matches raise ``AmbiguousError`` listing every candidate with its Id.
* Every action is one pipeline that looks the object up by Id first
  (``Get-VM -Id X | Checkpoint-VM ...``, ``Get-VMSnapshot -Id C | Remove-VMSnapshot``).
  Deserialized objects are never sent back as parameters.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import (
    AmbiguousError,
    CommandError,
    ConfigurationError,
    NotFoundError,
    OperationTimeoutError,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import (
    VM,
    Checkpoint,
    Disk,
    GuestRole,
    IntegrationService,
    VhdChainLink,
    Volume,
    parse_kvp_items,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import (
    STATE_FAILED,
    command,
)

# Cmdlet names used by the client (module-qualified). The WinRS runner's allow-list
# (_winrs_runner.ALLOWED_CMDLETS) must contain every one of them; a unit test checks it.
GET_VM = "Hyper-V\\Get-VM"
SET_VM = "Hyper-V\\Set-VM"
START_VM = "Hyper-V\\Start-VM"
STOP_VM = "Hyper-V\\Stop-VM"
SAVE_VM = "Hyper-V\\Save-VM"
EXPORT_VM = "Hyper-V\\Export-VM"
CHECKPOINT_VM = "Hyper-V\\Checkpoint-VM"
GET_SNAPSHOT = "Hyper-V\\Get-VMSnapshot"
RESTORE_SNAPSHOT = "Hyper-V\\Restore-VMSnapshot"
REMOVE_SNAPSHOT = "Hyper-V\\Remove-VMSnapshot"
RENAME_SNAPSHOT = "Hyper-V\\Rename-VMSnapshot"
EXPORT_SNAPSHOT = "Hyper-V\\Export-VMSnapshot"
GET_HDD = "Hyper-V\\Get-VMHardDiskDrive"
GET_VHD = "Hyper-V\\Get-VHD"
GET_IC = "Hyper-V\\Get-VMIntegrationService"
GET_VOLUME = "Storage\\Get-Volume"
GET_CIM = "CimCmdlets\\Get-CimInstance"
# Not module-qualified: a JEA RestrictedRemoteServer session has Select-Object only as a proxy
# function, outside its module (New-PSSessionConfigurationFile -SessionType).
SELECT_OBJECT = "Select-Object"

CLIENT_CMDLETS = frozenset(
    [
        GET_VM, SET_VM, START_VM, STOP_VM, SAVE_VM, EXPORT_VM, CHECKPOINT_VM, GET_SNAPSHOT,
        RESTORE_SNAPSHOT, REMOVE_SNAPSHOT, RENAME_SNAPSHOT, EXPORT_SNAPSHOT, GET_HDD, GET_VHD,
        GET_IC, GET_VOLUME, GET_CIM, SELECT_OBJECT,
    ]
)

KVP_NAMESPACE = "root/virtualization/v2"
KVP_CLASS = "Msvm_KvpExchangeComponent"

CHECKPOINT_TYPES = ("Disabled", "Production", "ProductionOnly", "Standard")
CAPTURE_LIVE_STATES = ("CaptureSavedState", "CaptureDataConsistentState", "CaptureCrashConsistentState")
STOP_MODES = ("shutdown", "turn_off", "save")

MAX_CHAIN_DEPTH = 64

_GUID_RE = re.compile(r"\A[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_VM_NOT_FOUND_RE = re.compile(r"unable to find a virtual machine", re.IGNORECASE)


def normalize_guid(value, what="Id"):
    """Canonical lower-case GUID text, or ConfigurationError. Never returns an empty value."""
    if not isinstance(value, str):
        raise ConfigurationError("%s must be a GUID string, got %s" % (what, type(value).__name__))
    text = value.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if not _GUID_RE.match(text):
        raise ConfigurationError("%s %r is not a GUID (expected e.g. 6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f)" % (what, value))
    return text.lower()


def _quote(name):
    return "'%s'" % name


def _candidates(objects):
    return [{"id": o.id, "name": o.name} for o in objects]


def is_not_found(info):
    """True when an ErrorInfo says the object does not exist."""
    category = info.get("category") or ""
    fqid = info.get("fqid") or ""
    if category == "ObjectNotFound" or fqid.startswith("ObjectNotFound,"):
        return True
    return bool(_VM_NOT_FOUND_RE.search(info.get("message") or ""))


def raise_for_result(result, what, not_found_ok=False, hint=None):
    """Raise CommandError / NotFoundError for a result with errors; returns the output list.

    ``not_found_ok`` returns [] instead of raising when every error is "not found".
    """
    errors = result.get("errors") or []
    if errors:
        if all(is_not_found(e) for e in errors):
            if not_found_ok:
                return []
            raise NotFoundError.from_error_info(errors[0], errors=errors, hint=hint)
        first = next(e for e in errors if not is_not_found(e))
        raise CommandError.from_error_info(first, errors=errors, hint=hint)
    if result.get("state") == STATE_FAILED:
        raise CommandError("%s failed without an error record" % what, errors=[], hint=hint)
    return list(result.get("output") or [])


def removal_outcome(result, missing_ok=True):
    """True when a Remove-VMSnapshot result removed the checkpoint; False when it was already gone.

    "Already gone" (every error is "not found") counts only with ``missing_ok``; any other error
    is raised by ``raise_for_result``.
    """
    errors = result.get("errors") or []
    if errors and missing_ok and all(is_not_found(e) for e in errors):
        return False
    raise_for_result(result, "removing checkpoint")
    return True


def projected(pipeline, properties):
    """``pipeline | Select-Object -Property <properties>``: only the properties the reader uses come back.

    A host-wide ``Get-VM`` carries about 56 properties per VM, of which the models read 28
    (``_models.VM_PROPERTIES``); serializing and reading the rest was most of a merge poll's cost
    on both ends (docs/performance.md).
    """
    return list(pipeline) + [command(SELECT_OBJECT, ("Property", list(properties)))]


def unprojected(pipeline):
    """``pipeline`` without its trailing ``Select-Object`` (full objects)."""
    return list(pipeline[:-1]) if is_projected(pipeline) else list(pipeline)


def is_projected(pipeline):
    return bool(pipeline) and pipeline[-1]["cmdlet"] == SELECT_OBJECT


def projection_refused(result):
    """True when the endpoint has no Select-Object (a JEA session that does not expose it)."""
    for error in result.get("errors") or []:
        if (error.get("fqid") or "").split(",", 1)[0] == "CommandNotFoundException" \
                and SELECT_OBJECT in (error.get("message") or ""):
            return True
    return False


def match_exact(objects, name, kind, scope, id_option):
    """The single object whose ``name`` equals ``name`` exactly, else NotFound/Ambiguous.

    ``kind`` ("VM", "checkpoint") and ``scope`` ("on host h", "of VM 'x'") shape the messages.
    """
    exact = [o for o in objects if o.name == name]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        ids = ", ".join(o.id for o in exact)
        raise AmbiguousError(
            "%d %ss named %s %s (Ids: %s)" % (len(exact), kind, _quote(name), scope, ids),
            candidates=_candidates(exact),
            hint="Names are not unique in Hyper-V; select the %s with %s." % (kind, id_option),
        )
    folded = name.casefold()
    near = [o for o in objects if (o.name or "").casefold() == folded or (o.name or "").strip() == name.strip()]
    hint = None
    if near:
        hint = "Names are compared exactly (case-sensitive, no trimming); similar: %s." % ", ".join(
            "%s (Id %s)" % (_quote(o.name), o.id) for o in near
        )
    raise NotFoundError("No %s named %s %s" % (kind, _quote(name), scope), category="ObjectNotFound", hint=hint)


def volume_for_path(volumes, path):
    """The volume holding ``path`` (longest matching drive letter or mount path), or None."""
    if not path:
        return None
    lower = path.replace("/", "\\").lower()
    best = None
    best_len = -1
    for vol in volumes:
        prefixes = []
        if vol.drive_letter:
            prefixes.append("%s:\\" % vol.drive_letter.lower())
        if vol.path and not vol.path.startswith("\\\\?\\Volume"):
            prefixes.append(vol.path.replace("/", "\\").lower().rstrip("\\") + "\\")
        for prefix in prefixes:
            if lower.startswith(prefix) and len(prefix) > best_len:
                best, best_len = vol, len(prefix)
    return best


def roles_from_kvp_result(result, vm_ids):
    """{vm_id: GuestRole} from the plain result of ``HyperVClient.kvp_pipeline()`` (pure).

    SystemName is matched to the (lower-case) VM Id on the controller; a failed CIM query makes
    every role unknown with source ``unavailable``.
    """
    if result.get("errors") or result.get("state") == STATE_FAILED:
        return dict((v, GuestRole(vm_id=v, source="unavailable")) for v in vm_ids)
    by_vm = {}
    for obj in result.get("output") or []:
        system = str(obj.get("SystemName") or "").strip().strip("{}").lower()
        if system:
            by_vm[system] = parse_kvp_items(obj.get("GuestIntrinsicExchangeItems"))
    roles = {}
    for vm_id in vm_ids:
        items = by_vm.get(vm_id)
        product = None
        if items and items.get("ProductType") not in (None, ""):
            try:
                product = int(items["ProductType"])
            except (TypeError, ValueError):
                product = None
        roles[vm_id] = GuestRole.from_product_type(vm_id, product)
    return roles


class HyperVClient(object):
    """Typed Hyper-V calls over an opened transport. One client per module run."""

    def __init__(self, transport, parallel=1, sleep=time.sleep, clock=time.monotonic):
        self.transport = transport
        self.parallel = max(1, int(parallel or 1))
        #: False once the endpoint refused Select-Object: reads then ask for full objects
        self.projections = True
        self._sleep = sleep
        self._clock = clock

    @property
    def host(self):
        return self.transport.host

    # ------------------------------------------------------------------ plumbing
    def run(self, pipelines, on_result=None):
        if on_result is None:
            return self.transport.run(pipelines, parallel=self.parallel)
        return self.transport.run(pipelines, parallel=self.parallel, on_result=on_result)

    def run_one(self, pipeline):
        return self.run([pipeline])[0]

    def _on_host(self):
        return "on host %s" % self.host

    # ------------------------------------------------------------------ pipelines (pure)
    # The *_pipeline static methods build the structured command; unit tests assert on them.
    @staticmethod
    def list_vms_pipeline():
        return [command(GET_VM)]

    @staticmethod
    def get_vm_pipeline(vm_id):
        return [command(GET_VM, ("Id", normalize_guid(vm_id, "vm_id")))]

    @staticmethod
    def list_checkpoints_pipeline(vm_id):
        return [command(GET_VM, ("Id", normalize_guid(vm_id, "vm_id"))), command(GET_SNAPSHOT)]

    @staticmethod
    def get_checkpoint_pipeline(checkpoint_id):
        return [command(GET_SNAPSHOT, ("Id", normalize_guid(checkpoint_id, "checkpoint_id")))]

    @staticmethod
    def list_hard_disks_pipeline(vm_id):
        return [command(GET_VM, ("Id", normalize_guid(vm_id, "vm_id"))), command(GET_HDD)]

    @staticmethod
    def list_checkpoint_disks_pipeline(checkpoint_id):
        return [command(GET_SNAPSHOT, ("Id", normalize_guid(checkpoint_id, "checkpoint_id"))), command(GET_HDD)]

    @staticmethod
    def get_vhd_pipeline(path):
        if not isinstance(path, str) or not path:
            raise ConfigurationError("a VHD path must be a non-empty string")
        return [command(GET_VHD, ("Path", path))]

    @staticmethod
    def list_integration_services_pipeline(vm_id):
        return [command(GET_VM, ("Id", normalize_guid(vm_id, "vm_id"))), command(GET_IC)]

    @staticmethod
    def list_volumes_pipeline():
        return [command(GET_VOLUME)]

    @staticmethod
    def kvp_pipeline():
        return [command(GET_CIM, ("Namespace", KVP_NAMESPACE), ("ClassName", KVP_CLASS))]

    @staticmethod
    def set_vm_pipeline(vm_id, checkpoint_type=None, automatic_checkpoints=None, snapshot_file_location=None,
                        allow_unverified_paths=False):
        params = []
        if checkpoint_type is not None:
            if checkpoint_type not in CHECKPOINT_TYPES:
                raise ConfigurationError("checkpoint_type must be one of %s" % ", ".join(CHECKPOINT_TYPES))
            params.append(("CheckpointType", checkpoint_type))
        if automatic_checkpoints is not None:
            params.append(("AutomaticCheckpointsEnabled", bool(automatic_checkpoints)))
        if snapshot_file_location is not None:
            if not isinstance(snapshot_file_location, str) or not snapshot_file_location.strip():
                raise ConfigurationError("snapshot_file_location must be a non-empty path")
            params.append(("SnapshotFileLocation", snapshot_file_location))
            if allow_unverified_paths:
                params.append(("AllowUnverifiedPaths", True))
        if not params:
            raise ConfigurationError("set_vm needs at least one setting to change")
        params.append(("Passthru", True))
        return [command(GET_VM, ("Id", normalize_guid(vm_id, "vm_id"))), command(SET_VM, *params)]

    @staticmethod
    def create_checkpoint_pipeline(vm_id, name):
        if not isinstance(name, str) or not name.strip():
            # Checkpoint-VM without a name would invent one; the collection always names them.
            raise ConfigurationError("a checkpoint name must be a non-empty string")
        return [
            command(GET_VM, ("Id", normalize_guid(vm_id, "vm_id"))),
            command(CHECKPOINT_VM, ("SnapshotName", name), ("Passthru", True)),
        ]

    @staticmethod
    def restore_checkpoint_pipeline(checkpoint_id):
        return [
            command(GET_SNAPSHOT, ("Id", normalize_guid(checkpoint_id, "checkpoint_id"))),
            command(RESTORE_SNAPSHOT, ("Confirm", False), ("Passthru", True)),
        ]

    @staticmethod
    def remove_checkpoint_pipeline(checkpoint_id, include_children=False):
        # normalize_guid refuses an empty Id: Remove-VMSnapshot without a target removes everything.
        params = []
        if include_children:
            params.append(("IncludeAllChildSnapshots", True))
        params.append(("Confirm", False))
        return [
            command(GET_SNAPSHOT, ("Id", normalize_guid(checkpoint_id, "checkpoint_id"))),
            command(REMOVE_SNAPSHOT, *params),
        ]

    @staticmethod
    def rename_checkpoint_pipeline(checkpoint_id, new_name):
        if not isinstance(new_name, str) or not new_name.strip():
            raise ConfigurationError("a checkpoint name must be a non-empty string")
        return [
            command(GET_SNAPSHOT, ("Id", normalize_guid(checkpoint_id, "checkpoint_id"))),
            command(RENAME_SNAPSHOT, ("NewName", new_name), ("Passthru", True)),
        ]

    @staticmethod
    def export_checkpoint_pipeline(checkpoint_id, path):
        if not isinstance(path, str) or not path.strip():
            raise ConfigurationError("an export path must be a non-empty string")
        return [
            command(GET_SNAPSHOT, ("Id", normalize_guid(checkpoint_id, "checkpoint_id"))),
            command(EXPORT_SNAPSHOT, ("Path", path), ("Passthru", True)),
        ]

    @staticmethod
    def export_vm_pipeline(vm_id, path, capture_live_state=None):
        if not isinstance(path, str) or not path.strip():
            raise ConfigurationError("an export path must be a non-empty string")
        params = [("Path", path)]
        if capture_live_state is not None:
            if capture_live_state not in CAPTURE_LIVE_STATES:
                raise ConfigurationError("capture_live_state must be one of %s" % ", ".join(CAPTURE_LIVE_STATES))
            params.append(("CaptureLiveState", capture_live_state))
        params.append(("Passthru", True))
        return [command(GET_VM, ("Id", normalize_guid(vm_id, "vm_id"))), command(EXPORT_VM, *params)]

    @staticmethod
    def start_vm_pipeline(vm_id):
        return [command(GET_VM, ("Id", normalize_guid(vm_id, "vm_id"))), command(START_VM, ("Passthru", True))]

    @staticmethod
    def stop_vm_pipeline(vm_id, mode="shutdown", force=False):
        if mode not in STOP_MODES:
            raise ConfigurationError("stop mode must be one of %s" % ", ".join(STOP_MODES))
        params = []
        if mode == "turn_off":
            params.append(("TurnOff", True))
        elif mode == "save":
            params.append(("Save", True))
        if force:
            params.append(("Force", True))
        params.append(("Passthru", True))
        return [command(GET_VM, ("Id", normalize_guid(vm_id, "vm_id"))), command(STOP_VM, *params)]

    @staticmethod
    def save_vm_pipeline(vm_id):
        return [command(GET_VM, ("Id", normalize_guid(vm_id, "vm_id"))), command(SAVE_VM, ("Passthru", True))]

    # ------------------------------------------------------------------ VMs
    def list_vms(self):
        """Every VM on the host (Get-VM without a name)."""
        output = raise_for_result(self.run_one(self.list_vms_pipeline()), "listing VMs")
        return [VM.from_plain(o) for o in output]

    def get_vm(self, vm_id):
        """The VM with that Id; NotFoundError when there is none."""
        vm_id = normalize_guid(vm_id, "vm_id")
        output = raise_for_result(self.run_one(self.get_vm_pipeline(vm_id)), "reading VM", not_found_ok=True)
        vms = [VM.from_plain(o) for o in output if VM.from_plain(o).id == vm_id] or [VM.from_plain(o) for o in output]
        if not vms:
            raise NotFoundError("No VM with Id %s %s" % (vm_id, self._on_host()), category="ObjectNotFound")
        return vms[0]

    def find_vm(self, name=None, vm_id=None, vms=None):
        """Resolve one VM by exact ``name`` or by ``vm_id`` (both: the Id wins and the name must match)."""
        if vm_id:
            vm = self.get_vm(vm_id)
            if name is not None and vm.name != name:
                raise NotFoundError(
                    "VM %s %s is named %s, not %s" % (vm.id, self._on_host(), _quote(vm.name), _quote(name)),
                    category="ObjectNotFound",
                )
            return vm
        if name is None:
            raise ConfigurationError("either a VM name or a vm_id is required")
        if vms is None:
            vms = self.list_vms()
        return match_exact(vms, name, "VM", self._on_host(), "vm_id")

    def find_vms(self, names=(), vm_ids=()):
        """Resolve several VMs; one listing for all names, one Get-VM -Id per Id. Order kept, no duplicates."""
        result = []
        seen = set()
        if names:
            vms = self.list_vms()
            for name in names:
                vm = match_exact(vms, name, "VM", self._on_host(), "vm_id")
                if vm.id not in seen:
                    seen.add(vm.id)
                    result.append(vm)
        if vm_ids:
            ids = [normalize_guid(v, "vm_id") for v in vm_ids]
            results = self.run([self.get_vm_pipeline(v) for v in ids])
            for vm_id, res in zip(ids, results):
                output = raise_for_result(res, "reading VM", not_found_ok=True)
                if not output:
                    raise NotFoundError("No VM with Id %s %s" % (vm_id, self._on_host()), category="ObjectNotFound")
                vm = VM.from_plain(output[0])
                if vm.id not in seen:
                    seen.add(vm.id)
                    result.append(vm)
        return result

    def wait_for_vm(self, vm_id, predicate, timeout, interval=2.0, what="the VM to become idle"):
        """Poll Get-VM -Id until ``predicate(vm)`` is true; OperationTimeoutError after ``timeout`` seconds."""
        deadline = self._clock() + max(0.0, float(timeout))
        while True:
            vm = self.get_vm(vm_id)
            if predicate(vm):
                return vm
            if self._clock() >= deadline:
                raise OperationTimeoutError(
                    "Timed out after %ss waiting for %s (VM %s %s; operational status: %s)"
                    % (timeout, what, _quote(vm.name), vm.id, ", ".join(vm.operational_status) or "unknown"),
                    hint="Raise the timeout, or check the host for a stuck operation.",
                )
            self._sleep(interval)

    def wait_for_merge(self, vm_id, timeout, interval=2.0):
        """Wait until the VM's OperationalStatus no longer contains MergingDisks."""
        return self.wait_for_vm(vm_id, lambda vm: not vm.merging, timeout, interval, "the disk merge to finish")

    # ------------------------------------------------------------------ checkpoints
    def list_checkpoints(self, vm_id):
        """Every checkpoint of the VM (all snapshot types), as the host reports them."""
        return self.list_checkpoints_many([vm_id])[normalize_guid(vm_id, "vm_id")]

    def list_checkpoints_many(self, vm_ids):
        """{vm_id: [Checkpoint]} in one batch (one pipeline per VM)."""
        ids = [normalize_guid(v, "vm_id") for v in vm_ids]
        results = self.run([self.list_checkpoints_pipeline(v) for v in ids])
        out = {}
        for vm_id, res in zip(ids, results):
            output = raise_for_result(res, "listing checkpoints")
            out[vm_id] = [Checkpoint.from_plain(o) for o in output]
        return out

    def get_checkpoint(self, checkpoint_id):
        """The checkpoint with that Id (any VM); NotFoundError when there is none."""
        checkpoint_id = normalize_guid(checkpoint_id, "checkpoint_id")
        output = raise_for_result(
            self.run_one(self.get_checkpoint_pipeline(checkpoint_id)), "reading checkpoint", not_found_ok=True
        )
        if not output:
            raise NotFoundError("No checkpoint with Id %s %s" % (checkpoint_id, self._on_host()), category="ObjectNotFound")
        return Checkpoint.from_plain(output[0])

    def find_checkpoint(self, vm, name=None, checkpoint_id=None, checkpoints=None):
        """Resolve one checkpoint of ``vm`` (a VM) by exact name or by Id, from the VM's own list."""
        if checkpoints is None:
            checkpoints = self.list_checkpoints(vm.id)
        scope = "of VM %s (%s) %s" % (_quote(vm.name), vm.id, self._on_host())
        if checkpoint_id:
            cid = normalize_guid(checkpoint_id, "checkpoint_id")
            for cp in checkpoints:
                if cp.id == cid:
                    if name is not None and cp.name != name:
                        raise NotFoundError(
                            "Checkpoint %s %s is named %s, not %s" % (cid, scope, _quote(cp.name), _quote(name)),
                            category="ObjectNotFound",
                        )
                    return cp
            raise NotFoundError("No checkpoint with Id %s %s" % (cid, scope), category="ObjectNotFound")
        if name is None:
            raise ConfigurationError("either a checkpoint name or a checkpoint_id is required")
        return match_exact(checkpoints, name, "checkpoint", scope, "checkpoint_id")

    def create_checkpoint(self, vm_id, name):
        """Checkpoint-VM by VM Id; returns the new Checkpoint (from -Passthru)."""
        output = raise_for_result(self.run_one(self.create_checkpoint_pipeline(vm_id, name)), "creating checkpoint")
        if not output:
            raise CommandError("Checkpoint-VM returned no checkpoint", errors=[])
        return Checkpoint.from_plain(output[-1])

    def restore_checkpoint(self, checkpoint_id):
        """Restore-VMSnapshot -Confirm:$false by checkpoint Id; returns the Checkpoint or None."""
        output = raise_for_result(self.run_one(self.restore_checkpoint_pipeline(checkpoint_id)), "applying checkpoint")
        return Checkpoint.from_plain(output[-1]) if output else None

    def remove_checkpoint(self, checkpoint_id, include_children=False, missing_ok=True):
        """Remove-VMSnapshot by Id. Returns False when it was already gone (and ``missing_ok``)."""
        return removal_outcome(self.run_one(self.remove_checkpoint_pipeline(checkpoint_id, include_children)),
                               missing_ok)

    def rename_checkpoint(self, checkpoint_id, new_name):
        output = raise_for_result(
            self.run_one(self.rename_checkpoint_pipeline(checkpoint_id, new_name)), "renaming checkpoint"
        )
        return Checkpoint.from_plain(output[-1]) if output else None

    def export_checkpoint(self, checkpoint_id, path):
        return raise_for_result(self.run_one(self.export_checkpoint_pipeline(checkpoint_id, path)), "exporting checkpoint")

    # ------------------------------------------------------------------ VM writes
    def set_vm(self, vm_id, checkpoint_type=None, automatic_checkpoints=None, snapshot_file_location=None,
               allow_unverified_paths=False):
        output = raise_for_result(
            self.run_one(
                self.set_vm_pipeline(vm_id, checkpoint_type, automatic_checkpoints, snapshot_file_location,
                                     allow_unverified_paths)
            ),
            "changing VM settings",
        )
        return VM.from_plain(output[-1]) if output else None

    def export_vm(self, vm_id, path, capture_live_state=None):
        return raise_for_result(self.run_one(self.export_vm_pipeline(vm_id, path, capture_live_state)), "exporting VM")

    def start_vm(self, vm_id):
        output = raise_for_result(self.run_one(self.start_vm_pipeline(vm_id)), "starting VM")
        return VM.from_plain(output[-1]) if output else None

    def stop_vm(self, vm_id, mode="shutdown", force=False):
        output = raise_for_result(self.run_one(self.stop_vm_pipeline(vm_id, mode, force)), "stopping VM")
        return VM.from_plain(output[-1]) if output else None

    def save_vm(self, vm_id):
        output = raise_for_result(self.run_one(self.save_vm_pipeline(vm_id)), "saving VM")
        return VM.from_plain(output[-1]) if output else None

    # ------------------------------------------------------------------ disks
    def list_hard_disks(self, vm_id):
        return self.list_hard_disks_many([vm_id])[normalize_guid(vm_id, "vm_id")]

    def list_hard_disks_many(self, vm_ids):
        ids = [normalize_guid(v, "vm_id") for v in vm_ids]
        results = self.run([self.list_hard_disks_pipeline(v) for v in ids])
        return {
            vm_id: [Disk.from_plain(o) for o in raise_for_result(res, "listing hard disks")]
            for vm_id, res in zip(ids, results)
        }

    def list_checkpoint_disks_many(self, checkpoint_ids):
        """{checkpoint_id: [Disk] or None when the host could not list them} (disks as of each checkpoint)."""
        ids = [normalize_guid(c, "checkpoint_id") for c in checkpoint_ids]
        results = self.run([self.list_checkpoint_disks_pipeline(c) for c in ids])
        out = {}
        for cid, res in zip(ids, results):
            if res.get("errors") or res.get("state") == STATE_FAILED:
                out[cid] = None
            else:
                out[cid] = [Disk.from_plain(o) for o in res.get("output") or []]
        return out

    def select_vms(self, names=(), vm_ids=()):
        """The VMs named / identified, or every VM on the host when neither is given."""
        if not names and not vm_ids:
            return self.list_vms()
        return self.find_vms(names, vm_ids)

    def get_vhds(self, paths):
        """{path: VhdChainLink or None (missing / unreadable)} for several paths in one batch."""
        unique = list(dict.fromkeys(p for p in paths if p))
        results = self.run([self.get_vhd_pipeline(p) for p in unique])
        out = {}
        for path, res in zip(unique, results):
            output = res.get("output") or []
            out[path] = VhdChainLink.from_plain(output[0]) if output else None
        return out

    def resolve_chains(self, disks):
        """Return the disks with ``chain`` filled: current file first, then each parent to the base.

        One batch per chain level. A missing or unreadable file ends its chain; a cycle or a
        chain deeper than MAX_CHAIN_DEPTH stops the walk.
        """
        chains = {i: [] for i, d in enumerate(disks) if d.path}
        pending = {i: disks[i].path for i in chains}
        seen = {i: set() for i in chains}
        for _level in range(MAX_CHAIN_DEPTH):
            if not pending:
                break
            vhds = self.get_vhds(list(pending.values()))
            nxt = {}
            for i, path in pending.items():
                link = vhds.get(path)
                if link is None:
                    continue
                chains[i].append(link)
                seen[i].add(path.lower())
                if link.parent_path and link.parent_path.lower() not in seen[i]:
                    nxt[i] = link.parent_path
            pending = nxt
        return [d.with_chain(chains.get(i, ())) for i, d in enumerate(disks)]

    # ------------------------------------------------------------------ host and guest facts
    def list_volumes(self):
        output = raise_for_result(self.run_one(self.list_volumes_pipeline()), "listing volumes")
        return [Volume.from_plain(o) for o in output]

    def free_space_for(self, path, volumes=None):
        """(Volume or None) holding ``path``."""
        if volumes is None:
            volumes = self.list_volumes()
        return volume_for_path(volumes, path)

    def list_integration_services(self, vm_id):
        return self.list_integration_services_many([vm_id])[normalize_guid(vm_id, "vm_id")]

    def list_integration_services_many(self, vm_ids):
        ids = [normalize_guid(v, "vm_id") for v in vm_ids]
        results = self.run([self.list_integration_services_pipeline(v) for v in ids])
        return {
            vm_id: [IntegrationService.from_plain(o) for o in raise_for_result(res, "listing integration services")]
            for vm_id, res in zip(ids, results)
        }

    def guest_roles(self, vm_ids):
        """{vm_id: GuestRole} from KVP ProductType; ``unknown`` when the guest does not report it.

        Fetches every Msvm_KvpExchangeComponent (no -Filter string is built) and matches
        SystemName to the VM Id on the controller. If the CIM query itself fails (not exposed
        on a JEA endpoint, for example) every role is unknown with source ``unavailable``.
        """
        ids = [normalize_guid(v, "vm_id") for v in vm_ids]
        return roles_from_kvp_result(self.run_one(self.kvp_pipeline()), ids)

    def guest_role(self, vm_id):
        return self.guest_roles([vm_id])[normalize_guid(vm_id, "vm_id")]
