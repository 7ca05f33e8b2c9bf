"""vm_power against the hvsim model through the in-process engine transport."""

from __future__ import annotations

import pytest

from hvsim.lab import load_lab
from support.modules import run_module

WEB01 = "6f0c2d9e-0002-4c00-8a00-000000000002"  # HV01, Running, two checkpoints
FILE01 = "6f0c2d9e-000a-4c00-8a00-00000000000a"  # HV02, Saved
LEGACY01 = "6f0c2d9e-000c-4c00-8a00-00000000000c"  # HV02, Paused
DEEP01 = "6f0c2d9e-0006-4c00-8a00-000000000006"  # HV01, Off, deep tree
FAST = {"poll_interval": 0}


@pytest.fixture
def lab():
    return load_lab("demo")


@pytest.fixture
def warned(monkeypatch):
    """Every warning text the module emits (Ansible keeps warnings process-wide, so read them here)."""
    from ansible.module_utils.basic import AnsibleModule

    seen = []
    original = AnsibleModule.warn

    def warn(self, warning):
        seen.append(warning)
        return original(self, warning)

    monkeypatch.setattr(AnsibleModule, "warn", warn)
    return seen


def power(lab, host="HV01", check_mode=False, diff=False, **args):
    return run_module("vm_power", dict(FAST, **args), lab=lab, host=host, check_mode=check_mode, diff=diff)


@pytest.mark.parametrize(
    "vm_id, host, desired, before, after, action",
    [
        (WEB01, "HV01", "stopped", "Running", "Off", "shutdown"),
        (WEB01, "HV01", "off", "Running", "Off", "turn_off"),
        (WEB01, "HV01", "saved", "Running", "Saved", "save"),
        (FILE01, "HV02", "started", "Saved", "Running", "start"),
        (FILE01, "HV02", "off", "Saved", "Off", "turn_off"),
        (LEGACY01, "HV02", "started", "Paused", "Running", "start"),
        (DEEP01, "HV01", "started", "Off", "Running", "start"),
    ],
)
def test_check_then_apply_then_idempotent(lab, vm_id, host, desired, before, after, action):
    digest = lab.digest()
    r = power(lab, host, check_mode=True, diff=True, vm_id=vm_id, state=desired)
    assert not r.failed, r.get("msg")
    assert r.changed and r["action"] == action and r["previous_state"] == before and r["state"] == after
    assert r["diff"]["before"] != r["diff"]["after"]
    assert lab.digest() == digest, "check mode wrote to the host"

    r = power(lab, host, vm_id=vm_id, state=desired)
    assert not r.failed, r.get("msg")
    assert r.changed and r["previous_state"] == before and r["state"] == after
    assert r["vms"][0]["actions"] == [action]
    assert lab.vms[vm_id].state == after  # verified on the model, independently of the module

    digest = lab.digest()
    r = power(lab, host, vm_id=vm_id, state=desired)
    assert not r.failed and not r.changed and r["action"] == "none"
    assert r["previous_state"] == after
    assert lab.digest() == digest


def test_saving_an_off_vm_fails_clearly(lab):
    r = power(lab, vm_id=DEEP01, state="saved")
    assert r.failed and not r.changed
    assert "cannot be saved" in r["msg"] and "deep01" in r["msg"]


def test_stopped_on_paused_vm_needs_force(lab, warned):
    r = power(lab, "HV02", vm_id=LEGACY01, state="stopped")
    assert r.failed and "cannot shut down" in r["msg"]
    assert lab.vms[LEGACY01].state == "Paused"
    r = power(lab, "HV02", vm_id=LEGACY01, state="stopped", force_after_timeout=True)
    assert not r.failed and r.changed and r["action"] == "turn_off"
    assert lab.vms[LEGACY01].state == "Off"
    assert any("force_after_timeout" in w for w in warned)


def _break_shutdown(lab, vm_id):
    for svc in lab.vms[vm_id].integration:
        if svc.name == "Shutdown":
            svc.guest_ok = False


def test_shutdown_service_not_answering(lab):
    _break_shutdown(lab, WEB01)
    digest = lab.digest()
    r = power(lab, vm_id=WEB01, state="stopped")
    assert r.failed and not r.changed
    assert "does not answer on the Shutdown integration service" in r["msg"]
    assert lab.digest() == digest and lab.vms[WEB01].state == "Running"

    r = power(lab, vm_id=WEB01, state="stopped", force_after_timeout=True)
    assert not r.failed and r.changed and r["vms"][0]["actions"] == ["turn_off"]
    assert lab.vms[WEB01].state == "Off"


