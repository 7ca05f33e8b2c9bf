"""The engine with the real handler registry and the demo lab: conventions line up end to end."""

from __future__ import annotations

import pytest

from hvsim.engine.catalogue import get_catalogue
from hvsim.engine.engine import Engine
from hvsim.engine.registry import HANDLERS
from hvsim.engine.types import CallContext, CommandCall

pytestmark = pytest.mark.simulator


@pytest.fixture(scope="module")
def lab():
    from hvsim.lab import load_lab

    return load_lab("demo")


def _ctx(lab):
    host = sorted(lab.hosts)[0]
    return CallContext(host=getattr(host, "name", host), user="lab\\tester", transport="psrp")


def test_registered_handlers_are_canonical_catalogue_names(lab):
    Engine(lab).handler_for(get_catalogue().cmdlets["Get-VM"])  # triggers the lazy import
    assert HANDLERS, "no handler registered"
    assert set(HANDLERS) <= set(get_catalogue().cmdlets)


def test_checkpoint_pipeline_end_to_end(lab):
    engine = Engine(lab)
    ctx = _ctx(lab)
    vms = engine.run_pipeline([CommandCall("Hyper-V\\Get-VM", [])], ctx)
    assert not vms.failed and vms.output
    name = vms.output[0].properties["Name"]
    made = engine.run_pipeline(
        [
            CommandCall("Hyper-V\\Get-VM", [["Name", name]]),
            CommandCall("Hyper-V\\Checkpoint-VM", [["SnapshotName", "engine-e2e"], ["Passthru", True]]),
        ],
        ctx,
    )
    assert made.errors == [] and not made.failed and made.mutated
    assert [o.type_name for o in made.output] == ["Microsoft.HyperV.PowerShell.VMSnapshot"]
    removed = engine.run_pipeline(
        [
            CommandCall("Hyper-V\\Get-VMCheckpoint", [["VMName", name], ["Name", "engine-e2e"]]),
            CommandCall("Hyper-V\\Remove-VMCheckpoint", [["Confirm", False]]),
        ],
        ctx,
    )
    assert removed.errors == [] and not removed.failed and removed.mutated
    gone = engine.run_pipeline([CommandCall("Hyper-V\\Get-VMSnapshot", [["VMName", name], ["Name", "engine-e2e"]])], ctx)
    assert [e.fqid for e in gone.errors] == ["ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMSnapshot"]
    assert not gone.failed  # Hyper-V errors are non-terminating
