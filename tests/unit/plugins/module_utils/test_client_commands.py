"""The exact structured pipelines every client method builds (contracts.md section 1).

Table-driven, below AnsibleModule, against a recording fake transport.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _client
from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import HyperVClient
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import ConfigurationError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import (
    CMDLET_RE,
    PARAMETER_RE,
    WILDCARD_PARAMETERS,
    make_result,
    validate_pipeline,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._winrs_runner import ALLOWED_CMDLETS
from unit.fakes import FakeTransport

VM = "6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
CP = "0b7e5a11-2c3d-4e5f-8a9b-1c2d3e4f5a6b"
VM_UPPER = "{6F0C2D9E-1A2B-4C3D-8E9F-0A1B2C3D4E5F}"


def get_vm(vm=VM):
    return {"cmdlet": "Hyper-V\\Get-VM", "parameters": [["Id", vm]]}


def get_cp(cp=CP):
    return {"cmdlet": "Hyper-V\\Get-VMSnapshot", "parameters": [["Id", cp]]}


def recording_client(output=None):
    transport = FakeTransport(lambda p: make_result(output or []))
    transport.open()
    return HyperVClient(transport), transport


CASES = [
    ("list_vms", (), {}, [[{"cmdlet": "Hyper-V\\Get-VM", "parameters": []}]]),
    ("list_checkpoints", (VM,), {}, [[get_vm(), {"cmdlet": "Hyper-V\\Get-VMSnapshot", "parameters": []}]]),
    ("list_checkpoints", (VM_UPPER,), {}, [[get_vm(), {"cmdlet": "Hyper-V\\Get-VMSnapshot", "parameters": []}]]),
    ("list_hard_disks", (VM,), {}, [[get_vm(), {"cmdlet": "Hyper-V\\Get-VMHardDiskDrive", "parameters": []}]]),
    ("list_integration_services", (VM,), {},
     [[get_vm(), {"cmdlet": "Hyper-V\\Get-VMIntegrationService", "parameters": []}]]),
    ("list_volumes", (), {}, [[{"cmdlet": "Storage\\Get-Volume", "parameters": []}]]),
    ("guest_role", (VM,), {}, [[{"cmdlet": "CimCmdlets\\Get-CimInstance",
                                 "parameters": [["Namespace", "root/virtualization/v2"],
                                                ["ClassName", "Msvm_KvpExchangeComponent"]]}]]),
    ("get_vhds", (["D:\\a.avhdx"],), {}, [[{"cmdlet": "Hyper-V\\Get-VHD", "parameters": [["Path", "D:\\a.avhdx"]]}]]),
    ("list_checkpoint_disks_many", ([CP],), {},
     [[get_cp(), {"cmdlet": "Hyper-V\\Get-VMHardDiskDrive", "parameters": []}]]),
    ("create_checkpoint", (VM, "before patch"), {},
     [[get_vm(), {"cmdlet": "Hyper-V\\Checkpoint-VM",
                  "parameters": [["SnapshotName", "before patch"], ["Passthru", True]]}]]),
    ("restore_checkpoint", (CP,), {},
     [[get_cp(), {"cmdlet": "Hyper-V\\Restore-VMSnapshot", "parameters": [["Confirm", False], ["Passthru", True]]}]]),
    ("remove_checkpoint", (CP,), {},
     [[get_cp(), {"cmdlet": "Hyper-V\\Remove-VMSnapshot", "parameters": [["Confirm", False]]}]]),
    ("remove_checkpoint", (CP,), {"include_children": True},
     [[get_cp(), {"cmdlet": "Hyper-V\\Remove-VMSnapshot",
                  "parameters": [["IncludeAllChildSnapshots", True], ["Confirm", False]]}]]),
    ("rename_checkpoint", (CP, "new name"), {},
     [[get_cp(), {"cmdlet": "Hyper-V\\Rename-VMSnapshot", "parameters": [["NewName", "new name"], ["Passthru", True]]}]]),
    ("export_checkpoint", (CP, "E:\\Exports"), {},
     [[get_cp(), {"cmdlet": "Hyper-V\\Export-VMSnapshot", "parameters": [["Path", "E:\\Exports"], ["Passthru", True]]}]]),
    ("export_vm", (VM, "E:\\Exports"), {"capture_live_state": "CaptureDataConsistentState"},
     [[get_vm(), {"cmdlet": "Hyper-V\\Export-VM",
                  "parameters": [["Path", "E:\\Exports"], ["CaptureLiveState", "CaptureDataConsistentState"],
                                 ["Passthru", True]]}]]),
    ("set_vm", (VM,), {"checkpoint_type": "ProductionOnly"},
     [[get_vm(), {"cmdlet": "Hyper-V\\Set-VM", "parameters": [["CheckpointType", "ProductionOnly"], ["Passthru", True]]}]]),
    ("set_vm", (VM,), {"automatic_checkpoints": False, "snapshot_file_location": "D:\\Snaps",
                       "allow_unverified_paths": True},
     [[get_vm(), {"cmdlet": "Hyper-V\\Set-VM",
                  "parameters": [["AutomaticCheckpointsEnabled", False], ["SnapshotFileLocation", "D:\\Snaps"],
                                 ["AllowUnverifiedPaths", True], ["Passthru", True]]}]]),
    ("start_vm", (VM,), {}, [[get_vm(), {"cmdlet": "Hyper-V\\Start-VM", "parameters": [["Passthru", True]]}]]),
    ("stop_vm", (VM,), {}, [[get_vm(), {"cmdlet": "Hyper-V\\Stop-VM", "parameters": [["Passthru", True]]}]]),
    ("stop_vm", (VM,), {"mode": "turn_off"},
     [[get_vm(), {"cmdlet": "Hyper-V\\Stop-VM", "parameters": [["TurnOff", True], ["Passthru", True]]}]]),
    ("stop_vm", (VM,), {"mode": "shutdown", "force": True},
     [[get_vm(), {"cmdlet": "Hyper-V\\Stop-VM", "parameters": [["Force", True], ["Passthru", True]]}]]),
    ("stop_vm", (VM,), {"mode": "save"},
     [[get_vm(), {"cmdlet": "Hyper-V\\Stop-VM", "parameters": [["Save", True], ["Passthru", True]]}]]),
    ("save_vm", (VM,), {}, [[get_vm(), {"cmdlet": "Hyper-V\\Save-VM", "parameters": [["Passthru", True]]}]]),
]


@pytest.mark.parametrize("method, args, kwargs, expected", CASES, ids=[c[0] for c in CASES])
def test_pipelines(method, args, kwargs, expected):
    output = []
    if method == "create_checkpoint":
        output = [{"Id": CP, "Name": "before patch"}]
    client, transport = recording_client(output)
    getattr(client, method)(*args, **kwargs)
    assert transport.pipelines == expected
    for pipeline in transport.pipelines:
        validate_pipeline(pipeline)


def test_every_client_cmdlet_is_allow_listed_in_the_runner():
    assert set(_client.CLIENT_CMDLETS) <= set(ALLOWED_CMDLETS)
    assert list(ALLOWED_CMDLETS) == sorted(ALLOWED_CMDLETS)


@pytest.mark.parametrize(
    "method, args",
    [
        ("remove_checkpoint", ("",)),
        ("remove_checkpoint", (None,)),
        ("remove_checkpoint", ("web*",)),
        ("restore_checkpoint", ("",)),
        ("create_checkpoint", (VM, "")),
        ("create_checkpoint", (VM, "   ")),
        ("create_checkpoint", ("web01", "x")),
        ("rename_checkpoint", (CP, "")),
        ("set_vm", (VM,)),
        ("set_vm", (VM, "production")),
        ("stop_vm", (VM, "hibernate")),
        ("export_vm", (VM, "")),
    ],
)
def test_refused_before_sending(method, args):
    """An empty or non-GUID target never reaches the host (Remove-VMSnapshot without a target removes all)."""
    client, transport = recording_client()
    with pytest.raises(ConfigurationError):
        getattr(client, method)(*args)
    assert transport.pipelines == []


HOSTILE = st.text(
    alphabet=st.sampled_from(list("ab*?[]`$();'\"\u2018\u2019\u201a\u201b\u201c\u201d\u201e|&<>{}\n\r\t -_.") + ["\u202e", "😀", "é"]),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip())


def _all_pipelines_for(name, path):
    client, transport = recording_client([{"Id": CP, "Name": name}])
    client.create_checkpoint(VM, name)
    client.rename_checkpoint(CP, name)
    client.export_checkpoint(CP, path)
    client.export_vm(VM, path)
    client.set_vm(VM, snapshot_file_location=path)
    client.get_vhds([path])
    return transport.pipelines


@settings(max_examples=60, deadline=None)
@given(name=HOSTILE, path=HOSTILE)
def test_user_text_is_only_ever_a_value(name, path):
    """No user value becomes a cmdlet or parameter name, or reaches a wildcard -Name/-VMName."""
    for pipeline in _all_pipelines_for(name, path):
        validate_pipeline(pipeline)
        for cmd in pipeline:
            assert CMDLET_RE.match(cmd["cmdlet"])
            assert cmd["cmdlet"] in _client.CLIENT_CMDLETS
            for pname, value in cmd["parameters"]:
                assert PARAMETER_RE.match(pname)
                assert pname not in (name, path)
                assert pname.lower() not in WILDCARD_PARAMETERS
                if value in (name, path):
                    assert pname in ("SnapshotName", "NewName", "Path", "SnapshotFileLocation")


def test_no_name_or_vmname_parameter_anywhere():
    for method, args, kwargs, _expected in CASES:
        client, transport = recording_client([{"Id": CP, "Name": "x"}])
        getattr(client, method)(*args, **kwargs)
        for pipeline in transport.pipelines:
            for cmd in pipeline:
                assert not {pair[0].lower() for pair in cmd["parameters"]} & WILDCARD_PARAMETERS


def test_batches_use_one_run_with_one_pipeline_per_vm():
    client, transport = recording_client()
    client.list_checkpoints_many([VM, CP])
    assert len(transport.calls) == 1
    assert len(transport.calls[0]) == 2


def test_parallel_is_passed_to_the_transport():
    transport = FakeTransport(lambda p: make_result([]))
    client = HyperVClient(transport, parallel=3)
    client.list_checkpoints_many([VM, CP])
    assert transport.parallel_seen == [3]
