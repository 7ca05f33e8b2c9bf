"""checkpoint_apply through both real transports against a live hvsim server.

Apply always reports changed (documented, like vmware.vmware vm_snapshot_revert), so step 3 checks
that a rerun reports changed and applies again rather than changed=false.
"""

from __future__ import annotations

from unittest import mock

import pytest

from support.modules import run_module as _run_module


def run_module(*args, **kwargs):
    """run_module with module-side warnings (they go to Display once controller code is imported)."""
    from ansible.module_utils import _internal
    from ansible.module_utils.common import warnings as ansible_warnings

    getattr(ansible_warnings, "_global_warnings", {}).clear()
    with mock.patch.object(_internal, "is_controller", False):
        return _run_module(*args, **kwargs)


WEB01 = "6f0c2d9e-0002-4c00-8a00-000000000002"  # HV01 Running, Production, before-patch > after-patch
DEEP01 = "6f0c2d9e-0006-4c00-8a00-000000000006"  # HV01 Off, Standard


def conn(sim, transport, host="HV01"):
    return {
        "hyperv_host": sim.host, "hyperv_port": sim.port(host, "https"), "hyperv_scheme": "https",
        "hyperv_ca_path": sim.ca_path, "hyperv_username": sim.username, "hyperv_password": sim.password,
        "hyperv_auth": "ntlm", "hyperv_transport": transport,
    }


def tree(sim, transport, vm_id):
    r = run_module("checkpoint_info", dict(conn(sim, transport), vm_id=vm_id, include_files=False))
    assert not r.failed, r.get("msg")
    return r["vms"][0]


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_apply_with_save_and_start(hvsim, transport):
    args = dict(conn(hvsim, transport), vm_id=WEB01, name="before-patch", force=True, stop_method="shut_down",
                save_current_state_as="keep-current", power_state="started", poll_interval=0)
    digest = hvsim.digest()
    r = run_module("checkpoint_apply", args, check_mode=True, diff=True)
    assert not r.failed, r.get("msg")
    assert r.changed and r["vm"]["state"] == "Running" and r["vm"]["current_checkpoint_name"] == "before-patch"
    assert hvsim.digest() == digest

    r = run_module("checkpoint_apply", args, diff=True)
    assert not r.failed and r.changed, r.get("msg")
    assert r["stop_action"] == "shut_down" and r["power_action"] == "started"
    t = tree(hvsim, transport, WEB01)
    assert t["now_parent_name"] == "before-patch" and t["state"] == "Running"
    kept = [c for c in t["checkpoints"] if c["name"] == "keep-current"]
    assert len(kept) == 1 and kept[0]["parent_name"] == "after-patch"
    assert r["saved_checkpoint"]["id"] == kept[0]["id"]

    # rerun: refused because the save name exists (no pile-up); without it, applies again and reports changed
    r = run_module("checkpoint_apply", args)
    assert r.failed and "already exists" in r["msg"]
    args.pop("save_current_state_as")
    r = run_module("checkpoint_apply", args)
    assert not r.failed and r.changed and r["previous_state"] == "Running"


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_apply_reply_lost_is_not_repeated(hvsim, transport):
    """B11-like: the reply to Restore-VMSnapshot is lost; the VM is re-read by Id instead of applying again."""
    hvsim.inject_fault("drop_after_mutation", count=1)
    r = run_module("checkpoint_apply", dict(conn(hvsim, transport), vm_id=DEEP01, name="L2", poll_interval=0))
    assert not r.failed, r.get("msg")
    assert r.changed and r["vm"]["current_checkpoint_name"] == "L2"
    texts = [str((w.get("event") or {}).get("msg") if isinstance(w, dict) else w) for w in r.get("warnings") or []]
    assert any("apply was not repeated" in w for w in texts)
    assert tree(hvsim, transport, DEEP01)["now_parent_name"] == "L2"


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_running_without_force_refused(hvsim, transport):
    """A21 over the wire."""
    digest = hvsim.digest()
    r = run_module("checkpoint_apply", dict(conn(hvsim, transport), vm_id=WEB01, latest=True))
    assert r.failed and not r.changed and "The VM is Running" in r["msg"]
    assert hvsim.digest() == digest


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_batch_mode_check_collect_and_fail_fast(hvsim, transport):
    """vm_names / vm_ids over the wire: check mode changes nothing, collect applies every VM it can and names
    the one that failed, fail_fast after an unknown name changes nothing at all."""
    base = dict(conn(hvsim, transport), latest=True, force=True, stop_method="turn_off", poll_interval=0, parallel=3)
    digest = hvsim.digest()
    r = run_module("checkpoint_apply", dict(base, vm_names=["web01", "nope"], vm_ids=[DEEP01]), check_mode=True)
    assert r.failed and r.changed
    assert hvsim.digest() == digest
    assert [(e["vm_name"], e["failed"]) for e in r["results"]] == [("web01", False), ("nope", True), ("deep01", False)]
    assert r["summary"] == {"total": 3, "changed": 2, "failed": 1, "skipped": 0, "unchanged": 0}

    r = run_module("checkpoint_apply", dict(base, vm_names=["nope", "web01"], vm_ids=[DEEP01],
                                            batch_failure="fail_fast"))
    assert r.failed and not r.changed and "2 VM(s) not attempted" in r["msg"]
    assert [e["skipped"] for e in r["results"]] == [False, True, True]
    assert hvsim.digest() == digest

    r = run_module("checkpoint_apply", dict(base, vm_names=["web01", "nope"], vm_ids=[DEEP01]))
    assert r.failed and r.changed and r["msg"].startswith("1 of 3 VMs failed") and "'nope'" in r["msg"]
    web, deep = tree(hvsim, transport, WEB01), tree(hvsim, transport, DEEP01)
    assert web["state"] == "Off" and web["now_parent_name"] == "after-patch"
    assert deep["state"] == "Off" and deep["now_parent_name"] == "L6"
    applied = dict((e["vm_name"], e) for e in r["results"] if not e["failed"])
    assert applied["web01"]["stop_action"] == "turn_off" and applied["web01"]["previous_state"] == "Running"
    assert applied["deep01"]["applied_checkpoint"]["id"] == deep["now_parent_id"]
