"""Model objects -> HvObjects with the .NET types of hyperv-objects.md.

Call these with the lab lock held (``with lab.locked():``) so one object is a consistent view.
"""

from __future__ import annotations

import typing as t
from xml.sax.saxutils import escape

from hvsim.engine.types import HvEnum, HvGuid, HvInt, HvObject, HvTimeSpan
from hvsim.model.core import Lab, as_datetime
from hvsim.model.enums import APPLYING_SNAPSHOT_VALUE, ENUM_TYPES
from hvsim.model.objects import KVP_TYPE, Drive, IntegrationService, Snapshot, VFile, VM, Volume

HV = "Microsoft.HyperV.PowerShell."


def enum(kind: str, name: str) -> HvEnum:
    type_name, table = ENUM_TYPES[kind]
    if kind == "VMOperationalStatus" and name in ("32769", "ApplyingSnapshot"):
        return HvEnum(type_name, str(APPLYING_SNAPSHOT_VALUE), APPLYING_SNAPSHOT_VALUE)
    return HvEnum(type_name, name, table[name])


def guid(value: t.Optional[str]) -> t.Optional[HvGuid]:
    return HvGuid(value.lower()) if value else None


def i32(n: int) -> HvInt:
    return HvInt(int(n), "Int32")


def i64(n: int) -> HvInt:
    return HvInt(int(n), "Int64")


def u64(n: int) -> HvInt:
    return HvInt(int(n), "UInt64")


def u32(n: int) -> HvInt:
    return HvInt(int(n), "UInt32")


STATUS_TEXT = {
    "Ok": "Operating normally",
    "CreatingSnapshot": "Creating checkpoint",
    "32769": "Applying checkpoint",
    "DeletingSnapshot": "Deleting checkpoint",
    "MergingDisks": "Merging disks",
    "ExportingVirtualMachine": "Exporting virtual machine",
    "MigratingVirtualMachine": "Migrating virtual machine",
    "BackingUpVirtualMachine": "Backing up virtual machine",
}


def drive_object(lab: Lab, vm: VM, d: Drive, snap: t.Optional[Snapshot] = None) -> HvObject:
    path = d.path
    if snap is not None:
        path = snap.disk_files.get(d.id)
    ct = d.controller_type
    props = {
        "Path": None if d.passthrough else path,
        "DiskNumber": i32(d.disk_number) if d.passthrough and d.disk_number is not None else None,
        "ControllerType": enum("ControllerType", ct),
        "ControllerNumber": i32(d.controller_number),
        "ControllerLocation": i32(d.controller_location),
        "MaximumIOPS": u64(0),
        "MinimumIOPS": u64(0),
        "SupportPersistentReservations": bool(d.shared),
        "Name": "Hard Drive",
        "Id": d.id + ("" if snap is None else ""),
        "VMName": vm.name,
        "VMId": guid(vm.id),
        "VMSnapshotId": guid(snap.id) if snap else HvGuid("00000000-0000-0000-0000-000000000000"),
        "VMSnapshotName": snap.name if snap else "",
        "ComputerName": vm.host,
        "IsDeleted": False,
    }
    return HvObject(HV + "HardDiskDrive", props,
                    to_string=(f"HardDiskDrive (Name = 'Hard Drive on {ct} controller number {d.controller_number} "
                               f"at location {d.controller_location}') [VMName = '{vm.name}']"),
                    extra_type_names=(HV + "Drive", HV + "VirtualMachineDevice", "System.Object"))


