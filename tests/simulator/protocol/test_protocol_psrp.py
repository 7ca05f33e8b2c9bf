"""PSRP over WS-Man with pypsrp: values, errors, scripts, concurrency, stop and close."""

from __future__ import annotations

import threading
import time
import uuid

import psrpcore
import pytest
from psrpcore.types import PSInvocationState as ServerState
from pypsrp.complex_objects import GenericComplexObject
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool
from pypsrp.serializer import Serializer

from protocol_clients import psrp_wsman
from hvsim.engine.types import Deserialized
from hvsim.server.psrp import start_quietly

pytestmark = [pytest.mark.simulator, pytest.mark.psrp]


def test_get_vm_values_as_pypsrp_sees_them(sim, fake_engine):
    with RunspacePool(psrp_wsman(sim)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Hyper-V\\Get-VM").add_parameter("Name", "vm1")
        out = ps.invoke()
    assert not ps.had_errors and ps.state == PSInvocationState.COMPLETED
    vm = out[0]
    assert isinstance(vm, GenericComplexObject)
    assert vm.types == [
        "Deserialized.Microsoft.HyperV.PowerShell.VirtualMachine",
        "Deserialized.Microsoft.HyperV.PowerShell.VirtualMachineBase",
        "Deserialized.System.Object",
    ]
    assert str(vm).startswith("VirtualMachine (Name = 'vm1')")
    props = vm.adapted_properties
    # enum: an object with the enum's type names, ToString = name, the integer as its only property_set
    state = props["State"]
    assert state.types[:2] == ["Microsoft.HyperV.PowerShell.VMState", "System.Enum"]
    assert str(state) == "Running" and state.to_string == "Running"
    assert state.property_sets == [2]
    # enum array -> list of enum objects
    assert [str(s) for s in props["OperationalStatus"]] == ["Ok"]
    assert props["Id"] == uuid.UUID("6f0c2d9e-1111-4a4a-8b8b-0123456789ab")
    assert props["MemoryStartup"] == 1073741824 and props["Generation"] == 2
    assert props["CreationTime"] == "2026-11-25T15:07:27Z"  # pypsrp keeps DateTime as the CLIXML string
    assert props["Uptime"] == "PT1M30.5S"  # TimeSpan as an xs:duration string
    assert props["Notes"] is None and props["IsClustered"] is False
    assert props["Tags"] == ["a", "b"]
    assert props["Host"] == "Microsoft.HyperV.PowerShell.VMHost"  # nested object at depth 2 -> ToString
    # a raw pipeline's output carries no PSComputerName/RunspaceId notes (Invoke-Command adds those client-side)
    assert vm.extended_properties == {}
    calls, ctx = fake_engine.calls[-1]
    assert calls[0].cmdlet == "Hyper-V\\Get-VM" and calls[0].parameters == [("Name", "vm1")]
    assert (ctx.host, ctx.user, ctx.transport) == ("hv01", sim.username, "psrp")


def test_wire_types_of_integers_and_enums(sim):
    """Check the CLIXML itself: enum as <Obj> with <I32> + ToString, Int64 as <I64>, Guid as <G>."""
    from hvsim.server import serialize
    from protocol_fakes import vm_object
    import xml.etree.ElementTree as ET
    import psrpcore.types as T

    xml = ET.tostring(T.serialize(serialize.ps_object(vm_object()), None)).decode()
    assert '<I64 N="MemoryStartup">1073741824</I64>' in xml
    assert '<G N="Id">6f0c2d9e-1111-4a4a-8b8b-0123456789ab</G>' in xml
    assert "<T>Microsoft.HyperV.PowerShell.VMState</T>" in xml and "<ToString>Running</ToString>" in xml
    assert '<DT N="CreationTime">2026-11-25T15:07:27Z</DT>' in xml


def test_parameters_arrive_as_python_values(sim, fake_engine):
    with RunspacePool(psrp_wsman(sim)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Echo-Params")
        ps.add_parameter("S", "text").add_parameter("I", 42).add_parameter("B", False)
        ps.add_parameter("Switch").add_parameter("L", ["a", "b"]).add_parameter("Confirm", False)
        out = ps.invoke()
    assert not ps.had_errors
    calls, _ = fake_engine.calls[-1]
    assert calls[0].parameters == [("S", "text"), ("I", 42), ("B", False), ("Switch", True), ("L", ["a", "b"]),
                                   ("Confirm", False)]
    assert [type(v) for _, v in calls[0].parameters] == [str, int, bool, bool, list, bool]
    assert out[0].adapted_properties["Names"] == ["S", "I", "B", "Switch", "L", "Confirm"]


def test_complex_parameter_becomes_deserialized(sim, fake_engine):
    with RunspacePool(psrp_wsman(sim)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Hyper-V\\Get-VM").add_parameter("Name", "vm1")
        vm = ps.invoke()[0]
        ps = PowerShell(pool)
        ps.add_cmdlet("Echo-Params").add_parameter("VM", vm)
        ps.invoke()
    calls, _ = fake_engine.calls[-1]
    name, value = calls[0].parameters[0]
    assert name == "VM" and isinstance(value, Deserialized)
    assert "Deserialized.Microsoft.HyperV.PowerShell.VirtualMachine" in value.type_names
    assert value.properties["Name"] == "vm1"


def test_non_terminating_error_keeps_completed(sim):
    with RunspacePool(psrp_wsman(sim)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Hyper-V\\Get-VM").add_parameter("Name", "missing")
        out = ps.invoke()
    assert out == [] and not ps.had_errors and ps.state == PSInvocationState.COMPLETED
    err = ps.streams.error[0]
    assert err.fq_error == "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM"
    assert err.category == 5  # ErrorCategory.InvalidArgument
    assert err.message.startswith("InvalidArgument ")  # CategoryInfo.ToString(): "<Category> (<target>:String) ..."
    assert err.target_name == "missing" and err.target_object == "missing"
    assert err.exception.adapted_properties["Message"] == str(err)
    assert "Hyper-V was unable to find" in str(err)
    assert err.exception.types[0] == "Microsoft.HyperV.PowerShell.VirtualizationException"


def test_a_pipeline_that_finishes_within_the_operation_timeout_costs_one_receive(sim):
    # A Windows server sends no PIPELINE_STATE Running, only the terminal state (docs/hvsim.md, PSRP),
    # so the client's first Receive already brings the output and Completed.
    with RunspacePool(psrp_wsman(sim)) as pool:
        sim.reset_stats()
        ps = PowerShell(pool)
        ps.add_cmdlet("Sleep").add_parameter("Seconds", 0.3)  # still running when the first Receive arrives
        out = ps.invoke()
        requests = dict(sim.stats()["requests_by_action"])
    assert [str(o) for o in out] == ["slept"] and ps.state == PSInvocationState.COMPLETED
    assert requests == {"Command": 1, "Receive": 1}


def test_start_quietly_queues_no_message():
    pool = psrpcore.ServerRunspacePool()
    pipeline = psrpcore.ServerPipeline(pool, uuid.uuid4())
    start_quietly(pipeline)
    assert pipeline.state == ServerState.Running
    assert pool.data_to_send() is None
    with pytest.raises(psrpcore.InvalidPipelineState):
        start_quietly(pipeline)


def test_terminating_error_fails_the_pipeline(sim):
    with RunspacePool(psrp_wsman(sim)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Fail-Hard")
        ps.invoke()
    assert ps.had_errors and ps.state == PSInvocationState.FAILED
    assert len(ps.streams.error) == 1  # carried by PIPELINE_STATE only, not duplicated
    assert ps.streams.error[0].fq_error == "CommandNotFoundException"


def test_scripts_are_refused(sim, fake_engine):
    with RunspacePool(psrp_wsman(sim)) as pool:
        ps = PowerShell(pool)
        ps.add_script("Get-VM | Remove-VM")
        ps.invoke()
    assert ps.had_errors and ps.state == PSInvocationState.FAILED
    assert "cmdlets only" in str(ps.streams.error[0])
    assert fake_engine.calls == []


def test_concurrent_pipelines_in_one_pool(sim, fake_engine):
    with RunspacePool(psrp_wsman(sim), max_runspaces=4) as pool:
        pipes = []
        start = time.monotonic()
        for _ in range(4):
            ps = PowerShell(pool)
            ps.add_cmdlet("Sleep").add_parameter("Seconds", 0.5)
            ps.begin_invoke()
            pipes.append(ps)
        outs = [ps.end_invoke() for ps in pipes]
        elapsed = time.monotonic() - start
    assert all(str(o[0]) == "slept" for o in outs)
    assert elapsed < 1.8  # they ran side by side, not one after another (4 x 0.5 s)


def test_several_clients_at_once(sim, fake_engine):
    errors = []

    def client(i: int) -> None:
        try:
            with RunspacePool(psrp_wsman(sim, auth="negotiate" if i % 2 else "ntlm")) as pool:
                for _ in range(3):
                    ps = PowerShell(pool)
                    ps.add_cmdlet("Hyper-V\\Get-VM").add_parameter("Name", "vm1")
                    assert ps.invoke()[0].adapted_properties["Name"] == "vm1"
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert errors == []
    stats = sim.stats()
    assert stats["pipelines"] == 18 and stats["open_shells_total"] == 0
    assert stats["max_concurrent_shells"]["hv01"] >= 2


def test_key_exchange(sim):
    with RunspacePool(psrp_wsman(sim)) as pool:
        pool.exchange_keys()
        assert pool._key_exchanged
        ps = PowerShell(pool)
        ps.add_cmdlet("Hyper-V\\Get-VM").add_parameter("Name", "vm1")
        assert len(ps.invoke()) == 1


def test_stop_a_running_pipeline(sim, fake_engine):
    with RunspacePool(psrp_wsman(sim)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Sleep").add_parameter("Seconds", 1.0)
        ps.begin_invoke()
        ps.stop()
        assert ps.state == PSInvocationState.STOPPED


def test_close_pool_with_unfinished_pipeline(sim):
    pool = RunspacePool(psrp_wsman(sim))
    pool.open()
    ps = PowerShell(pool)
    ps.add_cmdlet("Hyper-V\\Get-VM").add_parameter("Name", "vm1")
    ps.begin_invoke()  # never received, never signalled (as execute_ps leaves it)
    assert sim.open_shells() == 1
    pool.close()
    assert sim.open_shells() == 0


def test_large_output_is_fragmented(sim, fake_engine):
    big = "x" * 400000
    orig = fake_engine.run_pipeline

    def run(calls, context):
        from hvsim.engine.types import HvObject, PipelineResult

        return PipelineResult(output=[HvObject("Hvsim.Test.Blob", {"Value": big}, to_string="big")] * 2)

    fake_engine.run_pipeline = run
    with RunspacePool(psrp_wsman(sim)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Anything")
        out = ps.invoke()
    fake_engine.run_pipeline = orig
    assert [o.adapted_properties["Value"] for o in out] == [big, big]
    assert sim.stats()["requests_by_action"]["Receive"] >= 4


def test_warnings_reach_the_warning_stream(sim):
    with RunspacePool(psrp_wsman(sim)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Warn-Me")
        ps.invoke()
    assert not ps.had_errors
    assert [w.message for w in ps.streams.warning] == ["The virtual machine is busy; trying again."]


def test_envelope_size_query(sim):
    """pypsrp's WSMan.update_max_payload_size() reads the service config (Client.copy/fetch do this)."""
    wsman = psrp_wsman(sim)
    wsman.update_max_payload_size()
    assert wsman.max_envelope_size == 500 * 1024
