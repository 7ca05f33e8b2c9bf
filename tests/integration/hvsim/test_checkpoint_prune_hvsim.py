"""checkpoint_prune through both real transports (PSRP and WinRS) against a live hvsim server."""

from __future__ import annotations

import time

import pytest

from hvsim.model.objects import MiB
from support.modules import run_module

LNX01 = "6f0c2d9e-0005-4c00-8a00-000000000005"  # HV01, Running, no checkpoints
DAY = 86400


def conn(sim, transport, host="HV01"):
    return {
        "hyperv_host": sim.host,
        "hyperv_port": sim.port(host, "https"),
        "hyperv_scheme": "https",
        "hyperv_ca_path": sim.ca_path,
        "hyperv_username": sim.username,
        "hyperv_password": sim.password,
        "hyperv_auth": "ntlm",
        "hyperv_transport": transport,
    }


def seed(lab, vm_id, names_days):
    with lab.locked():
        vm = lab.vms[vm_id]
        for name, days in names_days:
            lab.seed_snapshot(vm, name, kind="standard", creation_time=time.time() - days * DAY, disk_bytes=16 * MiB)


@pytest.fixture
def sim(hvsim):
    seed(hvsim.lab, LNX01, [("ansible-n1", 10), ("manual", 9), ("ansible-n2", 8), ("ansible-n3", 5),
                            ("ansible-n4", 1)])
    return hvsim


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_prune_check_apply_verify_rerun(sim, transport):
    args = dict(conn(sim, transport), vm_id=LNX01, keep_newest=1, older_than="2d", poll_interval=0)
    digest = sim.digest()
    r = run_module("checkpoint_prune", args, check_mode=True, diff=True)
    assert not r.failed, r.get("msg")
    assert [x["name"] for x in r["removed"]] == ["ansible-n1", "ansible-n2", "ansible-n3"]
    assert sim.digest() == digest

    r = run_module("checkpoint_prune", args)
    assert not r.failed, r.get("msg")
    assert [x["name"] for x in r["removed"]] == ["ansible-n1", "ansible-n2", "ansible-n3"]

    info = run_module("checkpoint_info", dict(conn(sim, transport), vm_id=LNX01, include_files=False))
    assert not info.failed, info.get("msg")
    assert [c["name"] for c in info["checkpoints"]] == ["manual", "ansible-n4"]
    assert info["vms"][0]["merge_pending"] is False

    r = run_module("checkpoint_prune", args)
    assert not r.failed and not r.changed and r["removed"] == []


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_prune_connection_drop_after_remove_converges(sim, transport):
    """Acceptance / test-matrix B2: the connection drops after a remove was sent.

    The module reconnects, finds the checkpoint gone by Id and goes on; nothing is sent twice,
    and a rerun converges with no action.
    """
    args = dict(conn(sim, transport), vm_id=LNX01, keep_newest=1, poll_interval=0)
    first_id = next(s.id for s in sim.lab.snapshots_of(LNX01) if s.name == "ansible-n1")
    sim.inject_fault("drop_after_mutation", count=1)
    before = sim.stats()["mutating_pipelines"]
    r = run_module("checkpoint_prune", args)
    assert not r.failed, r.get("msg")
    assert [x["name"] for x in r["removed"]] == ["ansible-n1", "ansible-n2", "ansible-n3"]
    assert r["removed"][0]["id"] == first_id and "connection dropped" in r["removed"][0]["note"]
    assert r["removed"][1]["note"] is None
    assert sim.stats()["mutating_pipelines"] - before == 3  # one Remove-VMSnapshot each, none repeated
    assert [s.name for s in sim.lab.snapshots_of(LNX01)] == ["manual", "ansible-n4"]

    before = sim.stats()["mutating_pipelines"]
    r = run_module("checkpoint_prune", args)
    assert not r.failed and not r.changed and r["removed"] == []
    assert sim.stats()["mutating_pipelines"] == before
    assert sim.open_shells() == 0  # test-matrix B9: every shell / runspace pool closed


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_prune_merge_timeout_is_clear_and_consistent(sim, transport):
    """Acceptance: a merge exceeds its timeout -> clear error, one removal only, consistent tree."""
    sim.lab.switches["merge_hold"] = True
    args = dict(conn(sim, transport), vm_id=LNX01, keep_newest=1, merge_timeout=1, poll_interval=0.2)
    r = run_module("checkpoint_prune", args)
    assert r.failed and r.changed
    assert "Timed out" in r["msg"] and "merge" in r["msg"] and "ansible-n1" in r["msg"]
    assert [x["name"] for x in r["removed"]] == ["ansible-n1"]
    info = run_module("checkpoint_info", dict(conn(sim, transport), vm_id=LNX01, include_files=False))
    assert [c["name"] for c in info["checkpoints"]] == ["manual", "ansible-n2", "ansible-n3", "ansible-n4"]
    assert info["vms"][0]["merge_pending"] is True
    sim.lab.release_merges()
    r = run_module("checkpoint_prune", dict(args, merge_timeout=30))
    assert not r.failed and [x["name"] for x in r["removed"]] == ["ansible-n2", "ansible-n3"]