def ic_object(lab: Lab, vm: VM, ic: IntegrationService, snap: t.Optional[Snapshot] = None) -> HvObject:
    running = vm.state == "Running" and snap is None
    if not ic.enabled:
        primary, secondary, text = "Ok", None, "OK"
        op = [enum("VMIntegrationComponentOperationalStatus", "Ok")]
    elif not running:
        primary, secondary, text = None, None, None
        op = []
    elif ic.guest_ok:
        primary, secondary, text = "Ok", None, "OK"
        op = [enum("VMIntegrationComponentOperationalStatus", "Ok")]
    else:
        primary, secondary, text = "NoContact", None, "No Contact"
        op = [enum("VMIntegrationComponentOperationalStatus", "NoContact")]
    props = {
        "VMName": vm.name,
        "VMId": guid(vm.id),
        "Name": ic.name,
        "Enabled": ic.enabled,
        "OperationalStatus": op,
        "PrimaryOperationalStatus": enum("VMIntegrationComponentOperationalStatus", primary) if primary else None,
        "SecondaryOperationalStatus": enum("VMIntegrationComponentOperationalStatus", secondary) if secondary else None,
        "PrimaryStatusDescription": text,
        "SecondaryStatusDescription": None,
        "StatusDescription": [text] if text else [],
        "Id": f"Microsoft:{vm.id.upper()}\\{ic.type_id}",
        "VMSnapshotId": guid(snap.id) if snap else HvGuid("00000000-0000-0000-0000-000000000000"),
        "VMSnapshotName": snap.name if snap else "",
        "ComputerName": vm.host,
        "IsDeleted": False,
    }
    return HvObject(HV + "VMIntegrationComponent", props,
                    to_string=f"VMIntegrationComponent (Name = '{ic.name}') [VMName = '{vm.name}']",
                    extra_type_names=(HV + "VMDevice", "System.Object"))


