"""checkpoint (present/absent/rename) against the hvsim model through the in-process engine transport.

Each scenario: check mode (digest unchanged, same result shape), real run (verified on the model),
rerun (changed=false). Test-matrix rows are named in the docstrings.
"""

from __future__ import annotations

import pytest

from hvsim.lab import load_lab

from test_checkpoint_common import (
    APP01, DC01, DEEP01, LEGACY01, LNX01, NIGHTLY49, PT01, REPLICA, SMALL01, SQL01, SQLCLU_A, WEB01,
    assert_safe_pipelines, cps, lc, make_shared_vhdx, names, run, warnings_of,
)

RESULT_KEYS = {"changed", "action", "vm", "checkpoint", "matches", "requested_type", "achieved_type", "fallback",
               "removed", "merge_seconds", "preflight"}


@pytest.fixture
def lab():
    return load_lab("demo")


def test_create_check_real_rerun(lab):
    """B15, B16: check mode writes nothing and predicts; the real run creates; the rerun is ok."""
    digest = lab.digest()
    args = {"vm_id": WEB01, "name": "pre-change"}
    r = run("checkpoint", args, lab, check_mode=True, diff=True)
    assert not r.failed, r.get("msg")
    assert r.changed and r["action"] == "create" and r["checkpoint"] is None
    assert r["achieved_type"] == "production" and r["requested_type"] == "production"
    assert r["preflight"]["checks"] == ["type", "count", "devices", "space", "guest_role", "consistency"]
    assert r["diff"]["after"]["checkpoints"][-1] == {"id": "(new)", "name": "pre-change",
                                                     "parent_id": lab.vms[WEB01].parent_snapshot_id}
    assert lab.digest() == digest
    shape = set(r) & RESULT_KEYS

    r = run("checkpoint", args, lab, diff=True)
    assert not r.failed, r.get("msg")
    assert set(r) & RESULT_KEYS == shape
    assert r.changed and r["achieved_type"] == "production" and not r["fallback"]
    new = [s for s in cps(lab, WEB01) if s.name == "pre-change"]
    assert len(new) == 1 and r["checkpoint"]["id"] == new[0].id and new[0].state == "Off"
    assert lab.vms[WEB01].parent_snapshot_id == new[0].id
    assert r["vm"]["current_checkpoint_id"] == new[0].id and r["vm"]["checkpoint_count"] == 3
    assert r["diff"]["after"]["current_checkpoint_id"] == new[0].id

    r = run("checkpoint", args, lab)
    assert not r.failed and not r.changed and r["action"] == "none"
    assert r["matches"] == [new[0].id]
    assert names(lab, WEB01).count("pre-change") == 1


def test_existing_name_is_ok_and_duplicate_only_on_request(lab):
    """A7: an existing name gives changed=false; allow_duplicate_name makes a second one."""
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": WEB01, "name": "before-patch"}, lab)
    assert not r.failed and not r.changed and r["checkpoint"]["name"] == "before-patch"
    assert lab.digest() == digest
    r = run("checkpoint", {"vm_id": WEB01, "name": "before-patch", "allow_duplicate_name": True}, lab)
    assert not r.failed and r.changed
    assert names(lab, WEB01).count("before-patch") == 2 and len(r["matches"]) == 2


def test_standard_checkpoint_of_running_vm_reports_standard(lab):
    r = run("checkpoint", {"vm_id": APP01, "name": "std"}, lab)
    assert not r.failed, r.get("msg")
    assert r["achieved_type"] == "standard" and not r["fallback"] and r["requested_type"] == "standard"
    assert [s.state for s in cps(lab, APP01) if s.name == "std"] == ["Saved"]


def test_off_vm_reports_configured_type(lab):
    r = run("checkpoint", {"vm_id": DEEP01, "name": "offline"}, lab)
    assert not r.failed and r["achieved_type"] == "standard"
    assert r["preflight"]["space"][0]["needed_bytes"] == lc.CONFIG_ESTIMATE + lc.AVHDX_ESTIMATE


