"""Helpers for the engine-level parameter binding suite: sample objects, a stub handler registry."""

from __future__ import annotations

import dataclasses
import typing as t

from hvsim.engine.engine import Engine
from hvsim.engine.registry import BoundCommand, HandlerContext
from hvsim.engine.types import CallContext, CommandCall, HvGuid, HvObject, PipelineResult

HV = "Microsoft.HyperV.PowerShell."

VM1_ID = "6f0c2d9e-1111-4a5b-8c9d-000000000001"
VM2_ID = "6f0c2d9e-1111-4a5b-8c9d-000000000002"
SNAP_ID = "6f0c2d9e-2222-4a5b-8c9d-000000000003"


def vm(name: str = "vm1", vm_id: str = VM1_ID) -> HvObject:
    return HvObject(
        HV + "VirtualMachine",
        {"Name": name, "Id": HvGuid(vm_id), "VMId": HvGuid(vm_id), "VMName": name},
        to_string=f"VirtualMachine (Name = '{name}') [Id = '{vm_id}']",
        extra_type_names=(HV + "VirtualMachineBase",),
    )


def snapshot(name: str = "cp1", vm_name: str = "vm1", snap_id: str = SNAP_ID) -> HvObject:
    return HvObject(
        HV + "VMSnapshot",
        {"Name": name, "Id": HvGuid(snap_id), "VMName": vm_name, "VMId": HvGuid(VM1_ID)},
        to_string=f"VMSnapshot (Name = '{name}', VMName = '{vm_name}')",
        extra_type_names=(HV + "VirtualMachineBase",),
    )


def hard_disk(path: str = r"C:\VMs\vm1\disk.avhdx") -> HvObject:
    return HvObject(
        HV + "HardDiskDrive",
        {"Name": "Hard Drive on SCSI controller number 0 at location 0", "Path": path, "VMName": "vm1", "VMId": HvGuid(VM1_ID)},
        to_string="HardDiskDrive (Name = 'Hard Drive on SCSI controller number 0 at location 0', VMName = 'vm1')",
    )


@dataclasses.dataclass
class Recorder:
    """A stub handler registry: records every BoundCommand and returns canned output."""

    outputs: t.Dict[str, t.List[t.Any]] = dataclasses.field(default_factory=dict)
    behaviour: t.Dict[str, t.Callable[[HandlerContext, BoundCommand], t.Any]] = dataclasses.field(default_factory=dict)
    calls: t.List[BoundCommand] = dataclasses.field(default_factory=list)
    missing: t.Set[str] = dataclasses.field(default_factory=set)

    def handler(self, name: str) -> t.Callable[[HandlerContext, BoundCommand], t.Any]:
        def run(ctx: HandlerContext, bound: BoundCommand) -> t.Any:
            self.calls.append(bound)
            if name in self.behaviour:
                return self.behaviour[name](ctx, bound)
            return list(self.outputs.get(name, []))

        return run

    def get(self, name: str, default: t.Any = None) -> t.Any:
        if name in self.missing:
            return default
        return self.handler(name)

    def calls_of(self, cmdlet: str) -> t.List[BoundCommand]:
        return [c for c in self.calls if c.cmdlet == cmdlet]


CTX = CallContext(host="hv1", user="lab\\tester", transport="psrp")


def run(engine: Engine, *commands: t.Tuple[str, t.List[t.Any]]) -> PipelineResult:
    return engine.run_pipeline([CommandCall(c, [list(p) for p in params]) for c, params in commands], CTX)