def vm_object(lab: Lab, vm: VM) -> HvObject:
    ops = lab.operational_status(vm)
    texts = [STATUS_TEXT.get(s, s) for s in ops]
    if "MergingDisks" in ops:
        pct = lab.merge_progress(vm.id)
        texts[ops.index("MergingDisks")] = f"Merging disks ({pct}%)" if pct is not None else "Merging disks"
    parent = lab.snapshots.get(vm.parent_snapshot_id or "")
    running = vm.state in ("Running", "Paused")
    uptime = max(0.0, lab.now() - vm.started_at) if vm.state == "Running" and vm.started_at else 0.0
    heartbeat = None
    hb = next((ic for ic in vm.integration if ic.type_id.upper() == "84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47"), None)
    if hb is not None:
        if not hb.enabled:
            heartbeat = enum("VMHeartbeatStatus", "Disabled")
        elif vm.state == "Running":
            heartbeat = enum("VMHeartbeatStatus", "OkApplicationsUnknown" if hb.guest_ok else "NoContact")
        elif vm.state == "Paused":
            heartbeat = enum("VMHeartbeatStatus", "Paused")
    drives = [drive_object(lab, vm, d) for d in vm.drives]
    props: t.Dict[str, t.Any] = {
        "Name": vm.name,
        "Id": guid(vm.id),
        "VMName": vm.name,
        "VMId": guid(vm.id),
        "State": enum("VMState", vm.state),
        "Status": texts[1] if len(texts) > 1 else texts[0],
        "OperationalStatus": [enum("VMOperationalStatus", s) for s in ops],
        "PrimaryOperationalStatus": enum("VMOperationalStatus", ops[0]),
        "SecondaryOperationalStatus": enum("VMOperationalStatus", ops[1]) if len(ops) > 1 else None,
        "StatusDescriptions": texts,
        "PrimaryStatusDescription": texts[0],
        "SecondaryStatusDescription": texts[1] if len(texts) > 1 else None,
        "CheckpointType": enum("CheckpointType", vm.checkpoint_type),
        "AutomaticCheckpointsEnabled": vm.automatic_checkpoints,
        "SnapshotFileLocation": vm.snapshot_file_location,
        "CheckpointFileLocation": vm.snapshot_file_location,
        "ConfigurationLocation": vm.path,
        "Path": vm.path,
        "SmartPagingFilePath": vm.smart_paging_path,
        "SmartPagingFileInUse": False,
        "ParentSnapshotId": guid(parent.id) if parent else None,
        "ParentSnapshotName": parent.name if parent else None,
        "ParentCheckpointId": guid(parent.id) if parent else None,
        "ParentCheckpointName": parent.name if parent else None,
        "IsClustered": vm.is_clustered,
        "ComputerName": vm.host,
        "Generation": i32(vm.generation),
        "Version": vm.version,
        "MemoryStartup": i64(vm.memory_startup),
        "MemoryAssigned": i64(vm.memory_startup if running else 0),
        "MemoryDemand": i64(int(vm.memory_startup * 0.6) if vm.state == "Running" else 0),
        "MemoryMinimum": i64(vm.memory_minimum),
        "MemoryMaximum": i64(vm.memory_maximum),
        "DynamicMemoryEnabled": vm.dynamic_memory,
        "ProcessorCount": i64(vm.processor_count),
        "CPUUsage": i32(3 if vm.state == "Running" else 0),
        "Uptime": HvTimeSpan(round(uptime, 3)),
        "Heartbeat": heartbeat,
        "IntegrationServicesState": "Up to date" if vm.state == "Running" else None,
        "Notes": vm.notes,
        "CreationTime": as_datetime(vm.creation_time),
        "AutomaticStartAction": enum("StartAction", vm.automatic_start_action),
        "AutomaticStopAction": enum("StopAction", vm.automatic_stop_action),
        "AutomaticStartDelay": i32(vm.automatic_start_delay),
        "AutomaticCriticalErrorAction": enum("CriticalErrorAction", vm.automatic_critical_error_action),
        "AutomaticCriticalErrorActionTimeout": i32(vm.automatic_critical_error_action_timeout),
        "LockOnDisconnect": enum("OnOffState", vm.lock_on_disconnect),
        "ReplicationState": enum("VMReplicationState", vm.replication_state),
        "ReplicationMode": enum("VMReplicationMode", vm.replication_mode),
        "ReplicationHealth": enum("VMReplicationHealthState", vm.replication_health),
        "VirtualMachineType": enum("VirtualMachineType", "RealizedVirtualMachine"),
        "VirtualMachineSubType": enum("VirtualMachineSubType", f"Generation{vm.generation}"),
        "HardDrives": drives,
        "VMIntegrationService": [ic_object(lab, vm, ic) for ic in vm.integration],
        # hyperv-objects.md §1 (R-STUB): virtual Fibre Channel adapters (unsupported for checkpoints, behaviour §9)
        "FibreChannelHostBusAdapters": [
            HvObject(HV + "VMFibreChannelHba", {"Name": "Fibre Channel Adapter", "VMName": vm.name, "VMId": guid(vm.id),
                                                "SanName": "SAN1", "ComputerName": vm.host},
                     to_string=f"VMFibreChannelHba (Name = 'Fibre Channel Adapter') [VMName = '{vm.name}']")
        ] if vm.vfc else [],
        "IsDeleted": False,
    }
    return HvObject(HV + "VirtualMachine", props, to_string=f"VirtualMachine (Name = '{vm.name}') [Id = '{vm.id}']",
                    extra_type_names=(HV + "VirtualMachineBase", HV + "VirtualizationObject", "System.Object"))


def snapshot_object(lab: Lab, s: Snapshot) -> HvObject:
    vm = lab.vms[s.vm_id]
    parent = lab.snapshots.get(s.parent_id or "")
    drives = [drive_object(lab, vm, d, s) for d in vm.drives]
    props: t.Dict[str, t.Any] = {
        "Name": s.name,
        "Id": guid(s.id),
        "VMName": vm.name,
        "VMId": guid(vm.id),
        "SnapshotType": enum("SnapshotType", s.snapshot_type),
        "State": enum("VMState", s.state),
        "ParentSnapshotId": guid(parent.id) if parent else None,
        "ParentSnapshotName": parent.name if parent else None,
        "ParentCheckpointId": guid(parent.id) if parent else None,
        "ParentCheckpointName": parent.name if parent else None,
        "CreationTime": as_datetime(s.creation_time),
        "IsAutomaticCheckpoint": s.is_automatic,
        "Path": s.path,
        "Notes": s.captured.notes,
        "ComputerName": vm.host,
        "Generation": i32(vm.generation),
        "Version": vm.version,
        "ProcessorCount": i64(s.captured.processor_count),
        "MemoryStartup": i64(s.captured.memory_startup),
        "DynamicMemoryEnabled": s.captured.dynamic_memory,
        "IsClustered": vm.is_clustered,
        "SizeOfSystemFiles": u64(0),
        "HardDrives": drives,
        "IsDeleted": False,
    }
    return HvObject(HV + "VMSnapshot", props, to_string=f"VMSnapshot (Name = '{s.name}') [VMName = '{vm.name}']",
                    extra_type_names=(HV + "VirtualMachineBase", HV + "VirtualizationObject", "System.Object"))


