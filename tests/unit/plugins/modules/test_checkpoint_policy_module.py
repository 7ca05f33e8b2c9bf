"""checkpoint_policy against the hvsim model (in-process engine transport)."""

from __future__ import annotations

import pytest

from hvsim.lab import load_lab

from test_checkpoint_common import APP01, DC01, DEEP01, LNX01, SQLCLU_A, WEB01, assert_safe_pipelines, run


@pytest.fixture
def lab():
    return load_lab("demo")


def test_all_settings_check_real_rerun(lab):
    """B15, B16 and A17: normalised path compared, no false change on rerun with another spelling."""
    args = {"vm_id": LNX01, "checkpoint_type": "production_only", "automatic_checkpoints": True,
            "snapshot_file_location": "d:/Hyper-V/Checkpoints/"}
    digest = lab.digest()
    r = run("checkpoint_policy", args, lab, check_mode=True, diff=True)
    assert not r.failed, r.get("msg")
    assert r.changed and r["vms"][0]["changes"] == ["checkpoint_type", "automatic_checkpoints",
                                                    "snapshot_file_location"]
    key = "lnx01 (%s)" % LNX01
    assert r["diff"]["before"][key] == {"checkpoint_type": "production", "automatic_checkpoints": False,
                                        "snapshot_file_location": "D:\\Hyper-V"}
    assert r["diff"]["after"][key] == {"checkpoint_type": "production_only", "automatic_checkpoints": True,
                                       "snapshot_file_location": "D:\\Hyper-V\\Checkpoints"}
    assert lab.digest() == digest
    shape = set(r)

    r = run("checkpoint_policy", args, lab, diff=True)
    assert not r.failed and r.changed and set(r) == shape
    vm = lab.vms[LNX01]
    assert (vm.checkpoint_type, vm.automatic_checkpoints, vm.snapshot_file_location) == (
        "ProductionOnly", True, "D:\\Hyper-V\\Checkpoints")
    assert r["vms"][0]["after"]["snapshot_file_location"] == "D:\\Hyper-V\\Checkpoints"

    for spelling in ("D:\\HYPER-V\\checkpoints", "d:\\Hyper-V\\Checkpoints\\\\", "D:/Hyper-V/x/../Checkpoints"):
        r = run("checkpoint_policy", dict(args, snapshot_file_location=spelling), lab)
        assert not r.failed and not r.changed, spelling


def test_multiple_vms_each_once(lab):
    r = run("checkpoint_policy", {"vm_names": ["web01", "app01"], "vm_ids": [WEB01], "automatic_checkpoints": True},
            lab)
    assert not r.failed and r.changed
    assert [e["vm_id"] for e in r["vms"]] == [WEB01, APP01]
    assert lab.vms[WEB01].automatic_checkpoints and lab.vms[APP01].automatic_checkpoints
    r = run("checkpoint_policy", {"vm_names": ["web01", "app01"], "automatic_checkpoints": True}, lab)
    assert not r.failed and not r.changed


@pytest.mark.parametrize("value, hv", [("disabled", "Disabled"), ("standard", "Standard"),
                                       ("production", "Production"), ("production_only", "ProductionOnly")])
def test_every_type(lab, value, hv):
    r = run("checkpoint_policy", {"vm_id": DEEP01, "checkpoint_type": value}, lab)
    assert not r.failed, r.get("msg")
    assert r.changed == (hv != "Standard")
    assert lab.vms[DEEP01].checkpoint_type == hv


def test_location_with_checkpoints_refused_before_set_vm(lab):
    """A15: fails before Set-VM, changed=false, lists the checkpoints and what to do."""
    transports = []
    digest = lab.digest()
    r = run("checkpoint_policy", {"vm_id": WEB01, "snapshot_file_location": "E:\\cp", "checkpoint_type": "standard"},
            lab, transports=transports)
    assert r.failed and not r.changed
    assert "'before-patch'" in r["msg"] and "'after-patch'" in r["msg"] and "Move-VMStorage" in r["msg"]
    assert "VM 'web01'" in r["msg"] and "engine.invalid" in r["msg"]
    assert lab.digest() == digest
    sent = [c["cmdlet"] for t in transports for p in t.pipelines_run for c in p]
    assert "Hyper-V\\Set-VM" not in sent


def test_same_location_with_checkpoints_is_fine(lab):
    r = run("checkpoint_policy", {"vm_id": WEB01, "snapshot_file_location": "d:\\hyper-v\\"}, lab)
    assert not r.failed and not r.changed


