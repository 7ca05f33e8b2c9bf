"""The fleet roles on an inventory from the hyperv.checkpoints.hyperv plugin: one module call per Hyper-V host
and step (the batched path) instead of one per VM, with the same outcome on the simulator's real state.

Each test runs the same playbook twice, on two fresh demo labs: batched (the default) and with the role's
``*_batch: false``. Outcomes are read from hvsim's model; sessions are counted by hvsim (``shells_created``).
"""

from __future__ import annotations

import pathlib
import re
import typing as t

import pytest

FILES = pathlib.Path(__file__).resolve().parent / "files"
Lab = t.Any

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def split(inventory_name: str) -> t.Tuple[str, str]:
    vm, host = inventory_name.split("@")
    return vm, host


def recap(out: str) -> t.Dict[str, t.Dict[str, int]]:
    rows = re.findall(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", out, re.M)
    return {h: {"ok": int(o), "changed": int(c), "unreachable": int(u), "failed": int(f)} for h, o, c, u, f in rows}


@pytest.fixture
def two_labs(lab_factory: t.Callable[[], Lab]) -> t.Tuple[Lab, Lab]:
    """(lab for the batched run, lab for the per-VM run)."""
    return lab_factory(), lab_factory()


#: sessions the inventory plugin opens to build the inventory: one per Hyper-V host of the demo lab
INVENTORY_SESSIONS = 3


def run(lab: Lab, playbook: str, vms: t.Sequence[str], extra: t.Dict[str, t.Any], args: t.Sequence[str] = (),
        host_vars: t.Optional[t.Dict[str, t.Dict[str, t.Any]]] = None) -> t.Any:
    inventories, env = lab.plugin_inventory(host_vars)
    lab.handle.reset_stats()
    proc = lab.run(playbook, limit=",".join(vms), extra=extra, inventories=inventories, env_extra=env, args=args)
    stats = lab.handle.stats()
    proc.shells = stats["shells_created"] - INVENTORY_SESSIONS  # the playbook's own sessions
    proc.writes = stats["mutating_pipelines"]
    assert "Could not match supplied host pattern" not in proc.stderr, proc.stderr
    assert lab.handle.stats()["open_shells_total"] == 0
    return proc


PRE_PATCH_VMS = ["web01@HV01", "app01@HV01", "lnx01@HV01", "web01@HV02", "file01@HV02"]


def test_pre_patch_batched_per_host_same_outcome_as_per_vm(two_labs: t.Tuple[Lab, Lab]) -> None:
    # Two Hyper-V hosts. On HV01 lnx01's patch breaks it (rolled back); on HV02 web01's health check fails
    # (rolled back). The others are patched and their checkpoint merged.
    extra = {
        "pre_patch_patch_tasks": str(FILES / "patch_fail.yml"),
        "pre_patch_health_tasks": str(FILES / "health.yml"),
        "fail_patch_on": ["lnx01@HV01"],
        "fail_health_on": ["web01@HV02"],
    }
    results = {}
    for lab, batch in zip(two_labs, (True, False)):
        before = {vm: lab.snapshot(*split(vm)) for vm in PRE_PATCH_VMS}
        proc = run(lab, "hyperv.checkpoints.pre_patch", PRE_PATCH_VMS, dict(extra, pre_patch_batch=batch))
        out = proc.stdout
        assert proc.returncode != 0, out  # two VMs failed their patch
        for vm in ("web01@HV01", "app01@HV01", "file01@HV02"):
            assert f"{vm}: patched - patched and healthy" in out, out
        for vm in ("lnx01@HV01", "web01@HV02"):
            assert f"{vm}: rolled_back - rolled back to pre-patch-" in out, out
        for vm in PRE_PATCH_VMS:
            # merged or rolled back: power state, tree position, checkpoints and settings as before
            assert lab.snapshot(*split(vm)) == before[vm], (batch, vm)
        results[batch] = proc

    batched, per_vm = results[True], results[False]
    # Sessions (one per module call). Per VM: guard read, preflight, state read and checkpoint for each of the
    # 5 VMs (20), a merge for each of the 3 healthy ones (3), lnx01's patch (1), and for each of the 2 rollbacks
    # apply, remove and read back (6): 30. Batched: those four steps once per Hyper-V host (8; every VM here
    # needs the same checkpoint type), one merge call for HV01's two healthy VMs and one for file01 alone (2),
    # and the same patch and rollbacks (7): 17.
    assert per_vm.shells == 30, per_vm.shells
    assert batched.shells == 17, batched.shells
    # one VM of each Hyper-V host made the call for the others
    assert re.search(r"changed: \[\S+@HV01 -> localhost\] => \(item=any\)", batched.stdout), batched.stdout


def test_pre_patch_batches_only_the_vms_of_the_current_serial_batch(lab_factory: t.Callable[[], Lab]) -> None:
    # serial 2 over four VMs of HV01: each batch's calls cover its own two VMs only. Had a call covered the
    # next batch's VMs, they would keep a checkpoint of the first batch's name that nothing merges.
    lab = lab_factory()
    vms = ["web01@HV01", "app01@HV01", "lnx01@HV01", "deep01@HV01"]
    before = {vm: lab.snapshot(*split(vm)) for vm in vms}
    proc = run(lab, "hyperv.checkpoints.pre_patch", vms, {
        "pre_patch_patch_tasks": str(FILES / "patch_fail.yml"), "pre_patch_serial": 2})
    assert proc.returncode == 0, proc.stdout
    for vm in vms:
        assert f"{vm}: patched - patched and healthy" in proc.stdout, proc.stdout
        assert lab.snapshot(*split(vm)) == before[vm], vm
    # one checkpoint and one removal per VM; a call that reached into the next batch would write more
    assert proc.writes == 2 * len(vms), proc.writes
    assert proc.shells == 2 * 5, proc.shells  # per batch: guard read, preflight, state read, checkpoint, merge


RETENTION_VMS = ["nightly49@HV03", "small01@HV03", "web01@HV01", "app01@HV01", "lnx01@HV01", "deep01@HV01"]
RETENTION = {"checkpoint_retention_rules": [{"name": "nightly", "owned_prefix": "nightly-", "keep_newest": 45}]}


def test_retention_batched_check_mode_run_and_rerun(two_labs: t.Tuple[Lab, Lab]) -> None:
    removed = {}
    for lab, batch in zip(two_labs, (True, False)):
        extra = dict(RETENTION, checkpoint_retention_batch=batch)
        nightly = [n for n in lab.checkpoint_names("nightly49", "HV03") if n.startswith("nightly-")]
        assert len(nightly) == 49

        digest = lab.handle.digest()
        check = run(lab, "hyperv.checkpoints.prune", RETENTION_VMS, extra, args=["--check"])
        assert check.returncode == 0, check.stdout
        assert "nightly49@HV03: 4 checkpoint(s) would be removed" in check.stdout, check.stdout
        assert lab.handle.digest() == digest  # check mode changed nothing

        first = run(lab, "hyperv.checkpoints.prune", RETENTION_VMS, extra)
        assert first.returncode == 0, first.stdout
        assert "nightly49@HV03: 4 checkpoint(s) removed" in first.stdout, first.stdout
        for vm in RETENTION_VMS[1:]:
            assert f"{vm}: 0 checkpoint(s) removed" in first.stdout, first.stdout
        left = [n for n in lab.checkpoint_names("nightly49", "HV03") if n.startswith("nightly-")]
        assert len(left) == 45 and set(left) <= set(nightly)
        removed[batch] = sorted(set(nightly) - set(left))
        # the sessions: one prune call per Hyper-V host batched, one per VM otherwise
        assert first.shells == (2 if batch else len(RETENTION_VMS)), (batch, first.shells)

        again = run(lab, "hyperv.checkpoints.prune", RETENTION_VMS, extra)
        assert again.returncode == 0, again.stdout
        assert all(row["changed"] == 0 for row in recap(again.stdout).values()), again.stdout
        assert "nightly49@HV03: 0 checkpoint(s) removed" in again.stdout, again.stdout

    assert removed[True] == removed[False] and len(removed[True]) == 4  # the same four, oldest first


def test_retention_vm_with_its_own_rules_is_pruned_with_them(lab_factory: t.Callable[[], Lab]) -> None:
    # nightly49 keeps 40 (its host_vars), the other VMs of HV03 and HV01 keep 45 (group vars): nightly49 is not
    # grouped with small01 although they share the Hyper-V host, whichever of them would lead.
    lab = lab_factory()
    rules = {"nightly49@HV03": {"checkpoint_retention_rules": [
        {"name": "nightly", "owned_prefix": "nightly-", "keep_newest": 40}]}}
    for vm in RETENTION_VMS[1:]:
        rules[vm] = RETENTION
    proc = run(lab, "hyperv.checkpoints.prune", RETENTION_VMS, {}, host_vars=rules)
    assert proc.returncode == 0, proc.stdout
    assert "nightly49@HV03: 9 checkpoint(s) removed" in proc.stdout, proc.stdout
    assert len([n for n in lab.checkpoint_names("nightly49", "HV03") if n.startswith("nightly-")]) == 40
    # nightly49 alone, small01 alone (the only other VM of HV03 here), the four VMs of HV01 together
    assert proc.shells == 3, proc.shells


GUARD_PLAY = """
- name: Guard the VMs
  hosts: all:!hyperv_hosts
  gather_facts: false
  roles:
    - role: hyperv.checkpoints.checkpoint_guard
"""


def test_guard_refuses_a_vm_its_preflight_refuses_on_both_paths(lab_factory: t.Callable[[], Lab]) -> None:
    # pt01 has a pass-through disk: the checkpoint preflight refuses it, so the guard must refuse it, batched
    # (with file01 and wild01 of the same host) or VM by VM.
    vms = ["pt01@HV02", "file01@HV02", "wild01@HV02"]
    for batch in (True, False):
        lab = lab_factory()
        playbook = lab.tmp / "guard.yml"
        playbook.write_text(GUARD_PLAY, encoding="utf-8")
        digest = lab.handle.digest()
        proc = run(lab, str(playbook), vms, {"checkpoint_guard_batch": batch})
        assert proc.returncode == 0, proc.stdout
        assert re.search(r"pt01 on \S+: REFUSED - preflight refused: .*pass-through", proc.stdout), (batch, proc.stdout)
        for vm in ("file01", "wild01"):
            assert re.search(r"%s on \S+: allowed" % vm, proc.stdout), (batch, proc.stdout)
        assert lab.handle.digest() == digest  # the guard changes nothing
        assert proc.shells == (2 if batch else 2 * len(vms)), (batch, proc.shells)


POLICY_VMS = ["web01@HV01", "app01@HV01", "lnx01@HV01", "deep01@HV01", "sql01@HV02", "file01@HV02", "wild01@HV02"]


def test_checkpoint_policy_batched_same_settings_as_per_vm(two_labs: t.Tuple[Lab, Lab]) -> None:
    settings = {}
    for lab, batch in zip(two_labs, (True, False)):
        proc = run(lab, "hyperv.checkpoints.set_policy", POLICY_VMS,
                   {"checkpoint_policy_batch": batch, "checkpoint_guard_replicating_vms": ["sql01"]})
        assert proc.returncode == 0, proc.stdout
        settings[batch] = {vm: (lab.vm(*split(vm)).checkpoint_type, lab.vm(*split(vm)).automatic_checkpoints)
                           for vm in POLICY_VMS}
        if batch:
            batched_shells = proc.shells
        else:
            per_vm_shells = proc.shells
        again = run(lab, "hyperv.checkpoints.set_policy", POLICY_VMS,
                    {"checkpoint_policy_batch": batch, "checkpoint_guard_replicating_vms": ["sql01"]})
        assert again.returncode == 0, again.stdout
        assert all(row["changed"] == 0 for row in recap(again.stdout).values()), again.stdout

    assert settings[True] == settings[False]
    # the policy changed something (automatic checkpoints off everywhere, sql01 disabled as a replicating app)
    assert settings[True]["sql01@HV02"][0] == "Disabled"
    assert all(auto is False for _, auto in settings[True].values())
    # Per VM: a guest read and a checkpoint_policy call for each of the 7 VMs: 14. Batched: one read per Hyper-V
    # host (2) and one call per host and set of settings (4): HV01 production (web01, app01, deep01) and standard
    # (lnx01, no VSS in the guest); HV02 disabled (sql01, replicates itself) and production (file01, wild01).
    assert per_vm_shells == 14, per_vm_shells
    assert batched_shells == 6, batched_shells
