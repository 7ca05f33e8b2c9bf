"""The model's data: plain dataclasses that serialise to JSON (lab state files).

Every field is JSON data or another dataclass of this module, so ``to_plain``/``from_plain``
round-trip the whole lab.
"""

from __future__ import annotations

import dataclasses
import typing as t

GiB = 1024 ** 3
MiB = 1024 ** 2

# Integration component type GUIDs (the part after the backslash in the component Id,
# "Microsoft:<VMId>\\<type guid>"). Inferred from public scripts; services are matched on these,
# never on (localized) display names (hyperv-behaviour.md §1).
IC_TYPES: t.Dict[str, str] = {
    "Guest Service Interface": "6C09BB55-D683-4DA0-8931-C9BF705F6480",
    "Heartbeat": "84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47",
    "Key-Value Pair Exchange": "2A34B1C2-FD73-4043-8A5B-DD2159BC743F",
    "Shutdown": "9F8233AC-BE49-4C79-8EE3-E7E1985B2077",
    "Time Synchronization": "2497F4DE-E9FA-4204-80E4-4B75C46419C0",
    "VSS": "5CED1297-4598-4915-A5FC-AD21BB4D02A4",
}
VSS_TYPE = IC_TYPES["VSS"]
SHUTDOWN_TYPE = IC_TYPES["Shutdown"]
KVP_TYPE = IC_TYPES["Key-Value Pair Exchange"]
HEARTBEAT_TYPE = IC_TYPES["Heartbeat"]


@dataclasses.dataclass
class VhdMeta:
    vhd_format: str = "VHDX"  # VHD / VHDX / VHDSet
    vhd_type: str = "Dynamic"  # Fixed / Dynamic / Differencing
    virtual_size: int = 0
    parent_path: t.Optional[str] = None  # display path of the parent (Differencing only)
    disk_identifier: str = ""


@dataclasses.dataclass
class VFile:
    path: str  # display path
    size: int
    content: str = ""  # content token: a sha256 hex that changes with the data; for text files the text itself
    kind: str = "data"  # vhd / config / state / data / text
    vhd: t.Optional[VhdMeta] = None
    text: t.Optional[str] = None  # files written by Set-Content keep their text (Import-Csv reads it)
    mtime: float = 0.0  # LastWriteTime (clock seconds)


@dataclasses.dataclass
class Volume:
    """A host volume (drive or mount root) or a file share (root ``\\\\srv\\share``)."""

    root: str
    capacity: int
    other_used: int = 0  # bytes used by files the model does not track
    label: str = ""
    file_system: str = "NTFS"
    id: str = ""
    allowed: t.List[str] = dataclasses.field(default_factory=list)  # shares: computer accounts allowed to write
    files: t.Dict[str, VFile] = dataclasses.field(default_factory=dict)  # key(path) -> file
    dirs: t.Dict[str, str] = dataclasses.field(default_factory=dict)  # key(path) -> display path (explicit folders)
    users: t.List[str] = dataclasses.field(default_factory=lambda: ["Everyone"])  # shares: user accounts with access

    def used(self) -> int:
        return self.other_used + sum(f.size for f in self.files.values())


@dataclasses.dataclass
class Host:
    name: str
    cluster: t.Optional[str] = None
    domain: str = "lab.local"
    volumes: t.List[Volume] = dataclasses.field(default_factory=list)
    throughput: int = 200 * MiB  # bytes/s of checkpoint/merge/export I/O, for each operation holding a slot
    concurrency: int = 2  # slots: bulk operations (checkpoint, apply, export, merge) running at once
    logical_processors: int = 16
    memory_capacity: int = 256 * GiB
    vm_path: str = "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V"
    vhd_path: str = "C:\\ProgramData\\Microsoft\\Windows\\Virtual Hard Disks"
    online: bool = True


@dataclasses.dataclass
class Drive:
    id: str
    controller_type: str = "SCSI"
    controller_number: int = 0
    controller_location: int = 0
    path: t.Optional[str] = None  # current file (base .vhdx or newest .avhdx); None for pass-through
    base_path: t.Optional[str] = None
    passthrough: bool = False
    disk_number: t.Optional[int] = None
    shared: bool = False  # shared VHDX (unsupported for checkpoints, behaviour §9)


@dataclasses.dataclass
class IntegrationService:
    type_id: str  # component type GUID (IC_TYPES)
    name: str  # display name (may be localized)
    enabled: bool = True
    guest_ok: bool = True  # the guest side responds (e.g. Linux without hv_vss_daemon: False for VSS)


