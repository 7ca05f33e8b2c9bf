"""checkpoint_apply batch mode (vm_names / vm_ids, issue 7) against the hvsim model, in process.

Every outcome is checked on the lab model too (the VM's state and Now position), not only in the
module's own results.
"""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import is_write_pipeline
from hvsim.lab import load_lab
from support.engine_transport import EngineTransport

from test_checkpoint_common import APP01, DC01, DEEP01, WEB01, assert_safe_pipelines, cps, run

HV01_APPLY = ["web01", "app01", "deep01"]  # HV01 VMs with a current checkpoint
FORCED = {"latest": True, "force": True, "stop_method": "turn_off"}
ENTRY_KEYS = {"vm_id", "vm_name", "changed", "failed", "skipped", "msg", "error", "warnings", "vm", "previous_state",
              "applied_checkpoint", "saved_checkpoint", "saved_achieved_type", "stop_action", "power_action",
              "preflight"}


@pytest.fixture
def lab():
    return load_lab("demo")


def by_name(result):
    return dict((e["vm_name"], e) for e in result["results"])


def position(lab, vm_id):
    """(state, Now parent) of a VM on the model."""
    vm = lab.vms[vm_id]
    return vm.state, vm.parent_snapshot_id


def cp_named(lab, vm_id, name):
    hits = [s for s in cps(lab, vm_id) if s.name == name]
    assert len(hits) == 1
    return hits[0]


def test_check_mode_reads_in_one_round_and_changes_nothing(lab):
    digest = lab.digest()
    trs: t.List[EngineTransport] = []
    r = run("checkpoint_apply", dict(FORCED, vm_names=HV01_APPLY), lab, check_mode=True, diff=True, transports=trs)
    assert not r.failed, r.get("msg")
    assert lab.digest() == digest
    # one session, one read round of three pipelines (VMs, every checkpoint, KVP) and nothing else;
    # the first two projected to what the models read
    assert len(trs) == 1 and trs[0].close_count == 1
    cmdlets = [[c["cmdlet"] for c in p] for p in trs[0].pipelines_run]
    assert cmdlets == [["Hyper-V\\Get-VM", "Select-Object"],
                       ["Hyper-V\\Get-VM", "Hyper-V\\Get-VMSnapshot", "Select-Object"],
                       ["CimCmdlets\\Get-CimInstance"]]
    assert r.changed and r["summary"] == {"total": 3, "changed": 3, "failed": 0, "skipped": 0, "unchanged": 0}
    assert [e["vm_name"] for e in r["results"]] == HV01_APPLY
    assert all(set(e) == ENTRY_KEYS for e in r["results"])
    e = by_name(r)
    assert e["web01"]["applied_checkpoint"]["name"] == "after-patch" and e["web01"]["stop_action"] == "turn_off"
    assert e["deep01"]["applied_checkpoint"]["name"] == "L6" and e["deep01"]["stop_action"] is None
    assert e["app01"]["vm"]["current_checkpoint_id"] == lab.vms[APP01].parent_snapshot_id
    assert [d["before_header"] for d in r["diff"]] == ["%s (%s)" % (n, i) for n, i in
                                                       zip(HV01_APPLY, (WEB01, APP01, DEEP01))]
    assert r["diff"][0]["before"]["state"] == "Running" and r["diff"][0]["after"]["state"] == "Off"


