"""Binding errors: each case asserts FQID, category, message and that the pipeline Failed.

Expected texts: PowerShell ParameterBinderStrings.resx (notes §A.1, ENGINE), Windows PowerShell
5.1 wording for AmbiguousParameterSet, .NET Framework conversion messages, and
DiscoveryExceptions.resx for CommandNotFoundException.
"""

from __future__ import annotations

import pytest

from hvsim.engine.types import Deserialized

from param_stubs import VM1_ID, run, vm

pytestmark = pytest.mark.simulator

HVC = "Microsoft.HyperV.PowerShell.Commands."
PBE = "System.Management.Automation.ParameterBindingException"
PBVE = "System.Management.Automation.ParameterBindingValidationException"

NOT_RECOGNIZED = (
    "The term '{0}' is not recognized as the name of a cmdlet, function, script file, or operable program. "
    "Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
)
NULL_OR_EMPTY = "The argument is null or empty. Provide an argument that is not null or empty, and then try the command again."
NULL_OR_EMPTY_COLL = (
    "The argument is null, empty, or an element of the argument collection contains a null value. "
    "Supply a collection that does not contain any null values and then try the command again."
)
DESER_VM = Deserialized(
    ("Deserialized.Microsoft.HyperV.PowerShell.VirtualMachine", "Deserialized.Microsoft.HyperV.PowerShell.VirtualMachineBase"),
    {"Name": "vm1", "ToString": f"VirtualMachine (Name = 'vm1') [Id = '{VM1_ID}']"},
)

