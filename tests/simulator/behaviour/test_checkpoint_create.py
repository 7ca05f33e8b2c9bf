"""Checkpoint-VM: types, fallback, State, limits, names, unsupported disks, files."""

from __future__ import annotations

import pytest

from hvsim.model import messages as M
from hvsim.model import paths

from behaviour_support import DEMO_IDS, plain


def _ckpt(call, name, snapname=None, **kw):
    vm = call.vm(name)
    args = {"VM": [vm], "Passthru": True, **kw}
    if snapname is not None:
        args["SnapshotName"] = snapname
    return call(vm.properties["ComputerName"], "Checkpoint-VM", "VMObject", **args)


def test_production_running_with_vss_holds_no_memory(call):
    # source: hyperv-behaviour.md §2 (State Off = no memory state = production), §1 (VD)
    r = _ckpt(call, "web01", "p1")
    assert not r.errors
    assert plain(r.output[0].properties["State"]) == "Off"
    assert plain(r.output[0].properties["SnapshotType"]) == "Standard"  # §2: SnapshotType does not tell them apart


def test_production_falls_back_silently_without_vss_in_guest(call):
    # source: hyperv-behaviour.md §1 (Production falls back silently; Linux without hv_vss_daemon)
    r = _ckpt(call, "lnx01", "fallback")
    assert r.errors == [] and r.warnings == []
    assert plain(r.output[0].properties["State"]) == "Saved"  # §2: Saved on a running VM = standard


def test_production_falls_back_when_vss_service_disabled(call, lab):
    # source: hyperv-behaviour.md §1 ("Backup (volume shadow copy)" integration service needed)
    vm = call.vm("web01")
    r = call("HV01", "Disable-VMIntegrationService", "VMObject", VM=[vm], Name=["VSS"])
    assert not r.errors
    r = _ckpt(call, "web01", "novss")
    assert plain(r.output[0].properties["State"]) == "Saved"


def test_production_only_fails_and_leaves_nothing(call, lab):
    # source: hyperv-behaviour.md §1 (ProductionOnly fails rather than falling back); test-matrix A12
    vm = call.vm("lnx01")
    assert not call("HV01", "Set-VM", "VMObject", VM=[vm], CheckpointType="ProductionOnly").errors
    before = lab.digest()
    r = _ckpt(call, "lnx01", "must-fail")
    assert r.output == []
    assert len(r.errors) == 1
    err = r.errors[0]
    assert err.fqid.startswith("OperationFailed,") and err.category == "InvalidOperation"
    assert "Backup (volume shadow copy)" in err.message  # names the integration service
    assert "8229" in err.message and "vssadmin list writers" in err.message
    assert call.snaps("lnx01") == []
    assert lab.digest() == before


def test_disabled_fails_with_vagrant_text(call):
    # source: hyperv-behaviour.md §1/§7 (hashicorp/vagrant#9977); notes B Checkpoint-VM
    vm = call.vm("legacy01")
    r = call("HV02", "Checkpoint-VM", "VMObject", VM=[vm], SnapshotName="x")
    assert len(r.errors) == 1
    assert r.errors[0].message.startswith("Checkpoint operation failed. Checkpoints have been disabled.")
    assert "Checkpoints have been disabled for 'legacy01'." in r.errors[0].message
    assert call.snaps("legacy01") == []


def test_standard_of_running_vm_is_saved_and_of_off_vm_is_off(call):
    # source: hyperv-behaviour.md §2 (Saved = memory; Off = checkpoint of an Off VM)
    assert plain(_ckpt(call, "app01", "s1").output[0].properties["State"]) == "Saved"
    assert plain(_ckpt(call, "deep01", "s2").output[0].properties["State"]) == "Off"
    # a production checkpoint of an Off VM is Off as well
    assert plain(_ckpt(call, "web01-hv02", "s3").output[0].properties["State"]) == "Off"


def test_no_output_without_passthru(call):
    # source: hyperv-behaviour.md §14 (Checkpoint-VM returns nothing unless -Passthru)
    vm = call.vm("web01")
    r = call("HV01", "Checkpoint-VM", "VMObject", VM=[vm], SnapshotName="quiet")
    assert r.output == [] and not r.errors and r.mutated
    assert "quiet" in [s.properties["Name"] for s in call.snaps("web01")]


