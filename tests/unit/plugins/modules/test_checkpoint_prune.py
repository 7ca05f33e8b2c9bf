"""checkpoint_prune against the hvsim model through the in-process engine transport."""

from __future__ import annotations

import time

import pytest

from hvsim.lab import load_lab
from hvsim.model.objects import MiB
from support.modules import run_module

LNX01 = "6f0c2d9e-0005-4c00-8a00-000000000005"  # HV01, Running, no checkpoints
WEB01 = "6f0c2d9e-0002-4c00-8a00-000000000002"  # HV01, before-patch -> after-patch (Now)
NIGHTLY49 = "6f0c2d9e-000f-4c00-8a00-00000000000f"  # HV03, 49 nightly checkpoints
REPLICA = "6f0c2d9e-000e-4c00-8a00-00000000000e"  # HV03, Recovery + Replica checkpoints
FAST = {"poll_interval": 0}
DAY = 86400


def seed(lab, vm_id, names_days):
    """Add checkpoints (a chain, in order) aged ``days`` days; returns {name: id}."""
    vm = lab.vms[vm_id]
    out = {}
    for name, days in names_days:
        snap = lab.seed_snapshot(vm, name, kind="standard", creation_time=time.time() - days * DAY,
                                 disk_bytes=32 * MiB)
        out[name] = snap.id
    return out


@pytest.fixture
def lab():
    lab = load_lab("demo")
    seed(lab, LNX01, [("ansible-n1", 10), ("manual-before-upgrade", 9), ("ansible-n2", 8), ("ansible-n3", 5),
                      ("ansible-n4", 2), ("ansible-n5", 1)])
    return lab


def prune(lab, host="HV01", check_mode=False, diff=False, **args):
    return run_module("checkpoint_prune", dict(FAST, **args), lab=lab, host=host, check_mode=check_mode, diff=diff)


def names(lab, vm_id):
    return [s.name for s in lab.snapshots_of(vm_id)]


def test_check_mode_lists_exactly_what_the_real_run_removes(lab):
    digest = lab.digest()
    r = prune(lab, check_mode=True, diff=True, vm_id=LNX01, keep_newest=2)
    assert not r.failed, r.get("msg")
    planned = [x["name"] for x in r["removed"]]
    assert planned == ["ansible-n1", "ansible-n2", "ansible-n3"]  # oldest first, owned only
    assert r.changed and r["reclaimed_bytes"] is not None
    assert lab.digest() == digest, "check mode wrote to the host"
    key = "lnx01 (%s)" % LNX01
    assert len(r["diff"]["before"][key]) == 6 and len(r["diff"]["after"][key]) == 3
    skipped = r["vms"][0]["skipped"]
    assert [s["name"] for s in skipped] == ["manual-before-upgrade"]

    r = prune(lab, vm_id=LNX01, keep_newest=2)
    assert not r.failed, r.get("msg")
    assert [x["name"] for x in r["removed"]] == planned
    assert all(x["merge_seconds"] is not None for x in r["removed"])
    assert names(lab, LNX01) == ["manual-before-upgrade", "ansible-n4", "ansible-n5"]
    assert not any(j.vm_id == LNX01 for j in lab.merges), "merge still pending after wait_for_merge"

    digest = lab.digest()
    r = prune(lab, vm_id=LNX01, keep_newest=2)
    assert not r.failed and not r.changed and r["removed"] == []
    assert lab.digest() == digest


def test_older_than(lab):
    r = prune(lab, vm_name="lnx01", older_than="6d")
    assert not r.failed, r.get("msg")
    assert [x["name"] for x in r["removed"]] == ["ansible-n1", "ansible-n2"]
    assert "manual-before-upgrade" in names(lab, LNX01)


def test_current_checkpoint_is_kept_unless_include_current(lab):
    # Now hangs under ansible-n5 (the last seeded one)
    r = prune(lab, vm_id=LNX01, keep_newest=0, check_mode=True)
    assert [x["name"] for x in r["removed"]] == ["ansible-n1", "ansible-n2", "ansible-n3", "ansible-n4"]
    kept = {k["name"]: k["reason"] for k in r["vms"][0]["kept"]}
    assert "currently runs from it" in kept["ansible-n5"]
    r = prune(lab, vm_id=LNX01, keep_newest=0, include_current=True)
    assert [x["name"] for x in r["removed"]][-1] == "ansible-n5"
    assert names(lab, LNX01) == ["manual-before-upgrade"]
    assert lab.vms[LNX01].parent_snapshot_id == lab.snapshots_of(LNX01)[0].id


