"""Hostile names round-trip as literal data through both transports and match only themselves.

Property test (hypothesis, bounded): VMs and checkpoints are seeded in the lab model with
names made of quotes (typographic ones too), $(), backticks, ;, wildcards *, ?, [ ], newlines
(VM names only; checkpoint names reject them at argspec), RTL text and emoji, next to decoys
that a wildcard or case-insensitive lookup would also match.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvsim.model.objects import VM
from integration.hvsim.helpers import TRANSPORTS, connection, run_module

pytestmark = [pytest.mark.psrp, pytest.mark.winrs, pytest.mark.slow, pytest.mark.timeout(900)]

PIECES = [
    "'", '"', "\u2018", "\u2019", "\u201a", "\u201b", "\u201c", "\u201d", "\u201e", "$(", ")", "$(Stop-Computer)",
    "`", "`n", ";", "; Remove-VM -Force *; ", "*", "?", "[", "]", "[01]", "&", "|", "@{a=1}", "${env:x}",
    "\u202e", "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627", "\U0001f600", "\U0001f9ea", "web", "DB",
    " ", "x", "-Name", "--%",
]
VM_ONLY = ["\n", "\r\n"]

SEQ = itertools.count(1)


def hostile(extra=()):
    return st.lists(st.sampled_from(PIECES + list(extra)), min_size=1, max_size=6).map("".join)


def seed(lab, vm_name, cp_name):
    """Add a VM named ``vm_name`` with a checkpoint ``cp_name`` plus decoys; return (vm_id, cp_id)."""
    with lab.locked():
        vm = lab.add_vm(VM(id=lab.new_guid(), name=vm_name, host="HV02", state="Off"), disks=[{}])
        # decoys: what -Name wildcards, case folding or trimming would also match
        for decoy in {vm_name + "x", vm_name.upper(), vm_name.lower(), vm_name.strip() + "  ", "x" + vm_name}:
            if decoy != vm_name:
                lab.add_vm(VM(id=lab.new_guid(), name=decoy, host="HV02", state="Off"), disks=[{}])
        cp = lab.seed_snapshot(vm, cp_name, kind="production")
        decoy_cp = lab.seed_snapshot(vm, cp_name.swapcase() if cp_name.swapcase() != cp_name else cp_name + "*",
                                     kind="production", parent=cp.id)
        lab.seed_snapshot(vm, cp_name + "?", kind="production", parent=decoy_cp.id)
    return vm.id, cp.id


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(vm_text=hostile(VM_ONLY), cp_text=hostile())
def test_hostile_names_are_literal(sim, vm_text, cp_text):
    n = next(SEQ)
    vm_name = "%d%s" % (n, vm_text)  # unique per example; the hostile part stays intact
    cp_name = "%d%s" % (n, cp_text)
    if len(cp_name) > 100:
        cp_name = cp_name[:100]
    if cp_name != cp_name.strip() and not cp_name.strip():
        cp_name = "%d'" % n
    vm_id, cp_id = seed(sim.lab, vm_name, cp_name)
    before = sim.digest()
    for transport in TRANSPORTS:
        vm_result = run_module("vm_info", connection(sim, host="HV02", transport=transport, name=vm_name,
                                                     include=["checkpoints"]))
        assert vm_result.get("failed") is not True, vm_result.get("msg")
        assert [v["id"] for v in vm_result["vms"]] == [vm_id]
        assert vm_result["vms"][0]["name"] == vm_name  # exact round trip

        cp_result = run_module("checkpoint_info", connection(sim, host="HV02", transport=transport, vm_name=vm_name,
                                                             name=cp_name, include_files=False))
        assert cp_result.get("failed") is not True, cp_result.get("msg")
        assert [c["id"] for c in cp_result["checkpoints"]] == [cp_id]
        assert cp_result["checkpoints"][0]["name"] == cp_name
        assert cp_result["vms"][0]["checkpoint_count"] == 3
    assert sim.digest() == before  # read-only: nothing was evaluated or changed on the host


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("name", ["*", "web*", "db[01]", "a?b", "a'; Remove-VM -Force *; '", "$(Stop-Computer)"])
def test_matrix_rows_a1_to_a4(sim, transport, name):
    """A name that only a wildcard or an evaluation would match finds nothing (or only itself)."""
    before = sim.digest()
    result = run_module("vm_info", connection(sim, transport=transport, name=name, include=[]))
    assert result["failed"] is True
    assert "No VM named '%s'" % name in result["msg"]
    assert sim.digest() == before
