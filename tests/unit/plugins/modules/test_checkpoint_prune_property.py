"""Property test of checkpoint_prune end to end: random checkpoint trees in the hvsim model.

Random trees of mixed SnapshotTypes, ages and names are seeded on a VM; the module runs through
the engine transport (real cmdlet binding and Remove-VMSnapshot semantics); the lab is then
compared with what was there before. Prune never removes a non-Standard checkpoint, never one
outside its scope, always leaves at least keep_newest in-scope checkpoints, and check mode
predicts exactly what the real run removes.
"""

from __future__ import annotations

import fnmatch
import time

from hypothesis import HealthCheck, given, settings, strategies as st

from hvsim.lab import load_lab
from hvsim.model.objects import MiB
from support.modules import run_module

LNX01 = "6f0c2d9e-0005-4c00-8a00-000000000005"  # HV01, no checkpoints
TYPES = ["Standard", "Standard", "Standard", "Recovery", "Planned", "Missing", "Replica", "AppConsistentReplica",
         "SyncedReplica"]
NAMES = ["ansible-a", "ansible-b", "ansible-nightly", "nightly", "manual", "Ansible-x", "db[01]", "a*b"]

nodes = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(TYPES), st.integers(min_value=0, max_value=60 * 24),
              st.integers(min_value=0, max_value=30)),
    min_size=1, max_size=9,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=nodes, keep_newest=st.integers(min_value=0, max_value=4),
       older_than_h=st.one_of(st.none(), st.integers(min_value=0, max_value=48)),
       pattern=st.sampled_from([None, "ansible-*", "*nightly*"]), owned_only=st.booleans())
def test_prune_on_random_trees(tree, keep_newest, older_than_h, pattern, owned_only):
    if not owned_only and pattern is None:
        pattern = "*"
    lab = load_lab("demo")
    vm = lab.vms[LNX01]
    ids = []
    now = time.time()
    for name, snapshot_type, age_minutes, parent_pick in tree:
        parent = ids[parent_pick % len(ids)] if ids and parent_pick % 3 else None
        snap = lab.seed_snapshot(vm, name, snapshot_type=snapshot_type, kind="standard",
                                 creation_time=now - age_minutes * 60, parent=parent, disk_bytes=MiB)
        ids.append(snap.id)
    before = {s.id: s for s in lab.snapshots_of(LNX01)}
    current = vm.parent_snapshot_id

    args = {"vm_id": LNX01, "keep_newest": keep_newest, "owned_only": owned_only, "poll_interval": 0}
    if older_than_h is not None:
        args["older_than"] = "%dh" % older_than_h
    if pattern is not None:
        args["name_pattern"] = pattern
    digest = lab.digest()
    predicted = run_module("checkpoint_prune", args, lab=lab, host="HV01", check_mode=True)
    assert not predicted.failed, predicted.get("msg")
    assert lab.digest() == digest
    result = run_module("checkpoint_prune", args, lab=lab, host="HV01")
    assert not result.failed, result.get("msg")

    after = {s.id for s in lab.snapshots_of(LNX01)}
    removed = set(before) - after
    assert removed == {x["id"] for x in result["removed"]} == {x["id"] for x in predicted["removed"]}

    def in_scope(s):
        return (s.snapshot_type == "Standard" and (not owned_only or s.name.startswith("ansible-"))
                and (pattern is None or fnmatch.fnmatchcase(s.name, pattern)))

    for sid in removed:
        s = before[sid]
        assert s.snapshot_type == "Standard", "removed a %s checkpoint" % s.snapshot_type
        assert in_scope(s), "removed %r outside the scope" % s.name
        assert sid != current, "removed the checkpoint the VM runs from"
        if older_than_h is not None:
            assert now - s.creation_time > older_than_h * 3600 - 5
    scope = [s for s in before.values() if in_scope(s)]
    assert len(scope) - len(removed) >= min(keep_newest, len(scope))
    # oldest first
    times = [before[x["id"]].creation_time for x in result["removed"]]
    assert times == sorted(times)
    # no merge left running, and a rerun changes nothing
    assert not any(j.vm_id == LNX01 for j in lab.merges)
    assert not run_module("checkpoint_prune", args, lab=lab, host="HV01").changed
