"""Successful binding: canonical names, aliases, prefixes, conversions, pipeline input, dispatch."""

from __future__ import annotations

import pytest

from hvsim.engine.errors import hv_error
from hvsim.engine.registry import CmdletError
from hvsim.engine.types import HvGuid, HvObject
from param_stubs import SNAP_ID, VM1_ID, VM2_ID, hard_disk, run, snapshot, vm

pytestmark = pytest.mark.simulator

HVC = "Microsoft.HyperV.PowerShell.Commands."


def only_call(rec, cmdlet):
    calls = rec.calls_of(cmdlet)
    assert len(calls) == 1, calls
    return calls[0]


# ---------------------------------------------------------------- names, aliases, prefixes


@pytest.mark.parametrize(
    "cmdlet, params, canonical, parameter_set, expected_args",
    [
        pytest.param(
            "Hyper-V\\Checkpoint-VM",
            [("Name", "vm1"), ("Pass", True)],
            "Checkpoint-VM",
            "Name",
            {"Name": ["vm1"], "Passthru": True},
            id="unique-prefix-declared-wins-over-PipelineVariable",
        ),
        pytest.param(
            "Hyper-V\\Checkpoint-VM",
            [("Name", "vm1"), ("P", True)],
            "Checkpoint-VM",
            "Name",
            {"Name": ["vm1"], "Passthru": True},
            id="single-letter-prefix-declared-wins",
        ),
        pytest.param(
            "Hyper-V\\Checkpoint-VM",
            [("VMName", "vm1"), ("CheckpointName", "before patch")],
            "Checkpoint-VM",
            "Name",
            {"Name": ["vm1"], "SnapshotName": "before patch"},
            id="parameter-aliases",
        ),
        pytest.param(
            "hyper-v\\checkpoint-vm",
            [("vmname", ["a", "b"]), ("SNAPSHOTNAME", "x")],
            "Checkpoint-VM",
            "Name",
            {"Name": ["a", "b"], "SnapshotName": "x"},
            id="case-insensitive",
        ),
        pytest.param(
            "Get-VMCheckpoint",
            [("VMName", "vm1"), ("Name", "cp*")],
            "Get-VMSnapshot",
            "VMName",
            {"VMName": ["vm1"], "Name": "cp*"},
            id="cmdlet-alias-unqualified",
        ),
        pytest.param(
            "Hyper-V\\Remove-VMCheckpoint",
            [("VMName", "vm1"), ("Name", "cp"), ("IncludeAllChildCheckpoints", True), ("Confirm", False)],
            "Remove-VMSnapshot",
            "SnapshotName",
            {"VMName": ["vm1"], "Name": ["cp"], "IncludeAllChildSnapshots": True, "Confirm": False},
            id="cmdlet-alias-qualified-and-switch-alias",
        ),
        pytest.param(
            "Hyper-V\\Restore-VMSnapshot",
            [("Name", "cp"), ("VMName", "vm1"), ("Confirm", False)],
            "Restore-VMSnapshot",
            "SnapshotName",
            {"Name": "cp", "VMName": "vm1", "Confirm": False},
            id="confirm-false-is-present-and-false",
        ),
        pytest.param(
            "Hyper-V\\Get-VMSnapshot",
            [("VMName", "vm1"), ("VMRecoveryCheckpoint", "standard")],
            "Get-VMSnapshot",
            "VMName",
            {"VMName": ["vm1"], "SnapshotType": "Standard"},
            id="enum-case-insensitive-canonical-name",
        ),
        pytest.param(
            "Hyper-V\\Get-VMSnapshot",
            [("Id", "{" + SNAP_ID.upper() + "}")],
            "Get-VMSnapshot",
            "Id",
            {"Id": SNAP_ID},
            id="guid-from-braced-upper-string",
        ),
        pytest.param(
            "Hyper-V\\Get-VM",
            [],
            "Get-VM",
            "Name",
            {},
            id="no-parameters-default-set",
        ),
        pytest.param(
            "Hyper-V\\Get-VMHardDiskDrive",
            [("VMName", "vm1"), ("ControllerNumber", "0"), ("ControllerLocation", 1), ("ControllerType", "scsi")],
            "Get-VMHardDiskDrive",
            "VMName",
            {"VMName": ["vm1"], "ControllerNumber": 0, "ControllerLocation": 1, "ControllerType": "SCSI"},
            id="int-conversions",
        ),
        pytest.param(
            "Hyper-V\\Set-VM",
            [("Name", "vm1"), ("AutomaticCheckpointsEnabled", False), ("CheckpointType", "ProductionOnly"), ("ea", "Stop")],
            "Set-VM",
            "Name",
            {"Name": ["vm1"], "AutomaticCheckpointsEnabled": False, "CheckpointType": "ProductionOnly", "ErrorAction": "Stop"},
            id="boolean-enum-common-alias",
        ),
        pytest.param(
            "Hyper-V\\Set-VM",
            [("Name", "vm1"), ("EnhancedSessionTransportType", "hvsocket")],
            "Set-VM",
            "Name",
            {"Name": ["vm1"], "EnhancedSessionTransportType": "HvSocket"},
            id="module-only-parameter-from-module-diff",
        ),
        pytest.param(
            "CimCmdlets\\Get-CimInstance",
            [("Namespace", "root/virtualization/v2"), ("ClassName", "Msvm_KvpExchangeComponent"), ("Filter", "SystemName='x'")],
            "Get-CimInstance",
            "ClassNameComputerSet",
            {"Namespace": "root/virtualization/v2", "ClassName": "Msvm_KvpExchangeComponent", "Filter": "SystemName='x'"},
            id="get-ciminstance-extra-catalogue",
        ),
        pytest.param(
            "Storage\\Get-Volume",
            [("FilePath", r"C:\VMs")],
            "Get-Volume",
            "ByFilePath",
            {"FilePath": r"C:\VMs"},
            id="storage-get-volume",
        ),
    ],
)
def test_named_binding(engine, rec, cmdlet, params, canonical, parameter_set, expected_args):
    result = run(engine, (cmdlet, params))
    assert result.errors == []
    assert result.failed is False
    call = only_call(rec, canonical)
    assert call.parameter_set == parameter_set
    assert call.args == expected_args
    assert call.explicit == frozenset(expected_args)


