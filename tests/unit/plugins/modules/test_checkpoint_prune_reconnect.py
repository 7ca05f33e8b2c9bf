"""checkpoint_prune.remove_once: test-matrix B2 (the connection drops after Remove-VMSnapshot was sent)."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import ConnectionError as HVConnectionError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import NotFoundError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import Checkpoint
from ansible_collections.hyperv.checkpoints.plugins.modules import checkpoint_prune as mod

CP = Checkpoint(id="00000000-0000-4000-8000-000000000001", name="ansible-a")


class Client:
    def __init__(self, remove_effects, present):
        self.remove_effects = list(remove_effects)
        self.present = present
        self.removes = 0

    def remove_checkpoint(self, cid, include_children=False, missing_ok=True):
        self.removes += 1
        effect = self.remove_effects.pop(0)
        if isinstance(effect, Exception):
            raise effect
        return effect

    def get_checkpoint(self, cid):
        if not self.present:
            raise NotFoundError("No checkpoint with Id %s" % cid)
        return CP


class Session:
    def __init__(self, first, second):
        self.client = first
        self.second = second
        self.reopened = 0

    def reopen(self):
        self.reopened += 1
        self.client = self.second
        return self.client


def drop(applied=True):
    return HVConnectionError("connection reset", write_may_have_applied=applied)


def test_gone_after_drop_counts_as_removed_without_a_second_remove():
    second = Client([], present=False)
    session = Session(Client([drop()], present=True), second)
    assert mod.remove_once(session, CP) == (True, mod.NOTE_GONE)
    assert session.reopened == 1 and second.removes == 0


def test_still_present_after_drop_is_removed_once_more():
    second = Client([True], present=True)
    session = Session(Client([drop()], present=True), second)
    assert mod.remove_once(session, CP) == (True, mod.NOTE_RETRIED)
    assert second.removes == 1


def test_second_drop_is_raised():
    second = Client([drop()], present=True)
    session = Session(Client([drop()], present=True), second)
    with pytest.raises(HVConnectionError):
        mod.remove_once(session, CP)
    assert session.reopened == 1


def test_drop_before_sending_is_raised_without_reconnect():
    session = Session(Client([drop(applied=False)], present=True), None)
    with pytest.raises(HVConnectionError):
        mod.remove_once(session, CP)
    assert session.reopened == 0
