"""WinRS (cmd shell) with pywinrm: the collection's runner, stdin, CLIXML errors, faults, long-poll."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
import winrm
from winrm.exceptions import WinRMOperationTimeoutError, WSManFaultError

from protocol_clients import winrm_protocol
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _winrs_runner as R

pytestmark = [pytest.mark.simulator, pytest.mark.winrs]


def _run_runner(p, pipelines, chunk=None):
    shell = p.open_shell(codepage=65001)
    try:
        cid = p.run_command(shell, R.POWERSHELL_EXE, R.command_arguments())
        stdin = R.build_stdin(pipelines).encode()
        chunk = chunk or len(stdin)
        for i in range(0, len(stdin), chunk):
            p.send_command_input(shell, cid, stdin[i:i + chunk], end=i + chunk >= len(stdin))
        out, err, rc = p.get_command_output(shell, cid)
        p.cleanup_command(shell, cid)
        return out, err, rc
    finally:
        p.close_shell(shell)


def test_runner_roundtrip(sim, fake_engine):
    p = winrm_protocol(sim)
    pipelines = [
        [{"cmdlet": "Hyper-V\\Get-VM", "parameters": [["Name", "vm1"]]}],
        [{"cmdlet": "Hyper-V\\Get-VM", "parameters": [["Name", "missing"]]}],
        [{"cmdlet": "Hyper-V\\Checkpoint-VM", "parameters": [["SnapshotName", "n1"], ["Confirm", False]]}],
    ]
    out, err, rc = _run_runner(p, pipelines, chunk=4096)  # stdin in several Sends
    assert rc == 0 and err == b""
    results = R.parse_stdout(out, 3)
    vm = results[0]["output"][0]
    assert vm["Name"] == "vm1" and vm["State"] == "Running" and vm["OperationalStatus"] == ["Ok"]
    assert vm["Id"] == "6f0c2d9e-1111-4a4a-8b8b-0123456789ab"
    assert vm["CreationTime"] == "2026-11-25T15:07:27.0000000+00:00"
    assert vm["Uptime"] == 90.5 and vm["MemoryStartup"] == 1073741824 and vm["Host"] == "Microsoft.HyperV.PowerShell.VMHost"
    assert results[0]["state"] == "Completed" and results[0]["errors"] == []
    assert results[1]["errors"][0]["fqid"].startswith("InvalidParameter,") and results[1]["state"] == "Completed"
    assert results[2]["state"] == "Completed" and fake_engine.checkpoints == ["n1"]
    calls, ctx = fake_engine.calls[-1]
    assert calls[0].parameters == [("SnapshotName", "n1"), ("Confirm", False)] and ctx.transport == "winrs"
    assert sim.open_shells() == 0


def test_runner_refuses_cmdlets_off_the_allow_list(sim, fake_engine):
    # Stop-Computer is a real cmdlet the collection never sends, so it is off the allow-list.
    assert "Microsoft.PowerShell.Management\\Stop-Computer" not in R.ALLOWED_CMDLETS
    out, err, rc = _run_runner(winrm_protocol(sim), [[{"cmdlet": "Microsoft.PowerShell.Management\\Stop-Computer",
                                                        "parameters": [["Force", True]]}]])
    result = R.parse_stdout(out, 1)[0]
    assert rc == 0 and result["state"] == "Failed" and fake_engine.calls == []


@pytest.mark.parametrize("name", ["hyper-v\\get-vm", "Get-VM", "HYPER-V\\Get-VM", "Microsoft.PowerShell.Utility\\Select-Object"])
def test_runner_looks_names_up_exactly_as_listed(sim, fake_engine, name):
    # the runner's allow-list is a Dictionary with StringComparer.Ordinal: another case or another
    # qualification of a listed cmdlet is refused with the runner's own record (New-HvRefusal)
    out, err, rc = _run_runner(winrm_protocol(sim), [[{"cmdlet": name, "parameters": []}]])
    result = R.parse_stdout(out, 1)[0]
    assert rc == 0 and result["state"] == "Failed" and fake_engine.calls == []
    error = result["errors"][0]
    assert error["fqid"] == "CommandNotAllowed,HyperV.Checkpoints.Runner" and error["category"] == "PermissionDenied"
    assert error["message"] == "The command '%s' is not on the runner allow-list." % name
    assert error["exception"] == "System.Management.Automation.CommandNotFoundException"
    out, err, rc = _run_runner(winrm_protocol(sim), [[{"cmdlet": "Hyper-V\\Get-VM", "parameters": []}]])
    assert R.parse_stdout(out, 1)[0]["state"] == "Completed" and len(fake_engine.calls) == 1


def test_tampered_runner_is_refused(sim, fake_engine):
    p = winrm_protocol(sim)
    shell = p.open_shell()
    cid = p.run_command(shell, R.POWERSHELL_EXE, R.command_arguments())
    evil = base64.b64encode(b"Remove-Item C:\\ -Recurse").decode()
    req = base64.b64encode(json.dumps({"version": 1, "pipelines": []}).encode()).decode()
    p.send_command_input(shell, cid, ("%s\n%s\n" % (evil, req)).encode(), end=True)
    out, err, rc = p.get_command_output(shell, cid)
    p.close_shell(shell)
    assert rc == 1 and out == b"" and err.startswith(b"#< CLIXML") and b"does not interpret" in err


def test_arbitrary_powershell_gets_clixml_error(sim):
    s = winrm.Session(sim.http_url(), auth=(sim.username, sim.password), transport="ntlm")
    r = s.run_ps("Get-Process")
    assert r.status_code == 1
    assert b"does not interpret arbitrary PowerShell" in r.std_err
    assert not r.std_err.startswith(b"#< CLIXML")  # run_ps cleaned the CLIXML, so it was well formed
    r = s.run_cmd("ipconfig", ["/all"])
    assert r.status_code == 1 and r.std_err.startswith(b"#< CLIXML")
    assert sim.open_shells() == 0


def test_relates_to_is_echoed(sim):
    p = winrm_protocol(sim)
    shell = p.open_shell()
    msg_id = str(uuid.uuid4()).upper()
    req = {"env:Envelope": p._get_soap_header(
        resource_uri="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd",
        action="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command",
        shell_id=shell, message_id=msg_id)}
    req["env:Envelope"].setdefault("env:Body", {})["rsp:CommandLine"] = {"rsp:Command": "whoami"}
    import xmltodict
    res = p.send_message(xmltodict.unparse(req))
    import xml.etree.ElementTree as ET
    root = ET.fromstring(res)
    relates = root.find("{http://www.w3.org/2003/05/soap-envelope}Header/{http://schemas.xmlsoap.org/ws/2004/08/addressing}RelatesTo")
    assert relates is not None and relates.text == "uuid:" + msg_id
    action = root.find("{http://www.w3.org/2003/05/soap-envelope}Header/{http://schemas.xmlsoap.org/ws/2004/08/addressing}Action")
    assert action.text.endswith("/CommandResponse")
    p.close_shell(shell)  # pywinrm itself asserts RelatesTo on Delete


def test_unknown_shell_fault(sim):
    p = winrm_protocol(sim)
    with pytest.raises(WSManFaultError) as err:
        p.run_command(str(uuid.uuid4()).upper(), "whoami")
    assert err.value.wsman_fault_code == 2150858843
    shell = p.open_shell()
    p.close_shell(shell)
    with pytest.raises(WSManFaultError) as err:
        p.close_shell(shell)
    assert err.value.wsman_fault_code == 2150858843


def test_idle_receive_long_polls_then_times_out(sim):
    p = winrm_protocol(sim, operation_timeout=1)
    shell = p.open_shell()
    cid = p.run_command(shell, R.POWERSHELL_EXE, R.command_arguments())
    # stdin never ends: the bootstrap waits, Receive has nothing to return
    start = time.monotonic()
    with pytest.raises(WinRMOperationTimeoutError):
        p._raw_get_command_output(shell, cid)
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 5, elapsed  # it waited for the OperationTimeout, without spinning
    assert sim.stats()["requests_by_action"]["Receive"] == 1
    p.cleanup_command(shell, cid)
    p.close_shell(shell)


def test_ansible_style_send_before_first_receive(sim, fake_engine):
    """Ansible's winrm plugin: Command, then stdin via Send, then Receive; the command starts lazily."""
    p = winrm_protocol(sim)
    shell = p.open_shell(codepage=65001)
    cid = p.run_command(shell, R.POWERSHELL_EXE, R.command_arguments())
    p.send_command_input(shell, cid, R.build_stdin([[{"cmdlet": "Hyper-V\\Get-VM", "parameters": []}]]), end=True)
    assert fake_engine.calls == []  # nothing ran before the first Receive
    out, err, rc = p.get_command_output(shell, cid)
    assert rc == 0 and len(fake_engine.calls) == 1
    p.close_shell(shell)


