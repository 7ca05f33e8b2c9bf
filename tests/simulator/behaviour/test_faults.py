"""Model-level faults: lab.inject_fault(kind, **params) and the lab file's faults: section."""

from __future__ import annotations

import pytest
import yaml

from hvsim.lab import LABS_DIR, build_lab
from hvsim.model import FAULT_KINDS, ManualClock
from hvsim.model import messages as M

from behaviour_support import DEMO_IDS, Caller, plain


def _ck(call, vm, name="f"):
    v = call.vm(vm)
    return call(v.properties["ComputerName"], "Checkpoint-VM", "VMObject", VM=[v], SnapshotName=name, Passthru=True)


def test_disk_full_fails_create_and_merge_with_numbers(call, lab):
    # source: test-matrix B4 (fail and give the free-space numbers); behaviour §4 (free space for create and merge)
    lab.inject_fault("disk_full", host="HV01", volume="D:\\", free_bytes=0)
    before = lab.digest()
    r = _ck(call, "web01")
    e = r.errors[0]
    assert "0x80070070" in e.message and "Volume 'D:\\' has 0 bytes free" in e.message
    assert lab.digest() == before
    s = next(x for x in call.snaps("web01") if x.properties["Name"] == "after-patch")
    r = call("HV01", "Remove-VMSnapshot", "SnapshotObject", VMSnapshot=[s])
    assert r.errors and "bytes free" in r.errors[0].message
    assert "after-patch" in [x.properties["Name"] for x in call.snaps("web01")]  # nothing removed
    vol = call("HV01", "Get-Volume", "ByDriveLetter", DriveLetter=["D"]).output[0].properties
    assert vol["SizeRemaining"].value == 0
    lab.clear_faults()
    assert not _ck(call, "web01").errors


def test_small_volume_fills_on_saved_state(call):
    # source: behaviour §4 (check free space before creating): small01 (8 GiB memory) on a volume with ~1 GiB free
    r = _ck(call, "small01")
    assert r.errors and "0x80070070" in r.errors[0].message
    assert call.snaps("small01") == []


def test_vss_failure_fault(call, lab):
    # source: test-matrix B7 (VSS writer failed; events 8229/12293); behaviour §1 (Production falls back)
    lab.inject_fault("vss_failure", vm=DEMO_IDS["web01"])
    assert plain(_ck(call, "web01", "fb").output[0].properties["State"]) == "Saved"
    v = call.vm("web01")
    call("HV01", "Set-VM", "VMObject", VM=[v], CheckpointType="ProductionOnly")
    r = _ck(call, "web01", "po")
    assert r.errors and "VSS writer" in r.errors[0].message and "12293" in r.errors[0].message
    lab.clear_faults("vss_failure")
    assert plain(_ck(call, "web01", "po2").output[0].properties["State"]) == "Off"


def test_backup_lock_fault(call, lab):
    # source: test-matrix B8 (BackingUpVirtualMachine, 0x80070020); behaviour §5/§7
    lab.inject_fault("backup_lock", vm="web01", host="HV01")
    ops = plain(call.vm("web01").properties["OperationalStatus"])
    assert ops == ["Ok", "BackingUpVirtualMachine"]
    r = _ck(call, "web01")
    e = r.errors[0]
    assert e.fqid.startswith("ObjectInUse,") and e.category == "ResourceBusy" and "0x80070020" in e.message
    r = call("HV01", "Stop-VM", "VMObject", VM=[call.vm("web01")], TurnOff=True)
    assert r.errors and "0x80070020" in r.errors[0].message
    assert len(call.snaps("web01")) == 2  # reading still works


def test_slow_merge_fault(lab, clock):
    # source: brief (a merge that takes very long); test-matrix B3 (MergingDisks when the next operation starts)
    call = Caller(lab)
    lab.inject_fault("slow_merge", vm="web01", host="HV01", seconds=600)
    s = next(x for x in call.snaps("web01") if x.properties["Name"] == "after-patch")
    assert not call("HV01", "Remove-VMSnapshot", "SnapshotObject", VMSnapshot=[s]).errors
    clock.advance(599)
    assert "MergingDisks" in plain(call.vm("web01").properties["OperationalStatus"])
    clock.advance(2)
    assert plain(call.vm("web01").properties["OperationalStatus"]) == ["Ok"]


def test_slow_merge_hold_until_cleared(call, lab):
    # source: brief (a merge that takes very long) - hold variant
    lab.inject_fault("slow_merge", host="HV01", hold=True)
    s = next(x for x in call.snaps("web01") if x.properties["Name"] == "after-patch")
    call("HV01", "Remove-VMSnapshot", "SnapshotObject", VMSnapshot=[s])
    assert "MergingDisks" in plain(call.vm("web01").properties["OperationalStatus"])
    lab.clear_faults()
    assert plain(call.vm("web01").properties["OperationalStatus"]) == ["Ok"]


