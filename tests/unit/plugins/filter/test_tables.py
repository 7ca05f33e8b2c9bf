"""The vm_table and checkpoint_tree filters, on results the info modules return for the demo lab."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hyperv.checkpoints.plugins.filter.tables import FilterModule, checkpoint_tree, vm_table
from hvsim.lab import load_lab
from support.modules import run_module


@pytest.fixture(scope="module")
def lab():
    return load_lab("demo")


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"vm_table", "checkpoint_tree"}


def test_vm_table_has_one_row_per_vm_and_role_hints(lab):
    vms = run_module("vm_info", {}, lab=lab, host="HV01")["vms"]
    lines = vm_table(vms, "HV01")
    assert lines[0] == "Hyper-V host HV01: %d VMs" % len(vms)
    assert lines[1].split()[:3] == ["VM", "STATE", "TYPE"]
    assert len(lines) == len(vms) + 2
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == {vm["name"] for vm in vms}
    assert "domain controller" in rows["dc01"]
    assert "no VSS" in rows["lnx01"]


def test_vm_table_truncates_long_names_instead_of_breaking_columns():
    lines = vm_table([{"name": "x" * 40, "state": "Off", "checkpoint_type": "Standard", "checkpoint_count": 1}])
    assert lines[1].startswith("x" * 17 + "~ ")


@pytest.mark.parametrize("bad", ["not a list", [1, 2]])
def test_vm_table_rejects_other_input(bad):
    with pytest.raises(AnsibleFilterError):
        vm_table(bad)


def test_checkpoint_tree_marks_now_under_the_current_checkpoint(lab):
    vm = run_module("checkpoint_info", {"vm_name": "deep01"}, lab=lab, host="HV01")["vms"][0]
    lines = checkpoint_tree(vm)
    assert lines[0].startswith("deep01 (")
    names = [c["name"] for c in vm["checkpoints"]]
    for name in names:
        assert any((" %s [" % name) in line for line in lines), name
    now_index = next(i for i, line in enumerate(lines) if line.strip().endswith("Now"))
    current = vm["now_parent_name"]
    assert (" %s [" % current) in lines[now_index - 1]
    # the Now line is indented one level deeper than its parent checkpoint
    assert len(lines[now_index]) - len(lines[now_index].lstrip(" |`-")) > \
        len(lines[now_index - 1]) - len(lines[now_index - 1].lstrip(" |`-"))


def test_checkpoint_tree_of_a_vm_without_checkpoints(lab):
    vm = run_module("checkpoint_info", {"vm_name": "dc01"}, lab=lab, host="HV01")["vms"][0]
    assert checkpoint_tree(vm)[1].strip() == "(no checkpoints) <- Now"


def test_checkpoint_tree_rejects_other_input():
    with pytest.raises(AnsibleFilterError):
        checkpoint_tree({"vm_name": "x"})
