"""checkpoint batch mode (vm_names / vm_ids, issue 7) against the hvsim model, in process.

Each VM is verified on the lab model (independently of the module's own results).
"""

from __future__ import annotations

import threading
import time
import typing as t
from unittest import mock

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _batch as batch
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _host_reads as host_reads
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import ConnectionError as HvConnectionError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import QuotaError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import is_write_pipeline
from hvsim.lab import load_lab
from support.engine_transport import EngineTransport
from support.modules import MODULE_BASE

from test_checkpoint_common import (
    APP01, DC01, DEEP01, LNX01, SQLCLU_A, WEB01, assert_safe_pipelines, cps, make_shared_vhdx, module_run, names, run,
    warnings_of,
)

HV01_OK = ["web01", "app01", "lnx01", "deep01"]  # HV01 VMs that can be checkpointed
ENTRY_KEYS = {"vm_id", "vm_name", "changed", "action", "failed", "skipped", "msg", "checkpoint", "achieved_type",
              "requested_type", "fallback", "removed", "merge_seconds", "preflight", "warnings", "error"}


@pytest.fixture
def lab():
    return load_lab("demo")


def is_vm_listing(pipeline):
    """A host-wide Get-VM, full or projected."""
    return pipeline[0] == {"cmdlet": "Hyper-V\\Get-VM", "parameters": []} and (
        len(pipeline) == 1 or (len(pipeline) == 2 and pipeline[1]["cmdlet"] == "Select-Object"))


def by_name(result):
    return dict((e["vm_name"], e) for e in result["results"])


def count_named(lab, vm_id, name):
    return names(lab, vm_id).count(name)


def test_create_check_real_rerun_and_remove(lab):
    """Check mode (digest unchanged, same shape), real run verified on the model, rerun ok; then absent."""
    args = {"vm_names": HV01_OK, "name": "batch-1"}
    digest = lab.digest()
    trs: t.List[EngineTransport] = []
    r = run("checkpoint", args, lab, check_mode=True, diff=True, transports=trs)
    assert not r.failed, r.get("msg")
    assert lab.digest() == digest
    assert not any(is_write_pipeline(p) for tr in trs for p in tr.pipelines_run)
    assert r.changed and r["summary"] == {"total": 4, "changed": 4, "failed": 0, "skipped": 0, "unchanged": 0}
    assert [e["vm_name"] for e in r["results"]] == HV01_OK
    assert all(set(e) == ENTRY_KEYS for e in r["results"])
    assert [e["action"] for e in r["results"]] == ["create"] * 4
    assert by_name(r)["web01"]["achieved_type"] == "production"
    assert by_name(r)["lnx01"]["achieved_type"] == "standard" and by_name(r)["lnx01"]["fallback"]
    assert len(r["diff"]) == 4 and r["diff"][0]["before_header"] == "web01 (%s)" % WEB01
    assert r["diff"][0]["after"]["checkpoints"][-1]["id"] == "(new)"
    check_shape = [(e["vm_id"], e["action"], e["changed"]) for e in r["results"]]

    trs = []
    r = run("checkpoint", args, lab, diff=True, transports=trs)
    assert not r.failed, r.get("msg")
    assert [(e["vm_id"], e["action"], e["changed"]) for e in r["results"]] == check_shape
    assert_safe_pipelines(trs, ["batch-1"])
    for vm_id in (WEB01, APP01, LNX01, DEEP01):
        assert count_named(lab, vm_id, "batch-1") == 1
    for e in r["results"]:
        made = [s for s in cps(lab, e["vm_id"]) if s.name == "batch-1"][0]
        assert e["checkpoint"]["id"] == made.id and lab.vms[e["vm_id"]].parent_snapshot_id == made.id
    assert by_name(r)["app01"]["achieved_type"] == "standard"
    assert r["diff"][0]["after"]["current_checkpoint_id"] == by_name(r)["web01"]["checkpoint"]["id"]
    assert any("lnx01" in w and "standard checkpoint with memory" in w for w in warnings_of(r))
    assert len(trs) == 1 and trs[0].close_count == 1  # one session for the whole batch

    digest = lab.digest()
    r = run("checkpoint", args, lab)
    assert not r.failed and not r.changed and r["summary"]["unchanged"] == 4
    assert all(e["action"] == "none" for e in r["results"])
    assert lab.digest() == digest

    absent = dict(args, state="absent")
    r = run("checkpoint", absent, lab, check_mode=True, diff=True)
    assert not r.failed and r.changed and [e["action"] for e in r["results"]] == ["remove"] * 4
    assert lab.digest() == digest
    assert all("batch-1" not in [c["name"] for c in d["after"]["checkpoints"]] for d in r["diff"])
    r = run("checkpoint", absent, lab)
    assert not r.failed and r.changed, r.get("msg")
    assert all(e["merge_seconds"] is not None for e in r["results"])
    for vm_id in (WEB01, APP01, LNX01, DEEP01):
        assert count_named(lab, vm_id, "batch-1") == 0
        assert not lab.vms[vm_id].busy
    r = run("checkpoint", absent, lab)
    assert not r.failed and not r.changed


