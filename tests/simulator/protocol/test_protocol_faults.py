"""Protocol faults from the FaultPlan, the CLI spec syntax and the control endpoint."""

from __future__ import annotations

import time

import pytest
import requests
from pypsrp.exceptions import AuthenticationError, WSManFaultError as PsrpFault
from pypsrp.powershell import PowerShell, RunspacePool
from winrm.exceptions import InvalidCredentialsError, WinRMTransportError, WSManFaultError

from protocol_clients import psrp_wsman, winrm_protocol
from hvsim.faults import FaultPlan, parse_spec
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _winrs_runner as R

pytestmark = [pytest.mark.simulator]


def _invoke(pool, cmdlet, **params):
    ps = PowerShell(pool)
    ps.add_cmdlet(cmdlet)
    for k, v in params.items():
        ps.add_parameter(k, v)
    return ps, ps.invoke()


def test_auth_failure_fault(sim):
    sim.inject_fault("auth_failure", count=1)
    p = winrm_protocol(sim, scheme="https", transport="basic")
    with pytest.raises(InvalidCredentialsError):
        p.open_shell()
    p.close_shell(p.open_shell())  # one-shot: the next request authenticates again
    assert sim.stats()["faults_fired"]["auth_failure"] == 1


def test_drop_connection_after_n_requests(sim):
    p = winrm_protocol(sim, scheme="https", transport="basic")
    shell = p.open_shell()
    sim.inject_fault("drop_connection", after=1, count=1)
    cid = p.run_command(shell, "whoami")  # request 1 passes
    with pytest.raises(requests.exceptions.ConnectionError):
        p.get_command_output(shell, cid)  # request 2 is dropped
    p.close_shell(shell)  # a new connection works
    assert sim.stats()["faults_fired"]["drop_connection"] == 1


def test_drop_after_mutation_psrp(sim, fake_engine):
    sim.inject_fault("drop_after_mutation", count=1)
    pool = RunspacePool(psrp_wsman(sim))
    pool.open()
    _invoke(pool, "Hyper-V\\Get-VM", Name="vm1")  # not a change: delivered normally
    with pytest.raises(requests.exceptions.ConnectionError):
        _invoke(pool, "Hyper-V\\Checkpoint-VM", SnapshotName="before-drop")
    assert fake_engine.checkpoints == ["before-drop"]  # applied, reply lost
    # pypsrp keeps the old encryption state after a dropped connection, so this pool is unusable
    # (as against real Windows); the shell stays open on the server until the fixture stops.
    assert sim.open_shells() == 1
    assert sim.stats()["faults_fired"]["drop_after_mutation"] == 1


