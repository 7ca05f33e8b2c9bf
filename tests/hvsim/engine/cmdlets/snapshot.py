"""Checkpoint-VM and the *-VMSnapshot cmdlets (aliases *-VMCheckpoint resolve here)."""

from __future__ import annotations

import typing as t

from hvsim.engine.registry import BoundCommand, CmdletError, HandlerContext
from hvsim.engine.types import HvError, HvObject
from hvsim.model import messages as M
from hvsim.model.enums import canonical_name
from hvsim.model.errors import ModelError
from hvsim.model.objects import Snapshot
from hvsim.model.wildcard import has_wildcards

from ._common import register, as_list, fail, host_of, lab_of, obj_id, resolve_one_snapshot, resolve_vms, switch, whatif, write
from ._objects import snapshot_object

HV = "Microsoft.HyperV.PowerShell."


@register("Checkpoint-VM", writes=True)
def checkpoint_vm(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """behaviour §1, §2, §6, §9; notes B Checkpoint-VM (no output without -Passthru)."""
    lab = lab_of(ctx)
    name = bound.args.get("SnapshotName")
    out = []
    for vm in resolve_vms(ctx, bound):
        if whatif(bound):
            continue
        try:
            snap = lab.checkpoint(vm.host, vm.id, None if name is None else str(name))
            ctx.mark_mutated()
        except ModelError as e:
            write(ctx, bound, e)
            continue
        if switch(bound, "Passthru"):
            with lab.locked():
                if snap.id in lab.snapshots:
                    out.append(snapshot_object(lab, snap))
    return out


def _types(bound: BoundCommand) -> t.Optional[t.List[str]]:
    v = bound.args.get("SnapshotType")
    if v is None:
        return None
    return [canonical_name("SnapshotType", x) for x in as_list(v)]


@register("Get-VMSnapshot")
def get_vmsnapshot(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """notes B Get-VMSnapshot [R-DEC]: sets VMName/VMObject/Id/Parent/Child; wildcard -Name;
    sorted by CreationTime; ObjectNotFound only when a filter was given and nothing matched."""
    lab = lab_of(ctx)
    host = host_of(ctx)
    name = bound.args.get("Name")
    types = _types(bound)
    filtered = name is not None or types is not None
    found: t.List[Snapshot] = []
    if "Id" in bound.args:
        filtered = True
        with lab.locked():
            try:
                found = [lab.get_snapshot(host, obj_id(bound.args["Id"]))]
            except ModelError:
                found = []
    elif "ParentOf" in bound.args or "ChildOf" in bound.args:
        filtered = True
        with lab.locked():
            if "ParentOf" in bound.args:
                o = as_list(bound.args["ParentOf"])[0]
                oid = obj_id(o)
                is_snap = isinstance(o, HvObject) and (o.type_name == HV + "VMSnapshot")
                if is_snap:
                    s = lab.snapshots.get(oid)
                    parent_id = s.parent_id if s else None
                else:
                    vm = lab.vms.get(oid)
                    parent_id = vm.parent_snapshot_id if vm and vm.host == host else None
                p = lab.snapshots.get(parent_id or "")
                cand = [p] if p else []
            else:
                o = as_list(bound.args["ChildOf"])[0]
                cand = lab.children_of(obj_id(o)) if obj_id(o) in lab.snapshots else []
            found = [s for s in cand if _matches(s, name, types)]
    else:
        vms = resolve_vms(ctx, bound, name_param="VMName")
        if not vms:
            return []  # the VM lookup already wrote its error (or a wildcard matched no VM)
        with lab.locked():
            for vm in vms:
                found.extend(lab.match_snapshots(vm.id, name, types))
    with lab.locked():
        found = [s for s in found if s.id in lab.snapshots]
        found.sort(key=lambda s: (s.creation_time, s.seq))
        if not found and filtered:
            target = name if name is not None else (obj_id(bound.args["Id"]) if "Id" in bound.args else None)
            write(ctx, bound, ModelError("ObjectNotFound", M.SNAPSHOT_NOT_FOUND, target))
            return []
        return [snapshot_object(lab, s) for s in found]


def _matches(s: Snapshot, name: t.Any, types: t.Optional[t.List[str]]) -> bool:
    from hvsim.model.wildcard import wildcard_match

    if name is not None and not wildcard_match(str(name), s.name):
        return False
    if types is not None and s.snapshot_type not in types:
        return False
    return True


PROMPT_PSRP = (
    "A command that prompts the user failed because the host program or the command type does not support user "
    "interaction. The host was attempting to request confirmation with the following message: {0}"
)
PROMPT_WINRS = "PowerShell is in NonInteractive mode. Read and Prompt functionality is not available."


def _confirm_high(ctx: HandlerContext, bound: BoundCommand, text: str) -> None:
    """ConfirmImpact High (notes A.3): without -Confirm:$false the cmdlet prompts; a remote
    session without a host UI (pypsrp) or powershell.exe -NonInteractive cannot answer."""
    if bound.args.get("Confirm") is False or switch(bound, "AsJob") or whatif(bound):
        return
    if ctx.call.transport == "winrs":
        err = HvError(f"System.Management.Automation.PSInvalidOperationException,{_cls(bound)}", "InvalidOperation",
                      PROMPT_WINRS, None, "System.Management.Automation.PSInvalidOperationException", True)
    else:
        err = HvError(f"HostFunctionNotImplemented,{_cls(bound)}", "NotImplemented", PROMPT_PSRP.format(text), None,
                      "System.Management.Automation.Host.HostException", True)
    raise CmdletError(err)


def _cls(bound: BoundCommand) -> str:
    try:
        from hvsim.engine.errors import cmdlet_class

        return cmdlet_class(bound.cmdlet)
    except Exception:  # pragma: no cover
        return "Microsoft.HyperV.PowerShell.Commands." + bound.cmdlet.replace("-", "")


@register("Restore-VMSnapshot", writes=True)
def restore_vmsnapshot(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """behaviour §3; notes B Restore-VMSnapshot (exactly one match; saves a running VM first)."""
    lab = lab_of(ctx)
    snap = resolve_one_snapshot(ctx, bound)
    if snap is None:
        return []
    _confirm_high(ctx, bound, f'Restore-VMSnapshot will restore snapshot "{snap.name}".')
    if whatif(bound):
        return []
    try:
        lab.restore(host_of(ctx) if lab.vms[snap.vm_id].host == host_of(ctx) else lab.vms[snap.vm_id].host, snap.id)
        ctx.mark_mutated()
    except ModelError as e:
        raise fail(bound, e)
    if switch(bound, "Passthru"):
        with lab.locked():
            return [snapshot_object(lab, snap)]
    return []


@register("Remove-VMSnapshot", writes=True)
def remove_vmsnapshot(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """behaviour §4; notes B Remove-VMSnapshot: no -Name removes every checkpoint; a name that
    matches nothing does nothing; -Passthru emits the removed VMSnapshot objects."""
    lab = lab_of(ctx)
    host = host_of(ctx)
    targets: t.List[Snapshot] = []
    if "VMSnapshot" in bound.args:
        with lab.locked():
            for o in as_list(bound.args["VMSnapshot"]):
                try:
                    targets.append(lab.get_snapshot(host, obj_id(o)))
                except ModelError as e:
                    write(ctx, bound, e)
    else:
        names = [str(n) for n in as_list(bound.args.get("Name"))] or None
        vms = resolve_vms(ctx, bound, name_param="VMName")
        with lab.locked():
            for vm in vms:
                targets.extend(lab.match_snapshots(vm.id, names))
    if not targets or whatif(bound):
        return []
    include = switch(bound, "IncludeAllChildSnapshots")
    out: t.List[HvObject] = []
    by_vm: t.Dict[str, t.List[Snapshot]] = {}
    for s in targets:
        by_vm.setdefault(s.vm_id, []).append(s)
    for vm_id, group in by_vm.items():
        with lab.locked():
            group = [s for s in group if s.id in lab.snapshots]
            vm_host = lab.vms[vm_id].host if vm_id in lab.vms else host
            objs = {}
            if switch(bound, "Passthru"):
                for s in group:
                    for x in (lab.subtree(s.id) if include else [s]):
                        objs[x.id] = snapshot_object(lab, x)
        if not group:
            continue
        try:
            removed = lab.remove_snapshots(vm_host, [s.id for s in group], include)
            ctx.mark_mutated()
        except ModelError as e:
            write(ctx, bound, e)
            continue
        if switch(bound, "Passthru"):
            for s in removed:
                if s.id in objs:
                    out.append(objs[s.id])
    return out


@register("Rename-VMSnapshot", writes=True)
def rename_vmsnapshot(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """notes B Rename-VMSnapshot (exactly-one-match rule; 100 characters, not blank)."""
    lab = lab_of(ctx)
    snap = resolve_one_snapshot(ctx, bound)
    if snap is None or whatif(bound):
        return []
    try:
        lab.rename_snapshot(lab.vms[snap.vm_id].host, snap.id, str(bound.args["NewName"]))
        ctx.mark_mutated()
    except ModelError as e:
        raise fail(bound, e)
    if switch(bound, "Passthru"):
        with lab.locked():
            return [snapshot_object(lab, snap)]
    return []


@register("Export-VMSnapshot", writes=True)
def export_vmsnapshot(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """behaviour §13; notes B Export-VMSnapshot (subfolder named after the VM)."""
    lab = lab_of(ctx)
    host = host_of(ctx)
    targets: t.List[Snapshot] = []
    if "VMSnapshot" in bound.args:
        with lab.locked():
            for o in as_list(bound.args["VMSnapshot"]):
                try:
                    targets.append(lab.get_snapshot(host, obj_id(o)))
                except ModelError as e:
                    write(ctx, bound, e)
    else:
        names = [str(n) for n in as_list(bound.args.get("Name"))]
        vms = resolve_vms(ctx, bound, name_param="VMName")
        with lab.locked():
            for vm in vms:
                hits = lab.match_snapshots(vm.id, names or None)
                if not hits and any(not has_wildcards(n) for n in names):
                    write(ctx, bound, ModelError("ObjectNotFound", M.SNAPSHOT_NOT_FOUND, ", ".join(names)))
                targets.extend(hits)
    out = []
    for s in targets:
        if whatif(bound):
            continue
        try:
            lab.export(lab.vms[s.vm_id].host, str(bound.args["Path"]), snap_id=s.id)
            ctx.mark_mutated()
        except ModelError as e:
            if e.partial:
                ctx.mark_mutated()
            write(ctx, bound, e)
            continue
        if switch(bound, "Passthru"):
            with lab.locked():
                out.append(snapshot_object(lab, s))
    return out

