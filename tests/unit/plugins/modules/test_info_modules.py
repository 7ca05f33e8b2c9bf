"""A few main() tests of vm_info and checkpoint_info with a fake host."""

from __future__ import annotations

import pytest

from unit.fakes import FakeHyperV

V1 = "11111111-1111-4111-8111-111111111111"
V2 = "22222222-2222-4222-8222-222222222222"
C1 = "aaaaaaaa-0000-4000-8000-000000000001"
C2 = "aaaaaaaa-0000-4000-8000-000000000002"
C3 = "aaaaaaaa-0000-4000-8000-000000000003"


@pytest.fixture
def lab():
    hv = FakeHyperV()
    hv.add_vm(V1, "web01", ParentSnapshotId=C2, OperationalStatus=["Ok", "MergingDisks"])
    hv.add_vm(V2, "web01 ")
    hv.add_checkpoint(C1, "base", V1, created="2026-11-20T08:00:00Z")
    hv.add_checkpoint(C2, "nightly", V1, parent_id=C1, state="Saved", created="2026-11-21T08:00:00Z")
    hv.add_checkpoint(C3, "nightly", V1, parent_id=C1, created="2026-11-22T08:00:00Z")
    return hv


def test_vm_info_one_vm(run_main, lab):
    transport = lab.transport()
    result, created = run_main("vm_info", {"name": "web01", "include": ["checkpoints"]}, transport)
    assert result["changed"] is False
    assert [v["id"] for v in result["vms"]] == [V1]
    vm = result["vms"][0]
    assert vm["checkpoint_count"] == 3
    assert vm["current_checkpoint_name"] == "nightly"
    assert vm["busy"] is True and vm["busy_reasons"] == ["merging disks"]
    assert vm["disks"] is None and vm["guest_role"] is None
    assert transport.opened_count == 1 and transport.closed_count == 1
    options = created[0][0]
    assert options.port == 5986 and options.scheme == "https"


def test_vm_info_all_vms(run_main, lab):
    result = run_main("vm_info", {}, lab.transport())[0]
    assert [v["name"] for v in result["vms"]] == ["web01", "web01 "]
    assert result["vms"][0]["domain_controller"] is None


def test_vm_info_not_found_hint_and_no_password(run_main, lab):
    transport = lab.transport()
    result = run_main("vm_info", {"name": "WEB01"}, transport)[0]
    assert result["failed"] is True
    assert result["msg"].startswith("Failed to read VM information on host hv01.example.com, VM 'WEB01': "
                                    "No VM named 'WEB01' on host hv01")
    assert "case-sensitive" in result["msg"]
    assert "Very-S3cret-Passw0rd" not in str(result)
    assert transport.closed_count == 1


def test_vm_info_rejects_bad_ids_before_connecting(run_main, lab):
    transport = lab.transport()
    result, created = run_main("vm_info", {"vm_id": "web01", "vm_ids": ["1234"]}, transport)
    assert result["failed"] is True
    assert "vm_id must be a GUID" in result["msg"] and "vm_ids[0] must be a GUID" in result["msg"]
    assert created == [] and transport.calls == []


def test_basic_over_http_refused_before_connecting(run_main, lab):
    transport = lab.transport()
    result, created = run_main("vm_info", {"hyperv_scheme": "http", "hyperv_auth": "basic"}, transport)
    assert result["failed"] is True
    assert "Refusing Basic authentication over HTTP" in result["msg"]
    assert created == []


def test_validate_certs_false_warns(run_main, lab):
    result = run_main("vm_info", {"hyperv_validate_certs": False, "include": []}, lab.transport())[0]
    assert any("hyperv_validate_certs=false" in w for w in result["recorded_warnings"])


def test_checkpoint_info_tree(run_main, lab):
    result = run_main("checkpoint_info", {"vm_id": V1, "include_files": False}, lab.transport(), check_mode=True)[0]
    vm = result["vms"][0]
    assert vm["now_parent_id"] == C2 and vm["latest_id"] == C2 and vm["now_depth"] == 2
    assert vm["merge_pending"] is True
    assert [c["id"] for c in vm["checkpoints"]] == [C1, C2, C3]
    first = vm["checkpoints"][0]
    assert first["children_ids"] == [C2, C3]
    assert first["creation_time"] == "2026-11-20T08:00:00.0000000+00:00"
    assert first["age_seconds"] > 0
    assert vm["checkpoints"][1]["captured_type"] == "standard"
    assert vm["checkpoints"][2]["captured_type"] == "production"
    assert result["checkpoints"] == vm["checkpoints"]


def test_checkpoint_info_name_filter_returns_all_exact_matches(run_main, lab):
    args = {"vm_name": "web01", "name": "nightly", "include_files": False}
    result = run_main("checkpoint_info", args, lab.transport())[0]
    assert [c["id"] for c in result["checkpoints"]] == [C2, C3]
    assert result["vms"][0]["checkpoint_count"] == 3
    args["name"] = "Nightly"
    result = run_main("checkpoint_info", args, lab.transport())[0]
    assert result["checkpoints"] == []


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "x" * 101])
def test_checkpoint_info_rejects_bad_names(run_main, lab, name):
    transport = lab.transport()
    result, created = run_main("checkpoint_info", {"vm_name": "web01", "name": name}, transport)
    assert result["failed"] is True
    assert created == []


def test_missing_library_is_reported(run_main, lab, monkeypatch):
    from ansible_collections.hyperv.checkpoints.plugins.module_utils import _psrp, _winrs

    monkeypatch.setattr(_psrp, "HAS_PYPSRP", False)
    monkeypatch.setattr(_psrp, "PYPSRP_IMPORT_ERROR", "ImportError: No module named 'pypsrp'")
    result, created = run_main("vm_info", {}, lab.transport())
    assert result["failed"] is True
    assert "Failed to import the required Python library (pypsrp)" in result["msg"]
    assert created == []
    monkeypatch.setattr(_winrs, "HAS_PYWINRM", False)
    result = run_main("vm_info", {"hyperv_transport": "winrm"}, lab.transport())[0]
    assert "(pywinrm)" in result["msg"]


def test_connection_options_from_environment(run_main, lab, monkeypatch):
    monkeypatch.setenv("HYPERV_SCHEME", "http")
    monkeypatch.setenv("HYPERV_PORT", "15985")
    monkeypatch.setenv("HYPERV_TRANSPORT", "winrm")
    monkeypatch.setenv("HYPERV_VALIDATE_CERTS", "false")
    result, created = run_main("vm_info", {"include": []}, lab.transport())
    assert result.get("failed") is not True, result
    options = created[0][0]
    assert (options.scheme, options.port, options.transport, options.validate_certs) == ("http", 15985, "winrm", False)