CASES = [
    pytest.param(
        [("Hyper-V\\Checkpoint-VM", [("Name", "vm1"), ("Nmae", "x")])],
        "NamedParameterNotFound," + HVC + "CheckpointVM",
        "InvalidArgument",
        "A parameter cannot be found that matches parameter name 'Nmae'.",
        PBE,
        id="misspelled-parameter",
    ),
    pytest.param(
        [("Hyper-V\\Get-VM", [("WhatIf", True)])],
        "NamedParameterNotFound," + HVC + "GetVM",
        "InvalidArgument",
        "A parameter cannot be found that matches parameter name 'WhatIf'.",
        PBE,
        id="whatif-only-where-documented",
    ),
    pytest.param(
        [("Hyper-V\\Checkpoint-VM", [("Name", "vm1"), ("CheckpointType", "Production")])],
        "NamedParameterNotFound," + HVC + "CheckpointVM",
        "InvalidArgument",
        "A parameter cannot be found that matches parameter name 'CheckpointType'.",
        PBE,
        id="checkpoint-vm-has-no-checkpointtype",
    ),
    pytest.param(
        [("Hyper-V\\Restore-VMSnapshot", [("VMName", "vm1"), ("SnapshotName", "cp")])],
        "NamedParameterNotFound," + HVC + "RestoreVMSnapshot",
        "InvalidArgument",
        "A parameter cannot be found that matches parameter name 'SnapshotName'.",
        PBE,
        id="restore-has-no-snapshotname",
    ),
    pytest.param(
        [("Hyper-V\\Stop-VM", [("Name", "vm1"), ("W", True)])],
        "AmbiguousParameter," + HVC + "StopVM",
        "InvalidArgument",
        "Parameter cannot be processed because the parameter name 'W' is ambiguous. "
        "Possible matches include: -WarningAction -WarningVariable -WhatIf.",
        PBE,
        id="ambiguous-prefix-common-and-risk",
    ),
    pytest.param(
        [("Hyper-V\\Checkpoint-VM", [("Name", "vm1"), ("C", True)])],
        "AmbiguousParameter," + HVC + "CheckpointVM",
        "InvalidArgument",
        "Parameter cannot be processed because the parameter name 'C' is ambiguous. "
        "Possible matches include: -CimSession -ComputerName -Credential -Confirm -SnapshotName.",
        PBE,
        id="ambiguous-prefix-declared",
    ),
    pytest.param(
        [("Hyper-V\\Get-VM", [("Name", "a"), ("vmname", "b")])],
        "ParameterAlreadyBound," + HVC + "GetVM",
        "InvalidArgument",
        "Cannot bind parameter because parameter 'Name' is specified more than once. To provide multiple values "
        'to parameters that can accept multiple values, use the array syntax. For example, "-parameter value1,value2,value3".',
        PBE,
        id="duplicate-via-alias",
    ),
    pytest.param(
        [("Hyper-V\\Checkpoint-VM", [("VM", vm()), ("ComputerName", "h")])],
        "AmbiguousParameterSet," + HVC + "CheckpointVM",
        "InvalidArgument",
        "Parameter set cannot be resolved using the specified named parameters.",
        PBE,
        id="wrong-parameter-set-vm-with-computername",
    ),
    pytest.param(
        [("Hyper-V\\Get-VMSnapshot", [("VMName", "vm1"), ("Id", VM1_ID)])],
        "AmbiguousParameterSet," + HVC + "GetVMSnapshot",
        "InvalidArgument",
        "Parameter set cannot be resolved using the specified named parameters.",
        PBE,
        id="wrong-parameter-set-vmname-with-id",
    ),
    pytest.param(
        [("Hyper-V\\Get-VMSnapshot", [])],
        "MissingMandatoryParameter," + HVC + "GetVMSnapshot",
        "InvalidArgument",
        "Cannot process command because of one or more missing mandatory parameters: VMName.",
        PBE,
        id="missing-mandatory-default-set",
    ),
    pytest.param(
        [("Hyper-V\\Rename-VMSnapshot", [("VMName", "vm1"), ("Name", "cp")])],
        "MissingMandatoryParameter," + HVC + "RenameVMSnapshot",
        "InvalidArgument",
        "Cannot process command because of one or more missing mandatory parameters: NewName.",
        PBE,
        id="missing-mandatory-newname",
    ),
    pytest.param(
        [("Hyper-V\\Restore-VMSnapshot", [("Name", "cp"), ("Confirm", False)])],
        "MissingMandatoryParameter," + HVC + "RestoreVMSnapshot",
        "InvalidArgument",
        "Cannot process command because of one or more missing mandatory parameters: VMName.",
        PBE,
        id="missing-mandatory-restore-vmname",
    ),
    pytest.param(
        [("Hyper-V\\Checkpoint-VM", [("Name", "vm1"), ("SnapshotName", "")])],
        "ParameterArgumentValidationError," + HVC + "CheckpointVM",
        "InvalidData",
        "Cannot validate argument on parameter 'SnapshotName'. " + NULL_OR_EMPTY,
        PBVE,
        id="empty-string-validatenotnullorempty",
    ),
    pytest.param(
        [("Hyper-V\\Get-VM", [("Name", None)])],
        "ParameterArgumentValidationError," + HVC + "GetVM",
        "InvalidData",
        "Cannot validate argument on parameter 'Name'. " + NULL_OR_EMPTY,
        PBVE,
        id="null-name-validatenotnullorempty",
    ),
    pytest.param(
        [("Hyper-V\\Get-VMSnapshot", [("VMName", ["vm1", ""])])],
        "ParameterArgumentValidationError," + HVC + "GetVMSnapshot",
        "InvalidData",
        "Cannot validate argument on parameter 'VMName'. " + NULL_OR_EMPTY_COLL,
        PBVE,
        id="empty-element-in-array",
    ),
    pytest.param(
        [("Hyper-V\\Get-VHD", [("Path", "")])],
        "ParameterArgumentValidationError,Microsoft.Vhd.PowerShell.Cmdlets.GetVHD",
        "InvalidData",
        "Cannot validate argument on parameter 'Path'. " + NULL_OR_EMPTY_COLL,
        PBVE,
        id="get-vhd-empty-path-class-from-module-diff",
    ),
    pytest.param(
        [("Get-VMSnapshotz", [])],
        "CommandNotFoundException",
        "ObjectNotFound",
        NOT_RECOGNIZED.format("Get-VMSnapshotz"),
        "System.Management.Automation.CommandNotFoundException",
        id="unknown-cmdlet",
    ),
    pytest.param(
        [("Hyper-V\\New-VMCheckpoint", [("VMName", "vm1")])],
        "CommandNotFoundException",
        "ObjectNotFound",
        NOT_RECOGNIZED.format("Hyper-V\\New-VMCheckpoint"),
        "System.Management.Automation.CommandNotFoundException",
        id="no-new-vmcheckpoint",
    ),
    pytest.param(
        [("Checkpoint-VMCheckpoint", [("Name", "vm1")])],
        "CommandNotFoundException",
        "ObjectNotFound",
        NOT_RECOGNIZED.format("Checkpoint-VMCheckpoint"),
        "System.Management.Automation.CommandNotFoundException",
        id="no-checkpoint-vmcheckpoint",
    ),
    pytest.param(
        [("FailoverClusters\\Get-VM", [])],
        "CommandNotFoundException",
        "ObjectNotFound",
        NOT_RECOGNIZED.format("FailoverClusters\\Get-VM"),
        "System.Management.Automation.CommandNotFoundException",
        id="wrong-module-qualifier",
    ),
    pytest.param(
        [("Hyper-V\\Get-CimInstance", [("ClassName", "Msvm_ComputerSystem")])],
        "CommandNotFoundException",
        "ObjectNotFound",
        NOT_RECOGNIZED.format("Hyper-V\\Get-CimInstance"),
        "System.Management.Automation.CommandNotFoundException",
        id="wrong-module-qualifier-cim",
    ),
    pytest.param(
        [("Hyper-V\\Get-VMSnapshot", [("VMName", "vm1"), ("SnapshotType", "Production")])],
        "CannotConvertArgumentNoMessage," + HVC + "GetVMSnapshot",
        "InvalidArgument",
        "Cannot bind parameter 'SnapshotType'. Cannot convert value \"Production\" to type "
        "\"Microsoft.HyperV.PowerShell.SnapshotType\". Error: \"Unable to match the identifier name Production to a "
        "valid enumerator name. Specify one of the following enumerator names and try again:\r\n"
        "Standard, Recovery, Planned, Missing, Replica, AppConsistentReplica, SyncedReplica\"",
        PBE,
        id="invalid-enum-value",
    ),
    pytest.param(
        [("Hyper-V\\Set-VM", [("Name", "vm1"), ("CheckpointType", "Off")])],
        "CannotConvertArgumentNoMessage," + HVC + "SetVM",
        "InvalidArgument",
        "Cannot bind parameter 'CheckpointType'. Cannot convert value \"Off\" to type "
        "\"Microsoft.HyperV.PowerShell.CheckpointType\". Error: \"Unable to match the identifier name Off to a "
        "valid enumerator name. Specify one of the following enumerator names and try again:\r\n"
        "Disabled, Production, ProductionOnly, Standard\"",
        PBE,
        id="invalid-enum-checkpointtype",
    ),
    pytest.param(
        [("Hyper-V\\Get-VM", [("Id", "not-a-guid")])],
        "CannotConvertArgumentNoMessage," + HVC + "GetVM",
        "InvalidArgument",
        "Cannot bind parameter 'Id'. Cannot convert value \"not-a-guid\" to type \"System.Guid\". "
        "Error: \"Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).\"",
        PBE,
        id="non-guid-id",
    ),
    pytest.param(
        [("Hyper-V\\Checkpoint-VM", [("VM", DESER_VM), ("SnapshotName", "cp")])],
        "CannotConvertArgument," + HVC + "CheckpointVM",
        "InvalidArgument",
        "Cannot bind parameter 'VM'. Cannot convert the \"VirtualMachine (Name = 'vm1') [Id = '" + VM1_ID + "']\" "
        "value of type \"Deserialized.Microsoft.HyperV.PowerShell.VirtualMachine\" to type "
        "\"Microsoft.HyperV.PowerShell.VirtualMachine\".",
        PBE,
        id="deserialized-vm",
    ),
    pytest.param(
        [("Hyper-V\\Get-VMHardDiskDrive", [("VMName", "vm1"), ("ControllerNumber", "one")])],
        "CannotConvertArgumentNoMessage," + HVC + "GetVMHardDiskDrive",
        "InvalidArgument",
        "Cannot bind parameter 'ControllerNumber'. Cannot convert value \"one\" to type \"System.Int32\". "
        "Error: \"Input string was not in a correct format.\"",
        PBE,
        id="int-from-bad-string",
    ),
    pytest.param(
        [("Hyper-V\\Get-VHD", [("DiskNumber", -1)])],
        "CannotConvertArgumentNoMessage,Microsoft.Vhd.PowerShell.Cmdlets.GetVHD",
        "InvalidArgument",
        "Cannot bind parameter 'DiskNumber'. Cannot convert value \"-1\" to type \"System.UInt32\". "
        "Error: \"Value was either too large or too small for a UInt32.\"",
        PBE,
        id="uint-out-of-range",
    ),
    pytest.param(
        [("Hyper-V\\Get-VMSnapshot", [("VMName", [])])],
        "ParameterArgumentValidationError," + HVC + "GetVMSnapshot",
        "InvalidData",
        "Cannot validate argument on parameter 'VMName'. " + NULL_OR_EMPTY_COLL,
        PBVE,
        id="empty-array",
    ),
    pytest.param(
        [("Hyper-V\\Set-VM", [("Name", "vm1"), ("AutomaticCheckpointsEnabled", "true")])],
        "CannotConvertArgument," + HVC + "SetVM",
        "InvalidArgument",
        "Cannot convert 'System.String' to the type 'System.Boolean' required by parameter "
        "'AutomaticCheckpointsEnabled'. Specified method is not supported.",
        PBE,
        id="boolean-refuses-string",
    ),
    pytest.param(
        [("Hyper-V\\Get-VM", [("ErrorAction", "Sometimes")])],
        "CannotConvertArgumentNoMessage," + HVC + "GetVM",
        "InvalidArgument",
        "Cannot bind parameter 'ErrorAction'. Cannot convert value \"Sometimes\" to type "
        "\"System.Management.Automation.ActionPreference\". Error: \"Unable to match the identifier name Sometimes "
        "to a valid enumerator name. Specify one of the following enumerator names and try again:\r\n"
        "SilentlyContinue, Stop, Continue, Inquire, Ignore, Suspend\"",
        PBE,
        id="common-parameter-enum",
    ),
]


