"""Identity rules: exact, case-sensitive, no trimming; ambiguity lists candidates; Id lookups."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import HyperVClient, raise_for_result
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import (
    AmbiguousError,
    CommandError,
    NotFoundError,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import error_info, make_result
from unit.fakes import FakeHyperV, not_found

V1 = "11111111-1111-4111-8111-111111111111"
V2 = "22222222-2222-4222-8222-222222222222"
V3 = "33333333-3333-4333-8333-333333333333"
V4 = "44444444-4444-4444-8444-444444444444"
C1 = "aaaaaaaa-0000-4000-8000-000000000001"
C2 = "aaaaaaaa-0000-4000-8000-000000000002"
C3 = "aaaaaaaa-0000-4000-8000-000000000003"


@pytest.fixture
def lab():
    hv = FakeHyperV()
    hv.add_vm(V1, "web01")
    hv.add_vm(V2, "Web01")
    hv.add_vm(V3, "db[01]")
    hv.add_vm(V4, "dup")
    hv.add_vm("55555555-5555-4555-8555-555555555555", "dup")
    hv.add_vm("66666666-6666-4666-8666-666666666666", "trail ")
    hv.add_checkpoint(C1, "nightly", V1)
    hv.add_checkpoint(C2, "nightly", V1, parent_id=C1)
    hv.add_checkpoint(C3, "Before", V1, parent_id=C2)
    return hv


@pytest.fixture
def client(lab):
    return HyperVClient(lab.transport())


@pytest.mark.parametrize(
    "name, expected",
    [("web01", V1), ("Web01", V2), ("db[01]", V3), ("trail ", "66666666-6666-4666-8666-666666666666")],
)
def test_exact_match(client, name, expected):
    assert client.find_vm(name=name).id == expected


@pytest.mark.parametrize("name", ["WEB01", "web0", "web*", "db0", "db[01", "trail", " web01", "*", "?eb01"])
def test_no_fuzzy_or_wildcard_match(client, name):
    with pytest.raises(NotFoundError) as err:
        client.find_vm(name=name)
    assert "No VM named '%s' on host hv01" % name in str(err.value)


def test_case_insensitive_match_is_only_a_hint(client):
    with pytest.raises(NotFoundError) as err:
        client.find_vm(name="WEB01")
    assert err.value.hint is not None
    assert "case-sensitive" in err.value.hint
    assert V1 in err.value.hint and V2 in err.value.hint


def test_trailing_space_is_never_trimmed_into_a_match(client):
    with pytest.raises(NotFoundError) as err:
        client.find_vm(name="trail")
    assert "'trail '" in err.value.hint


def test_ambiguous_vm_lists_candidates(client):
    with pytest.raises(AmbiguousError) as err:
        client.find_vm(name="dup")
    assert len(err.value.candidates) == 2
    assert {c["id"] for c in err.value.candidates} == {V4, "55555555-5555-4555-8555-555555555555"}
    assert "vm_id" in err.value.hint
    assert V4 in str(err.value)


def test_vm_by_id(client, lab):
    assert client.find_vm(vm_id=V3.upper()).name == "db[01]"
    with pytest.raises(NotFoundError):
        client.find_vm(vm_id="99999999-9999-4999-8999-999999999999")


def test_vm_by_id_and_wrong_name(client):
    with pytest.raises(NotFoundError):
        client.find_vm(name="web01", vm_id=V2)


def test_checkpoint_exact_and_ambiguous(client):
    vm = client.find_vm(vm_id=V1)
    assert client.find_checkpoint(vm, name="Before").id == C3
    with pytest.raises(AmbiguousError) as err:
        client.find_checkpoint(vm, name="nightly")
    assert {c["id"] for c in err.value.candidates} == {C1, C2}
    assert "checkpoint_id" in err.value.hint
    with pytest.raises(NotFoundError) as err:
        client.find_checkpoint(vm, name="before")
    assert "case-sensitive" in err.value.hint
    assert client.find_checkpoint(vm, checkpoint_id=C2.upper()).id == C2


def test_checkpoint_id_of_another_vm_is_not_found(client, lab):
    lab.add_checkpoint("bbbbbbbb-0000-4000-8000-000000000001", "other", V2)
    vm = client.find_vm(vm_id=V1)
    with pytest.raises(NotFoundError):
        client.find_checkpoint(vm, checkpoint_id="bbbbbbbb-0000-4000-8000-000000000001")


def test_find_vms_keeps_order_and_dedups(client):
    vms = client.find_vms(names=["Web01", "web01"], vm_ids=[V2, V3])
    assert [v.id for v in vms] == [V2, V1, V3]


def test_select_vms_all(client, lab):
    assert len(client.select_vms()) == len(lab.vms)


def test_listing_uses_get_vm_without_name(client, lab):
    transport = lab.transport()
    HyperVClient(transport).find_vm(name="web01")
    assert transport.pipelines == [[{"cmdlet": "Hyper-V\\Get-VM", "parameters": []}]]


def test_remove_missing_checkpoint_is_not_an_error(client):
    transport_result = make_result([], [not_found()])
    c = HyperVClient(type("T", (), {"host": "h", "run": lambda self, p, parallel=1: [transport_result]})())
    assert c.remove_checkpoint(C1) is False


def test_raise_for_result_maps_errors():
    with pytest.raises(NotFoundError):
        raise_for_result(make_result([], [not_found()]), "x")
    assert raise_for_result(make_result([], [not_found()]), "x", not_found_ok=True) == []
    busy = error_info(fqid="InvalidState,Microsoft.HyperV.PowerShell.Commands.CheckpointVM",
                      category="InvalidOperation",
                      message="The operation cannot be performed while the object is in its current state.")
    with pytest.raises(CommandError) as err:
        raise_for_result(make_result([], [busy]), "x")
    assert not isinstance(err.value, NotFoundError)
    assert err.value.error_id == "InvalidState"
    with pytest.raises(CommandError):
        raise_for_result(make_result([], [], failed=True), "x")


def test_wait_for_merge_times_out(lab):
    lab.vms[0]["OperationalStatus"] = ["Ok", "MergingDisks"]
    clock = iter([0.0, 1.0, 5.0, 11.0, 20.0])
    sleeps = []
    client = HyperVClient(lab.transport(), sleep=sleeps.append, clock=lambda: next(clock))
    from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import OperationTimeoutError

    with pytest.raises(OperationTimeoutError) as err:
        client.wait_for_merge(V1, timeout=10, interval=2)
    assert "MergingDisks" in str(err.value)
    assert sleeps and all(s == 2 for s in sleeps)


def test_wait_for_merge_returns_when_idle(lab):
    client = HyperVClient(lab.transport(), sleep=lambda s: None, clock=lambda: 0.0)
    assert client.wait_for_merge(V1, timeout=10).id == V1


def test_guest_roles(lab):
    item = ('<INSTANCE CLASSNAME="Msvm_KvpExchangeDataItem"><PROPERTY NAME="Data" TYPE="string"><VALUE>%s</VALUE>'
            '</PROPERTY><PROPERTY NAME="Name" TYPE="string"><VALUE>ProductType</VALUE></PROPERTY></INSTANCE>')
    lab.kvp = [
        {"SystemName": V1.upper(), "GuestIntrinsicExchangeItems": [item % 2, "<broken"]},
        {"SystemName": V2.upper(), "GuestIntrinsicExchangeItems": [item % 3]},
        {"SystemName": V3.upper(), "GuestIntrinsicExchangeItems": []},
    ]
    roles = HyperVClient(lab.transport()).guest_roles([V1, V2, V3, V4])
    assert roles[V1].domain_controller is True and roles[V1].role == "domain_controller"
    assert roles[V2].domain_controller is False and roles[V2].role == "server"
    assert roles[V3].domain_controller is None and roles[V3].role == "unknown"
    assert roles[V4].domain_controller is None
    lab.kvp_error = True
    roles = HyperVClient(lab.transport()).guest_roles([V1])
    assert roles[V1].source == "unavailable" and roles[V1].domain_controller is None


def test_vhd_chain_stops_on_cycles_and_missing_files(lab):
    lab.disks[V1] = [
        {"VMId": V1, "Path": "D:\\a.avhdx"},
        {"VMId": V1, "Path": "D:\\gone.avhdx"},
        {"VMId": V1, "Path": None, "DiskNumber": 3},
    ]
    lab.vhds = {
        "D:\\a.avhdx": {"Path": "D:\\a.avhdx", "VhdType": "Differencing", "ParentPath": "D:\\b.avhdx"},
        "D:\\b.avhdx": {"Path": "D:\\b.avhdx", "VhdType": "Differencing", "ParentPath": "D:\\a.avhdx"},
    }
    client = HyperVClient(lab.transport())
    disks = client.resolve_chains(client.list_hard_disks(V1))
    assert [link.path for link in disks[0].chain] == ["D:\\a.avhdx", "D:\\b.avhdx"]
    assert disks[1].chain == ()
    assert disks[2].is_passthrough and disks[2].chain == ()