def test_default_name_is_vm_name_and_timestamp(call, clock):
    # source: hyperv-cmdlets-notes.md B Checkpoint-VM (observed form "<VMName> - (M/d/yyyy - h:mm:ss tt)")
    r = _ckpt(call, "web01")
    name = r.output[0].properties["Name"]
    assert name.startswith("web01 - (") and name.endswith(("AM)", "PM)"))


@pytest.mark.parametrize("bad", ["   ", "x" * 101])
def test_name_rules(call, bad):
    # source: hyperv-behaviour.md §6 (at most 100 characters, not blank; VD)
    r = _ckpt(call, "web01", bad)
    assert r.output == [] and r.errors and r.errors[0].fqid.startswith("InvalidParameter,")
    assert bad not in [s.properties["Name"] for s in call.snaps("web01")]


def test_name_of_exactly_100_characters_is_accepted(call):
    # source: hyperv-behaviour.md §6 (at most 100 characters)
    r = _ckpt(call, "web01", "y" * 100)
    assert not r.errors and r.output[0].properties["Name"] == "y" * 100


def test_duplicate_names_allowed_by_default_and_switchable(call, lab):
    # source: hyperv-behaviour.md §6 (duplicates allowed; unverified -> switch allow_duplicate_checkpoint_names)
    assert not _ckpt(call, "web01", "dup").errors
    assert not _ckpt(call, "web01", "dup").errors
    assert [s.properties["Name"] for s in call.snaps("web01")].count("dup") == 2
    lab.switches["allow_duplicate_checkpoint_names"] = False
    r = _ckpt(call, "web01", "dup")
    assert r.errors and [s.properties["Name"] for s in call.snaps("web01")].count("dup") == 2


def test_fifty_checkpoint_limit(call):
    # source: hyperv-behaviour.md §6 (at most 50 per VM, Plan); test-matrix A25
    assert len(call.snaps("nightly49")) == 49
    assert not _ckpt(call, "nightly49", "fiftieth").errors
    r = _ckpt(call, "nightly49", "fifty-first")
    assert r.errors and "maximum number of checkpoints (50)" in r.errors[0].message
    assert len(call.snaps("nightly49")) == 50


def _make_shared_vhdx(lab):
    """Turn sqlclu-a's VHD Set into a shared .vhdx (the 2012 R2 kind), for the refusal tests."""
    vm = next(v for v in lab.vms.values() if v.name == "sqlclu-a")
    drive = next(d for d in vm.drives if d.shared)
    drive.path = drive.path[: -len(".vhds")] + ".vhdx"


@pytest.mark.parametrize("vm,what", [("pt01", "pass-through"), ("sqlclu-a", "shared virtual hard disks")])
def test_unsupported_disks_fail_without_partial_checkpoint(call, lab, vm, what):
    # source: hyperv-behaviour.md §9 (pass-through, shared VHDX, vFC unsupported; no partial checkpoint)
    if vm == "sqlclu-a":
        _make_shared_vhdx(lab)
    before = lab.digest()
    r = _ckpt(call, vm, "nope")
    assert r.errors and what in r.errors[0].message
    assert lab.digest() == before


def test_vhd_set_is_checkpointed_and_stays_on_the_set(call, lab):
    # source: hyperv-behaviour.md §9 (WSD Create-VHDSet-file: VHD Sets can be checkpointed)
    r = _ckpt(call, "sqlclu-a", "group")
    assert not r.errors
    vm = next(v for v in lab.vms.values() if v.name == "sqlclu-a")
    shared = next(d for d in vm.drives if d.shared)
    assert shared.path.lower().endswith(".vhds")
    assert [s.properties["Name"] for s in call.snaps("sqlclu-a")] == ["group"]


def test_vhd_set_preconditions_unmet_refuses_without_partial_checkpoint(call, lab):
    # source: hyperv-behaviour.md §9 (KB error-back-up-vms-in-guest-cluster: 32768/32770/32775)
    lab.switches["vhd_set_preconditions"] = "unmet"
    before = lab.digest()
    r = _ckpt(call, "sqlclu-a", "group")
    assert r.errors and "32775" in r.errors[0].message
    assert lab.digest() == before


def test_passthrough_switch_follows_seed_article(call, lab):
    # source: seed article ("Checkpoint creation ignores pass-through disks entirely") vs behaviour §9: switch
    lab.switches["passthrough_checkpoint"] = "ignore"
    r = _ckpt(call, "pt01", "ok")
    assert not r.errors
    drives = r.output[0].properties["HardDrives"]
    assert [d.properties["Path"] for d in drives][1] is None


