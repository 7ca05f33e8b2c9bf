"""Set-VM (checkpoint settings) and the power cmdlets' state table."""

from __future__ import annotations

import pytest

from hvsim.model import messages as M

from behaviour_support import plain


def _set(call, vm, **kw):
    v = call.vm(vm)
    return call(v.properties["ComputerName"], "Set-VM", "VMObject", VM=[v], **kw)


def test_set_checkpoint_type_and_automatic_checkpoints(call):
    # source: hyperv-behaviour.md §1 (Set-VM -CheckpointType, -AutomaticCheckpointsEnabled; PSD Set-VM)
    r = _set(call, "web01", CheckpointType="standard", AutomaticCheckpointsEnabled=True, Passthru=True)
    assert not r.errors
    p = r.output[0].properties
    assert p["CheckpointType"].name == "Standard" and p["CheckpointType"].value == 5
    assert p["AutomaticCheckpointsEnabled"] is True
    snap = call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm("web01")], SnapshotName="std", Passthru=True).output[0]
    assert plain(snap.properties["State"]) == "Saved"  # Standard on a running VM now holds memory


def test_snapshot_file_location_only_without_checkpoints(call, lab):
    # source: hyperv-behaviour.md §8 ("can be changed only if the virtual machine has no checkpoints", VD); test-matrix A15
    before = lab.digest()
    r = _set(call, "web01", SnapshotFileLocation="D:\\Snapshots\\web01")
    assert r.errors and "no checkpoints" in r.errors[0].message
    assert lab.digest() == before
    r = _set(call, "dc01", SnapshotFileLocation="d:/Snapshots/dc01/", Passthru=True)
    assert not r.errors
    assert r.output[0].properties["SnapshotFileLocation"] == "D:\\Snapshots\\dc01"
    # The same folder written differently is no change, even with checkpoints (behaviour §8: normalise paths)
    call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm("dc01")], SnapshotName="c")
    assert not _set(call, "dc01", SnapshotFileLocation="D:\\SNAPSHOTS\\dc01\\").errors


@pytest.mark.parametrize("root", ["D:\\", "D:", "\\\\fs01\\exports", "\\\\fs01\\exports\\"])
def test_snapshot_file_location_rejects_roots(call, root):
    # source: hyperv-behaviour.md §8 (drive root or share root unsupported, KB hyper-v-vm-supported-file-locations); test-matrix A16
    r = _set(call, "dc01", SnapshotFileLocation=root)
    assert r.errors and "root" in r.errors[0].message
    assert call.vm("dc01").properties["SnapshotFileLocation"] == "D:\\Hyper-V"


def test_clustered_vm_needs_allow_unverified_paths(call):
    # source: hyperv-cmdlets-notes.md B Set-VM (cluster path check, -AllowUnverifiedPaths [R-DEC])
    r = _set(call, "sqlclu-a", SnapshotFileLocation="D:\\Local\\Snaps")
    assert r.errors and "-AllowUnverifiedPaths" in r.errors[0].message
    assert not _set(call, "sqlclu-a", SnapshotFileLocation="D:\\Local\\Snaps", AllowUnverifiedPaths=True).errors


def test_set_vm_other_settings_and_memory_rule(call):
    # source: hyperv-cmdlets-notes.md B Set-VM (accepted values; dynamic/static memory message [R-DEC])
    r = _set(call, "deep01", Notes="hello", ProcessorCount=4, AutomaticStopAction="ShutDown", Passthru=True)
    p = r.output[0].properties
    assert p["Notes"] == "hello" and p["ProcessorCount"].value == 4 and p["AutomaticStopAction"].name == "ShutDown"
    r = _set(call, "deep01", DynamicMemory=True, StaticMemory=True)
    assert r.errors[0].message == M.DYNAMIC_STATIC_MEMORY


def test_set_vm_while_busy_is_invalid_state(call, lab):
    # source: hyperv-behaviour.md §7 (InvalidState,...SetVM "while the object is in its current state", multipass#4204)
    seen = []
    lab.in_flight_hooks.append(lambda op: seen.append(_set(call, "web01", Notes="racing")))
    call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm("web01")], SnapshotName="busy")
    e = seen[0].errors[0]
    assert e.fqid == "InvalidState,Microsoft.HyperV.PowerShell.Commands.SetVM"
    assert e.message == "The operation cannot be performed while the object is in its current state."


def _power(call, cmdlet, vm, **kw):
    v = call.vm(vm)
    return call(v.properties["ComputerName"], cmdlet, "VMObject", VM=[v], **kw)


