"""Remove-VMSnapshot (delete = merge), MergingDisks timing, Rename-VMSnapshot."""

from __future__ import annotations

import pytest

from hvsim.lab import load_lab
from hvsim.model import ManualClock
from hvsim.model import messages as M

from behaviour_support import DEMO_IDS, Caller, plain

MiB = 1024 ** 2


def _names(call, vm):
    return [s.properties["Name"] for s in call.snaps(vm)]


def _by_name(call, vm):
    return {s.properties["Name"]: s for s in call.snaps(vm)}


def _remove(call, vm, snaps, **kw):
    host = call.vm(vm).properties["ComputerName"]
    return call(host, "Remove-VMSnapshot", "SnapshotObject", VMSnapshot=snaps, **kw)


def test_remove_reparents_children(call):
    # source: hyperv-behaviour.md §4 ("Removing a checkpoint that has children re-parents the children onto its parent")
    s = _by_name(call, "deep01")
    assert not _remove(call, "deep01", [s["L3"]]).errors
    s = _by_name(call, "deep01")
    assert "L3" not in s
    assert s["L4"].properties["ParentSnapshotName"] == "L2"
    assert s["L4-branch"].properties["ParentSnapshotName"] == "L2"
    assert call.vm("deep01").properties["ParentSnapshotName"] == "L6"


def test_include_all_child_snapshots_removes_subtree(call):
    # source: hyperv-behaviour.md §4 (-IncludeAllChildSnapshots removes the whole subtree)
    s = _by_name(call, "deep01")
    r = _remove(call, "deep01", [s["L4"]], IncludeAllChildSnapshots=True, Passthru=True)
    assert sorted(r.props("Name")) == ["L4", "L5", "L6"]
    assert _names(call, "deep01") == ["L1", "L2", "L3", "L4-branch"]
    assert call.vm("deep01").properties["ParentSnapshotName"] == "L3"


def test_remove_without_name_removes_everything_and_merges_back_to_base(call, lab):
    # source: hyperv-behaviour.md §4 ("Remove-VMSnapshot -VMName X with no -Name removes every checkpoint", PSD)
    vm = call.vm("deep01")
    base = call("HV01", "Get-VMSnapshot", "VMObject", VM=[vm], Name="L1").output[0].properties["HardDrives"][0].properties["Path"]
    before = call("HV01", "Get-VHD", "Path", Path=[base]).output[0].properties["FileSize"].value
    # bytes on the path Now -> base (the L4-branch leaf is not on it: it is deleted, not merged)
    chain_bytes, path = 0, vm.properties["HardDrives"][0].properties["Path"]
    while path != base:
        p = call("HV01", "Get-VHD", "Path", Path=[path]).output[0].properties
        chain_bytes += p["FileSize"].value
        path = p["ParentPath"]
    r = call("HV01", "Remove-VMSnapshot", "SnapshotName", VMName=["deep01"])
    assert not r.errors and r.output == []
    assert _names(call, "deep01") == []
    p = call.vm("deep01").properties
    assert p["ParentSnapshotId"] is None
    assert p["HardDrives"][0].properties["Path"] == base  # back on the base disk
    vhd = call("HV01", "Get-VHD", "Path", Path=[base]).output[0].properties
    assert vhd["FileSize"].value == before + chain_bytes and vhd["ParentPath"] == ""
    avhdx = [k for v in lab.hosts["HV01"].volumes for k in v.files if k.startswith("d:\\hyper-v\\virtual hard disks\\deep01_")]
    assert avhdx == []  # every .avhdx of the VM is gone


def test_name_that_matches_nothing_does_nothing(call, lab):
    # source: hyperv-cmdlets-notes.md B Remove-VMSnapshot ("A name that matches nothing does nothing, without error")
    before = lab.digest()
    r = call("HV01", "Remove-VMSnapshot", "SnapshotName", VMName=["deep01"], Name=["nope"])
    assert r.errors == [] and r.output == []
    assert lab.digest() == before