def test_collect_refusals_do_not_block_the_others(lab):
    """Preflight refusals (DC, shared VHDX, unknown name) fail their VM only; the others are created."""
    make_shared_vhdx(lab)
    r = run("checkpoint", {"vm_names": ["web01", "dc01", "nope", "sqlclu-a", "deep01"], "name": "c1"}, lab)
    assert r.failed and r.changed
    e = by_name(r)
    assert not e["web01"]["failed"] and e["web01"]["changed"] and count_named(lab, WEB01, "c1") == 1
    assert not e["deep01"]["failed"] and count_named(lab, DEEP01, "c1") == 1
    assert e["dc01"]["failed"] and "domain controller" in e["dc01"]["msg"] and not e["dc01"]["changed"]
    assert e["sqlclu-a"]["failed"] and "shared virtual hard disk" in e["sqlclu-a"]["msg"]
    assert e["nope"]["failed"] and e["nope"]["vm_id"] is None and "No VM named 'nope'" in e["nope"]["msg"]
    assert count_named(lab, DC01, "c1") == 0 and count_named(lab, SQLCLU_A, "c1") == 0
    assert "3 of 5 VMs failed on host engine.invalid" in r["msg"]
    assert "'dc01' (%s)" % DC01 in r["msg"] and "'nope'" in r["msg"]
    assert r["summary"] == {"total": 5, "changed": 2, "failed": 3, "skipped": 0, "unchanged": 0}
    # the rerun converges: the good VMs are unchanged, the refusals stay refusals
    r = run("checkpoint", {"vm_names": ["web01", "dc01", "nope", "sqlclu-a", "deep01"], "name": "c1"}, lab)
    assert r.failed and not r.changed and r["summary"]["unchanged"] == 2


def test_fail_fast_preflight_failure_writes_nothing(lab):
    digest = lab.digest()
    r = run("checkpoint", {"vm_names": ["web01", "dc01", "deep01"], "name": "ff", "batch_failure": "fail_fast"}, lab)
    assert r.failed and not r.changed
    assert lab.digest() == digest
    e = by_name(r)
    assert e["dc01"]["failed"] and e["web01"]["skipped"] and e["deep01"]["skipped"]
    assert "Not attempted: batch_failure=fail_fast and VM 'dc01'" in e["web01"]["msg"]
    assert "not attempted" in r["msg"] and r["summary"]["skipped"] == 2


def test_fail_fast_write_failure_stops_new_writes(lab):
    """A host-side failure the preflight cannot see (broken chain): with parallel 1, the VMs after it are skipped."""
    lab.inject_fault("broken_chain", vm=APP01)
    r = run("checkpoint", {"vm_names": HV01_OK, "name": "ff", "batch_failure": "fail_fast", "parallel": 1}, lab)
    assert r.failed and r.changed
    e = by_name(r)
    assert e["web01"]["changed"] and not e["web01"]["failed"] and count_named(lab, WEB01, "ff") == 1
    assert e["app01"]["failed"] and "Failed to create checkpoint 'ff'" in e["app01"]["msg"]
    assert e["lnx01"]["skipped"] and e["deep01"]["skipped"] and not e["lnx01"]["changed"]
    assert count_named(lab, LNX01, "ff") == 0 and count_named(lab, DEEP01, "ff") == 0
    assert r["summary"] == {"total": 4, "changed": 1, "failed": 1, "skipped": 2, "unchanged": 0}