@pytest.mark.parametrize("commands, fqid, category, message, exception", CASES)
def test_binding_error(engine, rec, commands, fqid, category, message, exception):
    result = run(engine, *commands)
    assert result.failed is True
    assert len(result.errors) == 1
    err = result.errors[0]
    assert err.fqid == fqid
    assert err.category == category
    assert err.message == message
    assert err.exception == exception
    assert err.terminating is True
    assert result.output == []
    assert rec.calls == []  # nothing ran


def test_downstream_binding_error_stops_pipeline_before_first_command_runs(engine, rec):
    rec.outputs["Get-VM"] = [vm()]
    result = run(engine, ("Hyper-V\\Get-VM", []), ("Hyper-V\\Checkpoint-VM", [("Bogus", 1)]))
    assert result.failed
    assert result.errors[0].fqid == "NamedParameterNotFound," + HVC + "CheckpointVM"
    assert rec.calls == []


def test_downstream_missing_non_pipeline_mandatory(engine, rec):
    rec.outputs["Get-VM"] = [vm()]
    result = run(engine, ("Hyper-V\\Get-VM", []), ("Hyper-V\\Rename-VMSnapshot", [("Name", "cp")]))
    assert result.failed
    assert result.errors[0].fqid == "MissingMandatoryParameter," + HVC + "RenameVMSnapshot"
    assert result.errors[0].message == "Cannot process command because of one or more missing mandatory parameters: NewName."
    assert rec.calls == []


