"""A small stand-in engine and WinRS runner for the protocol tests (until/besides the real ones)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import threading
import time
import typing as t

from hvsim.engine.types import (
    CallContext, CommandCall, Deserialized, HvEnum, HvError, HvGuid, HvInt, HvObject, HvTimeSpan, PipelineResult,
)

VM_ID = "6f0c2d9e-1111-4a4a-8b8b-0123456789ab"
WHEN = datetime.datetime(2026, 11, 25, 15, 7, 27, tzinfo=datetime.timezone.utc)


def vm_object(name: str = "vm1", state: str = "Running", value: int = 2) -> HvObject:
    host = HvObject("Microsoft.HyperV.PowerShell.VMHost", {"Name": "hv01"}, to_string="Microsoft.HyperV.PowerShell.VMHost")
    return HvObject(
        "Microsoft.HyperV.PowerShell.VirtualMachine",
        {
            "Name": name,
            "Id": HvGuid(VM_ID),
            "State": HvEnum("Microsoft.HyperV.PowerShell.VMState", state, value),
            "OperationalStatus": [HvEnum("Microsoft.HyperV.PowerShell.VMOperationalStatus", "Ok", 2)],
            "MemoryStartup": HvInt(1073741824, "Int64"),
            "ProcessorCount": HvInt(2, "Int64"),
            "Generation": 2,
            "Uptime": HvTimeSpan(90.5),
            "CreationTime": WHEN,
            "Notes": None,
            "IsClustered": False,
            "Tags": ["a", "b"],
            "Host": host,
        },
        to_string="VirtualMachine (Name = '%s') [Id = '%s']" % (name, VM_ID),
        extra_type_names=("Microsoft.HyperV.PowerShell.VirtualMachineBase",),
    )


class FakeEngine:
    """Understands a handful of cmdlets; records every call; can be told to block or to mutate."""

    def __init__(self) -> None:
        self.calls: t.List[t.Tuple[t.List[CommandCall], CallContext]] = []
        self.lock = threading.Lock()
        self.delay = 0.0
        self.checkpoints: t.List[str] = []
        self.faults: t.List[t.Tuple[str, dict]] = []

    def run_pipeline(self, calls: t.List[CommandCall], context: CallContext) -> PipelineResult:
        with self.lock:
            self.calls.append((calls, context))
        if self.delay:
            time.sleep(self.delay)
        out = PipelineResult()
        for call in calls:
            name = call.cmdlet.split("\\")[-1]
            params = dict((k, v) for k, v in call.parameters)
            if name == "Get-VM":
                if params.get("Name") == "missing":
                    out.errors.append(HvError(
                        fqid="InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM",
                        category="InvalidArgument",
                        message="Hyper-V was unable to find a virtual machine with name \"missing\".",
                        target="missing",
                    ))
                else:
                    out.output.append(vm_object())
            elif name == "Checkpoint-VM":
                with self.lock:
                    self.checkpoints.append(str(params.get("SnapshotName")))
                out.mutated = True
            elif name == "Echo-Params":
                out.output.append(HvObject("System.Management.Automation.PSCustomObject", {
                    "Names": [k for k, _ in call.parameters],
                    "Types": [type(v).__name__ for _, v in call.parameters],
                }))
            elif name == "Warn-Me":
                out.warnings.append("The virtual machine is busy; trying again.")
            elif name == "Sleep":
                time.sleep(float(params.get("Seconds", 0.2)))
                out.output.append(HvObject("Hvsim.Test.Result", {"Value": "slept"}, to_string="slept"))
            elif name == "Fail-Hard":
                out.errors.append(HvError(
                    fqid="CommandNotFoundException", category="ObjectNotFound",
                    message="The term 'Fail-Hard' is not recognized.", target="Fail-Hard",
                    exception="System.Management.Automation.CommandNotFoundException", terminating=True))
                out.failed = True
                return out
            else:
                out.errors.append(HvError(
                    fqid="CommandNotFoundException", category="ObjectNotFound",
                    message="The term '%s' is not recognized as the name of a cmdlet." % call.cmdlet,
                    target=call.cmdlet, exception="System.Management.Automation.CommandNotFoundException",
                    terminating=True))
                out.failed = True
                return out
        return out

    def digest(self) -> str:
        with self.lock:
            return hashlib.sha256(",".join(self.checkpoints).encode()).hexdigest()

    def dump(self) -> dict:
        with self.lock:
            return {"checkpoints": list(self.checkpoints)}

    def inject_fault(self, kind: str, **params: t.Any) -> None:
        self.faults.append((kind, params))


# A stand-in for plugins/module_utils/_winrs_runner.py with the same shape (contracts.md §4).
class FakeRunnerModule:
    RUNNER_SCRIPT = "param($Request)\n# hvsim stand-in runner\n"
    RUNNER_SHA256 = hashlib.sha256(RUNNER_SCRIPT.encode("utf-8")).hexdigest()
    BOOTSTRAP_SCRIPT = "$l = [Console]::In.ReadToEnd() -split \"`n\"; # stand-in bootstrap"
    ALLOWED_CMDLETS = ("Hyper-V\\Get-VM", "Hyper-V\\Checkpoint-VM", "Hyper-V\\Get-VMSnapshot")


def runner_command(module: t.Any = FakeRunnerModule) -> t.Tuple[str, t.List[str]]:
    enc = base64.b64encode(module.BOOTSTRAP_SCRIPT.encode("utf-16-le")).decode()
    return "powershell.exe", ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", enc]


def runner_stdin(request: dict, module: t.Any = FakeRunnerModule) -> bytes:
    import json

    return (
        base64.b64encode(module.RUNNER_SCRIPT.encode("utf-8")).decode()
        + "\n"
        + base64.b64encode(json.dumps(request).encode("utf-8")).decode()
        + "\n"
    ).encode()
