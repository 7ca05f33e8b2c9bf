"""checkpoint_apply against the hvsim model (in-process engine transport)."""

from __future__ import annotations

import pytest

from hvsim.lab import load_lab

from test_checkpoint_common import (
    APP01, DC01, DEEP01, REPLICA, SQL01, WEB01, assert_safe_pipelines, cps, names, run,
)

KEYS = {"changed", "vm", "previous_state", "applied_checkpoint", "saved_checkpoint", "saved_achieved_type",
        "stop_action", "power_action", "preflight"}


@pytest.fixture
def lab():
    return load_lab("demo")


def by_name(lab, vm_id, name):
    hits = [s for s in cps(lab, vm_id) if s.name == name]
    assert len(hits) == 1
    return hits[0]


def test_apply_off_vm_check_real_and_always_changed(lab):
    """B15; apply always reports changed (documented), and really applies again on the rerun."""
    l2 = by_name(lab, DEEP01, "L2")
    digest = lab.digest()
    args = {"vm_id": DEEP01, "name": "L2"}
    r = run("checkpoint_apply", args, lab, check_mode=True, diff=True)
    assert not r.failed, r.get("msg")
    assert r.changed and set(r) >= KEYS
    assert r["vm"]["state"] == "Off" and r["vm"]["current_checkpoint_id"] == l2.id and r["stop_action"] is None
    assert r["diff"]["before"]["current_checkpoint_name"] == "L6" and r["diff"]["after"]["current_checkpoint_name"] == "L2"
    assert lab.digest() == digest

    r = run("checkpoint_apply", args, lab, diff=True)
    assert not r.failed and r.changed and set(r) >= KEYS
    assert lab.vms[DEEP01].parent_snapshot_id == l2.id and lab.vms[DEEP01].state == "Off"
    assert r["vm"]["current_checkpoint_name"] == "L2" and r["applied_checkpoint"]["id"] == l2.id
    assert len(cps(lab, DEEP01)) == 7

    lab.simulate_writes(DEEP01, 1024 * 1024)
    drifted = lab.digest()
    r = run("checkpoint_apply", args, lab)
    assert not r.failed and r.changed
    assert lab.digest() != drifted  # the drift was discarded: the apply really ran again


def test_running_vm_refused_without_force(lab):
    """A21."""
    digest = lab.digest()
    r = run("checkpoint_apply", {"vm_id": WEB01, "name": "before-patch"}, lab)
    assert r.failed and not r.changed
    assert "The VM is Running" in r["msg"] and "force: true" in r["msg"]
    assert "VM 'web01'" in r["msg"] and "checkpoint 'before-patch'" in r["msg"] and "engine.invalid" in r["msg"]
    assert lab.digest() == digest


@pytest.mark.parametrize("method", ["shut_down", "save", "turn_off"])
def test_force_stops_then_applies(lab, method):
    target = by_name(lab, WEB01, "before-patch")
    digest = lab.digest()
    args = {"vm_id": WEB01, "name": "before-patch", "force": True, "stop_method": method}
    r = run("checkpoint_apply", args, lab, check_mode=True)
    assert not r.failed and r.changed and r["stop_action"] == method and r["vm"]["state"] == "Off"
    assert lab.digest() == digest
    r = run("checkpoint_apply", args, lab)
    assert not r.failed, r.get("msg")
    assert r["previous_state"] == "Running" and r["stop_action"] == method
    assert lab.vms[WEB01].state == "Off" and lab.vms[WEB01].parent_snapshot_id == target.id
    assert r["vm"]["state"] == "Off" and r["vm"]["current_checkpoint_id"] == target.id


def test_save_current_state_first(lab):
    """The GUI's 'Create Checkpoint and Apply': the running state is checkpointed before the stop."""
    old_now = lab.vms[WEB01].parent_snapshot_id
    args = {"vm_id": WEB01, "name": "before-patch", "force": True, "save_current_state_as": "keep-me"}
    digest = lab.digest()
    r = run("checkpoint_apply", args, lab, check_mode=True)
    assert not r.failed and r["saved_achieved_type"] == "production" and r["saved_checkpoint"] is None
    assert r["vm"]["checkpoint_count"] == 3 and r["preflight"]["checks"][-1] == "consistency"
    assert lab.digest() == digest
    r = run("checkpoint_apply", args, lab)
    assert not r.failed, r.get("msg")
    kept = by_name(lab, WEB01, "keep-me")
    assert kept.parent_id == old_now and kept.captured.power_state == "Running"
    assert r["saved_checkpoint"]["id"] == kept.id and r["saved_achieved_type"] == "production"
    assert lab.snapshots[lab.vms[WEB01].parent_snapshot_id].name == "before-patch"
    r = run("checkpoint_apply", args, lab)
    assert r.failed and "already exists" in r["msg"] and kept.id in r["msg"]


