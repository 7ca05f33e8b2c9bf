"""Get-VMHardDiskDrive and Get-VHD."""

from __future__ import annotations

import typing as t

from hvsim.engine.registry import BoundCommand, HandlerContext
from hvsim.engine.types import HvObject
from hvsim.model import messages as M
from hvsim.model import paths
from hvsim.model.enums import canonical_name
from hvsim.model.errors import ModelError

from ._common import register, as_list, host_of, lab_of, obj_id, resolve_vms, target_hosts, write
from ._objects import drive_object, vhd_object


@register("Get-VMHardDiskDrive")
def get_vmharddiskdrive(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """notes B Get-VMHardDiskDrive: VMName/VMObject/VMSnapshot sets; controller filters.
    After a checkpoint Path is the newest .avhdx (behaviour §4, HyperVDsc#28)."""
    lab = lab_of(ctx)
    host = host_of(ctx)
    ct = bound.args.get("ControllerType")
    ct = canonical_name("ControllerType", ct) if ct is not None else None
    num = bound.args.get("ControllerNumber")
    loc = bound.args.get("ControllerLocation")
    pairs = []
    if "VMSnapshot" in bound.args:
        with lab.locked():
            for o in as_list(bound.args["VMSnapshot"]):
                try:
                    s = lab.get_snapshot(host, obj_id(o))
                except ModelError as e:
                    write(ctx, bound, e)
                    continue
                pairs.append((lab.vms[s.vm_id], s))
    else:
        pairs = [(vm, None) for vm in resolve_vms(ctx, bound, name_param="VMName")]
    out = []
    with lab.locked():
        for vm, s in pairs:
            for d in vm.drives:
                if ct is not None and d.controller_type != ct:
                    continue
                if num is not None and d.controller_number != int(num):
                    continue
                if loc is not None and d.controller_location != int(loc):
                    continue
                out.append(drive_object(lab, vm, d, s))
    return out


@register("Get-VHD")
def get_vhd(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """notes B Get-VHD: Path (ParentPath chain, VhdType Differencing for .avhdx), VMId, DiskNumber."""
    lab = lab_of(ctx)
    out = []
    hosts = target_hosts(ctx, bound)
    with lab.locked():
        attached = set()
        for vm in lab.vms.values():
            for d in vm.drives:
                if d.path:
                    attached.add((vm.host, paths.key(d.path)))
        if "VMId" in bound.args:
            for vid in as_list(bound.args["VMId"]):
                for h in hosts:
                    try:
                        vm = lab.get_vm(h, obj_id(vid))
                    except ModelError as e:
                        write(ctx, bound, e)
                        continue
                    for d in vm.drives:
                        if d.path:
                            f = lab.find_file(lab.hosts[h], d.path)
                            if f and f.vhd:
                                out.append(vhd_object(lab, h, f, True))
            return out
        if "DiskNumber" in bound.args:
            for n in as_list(bound.args["DiskNumber"]):
                write(ctx, bound, ModelError("ObjectNotFound", M.NOT_A_VHD.format(f"\\\\.\\PhysicalDrive{n}"), str(n)))
            return out
        for p in as_list(bound.args.get("Path")):
            raw = str(p.properties.get("FullName") or p.properties.get("Path")) if isinstance(p, HvObject) else str(p)
            for h in hosts:
                hostobj = lab.hosts[h]
                f = lab.find_file(hostobj, raw) if paths.is_absolute(raw) else None
                if f is None or f.vhd is None:
                    write(ctx, bound, ModelError("ObjectNotFound", M.NOT_A_VHD.format(raw), raw))
                    continue
                out.append(vhd_object(lab, h, f, (h, paths.key(f.path)) in attached))
    return out
