"""Failure paths of the pre_patch role/playbook, verified on hvsim's real state."""

from __future__ import annotations

import pathlib
import typing as t

import pytest

FILES = pathlib.Path(__file__).resolve().parent / "files"
PLAYBOOK = "hyperv.checkpoints.pre_patch"
Lab = t.Any

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


def test_patch_failure_rolls_back_to_the_exact_pre_patch_state(lab: Lab) -> None:
    # web01 (HV01) runs, with two checkpoints; web01 on HV02 is off. The patch breaks web01 (turns it off and
    # fails); on the HV02 one the patch succeeds but the health check fails.
    # file01 (HV02) is saved; its patch breaks it too.
    before = {m: lab.snapshot(*m) for m in [("web01", "HV01"), ("web01", "HV02"), ("file01", "HV02")]}
    assert before[("web01", "HV01")]["state"] == "Running"
    assert before[("web01", "HV02")]["state"] == "Off"
    assert before[("file01", "HV02")]["state"] == "Saved"

    proc = lab.run(PLAYBOOK, limit="web01,web01-hv02,file01", extra={
        "pre_patch_patch_tasks": str(FILES / "patch_fail.yml"),
        "pre_patch_health_tasks": str(FILES / "health.yml"),
        "fail_patch_on": ["web01", "file01"],
        "fail_health_on": ["web01-hv02"],
    })
    out = proc.stdout
    assert proc.returncode != 0, out
    assert "web01: rolled_back - rolled back to pre-patch-" in out, out
    assert "web01-hv02: rolled_back - rolled back to pre-patch-" in out, out
    assert "file01: rolled_back - rolled back to pre-patch-" in out, out
    assert "VM Running, was Running" in out and "VM Off, was Off" in out and "VM Saved, was Saved" in out, out
    assert "simulated patch failure" in out and "simulated health check failure" in out, out

    for key, was in before.items():
        now = lab.snapshot(*key)
        assert now == was, (key, was, now)  # same power state, tree position, checkpoints and settings


def test_domain_controller_in_multi_dc_domain_is_refused_with_the_reason(lab: Lab) -> None:
    before = lab.snapshot("dc01", "HV01")
    proc = lab.run(PLAYBOOK, limit="dc01", extra={"pre_patch_patch_tasks": str(FILES / "patch_fail.yml")})
    out = proc.stdout
    assert proc.returncode != 0, out
    assert "dc01: refused - refused, not patched: domain controller in a multi-DC domain (KVP ProductType 2" in out, out
    assert "USN rollback" in out
    assert lab.snapshot("dc01", "HV01") == before  # nothing taken, nothing patched

    # The per-VM override for a single-DC domain: allowed, with a production checkpoint that is merged afterwards.
    proc = lab.run(PLAYBOOK, limit="dc01", extra={"pre_patch_patch_tasks": str(FILES / "patch_fail.yml"),
                                                  "checkpoint_guard_domain_dc_count": 1})
    out = proc.stdout
    assert proc.returncode == 0, out
    assert "dc01 on HV01: allowed (production checkpoint required)" in out, out
    assert "dc01: patched - patched and healthy; checkpoint pre-patch-" in out, out
    assert lab.snapshot("dc01", "HV01") == before


def test_hyperv_host_unreachable_mid_run_others_complete_and_failure_is_listed(lab: Lab) -> None:
    vms = {"lnx01": ("lnx01", "HV01"), "file01": ("file01", "HV02"), "sql01": ("sql01", "HV02"),
           "nightly49": ("nightly49", "HV03")}
    before = {k: lab.snapshot(*v) for k, v in vms.items()}
    proc = lab.run(PLAYBOOK, limit=",".join(vms), extra={
        "pre_patch_patch_tasks": str(FILES / "patch_host_down.yml"),
        "host_down_host": "HV02",
        "host_down_trigger": "file01",
    })
    out = proc.stdout
    assert proc.returncode != 0, out
    # The other hosts completed: patched, checkpoint merged, nothing left behind.
    for name in ("lnx01", "nightly49"):
        assert f"{name}: patched - patched and healthy" in out, out
        assert lab.snapshot(*vms[name]) == before[name]
    # The VMs of the unreachable host are listed as failed, with the reason; their checkpoint is kept.
    for name in ("file01", "sql01"):
        assert f"{name}: cleanup_failed" in out, out
        assert any(n.startswith("pre-patch-") for n in lab.checkpoint_names(*vms[name]))
    summary = out[out.index("Summary of the run so far"):]
    for name in vms:
        assert f"{name}: " in summary


def test_serial_and_max_fail_percentage_stop_later_batches(lab: Lab) -> None:
    # serial 1 with max_fail_percentage 0: the refused DC (first batch) stops the play; web01 is never touched.
    proc = lab.run(PLAYBOOK, limit="dc01,web01", extra={
        "pre_patch_patch_tasks": str(FILES / "patch_fail.yml"),
        "pre_patch_serial": 1,
        "pre_patch_max_fail_percentage": 0,
        "pre_patch_keep_hours": 24,
    })
    out = proc.stdout
    assert proc.returncode != 0, out
    assert not any(n.startswith("pre-patch-") for n in lab.checkpoint_names("web01", "HV01")), out
    assert "dc01: refused" in out
