"""Labs: demo contents, fleet generator, persistence, digest, cost model, time_scale, locking."""

from __future__ import annotations

import json
import threading
import time

import pytest

from hvsim.lab import generate_fleet, load_lab
from hvsim.model import ManualClock, has_wildcards, wildcard_match
from hvsim.model.clock import RealClock

from behaviour_support import DEMO_IDS, Caller, plain

GiB = 1024 ** 3


def test_demo_lab_contents(lab):
    # source: brief (demo: 3 hosts, >= 12 VMs, 2-DC domain, 2-node guest cluster, replica, linux without VSS,
    # deep chain with a branch, VM at 49 checkpoints, duplicate VM and checkpoint names)
    assert sorted(lab.hosts) == ["HV01", "HV02", "HV03"]
    assert len(lab.vms) >= 12
    dcs = [v for v in lab.vms.values() if v.guest.kvp.get("ProductType") == "2"]
    assert len(dcs) == 2 and len({v.guest.domain for v in dcs}) == 1
    cluster = [v for v in lab.vms.values() if v.guest.cluster == "SQLCLU"]
    assert len(cluster) == 2 and all(v.is_clustered for v in cluster)
    replica = lab.vms[DEMO_IDS["web02-replica"]]
    assert replica.replication_mode == "Replica"
    assert {s.snapshot_type for s in lab.snapshots_of(replica.id)} == {"Recovery", "Replica"}
    lnx = lab.vms[DEMO_IDS["lnx01"]]
    assert lnx.guest.os == "linux" and not lnx.guest.vss
    deep = lab.snapshots_of(DEMO_IDS["deep01"])
    depth = {}
    for s in deep:
        depth[s.id] = 1 + depth.get(s.parent_id, 0)
    assert max(depth.values()) == 6 and len([s for s in deep if len(lab.children_of(s.id)) > 1]) == 1
    assert len(lab.snapshots_of(DEMO_IDS["nightly49"])) == 49
    names = [v.name for v in lab.vms.values()]
    assert names.count("web01") == 2 and len({v.host for v in lab.vms.values() if v.name == "web01"}) == 2
    app = [s.name for s in lab.snapshots_of(DEMO_IDS["app01"])]
    assert app.count("nightly") == 2
    states = {v.state for v in lab.vms.values()}
    assert {"Running", "Off", "Saved", "Paused"} <= states
    types = {v.checkpoint_type for v in lab.vms.values()}
    assert types == {"Disabled", "Production", "ProductionOnly", "Standard"}


def test_digest_stable_and_sensitive(clock):
    # source: brief (digest: sha256 of a canonical dump of everything observable, stable across runs)
    a = load_lab("demo", clock=ManualClock(), time_scale=0)
    b = load_lab("demo", clock=ManualClock(), time_scale=0)
    assert a.digest() == b.digest()
    call = Caller(a)
    call("HV01", "Get-VM", "Name")
    call("HV01", "Get-VMSnapshot", "VMName", VMName=["*"])
    assert a.digest() == b.digest()  # reads change nothing
    call("HV01", "Set-VM", "VMObject", VM=[call.vm("dc01")], Notes="x")
    assert a.digest() != b.digest()
    json.dumps(a.dump())  # JSON data only
    # with the real clock too: building a lab never depends on the time it is built
    assert load_lab("demo").digest() == load_lab("demo").digest() == load_lab("demo", clock=ManualClock()).digest()


def test_state_survives_restart(tmp_path):
    # source: brief (state persists as JSON in the state dir; a lab survives a restart)
    lab = load_lab("demo", state_dir=str(tmp_path), clock=ManualClock())
    call = Caller(lab)
    call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm("dc01")], SnapshotName="persisted")
    files = list(tmp_path.iterdir())
    assert [f.name for f in files] == ["demo.state.json"]  # no temp files left behind
    again = load_lab("demo", state_dir=str(tmp_path), clock=ManualClock())
    assert again.digest() == lab.digest()
    assert "persisted" in [s.name for s in again.snapshots_of(DEMO_IDS["dc01"])]
    fresh = load_lab("demo", clock=ManualClock())
    assert fresh.digest() != again.digest()


def test_fleet_is_deterministic_and_sized():
    # source: brief (fleet: generated H hosts x N VMs, deterministic seed)
    a = load_lab("fleet", hosts=3, vms_per_host=7, clock=ManualClock())
    b = load_lab("fleet", hosts=3, vms_per_host=7, clock=ManualClock())
    assert len(a.hosts) == 3 and len(a.vms) == 21 and a.digest() == b.digest()
    assert all(len(a.vms_on(h)) == 7 for h in a.hosts)
    assert generate_fleet(2, 2, seed=1) != generate_fleet(2, 2, seed=2)
    call = Caller(a)
    h = sorted(a.hosts)[0]
    assert len(call(h, "Get-VM", "Name").output) == 7


