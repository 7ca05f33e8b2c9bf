"""checkpoint_export against the hvsim model through the engine transport (hvsim's own file cmdlets)."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _export as ex
from hvsim.lab import load_lab
from hvsim.model import paths
from support.modules import run_module

WEB01 = "6f0c2d9e-0002-4c00-8a00-000000000002"  # HV01, Running, before-patch -> after-patch
DC01 = "6f0c2d9e-0001-4c00-8a00-000000000001"  # HV01, a domain controller guest
SMALL01 = "6f0c2d9e-0010-4c00-8a00-000000000010"  # HV03, on the nearly full F:
MANIFEST = "hyperv-checkpoints-export.csv"


@pytest.fixture
def lab():
    return load_lab("demo")


@pytest.fixture
def warned(monkeypatch):
    """Every warning text the module emits (Ansible keeps warnings process-wide, so read them here)."""
    from ansible.module_utils.basic import AnsibleModule

    seen = []
    original = AnsibleModule.warn

    def warn(self, warning):
        seen.append(warning)
        return original(self, warning)

    monkeypatch.setattr(AnsibleModule, "warn", warn)
    return seen


def export(lab, host="HV01", check_mode=False, diff=False, **args):
    args.setdefault("poll_interval", 0)
    return run_module("checkpoint_export", args, lab=lab, host=host, check_mode=check_mode, diff=diff)


def files_under(lab, host, folder):
    vol = lab.volume_for(lab.hosts[host], folder)
    return {f.path: f for f in vol.files.values() if paths.under(f.path, folder) and f.kind != "dir"}


def manifest_on_host(lab, host, folder):
    f = files_under(lab, host, folder).get(paths.join(folder, MANIFEST))
    if f is None:
        return None
    return ex.manifest_from_rows(ex.parse_manifest_text(f.text))  # hvsim keeps Set-Content text in .text


def cp_id(lab, vm_id, name):
    return next(s.id for s in lab.snapshots_of(vm_id) if s.name == name)


def test_export_checkpoint_check_apply_verify_rerun(lab):
    args = {"vm_id": WEB01, "name": "before-patch", "path": "E:\\Exports", "verify": True}
    digest = lab.digest()
    r = export(lab, check_mode=True, diff=True, **args)
    assert not r.failed, r.get("msg")
    assert r.changed and r["status"] == "exported" and r["files"] == [] and r["manifest"] is None
    assert r["estimated_bytes"] > 0
    assert r["diff"]["before"]["export"] == "absent"
    assert lab.digest() == digest, "check mode wrote to the host"

    r = export(lab, **args)
    assert not r.failed, r.get("msg")
    folder = "E:\\Exports\\%s_%s" % (WEB01, cp_id(lab, WEB01, "before-patch"))
    assert r.changed and r["status"] == "exported" and r["export_path"] == folder
    assert r["verified"] is True and r["bytes_written"] > 0 and r["duration_seconds"] >= 0
    on_host = files_under(lab, "HV01", folder)
    manifest = manifest_on_host(lab, "HV01", folder)
    assert manifest["status"] == "complete"
    assert manifest["vm_id"] == WEB01 and manifest["checkpoint_id"] == cp_id(lab, WEB01, "before-patch")
    exported = {p: f for p, f in on_host.items() if not p.endswith(MANIFEST)}
    assert sorted(paths.join(folder, p) for p in manifest["file_paths"]) == sorted(exported)
    assert any("Virtual Hard Disks" in p for p in exported)
    assert sum(manifest["file_sizes"]) == r["bytes_written"] == sum(f.size for f in exported.values())
    assert all(len(h) == 64 for h in manifest["file_sha256"])

    digest = lab.digest()
    r = export(lab, **args)
    assert not r.failed and not r.changed and r["status"] == "unchanged" and r["verified"] is True
    assert r["bytes_written"] == 0
    assert lab.digest() == digest


def test_mismatch_is_reported_and_replaced_only_with_force(lab):
    args = {"vm_id": WEB01, "name": "after-patch", "path": "E:\\Exports"}
    assert not export(lab, **args).failed
    folder = "E:\\Exports\\%s_%s" % (WEB01, cp_id(lab, WEB01, "after-patch"))
    vhd = next(f for p, f in files_under(lab, "HV01", folder).items() if p.endswith(".vhdx"))
    vhd.size -= 4096  # truncated behind the module's back
    digest = lab.digest()
    r = export(lab, **args)
    assert r.failed and not r.changed and r["status"] == "mismatch"
    assert "does not match its manifest" in r["msg"] and "force=true" in r["msg"]
    assert any("bytes, the manifest says" in p for p in r["problems"])
    assert lab.digest() == digest

    r = export(lab, force=True, **args)
    assert not r.failed and r.changed and r["status"] == "replaced"
    assert manifest_on_host(lab, "HV01", folder)["status"] == "complete"
    assert not export(lab, **args).changed


def test_verify_detects_changed_content(lab):
    args = {"vm_id": WEB01, "name": "after-patch", "path": "E:\\Exports"}
    assert not export(lab, **args).failed
    folder = "E:\\Exports\\%s_%s" % (WEB01, cp_id(lab, WEB01, "after-patch"))
    vmcx = next(f for p, f in files_under(lab, "HV01", folder).items() if p.endswith(".vmcx"))
    vmcx.content = "0" * 64  # same size, other bytes
    assert not export(lab, **args).changed  # sizes match: unchanged without verify
    r = export(lab, verify=True, **args)
    assert r.failed and r["status"] == "mismatch" and any("SHA-256" in p for p in r["problems"])


def test_disk_fills_during_export_is_never_complete(lab):
    """Acceptance: the disk fills during an export -> clear error, the partial export is marked incomplete."""
    def fill(op):
        if op.name.startswith("Export"):
            lab.inject_fault("disk_full", host="HV01", volume="E:\\", free_bytes=1024 * 1024)
    lab.in_flight_hooks.append(fill)
    args = {"vm_id": WEB01, "name": "before-patch", "path": "E:\\Exports"}
    r = export(lab, **args)
    assert r.failed and r.changed and r["status"] == "incomplete"
    assert "not enough space" in r["msg"].lower() and "marked incomplete" in r["msg"]
    folder = r["export_path"]
    manifest = manifest_on_host(lab, "HV01", folder)
    assert manifest["status"] in ("in_progress", "failed")
    assert len(files_under(lab, "HV01", folder)) >= 2  # the partial export stayed

    lab.in_flight_hooks.clear()
    r = export(lab, **args)
    assert r.failed and not r.changed and r["status"] == "incomplete"
    assert any("export is failed" in p or "in_progress" in p for p in r["problems"])

    lab.clear_faults("disk_full")
    r = export(lab, force=True, **args)
    assert not r.failed, r.get("msg")
    assert r["status"] == "replaced" and manifest_on_host(lab, "HV01", folder)["status"] == "complete"


def test_free_space_preflight(lab):
    digest = lab.digest()
    r = export(lab, "HV03", vm_id=SMALL01, current_state=True, path="F:\\Exports")
    assert r.failed and not r.changed
    assert "not enough free space" in r["msg"] and "bytes free" in r["msg"]
    assert lab.digest() == digest


def test_domain_controller_refused_unless_allowed(lab):
    digest = lab.digest()
    r = export(lab, vm_id=DC01, current_state=True, path="E:\\Exports")
    assert r.failed and "domain controller" in r["msg"] and "allow_domain_controller" in r["msg"]
    assert lab.digest() == digest
    r = export(lab, vm_id=DC01, current_state=True, path="E:\\Exports", allow_domain_controller=True,
               capture_live_state="saved")
    assert r.failed and "memory state of a domain controller" in r["msg"]
    assert lab.digest() == digest
    r = export(lab, vm_id=DC01, current_state=True, path="E:\\Exports", allow_domain_controller=True)
    assert not r.failed and r.changed and r["source"] == "current_state"
    assert r["manifest"]["capture_live_state"] == "CaptureDataConsistentState"
    assert not any(".vmrs" in f["path"] for f in r["files"])  # no memory state exported


def allow_session_unc(lab):
    """Model delegated credentials (CredSSP / Kerberos delegation): the session user may use the shares."""
    lab.switches["session_unc_access"] = "allow"
    for share in lab.shares.values():
        if hasattr(share, "users"):
            share.users = list(share.users) + ["Everyone"]


def test_unc_access_denied_names_the_computer_account(lab):
    """test-matrix A24: a share where the host's computer account may not write."""
    allow_session_unc(lab)
    r = export(lab, vm_id=WEB01, name="before-patch", path="\\\\fs01\\restricted\\hv01")
    assert r.failed
    assert "0x80070005" in r["msg"] and "computer account" in r["msg"]


