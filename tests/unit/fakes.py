"""Fakes at the collection's transport boundary (structured pipelines in, plain results out).

``FakeTransport`` records every pipeline and answers with a handler; ``FakeHyperV`` is a tiny
in-memory host that answers the pipelines the client builds, for client and module tests.
Import with ``from unit.fakes import FakeTransport, FakeHyperV`` (tests/ is on sys.path).
"""

from __future__ import annotations

import copy
import types
import typing as t

from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import (
    Transport,
    error_info,
    make_result,
    validate_pipeline,
)


class FakeTransport(Transport):
    name = "fake"

    def __init__(self, handler: t.Callable[[list], dict], host: str = "hv01"):
        super().__init__(types.SimpleNamespace(host=host))
        self.handler = handler
        self.calls: t.List[t.List[list]] = []  # one entry per run(): the list of pipelines
        self.opened_count = 0
        self.closed_count = 0
        self.parallel_seen: t.List[int] = []

    @property
    def pipelines(self):
        return [p for batch in self.calls for p in batch]

    def open(self):
        self.opened = True
        self.opened_count += 1

    def close(self):
        self.opened = False
        self.closed_count += 1

    def _run(self, pipelines, parallel):
        self.parallel_seen.append(parallel)
        self.calls.append(copy.deepcopy(pipelines))
        return [self.handler(copy.deepcopy(p)) for p in pipelines]


def not_found(message="Unable to find a snapshot matching the given criteria.", cmdlet="GetVMSnapshot"):
    return error_info(
        fqid="ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.%s" % cmdlet,
        category="ObjectNotFound",
        message=message,
        exception="Microsoft.HyperV.PowerShell.VirtualizationException",
    )


def vm_obj(vm_id, name, **extra):
    obj = {
        "Id": vm_id,
        "Name": name,
        "VMName": name,
        "ComputerName": "HV01",
        "State": "Running",
        "Status": "Operating normally",
        "OperationalStatus": ["Ok"],
        "CheckpointType": "Production",
        "AutomaticCheckpointsEnabled": False,
        "SnapshotFileLocation": "C:\\VMs\\%s" % name,
        "Path": "C:\\VMs\\%s" % name,
        "ParentSnapshotId": None,
        "ParentSnapshotName": None,
        "IsClustered": False,
        "Generation": 2,
        "Version": "10.0",
        "MemoryStartup": 2147483648,
        "MemoryAssigned": 2147483648,
        "DynamicMemoryEnabled": False,
        "ProcessorCount": 2,
        "ReplicationMode": "None",
        "ReplicationState": "Disabled",
    }
    obj.update(extra)
    return obj


def cp_obj(cp_id, name, vm_id, vm_name, parent_id=None, state="Off", created="2026-11-25T10:00:00.0000000+00:00",
           snapshot_type="Standard", **extra):
    obj = {
        "Id": cp_id,
        "Name": name,
        "VMId": vm_id,
        "VMName": vm_name,
        "ParentSnapshotId": parent_id,
        "ParentSnapshotName": None,
        "SnapshotType": snapshot_type,
        "State": state,
        "CreationTime": created,
        "IsAutomaticCheckpoint": False,
        "Path": "C:\\VMs\\%s" % vm_name,
    }
    obj.update(extra)
    return obj


class FakeHyperV:
    """Answers the client's read pipelines from dicts; records writes."""

    def __init__(self):
        self.vms: t.List[dict] = []
        self.checkpoints: t.List[dict] = []
        self.disks: t.Dict[str, t.List[dict]] = {}  # vm_id -> HardDiskDrive objects
        self.checkpoint_disks: t.Dict[str, t.List[dict]] = {}  # checkpoint id -> HardDiskDrive objects
        self.vhds: t.Dict[str, dict] = {}  # path -> VHD object
        self.services: t.Dict[str, t.List[dict]] = {}
        self.kvp: t.List[dict] = []
        self.volumes: t.List[dict] = []
        self.writes: t.List[list] = []
        self.kvp_error = False

    def add_vm(self, vm_id, name, **extra):
        self.vms.append(vm_obj(vm_id, name, **extra))
        return self.vms[-1]

    def add_checkpoint(self, cp_id, name, vm_id, parent_id=None, **extra):
        vm = next(v for v in self.vms if v["Id"] == vm_id)
        self.checkpoints.append(cp_obj(cp_id, name, vm_id, vm["Name"], parent_id, **extra))
        return self.checkpoints[-1]

    def transport(self, host="hv01"):
        return FakeTransport(self.handle, host=host)

    def handle(self, pipeline):
        validate_pipeline(pipeline)
        names = [c["cmdlet"] for c in pipeline]
        params = [dict((k.lower(), v) for k, v in c["parameters"]) for c in pipeline]
        first = names[0]
        if any(n.split("\\")[1].split("-")[0] not in ("Get",) for n in names):
            self.writes.append(pipeline)
            return make_result([], [])
        if first == "Hyper-V\\Get-VM":
            if "id" in params[0]:
                vms = [v for v in self.vms if v["Id"] == params[0]["id"]]
                if not vms:
                    return make_result([], [not_found(
                        'Hyper-V was unable to find a virtual machine with id "%s".' % params[0]["id"], "GetVM")])
            else:
                vms = list(self.vms)
            if len(names) == 1:
                return make_result(copy.deepcopy(vms))
            second = names[1]
            out = []
            for vm in vms:
                if second == "Hyper-V\\Get-VMSnapshot":
                    out += [c for c in self.checkpoints if c["VMId"] == vm["Id"]]
                elif second == "Hyper-V\\Get-VMHardDiskDrive":
                    out += self.disks.get(vm["Id"], [])
                elif second == "Hyper-V\\Get-VMIntegrationService":
                    out += self.services.get(vm["Id"], [])
            return make_result(copy.deepcopy(out))
        if first == "Hyper-V\\Get-VMSnapshot":
            cps = [c for c in self.checkpoints if c["Id"] == params[0].get("id")]
            if not cps:
                return make_result([], [not_found()])
            if len(names) == 2 and names[1] == "Hyper-V\\Get-VMHardDiskDrive":
                return make_result(copy.deepcopy(self.checkpoint_disks.get(cps[0]["Id"], [])))
            return make_result(copy.deepcopy(cps))
        if first == "Hyper-V\\Get-VHD":
            vhd = self.vhds.get(params[0]["path"])
            if vhd is None:
                return make_result([], [error_info(
                    fqid="InvalidParameter,Microsoft.Vhd.PowerShell.Cmdlets.GetVHD", category="InvalidArgument",
                    message="'%s' is not an existing virtual hard disk file." % params[0]["path"])])
            return make_result([copy.deepcopy(vhd)])
        if first == "Storage\\Get-Volume":
            return make_result(copy.deepcopy(self.volumes))
        if first == "CimCmdlets\\Get-CimInstance":
            if self.kvp_error:
                return make_result([], [error_info(fqid="HRESULT 0x8004100e", category="MetadataError",
                                                   message="Invalid namespace")])
            return make_result(copy.deepcopy(self.kvp))
        raise AssertionError("FakeHyperV cannot answer %r" % names)
