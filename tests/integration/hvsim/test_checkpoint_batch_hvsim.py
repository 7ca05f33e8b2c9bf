"""checkpoint batch mode (vm_ids, issue 7) through both real transports against a live hvsim server.

A generated one-host fleet lab. Each scenario: check mode (digest unchanged), the real run verified
independently with checkpoint_info, a rerun with changed=false. The fault tests drop a reply after a
write, or hit the WinRM quota mid-batch; the rerun converges and no VM is checkpointed twice.
"""

from __future__ import annotations

from unittest import mock

import pytest

from support.modules import run_module as _run_module

TRANSPORTS = ["psrp", "winrm"]
HOST = "HVF001"


def run_module(*args, **kwargs):
    from ansible.module_utils import _internal
    from ansible.module_utils.common import warnings as ansible_warnings

    getattr(ansible_warnings, "_global_warnings", {}).clear()
    with mock.patch.object(_internal, "is_controller", False):
        return _run_module(*args, **kwargs)


def conn(sim, transport):
    return {
        "hyperv_host": sim.host,
        "hyperv_port": sim.port(HOST, "https"),
        "hyperv_scheme": "https",
        "hyperv_ca_path": sim.ca_path,
        "hyperv_username": sim.username,
        "hyperv_password": sim.password,
        "hyperv_auth": "ntlm",
        "hyperv_transport": transport,
        "hyperv_read_timeout": 60,
        "hyperv_operation_timeout": 20,
    }


@pytest.fixture
def fleet(hvsim_factory):
    """20 generated VMs on one host; the 10 that every checkpoint type can serve are the batch."""
    sim = hvsim_factory(lab="fleet", lab_params={"hosts": 1, "vms_per_host": 20})
    ids = sorted(v.id for v in sim.lab.vms.values() if v.checkpoint_type != "ProductionOnly")[:10]
    assert len(ids) == 10
    return sim, ids


def named_counts(sim, transport, ids, name):
    """{vm_id: number of checkpoints named ``name``}, read with checkpoint_info (independent of checkpoint)."""
    r = run_module("checkpoint_info", dict(conn(sim, transport), vm_ids=ids, include_files=False))
    assert not r.failed, r.get("msg")
    out = {}
    for vm in r["vms"]:
        out[vm["vm_id"]] = sum(1 for c in vm["checkpoints"] if c["name"] == name)
    assert sorted(out) == sorted(ids)
    return out, r


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_batch_create_then_remove(fleet, transport):
    sim, ids = fleet
    base = dict(conn(sim, transport), vm_ids=ids, name="fleet-batch", poll_interval=0, parallel=4)

    digest = sim.digest()
    r = run_module("checkpoint", base, check_mode=True, diff=True)
    assert not r.failed, r.get("msg")
    assert r.changed and [e["vm_id"] for e in r["results"]] == ids
    assert all(e["action"] == "create" and e["changed"] for e in r["results"])
    assert len(r["diff"]) == 10
    assert sim.digest() == digest
    shells = sim.open_shells()

    r = run_module("checkpoint", base)
    assert not r.failed, r.get("msg")
    assert r["summary"] == {"total": 10, "changed": 10, "failed": 0, "skipped": 0, "unchanged": 0}
    counts, info = named_counts(sim, transport, ids, "fleet-batch")
    assert set(counts.values()) == {1}
    made = dict((vm["vm_id"], [c for c in vm["checkpoints"] if c["name"] == "fleet-batch"][0]) for vm in info["vms"])
    for e in r["results"]:
        assert e["checkpoint"]["id"] == made[e["vm_id"]]["id"]
        assert e["achieved_type"] == made[e["vm_id"]]["captured_type"] or sim.lab.vms[e["vm_id"]].state != "Running"
    assert sim.open_shells() == shells  # the session was closed

    digest = sim.digest()
    r = run_module("checkpoint", base)
    assert not r.failed and not r.changed and r["summary"]["unchanged"] == 10
    assert sim.digest() == digest

    absent = dict(base, state="absent")
    r = run_module("checkpoint", absent, check_mode=True)
    assert not r.failed and r.changed and all(e["action"] == "remove" for e in r["results"])
    assert sim.digest() == digest
    r = run_module("checkpoint", absent)
    assert not r.failed, r.get("msg")
    assert r["summary"]["changed"] == 10 and all(e["merge_seconds"] is not None for e in r["results"])
    counts, info = named_counts(sim, transport, ids, "fleet-batch")
    assert set(counts.values()) == {0}
    assert not any(vm["merge_pending"] for vm in info["vms"])
    r = run_module("checkpoint", absent)
    assert not r.failed and not r.changed


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dropped_reply_mid_batch_converges(fleet, transport):
    """The reply to the 3rd write is lost: the module re-reads, adopts, never repeats a create."""
    sim, ids = fleet
    base = dict(conn(sim, transport), vm_ids=ids, name="drop-batch", poll_interval=0, parallel=4)
    sim.inject_fault("drop_after_mutation", count=1, after=2)
    r = run_module("checkpoint", base)
    assert sim.faults.to_dict()["faults"][0]["fired"] == 1
    counts, _info = named_counts(sim, transport, ids, "drop-batch")
    assert max(counts.values()) == 1, counts  # no VM checkpointed twice
    assert not r.failed, r.get("msg")
    r = run_module("checkpoint", base)
    assert not r.failed and not r.changed
    counts, _info = named_counts(sim, transport, ids, "drop-batch")
    assert set(counts.values()) == {1}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_quota_fault_mid_batch_converges_on_rerun(fleet, transport):
    """MaxConcurrentOperationsPerUser is hit during the writes; the rerun converges; nothing doubled."""
    sim, ids = fleet
    base = dict(conn(sim, transport), vm_ids=ids, name="quota-batch", poll_interval=0, parallel=2)
    # PSRP: one WS-Man command per pipeline (one read round of 6, then the writes); WinRS: one per round.
    sim.inject_fault("max_concurrent_operations", value=9 if transport == "psrp" else 3)
    sim.reset_stats()
    r = run_module("checkpoint", base)
    assert sim.stats()["faults_fired"].get("max_concurrent_operations", 0) >= 1
    sim.faults.set("max_concurrent_operations", 1500)
    counts, _info = named_counts(sim, transport, ids, "quota-batch")
    assert max(counts.values()) <= 1, counts  # no VM checkpointed twice
    assert sum(counts.values()) >= 1, "the fault should hit mid-batch, after some writes"
    done = [e for e in r["results"] if e["changed"]]
    assert all(counts[e["vm_id"]] == 1 for e in done)
    for e in r["results"]:
        if e["failed"]:
            assert "quota" in e["msg"].lower() or "re-read" in e["msg"]
    assert any("WinRM quota" in w for e in r["results"] for w in e["warnings"])
    r = run_module("checkpoint", base)
    assert not r.failed, r.get("msg")
    counts, _info = named_counts(sim, transport, ids, "quota-batch")
    assert set(counts.values()) == {1}, counts
    r = run_module("checkpoint", base)
    assert not r.failed and not r.changed