def test_unc_share_with_access(lab, warned):
    allow_session_unc(lab)
    r = export(lab, vm_id=WEB01, name="before-patch", path="\\\\fs01\\exports\\hv01")
    assert not r.failed, r.get("msg")
    assert r.changed and any("computer account" in w for w in warned)
    assert not export(lab, vm_id=WEB01, name="before-patch", path="\\\\fs01\\exports\\hv01").changed


def test_keep_rotates_only_this_vms_complete_exports(lab):
    base = {"vm_id": WEB01, "current_state": True, "path": "E:\\Exports", "capture_live_state": "crash_consistent"}
    for name in ("n1", "n2", "n3"):
        r = export(lab, folder_name=name, **base)
        assert not r.failed, r.get("msg")
    # another VM's export and a foreign folder stay
    assert not export(lab, vm_id=WEB01, name="before-patch", path="E:\\Exports").failed
    vol = lab.volume_for(lab.hosts["HV01"], "E:\\Exports")
    from hvsim.model.objects import VFile
    vol.files[paths.key("E:\\Exports\\foreign\\x.txt")] = VFile("E:\\Exports\\foreign\\x.txt", 10, "abc", "data")

    digest = lab.digest()
    r = export(lab, folder_name="n4", keep=2, check_mode=True, **base)
    assert lab.digest() == digest
    planned = r["rotated"]
    # n4 (new) and the newest other WEB01 export (the before-patch one) stay
    assert [p.rsplit("\\", 1)[1] for p in planned] == ["n1", "n2", "n3"]
    r = export(lab, folder_name="n4", keep=2, **base)
    assert not r.failed, r.get("msg")
    assert r["rotated"] == planned
    remaining = {f.path.split("\\")[2] for f in vol.files.values() if f.path.lower().startswith("e:\\exports\\")}
    assert "foreign" in remaining and "n4" in remaining
    web_exports = [n for n in remaining if manifest_on_host(lab, "HV01", "E:\\Exports\\" + n) and
                   manifest_on_host(lab, "HV01", "E:\\Exports\\" + n)["vm_id"] == WEB01]
    assert len(web_exports) == 2
    assert r["rotated"][0].endswith("n1")  # oldest first