def test_switches_not_given_are_absent(engine, rec):
    run(engine, ("Hyper-V\\Checkpoint-VM", [("Name", "vm1")]))
    call = only_call(rec, "Checkpoint-VM")
    for switch in ("Passthru", "AsJob", "WhatIf", "Confirm"):
        assert switch not in call.args
    assert call.module == "Hyper-V"


def test_switch_false_is_kept(engine, rec):
    run(engine, ("Hyper-V\\Checkpoint-VM", [("Name", "vm1"), ("Passthru", False)]))
    assert only_call(rec, "Checkpoint-VM").args["Passthru"] is False


def test_live_object_parameter_binds_object_set(engine, rec):
    v = vm()
    result = run(engine, ("Hyper-V\\Checkpoint-VM", [("VM", v), ("SnapshotName", "x")]))
    assert not result.failed
    call = only_call(rec, "Checkpoint-VM")
    assert call.parameter_set == "VMObject"
    assert call.args["VM"] == [v]  # array-typed parameters are always lists


# ---------------------------------------------------------------- pipeline input


def test_pipeline_by_value_calls_handler_once_per_object(engine, rec):
    rec.outputs["Get-VM"] = [vm("vm1", VM1_ID), vm("vm2", VM2_ID)]
    rec.outputs["Checkpoint-VM"] = [snapshot()]
    result = run(
        engine,
        ("Hyper-V\\Get-VM", [("Name", "vm*")]),
        ("Hyper-V\\Checkpoint-VM", [("SnapshotName", "nightly"), ("Passthru", True)]),
    )
    assert not result.failed and result.errors == []
    calls = rec.calls_of("Checkpoint-VM")
    assert [c.args["VM"][0].properties["Name"] for c in calls] == ["vm1", "vm2"]
    assert all(c.parameter_set == "VMObject" for c in calls)
    assert all(c.explicit == frozenset({"SnapshotName", "Passthru"}) for c in calls)
    assert len(result.output) == 2  # one snapshot per invocation reaches the output


def test_pipeline_by_value_snapshot_to_remove(engine, rec):
    rec.outputs["Get-VMSnapshot"] = [snapshot("a"), snapshot("b")]
    result = run(
        engine,
        ("Hyper-V\\Get-VMSnapshot", [("VMName", "vm1")]),
        ("Hyper-V\\Remove-VMSnapshot", [("Confirm", False)]),
    )
    assert not result.failed
    calls = rec.calls_of("Remove-VMSnapshot")
    assert [c.parameter_set for c in calls] == ["SnapshotObject", "SnapshotObject"]
    assert [c.args["VMSnapshot"][0].properties["Name"] for c in calls] == ["a", "b"]