def test_collect_write_failure_attempts_every_vm(lab):
    lab.inject_fault("broken_chain", vm=APP01)
    r = run("checkpoint", {"vm_names": HV01_OK, "name": "co", "parallel": 1}, lab)
    assert r.failed and r.changed
    e = by_name(r)
    assert e["app01"]["failed"] and not any(e[n]["failed"] or e[n]["skipped"] for n in ("web01", "lnx01", "deep01"))
    assert [count_named(lab, v, "co") for v in (WEB01, APP01, LNX01, DEEP01)] == [1, 0, 1, 1]
    assert r["msg"].startswith("1 of 4 VMs failed")


def test_validation(lab):
    r = run("checkpoint", {"vm_names": ["web01"], "vm_name": "web01", "name": "x"}, lab)
    assert r.failed and "mutually exclusive" in r["msg"]
    r = run("checkpoint", {"vm_ids": [WEB01], "checkpoint_id": WEB01, "state": "absent"}, lab)
    assert r.failed and "checkpoint_id is not accepted" in r["msg"]
    r = run("checkpoint", {"vm_names": ["web01"], "name": "x", "new_name": "y"}, lab)
    assert r.failed and "new_name" in r["msg"]
    for bad in (0, batch.MAX_PARALLEL + 1):
        r = run("checkpoint", {"vm_names": ["web01"], "name": "x", "parallel": bad}, lab)
        assert r.failed and "parallel must be between 1 and 16" in r["msg"]
    r = run("checkpoint", {"vm_ids": ["not-a-guid"], "name": "x"}, lab)
    assert r.failed and "vm_ids[0] must be a GUID" in r["msg"]


def test_vm_ids_and_names_combined_once(lab):
    r = run("checkpoint", {"vm_names": ["web01"], "vm_ids": [WEB01.upper(), DEEP01], "name": "once"}, lab)
    assert not r.failed, r.get("msg")
    assert [e["vm_id"] for e in r["results"]] == [WEB01, DEEP01]
    assert count_named(lab, WEB01, "once") == 1


def test_empty_list_changes_nothing(lab):
    r = run("checkpoint", {"vm_ids": [], "name": "x"}, lab)
    assert not r.failed and not r.changed and r["results"] == []