def test_production_fallback_warns_and_reports_standard(lab):
    """A13: Production on a guest without VSS succeeds as standard, with a warning."""
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": LNX01, "name": "fb"}, lab, check_mode=True)
    assert r.changed and r["achieved_type"] == "standard" and r["fallback"]
    assert r["preflight"]["vss_available"] is False
    assert lab.digest() == digest
    r = run("checkpoint", {"vm_id": LNX01, "name": "fb"}, lab)
    assert not r.failed and r.changed and r["achieved_type"] == "standard" and r["fallback"]
    assert any("standard checkpoint with memory" in w for w in warnings_of(r))
    assert [s.state for s in cps(lab, LNX01)] == ["Saved"]


def test_require_production_refuses_predictable_fallback(lab):
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": LNX01, "name": "fb", "require_production": True}, lab)
    assert r.failed and not r.changed
    assert "would fall back to standard" in r["msg"]
    assert "on host engine.invalid" in r["msg"] and "VM 'lnx01'" in r["msg"] and "checkpoint 'fb'" in r["msg"]
    assert "hv_vss_daemon" in r["msg"]
    assert lab.digest() == digest and cps(lab, LNX01) == []


def test_require_production_removes_unexpected_fallback(lab):
    """A13 with require_production: the host falls back (VSS writer failure); the checkpoint is removed, task fails."""
    lab.inject_fault("vss_failure", vm=WEB01)
    before = [s.id for s in cps(lab, WEB01)]
    r = run("checkpoint", {"vm_id": WEB01, "name": "must-be-prod", "require_production": True}, lab)
    assert r.failed, r
    assert "fell back to a standard checkpoint" in r["msg"] and "was removed again" in r["msg"]
    assert "vssadmin list writers" in r["msg"]
    assert [s.id for s in cps(lab, WEB01)] == before


def test_production_only_without_vss_fails_and_leaves_nothing(lab):
    """A12: ProductionOnly on a guest without VSS fails naming the integration service."""
    lab.set_vm("HV01", LNX01, {"checkpoint_type": "ProductionOnly"})
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": LNX01, "name": "x"}, lab)
    assert r.failed and not r.changed
    assert "Backup (volume shadow copy) integration service" in r["msg"] and "production_only" in r["msg"]
    assert lab.digest() == digest and cps(lab, LNX01) == []


def test_production_only_host_failure_gets_vss_advice(lab):
    """B7: the VSS writer fails on the host; no silent fallback with ProductionOnly, VSS advice in the message."""
    lab.inject_fault("vss_failure", vm=SQL01)
    before = [s.id for s in cps(lab, SQL01)]
    r = run("checkpoint", {"vm_id": SQL01, "name": "x"}, lab)
    assert r.failed and not r.changed
    assert "vssadmin list writers" in r["msg"] and "8229" in r["msg"]
    assert "VM 'sql01'" in r["msg"] and "on host engine.invalid" in r["msg"]
    assert warnings_of(r) == []
    assert [s.id for s in cps(lab, SQL01)] == before


def test_disabled_type_fails(lab):
    """A14."""
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": LEGACY01, "name": "x"}, lab)
    assert r.failed and not r.changed
    assert "Checkpoints are disabled" in r["msg"] and "checkpoint_policy" in r["msg"]
    assert "legacy01" in r["msg"] and "'x'" in r["msg"] and "engine.invalid" in r["msg"]
    assert lab.digest() == digest


def test_limit_of_50(lab):
    """A25: the 50th checkpoint is made, the 51st refused before creation."""
    r = run("checkpoint", {"vm_id": NIGHTLY49, "name": "fiftieth"}, lab)
    assert not r.failed, r.get("msg")
    assert len(cps(lab, NIGHTLY49)) == 50
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": NIGHTLY49, "name": "fifty-first"}, lab, check_mode=True)
    assert r.failed and "already has 50 checkpoints" in r["msg"] and "at most 50" in r["msg"]
    r = run("checkpoint", {"vm_id": NIGHTLY49, "name": "fifty-first"}, lab)
    assert r.failed and not r.changed and "Remove old checkpoints" in r["msg"]
    assert lab.digest() == digest


