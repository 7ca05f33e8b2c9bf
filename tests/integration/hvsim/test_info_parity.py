"""vm_info and checkpoint_info give identical results through PSRP and WinRS (contracts.md section 2)."""

from __future__ import annotations

import pytest

from integration.hvsim.helpers import TRANSPORTS, connection, run_module, strip_volatile

pytestmark = [pytest.mark.psrp, pytest.mark.winrs, pytest.mark.timeout(300)]


@pytest.mark.parametrize("host", ["HV01", "HV03"])
def test_vm_info_all_vms_identical(sim, host):
    results = {t: run_module("vm_info", connection(sim, host=host, transport=t)) for t in TRANSPORTS}
    for result in results.values():
        assert result.get("failed") is not True, result.get("msg")
        assert result["changed"] is False
        assert result["vms"]
    assert strip_volatile(results["psrp"]) == strip_volatile(results["winrm"])


def test_vm_info_facts(sim):
    result = run_module("vm_info", connection(sim, names=["dc01", "web01"]))
    dc01, web01 = result["vms"]
    assert dc01["name"] == "dc01" and dc01["domain_controller"] is True
    assert dc01["guest_role"]["role"] == "domain_controller"
    assert web01["id"] == "6f0c2d9e-0002-4c00-8a00-000000000002"
    assert web01["domain_controller"] is False
    assert web01["checkpoint_count"] == 2
    assert web01["current_checkpoint_name"] == "after-patch"
    assert web01["state"] == "Running" and web01["operational_status"][0] == "Ok"
    assert web01["checkpoint_type"] == "Production"
    assert web01["backup_integration_service"]["present"] is True
    disk = web01["disks"][0]
    assert disk["chain_depth"] == 2
    assert disk["chain"][-1]["vhd_type"] in ("Dynamic", "Fixed")
    assert disk["chain"][0]["path"].lower().endswith(".avhdx")


@pytest.mark.parametrize("host", ["HV01", "HV02", "HV03"])
def test_checkpoint_info_all_vms_identical(sim, host):
    results = {t: run_module("checkpoint_info", connection(sim, host=host, transport=t)) for t in TRANSPORTS}
    for result in results.values():
        assert result.get("failed") is not True, result.get("msg")
    assert strip_volatile(results["psrp"]) == strip_volatile(results["winrm"])


def test_checkpoint_tree_facts(sim):
    result = run_module("checkpoint_info", connection(sim, vm_name="app01"))
    vm = result["vms"][0]
    names = [c["name"] for c in vm["checkpoints"]]
    assert names == ["release-1.4", "nightly", "nightly"]
    root, mid, leaf = vm["checkpoints"]
    assert root["parent_id"] is None and root["children_ids"] == [mid["id"]]
    assert mid["parent_id"] == root["id"] and mid["children_ids"] == [leaf["id"]]
    assert vm["now_parent_id"] == leaf["id"] and vm["latest_id"] == leaf["id"]
    assert vm["now_depth"] == 3 and leaf["is_current"] and all(c["on_now_path"] for c in vm["checkpoints"])
    assert all(c["state"] == "Saved" and c["captured_type"] == "standard" for c in vm["checkpoints"])
    assert vm["disks"][0]["chain_depth"] == 3
    assert root["creation_time"] == "2026-11-10T10:00:00.0000000+00:00"
    assert mid["size"] and mid["size"] > 0 and mid["files"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_duplicate_names_are_all_returned_by_filter(sim, transport):
    result = run_module("checkpoint_info", connection(sim, transport=transport, vm_name="app01", name="nightly",
                                                      include_files=False))
    assert [c["name"] for c in result["checkpoints"]] == ["nightly", "nightly"]
    assert result["vms"][0]["checkpoint_count"] == 3


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_checkpoint_id_filter(sim, transport):
    tree = run_module("checkpoint_info", connection(sim, transport=transport, vm_name="web01", include_files=False))
    wanted = tree["checkpoints"][0]["id"]
    result = run_module("checkpoint_info", connection(sim, transport=transport, vm_name="web01",
                                                      checkpoint_id=wanted.upper(), include_files=False))
    assert [c["id"] for c in result["checkpoints"]] == [wanted]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_not_found_and_case_hint(sim, transport):
    result = run_module("vm_info", connection(sim, transport=transport, name="WEB01"))
    assert result["failed"] is True
    assert "No VM named 'WEB01'" in result["msg"]
    assert "case-sensitive" in result["msg"] and "'web01'" in result["msg"]
    assert result["error"]["kind"] == "not_found"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_vm_id_is_not_found(sim, transport):
    result = run_module("vm_info", connection(sim, transport=transport, vm_id="6f0c2d9e-0099-4c00-8a00-000000000099"))
    assert result["failed"] is True
    assert "No VM with Id 6f0c2d9e-0099-4c00-8a00-000000000099" in result["msg"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_check_mode_reads_only(sim, transport):
    before = sim.digest()
    result = run_module("checkpoint_info", connection(sim, transport=transport), check_mode=True)
    assert result["changed"] is False and result["vms"]
    assert sim.digest() == before


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_vss_availability(sim, transport):
    result = run_module("vm_info", connection(sim, transport=transport, names=["web01", "lnx01"],
                                              include=["integration_services"]))
    web01, lnx01 = result["vms"]
    assert web01["vss_available"] is True
    assert web01["backup_integration_service"] == {"present": True, "enabled": True, "guest_responding": True,
                                                   "name": "VSS"}
    assert lnx01["vss_available"] is False  # no hv_vss_daemon in the guest
    assert {s["kind"] for s in web01["integration_services"]} >= {"vss", "kvp", "heartbeat", "shutdown"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_wildcard_checkpoint_names_are_literal(sim, transport):
    """Test matrix A3/A4 on the lab's wild01 (HV02): each name matches only itself."""
    tree = run_module("checkpoint_info", connection(sim, host="HV02", transport=transport, vm_name="wild01",
                                                    include_files=False))
    assert tree.get("failed") is not True, tree.get("msg")
    by_name = {c["name"]: c["id"] for c in tree["checkpoints"]}
    assert set(by_name) >= {"db0", "db[01]", "a?b", "a*b", "axb"}
    for name in ("db0", "db[01]", "a?b", "a*b", "axb"):
        result = run_module("checkpoint_info", connection(sim, host="HV02", transport=transport,
                                                          vm_id="6f0c2d9e-0011-4c00-8a00-000000000011",
                                                          name=name, include_files=False))
        assert [c["id"] for c in result["checkpoints"]] == [by_name[name]], name


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_duplicate_vm_names_fail_with_candidates(sim, transport):
    """Test matrix A5: two VMs share a name on one host; the module fails and lists both Ids."""
    from hvsim.model.objects import VM

    with sim.lab.locked():
        ids = [sim.lab.add_vm(VM(id=sim.lab.new_guid(), name="twin", host="HV02"), disks=[{}]).id for dummy in "ab"]
    result = run_module("vm_info", connection(sim, host="HV02", transport=transport, name="twin", include=[]))
    assert result["failed"] is True and result["changed"] is False
    assert "2 VMs named 'twin'" in result["msg"] and "vm_id" in result["msg"]
    assert sorted(c["id"] for c in result["error"]["candidates"]) == sorted(ids)
    by_id = run_module("vm_info", connection(sim, host="HV02", transport=transport, vm_id=ids[1], include=[]))
    assert [v["id"] for v in by_id["vms"]] == [ids[1]]