# ---------------------------------------------------------------------------------------------- parallelism
class ThreadedEngineTransport(EngineTransport):
    """Runs the pipelines of one run() call on threads, at most ``parallel`` at once (as the
    transport contract says), each write taking a little time; records the pipelines in flight."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.write_calls: t.List[int] = []
        self.parallel_args: t.List[int] = []

    def _run(self, pipelines, parallel):
        self.parallel_args.append(parallel)
        writes = [p for p in pipelines if is_write_pipeline(p)]
        if writes:
            self.write_calls.append(len(writes))
        gate = threading.Semaphore(parallel)
        results: t.List[t.Any] = [None] * len(pipelines)

        def one(i):
            with gate:
                with self.lock:
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    if is_write_pipeline(pipelines[i]):
                        time.sleep(0.02)
                    results[i] = EngineTransport._run(self, [pipelines[i]], 1)[0]
                finally:
                    with self.lock:
                        self.in_flight -= 1

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(pipelines))]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return results


def run_threaded(lab, args, host):
    made: t.List[ThreadedEngineTransport] = []

    def factory(options, max_parallel=1):
        tr = ThreadedEngineTransport(options, lab, host)
        made.append(tr)
        return tr

    with mock.patch(MODULE_BASE + ".create_transport", side_effect=factory):
        r = module_run("checkpoint", dict({"poll_interval": 0, "hyperv_host": "engine.invalid",
                                           "hyperv_username": "hvsim\\tester", "hyperv_password": "unused-by-engine-transport"}, **args))
    return r, made[0]


@pytest.mark.parametrize("parallel", [1, 3])
def test_parallelism_is_bounded(parallel):
    lab = load_lab("fleet", hosts=1, vms_per_host=12)
    host = next(iter(lab.hosts))
    ids = [v.id for v in lab.vms.values()]
    r, tr = run_threaded(lab, {"vm_ids": ids, "name": "par", "parallel": parallel}, host)
    assert set(tr.parallel_args) == {parallel}
    assert tr.max_in_flight <= parallel
    assert max(tr.write_calls) <= parallel
    ok = [e for e in r["results"] if not e["failed"]]
    assert len(ok) >= 6
    if parallel > 1:
        assert tr.max_in_flight == parallel  # it really ran concurrently
    for e in r["results"]:
        assert count_named(lab, e["vm_id"], "par") == (0 if e["failed"] else 1)
    for e in r["results"]:
        if e["failed"]:  # the fleet's ProductionOnly VMs that are Saved cannot take a production checkpoint
            assert "production_only" in e["msg"]


# ---------------------------------------------------------------------------------------------- drops and quotas
class FlakyTransport(EngineTransport):
    """Fails the first write run() call: ``mode`` 'after' applies it then drops the reply; 'before' fails
    without sending; 'quota' refuses with a quota fault. Read calls fail ``read_quota`` times first."""

    def __init__(self, *args, mode="after", read_quota=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.mode = mode
        self.fired = False
        self.read_quota = read_quota
        self.sent: t.List[list] = []  # every write pipeline handed to the transport, applied or not

    def _run(self, pipelines, parallel):
        write = any(is_write_pipeline(p) for p in pipelines)
        self.sent.extend(p for p in pipelines if is_write_pipeline(p))
        if not write and self.read_quota:
            self.read_quota -= 1
            raise QuotaError("quota", quota="MaxConcurrentOperationsPerUser", fault_code=2150859174)
        if write and not self.fired:
            self.fired = True
            if self.mode == "after":
                super()._run(pipelines, parallel)
                raise HvConnectionError("dropped", write_may_have_applied=True, request_sent=True)
            if self.mode == "partial":
                super()._run(pipelines[:1], parallel)
                raise HvConnectionError("dropped", write_may_have_applied=True, request_sent=True)
            if self.mode == "quota":
                raise QuotaError("quota", quota="MaxConcurrentOperationsPerUser", fault_code=2150859174)
        return super()._run(pipelines, parallel)


def run_flaky(lab, args, **kwargs):
    made = []

    def factory(options, max_parallel=1):
        tr = FlakyTransport(options, lab, "HV01", **kwargs)
        made.append(tr)
        return tr

    with mock.patch(MODULE_BASE + ".create_transport", side_effect=factory), \
            mock.patch.object(batch.lc, "sleep", lambda s: None):
        r = module_run("checkpoint", dict({"poll_interval": 0, "hyperv_host": "engine.invalid",
                                           "hyperv_username": "hvsim\\tester", "hyperv_password": "unused-by-engine-transport"}, **args))
    return r, made[0]


@pytest.mark.parametrize("mode", ["after", "partial", "quota"])
@pytest.mark.parametrize("state", ["present", "absent"])
def test_lost_write_is_reread_never_repeated_blindly(lab, mode, state):
    if state == "absent":
        for vm_id in (WEB01, APP01, LNX01, DEEP01):
            lab.checkpoint("HV01", vm_id, "gone-soon")
    args = {"vm_names": HV01_OK, "name": "gone-soon" if state == "absent" else "drop", "state": state, "parallel": 4}
    r, tr = run_flaky(lab, args, mode=mode)
    assert not r.failed, r.get("msg")
    assert r.changed and all(e["changed"] for e in r["results"])
    applied = [p for p in tr.pipelines_run if is_write_pipeline(p)]
    if mode == "after":  # all applied: adopted, nothing re-sent
        assert len(tr.sent) == 4 and len(applied) == 4
        assert sum("was not created again" in w or "is gone" in w for w in warnings_of(r)) == 4
    elif mode == "partial":  # one applied (adopted), three re-sent once after the re-read showed them not applied
        assert len(tr.sent) == 4 + 3 and len(applied) == 4
        assert sum("sent once more" in w for w in warnings_of(r)) == 3
    else:  # the quota fault refused the chunk: re-read, then each sent once more
        assert len(tr.sent) == 4 + 4 and len(applied) == 4
    for vm_id in (WEB01, APP01, LNX01, DEEP01):
        assert count_named(lab, vm_id, args["name"]) == (1 if state == "present" else 0)
    r, _tr = run_flaky(lab, args, mode="none")
    assert not r.failed and not r.changed


def test_lost_write_with_fail_fast_is_not_retried(lab):
    r, tr = run_flaky(lab, {"vm_names": HV01_OK, "name": "ffd", "batch_failure": "fail_fast", "parallel": 2},
                      mode="partial")
    assert r.failed
    e = by_name(r)
    assert e["web01"]["changed"] and not e["web01"]["failed"]  # applied before the drop: adopted
    assert e["app01"]["failed"] and "not applied" in e["app01"]["msg"]
    assert e["lnx01"]["skipped"] and e["deep01"]["skipped"]
    assert [count_named(lab, v, "ffd") for v in (WEB01, APP01, LNX01, DEEP01)] == [1, 0, 0, 0]
    r, _tr = run_flaky(lab, {"vm_names": HV01_OK, "name": "ffd"}, mode="none")
    assert not r.failed and r["summary"]["changed"] == 3
    assert [count_named(lab, v, "ffd") for v in (WEB01, APP01, LNX01, DEEP01)] == [1, 1, 1, 1]


def test_read_quota_fault_is_retried(lab):
    r, tr = run_flaky(lab, {"vm_names": ["web01"], "name": "rq"}, mode="none", read_quota=2)
    assert not r.failed, r.get("msg")
    assert count_named(lab, WEB01, "rq") == 1


def test_merges_are_polled_together(lab):
    """One Get-VM listing per poll for every merging VM, never a Get-VM -Id per VM."""
    for vm_id in (WEB01, APP01, LNX01, DEEP01):
        lab.checkpoint("HV01", vm_id, "m")
        lab.simulate_writes(vm_id, 64 * 1024 * 1024)
    lab.switches["merge_hold"] = True
    polls = []

    def sleep(seconds):
        polls.append(seconds)
        if len(polls) == 2:
            lab.release_merges()

    trs = []
    with mock.patch.object(batch.lc, "sleep", sleep):
        r = run("checkpoint", {"vm_names": HV01_OK, "name": "m", "state": "absent", "poll_interval": 0.5}, lab,
                transports=trs)
    assert not r.failed, r.get("msg")
    assert polls == [0.5, 0.5]
    pipelines = trs[0].pipelines_run
    first_remove = min(i for i, p in enumerate(pipelines) if is_write_pipeline(p))
    after = pipelines[first_remove + 4:]
    per_vm_reads = [p for p in after if p[0]["cmdlet"] == "Hyper-V\\Get-VM" and p[0]["parameters"]]
    assert per_vm_reads == []
    polls = [p for p in after if p == host_reads.vm_statuses_pipeline()]
    assert len(polls) == 3  # three polls, each of Id, Name and OperationalStatus only
    assert not [p for p in after if is_vm_listing(p) and p not in polls]  # the after state: only for --diff
    assert all(e["merge_seconds"] is not None for e in r["results"])


@pytest.mark.parametrize("diff,extra_reads", [(False, 0), (True, 1)])
def test_after_state_is_read_only_for_the_diff(lab, diff, extra_reads):
    trs = []
    r = run("checkpoint", {"vm_names": HV01_OK, "name": "d"}, lab, diff=diff, transports=trs)
    assert not r.failed, r.get("msg")
    pipelines = trs[0].pipelines_run
    last_write = max(i for i, p in enumerate(pipelines) if is_write_pipeline(p))
    listings = [p for p in pipelines[last_write + 1:] if is_vm_listing(p)]
    assert len(listings) == extra_reads
    if diff:
        after = r["diff"][0]["after"]
        assert any(c["name"] == "d" for c in after["checkpoints"])  # read back, not predicted
        assert all(c["id"] != "(new)" for c in after["checkpoints"])


def test_merge_polls_are_predicted_from_the_first_removal(lab):
    """The host merges from the first removal on: the prediction counts that time, the reported wait does not."""
    for vm_id in (WEB01, APP01, LNX01, DEEP01):
        lab.checkpoint("HV01", vm_id, "m")
        lab.simulate_writes(vm_id, 64 * 1024 * 1024)
    lab.switches["merge_hold"] = True
    clock = [1000.0]
    elapsed_seen, slept = [], []
    real_write_round = batch.BatchRunner._write_round
    real_delay = batch.merge_poll_delay

    def write_round(runner, entries):
        queue = real_write_round(runner, entries)
        clock[0] += 8.0  # sending the window took 8 s while the first merges already ran
        return queue

    def delay(interval, elapsed, total, pending):
        elapsed_seen.append(elapsed)
        return real_delay(interval, elapsed, total, pending)

    def sleep(seconds):
        clock[0] += seconds
        slept.append(seconds)
        if len(elapsed_seen) == 2:
            lab.release_merges()

    with mock.patch.object(batch.lc, "monotonic", lambda: clock[0]), mock.patch.object(batch.lc, "sleep", sleep), \
            mock.patch.object(batch.BatchRunner, "_write_round", write_round), \
            mock.patch.object(batch, "merge_poll_delay", delay):
        r = run("checkpoint", {"vm_names": HV01_OK, "name": "m", "state": "absent", "poll_interval": 0.5}, lab)
    assert not r.failed, r.get("msg")
    assert elapsed_seen[0] == pytest.approx(8.0)  # the first poll, at once: 8 s since the first removal
    assert elapsed_seen[1] > 8.0
    # merge_seconds counts the wait only: the sleeps between the polls, not the 8 s of the window
    assert [e["merge_seconds"] for e in r["results"]] == [pytest.approx(sum(slept))] * len(HV01_OK)


@pytest.mark.parametrize("interval,elapsed,total,pending,expected", [
    (2.0, 0.0, 10, 10, 2.0),     # nothing known yet: the poll interval
    (2.0, 5.0, 10, 10, 2.0),     # no merge finished yet
    (2.0, 10.0, 10, 5, 5.0),     # half done in 10 s: about 10 s left, sleep half of it
    (2.0, 10.0, 50, 10, 2.0),    # 2.5 s predicted: never below the interval
    (0.5, 60.0, 4, 1, 10.0),     # 20 s predicted for the last one
    (2.0, 60.0, 10, 9, 30.0),    # one early finish predicts 540 s; merges side by side end together: cap elapsed/2
])
def test_merge_poll_delay(interval, elapsed, total, pending, expected):
    assert batch.merge_poll_delay(interval, elapsed, total, pending) == pytest.approx(expected)


def test_merge_timeout_fails_those_vms_with_changed(lab):
    lab.checkpoint("HV01", WEB01, "slow")
    lab.checkpoint("HV01", DEEP01, "slow")
    lab.simulate_writes(WEB01, 64 * 1024 * 1024)
    lab.simulate_writes(DEEP01, 64 * 1024 * 1024)
    lab.switches["merge_hold"] = True
    with mock.patch.object(batch.lc, "sleep", lambda s: None):
        r = run("checkpoint", {"vm_names": ["web01", "deep01"], "name": "slow", "state": "absent",
                               "merge_timeout": 0}, lab)
    assert r.failed and r.changed
    assert all(e["failed"] and e["changed"] and "still running" in e["msg"] for e in r["results"])
    # changed and failed both: counted in each, never as a negative "unchanged"
    assert r["summary"] == {"total": 2, "changed": 2, "failed": 2, "skipped": 0, "unchanged": 0}
    assert count_named(lab, WEB01, "slow") == 0


def test_busy_vm_is_waited_for_together(lab):
    """A merging VM is waited for (one listing per poll), then checkpointed; a backup-held VM fails at once."""
    lab.checkpoint("HV01", WEB01, "old")
    lab.simulate_writes(WEB01, 64 * 1024 * 1024)
    lab.switches["merge_hold"] = True
    lab.remove_snapshots("HV01", [s.id for s in cps(lab, WEB01) if s.name == "old"])
    lab.inject_fault("backup_lock", vm=APP01)
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        lab.release_merges()

    with mock.patch.object(batch.lc, "sleep", sleep):
        r = run("checkpoint", {"vm_names": ["web01", "app01", "deep01"], "name": "after-merge"}, lab)
    e = by_name(r)
    assert slept, "the merging VM was not waited for"
    assert not e["web01"]["failed"] and count_named(lab, WEB01, "after-merge") == 1
    assert e["app01"]["failed"] and "backup" in e["app01"]["msg"]
    assert not e["deep01"]["failed"]


class DeadAfterWritesTransport(EngineTransport):
    """Applies the writes, then the host is unreachable for good (every later call fails)."""

    dead = False

    def _run(self, pipelines, parallel):
        if self.dead:
            raise HvConnectionError("refused", request_sent=False)
        if any(is_write_pipeline(p) for p in pipelines):
            super()._run(pipelines, parallel)
            self.dead = True
            raise HvConnectionError("dropped", write_may_have_applied=True, request_sent=True)
        return super()._run(pipelines, parallel)


def test_host_lost_after_writes_reports_unknown_and_rerun_converges(lab):
    def factory(options, max_parallel=1):
        return DeadAfterWritesTransport(options, lab, "HV01")

    with mock.patch(MODULE_BASE + ".create_transport", side_effect=factory), \
            mock.patch.object(batch.lc, "sleep", lambda s: None):
        r = module_run("checkpoint", {"vm_names": ["web01", "deep01"], "name": "lost", "poll_interval": 0,
                                      "hyperv_host": "engine.invalid", "hyperv_username": "hvsim\\tester",
                                      "hyperv_password": "unused-by-engine-transport"})
    assert r.failed
    assert all(e["failed"] and "state of this VM is unknown" in e["msg"] for e in r["results"])
    assert "Run the task again" in r["msg"]
    # the writes did happen; the rerun adopts them and creates nothing more
    r = run("checkpoint", {"vm_names": ["web01", "deep01"], "name": "lost"}, lab)
    assert not r.failed and not r.changed
    assert count_named(lab, WEB01, "lost") == 1 and count_named(lab, DEEP01, "lost") == 1


def test_remove_with_children_per_vm(lab):
    """remove_children removes each VM's subtree; a VM without the checkpoint is unchanged."""
    before = names(lab, DEEP01)
    assert "L3" in before
    args = {"vm_names": ["deep01", "web01"], "name": "L3", "state": "absent", "remove_children": True}
    digest = lab.digest()
    r = run("checkpoint", args, lab, check_mode=True, diff=True)
    assert not r.failed and lab.digest() == digest
    e = by_name(r)
    assert e["web01"]["action"] == "none" and not e["web01"]["changed"]
    removed = [c["name"] for c in e["deep01"]["removed"]]
    assert removed[0] == "L3" and len(removed) > 1
    r = run("checkpoint", args, lab)
    assert not r.failed, r.get("msg")
    assert names(lab, DEEP01) == [n for n in before if n not in removed]
    r = run("checkpoint", args, lab)
    assert not r.failed and not r.changed