def test_names_are_wildcards_not_literals(call):
    # source: hyperv-behaviour.md §6 ("[" and "]" are wildcard characters; Remove-VMSnapshot Example 1 uses Experiment*)
    r = call("HV02", "Remove-VMSnapshot", "SnapshotName", VMName=["wild01"], Name=["db[01]"], Passthru=True)
    assert r.props("Name") == ["db0"]  # the character class matched db0, not the literal "db[01]"
    assert "db[01]" in _names(call, "wild01")
    r = call("HV02", "Remove-VMSnapshot", "SnapshotName", VMName=["WILD01"], Name=["A?B"], Passthru=True)
    assert sorted(r.props("Name")) == ["a*b", "a?b", "axb"]  # case-insensitive, ? matches any character
    assert _names(call, "wild01") == ["db[01]"]


def test_get_snapshot_name_pattern_fans_out(call):
    # source: hyperv-behaviour.md §6 (a pattern that matches several checkpoints returns an array)
    r = call("HV02", "Get-VMSnapshot", "VMName", VMName=["wild01"], Name="a*b")
    assert sorted(r.props("Name")) == ["a*b", "a?b", "axb"]
    r = call("HV02", "Get-VMSnapshot", "VMName", VMName=["wild01"], Name="a`*b")  # escaped: literal
    assert r.props("Name") == ["a*b"]


def test_merged_bytes_added_to_parent_and_file_disappears(call):
    # source: hyperv-behaviour.md §4 (delete merges the .avhdx into the parent; never delete .avhdx directly); CKPT
    s = _by_name(call, "web01")
    now = call.vm("web01").properties["HardDrives"][0].properties["Path"]
    frozen = s["after-patch"].properties["HardDrives"][0].properties["Path"]
    now_size = call("HV01", "Get-VHD", "Path", Path=[now]).output[0].properties["FileSize"].value
    frozen_size = call("HV01", "Get-VHD", "Path", Path=[frozen]).output[0].properties["FileSize"].value
    assert not _remove(call, "web01", [s["after-patch"]]).errors
    assert call("HV01", "Get-VHD", "Path", Path=[now]).errors  # merged file gone
    vhd = call("HV01", "Get-VHD", "Path", Path=[frozen]).output[0].properties
    assert vhd["FileSize"].value == frozen_size + now_size
    assert call.vm("web01").properties["HardDrives"][0].properties["Path"] == frozen


def test_remove_passthru_and_then_absent(call):
    # source: hyperv-cmdlets-notes.md B Remove-VMSnapshot (-Passthru emits the removed VMSnapshot); behaviour §7 (absent)
    s = _by_name(call, "web01")["before-patch"]
    r = _remove(call, "web01", [s], Passthru=True)
    assert r.output[0].type_name == "Microsoft.HyperV.PowerShell.VMSnapshot" and r.props("Name") == ["before-patch"]
    r = call("HV01", "Get-VMSnapshot", "Id", Id=plain(s.properties["Id"]))
    assert r.errors[0].message == M.SNAPSHOT_NOT_FOUND


def test_merge_hold_keeps_merging_disks_visible(call, lab):
    # source: hyperv-behaviour.md §4/§16.4 ("Leaves MergingDisks set for a configurable time after the call returns")
    lab.switches["merge_hold"] = True
    s = _by_name(call, "web01")["after-patch"]
    assert not _remove(call, "web01", [s]).errors
    p = call.vm("web01").properties
    assert plain(p["OperationalStatus"]) == ["Ok", "MergingDisks"]
    assert p["OperationalStatus"][1].value == 32772 and p["Status"].startswith("Merging disks")
    assert "after-patch" not in _names(call, "web01")  # the checkpoint is gone while the disks merge
    # chain operations wait: a checkpoint during the merge is refused (behaviour §5 "wait ... before any further chain operation")
    r = call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm("web01")], SnapshotName="during-merge")
    assert r.errors and r.errors[0].message == M.INVALID_STATE_VM
    lab.release_merges()
    assert plain(call.vm("web01").properties["OperationalStatus"]) == ["Ok"]


@pytest.fixture
def timed():
    clock = ManualClock(1_796_000_000.0)
    lab = load_lab("demo", clock=clock, time_scale=1.0)
    for vm in lab.vms.values():
        vm.write_rate = 0  # keep the byte counts of this test exact
    return lab, clock, Caller(lab)