def _start_held_merge(lab, vm_id):
    lab.switches["merge_hold"] = True
    snap = sorted(lab.snapshots_of(vm_id), key=lambda s: s.creation_time)[0]
    lab.remove_snapshots(lab.vms[vm_id].host, [snap.id])
    assert any(j.vm_id == vm_id for j in lab.merges)


def test_refuses_to_turn_off_a_merging_vm(lab):
    _start_held_merge(lab, WEB01)
    digest = lab.digest()
    for check in (True, False):
        r = power(lab, vm_id=WEB01, state="off", check_mode=check)
        assert r.failed and not r.changed
        assert "merging disks" in r["msg"]
    assert lab.digest() == digest and lab.vms[WEB01].state == "Running"
    # a guest shutdown is allowed while merging (the merge continues offline)
    r = power(lab, vm_id=WEB01, state="stopped")
    assert not r.failed and r.changed and lab.vms[WEB01].state == "Off"


def test_merge_timeout_waits_then_fails_clearly(lab):
    _start_held_merge(lab, WEB01)
    r = power(lab, vm_id=WEB01, state="off", merge_timeout=1, poll_interval=0.2)
    assert r.failed and "merge" in r["msg"].lower() and "Timed out" in r["msg"]
    assert lab.vms[WEB01].state == "Running"
    lab.release_merges()
    r = power(lab, vm_id=WEB01, state="off", merge_timeout=5)
    assert not r.failed and r.changed and lab.vms[WEB01].state == "Off"


def test_busy_backup_is_not_forced(lab):
    """test-matrix B8: a backup holds the VM -> clear failure, no forced action."""
    lab.inject_fault("backup_lock", vm=WEB01)
    digest = lab.digest()
    r = power(lab, vm_id=WEB01, state="off")
    assert r.failed and "busy" in r["msg"] and "backup" in r["msg"]
    assert lab.digest() == digest


def test_several_vms_in_order_and_previous_states(lab):
    r = power(lab, "HV02", vm_names=["file01", "legacy01"], state="started")
    assert not r.failed, r.get("msg")
    assert [(v["vm_name"], v["previous_state"], v["state"]) for v in r["vms"]] == [
        ("file01", "Saved", "Running"), ("legacy01", "Paused", "Running")]
    assert "previous_state" not in r
    r = power(lab, "HV02", vms=["file01", "legacy01"], state="started")
    assert not r.changed


@pytest.mark.parametrize("name", ["a'; Remove-VM -Force *; '", "$(Stop-Computer)", "web*", "db[01]"])
def test_hostile_names_are_literals(lab, name):
    """test-matrix A1-A4: no VM has this literal name, so it fails and nothing changes."""
    digest = lab.digest()
    r = power(lab, vm_name=name, state="off")
    assert r.failed and "No VM named" in r["msg"]
    assert lab.digest() == digest


def test_duplicate_vm_name_is_ambiguous(lab):
    lab.vms["6f0c2d9e-0009-4c00-8a00-000000000009"].host = "HV01"  # second web01 on the same host
    r = power(lab, vm_name="web01", state="off")
    assert r.failed and "vm_id" in r["msg"]


def test_argument_errors_before_connecting(lab):
    r = power(lab, vm_id="not-a-guid", state="off")
    assert r.failed and "vm_id must be a GUID" in r["msg"]
    r = power(lab, vm_name="web01", state="off", shutdown_timeout=-1)
    assert r.failed and "shutdown_timeout" in r["msg"]
    r = power(lab, state="off")
    assert r.failed


def test_transitional_state_is_waited_for_with_a_timeout(lab):
    lab.vms[WEB01].state = "Stopping"  # a transition that never ends in this model
    r = power(lab, vm_id=WEB01, state="off", wait_timeout=1, poll_interval=0.2)
    assert r.failed and "Timed out" in r["msg"] and "transitional" in r["msg"]
    lab.vms[WEB01].state = "Off"
    r = power(lab, vm_id=WEB01, state="off")
    assert not r.failed and not r.changed
