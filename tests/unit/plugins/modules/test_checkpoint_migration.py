"""B6: the VM live-migrates mid-run (cluster). The module re-resolves the VM by Id on the same host once
(a read, never a repeated write) and fails with a message naming the host, the VM, the checkpoint and
the way out (run against the current owner node); changed tells whether anything was written here.

hvsim models the migration as the ``live_migration`` fault (docs/hvsim.md section 7): after
``after_calls`` further cmdlet invocations the VM moves to ``to_host`` and is gone from this host.
"""

from __future__ import annotations

import pytest

from hvsim.lab import load_lab

from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import NotFoundError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import Checkpoint
from test_checkpoint_common import WEB01, lc, names, run

HOST = "engine.invalid"  # hyperv_host of the in-process engine transport (support.modules)


@pytest.fixture
def lab():
    return load_lab("demo")


def calls_before(module, args, cmdlet, vm_id=WEB01):
    """Cmdlet invocations before the pipeline that runs ``cmdlet``, counted on a fresh lab."""
    transports = []
    r = run(module, args, load_lab("demo"), vm_id=vm_id, transports=transports)
    assert not r.failed, r.get("msg")
    count = 0
    for tr in transports:
        for pipeline in tr.pipelines_run:
            if any(c["cmdlet"].endswith(cmdlet) for c in pipeline):
                return count
            count += len(pipeline)
    raise AssertionError("%s never ran" % cmdlet)


def migrate(lab, after_calls, vm_id=WEB01):
    lab.inject_fault("live_migration", vm=vm_id, to_host="HV02", after_calls=after_calls)


def assert_migration_msg(r, checkpoint):
    msg = r["msg"]
    for part in (HOST, "'web01'", WEB01, checkpoint, "live-migrat", "no longer on host %s" % HOST,
                 "current owner node", "Get-ClusterGroup"):
        assert part in msg, (part, msg)
    assert r["error"]["category"] == "ObjectNotFound"


def test_create_vm_migrates_before_the_write(lab):
    """The VM leaves between the preflight reads and Checkpoint-VM: nothing written, changed=false."""
    args = {"vm_id": WEB01, "name": "pre-migration"}
    migrate(lab, calls_before("checkpoint", args, "Checkpoint-VM"))
    r = run("checkpoint", args, lab)
    assert r.failed and not r.changed
    assert_migration_msg(r, "'pre-migration'")
    assert "was not created" in r["msg"]
    assert lab.vms[WEB01].host == "HV02"
    # the model's checkpoints of the VM, wherever it lives now: on neither host
    assert "pre-migration" not in names(lab, WEB01)
    assert names(lab, WEB01) == ["before-patch", "after-patch"]


def test_apply_vm_migrates_before_restore(lab):
    """The VM leaves after the stop and before Restore-VMSnapshot: the stop is reported (changed=true)."""
    args = {"vm_id": WEB01, "name": "before-patch", "force": True, "stop_method": "turn_off"}
    target = next(s for s in lab.snapshots_of(WEB01) if s.name == "before-patch")
    now_before = lab.vms[WEB01].parent_snapshot_id
    migrate(lab, calls_before("checkpoint_apply", args, "Restore-VMSnapshot"))
    r = run("checkpoint_apply", args, lab)
    assert r.failed and r.changed  # Stop-VM was applied before the VM left
    assert_migration_msg(r, "'before-patch'")
    assert target.id in r["msg"] and "was not applied" in r["msg"]
    assert "stopped (turn_off)" in r["msg"]
    assert lab.vms[WEB01].host == "HV02"
    assert lab.vms[WEB01].parent_snapshot_id == now_before != target.id
    assert lab.vms[WEB01].state == "Off"


@pytest.mark.parametrize("args,cmdlet", [
    ({"vm_id": WEB01, "name": "during-read"}, "Get-VMSnapshot"),
    ({"vm_id": WEB01, "name": "during-read"}, "Get-VMHardDiskDrive"),
    ({"vm_id": WEB01, "state": "absent", "name": "after-patch"}, "Get-VMHardDiskDrive"),
])
def test_vm_migrates_during_a_read(lab, args, cmdlet):
    """The VM leaves while the module is still reading (no write yet): the B6 message, not a bare "not found"."""
    migrate(lab, calls_before("checkpoint", args, cmdlet))
    before = sorted(names(lab, WEB01))
    r = run("checkpoint", args, lab)
    assert r.failed and not r.changed
    assert_migration_msg(r, "'%s'" % args["name"])
    assert "Nothing was written on this host" in r["msg"]
    assert lab.vms[WEB01].host == "HV02"
    assert sorted(names(lab, WEB01)) == before


def test_remove_vm_migrates_before_the_write(lab):
    """Remove-VMSnapshot finds nothing because the VM left: not reported as "already gone"."""
    args = {"vm_id": WEB01, "state": "absent", "name": "after-patch"}
    migrate(lab, calls_before("checkpoint", args, "Remove-VMSnapshot"))
    r = run("checkpoint", args, lab)
    assert r.failed and not r.changed
    assert_migration_msg(r, "'after-patch'")
    assert "nothing was removed" in r["msg"]
    assert lab.vms[WEB01].host == "HV02"
    assert names(lab, WEB01) == ["before-patch", "after-patch"]


def test_remove_vm_migrates_after_the_write(lab):
    """The removal was applied, then the VM left during the merge wait: changed=true, said so."""
    args = {"vm_id": WEB01, "state": "absent", "name": "after-patch"}
    migrate(lab, calls_before("checkpoint", args, "Remove-VMSnapshot") + 2)  # Get-VMSnapshot | Remove-VMSnapshot
    r = run("checkpoint", args, lab)
    assert r.failed and r.changed
    msg = r["msg"]
    for part in (HOST, WEB01, "'after-patch'", "live-migrat", "stays applied", "Get-ClusterGroup"):
        assert part in msg, (part, msg)
    assert lab.vms[WEB01].host == "HV02"
    assert names(lab, WEB01) == ["before-patch"]


class FakeClient(object):
    """remove_checkpoint answers "not found"; get_vm answers per ``vm_here``."""

    host = "hv01.example.com"

    def __init__(self, vm_here):
        self.vm_here = vm_here
        self.calls = []

    def remove_checkpoint(self, checkpoint_id, include_children=False, missing_ok=True):
        self.calls.append("remove")
        return False

    def get_vm(self, vm_id):
        self.calls.append("get_vm")
        if not self.vm_here:
            raise NotFoundError("No VM with Id %s on host %s" % (vm_id, self.host), category="ObjectNotFound")
        return lc.VM(id=vm_id, name="web01")


def _cp():
    return Checkpoint(id="11111111-2222-3333-4444-555555555555", name="after-patch", vm_id=WEB01, vm_name="web01")


def test_checkpoint_already_gone_with_vm_present_is_unchanged():
    """The re-read finds the VM: "not found" still means the checkpoint is already gone (no failure, no retry)."""
    client = FakeClient(vm_here=True)
    assert lc.remove_checkpoint(client, _cp(), False) == (False, [])
    assert client.calls == ["remove", "get_vm"]


def test_checkpoint_not_found_because_vm_left_fails_clearly():
    client = FakeClient(vm_here=False)
    with pytest.raises(NotFoundError) as info:
        lc.remove_checkpoint(client, _cp(), False)
    text = "%s %s" % (info.value, info.value.hint)
    for part in ("hv01.example.com", "'web01'", WEB01, "'after-patch'", "live-migrat", "Get-ClusterGroup"):
        assert part in text, (part, text)
    assert client.calls == ["remove", "get_vm"]  # one re-read, the write is not sent again