@pytest.mark.parametrize("vm_id, words", [
    (PT01, "pass-through disk (physical disk 3"),
    (SQLCLU_A, "shared virtual hard disk D:\\Hyper-V\\Shared\\sqlclu-data.vhdx"),
])
def test_unsupported_devices_fail_in_preflight(lab, vm_id, words):
    """A20: pre-check fails with the reason; Checkpoint-VM is never sent."""
    if vm_id == SQLCLU_A:
        make_shared_vhdx(lab)
    transports = []
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": vm_id, "name": "x"}, lab, transports=transports)
    assert r.failed and not r.changed and words in r["msg"]
    assert lab.digest() == digest
    sent = [c["cmdlet"] for t in transports for p in t.pipelines_run for c in p]
    assert "Hyper-V\\Checkpoint-VM" not in sent


def test_vhd_set_is_not_refused(lab):
    """A20 boundary: a VHD Set (.vhds) can be checkpointed (hyperv-behaviour.md section 9)."""
    r = run("checkpoint", {"vm_id": SQLCLU_A, "name": "group"}, lab)
    assert not r.failed and r.changed
    assert names(lab, SQLCLU_A) == ["group"]


def test_vfc_fails_in_preflight(lab):
    """A20 (vFC): Get-VM's FibreChannelHostBusAdapters shows the adapter, so no Checkpoint-VM is sent."""
    lab.vms[WEB01].vfc = True
    transports = []
    r = run("checkpoint", {"vm_id": WEB01, "name": "x"}, lab, transports=transports)
    assert r.failed and "Fibre Channel" in r["msg"]
    sent = [c["cmdlet"] for t in transports for p in t.pipelines_run for c in p]
    assert "Hyper-V\\Checkpoint-VM" not in sent


def test_vfc_never_leaves_a_checkpoint(lab):
    """A20 (vFC): the task fails and no checkpoint is left."""
    lab.vms[WEB01].vfc = True
    before = [s.id for s in cps(lab, WEB01)]
    r = run("checkpoint", {"vm_id": WEB01, "name": "x"}, lab)
    assert r.failed and not r.changed and "Fibre Channel" in r["msg"]
    assert [s.id for s in cps(lab, WEB01)] == before


def test_not_enough_space_gives_numbers(lab):
    """B4: the preflight refuses and states free and needed bytes (memory estimate)."""
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": SMALL01, "name": "x"}, lab)
    assert r.failed and not r.changed
    assert "volume F:\\ has" in r["msg"] and "needs about 8.0" in r["msg"] and "saved memory (8.00 GiB)" in r["msg"]
    assert lab.digest() == digest


def test_disk_full_fault_is_seen_by_preflight(lab):
    lab.inject_fault("disk_full", host="HV01", volume="D:\\", free_bytes=10 * 1024 * 1024)
    r = run("checkpoint", {"vm_id": WEB01, "name": "x"}, lab)
    assert r.failed and "volume D:\\ has 0.01 GiB free" in r["msg"]


def test_domain_controller_refused_unless_allowed(lab):
    """A19."""
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": DC01, "name": "x"}, lab)
    assert r.failed and "domain controller" in r["msg"] and "allow_domain_controller" in r["msg"]
    assert lab.digest() == digest
    r = run("checkpoint", {"vm_id": DC01, "name": "x", "allow_domain_controller": True}, lab)
    assert not r.failed, r.get("msg")
    assert r.changed and r["achieved_type"] == "production" and r["preflight"]["guest_role"] == "domain_controller"


def test_domain_controller_with_standard_type_refused(lab):
    lab.set_vm("HV01", DC01, {"checkpoint_type": "Standard"})
    r = run("checkpoint", {"vm_id": DC01, "name": "x", "allow_domain_controller": True}, lab)
    assert r.failed and "Only production checkpoints are supported for domain controllers" in r["msg"]


def test_busy_backup_fails_at_once(lab):
    """B8."""
    lab.inject_fault("backup_lock", vm=WEB01)
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": WEB01, "name": "x", "wait_timeout": 600, "poll_interval": 30}, lab)
    assert r.failed and "busy: a backup holds it" in r["msg"] and "never forces" in r["msg"]
    assert lab.digest() == digest


