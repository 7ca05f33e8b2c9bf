"""Endpoints, stats, shell accounting, teardown without leaks, and the CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
from pypsrp.powershell import PowerShell, RunspacePool

from protocol_clients import psrp_wsman, winrm_protocol
from hvsim.server import HvsimServer
from protocol_fakes import FakeEngine

pytestmark = [pytest.mark.simulator]

NOPROXY = {"http": None, "https": None}


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def _traffic(sim) -> None:
    with RunspacePool(psrp_wsman(sim, scheme="https")) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Hyper-V\\Get-VM").add_parameter("Name", "vm1")
        ps.invoke()
    p = winrm_protocol(sim)
    p.close_shell(p.open_shell())


def test_server_stop_leaves_no_threads_or_ports():
    before = set(threading.enumerate())
    server = HvsimServer(engine=FakeEngine(), hosts=["hv01", "hv02"]).start()
    ports = [listener.port for per in server.listeners.values() for listener in per.values()]
    assert len(ports) == 4 and not any(_refused(p) for p in ports)

    from hvsim.fixture import HvsimHandle

    sim = HvsimHandle(server)
    _traffic(sim)
    # leave a pool open and a keep-alive connection idle, and a Receive long-polling
    pool = RunspacePool(psrp_wsman(sim))
    pool.open()
    p = winrm_protocol(sim, operation_timeout=30)
    shell = p.open_shell()
    cid = p.run_command(shell, "powershell.exe", ["-EncodedCommand", "AAAA"])
    poller = threading.Thread(target=lambda: _swallow(p._raw_get_command_output, shell, cid), daemon=True)
    hang = RunspacePool(psrp_wsman(sim))
    hang.open()
    ps = PowerShell(hang)
    ps.add_cmdlet("Sleep").add_parameter("Seconds", 0.2)
    ps.begin_invoke()
    poller.start()
    time.sleep(0.3)
    assert server.open_shell_count() == 3

    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 15
    poller.join(10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        leaked = [t for t in set(threading.enumerate()) - before if t.is_alive() and t is not poller]
        if not leaked:
            break
        time.sleep(0.05)
    assert leaked == []
    assert all(_refused(p) for p in ports)
    assert "NTLM_USER_FILE" in os.environ


def _swallow(fn, *args):
    try:
        fn(*args)
    except Exception:
        pass


_FIXTURE_RECORD: dict = {}


def test_fixture_part1_records_ports_and_threads(hvsim_factory, fake_engine):
    _FIXTURE_RECORD["before"] = {t for t in threading.enumerate()}
    sim = hvsim_factory(None, engine=fake_engine, hosts=["hv01"])
    _traffic(sim)
    _FIXTURE_RECORD["ports"] = [sim.port("hv01", "http"), sim.port("hv01", "https")]
    _FIXTURE_RECORD["threads"] = {t for t in threading.enumerate()} - _FIXTURE_RECORD["before"]
    assert _FIXTURE_RECORD["threads"], "the server runs listener threads"


def test_fixture_part2_teardown_left_nothing_behind():
    if "ports" not in _FIXTURE_RECORD:
        pytest.skip("needs test_fixture_part1 to run first")
    assert all(_refused(p) for p in _FIXTURE_RECORD["ports"])
    assert [t for t in _FIXTURE_RECORD["threads"] if t.is_alive()] == []


def test_shell_count_returns_to_baseline(sim):
    sim.reset_stats()
    base = sim.open_shells()
    pools = [RunspacePool(psrp_wsman(sim)) for _ in range(3)]
    for pool in pools:
        pool.open()
    p = winrm_protocol(sim)
    shells = [p.open_shell() for _ in range(2)]
    stats = sim.stats()
    assert stats["open_shells"]["hv01"][sim.username] == base + 5
    assert stats["open_shells_by_kind"] == {"psrp": 3, "winrs": 2}
    assert stats["max_concurrent_shells"]["hv01"] == base + 5
    for pool in pools:
        pool.close()
    for s in shells:
        p.close_shell(s)
    assert sim.open_shells() == base
    assert sim.stats()["shells_created"] == sim.stats()["shells_deleted"] == 5


def test_control_endpoints(sim, fake_engine):
    base = sim.http_url().replace("/wsman", "")
    assert requests.get(base + "/hvsim/stats", proxies=NOPROXY).status_code == 401
    h = {"X-Hvsim-Token": sim.control_token}
    _traffic(sim)
    stats = requests.get(base + "/hvsim/stats", headers=h, proxies=NOPROXY).json()
    assert stats["requests"] > 5 and stats["open_shells_total"] == 0 and stats["pipelines"] == 1
    fake_engine.checkpoints.append("x")
    assert requests.get(base + "/hvsim/digest", headers=h, proxies=NOPROXY).json() == {"digest": fake_engine.digest()}
    assert requests.get(base + "/hvsim/state", headers=h, proxies=NOPROXY).json() == {"checkpoints": ["x"]}
    # Basic credentials work too (over HTTPS)
    r = requests.get(sim.https_url().replace("/wsman", "/hvsim/stats"), auth=(sim.username, sim.password),
                     verify=sim.ca_path, proxies=NOPROXY)
    assert r.status_code == 200
    r = requests.post(base + "/hvsim/reset-stats", headers=h, proxies=NOPROXY)
    assert r.status_code == 200 and r.json()["requests"] == 0
    assert requests.get(base + "/hvsim/nope", headers=h, proxies=NOPROXY).status_code == 404


def test_cli_serve(tmp_path):
    state = tmp_path / "state"
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", ".."))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hvsim", "serve", "--lab", "demo", "--state-dir", str(state), "--time-scale", "0",
         "--fault", "latency:seconds=0.01"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        endpoint = state / "endpoint.json"
        deadline = time.monotonic() + 60
        while not endpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert endpoint.exists(), proc.stdout.read() if proc.poll() is not None else "no endpoint.json"
        ep = json.loads(endpoint.read_text())
        assert set(ep["hosts"]) == {"HV01", "HV02", "HV03"}
        assert os.path.exists(ep["ca_path"])
        host = ep["hosts"]["HV01"]
        from pypsrp.wsman import WSMan

        wsman = WSMan("127.0.0.1", port=host["https_port"], auth="ntlm", username=ep["username"],
                      password=ep["password"], cert_validation=ep["ca_path"], no_proxy=True, operation_timeout=5,
                      read_timeout=15)
        with RunspacePool(wsman) as pool:
            ps = PowerShell(pool)
            ps.add_cmdlet("Hyper-V\\Get-VM")
            ps.invoke()
            assert ps.streams.error or ps.output is not None  # a pipeline came back from the real engine
        h = {"X-Hvsim-Token": ep["control_token"]}
        base = host["http_url"].replace("/wsman", "")
        faults = requests.get(base + "/hvsim/faults", headers=h, proxies=NOPROXY).json()
        assert faults["latency"] == 0.01
        digest = requests.get(base + "/hvsim/digest", headers=h, proxies=NOPROXY).json()["digest"]
        assert len(digest) == 64
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "hvsim: stopped" in out and "username:" in out
    assert _refused(ep["hosts"]["HV01"]["http_port"])
