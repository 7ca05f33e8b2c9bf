"""_lifecycle: pure preflight pieces, type rules and the waits (with a fake client and fake time)."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _lifecycle as lc
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import OperationTimeoutError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import VM, Checkpoint, Volume

VM_ID = "6f0c2d9e-0002-4c00-8a00-000000000002"


def vm(state="Running", ctype="Production", ops=("Ok",), **kw):
    base = dict(Id=VM_ID, Name="web01", State=state, CheckpointType=ctype, OperationalStatus=list(ops),
                MemoryStartup=4 * lc.GiB, SnapshotFileLocation="D:\\Hyper-V")
    base.update(kw)
    return VM.from_plain(base)


def cp(state, **kw):
    return Checkpoint.from_plain(dict(Id="0b7e2f7c-3d1a-4a51-9d6e-2f4c8a9b1c0d", Name="c", State=state, **kw))


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, s):
        self.sleeps.append(s)
        self.now += s

    def monotonic(self):
        return self.now


@pytest.fixture
def fake_time(monkeypatch):
    ft = FakeTime()
    monkeypatch.setattr(lc, "sleep", ft.sleep)
    monkeypatch.setattr(lc, "monotonic", ft.monotonic)
    return ft


class FakeClient:
    host = "HV01"

    def __init__(self, states):
        self.states = list(states)
        self.reads = 0

    def get_vm(self, vm_id):
        self.reads += 1
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


def test_unsupported_devices_pass_through_shared_and_vfc():
    disks = [
        {"Path": "D:\\a.vhdx", "ControllerType": "SCSI", "ControllerNumber": 0, "ControllerLocation": 0},
        {"Path": None, "DiskNumber": 3, "ControllerType": "SCSI", "ControllerNumber": 0, "ControllerLocation": 1},
        {"Path": "D:\\s.vhdx", "SupportPersistentReservations": True, "ControllerType": "SCSI"},
        # a VHD Set is shared too, but can be checkpointed (hyperv-behaviour.md section 9)
        {"Path": "D:\\set.vhds", "SupportPersistentReservations": True, "ControllerType": "SCSI"},
    ]
    reasons = lc.unsupported_devices({"FibreChannelHostBusAdapters": ["hba0"]}, disks)
    assert len(reasons) == 3
    assert "pass-through disk (physical disk 3" in reasons[0]
    assert "shared virtual hard disk D:\\s.vhdx" in reasons[1]
    assert "Fibre Channel" in reasons[2]
    assert lc.unsupported_devices({}, disks[:1]) == []
    assert lc.unsupported_devices({}, disks[3:]) == []


def test_space_needs_memory_only_when_memory_can_be_captured():
    disks = [{"Path": "D:\\a.vhdx"}, {"Path": "E:\\b.vhdx"}]
    needs = lc.space_needs(vm(), disks)
    assert needs[0]["bytes"] == lc.CONFIG_ESTIMATE + 4 * lc.GiB
    assert [n["bytes"] for n in needs[1:]] == [lc.AVHDX_ESTIMATE] * 2
    assert lc.space_needs(vm(ctype="ProductionOnly"), disks)[0]["bytes"] == lc.CONFIG_ESTIMATE
    assert lc.space_needs(vm(state="Off", ctype="Standard"), disks)[0]["bytes"] == lc.CONFIG_ESTIMATE


class VolumeClient:
    def __init__(self, volumes):
        self.volumes = volumes

    def list_volumes(self):
        return self.volumes

    def free_space_for(self, path, volumes=None):
        from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import volume_for_path

        return volume_for_path(volumes if volumes is not None else self.volumes, path)


def test_check_space_sums_per_volume_and_reports_numbers():
    client = VolumeClient([Volume(drive_letter="D", size_remaining=3 * lc.GiB), Volume(drive_letter="E", size_remaining=10 * lc.GiB)])
    needs = [{"path": "D:\\Hyper-V", "what": "memory", "bytes": 2 * lc.GiB},
             {"path": "D:\\x.vhdx", "what": "avhdx", "bytes": 2 * lc.GiB},
             {"path": "E:\\y.vhdx", "what": "avhdx", "bytes": lc.GiB},
             {"path": "\\\\fs\\s\\z.vhdx", "what": "share", "bytes": 1}]
    report, problems = lc.check_space(client, needs)
    assert [r["ok"] for r in report] == [False, True, None]
    assert report[0]["needed_bytes"] == 4 * lc.GiB
    assert problems == ["volume D:\\ has 3.00 GiB free but needs about 4.00 GiB (memory; avhdx)"]


@pytest.mark.parametrize(
    "state, ctype, vss, expected",
    [
        ("Running", "Standard", None, ("standard", None)),
        ("Off", "Production", None, ("production", None)),
        ("Running", "Production", True, ("production", None)),
        ("Running", "Production", None, (None, None)),
        ("Running", "Production", False, ("standard", "disabled")),
        ("Running", "ProductionOnly", False, (None, "disabled")),
        ("Saved", "Production", True, ("standard", "running guest")),
    ],
)
def test_predict_type(state, ctype, vss, expected):
    predicted, why = lc.predict_type(vm(state=state, ctype=ctype), vss)
    assert predicted == expected[0]
    assert (why is None) == (expected[1] is None)
    if expected[1]:
        assert expected[1] in why


@pytest.mark.parametrize(
    "cp_state, before, vm_type, expected",
    [("Saved", "Running", "Production", "standard"), ("Off", "Running", "Production", "production"),
     ("Off", "Off", "Standard", "standard"), ("Off", "Off", "Production", "production"), (None, "Off", "Standard", None)],
)
def test_achieved_type(cp_state, before, vm_type, expected):
    """A13 (unverified rule, hyperv-behaviour section 2): State Saved means standard."""
    assert lc.achieved_type(cp(cp_state), before, vm_type) == expected


def test_wait_until_idle_waits_for_a_merge_and_rereads(fake_time):
    client = FakeClient([vm(ops=("Ok", "MergingDisks")), vm(ops=("Ok", "MergingDisks")), vm()])
    got = lc.wait_until_idle(client, vm(ops=("Ok", "MergingDisks")), timeout=60, interval=5)
    assert not got.busy
    assert client.reads == 3 and fake_time.sleeps == [5, 5, 5]


def test_wait_until_idle_times_out_with_merge_message(fake_time):
    """B3: wait up to the timeout, then fail with 'merge in progress'."""
    client = FakeClient([vm(ops=("Ok", "MergingDisks"))])
    with pytest.raises(OperationTimeoutError) as err:
        lc.wait_until_idle(client, vm(ops=("Ok", "MergingDisks")), timeout=10, interval=3, action="create it")
    assert "still busy (merging disks) after waiting 10s" in str(err.value)
    assert "disk merge" in err.value.hint
    assert fake_time.now >= 10


@pytest.mark.parametrize("ops, state, words", [
    (("Ok", "BackingUpVirtualMachine"), "Running", "backup"),
    (("Ok", "32769"), "Off", "ApplyingSnapshot"),
    (("Ok",), "PausedCritical", "PausedCritical"),
])
def test_wait_until_idle_never_waits_for_backup_apply_or_critical(fake_time, ops, state, words):
    """B8, B11: fail at once, no forced action, no waiting."""
    with pytest.raises(lc.PreflightError) as err:
        lc.wait_until_idle(FakeClient([]), vm(state=state, ops=ops), timeout=600)
    assert words in str(err.value)
    assert fake_time.sleeps == []


def test_wait_for_merge_reports_seconds_and_times_out(fake_time):
    client = FakeClient([vm(ops=("Ok", "MergingDisks")), vm()])
    seconds, got = lc.wait_for_merge(client, VM_ID, timeout=60, interval=4)
    assert seconds == 4 and not got.merging
    client = FakeClient([vm(ops=("Ok", "MergingDisks"))])
    with pytest.raises(OperationTimeoutError) as err:
        lc.wait_for_merge(client, VM_ID, timeout=8, interval=4)
    assert "still running after 8s" in str(err.value)


def test_removable_problems_refuses_non_standard():
    """A18."""
    cps = [cp("Off", SnapshotType="Standard"), Checkpoint.from_plain(dict(Id="1" * 8 + "-0000-0000-0000-" + "0" * 12, Name="r", SnapshotType="Recovery"))]
    problems = lc.removable_problems(cps)
    assert len(problems) == 1 and "Recovery" in problems[0]


# ---------------------------------------------------------------------------------------------- drop recovery
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import (  # noqa: E402
    ConnectionError as HvConnectionError,
    NotFoundError,
)

CP_ID = "0b7e2f7c-3d1a-4a51-9d6e-2f4c8a9b1c0d"
OTHER_ID = "1b7e2f7c-3d1a-4a51-9d6e-2f4c8a9b1c0d"


class DropClient:
    """Fails the first write with a dropped connection; records every call."""

    host = "HV01"

    def __init__(self, after_drop=(), present_after_drop=True, applied=True):
        self.calls = []
        self.after_drop = list(after_drop)
        self.present_after_drop = present_after_drop
        self.applied = applied

    def create_checkpoint(self, vm_id, name):
        self.calls.append(("create", name))
        raise HvConnectionError("connection reset", write_may_have_applied=self.applied, request_sent=True)

    def list_checkpoints(self, vm_id):
        self.calls.append(("list",))
        return self.after_drop

    def remove_checkpoint(self, cid, include_children=False, missing_ok=True):
        self.calls.append(("remove", cid))
        if len([c for c in self.calls if c[0] == "remove"]) == 1:
            raise HvConnectionError("read timed out", write_may_have_applied=True, request_sent=True)
        return True

    def get_checkpoint(self, cid):
        self.calls.append(("get", cid))
        if not self.present_after_drop:
            raise NotFoundError("gone")
        return named(cid, "x")


def named(cid, name):
    return Checkpoint.from_plain(dict(Id=cid, Name=name, State="Off"))


def test_create_drop_adopts_the_new_checkpoint_never_repeats():
    """B1: after the drop, the checkpoint found by name and new Id is adopted; Checkpoint-VM is not sent again."""
    client = DropClient(after_drop=[named(OTHER_ID, "x"), named(CP_ID, "x")])
    got, warnings = lc.create_checkpoint(client, vm(), "x", before_ids={OTHER_ID})
    assert got.id == CP_ID and "was not created again" in warnings[0]
    assert [c[0] for c in client.calls] == ["create", "list"]


def test_create_drop_with_nothing_created_says_so():
    client = DropClient(after_drop=[named(OTHER_ID, "x")])
    with pytest.raises(HvConnectionError) as err:
        lc.create_checkpoint(client, vm(), "x", before_ids={OTHER_ID})
    assert "found no new checkpoint named 'x', so nothing was created" in str(err.value)
    assert [c[0] for c in client.calls] == ["create", "list"]


def test_create_drop_before_sending_is_not_reread():
    client = DropClient()

    def refused(vm_id, name):
        raise HvConnectionError("refused", write_may_have_applied=False, request_sent=False)

    client.create_checkpoint = refused
    with pytest.raises(HvConnectionError):
        lc.create_checkpoint(client, vm(), "x", before_ids=set())
    assert client.calls == []


def test_remove_drop_gone_is_done():
    """B2: re-query by Id; gone means removed (with a note on the merge), no second remove."""
    client = DropClient(present_after_drop=False)
    removed, warnings = lc.remove_checkpoint(client, named(CP_ID, "x"), False)
    assert removed and "merge may still be running" in warnings[0]
    assert [c[0] for c in client.calls] == ["remove", "get"]


def test_remove_drop_still_present_retries_once():
    """B2: still present after the drop: exactly one retry."""
    client = DropClient(present_after_drop=True)
    removed, warnings = lc.remove_checkpoint(client, named(CP_ID, "x"), True)
    assert removed and "retried once" in warnings[0]
    assert [c[0] for c in client.calls] == ["remove", "get", "remove"]