def test_checkpoint_cost_model(lab, clock):
    # source: docs/hvsim.md cost model (checkpoint: fixed overhead by type + memory / throughput when memory is saved)
    lab.time_scale = 1.0
    for v in lab.vms.values():
        v.write_rate = 0
    call = Caller(lab)
    t0 = clock.now()
    call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm("app01")], SnapshotName="std")  # Standard, 8 GiB
    assert clock.now() - t0 == pytest.approx(lab.costs["checkpoint_standard"] + 8 * GiB / lab.hosts["HV01"].throughput)
    t0 = clock.now()
    call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm("web01")], SnapshotName="prod")  # production: no memory
    assert clock.now() - t0 == pytest.approx(lab.costs["checkpoint_production"])
    lab.time_scale = 0.5  # time_scale multiplies every delay
    t0 = clock.now()
    call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm("web01")], SnapshotName="prod2")
    assert clock.now() - t0 == pytest.approx(0.5 * lab.costs["checkpoint_production"])


def test_time_scale_zero_is_instant(lab, clock):
    # source: brief (time_scale 0 in unit tests: instant)
    call = Caller(lab)
    t0 = clock.now()
    call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm("app01")], SnapshotName="a")
    call("HV01", "Restore-VMSnapshot", "SnapshotName", VMName="app01", Name="a", Confirm=False)
    assert clock.now() == t0


def test_running_vm_disk_grows_with_time(lab, clock):
    # source: brief (AVHDX sizes grow as the VM runs: a growth rate per running second)
    lab.time_scale = 1.0
    call = Caller(lab)
    path = call.vm("web01").properties["HardDrives"][0].properties["Path"]
    size = lambda: call("HV01", "Get-VHD", "Path", Path=[path]).output[0].properties["FileSize"].value  # noqa: E731
    s0 = size()
    clock.advance(10)
    assert size() == s0 + 10 * lab.vms[DEMO_IDS["web01"]].write_rate
    off = call.vm("deep01").properties["HardDrives"][0].properties["Path"]
    o0 = call("HV01", "Get-VHD", "Path", Path=[off]).output[0].properties["FileSize"].value
    clock.advance(10)
    assert call("HV01", "Get-VHD", "Path", Path=[off]).output[0].properties["FileSize"].value == o0


def test_disk_growth_lands_in_whole_steps_with_exact_totals(lab, clock):
    # source: docs/hvsim.md section 4 (guest writes land in GROWTH_STEP steps, totals exact at each step)
    from hvsim.model.core import GROWTH_STEP

    lab.time_scale = 1.0
    call = Caller(lab)
    path = call.vm("web01").properties["HardDrives"][0].properties["Path"]
    size = lambda: call("HV01", "Get-VHD", "Path", Path=[path]).output[0].properties["FileSize"].value  # noqa: E731
    rate = lab.vms[DEMO_IDS["web01"]].write_rate
    s0 = size()
    clock.advance(GROWTH_STEP * 0.4)
    assert size() == s0  # within a step nothing lands yet
    clock.advance(GROWTH_STEP * 0.4)
    assert size() == s0
    clock.advance(GROWTH_STEP * 0.4)  # 1.2 steps since s0: all of it lands, none is lost
    # within a byte: the clock (about 1.8e9 s) resolves about 2.4e-7 s
    assert abs(size() - (s0 + rate * GROWTH_STEP * 1.2)) <= 1


def test_saving_at_once_writes_the_newest_state_over_a_pending_batched_save(tmp_path):
    # source: docs/hvsim.md (autosaves batched to one write per interval; lab.save() writes at once)
    from hvsim.lab import _Persister, load_lab

    lab = load_lab("demo")
    path = tmp_path / "state.json"
    persist = _Persister(path, interval=3600)  # the timer never fires in this test
    lab.persist = persist
    persist(lab, True)
    first = path.read_text()
    lab.set_vm("HV01", DEMO_IDS["web01"], {"notes": "newer"})
    persist(lab, True)
    newer = path.read_text()
    assert newer != first and "newer" in newer
    lab.set_vm("HV01", DEMO_IDS["web01"], {"notes": "newest"})
    persist(lab, False)  # arms a timer; saving at once then cancels it
    lab.save()
    assert "newest" in path.read_text()