def test_merge_running_waits_then_fails(lab):
    """B3: a merge in progress is waited for up to wait_timeout, then 'merge in progress'."""
    lab.switches["merge_hold"] = True
    lab.remove_snapshots("HV01", [cps(lab, WEB01)[1].id])
    assert "MergingDisks" in lab.operational_status(lab.vms[WEB01])
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": WEB01, "name": "x", "wait_timeout": 0}, lab)
    assert r.failed and not r.changed and "merging disks" in r["msg"] and "disk merge" in r["msg"]
    assert lab.digest() == digest


def test_merge_running_is_waited_out(lab, monkeypatch):
    """B3: when the merge ends within wait_timeout, the create goes ahead (re-reading the VM each poll)."""
    lab.switches["merge_hold"] = True
    lab.remove_snapshots("HV01", [cps(lab, WEB01)[1].id])
    polls = []

    def fake_sleep(seconds):
        polls.append(seconds)
        if len(polls) == 3:
            lab.release_merges()

    monkeypatch.setattr(lc, "sleep", fake_sleep)
    r = run("checkpoint", {"vm_id": WEB01, "name": "after-merge", "poll_interval": 1}, lab)
    assert not r.failed, r.get("msg")
    assert r.changed and polls == [1, 1, 1]
    assert "after-merge" in names(lab, WEB01)


def test_remove_check_real_rerun(lab):
    """A10, B15, B16: remove one checkpoint; children re-parent; rerun ok."""
    before_patch, after_patch = cps(lab, WEB01)
    digest = lab.digest()
    args = {"vm_id": WEB01, "name": "before-patch", "state": "absent"}
    r = run("checkpoint", args, lab, check_mode=True, diff=True)
    assert not r.failed and r.changed and r["action"] == "remove"
    assert [c["id"] for c in r["removed"]] == [before_patch.id]
    assert r["diff"]["after"]["checkpoints"] == [{"id": after_patch.id, "name": "after-patch", "parent_id": None}]
    assert lab.digest() == digest
    r = run("checkpoint", args, lab, diff=True)
    assert not r.failed and r.changed and r["merge_seconds"] is not None
    assert [s.name for s in cps(lab, WEB01)] == ["after-patch"] and cps(lab, WEB01)[0].parent_id is None
    assert "MergingDisks" not in lab.operational_status(lab.vms[WEB01])
    assert r["diff"]["after"]["checkpoints"] == [{"id": after_patch.id, "name": "after-patch", "parent_id": None}]
    r = run("checkpoint", args, lab)
    assert not r.failed and not r.changed and r["checkpoint"] is None and r["removed"] == []


def test_remove_subtree(lab):
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": DEEP01, "name": "L3", "state": "absent", "remove_children": True}, lab,
            check_mode=True)
    assert [c["name"] for c in r["removed"]] == ["L3", "L4", "L5", "L6", "L4-branch"]
    assert r["vm"]["current_checkpoint_id"] == [s.id for s in cps(lab, DEEP01) if s.name == "L2"][0]
    assert lab.digest() == digest
    r = run("checkpoint", {"vm_id": DEEP01, "name": "L3", "state": "absent", "remove_children": True}, lab)
    assert not r.failed and r.changed
    assert names(lab, DEEP01) == ["L1", "L2"]
    assert lab.snapshots[lab.vms[DEEP01].parent_snapshot_id].name == "L2"


def test_remove_waits_for_merge_and_reports_time(lab, monkeypatch):
    """wait_for_merge: polls until MergingDisks is gone; merge_timeout fails with changed=true."""
    lab.switches["merge_hold"] = True
    polls = []

    def fake_sleep(seconds):
        polls.append(seconds)
        if len(polls) == 2:
            lab.release_merges()

    monkeypatch.setattr(lc, "sleep", fake_sleep)
    r = run("checkpoint", {"vm_id": WEB01, "name": "after-patch", "state": "absent", "poll_interval": 5}, lab)
    assert not r.failed, r.get("msg")
    assert r.changed and polls == [5, 5] and r["merge_seconds"] >= 0
    assert "MergingDisks" not in lab.operational_status(lab.vms[WEB01])


def test_remove_merge_timeout_fails_changed(lab):
    lab.switches["merge_hold"] = True
    r = run("checkpoint", {"vm_id": WEB01, "name": "after-patch", "state": "absent", "merge_timeout": 0}, lab)
    assert r.failed and r.changed
    assert "still running after 0s" in r["msg"] and "merge_timeout" in r["msg"]
    assert names(lab, WEB01) == ["before-patch"]


