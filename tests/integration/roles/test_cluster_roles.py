"""Failure path of the guest_cluster_checkpoint role, verified on hvsim's real state."""

from __future__ import annotations

import typing as t

import pytest

PLAYBOOK = "hyperv.checkpoints.cluster_checkpoint"

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


def test_one_member_fails_to_shut_down_no_member_is_checkpointed_all_run(lab: t.Any) -> None:
    # sqlclu-b (passive, HV02) is shut down first; the owner sqlclu-a (HV01) is held by a backup, so its
    # shutdown fails. The role must restart sqlclu-b and checkpoint nobody.
    members = [("sqlclu-a", "HV01"), ("sqlclu-b", "HV02")]
    before = {m: lab.snapshot(*m) for m in members}
    assert all(b["state"] == "Running" for b in before.values())
    lab.handle.inject_fault("backup_lock", vm="sqlclu-a")

    proc = lab.run(PLAYBOOK, extra={"guest_cluster_checkpoint_group": "sqlclu",
                                    "guest_cluster_checkpoint_name": "cluster-test"})
    out = proc.stdout
    assert proc.returncode != 0, out
    assert "checkpoint cluster-test: FAILED" in out, out
    assert "sqlclu-b on HV02: Running -> Running, stopped by this run, not checkpointed" in out, out
    assert "sqlclu-a (owner) on HV01: Running -> Running, not checkpointed" in out, out

    lab.handle.server.lab.clear_faults()
    for m in members:
        now = lab.snapshot(*m)
        assert now["state"] == "Running", (m, now)
        assert now["checkpoints"] == before[m]["checkpoints"] == [], (m, now)
