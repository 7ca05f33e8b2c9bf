"""_prune.PruneRun: the VMs of one host pruned side by side, one merge at a time per VM, at most ``parallel``."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _prune
from ansible_collections.hyperv.checkpoints.plugins.module_utils._host_reads import READ_RETRY_DELAYS
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import ConnectionError as HVConnectionError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import (
    CommandError,
    NotFoundError,
    OperationTimeoutError,
    QuotaError,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import VM, Checkpoint
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import error_info, make_result
from unit.fakes import not_found, vm_obj

VM_IDS = ["00000000-0000-4000-8000-0000000000a%d" % i for i in range(1, 5)]


def cp_id(vm_index, n):
    return "00000000-0000-4000-8000-00000000%02d%02d" % (vm_index, n)


class Host(object):
    """Answers the pipelines PruneRun sends; a merge lasts ``merge_polls`` host-wide listings."""

    host = "hv01"
    projections = True  # HyperVClient's: reads may end in Select-Object

    def __init__(self, checkpoints_per_vm, merge_polls=2, busy=None, merging=()):
        self.checkpoints = dict((VM_IDS[v], [cp_id(v, n) for n in range(checkpoints_per_vm[v])])
                                for v in range(len(checkpoints_per_vm)))
        self.merge_polls = merge_polls
        self.merges = dict((vm_id, merge_polls) for vm_id in merging)
        self.busy = busy or {}
        self.windows = []  # the checkpoint Ids of each removal window
        self.removed = []
        self.most_merging = len(self.merges)
        self.fault = None  # (window number, index, applied?, write_may_have_applied) of a dropped connection
        self.resend_fails = False
        self.quota_at = None  # (window number, index, started indices) of a WinRM quota refusal
        self.listing_refusals = 0  # host-wide listings refused with a WinRM quota fault before one answers
        self.fail_removal = None

    def vm_plain(self, vm_id):
        status = ["Ok"]
        if vm_id in self.merges:
            status = ["MergingDisks"]
        if vm_id in self.busy:
            status = [self.busy[vm_id]]
        return vm_obj(vm_id, "vm-%s" % vm_id[-2:], OperationalStatus=status)

    def owner(self, cid):
        return next((v for v, ids in self.checkpoints.items() if cid in ids), None)

    def run(self, pipelines, on_result=None):
        if pipelines[0][-1]["cmdlet"].endswith("Remove-VMSnapshot"):
            return self._removals(pipelines, on_result)
        results = []
        for pipeline in pipelines:
            params = dict(pipeline[0]["parameters"])
            if "Id" in params:
                results.append(make_result([self.vm_plain(params["Id"])], [], False))
            elif self.listing_refusals:
                self.listing_refusals -= 1
                raise QuotaError("MaxConcurrentOperationsPerUser", "MaxConcurrentOperationsPerUser", 2150859174)
            else:  # a host-wide Get-VM: one poll; every merge advances
                for vm_id in list(self.merges):
                    self.merges[vm_id] -= 1
                    if self.merges[vm_id] <= 0:
                        del self.merges[vm_id]
                results.append(make_result([self.vm_plain(v) for v in self.checkpoints], [], False))
        return results

    def _apply(self, cid):
        vm_id = self.owner(cid)
        if vm_id is None:
            return make_result([], [not_found()], True)
        assert vm_id not in self.merges, "a removal was sent to a VM that is still merging"
        self.checkpoints[vm_id].remove(cid)
        self.removed.append(cid)
        self.merges[vm_id] = self.merge_polls
        self.most_merging = max(self.most_merging, len(self.merges))
        return make_result([], [], False)

    def _removals(self, pipelines, on_result):
        ids = [dict(p[0]["parameters"])["Id"] for p in pipelines]  # Get-VMSnapshot -Id | Remove-VMSnapshot
        self.windows.append(ids)
        number = len(self.windows)
        results = []
        for index, cid in enumerate(ids):
            if self.fault and self.fault[0] == number and self.fault[1] == index:
                applied, sent = self.fault[2], self.fault[3]
                if applied:
                    self._apply(cid)
                exc = HVConnectionError("connection reset", write_may_have_applied=sent)
                exc.started = [index] if sent else []
                raise exc
            if self.quota_at and self.quota_at[:2] == (number, index):
                exc = QuotaError("MaxConcurrentOperationsPerUser", "MaxConcurrentOperationsPerUser", 2150859174)
                exc.started = self.quota_at[2]
                raise exc
            if self.fail_removal == cid:
                result = make_result([], [error_info(fqid="X", category="InvalidOperation", message="in use")], True)
            else:
                result = self._apply(cid)
            results.append(result)
            if on_result is not None and on_result(index, result) is False:
                break
        return results

    # what the recovery after a drop uses
    def get_checkpoint(self, cid):
        if self.owner(cid) is None:
            raise NotFoundError("No checkpoint with Id %s" % cid)
        return Checkpoint(id=cid, name="x")

    def remove_checkpoint(self, cid, include_children=False, missing_ok=True):
        if self.resend_fails:
            raise HVConnectionError("connection reset again", write_may_have_applied=True)
        result = self._apply(cid)
        return not result["errors"]


class Session(object):
    def __init__(self, host):
        self.client = host
        self.reopened = 0

    def reopen(self):
        self.reopened += 1
        return self.client


def lanes_for(host, records):
    lanes = []
    for vm_id, ids in host.checkpoints.items():
        vm = VM.from_plain(host.vm_plain(vm_id))

        def record(lane, cp, removed_now, note):
            item = {"vm_id": lane.vm.id, "id": cp.id, "removed_now": removed_now, "note": note, "merge_seconds": None}
            records.append(item)
            return item

        lanes.append(_prune.Lane(vm, [Checkpoint(id=c, name="ansible-%s" % c[-4:]) for c in ids], record))
    return lanes


def prune(host, parallel=4, wait_for_merge=True, merge_timeout=60, sleeps=None):
    records = []
    ticks = iter(range(10 ** 6))
    sleeps = [] if sleeps is None else sleeps
    run = _prune.PruneRun(Session(host), lanes_for(host, records), parallel, wait_for_merge, merge_timeout, 0,
                          sleep=sleeps.append, clock=lambda: float(next(ticks)))
    return run, records


@pytest.mark.parametrize("counts, parallel, windows", [
    # every VM's oldest checkpoint in the first window, the next ones once their merges are done
    ([2, 2, 1], 4, [[cp_id(0, 0), cp_id(1, 0), cp_id(2, 0)], [cp_id(0, 1), cp_id(1, 1)]]),
    # parallel 2: never more than two merges; the third VM waits for a free merge
    ([2, 1, 1], 2, [[cp_id(0, 0), cp_id(1, 0)], [cp_id(0, 1), cp_id(2, 0)]]),
    # parallel 1 is the old one-after-the-other order
    ([2, 1], 1, [[cp_id(0, 0)], [cp_id(0, 1)], [cp_id(1, 0)]]),
])
def test_vms_are_pruned_side_by_side_within_parallel(counts, parallel, windows):
    host = Host(counts)
    run, records = prune(host, parallel=parallel)
    run.run()
    assert host.windows == windows
    assert host.most_merging <= parallel
    assert sorted(host.removed) == sorted(c for w in windows for c in w)
    assert all(ids == [] for ids in host.checkpoints.values())
    assert all(r["removed_now"] and r["merge_seconds"] is not None for r in records)


def test_without_wait_for_merge_the_last_removal_of_a_vm_is_not_awaited():
    host = Host([1, 1], merge_polls=50)
    run, records = prune(host, wait_for_merge=False)
    run.run()
    assert host.windows == [[cp_id(0, 0), cp_id(1, 0)]]
    assert [r["merge_seconds"] for r in records] == [None, None]


def test_a_merge_already_running_is_awaited_first_and_counts_against_parallel():
    host = Host([1, 1], merging=[VM_IDS[0]])
    run = prune(host, parallel=1)[0]
    run.run()
    # had the running merge not counted, VM 2 (idle) would have gone first, beside it
    assert host.windows == [[cp_id(0, 0)], [cp_id(1, 0)]]
    assert host.most_merging == 1


def test_a_busy_vm_refuses_the_prune_before_any_removal():
    host = Host([1, 1], busy={VM_IDS[1]: "BackingUpVirtualMachine"})
    run, records = prune(host)
    with pytest.raises(_prune.LaneError) as caught:
        run.run()
    assert isinstance(caught.value.error, _prune.PruneRefused) and "backup" in str(caught.value.error)
    assert caught.value.target()["vm_id"] == VM_IDS[1]
    assert host.windows == [] and records == []


def test_a_failed_removal_still_records_the_ones_sent_before_it():
    host = Host([1, 1, 1])
    host.fail_removal = cp_id(1, 0)
    run, records = prune(host)
    with pytest.raises(_prune.LaneError) as caught:
        run.run()
    assert isinstance(caught.value.error, CommandError)
    assert caught.value.target()["checkpoint_id"] == cp_id(1, 0)
    assert [r["id"] for r in records] == [cp_id(0, 0)]  # applied before the failure, and reported
    assert host.removed == [cp_id(0, 0)]  # nothing was sent after the failure


@pytest.mark.parametrize("applied, note", [(True, _prune.NOTE_GONE), (False, _prune.NOTE_RETRIED)])
def test_a_drop_mid_window_rereads_the_sent_removal_and_keeps_the_unsent_ones(applied, note):
    host = Host([2, 1, 1])
    host.fault = (1, 1, applied, True)  # the second removal of the first window; the third was never sent
    run, records = prune(host)
    run.run()
    assert run.session.reopened == 1
    assert sorted(host.removed) == sorted([cp_id(0, 0), cp_id(0, 1), cp_id(1, 0), cp_id(2, 0)])
    assert len(host.removed) == len(set(host.removed))  # nothing removed twice
    by_id = dict((r["id"], r) for r in records)
    assert by_id[cp_id(1, 0)]["note"] == note and by_id[cp_id(1, 0)]["removed_now"]
    assert by_id[cp_id(2, 0)]["note"] is None  # sent normally in a later window
    assert cp_id(2, 0) in host.windows[1]


def test_a_merge_past_its_timeout_names_the_vm_and_checkpoint():
    host = Host([2], merge_polls=10 ** 6)
    run, records = prune(host, merge_timeout=3)
    with pytest.raises(_prune.LaneError) as caught:
        run.run()
    assert isinstance(caught.value.error, OperationTimeoutError)
    assert caught.value.target() == {"vm": "vm-a1", "vm_id": VM_IDS[0], "checkpoint": "ansible-0000",
                                     "checkpoint_id": cp_id(0, 0)}
    assert host.removed == [cp_id(0, 0)] and len(records) == 1


def test_a_second_drop_while_resending_is_raised_for_that_checkpoint():
    host = Host([1, 1])
    host.fault = (1, 0, False, True)
    host.resend_fails = True
    run, records = prune(host)
    with pytest.raises(_prune.LaneError) as caught:
        run.run()
    assert isinstance(caught.value.error, HVConnectionError)
    assert caught.value.target()["checkpoint_id"] == cp_id(0, 0)
    assert run.session.reopened == 1 and host.removed == [] and records == []


def test_a_drop_before_anything_was_sent_is_raised_without_reconnecting():
    host = Host([1, 1])
    host.fault = (1, 0, False, False)
    run, records = prune(host)
    with pytest.raises(HVConnectionError):
        run.run()
    assert run.session.reopened == 0 and host.removed == [] and records == []


def test_a_quota_refusal_rereads_the_refused_removal_and_sends_it_once_more():
    host = Host([1, 1])
    host.quota_at = (1, 1, [1])
    run, records = prune(host)
    run.run()
    assert run.session.reopened == 1
    assert sorted(host.removed) == sorted([cp_id(0, 0), cp_id(1, 0)])
    assert [r["note"] for r in records] == [None, _prune.NOTE_REFUSED]


def test_a_quota_fault_with_nothing_in_doubt_is_raised_not_looped():
    host = Host([1, 1])
    host.quota_at = (1, 0, [])
    run, records = prune(host)
    with pytest.raises(QuotaError):
        run.run()
    assert run.session.reopened == 0 and host.removed == [] and records == []


def test_a_merge_poll_refused_by_the_quota_is_read_again_after_a_pause():
    host = Host([1])
    host.listing_refusals = 2
    sleeps = []
    run, records = prune(host, sleeps=sleeps)
    run.run()
    assert [s for s in sleeps if s > 0] == list(READ_RETRY_DELAYS[:2])  # the reads backed off, 1 s then 2 s
    assert host.removed == [cp_id(0, 0)] and records[0]["merge_seconds"] is not None


def test_a_merge_poll_refused_past_the_retries_is_raised():
    host = Host([1])
    host.listing_refusals = len(READ_RETRY_DELAYS) + 1
    run = prune(host)[0]
    with pytest.raises(QuotaError):
        run.run()