def test_an_older_snapshot_written_late_never_replaces_a_newer_one(tmp_path):
    # source: docs/hvsim.md (batched saves write outside the lab lock; the newest state wins on disk)
    from hvsim.lab import _Persister, load_lab

    lab = load_lab("demo")
    path = tmp_path / "state.json"
    persist = _Persister(path, interval=3600)
    lab.set_vm("HV01", DEMO_IDS["web01"], {"notes": "state-v1-a7"})
    older = persist.snapshot(lab)  # a batched flush took this, then lost the CPU before writing it
    lab.set_vm("HV01", DEMO_IDS["web01"], {"notes": "state-v2-c3"})
    newer = persist.snapshot(lab)
    assert persist.write(*newer) is True
    assert persist.write(*older) is False
    assert "state-v2-c3" in path.read_text() and "state-v1-a7" not in path.read_text()
    assert older[0] < newer[0]


def test_lock_not_held_while_sleeping():
    # source: brief (handlers must NOT hold the lock while sleeping for a simulated duration)
    lab = load_lab("demo", clock=RealClock(), time_scale=1.0)
    lab.costs["checkpoint_production"] = 1.5
    call = Caller(lab)
    vm = call.vm("web01")
    t = threading.Thread(target=lambda: call("HV01", "Checkpoint-VM", "VMObject", VM=[vm], SnapshotName="slow"))
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    r = call("HV02", "Get-VM", "Name")  # another listener reads while the checkpoint is in flight
    assert time.monotonic() - t0 < 0.5 and r.output
    assert "CreatingSnapshot" in plain(call.vm("web01").properties["OperationalStatus"])
    t.join()
    assert "slow" in [s.properties["Name"] for s in call.snaps("web01")]


@pytest.mark.parametrize("pattern,text,ok", [
    ("web*", "WEB01", True), ("db[01]", "db0", True), ("db[01]", "db[01]", False), ("db`[01`]", "db[01]", True),
    ("a?b", "axb", True), ("a?b", "ab", False), ("[a-c]x", "bx", True), ("[a-c]x", "dx", False), ("*", "", True),
])
def test_wildcard_semantics(pattern, text, ok):
    # source: hyperv-cmdlets-notes.md A.5 (case-insensitive * ? [ ]); behaviour §6 ("[" and "]" are wildcards)
    assert wildcard_match(pattern, text) is ok


def test_has_wildcards():
    # source: hyperv-cmdlets-notes.md A.5 (a literal that matches nothing errors; a wildcard does not)
    assert has_wildcards("a*") and has_wildcards("x[1]") and has_wildcards("?")
    assert not has_wildcards("plain") and not has_wildcards("a`*")


def test_in_flight_state_does_not_survive_restart(tmp_path):
    # source: brief (a lab survives a restart) - operations in flight at save time are settled on load
    lab = load_lab("demo", state_dir=str(tmp_path), clock=ManualClock())
    vm = lab.vms[DEMO_IDS["web01"]]
    vm.busy.append("CreatingSnapshot")
    vm.state = "Starting"
    lab.save()
    again = load_lab("demo", state_dir=str(tmp_path), clock=ManualClock())
    assert again.vms[DEMO_IDS["web01"]].busy == [] and again.vms[DEMO_IDS["web01"]].state == "Running"


def test_guest_cluster_membership(lab):
    # source: hyperv-behaviour.md §9 (guest clusters: ClusterId, members)
    c = lab.guest_clusters["SQLCLU"]
    assert sorted(c["members"]) == sorted([DEMO_IDS["sqlclu-a"], DEMO_IDS["sqlclu-b"]]) and c["id"]


def test_fault_params_from_strings(lab):
    # source: brief (faults from the CLI/control endpoint arrive as KIND:key=value specs)
    f = lab.inject_fault("disk_full", host="HV01", volume="D:\\", free_gib="1")
    assert f["free_bytes"] == GiB
    f = lab.inject_fault("live_migration", vm=DEMO_IDS["dc01"], after_calls="3")
    assert f["after_calls"] == 3


def _timed_second_checkpoint(lab, clock, first, second):
    """Checkpoint ``first`` on HV01; while it is in flight checkpoint ``second``. Returns
    (work of each by VM name, clock seconds the second call took, clock seconds of the whole)."""
    lab.time_scale = 1.0
    call = Caller(lab)
    work, took = {}, {}

    def hook(op):
        work[lab.vms[op.vm_id].name] = op.duration
        if op.vm_id == DEMO_IDS[first]:
            t0 = clock.now()
            assert not call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm(second)], SnapshotName="second").errors
            took[second] = clock.now() - t0

    lab.in_flight_hooks.append(hook)
    t0 = clock.now()
    assert not call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm(first)], SnapshotName="first").errors
    return work, took[second], clock.now() - t0


