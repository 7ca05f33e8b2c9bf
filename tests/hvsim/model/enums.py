"""Enum tables of the Hyper-V PowerShell module (names and values as in hyperv-objects.md).

Values are R-STUB (inferred) as recorded in hyperv-objects.md; clients compare by name.
"""

from __future__ import annotations

import typing as t

HV = "Microsoft.HyperV.PowerShell."

VM_STATE: t.Dict[str, int] = {
    "Other": 1, "Running": 2, "Off": 3, "Stopping": 4, "Saved": 6, "Paused": 9, "Starting": 10,
    "Reset": 11, "Saving": 32773, "Pausing": 32776, "Resuming": 32777, "FastSaved": 32779,
    "FastSaving": 32780, "ForceShutdown": 32781, "ForceReboot": 32782, "Hibernated": 32783,
    "ComponentServicing": 32784, "RunningCritical": 32785, "OffCritical": 32786,
    "StoppingCritical": 32787, "SavedCritical": 32788, "PausedCritical": 32789,
    "StartingCritical": 32790, "ResetCritical": 32791, "SavingCritical": 32792,
    "PausingCritical": 32793, "ResumingCritical": 32794, "FastSavedCritical": 32795,
    "FastSavingCritical": 32796,
}

# hyperv-objects.md §1: the module enum has ApplyingSnapshot = 23769 (typo), so the WMI value
# 32769 has no name and ToString() gives "32769". We never emit 23769.
VM_OPERATIONAL_STATUS: t.Dict[str, int] = {
    "Ok": 2, "Degraded": 3, "PredictiveFailure": 5, "InService": 11, "Dormant": 15,
    "SupportingEntityInError": 16, "CreatingSnapshot": 32768, "DeletingSnapshot": 32770,
    "WaitingToStart": 32771, "MergingDisks": 32772, "ExportingVirtualMachine": 32773,
    "MigratingVirtualMachine": 32774, "BackingUpVirtualMachine": 32776,
    "ModifyingUpVirtualMachine": 32777, "StorageMigrationPhaseOne": 32778,
    "StorageMigrationPhaseTwo": 32779, "MigratingPlannedVm": 32780,
    "CheckingCompatibility": 32781, "ApplicationCriticalState": 32782,
    "CommunicationTimedOut": 32783, "CommunicationFailed": 32784, "CriticalIoError": 32795,
}
APPLYING_SNAPSHOT_VALUE = 32769

CHECKPOINT_TYPE: t.Dict[str, int] = {"Disabled": 2, "Production": 3, "ProductionOnly": 4, "Standard": 5}

SNAPSHOT_TYPE: t.Dict[str, int] = {
    "Standard": 0, "Recovery": 1, "Planned": 2, "Missing": 5, "Replica": 6,
    "AppConsistentReplica": 7, "SyncedReplica": 8,
}

REPLICATION_MODE: t.Dict[str, int] = {"None": 0, "Primary": 1, "Replica": 2, "TestReplica": 3, "ExtendedReplica": 4}
# VMReplicationState: only the members the labs use (names from the module; inferred).
REPLICATION_STATE: t.Dict[str, int] = {
    "Disabled": 0, "ReadyForInitialReplication": 1, "WaitingForInitialReplication": 3,
    "Replicating": 4, "FailedOver": 7, "Suspended": 8, "Error": 9,
}
REPLICATION_HEALTH: t.Dict[str, int] = {"NotApplicable": 0, "Normal": 1, "Warning": 2, "Critical": 3}