def test_latest_reverts_and_power_states(lab):
    """Revert = apply the parent of Now; standard checkpoint with memory lands Saved; power_state policies."""
    nightly_now = lab.vms[APP01].parent_snapshot_id
    r = run("checkpoint_apply", {"vm_id": APP01, "latest": True, "force": True, "stop_method": "turn_off"}, lab,
            check_mode=True)
    assert r["vm"]["state"] == "Saved" and r["applied_checkpoint"]["id"] == nightly_now
    r = run("checkpoint_apply", {"vm_id": APP01, "latest": True, "force": True, "stop_method": "turn_off"}, lab)
    assert not r.failed, r.get("msg")
    assert r["vm"]["state"] == "Saved" and r["power_action"] is None
    assert lab.vms[APP01].parent_snapshot_id == nightly_now
    digest = lab.digest()
    r = run("checkpoint_apply", {"vm_id": APP01, "latest": True, "power_state": "started"}, lab)
    assert r.failed and "The VM is Saved" in r["msg"] and "saved memory" in r["msg"]
    assert lab.digest() == digest
    r = run("checkpoint_apply", {"vm_id": APP01, "latest": True, "power_state": "started", "force": True}, lab)
    assert not r.failed and r["power_action"] == "started" and lab.vms[APP01].state == "Running"
    assert r["stop_action"] is None
    r = run("checkpoint_apply", {"vm_id": APP01, "latest": True, "force": True, "power_state": "stopped",
                                 "stop_method": "save"}, lab)
    assert not r.failed and r["power_action"] == "stopped" and lab.vms[APP01].state == "Off"
    assert r["vm"]["state"] == "Off"


def test_latest_without_checkpoint_fails(lab):
    r = run("checkpoint_apply", {"vm_id": DC01, "latest": True, "allow_domain_controller": True}, lab)
    assert r.failed and "no current checkpoint" in r["msg"]


def test_paused_vm_and_shut_down(lab):
    lab.suspend_vm("HV01", WEB01)
    r = run("checkpoint_apply", {"vm_id": WEB01, "name": "before-patch", "force": True}, lab)
    assert r.failed and "Paused" in r["msg"] and "turn_off" in r["msg"]
    r = run("checkpoint_apply", {"vm_id": WEB01, "name": "before-patch", "force": True, "stop_method": "turn_off"},
            lab)
    assert not r.failed and r["previous_state"] == "Paused" and lab.vms[WEB01].state == "Off"


def test_missing_checkpoint_fails(lab):
    """A11."""
    digest = lab.digest()
    r = run("checkpoint_apply", {"vm_id": WEB01, "name": "Before-Patch", "force": True}, lab)
    assert r.failed and not r.changed and "No checkpoint named 'Before-Patch'" in r["msg"] and "similar" in r["msg"]
    assert lab.digest() == digest


def test_ambiguous_name_fails_id_works(lab):
    """A6."""
    dups = [s for s in cps(lab, APP01) if s.name == "nightly"]
    digest = lab.digest()
    r = run("checkpoint_apply", {"vm_id": APP01, "name": "nightly", "force": True}, lab)
    assert r.failed and all(d.id in r["msg"] for d in dups)
    assert lab.digest() == digest
    r = run("checkpoint_apply", {"vm_id": APP01, "checkpoint_id": dups[0].id, "force": True}, lab)
    assert not r.failed and lab.vms[APP01].parent_snapshot_id == dups[0].id


def test_domain_controller_refused(lab):
    """A19."""
    lab.seed_snapshot(lab.vms[DC01], "dc-before")
    digest = lab.digest()
    r = run("checkpoint_apply", {"vm_id": DC01, "name": "dc-before", "force": True}, lab)
    assert r.failed and "domain controller" in r["msg"] and "USN rollback" in r["msg"]
    assert lab.digest() == digest
    r = run("checkpoint_apply", {"vm_id": DC01, "name": "dc-before", "force": True, "allow_domain_controller": True},
            lab)
    assert not r.failed, r.get("msg")


