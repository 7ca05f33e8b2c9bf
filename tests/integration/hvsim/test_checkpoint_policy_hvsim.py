"""checkpoint_policy through both real transports against a live hvsim server."""

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


LNX01 = "6f0c2d9e-0005-4c00-8a00-000000000005"  # HV01 Running, Production, no checkpoints
WEB01 = "6f0c2d9e-0002-4c00-8a00-000000000002"  # HV01, two checkpoints


def conn(sim, transport, host="HV01"):
    return {
        "hyperv_host": sim.host, "hyperv_port": sim.port(host, "https"), "hyperv_scheme": "https",
        "hyperv_ca_path": sim.ca_path, "hyperv_username": sim.username, "hyperv_password": sim.password,
        "hyperv_auth": "ntlm", "hyperv_transport": transport,
    }


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_policy_check_real_verify_rerun(hvsim, transport):
    args = dict(conn(hvsim, transport), vm_id=LNX01, checkpoint_type="production_only",
                automatic_checkpoints=True, snapshot_file_location="d:/Hyper-V/lnx01/Checkpoints/")
    digest = hvsim.digest()
    r = run_module("checkpoint_policy", args, check_mode=True, diff=True)
    assert not r.failed, r.get("msg")
    assert r.changed and len(r["vms"][0]["changes"]) == 3
    assert hvsim.digest() == digest

    r = run_module("checkpoint_policy", args, diff=True)
    assert not r.failed and r.changed, r.get("msg")
    vm = run_module("vm_info", dict(conn(hvsim, transport), vm_id=LNX01))["vms"][0]
    assert vm["checkpoint_type"] == "ProductionOnly" and vm["automatic_checkpoints"] is True
    assert vm["snapshot_file_location"] == "D:\\Hyper-V\\lnx01\\Checkpoints"

    r = run_module("checkpoint_policy", dict(args, snapshot_file_location="D:\\HYPER-V\\lnx01\\checkpoints"))
    assert not r.failed and not r.changed


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_location_with_checkpoints_refused(hvsim, transport):
    """A15 over the wire."""
    digest = hvsim.digest()
    r = run_module("checkpoint_policy", dict(conn(hvsim, transport), vm_id=WEB01, snapshot_file_location="E:\\cp"))
    assert r.failed and not r.changed and "'before-patch'" in r["msg"] and "Move-VMStorage" in r["msg"]
    assert hvsim.digest() == digest
