"""File cmdlets over the simulated host file systems (reading exports back)."""

from __future__ import annotations

import hashlib

from hvsim.model.files import text_bytes

from behaviour_support import plain


def _export(call, vm="web01", cp="after-patch", path="E:\\Exports"):
    s = next(x for x in call.snaps(vm) if x.properties["Name"] == cp)
    r = call(s.properties["ComputerName"], "Export-VMSnapshot", "SnapshotObject", VMSnapshot=[s], Path=path)
    assert not r.errors
    return s


def test_list_export_files_recursively(call, lab):
    # source: notes B Export-VMSnapshot (layout); brief (read the export back); PowerShell Get-ChildItem -Recurse -File
    s = _export(call)
    r = call("HV01", "Get-ChildItem", "LiteralItems", LiteralPath=["E:\\Exports\\web01"], Recurse=True, File=True)
    assert not r.errors
    names = [o.properties["FullName"] for o in r.output]
    sid = plain(s.properties["Id"]).upper()
    assert names == ["E:\\Exports\\web01\\Virtual Hard Disks\\web01.vhdx", f"E:\\Exports\\web01\\Virtual Machines\\{sid}.vmcx"]
    assert all(o.type_name == "System.IO.FileInfo" and o.properties["Length"].dotnet_type == "Int64" for o in r.output)
    vhd = call("HV01", "Get-VHD", "Path", Path=[names[0]]).output[0].properties
    assert r.output[0].properties["Length"].value == vhd["FileSize"].value
    r = call("HV01", "Get-ChildItem", "LiteralItems", LiteralPath=["E:\\Exports\\web01"], Directory=True)
    assert [o.properties["Name"] for o in r.output] == ["Virtual Hard Disks", "Virtual Machines"]
    assert all(o.properties["PSIsContainer"] for o in r.output)


def test_missing_path_is_path_not_found(call):
    # source: PowerShell ItemNotFoundException text ("Cannot find path '...' because it does not exist.")
    r = call("HV01", "Get-ChildItem", "LiteralItems", LiteralPath=["E:\\Nope"], Recurse=True, File=True)
    e = r.errors[0]
    assert e.fqid == "PathNotFound,Microsoft.PowerShell.Commands.GetChildItemCommand" and e.category == "ObjectNotFound"
    assert e.message == "Cannot find path 'E:\\Nope' because it does not exist."
    r = call("HV01", "Get-ChildItem", "LiteralItems", LiteralPath=["Q:\\x"])
    assert r.errors[0].fqid.startswith("DriveNotFound,")


def test_manifest_round_trip_and_hash(call, lab):
    # source: brief (export verification with the file cmdlets the export module uses)
    r = call("HV01", "New-Item", "pathSet", Path="E:\\Exports\\m1", ItemType="Directory", Force=True)
    assert not r.errors and r.output[0].type_name == "System.IO.DirectoryInfo"
    text = '"record","key"\r\n"meta","status"'
    assert not call("HV01", "Set-Content", "LiteralPath", LiteralPath=["E:\\Exports\\m1\\manifest.csv"], Value=text,
                    Encoding="UTF8").errors
    rows = call("HV01", "Import-Csv", "LiteralPath", LiteralPath=["E:\\Exports\\m1\\manifest.csv"]).output
    assert [r.properties for r in rows] == [{"record": "meta", "key": "status"}]
    h = call("HV01", "Get-FileHash", "LiteralPath", LiteralPath=["E:\\Exports\\m1\\manifest.csv"], Algorithm="SHA256").output[0]
    assert h.properties["Hash"] == hashlib.sha256(text_bytes(text)).hexdigest().upper()
    listed = call("HV01", "Get-ChildItem", "LiteralItems", LiteralPath=["E:\\Exports\\m1"], Recurse=True, File=True).output
    assert listed[0].properties["Length"].value == len(text_bytes(text))
    r = call("HV01", "Import-Csv", "LiteralPath", LiteralPath=["E:\\Exports\\m1\\nope.csv"])
    assert r.errors[0].fqid.startswith("FileOpenFailure,") and r.errors[0].category == "OpenError"


def test_hash_of_exported_disk_is_stable(call, lab):
    # source: brief (content hash per file in the simulated file tree)
    _export(call)
    p = "E:\\Exports\\web01\\Virtual Hard Disks\\web01.vhdx"
    a = call("HV01", "Get-FileHash", "LiteralPath", LiteralPath=[p], Algorithm="SHA256").output[0].properties["Hash"]
    b = call("HV01", "Get-FileHash", "LiteralPath", LiteralPath=[p], Algorithm="SHA256").output[0].properties["Hash"]
    assert a == b and len(a) == 64 and a == a.upper()


def test_remove_item_tree_but_never_disks_in_use(call, lab):
    # source: behaviour §4 ("Never delete .avhdx files directly"; 0x80070020 file locks) - Hyper-V holds its disks open
    _export(call)
    assert not call("HV01", "Remove-Item", "LiteralPath", LiteralPath=["E:\\Exports\\web01"], Recurse=True, Force=True).errors
    assert call("HV01", "Get-ChildItem", "LiteralItems", LiteralPath=["E:\\Exports\\web01"]).errors
    now = call.vm("web01").properties["HardDrives"][0].properties["Path"]
    r = call("HV01", "Remove-Item", "LiteralPath", LiteralPath=[now], Force=True)
    assert r.errors and "being used by another process" in r.errors[0].message
    assert not call("HV01", "Get-VHD", "Path", Path=[now]).errors


def test_unc_from_a_session_is_a_second_hop(call, lab):
    # source: behaviour §13 (Hyper-V writes exports as the computer account; the session has no delegated
    # credentials) -> switch session_unc_access
    _export(call, path="\\\\fs01\\exports\\hv01")
    r = call("HV01", "Get-ChildItem", "LiteralItems", LiteralPath=["\\\\fs01\\exports\\hv01\\web01"], Recurse=True, File=True)
    assert r.errors[0].category == "PermissionDenied" and r.output == []
    lab.switches["session_unc_access"] = "allow"
    r = call("HV01", "Get-ChildItem", "LiteralItems", LiteralPath=["\\\\fs01\\exports\\hv01\\web01"], Recurse=True, File=True)
    assert not r.errors and len(r.output) == 2


def test_set_content_errors(call, lab):
    # source: PowerShell provider errors (DirectoryNotFoundException; disk full IOException)
    r = call("HV01", "Set-Content", "LiteralPath", LiteralPath=["E:\\No\\Such\\m.csv"], Value="x")
    assert r.errors[0].fqid.startswith("GetContentWriterDirectoryNotFoundError,")
    lab.inject_fault("disk_full", host="HV01", volume="E:\\")
    call("HV01", "New-Item", "pathSet", Path="E:\\Full", ItemType="Directory", Force=True)
    r = call("HV01", "Set-Content", "LiteralPath", LiteralPath=["E:\\Full\\m.csv"], Value="x")
    assert r.errors[0].message == "There is not enough space on the disk."