def test_recovery_checkpoint_refused(lab):
    """A18 for apply."""
    digest = lab.digest()
    r = run("checkpoint_apply", {"vm_id": REPLICA, "name": "Recovery checkpoint"}, lab)
    assert r.failed and "Recovery checkpoint" in r["msg"] and "only user (Standard)" in r["msg"]
    assert lab.digest() == digest


def test_apply_in_flight_is_reported_not_repeated(lab):
    """B11: the VM shows ApplyingSnapshot (an interrupted earlier run); report it, do not apply again."""
    lab.inject_fault("vm_busy", vm=DEEP01, status="32769")
    digest = lab.digest()
    r = run("checkpoint_apply", {"vm_id": DEEP01, "name": "L1", "wait_timeout": 600, "poll_interval": 60}, lab)
    assert r.failed and "ApplyingSnapshot" in r["msg"] and "Do not apply again" in r["msg"]
    assert lab.digest() == digest


def test_backup_lock_fails_at_once(lab):
    """B8."""
    lab.inject_fault("backup_lock", vm=DEEP01)
    r = run("checkpoint_apply", {"vm_id": DEEP01, "name": "L1", "wait_timeout": 600, "poll_interval": 60}, lab)
    assert r.failed and "backup" in r["msg"]


def test_broken_chain_fails_without_deleting(lab):
    """B12."""
    lab.inject_fault("broken_chain", vm=DEEP01)
    before = names(lab, DEEP01)
    r = run("checkpoint_apply", {"vm_id": DEEP01, "name": "L1"}, lab)
    assert r.failed and "0x80070032" in r["msg"] and "Nothing was deleted" in r["msg"]
    assert "export or back up" in r["msg"]
    assert names(lab, DEEP01) == before


def test_save_current_state_failure_leaves_vm_running(lab):
    """ProductionOnly with a failing VSS writer: the save fails on the host, the VM is not stopped or applied."""
    lab.inject_fault("vss_failure", vm=SQL01)
    lab.seed_snapshot(lab.vms[SQL01], "other")
    before = [s.id for s in cps(lab, SQL01)]
    now = lab.vms[SQL01].parent_snapshot_id
    r = run("checkpoint_apply", {"vm_id": SQL01, "name": "pre-upgrade", "force": True,
                                 "save_current_state_as": "keep"}, lab)
    assert r.failed and not r.changed and "vssadmin" in r["msg"]
    assert lab.vms[SQL01].state == "Running" and lab.vms[SQL01].parent_snapshot_id == now
    assert [s.id for s in cps(lab, SQL01)] == before


def test_pipelines_are_safe(lab):
    transports = []
    r = run("checkpoint_apply", {"vm_name": "web01", "name": "before-patch", "force": True,
                                 "save_current_state_as": "it's $(x)"}, lab, transports=transports)
    assert not r.failed, r.get("msg")
    assert_safe_pipelines(transports, ["it's $(x)", "before-patch", "web01"])


@pytest.mark.parametrize("args, words", [
    ({"vm_id": WEB01}, "one of name, checkpoint_id or latest=true is required"),
    ({"vm_id": WEB01, "name": "x", "latest": True}, "mutually exclusive"),
    ({"vm_id": WEB01, "latest": True, "save_current_state_as": ""}, "save_current_state_as must not be empty"),
    ({"vm_id": WEB01, "name": "x", "stop_method": "shutdown"}, "stop_method"),
    ({"vm_id": WEB01, "name": "x", "power_state": "running"}, "power_state"),
])
def test_argument_errors(lab, args, words):
    r = run("checkpoint_apply", args, lab)
    assert r.failed and words in r["msg"], r.get("msg")


def test_shut_down_without_shutdown_service_fails_with_advice(lab):
    """The guest cannot shut down (Shutdown integration service off): nothing is applied, advice given."""
    lab.set_integration("HV01", WEB01, ["9F8233AC-BE49-4C79-8EE3-E7E1985B2077"], False)
    now = lab.vms[WEB01].parent_snapshot_id
    r = run("checkpoint_apply", {"vm_id": WEB01, "name": "before-patch", "force": True}, lab)
    assert r.failed and not r.changed and "Nothing was applied" in r["msg"] and "turn_off" in r["msg"]
    assert lab.vms[WEB01].state == "Running" and lab.vms[WEB01].parent_snapshot_id == now