def test_live_migration_fault(call, lab):
    # source: hyperv-behaviour.md §11 (VM live-migrates mid-run; re-resolve the owner by Id); test-matrix B6
    lab.inject_fault("live_migration", vm=DEMO_IDS["web01"], to_host="HV02", after_calls=1)
    assert call("HV01", "Get-VM", "Id", Id=DEMO_IDS["web01"]).output  # first call still sees it
    r = call("HV01", "Get-VM", "Id", Id=DEMO_IDS["web01"])
    assert r.output == [] and r.errors[0].message == M.VM_NOT_FOUND_ID.format(DEMO_IDS["web01"])
    assert call("HV02", "Get-VM", "Id", Id=DEMO_IDS["web01"]).output


def test_live_migration_in_flight(call, lab):
    # source: hyperv-behaviour.md §11 (migration in the middle of a run)
    lab.in_flight_hooks.append(lambda op: lab.inject_fault("live_migration", vm=DEMO_IDS["dc01"]))
    r = _ck(call, "dc01")
    assert r.errors and r.errors[0].fqid.startswith("ObjectNotFound,")
    assert call("HV01", "Get-VM", "Name", Name=["dc01"]).errors  # gone from every listener
    assert not any(s.vm_id == DEMO_IDS["dc01"] for s in lab.snapshots.values())


def test_broken_chain_fault(call, lab):
    # source: hyperv-behaviour.md §7 (0x80070032 broken differencing chain); test-matrix B12
    lab.inject_fault("broken_chain", vm="app01")
    before = lab.digest()
    s = next(x for x in call.snaps("app01") if x.properties["Name"] == "release-1.4")
    r = call("HV01", "Restore-VMSnapshot", "SnapshotObject", VMSnapshot=s, Confirm=False)
    assert r.errors and "0x80070032" in r.errors[0].message
    r = call("HV01", "Remove-VMSnapshot", "SnapshotObject", VMSnapshot=[s])
    assert r.errors and "0x80070032" in r.errors[0].message
    assert lab.digest() == before


def test_vm_busy_fault(call, lab):
    # source: hyperv-behaviour.md §16.8 (InvalidState when two operations race)
    lab.inject_fault("vm_busy", vm=DEMO_IDS["web01"], status="CreatingSnapshot")
    assert plain(call.vm("web01").properties["OperationalStatus"]) == ["Ok", "CreatingSnapshot"]
    assert _ck(call, "web01").errors[0].message == M.INVALID_STATE_VM


def test_unknown_fault_kind_is_refused(lab):
    # source: brief (fault kinds are a fixed list)
    with pytest.raises(ValueError):
        lab.inject_fault("meteor_strike")
    assert "disk_full" in FAULT_KINDS


def test_faults_section_of_lab_file():
    # source: brief (faults from lab files, faults: section); docs/hvsim.md "Lab format"
    spec = yaml.safe_load((LABS_DIR / "demo.yaml").read_text("utf-8"))
    spec["faults"] = [{"kind": "backup_lock", "vm": "dc01"}, {"kind": "disk_full", "host": "HV02", "volume": "D:\\"}]
    lab = build_lab(spec, clock=ManualClock())
    call = Caller(lab)
    assert "BackingUpVirtualMachine" in plain(call.vm("dc01").properties["OperationalStatus"])
    assert call("HV02", "Get-Volume", "ByDriveLetter", DriveLetter=["D"]).output[0].properties["SizeRemaining"].value == 0


def test_migrated_vm_keeps_its_disks_on_the_new_owner(call, lab):
    # source: hyperv-behaviour.md §11 (live migration; re-resolve the owner by Id and go on there)
    lab.inject_fault("live_migration", vm=DEMO_IDS["app01"], to_host="HV02")
    vm = call("HV02", "Get-VM", "Id", Id=DEMO_IDS["app01"]).output[0]
    path = vm.properties["HardDrives"][0].properties["Path"]
    assert not call("HV02", "Get-VHD", "Path", Path=[path]).errors
    assert call("HV01", "Get-VHD", "Path", Path=[path]).errors
    r = call("HV02", "Checkpoint-VM", "VMObject", VM=[vm], SnapshotName="after-move", Passthru=True)
    assert not r.errors and plain(r.output[0].properties["ParentSnapshotId"]) is not None


def test_host_wide_backup_lock(call, lab):
    # source: test-matrix B8 (a backup job holds VMs) - a fault without vm applies to every VM of the host
    lab.inject_fault("backup_lock", host="HV02")
    assert "BackingUpVirtualMachine" in plain(call.vm("dc02").properties["OperationalStatus"])
    assert plain(call.vm("dc01").properties["OperationalStatus"]) == ["Ok"]