def test_start_stop_state_table(call):
    # source: hyperv-cmdlets-notes.md B Start-VM / Stop-VM / Save-VM / Suspend-VM / Resume-VM [R-DEC]
    r = _power(call, "Start-VM", "web01")
    assert r.warnings == [M.ALREADY_IN_STATE] and not r.errors and not r.mutated
    r = _power(call, "Start-VM", "deep01", Passthru=True)
    assert plain(r.output[0].properties["State"]) == "Running"
    r = _power(call, "Start-VM", "legacy01")  # Paused: warning, then started
    assert r.warnings == [M.START_PAUSED.format("legacy01")]
    assert plain(call.vm("legacy01").properties["State"]) == "Running"
    r = _power(call, "Stop-VM", "file01")  # Saved: shutdown only from Running
    assert r.errors[0].message == M.INVALID_STATE_VM and r.errors[0].fqid.startswith("InvalidState,")
    assert not _power(call, "Stop-VM", "file01", TurnOff=True).errors  # TurnOff from Saved
    assert plain(call.vm("file01").properties["State"]) == "Off"
    r = _power(call, "Stop-VM", "file01")
    assert r.warnings == [M.ALREADY_IN_STATE]
    assert _power(call, "Save-VM", "file01").errors[0].message == M.INVALID_STATE_VM
    assert _power(call, "Resume-VM", "file01").errors[0].message == M.INVALID_STATE_VM
    assert not _power(call, "Suspend-VM", "dc01").errors
    assert _power(call, "Suspend-VM", "dc01").warnings == [M.ALREADY_IN_STATE]
    assert not _power(call, "Resume-VM", "dc01").errors
    assert not _power(call, "Save-VM", "dc01").errors
    assert plain(call.vm("dc01").properties["State"]) == "Saved"
    assert _power(call, "Save-VM", "dc01").warnings == [M.ALREADY_IN_STATE]


def test_save_and_turnoff_are_exclusive(call):
    # source: hyperv-cmdlets-notes.md B Stop-VM ("The Save and TurnOff parameters are mutually exclusive.")
    r = _power(call, "Stop-VM", "web01", Save=True, TurnOff=True)
    assert r.errors[0].message == M.SAVE_TURNOFF_EXCLUSIVE and r.errors[0].category == "InvalidArgument"
    assert plain(call.vm("web01").properties["State"]) == "Running"


def test_shutdown_needs_shutdown_service_force_turns_off(call):
    # source: hyperv-cmdlets-notes.md B Stop-VM (Shutdown integration service; -Force answers yes -> turn off)
    v = call.vm("web01")
    assert not call("HV01", "Disable-VMIntegrationService", "VMObject", VM=[v], Name=["Shutdown"]).errors
    r = _power(call, "Stop-VM", "web01")
    assert r.errors and "Shutdown integration service is unavailable" in r.errors[0].message
    assert plain(call.vm("web01").properties["State"]) == "Running"
    assert not _power(call, "Stop-VM", "web01", Force=True).errors
    assert plain(call.vm("web01").properties["State"]) == "Off"


def test_automatic_checkpoint_on_start_and_removed_after_stop(call):
    # source: hyperv-cmdlets-notes.md B Start-VM / Stop-VM [R-DEC]; behaviour §1 (IsAutomaticCheckpoint)
    assert not _power(call, "Set-VM", "web01-hv02", AutomaticCheckpointsEnabled=True).errors
    assert not _power(call, "Start-VM", "web01-hv02").errors
    snaps = call.snaps("web01-hv02")
    assert len(snaps) == 1 and snaps[0].properties["IsAutomaticCheckpoint"] is True
    assert snaps[0].properties["Name"].startswith("Automatic Checkpoint - web01 - (")
    assert plain(snaps[0].properties["State"]) == "Off"  # taken while the VM was still Off
    assert not _power(call, "Stop-VM", "web01-hv02").errors
    assert call.snaps("web01-hv02") == []
    # with an existing checkpoint no automatic one is taken
    assert not _power(call, "Checkpoint-VM", "web01-hv02", SnapshotName="manual").errors
    assert not _power(call, "Start-VM", "web01-hv02").errors
    assert [s.properties["Name"] for s in call.snaps("web01-hv02")] == ["manual"]


def test_transitional_state_blocks_other_operations(call, lab):
    # source: hyperv-cmdlets-notes.md B Start-VM ("Other states: ... InvalidState"); behaviour §5
    seen = []

    def hook(op):
        if op.name == "Start-VM" and not seen:
            seen.append(plain(call.vm("deep01").properties["State"]))
            seen.append(_power(call, "Stop-VM", "deep01", TurnOff=True))
            seen.append(_power(call, "Checkpoint-VM", "deep01", SnapshotName="x"))

    lab.in_flight_hooks.append(hook)
    assert not _power(call, "Start-VM", "deep01").errors
    assert seen[0] == "Starting"
    assert seen[1].errors[0].message == M.INVALID_STATE_VM
    assert seen[2].errors[0].message == M.INVALID_STATE_VM