def test_replica_vm_checkpoint_is_a_switch(call, lab):
    # source: hyperv-behaviour.md §12 ("Whether checkpoints of Replica VMs can be created at all is unverified")
    assert _ckpt(call, "web02-replica", "r").errors
    lab.switches["replica_checkpoints_allowed"] = True
    assert not _ckpt(call, "web02-replica", "r").errors


def test_avhdx_next_to_parent_and_disk_path_moves(call, lab):
    # source: hyperv-behaviour.md §8 (.avhdx next to the parent VHDX), §4 (disk path points at newest .avhdx)
    vm = call.vm("dc01")
    before = call("HV01", "Get-VMHardDiskDrive", "VMObject", VM=[vm]).output[0].properties["Path"]
    assert before.endswith(".vhdx")
    snap = _ckpt(call, "dc01", "c1").output[0]
    after = call("HV01", "Get-VMHardDiskDrive", "VMObject", VM=[call.vm("dc01")]).output[0].properties["Path"]
    assert after.lower().endswith(".avhdx") and paths.dirname(after) == paths.dirname(before)
    vhd = call("HV01", "Get-VHD", "Path", Path=[after]).output[0].properties
    assert plain(vhd["VhdType"]) == "Differencing" and vhd["ParentPath"] == before
    # the checkpoint's own drive is the frozen parent
    assert snap.properties["HardDrives"][0].properties["Path"] == before


def test_parent_snapshot_moves_to_new_checkpoint(call):
    # source: hyperv-behaviour.md §3 ("Now" marker = ParentSnapshotId), §16.2
    snap = _ckpt(call, "web01", "now").output[0]
    vm = call.vm("web01")
    assert plain(vm.properties["ParentSnapshotId"]) == plain(snap.properties["Id"])
    assert vm.properties["ParentSnapshotName"] == "now"
    assert snap.properties["ParentSnapshotName"] == "after-patch"


def test_saved_checkpoint_writes_memory_to_snapshot_location(call, lab):
    # source: hyperv-behaviour.md §8 (SnapshotFileLocation holds .vmcx/.vmrs), cost model docs/hvsim.md
    snap = _ckpt(call, "app01", "mem").output[0]
    loc = call.vm("app01").properties["SnapshotFileLocation"]
    host = lab.hosts["HV01"]
    sid = plain(snap.properties["Id"]).upper()
    vmrs = lab.find_file(host, paths.join(loc, "Snapshots", sid + ".vmrs"))
    assert vmrs is not None and vmrs.size == 8 * 1024 ** 3
    assert lab.find_file(host, paths.join(loc, "Snapshots", sid + ".vmcx")) is not None


def test_concurrent_checkpoint_gets_invalid_state(call, lab):
    # source: test-matrix B5 (one wins, the other gets InvalidState); notes B (InvalidState text)
    seen = []

    def racer(op):
        if op.name == "Checkpoint-VM" and not seen:
            seen.append(_ckpt(call, "web01", "second"))

    lab.in_flight_hooks.append(racer)
    first = _ckpt(call, "web01", "first")
    assert not first.errors
    second = seen[0]
    assert second.errors and second.errors[0].fqid.startswith("InvalidState,")
    assert second.errors[0].message == M.INVALID_STATE_VM
    names = [s.properties["Name"] for s in call.snaps("web01")]
    assert "first" in names and "second" not in names


def test_creating_snapshot_visible_in_flight(call, lab):
    # source: hyperv-behaviour.md §5 (CreatingSnapshot 32768 while a checkpoint is taken)
    seen = []
    lab.in_flight_hooks.append(lambda op: seen.append(plain(call.vm("web01").properties["OperationalStatus"])))
    _ckpt(call, "web01", "x")
    assert seen == [["Ok", "CreatingSnapshot"]]
    assert plain(call.vm("web01").properties["OperationalStatus"]) == ["Ok"]


def test_checkpoint_through_engine_pipeline(pipe):
    # source: docs/contracts.md §1 (object flows inside one pipeline); notes B Checkpoint-VM -Passthru
    r = pipe("HV01", ("Hyper-V\\Get-VM", [("Id", DEMO_IDS["web01"])]),
             ("Hyper-V\\Checkpoint-VM", [("SnapshotName", "via-engine"), ("Passthru", True)]))
    assert not r.failed and not r.errors and r.mutated
    assert r.output[0].type_name == "Microsoft.HyperV.PowerShell.VMSnapshot"
    assert r.output[0].properties["Name"] == "via-engine"
