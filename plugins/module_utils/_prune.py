# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The removals of a prune: one at a time on each VM, the VMs of one host side by side.

Each VM is a lane. A lane removes its oldest planned checkpoint, waits for that merge, then
removes the next (a VM is never asked to merge twice at once). The heads of all idle lanes go
out in one window, and one host-wide ``Get-VM`` per poll tells which merges have finished. At most
``parallel`` merges of the task run at once (a merge already running when the task starts counts),
so a host with many VMs merges ``parallel`` of them at a time instead of one after the other,
without a merge storm on its storage.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.hyperv.checkpoints.plugins.module_utils._host_reads import run_reads, vm_statuses
from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import (
    HyperVClient,
    raise_for_result,
    removal_outcome,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import ConnectionError as HVConnectionError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import (
    HyperVError,
    NotFoundError,
    OperationTimeoutError,
    QuotaError,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import VM
from ansible_collections.hyperv.checkpoints.plugins.module_utils._power import blocking_reasons

NOTE_GONE = ("the connection dropped after the removal was sent; on reconnecting the checkpoint was gone, so the "
             "removal was applied (its merge may still have been running)")
NOTE_RETRIED = ("the connection dropped after the removal was sent; on reconnecting the checkpoint was still there, "
                "so the removal was sent once more")
NOTE_REFUSED = ("the host refused the removal with a WinRM quota fault; on reconnecting the checkpoint was still "
                "there, so the removal was sent once more")


class PruneRefused(HyperVError):
    kind = "refused"


class LaneError(HyperVError):
    """A failure that belongs to one VM (and checkpoint) of the prune; ``error`` is the original."""

    def __init__(self, error, action, lane, checkpoint=None):
        super(LaneError, self).__init__(str(error))
        self.error = error
        self.action = action
        self.lane = lane
        self.checkpoint = checkpoint

    def target(self):
        target = {"vm": self.lane.vm.name, "vm_id": self.lane.vm.id}
        if self.checkpoint is not None:
            target.update(checkpoint=self.checkpoint.name, checkpoint_id=self.checkpoint.id)
        return target


class Lane(object):
    """One VM's planned removals, oldest first, and where it stands."""

    def __init__(self, vm, checkpoints, on_removed):
        self.vm = vm
        self.queue = list(checkpoints)
        #: on_removed(lane, checkpoint, removed_now, note) -> the result item, filled in later
        self.on_removed = on_removed
        self.merge_started = None
        self.merge_item = None
        self.merge_checkpoint = None

    @property
    def merging(self):
        return self.merge_started is not None


def _after_drop(client, cp, refused=False):
    """(removed_now, note) for a removal whose fate a dropped connection (or a quota refusal) left unknown.

    test-matrix B2: a checkpoint that is gone counts as removed; one that is still there gets the
    removal once more; a further failure is raised.
    """
    try:
        client.get_checkpoint(cp.id)
    except NotFoundError:
        return True, NOTE_GONE
    return (client.remove_checkpoint(cp.id, include_children=False, missing_ok=True),
            NOTE_REFUSED if refused else NOTE_RETRIED)


class PruneRun(object):
    """Drive the lanes of one host until every planned checkpoint is removed (and merged, if asked)."""

    def __init__(self, session, lanes, parallel, wait_for_merge, merge_timeout, poll_interval, sleep=time.sleep,
                 clock=time.monotonic):
        self.session = session
        #: at most this many of the task's merges run on the host at once (and as many removals in a window)
        self.parallel = max(1, int(parallel))
        self.lanes = [lane for lane in lanes if lane.queue]
        self.wait_for_merge = wait_for_merge
        self.merge_timeout = max(0.0, float(merge_timeout))
        self.poll_interval = max(0.0, float(poll_interval))
        self._sleep = sleep
        self._clock = clock

    def run(self):
        if not self.lanes:
            return
        self._check_idle()
        while True:
            room = self.parallel - sum(1 for lane in self.lanes if lane.merging)
            ready = [lane for lane in self.lanes if lane.queue and not lane.merging][:max(0, room)]
            if ready:
                self._remove_heads(ready)
            if not any(lane.merging for lane in self.lanes):
                if not any(lane.queue for lane in self.lanes):
                    return
                continue
            self._sleep(self.poll_interval)
            self._poll_merges()

    # ------------------------------------------------------------------ reads
    def _check_idle(self):
        """Every VM is read by Id before the first removal anywhere; a busy VM refuses the whole prune."""
        results = run_reads(self.session.client, [HyperVClient.get_vm_pipeline(lane.vm.id) for lane in self.lanes],
                            self._sleep)
        now = self._clock()
        for lane, result in zip(self.lanes, results):
            try:
                output = raise_for_result(result, "reading VM", not_found_ok=True)
                if not output:
                    raise NotFoundError("VM %s is gone from host %s" % (lane.vm.id, self.session.client.host))
            except HyperVError as exc:
                raise LaneError(exc, "prune checkpoints of", lane)
            vm = VM.from_plain(output[0])
            busy = blocking_reasons(vm)
            if busy:
                raise LaneError(PruneRefused(
                    "the VM is busy: %s" % ", ".join(busy),
                    hint="Wait until the operation has finished; nothing was removed from any VM."),
                    "prune checkpoints of", lane)
            if vm.merging:
                lane.merge_started = now  # a merge already running: wait for it before the first removal

    def _poll_merges(self):
        listing = vm_statuses(self.session.client, self._sleep)
        now = self._clock()
        for lane in self.lanes:
            if not lane.merging:
                continue
            vm = listing.get(lane.vm.id)
            if vm is None or not vm.merging:
                if lane.merge_item is not None:
                    lane.merge_item["merge_seconds"] = round(now - lane.merge_started, 3)
                lane.merge_started = lane.merge_item = lane.merge_checkpoint = None
                continue
            if now - lane.merge_started >= self.merge_timeout:
                what = ("the merge after removing" if lane.merge_checkpoint is not None
                        else "the merge already running on")
                raise LaneError(OperationTimeoutError(
                    "Timed out after %ss waiting for the disk merge to finish (VM %s %s; operational status: %s)"
                    % (self.merge_timeout, vm.name, vm.id, ", ".join(vm.operational_status) or "unknown"),
                    hint="Raise the timeout, or check the host for a stuck operation."),
                    "wait for %s" % what, lane, lane.merge_checkpoint)

    # ------------------------------------------------------------------ writes
    def _remove_heads(self, ready):
        """One window with the oldest planned checkpoint of each ready lane.

        A removal that fails stops the window from sending more, but every removal already sent is
        still settled and recorded before the failure is raised, so the result lists all of them.
        """
        heads = [lane.queue[0] for lane in ready]
        settled = set()
        failures = []

        def settle(index, result):
            settled.add(index)
            lane = ready[index]
            try:
                removed_now = removal_outcome(result)
            except HyperVError as exc:
                failures.append(LaneError(exc, "remove checkpoint (prune)", lane, heads[index]))
                return False
            self._removed(lane, heads[index], removed_now, None)
            return True

        try:
            self.session.client.run(
                [HyperVClient.remove_checkpoint_pipeline(cp.id, False) for cp in heads], on_result=settle)
        except (HVConnectionError, QuotaError) as exc:
            started = set(getattr(exc, "started", None) or [])
            unknown = [i for i in sorted(started) if i not in settled]
            if not unknown:
                raise  # nothing sent is in doubt: the task fails and a rerun re-reads everything
            # the unsent heads stay queued for the next window; each sent one is re-read by Id first
            client = self.session.reopen()
            for index in unknown:
                lane = ready[index]
                try:
                    removed_now, note = _after_drop(client, heads[index], isinstance(exc, QuotaError))
                except HyperVError as again:
                    raise LaneError(again, "remove checkpoint (prune) after the connection dropped", lane,
                                    heads[index])
                self._removed(lane, heads[index], removed_now, note)
        if failures:
            raise failures[0]

    def _removed(self, lane, cp, removed_now, note):
        lane.queue.pop(0)
        item = lane.on_removed(lane, cp, removed_now, note)
        if lane.queue or self.wait_for_merge:
            lane.merge_started = self._clock()
            lane.merge_item = item
            lane.merge_checkpoint = cp