def test_pipeline_vm_to_restore_binds_scalar_vm(engine, rec):
    v = vm()
    rec.outputs["Get-VM"] = [v]
    run(engine, ("Hyper-V\\Get-VM", []), ("Hyper-V\\Restore-VMSnapshot", [("Name", "cp"), ("Confirm", False)]))
    call = only_call(rec, "Restore-VMSnapshot")
    assert call.parameter_set == "VM"
    assert call.args["VM"] is v  # scalar VirtualMachine parameter: the object itself


def test_pipeline_by_property_name_path(engine, rec):
    rec.outputs["Get-VMHardDiskDrive"] = [hard_disk()]
    result = run(engine, ("Hyper-V\\Get-VMHardDiskDrive", [("VMName", "vm1")]), ("Hyper-V\\Get-VHD", []))
    assert not result.failed
    call = only_call(rec, "Get-VHD")
    assert call.parameter_set == "Path"
    assert call.args == {"Path": [r"C:\VMs\vm1\disk.avhdx"]}
    assert call.explicit == frozenset()


def test_pipeline_by_property_name_id(engine, rec):
    rec.outputs["Get-VMSnapshot"] = [snapshot()]
    run(engine, ("Hyper-V\\Get-VMSnapshot", [("VMName", "vm1")]), ("Hyper-V\\Get-VMSnapshot", []))
    second = rec.calls_of("Get-VMSnapshot")[1]
    assert second.parameter_set == "Id"
    assert second.args == {"Id": SNAP_ID}


def test_pipeline_by_property_name_via_alias(engine, rec):
    # Get-VHD -VMId has the alias Id; an object with only an Id property binds through it
    # (the documented "Get-VM | Select-Object VMId | Get-VHD" pattern, notes §B Get-VHD).
    rec.outputs["Get-VM"] = [HvObject("Selected.Microsoft.HyperV.PowerShell.VirtualMachine", {"Id": HvGuid(VM2_ID)})]
    run(engine, ("Hyper-V\\Get-VM", []), ("Hyper-V\\Get-VHD", []))
    call = only_call(rec, "Get-VHD")
    assert call.parameter_set == "VMId"
    assert call.args == {"VMId": [VM2_ID]}


def test_pipeline_vm_with_path_binds_get_vhd_path_first(engine, rec):
    # A VirtualMachine has a Path property; the default (Path) set wins ByPropertyName, which is
    # why the Get-VHD page pipes "Select-Object VMId" instead of the VM itself.
    v = vm()
    v.properties["Path"] = r"C:\ProgramData\Microsoft\Windows\Hyper-V"
    rec.outputs["Get-VM"] = [v]
    run(engine, ("Hyper-V\\Get-VM", []), ("Hyper-V\\Get-VHD", []))
    call = only_call(rec, "Get-VHD")
    assert call.parameter_set == "Path"


def test_pipeline_input_not_bound_is_non_terminating(engine, rec):
    rec.outputs["Get-VMHardDiskDrive"] = [hard_disk(), hard_disk()]
    result = run(
        engine,
        ("Hyper-V\\Get-VMHardDiskDrive", [("VMName", "vm1")]),
        ("Hyper-V\\Restore-VMSnapshot", [("Confirm", False)]),
    )
    assert result.failed is False
    assert [e.fqid for e in result.errors] == ["InputObjectNotBound," + HVC + "RestoreVMSnapshot"] * 2
    assert result.errors[0].category == "InvalidArgument"
    assert result.errors[0].message.startswith("The input object cannot be bound to any parameters for the command")
    assert rec.calls_of("Restore-VMSnapshot") == []


def test_downstream_with_no_input_never_runs(engine, rec):
    rec.outputs["Get-VM"] = []
    result = run(engine, ("Hyper-V\\Get-VM", [("Name", "nomatch*")]), ("Hyper-V\\Stop-VM", [("TurnOff", True)]))
    assert not result.failed and result.errors == []
    assert rec.calls_of("Stop-VM") == []


