"""vm_power through both real transports (PSRP and WinRS) against a live hvsim server."""

from __future__ import annotations

import pytest

from support.modules import run_module

WEB01 = "6f0c2d9e-0002-4c00-8a00-000000000002"  # HV01, Running


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


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_vm_power_stop_start_both_transports(hvsim, transport):
    args = dict(conn(hvsim, transport), vm_id=WEB01, state="stopped", poll_interval=0)
    digest = hvsim.digest()
    r = run_module("vm_power", args, check_mode=True, diff=True)
    assert not r.failed, r.get("msg")
    assert r.changed and r["previous_state"] == "Running" and r["state"] == "Off"
    assert hvsim.digest() == digest

    r = run_module("vm_power", args)
    assert not r.failed, r.get("msg")
    assert r.changed and r["state"] == "Off"
    assert hvsim.lab.vms[WEB01].state == "Off"
    info = run_module("vm_info", dict(conn(hvsim, transport), vm_id=WEB01))
    assert not info.failed, info.get("msg")
    assert info["vms"][0]["state"] == "Off"

    r = run_module("vm_power", args)
    assert not r.failed and not r.changed

    r = run_module("vm_power", dict(args, state="started"))
    assert not r.failed and r.changed and r["previous_state"] == "Off"
    assert hvsim.lab.vms[WEB01].state == "Running"
    assert hvsim.open_shells() == 0  # test-matrix B9: the connection is always closed


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_vm_power_connection_drop_after_turn_off_converges(hvsim, transport):
    """test-matrix B1/B2 analogue: the reply to Stop-VM is lost; a rerun converges with no second action."""
    args = dict(conn(hvsim, transport), vm_id=WEB01, state="off", poll_interval=0)
    hvsim.inject_fault("drop_after_mutation", count=1)
    r = run_module("vm_power", args)
    assert r.failed
    assert "may already have been applied" in r["msg"]
    assert hvsim.lab.vms[WEB01].state == "Off"
    r = run_module("vm_power", args)
    assert not r.failed and not r.changed and r["previous_state"] == "Off"


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_vm_power_refuses_turn_off_while_merging(hvsim, transport):
    lab = hvsim.lab
    lab.switches["merge_hold"] = True
    with lab.locked():
        snap = sorted(lab.snapshots_of(WEB01), key=lambda s: s.creation_time)[0]
    lab.remove_snapshots("HV01", [snap.id])
    digest = hvsim.digest()
    r = run_module("vm_power", dict(conn(hvsim, transport), vm_id=WEB01, state="off", poll_interval=0))
    assert r.failed and not r.changed and "merging disks" in r["msg"]
    assert hvsim.digest() == digest and lab.vms[WEB01].state == "Running"


def test_vm_power_list_fails_fast_and_names_the_vms_not_attempted(hvsim):
    """Failure rule of a VM list: the first failure stops the task; the VMs after it are listed, untouched."""
    lab = hvsim.lab
    with lab.locked():
        running = [vm for vm in lab.vms.values() if vm.host == "HV01" and vm.state == "Running" and vm.id != WEB01]
    first, last = running[0], running[1]
    lab.switches["merge_hold"] = True
    with lab.locked():
        snap = sorted(lab.snapshots_of(WEB01), key=lambda s: s.creation_time)[0]
    lab.remove_snapshots("HV01", [snap.id])  # web01 is merging: turning it off is refused
    r = run_module("vm_power", dict(conn(hvsim, "psrp"), vm_ids=[first.id, WEB01, last.id], state="off",
                                    poll_interval=0))
    assert r.failed and "merging disks" in r["msg"]
    assert [v["vm_id"] for v in r["vms"]] == [first.id] and r["vms"][0]["state"] == "Off"
    assert r["not_attempted"] == [{"vm_id": last.id, "vm_name": last.name}]
    assert "Not attempted" in str(r.get("warnings")) and last.name in str(r.get("warnings")), r.get("warnings")
    assert lab.vms[first.id].state == "Off" and lab.vms[WEB01].state == "Running"
    assert lab.vms[last.id].state == "Running"  # not attempted, untouched
