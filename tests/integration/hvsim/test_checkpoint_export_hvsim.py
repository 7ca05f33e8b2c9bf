"""checkpoint_export through both real transports (PSRP and WinRS) against a live hvsim server.

The manifest and the hashes go through hvsim's file cmdlets (Get-ChildItem, Get-FileHash, Import-Csv,
Set-Content, New-Item, Remove-Item), which the WinRS runner allow-lists.
"""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _export as ex
from hvsim.model import paths
from support.modules import run_module

WEB01 = "6f0c2d9e-0002-4c00-8a00-000000000002"  # HV01, Running, before-patch -> after-patch


def conn(sim, transport, host="HV01"):
    return {
        "hyperv_host": sim.host,
        "hyperv_port": sim.port(host, "https"),
        "hyperv_scheme": "https",
        "hyperv_ca_path": sim.ca_path,
        "hyperv_username": sim.username,
        "hyperv_password": sim.password,
        "hyperv_auth": "ntlm",
        "hyperv_transport": transport,
    }


def manifest_on_host(lab, folder):
    vol = lab.volume_for(lab.hosts["HV01"], folder)
    f = vol.files.get(paths.key(paths.join(folder, ex.MANIFEST_NAME)))
    if f is None:
        return None
    return ex.manifest_from_rows(ex.parse_manifest_text(f.text))


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_export_check_apply_verify_rerun(hvsim, transport):
    args = dict(conn(hvsim, transport), vm_id=WEB01, name="before-patch", path="E:\\Exports", verify=True,
                keep=2, poll_interval=0)
    digest = hvsim.digest()
    r = run_module("checkpoint_export", args, check_mode=True)
    assert not r.failed, r.get("msg")
    assert r.changed and r["status"] == "exported"
    assert hvsim.digest() == digest

    r = run_module("checkpoint_export", args)
    assert not r.failed, r.get("msg")
    assert r.changed and r["verified"] is True and r["bytes_written"] > 0
    manifest = manifest_on_host(hvsim.lab, r["export_path"])
    assert manifest["status"] == "complete" and manifest["vm_id"] == WEB01
    assert sorted(f["path"] for f in r["files"]) == sorted(manifest["file_paths"])
    info = run_module("checkpoint_info", dict(conn(hvsim, transport), vm_id=WEB01, include_files=False))
    assert [c["name"] for c in info["checkpoints"]] == ["before-patch", "after-patch"]  # untouched

    digest = hvsim.digest()
    r = run_module("checkpoint_export", args)
    assert not r.failed and not r.changed and r["status"] == "unchanged" and r["verified"] is True
    assert hvsim.digest() == digest


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_export_unc_access_denied(hvsim, transport):
    """test-matrix A24, with delegated credentials modelled so that the host's computer account is what fails."""
    hvsim.lab.switches["session_unc_access"] = "allow"
    for share in hvsim.lab.shares.values():
        share.users = list(getattr(share, "users", [])) + ["Everyone"]
    r = run_module("checkpoint_export", dict(conn(hvsim, transport), vm_id=WEB01, name="before-patch",
                                             path="\\\\fs01\\restricted\\hv01", poll_interval=0))
    assert r.failed and "0x80070005" in r["msg"] and "computer account" in r["msg"]


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_export_disk_fills_midway_is_never_complete(hvsim, transport):
    """Acceptance: the disk fills during the export -> clear error; the partial export stays incomplete."""
    lab = hvsim.lab

    def fill(op):
        if op.name.startswith("Export"):
            lab.inject_fault("disk_full", host="HV01", volume="E:\\", free_bytes=1024 * 1024)

    lab.in_flight_hooks.append(fill)
    args = dict(conn(hvsim, transport), vm_id=WEB01, name="before-patch", path="E:\\Exports", poll_interval=0)
    try:
        r = run_module("checkpoint_export", args)
    finally:
        lab.in_flight_hooks.remove(fill)
    assert r.failed and r["status"] == "incomplete"
    assert "not enough space" in r["msg"].lower() and "marked incomplete" in r["msg"]
    assert manifest_on_host(lab, r["export_path"])["status"] in ("in_progress", "failed")
    r2 = run_module("checkpoint_export", args)
    assert r2.failed and not r2.changed and r2["status"] == "incomplete"
    lab.clear_faults("disk_full")
    r3 = run_module("checkpoint_export", dict(args, force=True))
    assert not r3.failed, r3.get("msg")
    assert r3["status"] == "replaced" and manifest_on_host(lab, r3["export_path"])["status"] == "complete"


@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_export_unc_without_delegation_is_explained(hvsim, transport):
    """NTLM sessions have no delegated credentials: the manifest on a share is out of reach (second hop)."""
    digest = hvsim.digest()
    r = run_module("checkpoint_export", dict(conn(hvsim, transport), vm_id=WEB01, name="before-patch",
                                             path="\\\\fs01\\exports\\hv01", poll_interval=0))
    assert r.failed and not r.changed and "second hop" in r["msg"]
    assert hvsim.digest() == digest