def test_apply_by_name_on_every_vm_and_always_changed(lab):
    """The same checkpoint name, matched exactly on each VM; a rerun applies again, as the single-VM path."""
    r = run("checkpoint", {"vm_names": HV01_APPLY, "name": "common"}, lab)
    assert not r.failed, r.get("msg")
    lab.simulate_writes(DEEP01, 1024 * 1024)  # drift after the checkpoint
    args = {"vm_names": HV01_APPLY, "name": "common", "force": True, "stop_method": "turn_off"}
    trs: t.List[EngineTransport] = []
    r = run("checkpoint_apply", args, lab, transports=trs)
    assert not r.failed, r.get("msg")
    assert r.changed and r["summary"]["changed"] == 3
    for name, vm_id in zip(HV01_APPLY, (WEB01, APP01, DEEP01)):
        common = cp_named(lab, vm_id, "common")
        assert lab.vms[vm_id].parent_snapshot_id == common.id
        assert by_name(r)[name]["applied_checkpoint"]["id"] == common.id
        assert by_name(r)[name]["vm"]["current_checkpoint_name"] == "common"
    assert_safe_pipelines(trs, ["common"])
    restores = [p for p in trs[0].pipelines_run if any(c["cmdlet"] == "Hyper-V\\Restore-VMSnapshot" for c in p)]
    assert len(restores) == 3

    # apply is not idempotent by nature (documented): the rerun reports changed and really applies again
    lab.simulate_writes(DEEP01, 1024 * 1024)
    drifted = lab.digest()
    r = run("checkpoint_apply", args, lab)
    assert not r.failed and r.changed and all(e["changed"] for e in r["results"])
    assert lab.digest() != drifted
    assert lab.vms[DEEP01].parent_snapshot_id == cp_named(lab, DEEP01, "common").id


def test_collect_apply_failure_does_not_block_the_others(lab):
    """A host-side failure of one VM's apply (broken chain): the others are applied, the task fails naming it."""
    lab.inject_fault("broken_chain", vm=APP01)
    before_app = lab.vms[APP01].parent_snapshot_id
    r = run("checkpoint_apply", dict(FORCED, vm_names=HV01_APPLY + ["nope"]), lab)
    assert r.failed and r.changed
    e = by_name(r)
    assert not e["web01"]["failed"] and e["web01"]["changed"]
    assert position(lab, WEB01) == ("Off", cp_named(lab, WEB01, "after-patch").id)
    assert not e["deep01"]["failed"] and lab.vms[DEEP01].parent_snapshot_id == cp_named(lab, DEEP01, "L6").id
    assert e["app01"]["failed"] and "0x80070032" in e["app01"]["msg"]
    # app01 was stopped (turn_off) before the apply failed: it is reported changed, never silently
    assert e["app01"]["changed"] and e["app01"]["stop_action"] == "turn_off" and e["app01"]["vm"] is None
    assert lab.vms[APP01].state == "Off" and lab.vms[APP01].parent_snapshot_id == before_app
    assert e["nope"]["failed"] and e["nope"]["vm_id"] is None and "No VM named 'nope'" in e["nope"]["msg"]
    assert r["msg"].startswith("2 of 4 VMs failed on host engine.invalid: ")
    assert "'app01' (%s): Failed to apply checkpoint 'nightly'" % APP01 in r["msg"] and "'nope': " in r["msg"]
    assert r["summary"] == {"total": 4, "changed": 3, "failed": 2, "skipped": 0, "unchanged": 0}


def test_fail_fast_apply_failure_skips_the_rest_unchanged(lab):
    lab.inject_fault("broken_chain", vm=APP01)
    before = dict((v, position(lab, v)) for v in (WEB01, DEEP01))
    r = run("checkpoint_apply", dict(FORCED, vm_names=["app01", "web01", "deep01"], batch_failure="fail_fast"), lab)
    assert r.failed
    e = by_name(r)
    assert e["app01"]["failed"] and not e["app01"]["skipped"]
    for name, vm_id in (("web01", WEB01), ("deep01", DEEP01)):
        assert e[name]["skipped"] and not e[name]["changed"] and not e[name]["failed"]
        assert "nothing was changed on this VM" in e[name]["msg"] and "'app01' (%s)" % APP01 in e[name]["msg"]
        assert position(lab, vm_id) == before[vm_id]
    assert "batch_failure=fail_fast: 2 VM(s) not attempted" in r["msg"]
    assert r["summary"]["skipped"] == 2 and r["summary"]["failed"] == 1