def test_remove_without_waiting(lab):
    lab.switches["merge_hold"] = True
    r = run("checkpoint", {"vm_id": WEB01, "name": "after-patch", "state": "absent", "wait_for_merge": False}, lab)
    assert not r.failed and r.changed and r["merge_seconds"] is None
    assert "MergingDisks" in r["vm"]["operational_status"]


def test_ambiguous_names_fail_and_list_ids(lab):
    """A6: duplicates are never acted on; the Ids are listed; checkpoint_id works."""
    dups = [s for s in cps(lab, APP01) if s.name == "nightly"]
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": APP01, "name": "nightly", "state": "absent"}, lab)
    assert r.failed and not r.changed
    assert "2 checkpoints named 'nightly'" in r["msg"] and all(d.id in r["msg"] for d in dups)
    assert "checkpoint_id" in r["msg"]
    assert lab.digest() == digest
    r = run("checkpoint", {"vm_id": APP01, "checkpoint_id": dups[1].id, "state": "absent"}, lab)
    assert not r.failed and r.changed
    assert [s.id for s in cps(lab, APP01) if s.name == "nightly"] == [dups[0].id]


def test_present_with_duplicates_warns_not_creates(lab):
    r = run("checkpoint", {"vm_id": APP01, "name": "nightly"}, lab)
    assert not r.failed and not r.changed and len(r["matches"]) == 2
    assert any("2 checkpoints" in w for w in warnings_of(r))


def test_refuses_recovery_and_replica(lab):
    """A18: never remove a non-Standard type, neither directly nor as part of a subtree."""
    digest = lab.digest()
    for args in ({"name": "Recovery checkpoint"}, {"name": "Replica checkpoint - 11/19/2026"},
                 {"name": "Recovery checkpoint", "remove_children": True}):
        r = run("checkpoint", dict(args, vm_id=REPLICA, state="absent"), lab)
        assert r.failed and not r.changed and "Refusing to remove" in r["msg"], r
        assert "Recovery" in r["msg"] or "Replica" in r["msg"]
    assert lab.digest() == digest


def test_subtree_with_foreign_checkpoint_refused(lab):
    parent = cps(lab, WEB01)[1]
    lab.seed_snapshot(lab.vms[WEB01], "dpm", snapshot_type="Recovery", parent=parent.id)
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": WEB01, "name": "before-patch", "state": "absent", "remove_children": True}, lab)
    assert r.failed and "'dpm'" in r["msg"] and "Recovery" in r["msg"]
    assert lab.digest() == digest


def test_rename_check_real_rerun(lab):
    old = cps(lab, WEB01)[0]
    digest = lab.digest()
    args = {"vm_id": WEB01, "name": "before-patch", "new_name": "before-patch-2026"}
    r = run("checkpoint", args, lab, check_mode=True, diff=True)
    assert not r.failed and r.changed and r["action"] == "rename" and r["checkpoint"]["name"] == "before-patch-2026"
    assert r["diff"]["after"]["checkpoints"][0]["name"] == "before-patch-2026"
    assert lab.digest() == digest
    r = run("checkpoint", args, lab)
    assert not r.failed and r.changed and lab.snapshots[old.id].name == "before-patch-2026"
    r = run("checkpoint", args, lab)
    assert not r.failed and not r.changed and r["checkpoint"]["id"] == old.id


def test_rename_by_id_and_clash(lab):
    dups = [s for s in cps(lab, APP01) if s.name == "nightly"]
    r = run("checkpoint", {"vm_id": APP01, "name": "nightly", "new_name": "n2"}, lab)
    assert r.failed and "2 checkpoints named 'nightly'" in r["msg"]
    r = run("checkpoint", {"vm_id": APP01, "checkpoint_id": dups[1].id, "new_name": "release-1.4"}, lab)
    assert r.failed and "already named 'release-1.4'" in r["msg"]
    r = run("checkpoint", {"vm_id": APP01, "checkpoint_id": dups[1].id, "new_name": "nightly-2"}, lab)
    assert not r.failed and r.changed and lab.snapshots[dups[1].id].name == "nightly-2"
    r = run("checkpoint", {"vm_id": APP01, "checkpoint_id": dups[1].id, "new_name": "nightly-2"}, lab)
    assert not r.failed and not r.changed