HEARTBEAT: t.Dict[str, int] = {
    "Unknown": 0, "Disabled": 1, "NoContact": 2, "Error": 3, "LostCommunication": 4,
    "OkApplicationsUnknown": 5, "OkApplicationsHealthy": 6, "OkApplicationsCritical": 7, "Paused": 8,
}
START_ACTION: t.Dict[str, int] = {"Nothing": 2, "StartIfRunning": 3, "Start": 4}
STOP_ACTION: t.Dict[str, int] = {"TurnOff": 2, "Save": 3, "ShutDown": 4}
CRITICAL_ERROR_ACTION: t.Dict[str, int] = {"None": 0, "Pause": 1}
ON_OFF: t.Dict[str, int] = {"On": 0, "Off": 1}
CONTROLLER_TYPE: t.Dict[str, int] = {"IDE": 0, "SCSI": 1, "PMEM": 2}
VHD_FORMAT: t.Dict[str, int] = {"Unknown": 0, "VHD": 2, "VHDX": 3, "VHDSet": 4}
VHD_TYPE: t.Dict[str, int] = {"Unknown": 0, "Fixed": 2, "Dynamic": 3, "Differencing": 4}
IC_STATUS: t.Dict[str, int] = {
    "Ok": 2, "Degraded": 3, "Error": 6, "NonRecoverableError": 7, "NoContact": 12,
    "LostCommunication": 13, "ProtocolMismatch": 32775, "ApplicationCritical": 32782,
    "CommunicationTimedOut": 32783, "CommunicationFailed": 32784, "Disabled": 32896,
}
VM_TYPE: t.Dict[str, int] = {"RealizedVirtualMachine": 3, "PlannedVirtualMachine": 4}
VM_SUBTYPE: t.Dict[str, int] = {"Unknown": 0, "Generation1": 1, "Generation2": 2}

ENUM_TYPES: t.Dict[str, t.Tuple[str, t.Dict[str, int]]] = {
    "VMState": (HV + "VMState", VM_STATE),
    "VMOperationalStatus": (HV + "VMOperationalStatus", VM_OPERATIONAL_STATUS),
    "CheckpointType": (HV + "CheckpointType", CHECKPOINT_TYPE),
    "SnapshotType": (HV + "SnapshotType", SNAPSHOT_TYPE),
    "VMReplicationMode": (HV + "VMReplicationMode", REPLICATION_MODE),
    "VMReplicationState": (HV + "VMReplicationState", REPLICATION_STATE),
    "VMReplicationHealthState": (HV + "VMReplicationHealthState", REPLICATION_HEALTH),
    "VMHeartbeatStatus": (HV + "VMHeartbeatStatus", HEARTBEAT),
    "StartAction": (HV + "StartAction", START_ACTION),
    "StopAction": (HV + "StopAction", STOP_ACTION),
    "CriticalErrorAction": (HV + "CriticalErrorAction", CRITICAL_ERROR_ACTION),
    "OnOffState": (HV + "OnOffState", ON_OFF),
    "ControllerType": (HV + "ControllerType", CONTROLLER_TYPE),
    "VhdFormat": ("Microsoft.Vhd.PowerShell.VhdFormat", VHD_FORMAT),
    "VhdType": ("Microsoft.Vhd.PowerShell.VhdType", VHD_TYPE),
    "VMIntegrationComponentOperationalStatus": (HV + "VMIntegrationComponentOperationalStatus", IC_STATUS),
    "VirtualMachineType": (HV + "VirtualMachineType", VM_TYPE),
    "VirtualMachineSubType": (HV + "VirtualMachineSubType", VM_SUBTYPE),
}


def canonical_name(enum: str, value: t.Any) -> str:
    """Turn a user-given enum value (name in any case, int, or HvEnum-like) into the member name.

    Raises ValueError for an unknown value.
    """
    table = ENUM_TYPES[enum][1]
    name = getattr(value, "name", value)
    if isinstance(name, bool):
        raise ValueError(f"{value!r} is not a valid {enum}")
    if isinstance(name, int):
        for k, v in table.items():
            if v == name:
                return k
        raise ValueError(f"{value!r} is not a valid {enum}")
    s = str(name).strip()
    for k in table:
        if k.lower() == s.lower():
            return k
    if s.isdigit():
        return canonical_name(enum, int(s))
    raise ValueError(f"{value!r} is not a valid {enum}")
