"""Get-VM, Get-VMSnapshot, Get-VHD, Get-VMHardDiskDrive, integration services, KVP, host, volumes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hvsim.model import messages as M

from behaviour_support import DEMO_IDS, plain


def test_get_vm_sorted_by_name_and_only_own_host(call):
    # source: hyperv-cmdlets-notes.md B Get-VM ("all VMs are returned, sorted by name"); brief (VM visible only on its host)
    names = call("HV01", "Get-VM", "Name").props("Name")
    assert names == sorted(names, key=str.lower)
    assert "dc02" not in names and "dc01" in names
    assert call("HV02", "Get-VM", "Id", Id=DEMO_IDS["dc01"]).errors


def test_get_vm_wildcards_case_insensitive(call):
    # source: hyperv-cmdlets-notes.md A.5 (case-insensitive wildcards * ? [ ]); behaviour §6
    assert call("HV01", "Get-VM", "Name", Name=["WEB*"]).props("Name") == ["web01"]
    assert call("HV01", "Get-VM", "Name", Name=["dc0?"]).props("Name") == ["dc01"]
    assert call("HV01", "Get-VM", "Name", Name=["[ad]*"]).props("Name") == ["app01", "dc01", "deep01"]


def test_get_vm_unknown_literal_errors_but_wildcard_is_silent(call):
    # source: hyperv-cmdlets-notes.md A.5 (Get-VM: InvalidParameter/InvalidArgument with the name as target)
    r = call("HV01", "Get-VM", "Name", Name=["nosuchvm"])
    assert r.output == []
    e = r.errors[0]
    assert e.message == 'Hyper-V was unable to find a virtual machine with name "nosuchvm".'
    assert e.fqid == "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM"
    assert e.category == "InvalidArgument" and e.target == "nosuchvm"
    r = call("HV01", "Get-VM", "Name", Name=["nosuch*"])
    assert r.output == [] and r.errors == []


def test_get_vm_by_id_unknown(call):
    # source: hyperv-cmdlets-notes.md A.5 ("Lookup by Id fails with ... with id")
    r = call("HV01", "Get-VM", "Id", Id="00000000-0000-4000-8000-000000000000")
    assert r.errors[0].message == 'Hyper-V was unable to find a virtual machine with id "00000000-0000-4000-8000-000000000000".'


def test_duplicate_vm_names(call, lab):
    # source: hyperv-behaviour.md §6 (duplicate VM names; PR #1110: VMName cmdlets error)
    lab.vms[DEMO_IDS["web01-hv02"]].host = "HV01"  # bring both web01 onto one host
    r = call("HV01", "Get-VM", "Name", Name=["web01"])
    assert len(r.output) == 2 and not r.errors  # Get-VM lists both
    r = call("HV01", "Get-VMSnapshot", "VMName", VMName=["web01"])
    assert r.errors and r.errors[0].fqid.startswith("InvalidParameter,") and r.output == []
    lab.switches["duplicate_vmname_policy"] = "all"
    assert not call("HV01", "Get-VMSnapshot", "VMName", VMName=["web01"]).errors


def test_vm_object_properties(call):
    # source: hyperv-objects.md §1 (types: Guid, VMState, CheckpointType, Int64 memory, aliases)
    p = call.vm("sqlclu-a").properties
    assert p["Id"].value == DEMO_IDS["sqlclu-a"] and p["VMId"] == p["Id"]
    assert p["State"].type_name == "Microsoft.HyperV.PowerShell.VMState" and p["State"].value == 2
    assert p["CheckpointType"].name == "Production" and p["CheckpointType"].value == 3
    assert p["MemoryStartup"].dotnet_type == "Int64" and p["MemoryStartup"].value == 16 * 1024 ** 3
    assert p["IsClustered"] is True and p["Generation"].value == 2
    assert p["ParentSnapshotId"] is None and p["ParentCheckpointName"] is None
    assert p["CheckpointFileLocation"] == p["SnapshotFileLocation"]
    assert plain(p["OperationalStatus"]) == ["Ok"] and p["Status"] == "Operating normally"


def test_get_vmsnapshot_sorted_and_filtered(call):
    # source: hyperv-cmdlets-notes.md B Get-VMSnapshot (sorted by CreationTime; wildcard -Name; -SnapshotType)
    snaps = call.snaps("deep01")
    times = [s.properties["CreationTime"] for s in snaps]
    assert times == sorted(times) and len(snaps) == 7
    vm = call.vm("deep01")
    r = call("HV01", "Get-VMSnapshot", "VMObject", VM=[vm], Name="l4*")
    assert r.props("Name") == ["L4", "L4-branch"]
    r = call("HV03", "Get-VMSnapshot", "VMName", VMName=["web02-replica"], SnapshotType=["Recovery"])
    assert r.props("Name") == ["Recovery checkpoint"]


def test_get_vmsnapshot_not_found_only_with_filter(call):
    # source: hyperv-cmdlets-notes.md B Get-VMSnapshot (ObjectNotFound when a filter matched nothing); behaviour §7
    r = call("HV01", "Get-VMSnapshot", "VMName", VMName=["dc01"])
    assert r.output == [] and r.errors == []  # no checkpoints, no filter: no error
    r = call("HV01", "Get-VMSnapshot", "VMName", VMName=["web01"], Name="missing")
    e = r.errors[0]
    assert e.message == "Unable to find a snapshot matching the given criteria."
    assert e.fqid == "ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMSnapshot"
    assert e.category == "ObjectNotFound"
    r = call("HV01", "Get-VMSnapshot", "VMName", VMName=["web01"], SnapshotType=["Replica"])
    assert r.errors[0].message == M.SNAPSHOT_NOT_FOUND


def test_get_vmsnapshot_by_own_id(call):
    # source: hyperv-cmdlets-notes.md B Get-VMSnapshot (-Id looks up a checkpoint by its own Id [R-DEC])
    s = call.snaps("web01")[0]
    r = call("HV01", "Get-VMSnapshot", "Id", Id=plain(s.properties["Id"]))
    assert r.props("Name") == [s.properties["Name"]]
    r = call("HV01", "Get-VMSnapshot", "Id", Id=DEMO_IDS["web01"])  # a VM id is not a checkpoint id
    assert r.errors[0].message == M.SNAPSHOT_NOT_FOUND
    r = call("HV02", "Get-VMSnapshot", "Id", Id=plain(s.properties["Id"]))  # other host
    assert r.errors


def test_parent_of_and_child_of(call):
    # source: hyperv-behaviour.md §14 (-ParentOf immediate parent, -ChildOf immediate children)
    vm = call.vm("deep01")
    r = call("HV01", "Get-VMSnapshot", "Parent", ParentOf=vm)
    assert r.props("Name") == ["L6"]
    snaps = {s.properties["Name"]: s for s in call.snaps("deep01")}
    r = call("HV01", "Get-VMSnapshot", "Child", ChildOf=snaps["L3"])
    assert r.props("Name") == ["L4", "L4-branch"]
    r = call("HV01", "Get-VMSnapshot", "Parent", ParentOf=snaps["L1"])
    assert r.errors[0].message == M.SNAPSHOT_NOT_FOUND  # a root checkpoint has no parent


def test_replica_and_recovery_types_seeded(call):
    # source: hyperv-behaviour.md §12 (SnapshotType values, Recovery=1, Replica=6)
    types = {s.properties["Name"]: s.properties["SnapshotType"] for s in call.snaps("web02-replica")}
    assert types["Recovery checkpoint"].value == 1 and types["Replica checkpoint - 11/19/2026"].value == 6


def test_get_vhd_chain_and_types(call):
    # source: hyperv-objects.md §4 (VhdType Differencing, ParentPath); behaviour §4 (diagnose with Get-VHD ParentPath)
    path = call("HV01", "Get-VMHardDiskDrive", "VMObject", VM=[call.vm("deep01")]).output[0].properties["Path"]
    chain = []
    while path:
        r = call("HV01", "Get-VHD", "Path", Path=[path])
        assert not r.errors
        p = r.output[0].properties
        chain.append((plain(p["VhdType"]), p["Size"].dotnet_type, plain(p["FileSize"])))
        path = p["ParentPath"]
    assert [c[0] for c in chain] == ["Differencing"] * 6 + ["Dynamic"]
    assert all(c[1] == "UInt64" for c in chain)
    r = call("HV01", "Get-VHD", "Path", Path=["D:\\nothing.vhdx"])
    assert r.errors[0].message == "'D:\\nothing.vhdx' is not an existing virtual hard disk file."


def test_get_vhd_by_vmid(call):
    # source: hyperv-objects.md §4 ("Get-VHD -VMId returns the disks of a VM")
    r = call("HV02", "Get-VHD", "VMId", VMId=[DEMO_IDS["file01"]])
    assert len(r.output) == 2 and all(o.properties["Attached"] for o in r.output)


def test_hard_disk_drive_of_checkpoint(call):
    # source: hyperv-objects.md §5 (VMSnapshotId/Name when read from a checkpoint; pass-through Path $null)
    s = call.snaps("web01")[0]
    r = call("HV01", "Get-VMHardDiskDrive", "VMSnapshot", VMSnapshot=s)
    assert r.output[0].properties["VMSnapshotName"] == "before-patch"
    assert r.output[0].properties["Path"].endswith("web01.vhdx")
    r = call("HV02", "Get-VMHardDiskDrive", "VMName", VMName=["pt01"])
    assert [o.properties["Path"] for o in r.output][1] is None
    assert r.output[1].properties["DiskNumber"].value == 3
    r = call("HV02", "Get-VMHardDiskDrive", "VMName", VMName=["pt01"], ControllerLocation=1)
    assert len(r.output) == 1


def test_integration_services_by_id_and_localized_name(call):
    # source: hyperv-behaviour.md §1 (names are localized; match on Id); notes B Get-VMIntegrationService
    r = call("HV02", "Get-VMIntegrationService", "VMName", VMName=["legacy01"])
    names = r.props("Name")
    assert "检测信号" in names and "Heartbeat" not in names
    ids = [i.rsplit("\\", 1)[1] for i in r.props("Id")]
    assert "84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47" in ids
    r = call("HV01", "Get-VMIntegrationService", "VMName", VMName=["lnx01"], Name=["VSS"])
    assert plain(r.output[0].properties["PrimaryOperationalStatus"]) == "NoContact"
    r = call("HV01", "Get-VMIntegrationService", "VMName", VMName=["lnx01"], Name=["nope"])
    assert r.errors[0].message == "No integration component with the given name could be found."


def _kvp(call, host, vm_id=None):
    args = {"Namespace": "root/virtualization/v2", "ClassName": "Msvm_KvpExchangeComponent"}
    if vm_id:
        args["Filter"] = f"SystemName='{vm_id.upper()}'"
    return call(host, "Get-CimInstance", "ClassNameComputerSet", **args)


def _items(obj):
    out = {}
    for x in obj.properties["GuestIntrinsicExchangeItems"] or []:
        root = ET.fromstring(x)
        props = {p.get("NAME"): (p.findtext("VALUE") or "") for p in root.findall("PROPERTY")}
        out[props["Name"]] = props["Data"]
    return out


def test_kvp_product_type_marks_domain_controllers(call):
    # source: hyperv-cmdlets-notes.md "Guest role" (Msvm_KvpExchangeComponent, ProductType 2 = DC)
    dc1 = _kvp(call, "HV01", DEMO_IDS["dc01"])
    assert len(dc1.output) == 1 and dc1.output[0].properties["SystemName"] == DEMO_IDS["dc01"].upper()
    dc2 = _kvp(call, "HV02", DEMO_IDS["dc02"])
    i1, i2 = _items(dc1.output[0]), _items(dc2.output[0])
    assert i1["ProductType"] == "2" and i2["ProductType"] == "2"
    assert i1["FullyQualifiedDomainName"].split(".", 1)[1] == i2["FullyQualifiedDomainName"].split(".", 1)[1]
    assert _items(_kvp(call, "HV01", DEMO_IDS["web01"]).output[0])["ProductType"] == "3"
    assert len(_kvp(call, "HV01").output) == len(call("HV01", "Get-VM", "Name").output)


def test_kvp_items_absent_when_guest_not_running(call):
    # source: hyperv-cmdlets-notes.md "Guest role" ("the item exists only while the guest runs the Data Exchange service")
    assert _kvp(call, "HV01", DEMO_IDS["deep01"]).output[0].properties["GuestIntrinsicExchangeItems"] is None


def test_cim_other_class_is_refused(call):
    # source: hyperv-cmdlets-notes.md "Guest role" (only that namespace and class are modelled)
    r = call("HV01", "Get-CimInstance", "ClassNameComputerSet", Namespace="root/cimv2", ClassName="Win32_Process")
    assert r.errors and r.output == []


def test_volumes_and_host(call, lab):
    # source: hyperv-behaviour.md §4 (check free space before create/merge), §16.1 (free space per volume)
    vols = {o.properties["DriveLetter"]: o for o in call("HV03", "Get-Volume", "").output}
    f = vols["F"].properties
    # 40 GiB volume, 37 GiB untracked, small01.vhdx (2 GiB) and its .vmcx (64 KiB)
    assert f["SizeRemaining"].value == 3 * 1024 ** 3 - 2 * 1024 ** 3 - 64 * 1024
    assert f["Size"].value == 40 * 1024 ** 3
    r = call("HV03", "Get-Volume", "ByFilePath", FilePath=["F:\\VMs\\small01.vhdx"])
    assert r.output[0].properties["DriveLetter"] == "F"
    assert r.output[0].properties["SizeRemaining"].value < 3 * 1024 ** 3
    h = call("HV01", "Get-VMHost", "ComputerName").output[0].properties
    assert h["Name"] == "HV01" and h["VirtualMachinePath"] == "D:\\Hyper-V"


def test_cluster_cmdlets_minimal(call):
    # source: hyperv-behaviour.md §11 (IsClustered, cluster tooling); notes B FailoverClusters
    groups = call("HV01", "Get-ClusterGroup", "").output
    assert [g.properties["Name"] for g in groups] == ["sqlclu-a", "sqlclu-b"]
    assert call("HV01", "Get-ClusterNode", "").props("Name") == ["HV01", "HV02"]
    assert call("HV03", "Get-ClusterNode", "").errors  # HV03 is not clustered


def test_computer_name_second_hop(call, lab):
    # source: hyperv-cmdlets-notes.md A.6 (-ComputerName in the by-name sets); behaviour §13 ("No credential delegation
    # (CredSSP)" - a WinRM session has no credentials for a second hop); switch remote_computer_name
    r = call("HV01", "Get-VM", "Name", Name=["dc02"], ComputerName=["HV02"])
    assert r.output == [] and r.errors[0].category == "PermissionDenied"
    assert call("HV01", "Get-VM", "Name", Name=["dc01"], ComputerName=["localhost"]).props("Name") == ["dc01"]
    lab.switches["remote_computer_name"] = "allow"
    r = call("HV01", "Get-VM", "Name", Name=["dc02"], ComputerName=["HV02"])
    assert r.props("Name") == ["dc02"] and r.output[0].properties["ComputerName"] == "HV02"
    r = call("HV01", "Get-VM", "Name", Name=["dc02"], ComputerName=["nosuchhost"])
    assert r.output == [] and r.errors


def test_linux_guest_reports_no_product_type(call):
    # source: hyperv-cmdlets-notes.md "Guest role" ("When it is missing, treat the role as unknown"); hv_kvp_daemon items
    items = _items(_kvp(call, "HV01", DEMO_IDS["lnx01"]).output[0])
    assert "OSName" in items and "ProductType" not in items


def test_get_vmsnapshot_unknown_vm_reports_only_the_vm(call):
    # source: hyperv-cmdlets-notes.md A.5 (a literal VM name that matches nothing: ObjectNotFound on cmdlets other than Get-VM)
    r = call("HV01", "Get-VMSnapshot", "VMName", VMName=["ghost"], Name="x")
    assert [e.message for e in r.errors] == [M.VM_NOT_FOUND_NAME.format("ghost")]
    assert r.errors[0].fqid == "ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMSnapshot"


def test_vfc_adapter_visible_and_blocks_checkpoint(call, lab):
    # source: hyperv-objects.md §1 (FibreChannelHostBusAdapters); behaviour §9 (vFC unsupported for checkpoints)
    assert call.vm("dc01").properties["FibreChannelHostBusAdapters"] == []
    lab.vms[DEMO_IDS["dc01"]].vfc = True
    vm = call.vm("dc01")
    assert len(vm.properties["FibreChannelHostBusAdapters"]) == 1
    r = call("HV01", "Checkpoint-VM", "VMObject", VM=[vm], SnapshotName="x")
    assert r.errors and "virtual Fibre Channel" in r.errors[0].message