def test_rename_missing_fails(lab):
    r = run("checkpoint", {"vm_id": WEB01, "name": "nope", "new_name": "other"}, lab)
    assert r.failed and "no checkpoint named 'nope' to rename" in r["msg"]


@pytest.mark.parametrize("name", ["a'; Remove-VM -Force *; '", "$(Stop-Computer)", "`whoami`", "\"; & calc",
                                  "*", "web*", "db[01]", "a?b"])
def test_hostile_and_wildcard_names_are_literal(lab, name):
    """A1-A4: created and found literally; rerun ok; removal removes exactly that one; nothing evaluated."""
    transports = []
    before = [s.id for s in cps(lab, WEB01)]
    r = run("checkpoint", {"vm_id": WEB01, "name": name}, lab, transports=transports)
    assert not r.failed and r.changed, r.get("msg")
    assert names(lab, WEB01)[-1] == name
    r = run("checkpoint", {"vm_id": WEB01, "name": name}, lab, transports=transports)
    assert not r.failed and not r.changed
    r = run("checkpoint", {"vm_id": WEB01, "name": name, "state": "absent"}, lab, transports=transports)
    assert not r.failed and r.changed
    assert [s.id for s in cps(lab, WEB01)] == before
    assert_safe_pipelines(transports, [name])


@pytest.mark.parametrize("vm_name", ["a'; Remove-VM -Force *; '", "$(Stop-Computer)", "*", "web*", "db[01]"])
def test_hostile_vm_names_match_nothing(lab, vm_name):
    """A1-A3: no VM literally named so: a clear failure, the host unchanged, no fan-out."""
    digest = lab.digest()
    transports = []
    r = run("checkpoint", {"vm_name": vm_name, "name": "x"}, lab, transports=transports)
    assert r.failed and not r.changed and "No VM named" in r["msg"]
    assert lab.digest() == digest
    assert_safe_pipelines(transports, [vm_name])


def test_absent_wildcard_name_removes_nothing(lab):
    """A3: name '*' with state=absent is a literal that matches nothing."""
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": WEB01, "name": "*", "state": "absent"}, lab)
    assert not r.failed and not r.changed
    assert lab.digest() == digest


def test_duplicate_vm_names_fail(lab):
    """A5: two VMs share the name on the host; fail as ambiguous, nothing changed; case variants never match."""
    lab.set_vm("HV01", APP01, {"name": "web01"})
    digest = lab.digest()
    r = run("checkpoint", {"vm_name": "web01", "name": "x"}, lab)
    assert r.failed and not r.changed and "2 VMs named 'web01'" in r["msg"] and "vm_id" in r["msg"]
    r = run("checkpoint", {"vm_name": "WEB01", "name": "x"}, lab)
    assert r.failed and "No VM named 'WEB01'" in r["msg"] and "similar" in r["msg"]
    assert lab.digest() == digest


@pytest.mark.parametrize("name", ["Ünïcødé ✓ 🚀", "שלום עולם", "trailing space "])
def test_unicode_and_trailing_space_round_trip(lab, name):
    """A9: exact round trip; a trailing space never matches the trimmed name."""
    r = run("checkpoint", {"vm_id": WEB01, "name": name}, lab)
    assert not r.failed and r.changed and r["checkpoint"]["name"] == name
    assert names(lab, WEB01)[-1] == name
    r = run("checkpoint", {"vm_id": WEB01, "name": name.strip() + "x", "state": "absent"}, lab)
    assert not r.changed
    if name != name.strip():
        r = run("checkpoint", {"vm_id": WEB01, "name": name.strip(), "state": "absent"}, lab)
        assert not r.failed and not r.changed
        assert name in names(lab, WEB01)


