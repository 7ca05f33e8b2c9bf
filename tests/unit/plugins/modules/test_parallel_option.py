"""The ``parallel`` option of the VM-list modules (issue 7): validated, handed to the transport, and the
per-VM reads and writes that go through one ``client.run`` list (in process, hvsim model).
"""

from __future__ import annotations

import typing as t
from unittest import mock

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _batch as batch
from hvsim.lab import load_lab
from support.engine_transport import EngineTransport
from support.modules import MODULE_BASE

from test_checkpoint_common import APP01, DC01, DEEP01, LNX01, SQLCLU_A, WEB01, module_run

GET_IC = "Hyper-V\\Get-VMIntegrationService"
SET_VM = "Hyper-V\\Set-VM"


class RecordingTransport(EngineTransport):
    """Records the ``parallel`` of every run() call and the pipelines of each call."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parallel_seen: t.List[int] = []
        self.calls: t.List[t.List[t.List[dict]]] = []

    def run(self, pipelines, parallel=1, on_result=None):
        self.parallel_seen.append(parallel)
        self.calls.append(list(pipelines))
        return super().run(pipelines, parallel=parallel, on_result=on_result)


class Session(object):
    def __init__(self):
        self.transports: t.List[RecordingTransport] = []
        self.max_parallel: t.List[int] = []


def run(module, args, lab, host="HV01", check_mode=False):
    session = Session()

    def factory(options, max_parallel=1):
        session.max_parallel.append(max_parallel)
        tr = RecordingTransport(options, lab, host)
        session.transports.append(tr)
        return tr

    full = dict({"hyperv_host": "engine.invalid", "hyperv_username": "hvsim\\tester",
                 "hyperv_password": "unused-by-engine-transport", "_ansible_check_mode": check_mode}, **args)
    if not module.endswith("_info"):
        full.setdefault("poll_interval", 0)
    with mock.patch(MODULE_BASE + ".create_transport", side_effect=factory):
        r = module_run(module, full)
    return r, session


def calls_with(session, cmdlet):
    """The run() calls that carried a pipeline with ``cmdlet``, as lists of such pipelines."""
    out = []
    for tr in session.transports:
        for call in tr.calls:
            hits = [p for p in call if any(c["cmdlet"] == cmdlet for c in p)]
            if hits:
                out.append(hits)
    return out


@pytest.fixture
def lab():
    return load_lab("demo")


CASES = [
    ("vm_info", {"names": ["web01", "app01"], "vm_ids": [DEEP01]}),
    ("checkpoint_info", {"vm_names": ["web01"], "vm_ids": [APP01, DEEP01]}),
    ("checkpoint_policy", {"vm_ids": [WEB01, APP01], "checkpoint_type": "production_only"}),
    ("checkpoint_prune", {"vm_names": ["web01", "app01"], "keep_newest": 1, "owned_only": False,
                          "name_pattern": "nightly"}),
    ("vm_power", {"vm_ids": [WEB01, APP01], "state": "started"}),
    ("checkpoint_apply", {"vm_ids": [DEEP01, WEB01], "latest": True, "force": True, "stop_method": "turn_off"}),
]


@pytest.mark.parametrize("module, args", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("parallel", [None, 1, 3, batch.MAX_PARALLEL])
def test_parallel_reaches_the_transport(lab, module, args, parallel):
    if parallel is not None:
        args = dict(args, parallel=parallel)
    r, session = run(module, args, lab)
    assert not r.failed, r.get("msg")
    want = batch.DEFAULT_PARALLEL if parallel is None else parallel
    assert want == (4 if parallel is None else parallel)
    assert session.max_parallel and set(session.max_parallel) == {want}  # the pool is opened with that size
    seen = [p for tr in session.transports for p in tr.parallel_seen]
    assert seen and set(seen) == {want}  # every run() call gets the window


@pytest.mark.parametrize("module, args", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("bad", [0, -1, batch.MAX_PARALLEL + 1])
def test_parallel_out_of_range_fails_before_connecting(lab, module, args, bad):
    digest = lab.digest()
    r, session = run(module, dict(args, parallel=bad), lab)
    assert r.failed and not r.changed
    assert "parallel must be between 1 and %d" % batch.MAX_PARALLEL in r["msg"] and str(bad) in r["msg"]
    assert session.transports == []
    assert lab.digest() == digest


def test_policy_writes_go_in_one_run_and_a_refusal_spares_the_others(lab):
    """Set-VM for several VMs is one run() list; Hyper-V refusing one VM (clustered, no AllowUnverifiedPaths)
    still changes the others, and the task fails naming the refused VM."""
    r, session = run("checkpoint_policy", {"vm_ids": [SQLCLU_A, LNX01, DC01],
                                           "snapshot_file_location": "D:\\Hyper-V\\cp", "parallel": 2}, lab)
    assert r.failed and r.changed
    writes = calls_with(session, SET_VM)
    assert [len(c) for c in writes] == [3]
    assert "AllowUnverifiedPaths" in r["msg"] and "VM 'sqlclu-a'" in r["msg"]
    assert [e["vm_id"] for e in r["vms"]] == [LNX01, DC01]
    assert lab.vms[LNX01].snapshot_file_location == "D:\\Hyper-V\\cp"
    assert lab.vms[DC01].snapshot_file_location == "D:\\Hyper-V\\cp"
    assert lab.vms[SQLCLU_A].snapshot_file_location != "D:\\Hyper-V\\cp"
    # a rerun changes only what still differs
    r, session = run("checkpoint_policy", {"vm_ids": [LNX01, DC01], "snapshot_file_location": "D:\\Hyper-V\\cp"},
                     lab)
    assert not r.failed and not r.changed and calls_with(session, SET_VM) == []


def test_vm_power_reads_the_shutdown_services_in_one_round(lab):
    r, session = run("vm_power", {"vm_ids": [WEB01, APP01, LNX01], "state": "stopped"}, lab, check_mode=True)
    assert not r.failed, r.get("msg")
    assert [e["action"] for e in r["vms"]] == ["shutdown"] * 3
    assert [len(c) for c in calls_with(session, GET_IC)] == [3]


def test_vm_power_never_turns_off_on_prefetched_data(lab):
    """A prefetched 'shutdown not usable' is read again for that VM before a turn-off is decided."""
    for svc in lab.vms[APP01].integration:
        if svc.name == "Shutdown":
            svc.guest_ok = False
    r, session = run("vm_power", {"vm_ids": [WEB01, APP01], "state": "stopped", "force_after_timeout": True}, lab,
                     check_mode=True)
    assert not r.failed, r.get("msg")
    assert [e["action"] for e in r["vms"]] == ["shutdown", "turn_off"]
    reads = calls_with(session, GET_IC)
    assert [len(c) for c in reads] == [2, 1]
    assert reads[1][0][0]["parameters"] == [["Id", APP01]]


class DropOnSecondWrite(RecordingTransport):
    """Applies the second Set-VM, then the connection drops before its result arrives."""

    writes = 0

    def _run(self, pipelines, parallel):
        if any(c["cmdlet"] == SET_VM for p in pipelines for c in p):
            type(self).writes += 1
            if type(self).writes == 2:
                super()._run(pipelines, parallel)
                from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import ConnectionError as CE
                raise CE("dropped", write_may_have_applied=True, request_sent=True)
        return super()._run(pipelines, parallel)


def test_policy_session_fault_mid_window_keeps_what_was_written(lab):
    """VM 1's Set-VM came back, VM 2's result was lost, VM 3 was never sent: changed stays true, the message
    names VM 2 as unknown, and a rerun converges."""
    DropOnSecondWrite.writes = 0
    vms = [LNX01, DC01, WEB01]
    for vm_id in vms:
        lab.vms[vm_id].automatic_checkpoints = True

    def factory(options, max_parallel=1):
        return DropOnSecondWrite(options, lab, "HV01")

    args = {"vm_ids": vms, "automatic_checkpoints": False, "parallel": 1}
    conn = {"hyperv_host": "engine.invalid", "hyperv_username": "hvsim\\tester", "poll_interval": 0,
            "hyperv_password": "unused-by-engine-transport"}
    with mock.patch(MODULE_BASE + ".create_transport", side_effect=factory):
        r = module_run("checkpoint_policy", dict(conn, **args))
    assert r.failed and r.changed, r["msg"]
    assert "result is unknown" in r["msg"] and DC01 in r["msg"]
    assert lab.vms[LNX01].automatic_checkpoints is False
    assert lab.vms[WEB01].automatic_checkpoints is True  # never sent
    r, _session = run("checkpoint_policy", args, lab)
    assert not r.failed and r.changed, r.get("msg")
    assert all(lab.vms[v].automatic_checkpoints is False for v in vms)