@dataclasses.dataclass
class Guest:
    os: str = "windows"  # windows / linux
    vss: bool = True  # the guest honours VSS (Linux: hv_vss_daemon running)
    kvp: t.Dict[str, str] = dataclasses.field(default_factory=dict)  # intrinsic KVP items
    domain: t.Optional[str] = None
    cluster: t.Optional[str] = None  # guest cluster name the VM belongs to


@dataclasses.dataclass
class Captured:
    """VM state captured by a checkpoint (restored by apply)."""

    power_state: str = "Off"
    memory_startup: int = 0
    processor_count: int = 1
    dynamic_memory: bool = False
    notes: str = ""


@dataclasses.dataclass
class Snapshot:
    id: str
    name: str
    vm_id: str
    parent_id: t.Optional[str]
    creation_time: float
    seq: int
    snapshot_type: str = "Standard"
    is_automatic: bool = False
    state: str = "Off"  # Saved (holds memory) / Off
    kind: str = "standard"  # standard / production (internal; not exposed, behaviour §2)
    path: str = ""  # SnapshotFileLocation at creation
    captured: Captured = dataclasses.field(default_factory=Captured)
    disk_files: t.Dict[str, t.Optional[str]] = dataclasses.field(default_factory=dict)  # drive id -> frozen file
    config_file: t.Optional[str] = None
    state_file: t.Optional[str] = None


@dataclasses.dataclass
class VM:
    id: str
    name: str
    host: str
    state: str = "Off"
    generation: int = 2
    version: str = "10.0"
    memory_startup: int = 4 * GiB
    memory_minimum: int = 512 * MiB
    memory_maximum: int = 1024 * GiB
    dynamic_memory: bool = False
    processor_count: int = 2
    checkpoint_type: str = "Production"
    automatic_checkpoints: bool = False
    snapshot_file_location: str = ""
    path: str = ""
    smart_paging_path: str = ""
    notes: str = ""
    is_clustered: bool = False
    replication_mode: str = "None"
    replication_state: str = "Disabled"
    replication_health: str = "NotApplicable"
    automatic_start_action: str = "StartIfRunning"
    automatic_stop_action: str = "Save"
    automatic_start_delay: int = 0
    automatic_critical_error_action: str = "Pause"
    automatic_critical_error_action_timeout: int = 30
    lock_on_disconnect: str = "Off"
    vfc: bool = False  # virtual Fibre Channel adapter (unsupported for checkpoints)
    drives: t.List[Drive] = dataclasses.field(default_factory=list)
    integration: t.List[IntegrationService] = dataclasses.field(default_factory=list)
    guest: Guest = dataclasses.field(default_factory=Guest)
    parent_snapshot_id: t.Optional[str] = None
    creation_time: float = 0.0
    started_at: t.Optional[float] = None
    write_rate: int = 2 * MiB  # bytes per running second written to the current disk (time_scale > 0)
    busy: t.List[str] = dataclasses.field(default_factory=list)  # in-flight operation statuses


@dataclasses.dataclass
class MergeJob:
    id: str
    host: str
    vm_id: str
    bytes_total: int
    bytes_done: float
    started: float
    min_end: t.Optional[float] = None  # slow_merge fault: not before this clock time
    held: bool = False  # slow_merge fault with hold=True: until the fault is cleared


# Field names per dataclass (None: not a dataclass): dataclasses.fields() per object made the
# state snapshot of a 1000-VM lab cost seconds of CPU.
_FIELD_NAMES: t.Dict[type, t.Optional[t.Tuple[str, ...]]] = {}


def _field_names(cls: type) -> t.Optional[t.Tuple[str, ...]]:
    try:
        return _FIELD_NAMES[cls]
    except KeyError:
        names = tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else None
        _FIELD_NAMES[cls] = names
        return names


def to_plain(obj: t.Any) -> t.Any:
    if obj is None or obj.__class__ in (str, int, float, bool):
        return obj
    names = _field_names(obj.__class__)
    if names is not None:
        return {name: to_plain(getattr(obj, name)) for name in names}
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj


def _convert(tp: t.Any, value: t.Any) -> t.Any:
    if value is None:
        return None
    origin = t.get_origin(tp)
    args = t.get_args(tp)
    if origin is t.Union:
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value) if len(inner) == 1 else value
    if origin in (list, t.List):
        return [_convert(args[0], v) for v in value]
    if origin in (dict, t.Dict):
        return {k: _convert(args[1], v) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_plain(tp, value)
    return value


_HINTS: t.Dict[type, t.Dict[str, t.Any]] = {}


def from_plain(cls: t.Type[t.Any], data: t.Mapping[str, t.Any]) -> t.Any:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = t.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)