def test_no_handler_is_a_terminating_not_implemented_error(engine, rec):
    rec.missing.add("Export-VM")
    result = run(engine, ("Hyper-V\\Export-VM", [("Name", "vm1"), ("Path", r"C:\exp")]))
    assert result.failed
    err = result.errors[0]
    assert err.fqid == "NotImplemented," + HVC + "ExportVM"
    assert err.category == "NotImplemented"
    assert "Export-VM" in err.message
    assert rec.calls == []


def test_no_crash_on_unexpected_parameter_pair_shapes(engine, rec):
    result = run(engine, ("Hyper-V\\Get-VM", [(None, "vm1")]))
    assert result.failed
    assert result.errors[0].fqid == "PositionalParameterNotFound," + HVC + "GetVM"
    assert result.errors[0].message == "A positional parameter cannot be found that accepts argument 'vm1'."


def test_scalar_string_from_array_joins_with_space(engine, rec):
    # [string] parameters convert an array with $OFS (" "), e.g. -Name a,b on Get-VMSnapshot.
    result = run(engine, ("Hyper-V\\Get-VMSnapshot", [("VMName", "vm1"), ("Name", ["a", "b"])]))
    assert not result.failed
    assert rec.calls[0].args["Name"] == "a b"


def test_cdxml_pstypename_mismatch(engine, rec):
    from hvsim.engine.types import HvObject

    disk = HvObject("Microsoft.Management.Infrastructure.CimInstance#ROOT/Microsoft/Windows/Storage/MSFT_Disk", {})
    result = run(engine, ("Storage\\Get-Volume", [("Partition", disk)]))
    assert result.failed
    err = result.errors[0]
    assert err.fqid == "MismatchedPSTypeName,Get-Volume"
    assert err.message == (
        "Cannot bind argument to parameter 'Partition', because PSTypeNames of the argument do not match the "
        "PSTypeName required by the parameter: Microsoft.Management.Infrastructure.CimInstance#MSFT_Partition."
    )