def test_fail_fast_preflight_failure_changes_nothing(lab):
    """Every VM is checked before the first one is changed: a refusal on a later VM leaves all untouched."""
    digest = lab.digest()
    trs: t.List[EngineTransport] = []
    r = run("checkpoint_apply", dict(FORCED, vm_names=["web01", "deep01", "dc01"], batch_failure="fail_fast"), lab,
            transports=trs)
    assert r.failed and not r.changed
    assert lab.digest() == digest
    assert not any(is_write_pipeline(p) for tr in trs for p in tr.pipelines_run)
    e = by_name(r)
    assert e["dc01"]["failed"] and "no current checkpoint" in e["dc01"]["msg"] and e["dc01"]["vm_id"] == DC01
    assert e["web01"]["skipped"] and e["deep01"]["skipped"]
    # with collect the same refusal fails dc01 only
    r = run("checkpoint_apply", dict(FORCED, vm_names=["web01", "deep01", "dc01"]), lab)
    assert r.failed and r.changed and r["summary"] == {"total": 3, "changed": 2, "failed": 1, "skipped": 0,
                                                       "unchanged": 0}
    assert lab.vms[WEB01].state == "Off"


def test_single_vm_rules_apply_per_vm(lab):
    """Without force a running VM is refused (its entry only); the VM that is off is applied by name."""
    r = run("checkpoint_apply", {"vm_names": ["web01"], "vm_ids": [DEEP01.upper(), WEB01], "name": "L2"}, lab)
    assert r.failed
    assert [x["vm_id"] for x in r["results"]] == [WEB01, DEEP01]  # web01 named twice is handled once
    e = by_name(r)
    assert e["web01"]["failed"] and "No checkpoint named 'L2'" in e["web01"]["msg"]
    assert not e["deep01"]["failed"] and lab.vms[DEEP01].parent_snapshot_id == cp_named(lab, DEEP01, "L2").id
    r = run("checkpoint_apply", {"vm_ids": [WEB01], "latest": True}, lab)
    assert r.failed and "The VM is Running" in r["results"][0]["msg"] and lab.vms[WEB01].state == "Running"


def test_vm_moved_after_the_read_round_is_checked_again(lab):
    """deep01 moves to L2 (someone applies it) while web01 is applied: latest=true is resolved again on the fresh
    state, so L2 (the checkpoint deep01 now derives from) is applied, not the stale L6 of the read round."""
    from unittest import mock

    from ansible_collections.hyperv.checkpoints.plugins.modules import checkpoint_apply as mod

    real_execute = mod.execute
    moved = []

    def execute(client, params, check_mode, out, plan):
        result = real_execute(client, params, check_mode, out, plan)
        if not moved:
            lab.restore("HV01", cp_named(lab, DEEP01, "L2").id)
            moved.append(plan.vm.name)
        return result

    with mock.patch.object(mod, "execute", side_effect=execute):
        r = run("checkpoint_apply", dict(FORCED, vm_names=["web01", "deep01"]), lab)
    assert not r.failed, r.get("msg")
    assert moved == ["web01"]
    e = by_name(r)
    assert e["deep01"]["applied_checkpoint"]["name"] == "L2"
    assert lab.vms[DEEP01].parent_snapshot_id == cp_named(lab, DEEP01, "L2").id


@pytest.mark.parametrize("args, words", [
    ({"vm_names": ["web01"], "checkpoint_id": WEB01}, "checkpoint_id is not accepted with vm_names/vm_ids"),
    ({"vm_ids": [WEB01]}, "need name (the same checkpoint name on every VM) or latest=true"),
    ({"vm_ids": [WEB01], "name": "x", "latest": True}, "mutually exclusive"),
    ({"vm_names": ["web01"], "vm_name": "web01", "latest": True}, "mutually exclusive"),
    ({"vm_ids": ["not-a-guid"], "latest": True}, "vm_ids[0] must be a GUID"),
    ({"vm_names": ["web01"], "latest": True, "batch_failure": "stop"}, "batch_failure"),
])
def test_batch_argument_errors_before_connecting(lab, args, words):
    trs: t.List[EngineTransport] = []
    r = run("checkpoint_apply", args, lab, transports=trs)
    assert r.failed and words in r["msg"], r.get("msg")
    assert trs == []  # refused before any connection


def test_empty_list_changes_nothing(lab):
    r = run("checkpoint_apply", {"vm_ids": [], "latest": True}, lab)
    assert not r.failed and not r.changed and r["results"] == []
    assert r["summary"] == {"total": 0, "changed": 0, "failed": 0, "skipped": 0, "unchanged": 0}