def test_objects_stream_depth_first(engine, rec):
    rec.outputs["Get-VM"] = [vm("vm1", VM1_ID), vm("vm2", VM2_ID)]
    rec.outputs["Checkpoint-VM"] = [snapshot()]
    run(
        engine,
        ("Hyper-V\\Get-VM", []),
        ("Hyper-V\\Checkpoint-VM", [("Passthru", True)]),
        ("Hyper-V\\Get-VMSnapshot", []),
    )
    assert [c.cmdlet for c in rec.calls] == ["Get-VM", "Checkpoint-VM", "Get-VMSnapshot", "Checkpoint-VM", "Get-VMSnapshot"]


# ---------------------------------------------------------------- handler error plumbing


def _writes_error_for_vm1(ctx, bound):
    name = bound.args["VM"][0].properties["Name"]
    if name == "vm1":
        ctx.write_error(hv_error("InvalidState", cmdlet=bound.cmdlet, message="busy", target=name))
        return []
    ctx.mark_mutated()
    return [snapshot(name="cp-" + name)]


def test_write_error_is_non_terminating(engine, rec):
    rec.outputs["Get-VM"] = [vm("vm1", VM1_ID), vm("vm2", VM2_ID)]
    rec.behaviour["Checkpoint-VM"] = _writes_error_for_vm1
    result = run(engine, ("Hyper-V\\Get-VM", []), ("Hyper-V\\Checkpoint-VM", [("Passthru", True)]))
    assert result.failed is False
    assert result.mutated is True
    assert [(e.fqid, e.category, e.target, e.terminating) for e in result.errors] == [
        ("InvalidState," + HVC + "CheckpointVM", "InvalidOperation", "vm1", False)
    ]
    assert [o.properties["Name"] for o in result.output] == ["cp-vm2"]


def test_error_action_stop_makes_first_error_terminating(engine, rec):
    rec.outputs["Get-VM"] = [vm("vm1", VM1_ID), vm("vm2", VM2_ID)]
    rec.behaviour["Checkpoint-VM"] = _writes_error_for_vm1
    result = run(engine, ("Hyper-V\\Get-VM", []), ("Hyper-V\\Checkpoint-VM", [("ErrorAction", "Stop")]))
    assert result.failed is True
    assert [e.terminating for e in result.errors] == [True]
    assert len(rec.calls_of("Checkpoint-VM")) == 1  # vm2 never processed
    assert result.mutated is False


def test_error_action_silently_continue_drops_errors(engine, rec):
    rec.outputs["Get-VM"] = [vm("vm1", VM1_ID), vm("vm2", VM2_ID)]
    rec.behaviour["Checkpoint-VM"] = _writes_error_for_vm1
    result = run(engine, ("Hyper-V\\Get-VM", []), ("Hyper-V\\Checkpoint-VM", [("ea", "SilentlyContinue")]))
    assert result.failed is False and result.errors == []
    assert len(rec.calls_of("Checkpoint-VM")) == 2


def test_cmdlet_error_non_terminating_and_terminating(engine, rec):
    def raise_error(ctx, bound):
        name = bound.args["VM"][0].properties["Name"]
        raise CmdletError(
            hv_error("ObjectNotFound", cmdlet=bound.cmdlet, message="nope", target=name, terminating=(name == "vm2"))
        )

    rec.outputs["Get-VM"] = [vm("vm1", VM1_ID), vm("vm2", VM2_ID), vm("vm3", VM2_ID)]
    rec.behaviour["Get-VMSnapshot"] = raise_error
    result = run(engine, ("Hyper-V\\Get-VM", []), ("Hyper-V\\Get-VMSnapshot", []))
    assert result.failed is True
    assert [(e.target, e.terminating) for e in result.errors] == [("vm1", False), ("vm2", True)]
    assert len(rec.calls_of("Get-VMSnapshot")) == 2  # vm3 never processed
    assert result.errors[0].fqid == "ObjectNotFound," + HVC + "GetVMSnapshot"


def test_unexpected_exception_becomes_terminating_error(engine, rec, caplog):
    def boom(ctx, bound):
        raise KeyError("kaboom")

    rec.behaviour["Get-VM"] = boom
    result = run(engine, ("Hyper-V\\Get-VM", []))
    assert result.failed is True
    err = result.errors[0]
    assert err.fqid == "HvsimInternalError," + HVC + "GetVM"
    assert "KeyError" in err.message and err.terminating
    assert any("Get-VM" in r.getMessage() for r in caplog.records)


