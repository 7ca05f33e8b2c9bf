"""Restore-VMSnapshot (apply) and revert."""

from __future__ import annotations

from hvsim.model import messages as M

from behaviour_support import DEMO_IDS, Caller, plain


def _snap(call, vm, name):
    return next(s for s in call.snaps(vm) if s.properties["Name"] == name)


def _restore(call, vm, name, **kw):
    s = _snap(call, vm, name)
    return call(s.properties["ComputerName"], "Restore-VMSnapshot", "SnapshotObject", VMSnapshot=s, Confirm=False, **kw)


def test_standard_checkpoint_on_running_vm_comes_back_running(call):
    # source: hyperv-cmdlets-notes.md B Restore-VMSnapshot [R-DEC] (saved first; was Running + Saved after -> started)
    assert plain(call.vm("app01").properties["State"]) == "Running"
    r = _restore(call, "app01", "release-1.4")
    assert not r.errors
    vm = call.vm("app01").properties
    assert plain(vm["State"]) == "Running"
    assert vm["ParentSnapshotName"] == "release-1.4"


def test_production_checkpoint_leaves_vm_off(call):
    # source: hyperv-behaviour.md §3 (production -> Off, VD); notes B Restore-VMSnapshot
    assert plain(_snap(call, "web01", "before-patch").properties["State"]) == "Off"
    assert not _restore(call, "web01", "before-patch").errors
    vm = call.vm("web01").properties
    assert plain(vm["State"]) == "Off"
    assert vm["ParentSnapshotName"] == "before-patch"


def test_saved_checkpoint_on_off_vm_lands_saved_by_default_and_switch_changes_it(call, lab):
    # source: hyperv-behaviour.md §3/§16.5/§17 (expected Saved, unverified -> switch apply_saved_checkpoint_state)
    vm = call.vm("app01")
    assert not call("HV01", "Stop-VM", "VMObject", VM=[vm], TurnOff=True).errors
    assert not _restore(call, "app01", "release-1.4").errors
    assert plain(call.vm("app01").properties["State"]) == "Saved"
    assert not call("HV01", "Stop-VM", "VMObject", VM=[call.vm("app01")], TurnOff=True).errors
    lab.switches["apply_saved_checkpoint_state"] = "Off"
    assert not _restore(call, "app01", "release-1.4").errors
    assert plain(call.vm("app01").properties["State"]) == "Off"


def test_restart_after_apply_is_a_switch(call, lab):
    # source: hyperv-cmdlets-notes.md B Restore-VMSnapshot [R-DEC, inferred] -> switch restart_after_apply
    lab.switches["restart_after_apply"] = False
    assert not _restore(call, "app01", "release-1.4").errors
    assert plain(call.vm("app01").properties["State"]) == "Saved"


def test_applying_snapshot_visible_as_unnamed_32769(call, lab):
    # source: hyperv-objects.md §1 (module enum typo: ApplyingSnapshot shows as 32769); behaviour §3/§5
    seen = []
    lab.in_flight_hooks.append(lambda op: seen.append(call.vm("web01").properties["OperationalStatus"]))
    _restore(call, "web01", "after-patch")
    assert len(seen) == 1 and seen[0][1].name == "32769" and seen[0][1].value == 32769
    assert plain(call.vm("web01").properties["OperationalStatus"]) == ["Ok"]