@pytest.mark.parametrize("args, words", [
    ({"name": ""}, "name must not be empty"),
    ({"name": "   "}, "name must not be empty"),
    ({"name": "x" * 101}, "at most 100"),
    ({"name": "a\nb"}, "control characters"),
    ({"name": "a\tb"}, "control characters"),
    ({"name": "ok", "new_name": "   "}, "new_name must not be empty"),
    ({"vm_id": "not-a-guid", "name": "x"}, "vm_id must be a GUID"),
    ({"name": "x", "state": "absent", "new_name": "y"}, "new_name is only valid"),
    ({"state": "absent"}, "needs name or checkpoint_id"),
    ({"checkpoint_id": "0b7e2f7c-3d1a-4a51-9d6e-2f4c8a9b1c0d"}, "only for renaming"),
    ({"name": "x", "merge_timeout": -1}, "merge_timeout must be 0 or more"),
])
def test_argument_errors_before_connecting(lab, args, words):
    """A8, A22: refused before any connection."""
    transports = []
    full = dict({"vm_id": WEB01}, **args)
    r = run("checkpoint", full, lab, transports=transports)
    assert r.failed and words in r["msg"], r.get("msg")
    assert transports == [] or all(not t.pipelines_run for t in transports)


def test_concurrent_create_no_duplicate(lab):
    """B5: a second run starts while the first Checkpoint-VM is in flight; it fails cleanly, no duplicate."""
    second = []

    def hook(op):
        if op.name == "Checkpoint-VM" and not second:
            second.append(run("checkpoint", {"vm_id": WEB01, "name": "race", "wait_timeout": 0}, lab))

    lab.in_flight_hooks.append(hook)
    try:
        r = run("checkpoint", {"vm_id": WEB01, "name": "race"}, lab)
    finally:
        lab.in_flight_hooks.remove(hook)
    assert not r.failed and r.changed, r.get("msg")
    assert len(second) == 1 and second[0].failed and not second[0].changed
    assert "still busy (creating a checkpoint)" in second[0]["msg"]
    assert names(lab, WEB01).count("race") == 1
    r = run("checkpoint", {"vm_id": WEB01, "name": "race"}, lab)
    assert not r.failed and not r.changed


def test_remove_on_full_volume_refused_before_merge(lab):
    """B4 for a merge: the preflight refuses with the numbers; Remove-VMSnapshot is never sent."""
    lab.inject_fault("disk_full", host="HV01", volume="D:\\", free_bytes=1024)
    transports = []
    digest = lab.digest()
    r = run("checkpoint", {"vm_id": WEB01, "name": "before-patch", "state": "absent"}, lab, transports=transports)
    assert r.failed and not r.changed
    assert "disk merge" in r["msg"] and "volume D:\\ has 0.00 GiB free" in r["msg"] and "Nothing was removed" in r["msg"]
    assert lab.digest() == digest
    removes = [c for t in transports for p in t.pipelines_run for c in p if c["cmdlet"] == "Hyper-V\\Remove-VMSnapshot"]
    assert removes == []


def test_remove_merge_estimate_is_the_child_file(lab):
    """The merge estimate is the differencing file on top of the removed checkpoint's disk (after-patch's file)."""
    after_patch = cps(lab, WEB01)[1]
    host = lab.hosts["HV01"]
    child_file = list(after_patch.disk_files.values())[0]
    size = lab.find_file(host, child_file).size
    r = run("checkpoint", {"vm_id": WEB01, "name": "before-patch", "state": "absent"}, lab, check_mode=True)
    assert not r.failed and r["preflight"]["space"][0]["needed_bytes"] == size
    assert r["preflight"]["space"][0]["volume"] == "D:\\" and r["preflight"]["space"][0]["ok"]


def test_remove_on_full_volume_host_refusal_is_reported(lab, monkeypatch):
    """B4: if the host still runs out of space during the merge, the task fails with its numbers, no retry."""
    monkeypatch.setattr(lc, "preflight_remove", lambda *a: [])
    lab.inject_fault("disk_full", host="HV01", volume="D:\\", free_bytes=1024)
    transports = []
    r = run("checkpoint", {"vm_id": WEB01, "name": "before-patch", "state": "absent"}, lab, transports=transports)
    assert r.failed and not r.changed
    assert "0x80070070" in r["msg"] and "1024 bytes free" in r["msg"]
    assert names(lab, WEB01) == ["before-patch", "after-patch"]
    removes = [c for t in transports for p in t.pipelines_run for c in p if c["cmdlet"] == "Hyper-V\\Remove-VMSnapshot"]
    assert len(removes) == 1