def test_vss_failure_during_production_export(lab):
    """Acceptance: a VSS failure in the guest during a data-consistent (production) export.

    hvsim's Export-VM -CaptureLiveState CaptureDataConsistentState fails like a ProductionOnly
    checkpoint when the guest cannot quiesce; the fault is the lab's own ``vss_failure``.
    """
    lab.inject_fault("vss_failure", vm=WEB01)
    r = export(lab, vm_id=WEB01, current_state=True, path="E:\\Exports", capture_live_state="data_consistent")
    assert r.failed
    assert "vssadmin list writers" in r["msg"] and "marked incomplete" in r["msg"]
    assert manifest_on_host(lab, "HV01", r["export_path"])["status"] in ("failed", "in_progress")


@pytest.mark.parametrize(
    "args, text",
    [
        ({"vm_id": WEB01, "name": "x", "path": "Exports"}, "path must be absolute"),
        ({"vm_id": WEB01, "name": "x", "path": "E:\\E", "folder_name": "a\\b"}, "folder_name must be one folder"),
        ({"vm_id": WEB01, "name": "x", "path": "E:\\E", "keep": 0}, "keep must be 1 or more"),
        ({"vm_id": WEB01, "name": "x", "path": "E:\\E", "capture_live_state": "saved"}, "current_state=true only"),
        ({"vm_id": WEB01, "path": "E:\\E"}, "set name or checkpoint_id"),
        ({"name": "x", "path": "E:\\E"}, "one of the following is required"),
        ({"vm_id": WEB01, "name": "x", "current_state": True, "path": "E:\\E"}, "mutually exclusive"),
    ],
)
def test_argument_errors(lab, args, text):
    r = export(lab, **args)
    assert r.failed and text in r["msg"]


def test_non_standard_checkpoint_refused(lab):
    r = export(lab, "HV03", vm_name="web02-replica", name="Recovery checkpoint", path="D:\\Exports")
    assert r.failed and "Recovery" in r["msg"]


def test_busy_vm_is_refused(lab):
    """test-matrix B8: a backup holds the VM -> clear failure, nothing written."""
    lab.inject_fault("backup_lock", vm=WEB01)
    digest = lab.digest()
    r = export(lab, vm_id=WEB01, name="before-patch", path="E:\\Exports")
    assert r.failed and not r.changed and "busy" in r["msg"] and "backup" in r["msg"]
    assert lab.digest() == digest


def test_merge_in_progress_is_waited_for(lab):
    """test-matrix B3: a merge is running -> wait up to merge_timeout, then a clear failure."""
    lab.switches["merge_hold"] = True
    lab.remove_snapshots("HV01", [cp_id(lab, WEB01, "after-patch")])
    r = export(lab, vm_id=WEB01, name="before-patch", path="E:\\Exports", merge_timeout=1, poll_interval=0.2)
    assert r.failed and "merge" in r["msg"] and "Timed out" in r["msg"]
    lab.release_merges()
    r = export(lab, vm_id=WEB01, name="before-patch", path="E:\\Exports")
    assert not r.failed and r.changed


def test_unc_without_delegation_explains_the_second_hop(lab):
    """The manifest is read/written by the session user: without delegation a share is out of reach."""
    digest = lab.digest()
    r = export(lab, vm_id=WEB01, name="before-patch", path="\\\\fs01\\exports\\hv01")
    assert r.failed and not r.changed
    assert "is denied" in r["msg"] and "second hop" in r["msg"] and "credssp" in r["msg"]
    assert lab.digest() == digest