class HostListingErrorTransport(EngineTransport):
    """The host-wide checkpoint listing reports an error (a VM moving away mid-listing)."""

    def _run(self, pipelines, parallel):
        out = []
        for p in pipelines:
            if p == host_reads.all_checkpoints_pipeline():
                out.append({"output": [], "state": "Completed", "errors": [{
                    "fqid": "OperationFailed", "category": "InvalidOperation", "message": "moved",
                    "target": None, "exception": None}]})
            else:
                out.extend(super()._run([p], parallel))
        return out


def test_host_wide_listing_error_falls_back_to_per_vm_listings(lab):
    made = []

    def factory(options, max_parallel=1):
        tr = HostListingErrorTransport(options, lab, "HV01")
        made.append(tr)
        return tr

    with mock.patch(MODULE_BASE + ".create_transport", side_effect=factory):
        r = module_run("checkpoint", {"vm_names": ["web01", "deep01"], "name": "fb-list", "poll_interval": 0,
                                      "hyperv_host": "engine.invalid", "hyperv_username": "hvsim\\tester",
                                      "hyperv_password": "unused-by-engine-transport"})
    assert not r.failed, r.get("msg")
    per_vm = [p for p in made[0].pipelines_run if p[0]["cmdlet"] == "Hyper-V\\Get-VM" and p[0]["parameters"]
              and p[-1]["cmdlet"] == "Hyper-V\\Get-VMSnapshot"]
    assert len(per_vm) >= 2
    assert count_named(lab, WEB01, "fb-list") == 1 and count_named(lab, DEEP01, "fb-list") == 1