def test_merge_duration_is_bytes_over_host_throughput(timed):
    # source: docs/hvsim.md cost model (merge: bytes / host throughput); behaviour §4 (cmdlet returns before merge ends)
    lab, clock, call = timed
    lab.simulate_writes(DEMO_IDS["deep01"], 1000 * MiB)
    now = call.vm("deep01").properties["HardDrives"][0].properties["Path"]
    nbytes = call("HV01", "Get-VHD", "Path", Path=[now]).output[0].properties["FileSize"].value
    seconds = nbytes / lab.hosts["HV01"].throughput
    s = _by_name(call, "deep01")["L6"]
    t0 = clock.now()
    assert not call("HV01", "Remove-VMSnapshot", "SnapshotObject", VMSnapshot=[s]).errors
    assert clock.now() == t0  # returned at once
    clock.advance(seconds - 0.05)
    assert "MergingDisks" in plain(call.vm("deep01").properties["OperationalStatus"])
    clock.advance(0.1)
    assert plain(call.vm("deep01").properties["OperationalStatus"]) == ["Ok"]


def test_two_merges_on_a_concurrency_2_host_each_run_at_full_throughput(timed):
    # source: docs/hvsim.md cost model (host slots: `throughput` is the rate one operation gets; HV01 has two slots)
    lab, clock, call = timed
    assert lab.hosts["HV01"].concurrency == 2
    lab.simulate_writes(DEMO_IDS["deep01"], 1000 * MiB)
    lab.simulate_writes(DEMO_IDS["app01"], 400 * MiB)
    assert not _remove(call, "deep01", [_by_name(call, "deep01")["L6"]]).errors
    assert not _remove(call, "app01", [_by_name(call, "app01")["release-1.4"]]).errors
    jobs = {j.vm_id: j.bytes_total for j in lab.merges}
    assert len(jobs) == 2
    rate = lab.hosts["HV01"].throughput
    small_vm, big_vm = sorted(jobs, key=jobs.get)
    name = {DEMO_IDS["deep01"]: "deep01", DEMO_IDS["app01"]: "app01"}
    t0 = clock.now()
    clock.advance(jobs[small_vm] / rate - 0.05)
    assert "MergingDisks" in plain(call.vm(name[small_vm]).properties["OperationalStatus"])
    clock.advance(0.1)  # its own bytes / throughput: done, although the other merge ran alongside
    assert plain(call.vm(name[small_vm]).properties["OperationalStatus"]) == ["Ok"]
    assert "MergingDisks" in plain(call.vm(name[big_vm]).properties["OperationalStatus"])
    clock.advance(t0 + jobs[big_vm] / rate - 0.05 - clock.now())
    assert "MergingDisks" in plain(call.vm(name[big_vm]).properties["OperationalStatus"])
    clock.advance(0.1)
    assert plain(call.vm(name[big_vm]).properties["OperationalStatus"]) == ["Ok"]


def test_host_concurrency_capacity_queues_merges(timed):
    # source: docs/hvsim.md cost model (host concurrency capacity: HV03 runs one merge at a time)
    lab, clock, call = timed
    assert lab.hosts["HV03"].concurrency == 1
    s = _by_name(call, "nightly49")
    assert not _remove(call, "nightly49", [s["nightly-49"]]).errors
    assert not _remove(call, "nightly49", [s["nightly-01"]]).errors
    j1, j2 = lab.merges
    rate = lab.hosts["HV03"].throughput
    clock.advance(j1.bytes_total / rate + 0.01)
    with lab.locked():
        pass
    assert lab.merges == [j2] and j2.bytes_done < j2.bytes_total  # the second only started when the first ended


def test_checkpoint_waits_for_a_merge_on_a_concurrency_1_host(timed):
    # source: docs/hvsim.md cost model (host slots: merges and synchronous bulk operations share one FIFO queue)
    lab, clock, call = timed
    host = lab.hosts["HV03"]
    assert host.concurrency == 1
    lab.vms[DEMO_IDS["small01"]].memory_startup = 512 * MiB  # fits the small F: volume
    lab.simulate_writes(DEMO_IDS["nightly49"], 600 * MiB)
    assert not _remove(call, "nightly49", [_by_name(call, "nightly49")["nightly-49"]]).errors
    (job,) = lab.merges
    merge = job.bytes_total / host.throughput
    ckpt = lab.costs["checkpoint_standard"] + lab.vms[DEMO_IDS["small01"]].memory_startup / host.throughput
    t0 = clock.now()
    assert not call("HV03", "Checkpoint-VM", "VMObject", VM=[call.vm("small01")], SnapshotName="after-merge").errors
    assert clock.now() - t0 == pytest.approx(merge + ckpt)  # waited for the merge's slot, then its own work
    assert lab.merges == [] and lab.bulk_ops == []