def test_apply_discards_current_state(call, lab):
    # source: hyperv-behaviour.md §3 (WMI ApplyVirtualSystemSnapshot: current state is lost)
    vm = call.vm("app01")
    old_now = call("HV01", "Get-VMHardDiskDrive", "VMObject", VM=[vm]).output[0].properties["Path"]
    lab.simulate_writes(DEMO_IDS["app01"], 100 * 1024 ** 2)
    assert not call("HV01", "Set-VM", "VMObject", VM=[vm], Notes="changed after checkpoint").errors
    snap = _snap(call, "app01", "release-1.4")
    assert not _restore(call, "app01", "release-1.4").errors
    new_now = call("HV01", "Get-VMHardDiskDrive", "VMObject", VM=[call.vm("app01")]).output[0].properties["Path"]
    assert new_now != old_now
    assert call("HV01", "Get-VHD", "Path", Path=[old_now]).errors  # the discarded differencing disk is gone
    parent = call("HV01", "Get-VHD", "Path", Path=[new_now]).output[0].properties["ParentPath"]
    assert parent == snap.properties["HardDrives"][0].properties["Path"]
    assert call.vm("app01").properties["Notes"] == snap.properties["Notes"]


def test_revert_is_apply_of_parent_snapshot(call):
    # source: hyperv-behaviour.md §3 ("Revert" applies the checkpoint ParentSnapshotId points to); seed article
    vm = call.vm("deep01")
    parent = call("HV01", "Get-VMSnapshot", "Parent", ParentOf=vm).output[0]
    assert parent.properties["Name"] == "L6"
    r = call("HV01", "Restore-VMSnapshot", "SnapshotObject", VMSnapshot=parent, Confirm=False)
    assert not r.errors
    assert call.vm("deep01").properties["ParentSnapshotName"] == "L6"
    # applying another checkpoint moves the "Now" marker there
    assert not _restore(call, "deep01", "L4-branch").errors
    assert call.vm("deep01").properties["ParentSnapshotName"] == "L4-branch"
    assert call("HV01", "Get-VMSnapshot", "Parent", ParentOf=call.vm("deep01")).props("Name") == ["L4-branch"]


def test_restore_prompts_without_confirm_false(call, lab):
    # source: hyperv-behaviour.md §3 (Restore-VMSnapshot prompts; pass -Confirm:$false); notes A.3 (ConfirmImpact High)
    before = lab.digest()
    s = _snap(call, "web01", "before-patch")
    r = call("HV01", "Restore-VMSnapshot", "SnapshotObject", VMSnapshot=s)
    assert r.errors and r.errors[0].terminating and "before-patch" in r.errors[0].message
    assert r.errors[0].fqid.startswith("HostFunctionNotImplemented,")
    r = Caller(lab, transport="winrs")("HV01", "Restore-VMSnapshot", "SnapshotObject", VMSnapshot=s)
    assert "NonInteractive" in r.errors[0].message
    assert lab.digest() == before


def test_restore_by_name_needs_exactly_one_match(call, lab):
    # source: hyperv-cmdlets-notes.md B Restore-VMSnapshot (zero -> ObjectNotFound, several -> InvalidParameter); behaviour §6
    before = lab.digest()
    r = call("HV01", "Restore-VMSnapshot", "SnapshotName", VMName="app01", Name="nightly", Confirm=False)
    assert r.errors[0].message == M.SNAPSHOT_AMBIGUOUS and r.errors[0].category == "InvalidArgument"
    r = call("HV01", "Restore-VMSnapshot", "SnapshotName", VMName="app01", Name="nope", Confirm=False)
    assert r.errors[0].message == M.SNAPSHOT_NOT_FOUND and r.errors[0].category == "ObjectNotFound"
    r = call("HV01", "Restore-VMSnapshot", "SnapshotName", VMName="app01", Name="release*", Confirm=False)
    assert not r.errors  # a wildcard matching exactly one checkpoint applies it
    assert before != lab.digest()


def test_restore_through_engine(pipe):
    # source: hyperv-behaviour.md §14 (Restore-VMSnapshot by -VMSnapshot object, -Confirm:$false)
    r = pipe("HV01", ("Hyper-V\\Get-VMSnapshot", [("VMName", "web01"), ("Name", "after-patch")]),
             ("Hyper-V\\Restore-VMSnapshot", [("Confirm", False), ("Passthru", True)]))
    assert not r.failed and not r.errors and r.output[0].properties["Name"] == "after-patch"