def test_an_endpoint_without_select_object_is_read_as_full_objects(lab):
    """A JEA session that does not expose Select-Object: each read refused for it is read again in full."""
    from hvsim.engine.catalogue import Catalogue

    from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import is_projected

    real = Catalogue.resolve_command

    def without_select_object(self, name):
        return None if name.lower() == "select-object" else real(self, name)

    runs = []
    with mock.patch.object(Catalogue, "resolve_command", without_select_object):
        for state in ("present", "absent"):
            trs: t.List[EngineTransport] = []
            r = run("checkpoint", {"vm_names": HV01_OK, "name": "jea", "state": state, "poll_interval": 0.01}, lab,
                    transports=trs)
            assert not r.failed, r.get("msg")
            runs.append(trs[0].pipelines_run)
    assert all(count_named(lab, vm_id, "jea") == 0 for vm_id in (WEB01, APP01, LNX01, DEEP01))
    assert r["summary"]["changed"] == 4 and all(e["merge_seconds"] is not None for e in r["results"])
    for pipelines in runs:
        projected = [i for i, p in enumerate(pipelines) if is_projected(p)]
        assert projected
        # each refused projection is read again in full, and nothing after that asks for one
        reread = [pipelines.index(pipelines[i][:-1], i) for i in projected]
        assert max(projected) < min(reread)