def test_refusal_on_one_vm_changes_none(lab):
    digest = lab.digest()
    r = run("checkpoint_policy", {"vm_ids": [LNX01, WEB01], "snapshot_file_location": "E:\\cp",
                                  "automatic_checkpoints": True}, lab)
    assert r.failed and not r.changed
    assert lab.digest() == digest


@pytest.mark.parametrize("path", ["D:\\", "d:/", "\\\\fs01\\exports", "\\\\fs01\\exports\\", "relative\\cp",
                                  "D:\\..\\x"])
def test_roots_and_relative_paths_refused_before_connecting(lab, path):
    """A16, A17."""
    transports = []
    r = run("checkpoint_policy", {"vm_id": LNX01, "snapshot_file_location": path}, lab, transports=transports)
    assert r.failed and not r.changed
    assert "root" in r["msg"] or "absolute" in r["msg"] or "climbs" in r["msg"]
    assert all(not t.pipelines_run for t in transports)


def test_wrong_case_type_is_a_choices_error(lab):
    """A23."""
    r = run("checkpoint_policy", {"vm_id": LNX01, "checkpoint_type": "Production"}, lab)
    assert r.failed and "checkpoint_type" in r["msg"] and "production_only" in r["msg"]
    r = run("checkpoint_policy", {"vm_id": LNX01, "checkpoint_type": "ProductionOnly"}, lab)
    assert r.failed and "one of" in r["msg"]


def test_standard_on_domain_controller_refused_unless_allowed(lab):
    digest = lab.digest()
    r = run("checkpoint_policy", {"vm_id": DC01, "checkpoint_type": "standard"}, lab)
    assert r.failed and "domain controller" in r["msg"] and "dc01" in r["msg"]
    assert lab.digest() == digest
    r = run("checkpoint_policy", {"vm_id": DC01, "checkpoint_type": "production_only"}, lab)
    assert not r.failed and r.changed
    r = run("checkpoint_policy", {"vm_id": DC01, "checkpoint_type": "standard", "allow_domain_controller": True}, lab)
    assert not r.failed and r.changed and lab.vms[DC01].checkpoint_type == "Standard"


def test_clustered_vm_needs_allow_unverified_paths(lab):
    r = run("checkpoint_policy", {"vm_id": SQLCLU_A, "snapshot_file_location": "D:\\Hyper-V\\cp"}, lab)
    assert r.failed and "AllowUnverifiedPaths" in r["msg"] and not r.changed
    r = run("checkpoint_policy", {"vm_id": SQLCLU_A, "snapshot_file_location": "D:\\Hyper-V\\cp",
                                  "allow_unverified_paths": True}, lab)
    assert not r.failed and r.changed and lab.vms[SQLCLU_A].snapshot_file_location == "D:\\Hyper-V\\cp"


def test_busy_vm_is_waited_for(lab):
    lab.switches["merge_hold"] = True
    lab.remove_snapshots("HV01", [lab.snapshots_of(WEB01)[0].id])
    r = run("checkpoint_policy", {"vm_id": WEB01, "automatic_checkpoints": True, "wait_timeout": 0}, lab)
    assert r.failed and "merging disks" in r["msg"]
    lab.release_merges()
    r = run("checkpoint_policy", {"vm_id": WEB01, "automatic_checkpoints": True, "wait_timeout": 0}, lab)
    assert not r.failed and r.changed


@pytest.mark.parametrize("args, words", [
    ({"vm_id": LNX01}, "set at least one of"),
    ({"checkpoint_type": "standard"}, "one of the following is required"),
    ({"vm_id": "nope", "checkpoint_type": "standard"}, "vm_id must be a GUID"),
    ({"vm_names": ["ok", ""], "checkpoint_type": "standard"}, "vm_names[1] must not be empty"),
])
def test_argument_errors(lab, args, words):
    r = run("checkpoint_policy", args, lab)
    assert r.failed and words in r["msg"], r.get("msg")


def test_pipelines_are_safe(lab):
    transports = []
    r = run("checkpoint_policy", {"vm_name": "lnx01", "snapshot_file_location": "D:\\it's $(x)\\cp"}, lab,
            transports=transports)
    assert not r.failed and r.changed
    assert lab.vms[LNX01].snapshot_file_location == "D:\\it's $(x)\\cp"
    assert_safe_pipelines(transports, ["D:\\it's $(x)\\cp"])