def test_drop_after_mutation_winrs(sim, fake_engine):
    sim.inject_fault("drop_after_mutation")
    p = winrm_protocol(sim)
    shell = p.open_shell()
    cid = p.run_command(shell, R.POWERSHELL_EXE, R.command_arguments())
    p.send_command_input(shell, cid, R.build_stdin(
        [[{"cmdlet": "Hyper-V\\Checkpoint-VM", "parameters": [["SnapshotName", "w1"]]}]]), end=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        p.get_command_output(shell, cid)
    assert fake_engine.checkpoints == ["w1"]
    winrm_protocol(sim).close_shell(shell)  # a new client (new NTLM context) can still clean up
    assert sim.open_shells() == 0


def test_operation_timeout_fault_is_retried_by_clients(sim):
    sim.inject_fault("operation_timeout", count=2)
    with RunspacePool(psrp_wsman(sim)) as pool:
        ps, out = _invoke(pool, "Hyper-V\\Get-VM", Name="vm1")
    assert len(out) == 1
    assert sim.stats()["faults_fired"]["operation_timeout"] == 2


def test_operation_timeout_fault_raw(sim):
    sim.inject_fault("operation_timeout", count=1)
    p = winrm_protocol(sim)
    shell = p.open_shell()
    cid = p.run_command(shell, "whoami")
    from winrm.exceptions import WinRMOperationTimeoutError

    with pytest.raises(WinRMOperationTimeoutError):
        p._raw_get_command_output(shell, cid)
    p.close_shell(shell)


def test_max_shells_per_user(sim):
    sim.inject_fault("max_shells_per_user", value=2)
    p = winrm_protocol(sim)
    shells = [p.open_shell(), p.open_shell()]
    with pytest.raises(WSManFaultError) as err:
        p.open_shell()
    assert err.value.wsman_fault_code == 2150859173
    assert err.value.wmierror_code == 2150859173
    with pytest.raises(PsrpFault) as perr:
        RunspacePool(psrp_wsman(sim)).open()
    assert perr.value.code == 2150859173
    p.close_shell(shells.pop())
    shells.append(p.open_shell())  # room again after a close
    for s in shells:
        p.close_shell(s)
    assert sim.open_shells() == 0


def test_max_shells_default_is_30(sim):
    assert sim.faults.max_shells_per_user == 30
    p = winrm_protocol(sim, scheme="https", transport="basic")
    shells = [p.open_shell() for _ in range(30)]
    with pytest.raises(WSManFaultError) as err:
        p.open_shell()
    assert err.value.wsman_fault_code == 2150859173
    for s in shells:
        p.close_shell(s)
    assert sim.stats()["max_concurrent_shells"]["hv01"] == 30


def test_max_concurrent_operations(sim):
    sim.inject_fault("max_concurrent_operations", value=2)
    p = winrm_protocol(sim)
    shell = p.open_shell()
    for _ in range(2):
        cid = p.run_command(shell, "whoami")
        p.cleanup_command(shell, cid)  # WinRS does not give the operation back within the shell
    with pytest.raises(WSManFaultError) as err:
        p.run_command(shell, "whoami")
    assert err.value.wsman_fault_code == 2150859174 and err.value.wmierror_code == 2150859174
    p.close_shell(shell)
    shell = p.open_shell()  # the cure Ansible applies: a new shell
    p.cleanup_command(shell, p.run_command(shell, "whoami"))
    p.close_shell(shell)


def test_transient_http_500(sim):
    sim.inject_fault("http_500", count=1)
    p = winrm_protocol(sim, scheme="https", transport="basic")
    with pytest.raises(WinRMTransportError) as err:
        p.open_shell()
    assert err.value.code == 500
    p.close_shell(p.open_shell())


def test_latency(sim):
    p = winrm_protocol(sim, scheme="https", transport="basic")
    p.close_shell(p.open_shell())
    sim.inject_fault("latency", seconds=0.3)
    start = time.monotonic()
    p.close_shell(p.open_shell())
    assert time.monotonic() - start >= 0.6  # two replies, each delayed


def test_fault_limited_to_a_host(hvsim_factory, fake_engine):
    sim = hvsim_factory(None, engine=fake_engine, hosts=["hv01", "hv02"])
    sim.inject_fault("http_500", host="hv02", count=None)
    p1 = winrm_protocol(sim, scheme="https", transport="basic", host="hv01")
    p1.close_shell(p1.open_shell())
    p2 = winrm_protocol(sim, scheme="https", transport="basic", host="hv02")
    with pytest.raises(WinRMTransportError):
        p2.open_shell()


def test_model_faults_are_forwarded(sim, fake_engine):
    sim.inject_fault("vss_failure", vm="dc01", count=1)
    assert fake_engine.faults == [("vss_failure", {"vm": "dc01", "count": 1})]


def test_spec_syntax():
    assert parse_spec("drop_after_mutation:count=1,host=HV01") == ("drop_after_mutation", {"count": 1, "host": "HV01"})
    assert parse_spec("latency:seconds=0.25") == ("latency", {"seconds": 0.25})
    assert parse_spec("http_500:count=none") == ("http_500", {"count": None})
    plan = FaultPlan()
    plan.apply("http_500", count=2, after=1)
    assert [plan.fire("http_500") for _ in range(4)] == [False, True, True, False]
    with pytest.raises(ValueError):
        plan.add("no_such_fault")


def test_control_endpoint_injects_faults(sim, fake_engine):
    url = sim.http_url().replace("/wsman", "/hvsim/faults")
    headers = {"X-Hvsim-Token": sim.control_token}
    r = requests.post(url, json={"specs": ["http_500:count=1", "backup_lock:vm=vm1"]}, headers=headers,
                      proxies={"http": None})
    assert r.status_code == 200 and r.json()["faults"][0]["kind"] == "http_500"
    assert fake_engine.faults == [("backup_lock", {"vm": "vm1"})]
    p = winrm_protocol(sim, scheme="https", transport="basic")
    with pytest.raises(WinRMTransportError):
        p.open_shell()
    r = requests.post(url, json={"clear": True}, headers=headers, proxies={"http": None})
    assert r.json()["faults"] == []