WEB01 = "6f0c2d9e-0002-4c00-8a00-000000000002"  # HV01, before-patch -> after-patch (not ours)
SQLCLU_A = "6f0c2d9e-0004-4c00-8a00-000000000004"  # HV01, no checkpoints


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_prune_of_several_vms_runs_side_by_side_within_parallel(sim, transport):
    """Issue 7: the VMs of a host are pruned side by side, never more than ``parallel`` merges at once.

    With the merges held, a prune of three VMs at parallel 2 removes exactly one checkpoint on each of
    two VMs before its merge timeout (one after the other would have removed one; no cap, three). Once
    the merges are released a rerun finishes the plan, and a third run changes nothing.
    """
    seed(sim.lab, WEB01, [("ansible-w1", 4), ("ansible-w2", 3)])
    seed(sim.lab, SQLCLU_A, [("ansible-s1", 4), ("ansible-s2", 3)])
    sim.lab.switches["merge_hold"] = True
    args = dict(conn(sim, transport), vm_ids=[LNX01, WEB01, SQLCLU_A], keep_newest=1, parallel=2, merge_timeout=1,
                poll_interval=0.2)
    r = run_module("checkpoint_prune", args)
    assert r.failed and r.changed
    assert "Timed out" in r["msg"] and "merge" in r["msg"]
    assert [(x["vm_name"], x["name"]) for x in r["removed"]] == [("lnx01", "ansible-n1"), ("web01", "ansible-w1")]
    assert "ansible-s1" in [s.name for s in sim.lab.snapshots_of(SQLCLU_A)]
    # fail fast: the planned removals not made are listed per VM, and named in a warning
    assert {v["vm_name"]: [c["name"] for c in v["not_removed"]] for v in r["vms"]} == {
        "lnx01": ["ansible-n2", "ansible-n3"], "web01": [], "sqlclu-a": ["ansible-s1"]}
    assert "sqlclu-a" in str(r.get("warnings")) and "Not removed" in str(r.get("warnings")), r.get("warnings")

    sim.lab.release_merges()
    sim.lab.switches["merge_hold"] = False
    r = run_module("checkpoint_prune", dict(args, merge_timeout=60))
    assert not r.failed, r.get("msg")
    assert [(x["vm_name"], x["name"]) for x in r["removed"]] == [
        ("lnx01", "ansible-n2"), ("lnx01", "ansible-n3"), ("sqlclu-a", "ansible-s1")]
    assert all(v["not_removed"] == [] for v in r["vms"])
    assert [s.name for s in sim.lab.snapshots_of(LNX01)] == ["manual", "ansible-n4"]
    assert [s.name for s in sim.lab.snapshots_of(WEB01)] == ["before-patch", "after-patch", "ansible-w2"]
    assert [s.name for s in sim.lab.snapshots_of(SQLCLU_A)] == ["ansible-s2"]

    r = run_module("checkpoint_prune", dict(args, merge_timeout=60))
    assert not r.failed and not r.changed and r["removed"] == []
    assert sim.open_shells() == 0
