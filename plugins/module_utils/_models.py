# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Typed views of the plain Hyper-V objects returned by the transport (contracts.md section 2).

Each dataclass has a ``from_plain(dict)`` constructor that tolerates missing properties
(older hosts, the simulator) and an ``as_dict()`` that returns plain data for module
results. Enum values are compared by *name*, never by number (hyperv-objects.md).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dataclasses
import re
import typing as t
import xml.etree.ElementTree as ET

from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import normalize_datetime

# Operational statuses that mean "an operation is in progress; do not start another one".
# Names as the enum gives them; "32769" is ApplyingSnapshot, which the module's enum misspells
# (23769), so a VM applying a checkpoint reports the bare number (hyperv-objects.md section 1).
BUSY_OPERATIONAL_STATUSES = {
    "CreatingSnapshot": "creating a checkpoint",
    "ApplyingSnapshot": "applying a checkpoint",
    "32769": "applying a checkpoint",
    "DeletingSnapshot": "deleting a checkpoint",
    "MergingDisks": "merging disks",
    "ExportingVirtualMachine": "exporting",
    "MigratingVirtualMachine": "migrating",
    "BackingUpVirtualMachine": "being backed up",
    "ModifyingUpVirtualMachine": "being modified",
    "StorageMigrationPhaseOne": "storage migration",
    "StorageMigrationPhaseTwo": "storage migration",
    "MigratingPlannedVm": "migrating",
    "CheckingCompatibility": "checking compatibility",
}

# Integration service component GUIDs (the part after the backslash of the service Id).
# Display names are localized, so match on Id first (hyperv-behaviour.md section 1).
IC_VSS_GUID = "5ced1297-4598-4915-a5fc-ad21bb4d02a4"
IC_KVP_GUID = "2a34b1c2-fd73-4043-8a5b-dd2159bc743f"
IC_HEARTBEAT_GUID = "84eaae65-2f2e-45f5-9bb5-0e857dc8eb47"
IC_SHUTDOWN_GUID = "9f8233ac-be49-4c79-8ee3-e7e1985b2077"
IC_TIMESYNC_GUID = "2497f4de-e9fa-4204-80e4-4b75c46419c0"
IC_GUEST_SERVICE_GUID = "6c09bb55-d683-4da0-8931-c9bf705f6480"

IC_KINDS = {
    IC_VSS_GUID: "vss",
    IC_KVP_GUID: "kvp",
    IC_HEARTBEAT_GUID: "heartbeat",
    IC_SHUTDOWN_GUID: "shutdown",
    IC_TIMESYNC_GUID: "time_sync",
    IC_GUEST_SERVICE_GUID: "guest_service",
}
# Fallback when the Id carries no known GUID: the English display names.
IC_KINDS_BY_NAME = {
    "vss": "vss",
    "backup (volume shadow copy)": "vss",
    "key-value pair exchange": "kvp",
    "heartbeat": "heartbeat",
    "shutdown": "shutdown",
    "time synchronization": "time_sync",
    "guest service interface": "guest_service",
}

_GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _s(value):
    """A string property, or None."""
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _guid(value):
    if value in (None, ""):
        return None
    text = str(value).strip().strip("{}").lower()
    return text or None