def test_never_touches_non_standard_types(lab):
    """test-matrix A18: Recovery and Replica checkpoints are skipped even with an all-matching pattern."""
    digest = lab.digest()
    r = prune(lab, "HV03", vm_id=REPLICA, owned_only=False, name_pattern="*", keep_newest=0, include_current=True)
    assert not r.failed and not r.changed and r["removed"] == []
    assert sorted(s["reason"] for s in r["vms"][0]["skipped"]) == [
        "type Recovery is never pruned", "type Replica is never pruned"]
    assert lab.digest() == digest


def test_not_owned_needs_a_pattern_and_regex_scope(lab):
    r = prune(lab, "HV03", vm_id=NIGHTLY49, owned_only=False, keep_newest=40)
    assert r.failed and "needs name_pattern" in r["msg"]
    r = prune(lab, "HV03", vm_id=NIGHTLY49, owned_only=False, name_pattern=r"^nightly-0[1-3]$",
              pattern_type="regex", keep_newest=0)
    assert not r.failed, r.get("msg")
    assert [x["name"] for x in r["removed"]] == ["nightly-01", "nightly-02", "nightly-03"]
    assert len(lab.snapshots_of(NIGHTLY49)) == 46


def test_owned_prefix_is_configurable(lab):
    seed(lab, LNX01, [("ops-1", 30), ("ops-2", 29)])
    r = prune(lab, vm_id=LNX01, owned_prefix="ops-", keep_newest=1, check_mode=True)
    assert [x["name"] for x in r["removed"]] == ["ops-1"]


def test_merge_timeout_fails_clearly_and_state_stays_consistent(lab):
    lab.switches["merge_hold"] = True
    r = prune(lab, vm_id=LNX01, keep_newest=2, merge_timeout=1, poll_interval=0.2)
    assert r.failed
    assert "Timed out" in r["msg"] and "merge" in r["msg"] and "ansible-n1" in r["msg"]
    assert r.changed and [x["name"] for x in r["removed"]] == ["ansible-n1"]
    # exactly one removal was sent: no merge storm
    assert "ansible-n1" not in names(lab, LNX01) and "ansible-n2" in names(lab, LNX01)
    assert sum(1 for j in lab.merges if j.vm_id == LNX01) == 1
    # a rerun while the merge still runs waits for it and fails again without removing anything
    r = prune(lab, vm_id=LNX01, keep_newest=2, merge_timeout=1, poll_interval=0.2)
    assert r.failed and not r.changed and r["removed"] == []
    assert "ansible-n2" in names(lab, LNX01)
    lab.release_merges()
    r = prune(lab, vm_id=LNX01, keep_newest=2)
    assert not r.failed and [x["name"] for x in r["removed"]] == ["ansible-n2", "ansible-n3"]


def test_disk_full_preflight_refuses_before_any_change(lab):
    """test-matrix B4: the merge needs space; fail with the numbers, remove nothing."""
    lab.inject_fault("disk_full", host="HV01", free_bytes=1024)
    digest = lab.digest()
    r = prune(lab, vm_id=LNX01, keep_newest=2)
    assert r.failed and not r.changed
    assert "not enough free space" in r["msg"] and "bytes free" in r["msg"]
    assert lab.digest() == digest


def test_busy_vm_is_refused(lab):
    lab.inject_fault("backup_lock", vm=LNX01)
    digest = lab.digest()
    r = prune(lab, vm_id=LNX01, keep_newest=2)
    assert r.failed and "busy" in r["msg"] and "backup" in r["msg"]
    assert lab.digest() == digest


def test_several_vms(lab):
    seed(lab, WEB01, [("ansible-w1", 4), ("ansible-w2", 3)])
    r = prune(lab, vm_names=["lnx01", "web01"], keep_newest=1)
    assert not r.failed, r.get("msg")
    assert [(x["vm_name"], x["name"]) for x in r["removed"]] == [
        ("lnx01", "ansible-n1"), ("lnx01", "ansible-n2"), ("lnx01", "ansible-n3"), ("lnx01", "ansible-n4"),
        ("web01", "ansible-w1")]
    assert "before-patch" in names(lab, WEB01) and "after-patch" in names(lab, WEB01)


@pytest.mark.parametrize(
    "args, text",
    [
        ({"vm_id": LNX01}, "one of the following is required"),
        ({"vm_id": LNX01, "older_than": "7 days"}, "not a duration"),
        ({"vm_id": LNX01, "keep_newest": -1}, "keep_newest must be 0 or more"),
        ({"vm_id": LNX01, "keep_newest": 1, "name_pattern": "(", "pattern_type": "regex"}, "regular expression"),
        ({"vm_id": "nope", "keep_newest": 1}, "vm_id must be a GUID"),
        ({"keep_newest": 1}, "one of the following is required"),
    ],
)
def test_argument_errors(lab, args, text):
    digest = lab.digest()
    r = prune(lab, **args)
    assert r.failed and text in r["msg"]
    assert lab.digest() == digest