def test_merge_waits_for_a_checkpoint_on_a_concurrency_1_host(timed):
    # source: docs/hvsim.md cost model (host slots: merges and synchronous bulk operations share one FIFO queue)
    lab, clock, call = timed
    host = lab.hosts["HV03"]
    lab.vms[DEMO_IDS["small01"]].memory_startup = 512 * MiB  # fits the small F: volume
    lab.simulate_writes(DEMO_IDS["nightly49"], 600 * MiB)
    started = {}

    def hook(op):  # Remove-VMSnapshot while the checkpoint of small01 holds HV03's only slot
        started["t"] = clock.now()
        assert not _remove(call, "nightly49", [_by_name(call, "nightly49")["nightly-49"]]).errors
        started["bytes"] = lab.merges[0].bytes_total

    lab.in_flight_hooks.append(hook)
    assert not call("HV03", "Checkpoint-VM", "VMObject", VM=[call.vm("small01")], SnapshotName="first").errors
    lab.in_flight_hooks.remove(hook)
    ckpt = lab.costs["checkpoint_standard"] + lab.vms[DEMO_IDS["small01"]].memory_startup / host.throughput
    assert clock.now() - started["t"] == pytest.approx(ckpt)  # the checkpoint was not slowed by the queued merge
    with lab.locked():
        assert lab.merges[0].bytes_done == 0  # the merge has not started yet
    merge = started["bytes"] / host.throughput
    clock.advance(merge - 0.05)
    assert "MergingDisks" in plain(call.vm("nightly49").properties["OperationalStatus"])
    clock.advance(0.1)
    assert plain(call.vm("nightly49").properties["OperationalStatus"]) == ["Ok"]


def test_remove_waits_for_merge_when_switch_off(timed):
    # source: hyperv-behaviour.md §4/§17 (whether Remove-VMSnapshot returns before the merge is unverified) -> switch
    lab, clock, call = timed
    lab.switches["remove_returns_before_merge"] = False
    t0 = clock.now()
    assert not _remove(call, "web01", [_by_name(call, "web01")["after-patch"]]).errors
    assert clock.now() > t0
    assert plain(call.vm("web01").properties["OperationalStatus"]) == ["Ok"]


def test_rename_rules(call):
    # source: hyperv-cmdlets-notes.md B Rename-VMSnapshot (100 characters, not blank; exactly one match)
    s = _by_name(call, "web01")["after-patch"]
    r = call("HV01", "Rename-VMSnapshot", "SnapshotObject", VMSnapshot=s, NewName="renamed", Passthru=True)
    assert r.props("Name") == ["renamed"]
    for bad in ("  ", "z" * 101):
        r = call("HV01", "Rename-VMSnapshot", "SnapshotObject", VMSnapshot=s, NewName=bad)
        assert r.errors and r.errors[0].fqid.startswith("InvalidParameter,")
    r = call("HV01", "Rename-VMSnapshot", "SnapshotName", VMName="app01", Name="nightly", NewName="x")
    assert r.errors[0].message == M.SNAPSHOT_AMBIGUOUS
    assert "renamed" in _names(call, "web01")


def test_remove_through_engine_pipeline_removes_all(pipe, call):
    # source: PSD Remove-VMSnapshot Example 2 pattern (Get-VMSnapshot | Remove-VMSnapshot), behaviour §4
    r = pipe("HV01", ("Hyper-V\\Get-VM", [("Id", DEMO_IDS["deep01"])]), ("Hyper-V\\Get-VMSnapshot", []),
             ("Hyper-V\\Remove-VMSnapshot", []))
    assert not r.failed and not r.errors and r.mutated
    assert _names(call, "deep01") == []


def test_recovery_checkpoint_can_be_removed_with_powershell(call):
    # source: hyperv-behaviour.md §12 (Recovery checkpoints cannot be deleted "in the normal way", i.e. the GUI has no
    # Delete; workinghardinit.work 2015-10-15: Remove-VMSnapshot removes them) - so only the collection's own
    # filter protects them (test-matrix A18)
    s = _by_name(call, "web02-replica")["Recovery checkpoint"]
    r = _remove(call, "web02-replica", [s], Passthru=True)
    assert not r.errors and r.props("Name") == ["Recovery checkpoint"]
    assert _names(call, "web02-replica") == ["Replica checkpoint - 11/19/2026"]
