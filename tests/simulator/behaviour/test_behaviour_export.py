"""Export-VMSnapshot / Export-VM into the simulated host file systems."""

from __future__ import annotations

from hvsim.model import messages as M

from behaviour_support import DEMO_IDS, plain

GiB = 1024 ** 3


def _snap(call, vm, name):
    return next(s for s in call.snaps(vm) if s.properties["Name"] == name)


def _files(lab, host, prefix):
    out = {}
    for vol in list(lab.hosts[host].volumes) + list(lab.shares.values()):
        for f in vol.files.values():
            if f.path.lower().startswith(prefix.lower()):
                out[f.path[len(prefix):]] = f
    return out


def test_export_snapshot_layout_and_read_back(call, lab):
    # source: hyperv-cmdlets-notes.md B Export-VMSnapshot (subdirectory named after the VM; differencing disks merged
    # into a new VHD, WMI ExportOneSnapshot); behaviour §13
    s = _snap(call, "web01", "after-patch")
    free_before = call("HV01", "Get-Volume", "ByDriveLetter", DriveLetter=["E"]).output[0].properties["SizeRemaining"].value
    r = call("HV01", "Export-VMSnapshot", "SnapshotObject", VMSnapshot=[s], Path="E:\\Exports", Passthru=True)
    assert not r.errors and r.props("Name") == ["after-patch"]
    files = _files(lab, "HV01", "E:\\Exports\\web01\\")
    sid = plain(s.properties["Id"]).upper()
    assert f"Virtual Machines\\{sid}.vmcx" in files
    assert "Virtual Hard Disks\\web01.vhdx" in files
    # read back with a catalogued cmdlet: Get-VHD on the exported disk
    vhd = call("HV01", "Get-VHD", "Path", Path=["E:\\Exports\\web01\\Virtual Hard Disks\\web01.vhdx"]).output[0].properties
    assert plain(vhd["VhdType"]) == "Dynamic" and vhd["ParentPath"] == ""
    chain, path = 0, s.properties["HardDrives"][0].properties["Path"]
    while path:
        p = call("HV01", "Get-VHD", "Path", Path=[path]).output[0].properties
        chain += p["FileSize"].value
        path = p["ParentPath"]
    assert vhd["FileSize"].value == chain  # everything up to the checkpoint, merged
    free_after = call("HV01", "Get-Volume", "ByDriveLetter", DriveLetter=["E"]).output[0].properties["SizeRemaining"].value
    assert free_before - free_after == sum(f.size for f in files.values())


def test_export_vm_has_three_subfolders(call, lab):
    # source: hyperv-cmdlets-notes.md B Export-VM ("three subfolders: Snapshots, Virtual Hard Disks, and Virtual Machines")
    r = call("HV01", "Export-VM", "VMObject", VM=[call.vm("app01")], Path="E:\\Full")
    assert not r.errors
    files = _files(lab, "HV01", "E:\\Full\\app01\\")
    tops = {k.split("\\")[0] for k in files}
    assert tops == {"Snapshots", "Virtual Hard Disks", "Virtual Machines"}
    assert len([k for k in files if k.startswith("Snapshots\\") and k.endswith(".vmcx")]) == 3
    avhdx = [k for k in files if k.endswith(".avhdx")]
    assert avhdx
    p = call("HV01", "Get-VHD", "Path", Path=["E:\\Full\\app01\\" + avhdx[0]]).output[0].properties
    assert p["ParentPath"].startswith("E:\\Full\\app01\\Virtual Hard Disks\\")


def test_export_existing_folder_is_a_switch(call, lab):
    # source: hyperv-behaviour.md §13/§17 ("What happens when the folder already exists is unverified") -> switch
    s = _snap(call, "web01", "after-patch")
    assert not call("HV01", "Export-VMSnapshot", "SnapshotObject", VMSnapshot=[s], Path="E:\\X").errors
    r = call("HV01", "Export-VMSnapshot", "SnapshotObject", VMSnapshot=[s], Path="E:\\X")
    assert r.errors and "already exists" in r.errors[0].message
    lab.switches["export_existing_folder"] = "overwrite"
    assert not call("HV01", "Export-VMSnapshot", "SnapshotObject", VMSnapshot=[s], Path="E:\\X").errors


