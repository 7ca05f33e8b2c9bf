"""End to end on the real engine and the demo lab: Hyper-V\\Get-VM over PSRP and over the WinRS runner."""

from __future__ import annotations

import uuid

import pytest
from pypsrp.powershell import PowerShell, RunspacePool

from protocol_clients import psrp_wsman, winrm_protocol
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _winrs_runner as R

pytestmark = [pytest.mark.simulator]


@pytest.fixture
def lab_sim(hvsim):
    return hvsim


def test_demo_lab_endpoints(lab_sim):
    assert lab_sim.hosts == ["HV01", "HV02", "HV03"]
    assert lab_sim.username == lab_sim.lab.credentials["username"]
    assert len(lab_sim.digest()) == 64


@pytest.mark.psrp
def test_get_vm_over_psrp(lab_sim):
    with RunspacePool(psrp_wsman(lab_sim, scheme="https", host="HV01")) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Hyper-V\\Get-VM")
        out = ps.invoke()
    assert not ps.had_errors, [str(e) for e in ps.streams.error]
    assert out, "the demo lab has VMs on HV01"
    vm = out[0]
    assert vm.types[0] == "Deserialized.Microsoft.HyperV.PowerShell.VirtualMachine"
    assert vm.types[-1] == "Deserialized.System.Object"
    props = vm.adapted_properties
    assert isinstance(props["Name"], str)
    assert isinstance(props["Id"], uuid.UUID)
    state = props["State"]
    assert "System.Enum" in state.types and str(state) in {"Running", "Off", "Saved", "Paused"}
    assert isinstance(state.property_sets[0], int)


@pytest.mark.psrp
def test_unknown_vm_error_over_psrp(lab_sim):
    with RunspacePool(psrp_wsman(lab_sim, scheme="http", host="HV02", auth="negotiate")) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Hyper-V\\Get-VM").add_parameter("Id", str(uuid.uuid4()))
        ps.invoke()
    assert ps.streams.error
    assert "Microsoft.HyperV.PowerShell.Commands.GetVM" in ps.streams.error[0].fq_error


@pytest.mark.winrs
def test_get_vm_over_winrs_runner(lab_sim):
    p = winrm_protocol(lab_sim, scheme="https", host="HV01")
    shell = p.open_shell(codepage=65001)
    try:
        cid = p.run_command(shell, R.POWERSHELL_EXE, R.command_arguments())
        p.send_command_input(shell, cid, R.build_stdin([[{"cmdlet": "Hyper-V\\Get-VM", "parameters": []}]]), end=True)
        out, err, rc = p.get_command_output(shell, cid)
    finally:
        p.close_shell(shell)
    assert rc == 0, err
    result = R.parse_stdout(out, 1)[0]
    assert result["state"] == "Completed" and result["errors"] == []
    vm = result["output"][0]
    assert vm["State"] in {"Running", "Off", "Saved", "Paused"}
    assert vm["Id"] == vm["Id"].lower() and len(vm["Id"]) == 36


def test_mutation_changes_digest_and_drop_after_mutation(lab_sim):
    """A checkpoint through PSRP changes the lab digest; with the fault the reply is lost but the change stays."""
    with RunspacePool(psrp_wsman(lab_sim, scheme="https", host="HV01")) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Hyper-V\\Get-VM")
        vm = ps.invoke()[0]
    vm_id = str(vm.adapted_properties["Id"])
    before = lab_sim.digest()
    lab_sim.inject_fault("drop_after_mutation", count=1)
    import requests

    pool = RunspacePool(psrp_wsman(lab_sim, scheme="https", host="HV01"))
    pool.open()
    ps = PowerShell(pool)
    ps.add_cmdlet("Hyper-V\\Get-VM").add_parameter("Id", vm_id)
    ps.add_cmdlet("Hyper-V\\Checkpoint-VM").add_parameter("SnapshotName", "hvsim-drop-test")
    with pytest.raises(requests.exceptions.ConnectionError):
        ps.invoke()
    assert lab_sim.digest() != before
    with RunspacePool(psrp_wsman(lab_sim, scheme="https", host="HV01")) as pool2:
        ps = PowerShell(pool2)
        ps.add_cmdlet("Hyper-V\\Get-VM").add_parameter("Id", vm_id)
        ps.add_cmdlet("Hyper-V\\Get-VMSnapshot")
        names = [s.adapted_properties["Name"] for s in ps.invoke()]
        assert not ps.streams.error, [str(e) for e in ps.streams.error]
    assert "hvsim-drop-test" in names


def test_lab_domain_user_over_ntlm(lab_sim):
    with RunspacePool(psrp_wsman(lab_sim, scheme="http", host="HV03", username="CORP\\" + lab_sim.username)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Hyper-V\\Get-VM")
        ps.invoke()
    assert not ps.had_errors
