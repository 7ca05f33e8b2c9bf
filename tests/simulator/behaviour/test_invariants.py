"""Property test: random checkpoint/apply/remove/power sequences keep the model consistent."""

from __future__ import annotations

import typing as t

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvsim.lab import load_lab
from hvsim.model import ManualClock, paths

from behaviour_support import DEMO_IDS, Caller

VMS = ["deep01", "app01", "web01", "wild01"]
OPS = st.lists(
    st.tuples(
        st.sampled_from(["checkpoint", "restore", "remove", "remove_tree", "write", "stop", "start"]),
        st.sampled_from(VMS),
        st.integers(min_value=0, max_value=50),
    ),
    min_size=1,
    max_size=25,
)


def _check(lab: t.Any) -> None:
    """Invariants of the checkpoint tree and the disk chains (behaviour §4, §16.2)."""
    with lab.locked():
        for vm in lab.vms.values():
            if not vm.host:
                continue
            host = lab.hosts[vm.host]
            snaps = lab.snapshots_of(vm.id)
            ids = {s.id for s in snaps}
            # tree: parents exist; the "Now" marker points at a checkpoint of this VM, or at none (no
            # checkpoints, or the checkpoint it derived from was a root and was removed)
            for s in snaps:
                assert s.parent_id is None or s.parent_id in ids
            assert vm.parent_snapshot_id is None or vm.parent_snapshot_id in ids
            chain = lab._chain_files(vm)
            for d in vm.drives:
                if d.path is None:
                    continue
                # the current disk exists and its ParentPath chain ends at the base disk
                cur = lab.find_file(host, d.path)
                assert cur is not None and cur.vhd is not None
                seen = 0
                while cur.vhd.parent_path:
                    cur = lab.find_file(host, cur.vhd.parent_path)
                    assert cur is not None
                    seen += 1
                    assert seen < 100
                assert paths.key(cur.path) == paths.key(d.base_path)
                # every checkpoint's frozen file exists
                for s in snaps:
                    p = s.disk_files.get(d.id)
                    assert p is None or lab.find_file(host, p) is not None
                if not snaps and not lab.merges:
                    assert paths.key(d.path) == paths.key(d.base_path)  # no checkpoints: back on the base
            if not lab.merges:
                # no orphan differencing disks once merges have finished
                refs = {paths.key(p) for s in snaps for p in s.disk_files.values() if p}
                refs |= {paths.key(d.path) for d in vm.drives if d.path}
                for k, f in chain.items():
                    if f.vhd.vhd_type == "Differencing" and k not in refs:
                        kids = [c for c in chain.values() if c.vhd.parent_path and paths.key(c.vhd.parent_path) == k]
                        assert len(kids) >= 2, f"orphan {f.path}"
        for h in lab.hosts.values():
            for vol in h.volumes:
                assert lab.free_bytes(vol, h) == max(0, vol.capacity - vol.used())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_random_sequences_keep_tree_and_chains_consistent(ops):
    # source: hyperv-behaviour.md §4 (delete = merge, re-parenting, .avhdx next to the parent), §3 (apply), §16.2
    lab = load_lab("demo", clock=ManualClock(), time_scale=0)
    call = Caller(lab)
    for op, vm_name, n in ops:
        host = {"deep01": "HV01", "app01": "HV01", "web01": "HV01", "wild01": "HV02"}[vm_name]
        vm = call.vm(vm_name)
        snaps = call.snaps(vm_name)
        pick = snaps[n % len(snaps)] if snaps else None
        if op == "checkpoint":
            call(host, "Checkpoint-VM", "VMObject", VM=[vm], SnapshotName=f"r{n}")
        elif op == "restore" and pick is not None:
            assert not call(host, "Restore-VMSnapshot", "SnapshotObject", VMSnapshot=pick, Confirm=False).errors
            assert call.vm(vm_name).properties["ParentSnapshotId"] == pick.properties["Id"]
        elif op in ("remove", "remove_tree") and pick is not None:
            r = call(host, "Remove-VMSnapshot", "SnapshotObject", VMSnapshot=[pick],
                     IncludeAllChildSnapshots=(op == "remove_tree"))
            assert not r.errors
            assert pick.properties["Id"] not in [s.properties["Id"] for s in call.snaps(vm_name)]
        elif op == "write":
            lab.simulate_writes(DEMO_IDS[vm_name], n * 1024 * 1024)
        elif op == "stop":
            call(host, "Stop-VM", "VMObject", VM=[vm], TurnOff=True)
        elif op == "start":
            call(host, "Start-VM", "VMObject", VM=[vm])
        _check(lab)