def test_large_output_is_split_by_envelope_size(sim, fake_engine):
    from hvsim.engine.types import HvObject, PipelineResult

    big = "y" * 300000
    fake_engine.run_pipeline = lambda calls, context: PipelineResult(output=[HvObject("Hvsim.Test.Blob", {"V": big})])
    sim.reset_stats()
    out, err, rc = _run_runner(winrm_protocol(sim), [[{"cmdlet": "Hyper-V\\Get-VM", "parameters": []}]])
    assert rc == 0 and R.parse_stdout(out, 1)[0]["output"][0]["V"] == big
    assert sim.stats()["requests_by_action"]["Receive"] >= 3  # 300 kB in <= ~111 kB pieces


def test_both_transports_give_the_same_plain_data(sim):
    """contracts.md §2: the runner JSON (WinRS) equals the collection's conversion of pypsrp objects (PSRP)."""
    P = pytest.importorskip("ansible_collections.hyperv.checkpoints.plugins.module_utils._psrp")
    from pypsrp.powershell import PowerShell, RunspacePool

    from protocol_clients import psrp_wsman

    pipelines = [[{"cmdlet": "Hyper-V\\Get-VM", "parameters": [["Name", "vm1"]]}],
                 [{"cmdlet": "Hyper-V\\Get-VM", "parameters": [["Name", "missing"]]}]]
    out, err, rc = _run_runner(winrm_protocol(sim), pipelines)
    winrs = R.parse_stdout(out, 2)
    psrp = []
    with RunspacePool(psrp_wsman(sim)) as pool:
        for pipeline in pipelines:
            ps = PowerShell(pool)
            for command in pipeline:
                ps.add_cmdlet(command["cmdlet"])
                for name, value in command["parameters"]:
                    ps.add_parameter(name, value)
            objs = ps.invoke()
            psrp.append({"output": [P.to_plain(o) for o in objs],
                         "errors": [P.error_to_info(e) for e in ps.streams.error],
                         "state": "Failed" if ps.had_errors else "Completed"})
    assert psrp == winrs


def test_terminated_before_stdin_end_runs_nothing(sim, fake_engine):
    p = winrm_protocol(sim, operation_timeout=1)
    shell = p.open_shell()
    cid = p.run_command(shell, R.POWERSHELL_EXE, R.command_arguments())
    p.send_command_input(shell, cid, R.build_stdin(
        [[{"cmdlet": "Hyper-V\\Checkpoint-VM", "parameters": [["SnapshotName", "never"]]}]]), end=False)
    with pytest.raises(WinRMOperationTimeoutError):
        p._raw_get_command_output(shell, cid)  # started, waiting for the end of stdin
    p.cleanup_command(shell, cid)  # Signal terminate
    p.close_shell(shell)
    time.sleep(0.2)
    assert fake_engine.calls == [] and fake_engine.checkpoints == []