def test_concurrent_checkpoints_each_take_their_standalone_duration(lab, clock):
    # source: docs/hvsim.md cost model (host slots: the first `concurrency` bulk operations of a host each run at full speed)
    assert lab.hosts["HV01"].concurrency == 2
    work, second, whole = _timed_second_checkpoint(lab, clock, "app01", "lnx01")
    rate = lab.hosts["HV01"].throughput
    assert work["app01"] == pytest.approx(2.0 + 8 * GiB / rate)  # standalone: overhead + memory / throughput
    assert work["lnx01"] == pytest.approx(2.0 + 2 * GiB / rate)  # lnx01 falls back to standard (no VSS)
    assert second == pytest.approx(work["lnx01"])  # a free slot: its own duration, not slowed by the first
    assert whole == pytest.approx(work["app01"])  # and the first is not slowed by the second
    assert lab.bulk_ops == []


def test_checkpoint_waits_for_a_slot_on_a_concurrency_1_host(lab, clock):
    # source: docs/hvsim.md cost model (host slots: an operation beyond `concurrency` waits for a slot, then runs its own duration)
    lab.hosts["HV01"].concurrency = 1
    work, second, whole = _timed_second_checkpoint(lab, clock, "app01", "lnx01")
    assert second == pytest.approx(work["app01"] + work["lnx01"])  # waited for the first, then its own work
    assert whole == pytest.approx(work["app01"] + work["lnx01"])
    assert lab.bulk_ops == []


def test_slots_are_work_conserving(lab, clock):
    # source: docs/hvsim.md cost model (work-conserving: N operations of total work W on a host of concurrency c
    # take W / c when at least c are always present; the bench floor is reachable)
    lab.time_scale = 1.0
    call = Caller(lab)
    names = ["dc01", "web01", "lnx01", "deep01"]
    for n in names:
        vm = lab.vms[DEMO_IDS[n]]
        vm.state, vm.checkpoint_type = "Off", "Production"  # an Off VM: production checkpoint, 6 s of work
    pending = names[1:]
    work = {}

    def hook(op):
        work[op.vm_id] = op.duration
        if pending:  # every operation starts at the same clock time
            n = pending.pop(0)
            assert not call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm(n)], SnapshotName="w").errors

    lab.in_flight_hooks.append(hook)
    t0 = clock.now()
    assert not call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm(names[0])], SnapshotName="w").errors
    total = sum(work.values())
    assert len(work) == 4 and total == pytest.approx(4 * lab.costs["checkpoint_production"])
    cap = lab.hosts["HV01"].concurrency
    assert clock.now() - t0 == pytest.approx(total / cap)  # 24 s of work on 2 slots: 12 s
    assert all(len([x for x in call.snaps(n) if x.properties["Name"] == "w"]) == 1 for n in names)
    # (a call nested in a hook returns on the ManualClock only after the inner calls: the order of the
    # single jobs is checked on the slot queue in the next test)


def test_slot_progress_never_beats_total_work_over_concurrency(lab, clock):
    # source: docs/hvsim.md cost model (work-conserving: no schedule finishes before W / c; FIFO order, one queue)
    from hvsim.model.core import BulkJob

    lab.time_scale = 1.0
    t0 = clock.now()
    with lab.locked():
        jobs = [BulkJob("HV01", "x%d" % i, "Checkpoint-VM", w, 0.0, t0, arrival=lab._arrive())  # pylint: disable=protected-access
                for i, w in enumerate([3.0, 1.0, 2.0, 2.0])]
        lab.bulk_ops.extend(jobs)
    ends = {}
    while len(ends) < len(jobs):
        clock.advance(0.25)
        with lab.locked():
            for j in jobs:
                if j.done >= j.work and j.vm_id not in ends:
                    ends[j.vm_id] = clock.now() - t0
    lab.bulk_ops.clear()
    # FIFO: x0 and x1 start; x2 takes x1's slot at 1; x3 the first slot free at 3: ends 3, 1, 3, 5 (>= 8 / 2)
    assert [round(ends["x%d" % i] * 4) / 4 for i in range(4)] == [3.0, 1.0, 3.0, 5.0]
    assert max(ends.values()) >= sum(j.work for j in jobs) / lab.hosts["HV01"].concurrency