def vhd_object(lab: Lab, host: str, f: VFile, attached: bool) -> HvObject:
    meta = f.vhd
    assert meta is not None
    props = {
        "ComputerName": host,
        "Path": f.path,
        "VhdFormat": enum("VhdFormat", meta.vhd_format),
        "VhdType": enum("VhdType", meta.vhd_type),
        "FileSize": u64(f.size),
        "Size": u64(meta.virtual_size),
        "MinimumSize": u64(min(meta.virtual_size, max(f.size, 3 * 1024 * 1024))) if meta.vhd_type != "Differencing" else None,
        "LogicalSectorSize": u32(512),
        "PhysicalSectorSize": u32(4096),
        "BlockSize": u32(2 * 1024 * 1024 if meta.vhd_type == "Differencing" else 32 * 1024 * 1024),
        "ParentPath": meta.parent_path or "",
        "DiskIdentifier": meta.disk_identifier,
        "FragmentationPercentage": u32(0) if meta.vhd_type != "Differencing" else None,
        "Alignment": u32(1),
        "Attached": attached,
        "DiskNumber": None,
        "IsPMEMCompatible": False,
        "AddressAbstractionType": HvEnum("Microsoft.Vhd.PowerShell.AddressAbstractionType", "None", 0),
        "Number": None,
    }
    return HvObject("Microsoft.Vhd.PowerShell.VirtualHardDisk", props, to_string=f"Microsoft.Vhd.PowerShell.VirtualHardDisk",
                    extra_type_names=("System.Object",))


VOLUME_TYPE = "Microsoft.Management.Infrastructure.CimInstance#ROOT/Microsoft/Windows/Storage/MSFT_Volume"


def volume_object(lab: Lab, host: str, vol: Volume) -> HvObject:
    hostobj = lab.hosts[host]
    letter = vol.root[0] if len(vol.root) >= 2 and vol.root[1] == ":" and len(vol.root.rstrip("\\")) == 2 else None
    vid = "{" + (vol.id or "0").lower() + "}"
    props = {
        "DriveLetter": letter,
        "FileSystemLabel": vol.label,
        "FileSystem": vol.file_system,
        "FileSystemType": HvEnum("Microsoft.PowerShell.Cmdletization.GeneratedTypes.Storage.Volume.FileSystemType",
                                 vol.file_system, 14 if vol.file_system == "NTFS" else 15),
        "DriveType": "Fixed",
        "HealthStatus": "Healthy",
        "OperationalStatus": "OK",
        "Size": u64(vol.capacity),
        "SizeRemaining": u64(lab.free_bytes(vol, hostobj)),
        "Path": f"\\\\?\\Volume{vid}\\",
        "UniqueId": f"\\\\?\\Volume{vid}\\",
        "ObjectId": f"{{1}}\\\\{host}\\root/Microsoft/Windows/Storage/Providers_v2\\WSP_Volume.ObjectId=\"{vid}\"",
        "AccessPaths": [vol.root, f"\\\\?\\Volume{vid}\\"],
    }
    return HvObject(VOLUME_TYPE, props, to_string=f"MSFT_Volume (ObjectId = \"{vid}\")",
                    extra_type_names=("Microsoft.Management.Infrastructure.CimInstance#MSFT_StorageObject",
                                      "Microsoft.Management.Infrastructure.CimInstance", "System.Object"))


