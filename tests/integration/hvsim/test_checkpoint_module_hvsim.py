"""checkpoint through both real transports (PSRP and WinRS) against a live hvsim server.

Each scenario: 1) check mode, digest unchanged; 2) real run, verified with checkpoint_info;
3) rerun, changed=false.
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
DEEP01 = "6f0c2d9e-0006-4c00-8a00-000000000006"  # HV01 Off, Standard, L1..L6 + L4-branch

TRANSPORTS = ["psrp", "winrm"]


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


def info(sim, transport, vm_id):
    r = run_module("checkpoint_info", dict(conn(sim, transport), vm_id=vm_id, include_files=False))
    assert not r.failed, r.get("msg")
    return r["vms"][0]


def warning_texts(result):
    out = []
    for w in result.get("warnings") or []:
        out.append(str((w.get("event") or {}).get("msg") if isinstance(w, dict) else w))
    return out


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_create_rename_remove(hvsim, transport):
    base = dict(conn(hvsim, transport), vm_id=WEB01, poll_interval=0)

    # create
    digest = hvsim.digest()
    r = run_module("checkpoint", dict(base, name="it-1"), check_mode=True, diff=True)
    assert not r.failed, r.get("msg")
    assert r.changed and r["action"] == "create" and r["achieved_type"] == "production"
    assert hvsim.digest() == digest
    r = run_module("checkpoint", dict(base, name="it-1"))
    assert not r.failed and r.changed, r.get("msg")
    tree = info(hvsim, transport, WEB01)
    made = [c for c in tree["checkpoints"] if c["name"] == "it-1"]
    assert len(made) == 1 and made[0]["id"] == r["checkpoint"]["id"] and made[0]["captured_type"] == "production"
    assert tree["now_parent_id"] == made[0]["id"]
    r = run_module("checkpoint", dict(base, name="it-1"))
    assert not r.failed and not r.changed

    # rename
    digest = hvsim.digest()
    r = run_module("checkpoint", dict(base, name="it-1", new_name="it-1-renamed"), check_mode=True)
    assert not r.failed and r.changed and r["action"] == "rename"
    assert hvsim.digest() == digest
    r = run_module("checkpoint", dict(base, name="it-1", new_name="it-1-renamed"))
    assert not r.failed and r.changed
    assert [c["name"] for c in info(hvsim, transport, WEB01)["checkpoints"]] == ["before-patch", "after-patch",
                                                                                 "it-1-renamed"]
    r = run_module("checkpoint", dict(base, name="it-1", new_name="it-1-renamed"))
    assert not r.failed and not r.changed

    # remove with subtree, waiting for the merge
    digest = hvsim.digest()
    args = dict(base, name="after-patch", state="absent", remove_children=True)
    r = run_module("checkpoint", args, check_mode=True, diff=True)
    assert not r.failed and r.changed and [c["name"] for c in r["removed"]] == ["after-patch", "it-1-renamed"]
    assert hvsim.digest() == digest
    r = run_module("checkpoint", args)
    assert not r.failed and r.changed and r["merge_seconds"] is not None
    tree = info(hvsim, transport, WEB01)
    assert [c["name"] for c in tree["checkpoints"]] == ["before-patch"] and not tree["merge_pending"]
    r = run_module("checkpoint", args)
    assert not r.failed and not r.changed


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_create_reply_lost_is_not_repeated(hvsim, transport):
    """B1: the reply to Checkpoint-VM is lost; the module re-reads by name and Id and adopts the checkpoint."""
    base = dict(conn(hvsim, transport), vm_id=DEEP01, poll_interval=0)
    hvsim.inject_fault("drop_after_mutation", count=1)
    r = run_module("checkpoint", dict(base, name="lost-reply"))
    assert not r.failed, r.get("msg")
    assert r.changed and any("dropped after Checkpoint-VM" in w for w in warning_texts(r))
    made = [c for c in info(hvsim, transport, DEEP01)["checkpoints"] if c["name"] == "lost-reply"]
    assert len(made) == 1 and r["checkpoint"]["id"] == made[0]["id"]
    r = run_module("checkpoint", dict(base, name="lost-reply"))
    assert not r.failed and not r.changed


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_remove_reply_lost_is_rechecked(hvsim, transport):
    """B2: the reply to Remove-VMSnapshot is lost; re-query by Id finds it gone: changed with a merge note."""
    base = dict(conn(hvsim, transport), vm_id=DEEP01, poll_interval=0)
    hvsim.inject_fault("drop_after_mutation", count=1)
    r = run_module("checkpoint", dict(base, name="L4-branch", state="absent"))
    assert not r.failed, r.get("msg")
    assert r.changed and any("merge may still be running" in w for w in warning_texts(r))
    assert "L4-branch" not in [c["name"] for c in info(hvsim, transport, DEEP01)["checkpoints"]]
    r = run_module("checkpoint", dict(base, name="L4-branch", state="absent"))
    assert not r.failed and not r.changed


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_refusals_change_nothing(hvsim, transport):
    """A6, A14, A19 over the wire: failures name host, VM and checkpoint; the digest stays."""
    digest = hvsim.digest()
    r = run_module("checkpoint", dict(conn(hvsim, transport), vm_name="app01", name="nightly", state="absent"))
    assert r.failed and not r.changed and "2 checkpoints named 'nightly'" in r["msg"]
    assert "on host 127.0.0.1" in r["msg"] and "VM 'app01'" in r["msg"]
    r = run_module("checkpoint", dict(conn(hvsim, transport), vm_name="dc01", name="x"))
    assert r.failed and "domain controller" in r["msg"]
    r = run_module("checkpoint", dict(conn(hvsim, transport, "HV02"), vm_name="legacy01", name="x"))
    assert r.failed and "Checkpoints are disabled" in r["msg"]
    assert hvsim.digest() == digest
