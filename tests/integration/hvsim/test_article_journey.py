"""The seed article's journey (issue 4 acceptance) on the demo lab, through both real transports.

1. set production with fallback; 2. checkpoint a running VM; 3. change the VM; 4. apply, saving the
current state first; 5. revert; 6. remove with its subtree; 7. wait for the merge; 8. move the
location once no checkpoints are left. Every step: check mode leaves the digest alone, the real run
is verified through checkpoint_info / vm_info, and a rerun is changed=false (apply: always changed).
"""

from __future__ import annotations

from unittest import mock

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _lifecycle
from support.modules import run_module as _run_module


def run_module(*args, **kwargs):
    """run_module with module-side warnings (they go to Display once controller code is imported)."""
    from ansible.module_utils import _internal
    from ansible.module_utils.common import warnings as ansible_warnings

    getattr(ansible_warnings, "_global_warnings", {}).clear()
    with mock.patch.object(_internal, "is_controller", False):
        return _run_module(*args, **kwargs)


APP01 = "6f0c2d9e-0003-4c00-8a00-000000000003"  # HV01, Running, Standard, release-1.4 > nightly > nightly


def conn(sim, transport, host="HV01"):
    return {
        "hyperv_host": sim.host, "hyperv_port": sim.port(host, "https"), "hyperv_scheme": "https",
        "hyperv_ca_path": sim.ca_path, "hyperv_username": sim.username, "hyperv_password": sim.password,
        "hyperv_auth": "ntlm", "hyperv_transport": transport,
    }


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_article_journey(hvsim, transport, monkeypatch):
    c = conn(hvsim, transport)
    vm = dict(c, vm_id=APP01, poll_interval=0)

    def tree():
        r = run_module("checkpoint_info", dict(c, vm_id=APP01, include_files=False))
        assert not r.failed, r.get("msg")
        return r["vms"][0]

    def vm_info():
        r = run_module("vm_info", dict(c, vm_id=APP01))
        assert not r.failed, r.get("msg")
        return r["vms"][0]

    def step(module, args, rerun_changed=False):
        digest = hvsim.digest()
        r = run_module(module, args, check_mode=True, diff=True)
        assert not r.failed, (module, r.get("msg"))
        assert r.changed and "diff" in r
        assert hvsim.digest() == digest, "check mode wrote to the host"
        r = run_module(module, args, diff=True)
        assert not r.failed and r.changed, (module, r.get("msg"))
        return r

    def rerun(module, args, changed=False):
        r = run_module(module, args)
        assert not r.failed, r.get("msg")
        assert r.changed is changed
        return r

    # 1. production checkpoints with the standard fallback
    args = dict(vm, checkpoint_type="production", automatic_checkpoints=False)
    step("checkpoint_policy", args)
    assert vm_info()["checkpoint_type"] == "Production"
    rerun("checkpoint_policy", args)

    # 2. checkpoint the running VM
    args = dict(vm, name="journey-before-change")
    r = step("checkpoint", args)
    assert r["achieved_type"] == "production" and not r["fallback"]
    first = r["checkpoint"]["id"]
    t = tree()
    assert t["now_parent_id"] == first and t["state"] == "Running"
    rerun("checkpoint", args)

    # 3. change the VM (the guest writes data)
    before_change = hvsim.digest()
    hvsim.lab.simulate_writes(APP01, 64 * 1024 * 1024)
    assert hvsim.digest() != before_change

    # 4. apply, saving the current state first
    args = dict(vm, name="journey-before-change", save_current_state_as="journey-changed-state", force=True)
    r = step("checkpoint_apply", args)
    saved = r["saved_checkpoint"]["id"]
    t = tree()
    assert t["now_parent_id"] == first and t["state"] == "Off"  # a production checkpoint comes back Off
    assert [c["parent_id"] for c in t["checkpoints"] if c["id"] == saved] == [first]
    r = run_module("checkpoint_apply", args)  # the save name exists now: refused, nothing piles up
    assert r.failed and "already exists" in r["msg"]

    # 5. revert (apply the parent of Now) and start the VM
    args = dict(vm, latest=True, power_state="started")
    r = step("checkpoint_apply", args)
    assert r["applied_checkpoint"]["id"] == first and r["power_action"] == "started"
    assert tree()["state"] == "Running"
    rerun("checkpoint_apply", dict(args, force=True), changed=True)  # always changed, documented

    # 6 + 7. remove the whole tree from its root and wait for the merge (held visible for two polls)
    hvsim.lab.switches["merge_hold"] = True
    polls = []

    def sleep(seconds):
        polls.append(seconds)
        if len(polls) == 2:
            hvsim.lab.release_merges()

    monkeypatch.setattr(_lifecycle, "sleep", sleep)
    args = dict(vm, name="release-1.4", state="absent", remove_children=True, merge_timeout=60)
    r = step("checkpoint", args)
    assert len(r["removed"]) == 5 and r["merge_seconds"] is not None and len(polls) == 2
    t = tree()
    assert t["checkpoints"] == [] and not t["merge_pending"] and t["now_parent_id"] is None
    rerun("checkpoint", args)

    # 8. move the checkpoint file location now that no checkpoints are left
    args = dict(vm, snapshot_file_location="D:\\Hyper-V\\app01\\Checkpoints")
    step("checkpoint_policy", args)
    assert vm_info()["snapshot_file_location"] == "D:\\Hyper-V\\app01\\Checkpoints"
    rerun("checkpoint_policy", dict(args, snapshot_file_location="d:/hyper-v/app01/checkpoints/"))