def _int(value):
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _bool(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
    return None


def _list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [_s(v) for v in value]
    return [_s(value)]


class _KeyRecorder(dict):
    """An empty object that notes every property name read from it, in order."""

    def __init__(self):
        super(_KeyRecorder, self).__init__()
        self.names = []

    def _note(self, name):
        if name not in self.names:
            self.names.append(name)

    def __contains__(self, name):
        self._note(name)
        return False

    def __getitem__(self, name):
        self._note(name)
        raise KeyError(name)

    def get(self, name, default=None):
        self._note(name)
        return default


def properties_read(from_plain):
    """The property names ``from_plain`` reads, aliases included: a ``Select-Object`` projection that loses nothing.

    Recorded from the constructor itself, so the projection cannot drift from what it reads
    (a name a host lacks comes back ``$null`` from ``Select-Object``, as if absent). It relies
    on ``from_plain`` reading every name whatever the values, as each constructor here does; a
    unit test reads the labs' objects both ways and compares the models.
    """
    recorder = _KeyRecorder()
    from_plain(recorder)
    return tuple(recorder.names)


def _merging(operational_status):
    return "MergingDisks" in operational_status


def _prop(obj, *names):
    """First present property among ``names`` (ETS aliases differ between builds)."""
    for name in names:
        if name in obj and obj[name] is not None:
            return obj[name]
    return None


@dataclasses.dataclass(frozen=True)
class VM:
    id: str
    name: str
    host: t.Optional[str] = None
    state: t.Optional[str] = None
    status: t.Optional[str] = None
    operational_status: t.Tuple[str, ...] = ()
    checkpoint_type: t.Optional[str] = None
    automatic_checkpoints: t.Optional[bool] = None
    snapshot_file_location: t.Optional[str] = None
    path: t.Optional[str] = None
    parent_checkpoint_id: t.Optional[str] = None
    parent_checkpoint_name: t.Optional[str] = None
    is_clustered: t.Optional[bool] = None
    generation: t.Optional[int] = None
    version: t.Optional[str] = None
    memory_startup: t.Optional[int] = None
    memory_assigned: t.Optional[int] = None
    dynamic_memory: t.Optional[bool] = None
    processor_count: t.Optional[int] = None
    replication_mode: t.Optional[str] = None
    replication_state: t.Optional[str] = None
    notes: t.Optional[str] = None

    @classmethod
    def from_plain(cls, obj):
        return cls(
            id=_guid(_prop(obj, "Id", "VMId")) or "",
            name=_s(_prop(obj, "Name", "VMName")) or "",
            host=_s(obj.get("ComputerName")),
            state=_s(obj.get("State")),
            status=_s(obj.get("Status")),
            operational_status=tuple(_list(obj.get("OperationalStatus"))),
            checkpoint_type=_s(obj.get("CheckpointType")),
            automatic_checkpoints=_bool(obj.get("AutomaticCheckpointsEnabled")),
            snapshot_file_location=_s(_prop(obj, "SnapshotFileLocation", "CheckpointFileLocation")),
            path=_s(_prop(obj, "Path", "ConfigurationLocation")),
            parent_checkpoint_id=_guid(_prop(obj, "ParentSnapshotId", "ParentCheckpointId")),
            parent_checkpoint_name=_s(_prop(obj, "ParentSnapshotName", "ParentCheckpointName")),
            is_clustered=_bool(obj.get("IsClustered")),
            generation=_int(obj.get("Generation")),
            version=_s(obj.get("Version")),
            memory_startup=_int(obj.get("MemoryStartup")),
            memory_assigned=_int(obj.get("MemoryAssigned")),
            dynamic_memory=_bool(obj.get("DynamicMemoryEnabled")),
            processor_count=_int(obj.get("ProcessorCount")),
            replication_mode=_s(obj.get("ReplicationMode")),
            replication_state=_s(obj.get("ReplicationState")),
            notes=_s(obj.get("Notes")),
        )

    @property
    def busy_reasons(self):
        """Human-readable operations in progress, from OperationalStatus (empty when idle)."""
        return [BUSY_OPERATIONAL_STATUSES[s] for s in self.operational_status if s in BUSY_OPERATIONAL_STATUSES]

    @property
    def busy(self):
        return bool(self.busy_reasons)

    @property
    def merging(self):
        return _merging(self.operational_status)

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class VMStatus:
    """What a merge poll reads of a VM: its identity and OperationalStatus (a narrow ``Get-VM`` projection)."""

    id: str
    name: str
    operational_status: t.Tuple[str, ...] = ()

    @classmethod
    def from_plain(cls, obj):
        return cls(
            id=_guid(_prop(obj, "Id", "VMId")) or "",
            name=_s(_prop(obj, "Name", "VMName")) or "",
            operational_status=tuple(_list(obj.get("OperationalStatus"))),
        )

    @property
    def merging(self):
        return _merging(self.operational_status)


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    id: str
    name: str
    vm_id: t.Optional[str] = None
    vm_name: t.Optional[str] = None
    parent_id: t.Optional[str] = None
    parent_name: t.Optional[str] = None
    snapshot_type: t.Optional[str] = None
    state: t.Optional[str] = None
    creation_time: t.Optional[str] = None
    is_automatic: t.Optional[bool] = None
    path: t.Optional[str] = None
    notes: t.Optional[str] = None

    @classmethod
    def from_plain(cls, obj):
        return cls(
            id=_guid(obj.get("Id")) or "",
            name=_s(obj.get("Name")) or "",
            vm_id=_guid(obj.get("VMId")),
            vm_name=_s(obj.get("VMName")),
            parent_id=_guid(_prop(obj, "ParentSnapshotId", "ParentCheckpointId")),
            parent_name=_s(_prop(obj, "ParentSnapshotName", "ParentCheckpointName")),
            snapshot_type=_s(obj.get("SnapshotType")),
            state=_s(obj.get("State")),
            creation_time=normalize_datetime(_s(obj.get("CreationTime"))),
            is_automatic=_bool(obj.get("IsAutomaticCheckpoint")),
            path=_s(obj.get("Path")),
            notes=_s(obj.get("Notes")),
        )

    @property
    def captured_memory(self):
        """True when the checkpoint holds a saved memory state (State Saved), None when unknown."""
        if self.state is None:
            return None
        return self.state == "Saved"

    @property
    def captured_type(self):
        """The kind of checkpoint actually captured: ``standard`` with memory, ``production`` without.

        Rule from hyperv-behaviour.md section 2 (**unverified** on a lab host): a checkpoint with
        State Saved holds memory, which only a Standard checkpoint of a running VM does; State Off
        means no memory, which is what a Production checkpoint gives (and also any checkpoint of a
        VM that was off, where the two kinds have the same content).
        """
        if self.state is None:
            return None
        return "standard" if self.state == "Saved" else "production"

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class VhdChainLink:
    path: str
    vhd_type: t.Optional[str] = None
    vhd_format: t.Optional[str] = None
    size: t.Optional[int] = None
    file_size: t.Optional[int] = None
    parent_path: t.Optional[str] = None
    attached: t.Optional[bool] = None

    @classmethod
    def from_plain(cls, obj):
        parent = _s(obj.get("ParentPath"))
        return cls(
            path=_s(_prop(obj, "Path", "FullName")) or "",
            vhd_type=_s(obj.get("VhdType")),
            vhd_format=_s(obj.get("VhdFormat")),
            size=_int(obj.get("Size")),
            file_size=_int(obj.get("FileSize")),
            parent_path=parent or None,
            attached=_bool(obj.get("Attached")),
        )

    @property
    def is_differencing(self):
        return self.vhd_type == "Differencing" or bool(self.parent_path)

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Disk:
    """A VM hard disk drive (Get-VMHardDiskDrive) with, once resolved, its VHD chain."""

    vm_id: t.Optional[str]
    path: t.Optional[str]
    controller_type: t.Optional[str] = None
    controller_number: t.Optional[int] = None
    controller_location: t.Optional[int] = None
    disk_number: t.Optional[int] = None
    name: t.Optional[str] = None
    chain: t.Tuple[VhdChainLink, ...] = ()

    @classmethod
    def from_plain(cls, obj):
        return cls(
            vm_id=_guid(obj.get("VMId")),
            path=_s(obj.get("Path")) or None,
            controller_type=_s(obj.get("ControllerType")),
            controller_number=_int(obj.get("ControllerNumber")),
            controller_location=_int(obj.get("ControllerLocation")),
            disk_number=_int(obj.get("DiskNumber")),
            name=_s(obj.get("Name")),
        )

    @property
    def is_passthrough(self):
        return not self.path and self.disk_number is not None

    @property
    def is_vhd_set(self):
        return bool(self.path) and self.path.lower().endswith(".vhds")

    def with_chain(self, chain):
        return dataclasses.replace(self, chain=tuple(chain))

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class IntegrationService:
    name: str
    id: t.Optional[str] = None
    vm_id: t.Optional[str] = None
    enabled: t.Optional[bool] = None
    primary_status: t.Optional[str] = None
    secondary_status: t.Optional[str] = None
    operational_status: t.Tuple[str, ...] = ()

    @classmethod
    def from_plain(cls, obj):
        return cls(
            name=_s(obj.get("Name")) or "",
            id=_s(obj.get("Id")),
            vm_id=_guid(obj.get("VMId")),
            enabled=_bool(obj.get("Enabled")),
            primary_status=_s(_prop(obj, "PrimaryStatusDescription", "PrimaryOperationalStatus")),
            secondary_status=_s(_prop(obj, "SecondaryStatusDescription", "SecondaryOperationalStatus")),
            operational_status=tuple(_list(obj.get("OperationalStatus"))),
        )

    @property
    def kind(self):
        """``vss``, ``kvp``, ``heartbeat``, ``shutdown``, ``time_sync``, ``guest_service`` or None.

        Matched on the component GUID in the Id (display names are localized), falling back
        to the English display name only when the Id carries no known GUID.
        """
        if self.id:
            for guid in _GUID_RE.findall(self.id):
                kind = IC_KINDS.get(guid.lower())
                if kind:
                    return kind
        return IC_KINDS_BY_NAME.get(self.name.strip().lower())

    @property
    def guest_responding(self):
        """True when the guest side answers (status OK), False when it does not, None when unknown."""
        statuses = [s for s in self.operational_status if s]
        if statuses:
            return statuses[0] == "Ok"
        if self.primary_status is not None:
            return self.primary_status.lower() in ("ok", "operating normally")
        return None

    def as_dict(self):
        data = dataclasses.asdict(self)
        data["kind"] = self.kind
        data["guest_responding"] = self.guest_responding
        return data


@dataclasses.dataclass(frozen=True)
class Volume:
    drive_letter: t.Optional[str]
    path: t.Optional[str] = None
    label: t.Optional[str] = None
    file_system: t.Optional[str] = None
    size: t.Optional[int] = None
    size_remaining: t.Optional[int] = None
    health_status: t.Optional[str] = None

    @classmethod
    def from_plain(cls, obj):
        letter = _s(obj.get("DriveLetter"))
        if letter in ("", "\x00"):
            letter = None
        return cls(
            drive_letter=letter,
            path=_s(_prop(obj, "Path", "UniqueId")),
            label=_s(obj.get("FileSystemLabel")),
            file_system=_s(_prop(obj, "FileSystem", "FileSystemType")),
            size=_int(obj.get("Size")),
            size_remaining=_int(obj.get("SizeRemaining")),
            health_status=_s(obj.get("HealthStatus")),
        )

    def as_dict(self):
        return dataclasses.asdict(self)


# KVP ProductType values (Windows OS version info convention): 1 workstation, 2 DC, 3 server.
PRODUCT_TYPES = {1: "workstation", 2: "domain_controller", 3: "server"}


@dataclasses.dataclass(frozen=True)
class GuestRole:
    vm_id: str
    product_type: t.Optional[int] = None
    role: str = "unknown"
    domain_controller: t.Optional[bool] = None
    source: str = "kvp"

    @classmethod
    def unknown(cls, vm_id):
        return cls(vm_id=vm_id)

    @classmethod
    def from_product_type(cls, vm_id, product_type):
        if product_type is None:
            return cls.unknown(vm_id)
        role = PRODUCT_TYPES.get(product_type, "unknown")
        dc = None if role == "unknown" else role == "domain_controller"
        return cls(vm_id=vm_id, product_type=product_type, role=role, domain_controller=dc)

    def as_dict(self):
        return dataclasses.asdict(self)


def parse_kvp_items(items):
    """Parse GuestIntrinsicExchangeItems (XML-serialised Msvm_KvpExchangeDataItem) into {Name: Data}.

    Malformed items are skipped; the data comes from the guest and is not trusted.
    """
    result = {}
    for item in items or []:
        if not isinstance(item, str) or "<" not in item:
            continue
        try:
            root = ET.fromstring(item)
        except ET.ParseError:
            continue
        name = data = None
        for prop in root.iter("PROPERTY"):
            value = prop.find("VALUE")
            text = value.text if value is not None else None
            if prop.get("NAME") == "Name":
                name = text
            elif prop.get("NAME") == "Data":
                data = text
        if name is not None:
            result[name] = data
    return result


# The properties each constructor reads: the Select-Object projections of the host-wide reads
VM_PROPERTIES = properties_read(VM.from_plain)
VM_STATUS_PROPERTIES = properties_read(VMStatus.from_plain)
CHECKPOINT_PROPERTIES = properties_read(Checkpoint.from_plain)
INTEGRATION_SERVICE_PROPERTIES = properties_read(IntegrationService.from_plain)