def test_warnings_collected_and_warning_action(engine, rec):
    def warn(ctx, bound):
        ctx.write_warning("The virtual machine is already in the specified state.")
        return []

    rec.behaviour["Start-VM"] = warn
    result = run(engine, ("Hyper-V\\Start-VM", [("Name", "vm1")]))
    assert result.warnings == ["The virtual machine is already in the specified state."]
    result = run(engine, ("Hyper-V\\Start-VM", [("Name", "vm1"), ("WarningAction", "SilentlyContinue")]))
    assert result.warnings == []


@pytest.mark.parametrize(
    "cmdlet, params, expected",
    [
        ("Hyper-V\\Restore-VMSnapshot", [("Name", "cp"), ("VMName", "vm1")], True),  # ConfirmImpact High
        ("Hyper-V\\Restore-VMSnapshot", [("Name", "cp"), ("VMName", "vm1"), ("Confirm", False)], False),
        ("Hyper-V\\Restore-VMSnapshot", [("Name", "cp"), ("VMName", "vm1"), ("WhatIf", True)], False),
        ("Hyper-V\\Checkpoint-VM", [("Name", "vm1")], False),  # Medium: no prompt by default
        ("Hyper-V\\Checkpoint-VM", [("Name", "vm1"), ("cf", True)], True),
        ("Hyper-V\\Get-VM", [], False),
    ],
)
def test_confirm_required(engine, rec, cmdlet, params, expected):
    result = run(engine, (cmdlet, params))
    assert not result.failed
    assert rec.calls[0].confirm_required is expected


def test_deserialized_without_tostring_uses_vm_tostring_form(engine, rec):
    from hvsim.engine.types import Deserialized

    d = Deserialized(("Deserialized.Microsoft.HyperV.PowerShell.VirtualMachine",), {"Name": "vm1", "Id": VM1_ID})
    result = run(engine, ("Hyper-V\\Stop-VM", [("VM", [d]), ("TurnOff", True)]))
    assert result.failed
    assert result.errors[0].fqid == "CannotConvertArgument," + HVC + "StopVM"
    assert result.errors[0].message == (
        f"Cannot bind parameter 'VM'. Cannot convert the \"VirtualMachine (Name = 'vm1') [Id = '{VM1_ID}']\" value of "
        'type "Deserialized.Microsoft.HyperV.PowerShell.VirtualMachine" to type "Microsoft.HyperV.PowerShell.VirtualMachine".'
    )


def test_cluster_group_binds_get_vm_cluster_object(engine, rec):
    group = HvObject("Microsoft.FailoverClusters.PowerShell.ClusterGroup", {"Name": "sqlclu-a", "GroupType": "VirtualMachine"})
    rec.outputs["Get-ClusterGroup"] = [group]
    run(engine, ("FailoverClusters\\Get-ClusterGroup", []), ("Hyper-V\\Get-VM", []))
    call = only_call(rec, "Get-VM")
    assert call.parameter_set == "ClusterObject"  # [PSObject] ValueFromPipeline takes any object
    assert call.args == {"ClusterObject": group}


def test_cim_instance_type_with_class_suffix_binds_ciminstance_parameter(engine, rec):
    part = HvObject("Microsoft.Management.Infrastructure.CimInstance#ROOT/Microsoft/Windows/Storage/MSFT_Partition", {"DiskNumber": 1})
    rec.outputs["Get-Volume"] = [part]
    run(engine, ("Storage\\Get-Volume", [("DriveLetter", "D")]), ("Storage\\Get-Volume", []))
    second = rec.calls_of("Get-Volume")[1]
    assert second.parameter_set == "ByPartition"
    assert second.args == {"Partition": part}


def test_pipelines_run_concurrently_without_a_global_lock(engine, rec):
    import threading
    import time

    def slow(ctx, bound):
        time.sleep(0.2)
        return []

    rec.behaviour["Checkpoint-VM"] = slow
    threads = [threading.Thread(target=run, args=(engine, ("Hyper-V\\Checkpoint-VM", [("Name", f"vm{i}")]))) for i in range(8)]
    start = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - start
    assert len(rec.calls_of("Checkpoint-VM")) == 8
    assert elapsed < 1.0  # 8 x 0.2 s serialised would take 1.6 s


def test_parameters_given_as_mapping(engine, rec):
    from hvsim.engine.types import CommandCall
    from param_stubs import CTX

    result = engine.run_pipeline([CommandCall("Hyper-V\\Get-VMSnapshot", {"VMName": "vm1", "Name": "cp"})], CTX)
    assert not result.failed
    assert only_call(rec, "Get-VMSnapshot").args == {"VMName": ["vm1"], "Name": "cp"}