def host_object(lab: Lab, host: str) -> HvObject:
    h = lab.hosts[host]
    props = {
        "Name": h.name,
        "ComputerName": h.name,
        "FullyQualifiedDomainName": f"{h.name}.{h.domain}".lower() if h.domain else h.name,
        "VirtualMachinePath": h.vm_path,
        "VirtualHardDiskPath": h.vhd_path,
        "LogicalProcessorCount": i32(h.logical_processors),
        "MemoryCapacity": i64(h.memory_capacity),
        "MaximumStorageMigrations": u32(2),
        "MaximumVirtualMachineMigrations": u32(2),
        "VirtualMachineMigrationEnabled": bool(h.cluster),
        "NumaSpanningEnabled": True,
        "EnableEnhancedSessionMode": False,
        "SupportedVmVersions": ["5.0", "8.0", "9.0", "10.0"],
        "IsDeleted": False,
    }
    return HvObject(HV + "VMHost", props, to_string=f"VMHost (Name = '{h.name}')",
                    extra_type_names=(HV + "VirtualizationObject", "System.Object"))


def kvp_item_xml(name: str, data: str) -> str:
    """One Msvm_KvpExchangeDataItem embedded instance as CIM-XML (the GuestIntrinsicExchangeItems form)."""
    return (
        '<INSTANCE CLASSNAME="Msvm_KvpExchangeDataItem">'
        '<PROPERTY NAME="Caption" PROPAGATED="true" TYPE="string"></PROPERTY>'
        f'<PROPERTY NAME="Data" TYPE="string"><VALUE>{escape(data)}</VALUE></PROPERTY>'
        '<PROPERTY NAME="Description" PROPAGATED="true" TYPE="string"></PROPERTY>'
        '<PROPERTY NAME="ElementName" PROPAGATED="true" TYPE="string"></PROPERTY>'
        '<PROPERTY NAME="InstanceID" PROPAGATED="true" TYPE="string"></PROPERTY>'
        f'<PROPERTY NAME="Name" TYPE="string"><VALUE>{escape(name)}</VALUE></PROPERTY>'
        '<PROPERTY NAME="Source" TYPE="uint16"><VALUE>2</VALUE></PROPERTY>'
        "</INSTANCE>"
    )


KVP_CLASS = "Microsoft.Management.Infrastructure.CimInstance#root/virtualization/v2/Msvm_KvpExchangeComponent"


def kvp_object(lab: Lab, vm: VM) -> HvObject:
    kvp_ic = next((ic for ic in vm.integration if ic.type_id.upper() == KVP_TYPE), None)
    reporting = vm.state == "Running" and kvp_ic is not None and kvp_ic.enabled and kvp_ic.guest_ok
    items = [kvp_item_xml(k, v) for k, v in sorted(vm.guest.kvp.items())] if reporting else None
    props = {
        "Caption": "Key-Value Pair Exchange",
        "Description": "Microsoft Virtual Machine Key-Value Pair Exchange Component",
        "ElementName": "Key-Value Pair Exchange",
        "InstanceID": f"Microsoft:{vm.id.upper()}\\{KVP_TYPE}",
        "CreationClassName": "Msvm_KvpExchangeComponent",
        "DeviceID": f"Microsoft:{vm.id.upper()}\\{KVP_TYPE}",
        "SystemCreationClassName": "Msvm_ComputerSystem",
        "SystemName": vm.id.upper(),
        "EnabledState": HvInt(2 if kvp_ic is not None and kvp_ic.enabled else 3, "UInt16"),
        "OperationalStatus": [HvInt(2 if reporting else 12, "UInt16")],
        "GuestIntrinsicExchangeItems": items,
        "GuestExchangeItems": [] if reporting else None,
    }
    text = f"Msvm_KvpExchangeComponent (CreationClassName = \"Msvm_KvpExchangeComponent\", DeviceID = \"{props['DeviceID']}\")"
    return HvObject(KVP_CLASS, props, to_string=text,
                    extra_type_names=("Microsoft.Management.Infrastructure.CimInstance#root/virtualization/v2/Msvm_EnabledLogicalElement",
                                      "Microsoft.Management.Infrastructure.CimInstance", "System.Object"))