def test_unc_export_needs_computer_account_rights(call, lab):
    # source: hyperv-behaviour.md §13 (VMMS writes as the host's computer account; 0x80070005, KB error-0x80070005-export-vms)
    s = _snap(call, "web01", "after-patch")
    assert not call("HV01", "Export-VMSnapshot", "SnapshotObject", VMSnapshot=[s], Path="\\\\fs01\\exports\\hv01").errors
    assert _files(lab, "HV01", "\\\\fs01\\exports\\hv01\\web01\\")
    r = call("HV01", "Export-VMSnapshot", "SnapshotObject", VMSnapshot=[s], Path="\\\\fs01\\restricted\\x")
    e = r.errors[0]
    assert "0x80070005" in e.message and "CORP\\HV01$" in e.message
    assert e.fqid.startswith("AccessDenied,") and e.category == "PermissionDenied"
    assert not _files(lab, "HV01", "\\\\fs01\\restricted\\")
    n = _snap(call, "nightly49", "nightly-01")
    r = call("HV03", "Export-VMSnapshot", "SnapshotObject", VMSnapshot=[n], Path="\\\\fs01\\exports\\hv03")
    assert r.errors and "CORP\\HV03$" in r.errors[0].message


def test_disk_full_leaves_partial_export(call, lab):
    # source: brief (disk full -> error and a partial export marked by missing files); behaviour §4 (free space)
    n = _snap(call, "nightly49", "nightly-01")  # saved state 2 GiB; F: has about 1 GiB free
    r = call("HV03", "Export-VMSnapshot", "SnapshotObject", VMSnapshot=[n], Path="F:\\Exports")
    e = r.errors[0]
    assert "0x80070070" in e.message and "bytes free" in e.message
    assert r.mutated  # the partial export changed the host's files
    files = _files(lab, "HV03", "F:\\Exports\\nightly49\\")
    assert any(k.endswith(".vmcx") for k in files)  # written before the disk filled up
    assert not any(k.endswith(".vhdx") for k in files)  # missing: the export is partial
    r = call("HV03", "Get-VHD", "Path", Path=["F:\\Exports\\nightly49\\Virtual Hard Disks\\nightly49.vhdx"])
    assert r.errors[0].message == M.NOT_A_VHD.format("F:\\Exports\\nightly49\\Virtual Hard Disks\\nightly49.vhdx")


def test_exporting_status_in_flight_blocks_chain_operations(call, lab):
    # source: hyperv-behaviour.md §5 (ExportingVirtualMachine 32773 busy)
    seen = []

    def hook(op):
        if op.name.startswith("Export"):
            seen.append(plain(call.vm("web01").properties["OperationalStatus"]))
            seen.append(call("HV01", "Checkpoint-VM", "VMObject", VM=[call.vm("web01")], SnapshotName="x"))

    lab.in_flight_hooks.append(hook)
    assert not call("HV01", "Export-VM", "VMObject", VM=[call.vm("web01")], Path="E:\\Busy").errors
    assert seen[0] == ["Ok", "ExportingVirtualMachine"]
    assert seen[1].errors[0].message == M.INVALID_STATE_VM


def test_export_snapshot_by_name_wildcard_exports_each_match(call, lab):
    # source: hyperv-cmdlets-notes.md B Export-VMSnapshot ("-Name is a wildcard list" [R-DEC])
    r = call("HV02", "Export-VMSnapshot", "SnapshotName", VMName=["wild01"], Name=["db0"], Path="D:\\E1")
    assert not r.errors
    lab.switches["export_existing_folder"] = "overwrite"
    r = call("HV02", "Export-VMSnapshot", "SnapshotName", VMName=["wild01"], Name=["a?b"], Path="D:\\E2", Passthru=True)
    assert sorted(r.props("Name")) == ["a*b", "a?b", "axb"]
    assert DEMO_IDS["wild01"]


def test_data_consistent_export_fails_when_the_guest_cannot_quiesce(call, lab):
    # source: hyperv-cmdlets-notes.md B Export-VM (CaptureDataConsistentState "use production-checkpoint
    # technology") + hyperv-behaviour.md §1 (ProductionOnly fails rather than falling back); unverified
    lab.inject_fault("vss_failure", vm=DEMO_IDS["web01"])
    before = lab.digest()
    r = call("HV01", "Export-VM", "VMObject", VM=[call.vm("web01")], Path="E:\\Dc",
             CaptureLiveState="CaptureDataConsistentState")
    assert r.errors and "VSS" in r.errors[0].message
    assert _files(lab, "HV01", "E:\\Dc\\web01\\") == {}
    # a crash-consistent export of the same guest needs no quiescing
    r = call("HV01", "Export-VM", "VMObject", VM=[call.vm("web01")], Path="E:\\Cc",
             CaptureLiveState="CaptureCrashConsistentState")
    assert not r.errors and lab.digest() != before
