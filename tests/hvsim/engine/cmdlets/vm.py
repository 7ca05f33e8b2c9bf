"""Get-VM, Set-VM, Start-VM, Stop-VM, Save-VM, Suspend-VM, Resume-VM, Export-VM."""

from __future__ import annotations

import typing as t

from hvsim.engine.registry import BoundCommand, HandlerContext
from hvsim.engine.types import HvObject
from hvsim.model import messages as M
from hvsim.model.enums import canonical_name
from hvsim.model.errors import ModelError

from ._common import register, as_list, fail, host_of, lab_of, obj_id, resolve_vms, switch, target_hosts, whatif, write
from ._objects import vm_object


@register("Get-VM")
def get_vm(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """notes B Get-VM: Name (wildcards, sorted by name), Id, ClusterObject; A.5 errors."""
    lab = lab_of(ctx)
    if "Id" in bound.args:
        out = []
        with lab.locked():
            for vid in as_list(bound.args["Id"]):
                found = False
                for h in target_hosts(ctx, bound):
                    try:
                        out.append(vm_object(lab, lab.get_vm(h, obj_id(vid))))
                        found = True
                        break
                    except ModelError:
                        continue
                if not found:
                    write(ctx, bound, ModelError("InvalidParameter", M.VM_NOT_FOUND_ID.format(obj_id(vid)), obj_id(vid)))
        return out
    if "ClusterObject" in bound.args:
        out = []
        with lab.locked():
            for o in as_list(bound.args["ClusterObject"]):
                props = o.properties if isinstance(o, HvObject) else {}
                vm_id = props.get("VMId") or props.get("Id")
                owner = str(props.get("OwnerNode") or host_of(ctx))
                try:
                    out.append(vm_object(lab, lab.get_vm(owner, obj_id(vm_id))))
                except ModelError as e:
                    write(ctx, bound, e)
        return out
    vms = resolve_vms(ctx, bound, name_param="Name", get_vm=True)
    with lab.locked():
        return [vm_object(lab, v) for v in vms if v.id in lab.vms]


SET_VM_FIELDS = {
    "CheckpointType": ("checkpoint_type", "CheckpointType"),
    "AutomaticCheckpointsEnabled": ("automatic_checkpoints", bool),
    "SnapshotFileLocation": ("snapshot_file_location", str),
    "SmartPagingFilePath": ("smart_paging_path", str),
    "Notes": ("notes", str),
    "ProcessorCount": ("processor_count", int),
    "MemoryStartupBytes": ("memory_startup", int),
    "MemoryMinimumBytes": ("memory_minimum", int),
    "MemoryMaximumBytes": ("memory_maximum", int),
    "AutomaticStartAction": ("automatic_start_action", "StartAction"),
    "AutomaticStopAction": ("automatic_stop_action", "StopAction"),
    "AutomaticStartDelay": ("automatic_start_delay", int),
    "AutomaticCriticalErrorAction": ("automatic_critical_error_action", "CriticalErrorAction"),
    "AutomaticCriticalErrorActionTimeout": ("automatic_critical_error_action_timeout", int),
    "LockOnDisconnect": ("lock_on_disconnect", "OnOffState"),
    "NewVMName": ("name", str),
}


@register("Set-VM", writes=True)
def set_vm(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """behaviour §1, §8; notes B Set-VM."""
    lab = lab_of(ctx)
    changes: t.Dict[str, t.Any] = {}
    for param, (field, conv) in SET_VM_FIELDS.items():
        if param not in bound.args or bound.args[param] is None:
            continue
        v = bound.args[param]
        if isinstance(conv, str):
            v = canonical_name(conv, v)
        else:
            v = conv(getattr(v, "value", v))
        changes[field] = v
    if switch(bound, "DynamicMemory"):
        changes["_dynamic"] = True
    if switch(bound, "StaticMemory"):
        changes["_static"] = True
    out = []
    for vm in resolve_vms(ctx, bound):
        if whatif(bound):
            continue
        try:
            lab.set_vm(vm.host, vm.id, dict(changes), allow_unverified_paths=switch(bound, "AllowUnverifiedPaths"))
            ctx.mark_mutated()
        except ModelError as e:
            write(ctx, bound, e)
            continue
        if switch(bound, "Passthru"):
            with lab.locked():
                out.append(vm_object(lab, vm))
    return out


def _power(ctx: HandlerContext, bound: BoundCommand, op: t.Callable[..., t.Tuple[t.Any, t.List[str]]], **kw: t.Any) -> t.List[HvObject]:
    lab = lab_of(ctx)
    out = []
    for vm in resolve_vms(ctx, bound):
        if whatif(bound):
            continue
        try:
            _, warnings = op(vm.host, vm.id, **kw)
        except ModelError as e:
            write(ctx, bound, e)
            continue
        for w in warnings:
            ctx.write_warning(w)
        if not (warnings and warnings[0] == M.ALREADY_IN_STATE):
            ctx.mark_mutated()
        if switch(bound, "Passthru"):
            with lab.locked():
                if vm.id in lab.vms:
                    out.append(vm_object(lab, vm))
    return out


@register("Start-VM", writes=True)
def start_vm(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """notes B Start-VM [R-DEC] (automatic checkpoint, warnings, InvalidState)."""
    return _power(ctx, bound, lab_of(ctx).start_vm)


@register("Stop-VM", writes=True)
def stop_vm(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """notes B Stop-VM [doc PS + R-DEC]."""
    if switch(bound, "Save") and switch(bound, "TurnOff"):
        raise fail(bound, ModelError("InvalidParameter", M.SAVE_TURNOFF_EXCLUSIVE, None))
    # -AsJob answers the Shutdown-unavailable prompt with yes, like -Force (notes B Stop-VM).
    return _power(ctx, bound, lab_of(ctx).stop_vm, save=switch(bound, "Save"), turn_off=switch(bound, "TurnOff"),
                  force=switch(bound, "Force") or switch(bound, "AsJob"))


@register("Save-VM", writes=True)
def save_vm(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    return _power(ctx, bound, lab_of(ctx).save_vm)


@register("Suspend-VM", writes=True)
def suspend_vm(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    return _power(ctx, bound, lab_of(ctx).suspend_vm)


@register("Resume-VM", writes=True)
def resume_vm(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    return _power(ctx, bound, lab_of(ctx).resume_vm)


@register("Export-VM", writes=True)
def export_vm(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """notes B Export-VM; behaviour §13."""
    lab = lab_of(ctx)
    capture = canonical_capture(bound.args.get("CaptureLiveState"))
    out = []
    for vm in resolve_vms(ctx, bound):
        if whatif(bound):
            continue
        try:
            lab.export(vm.host, str(bound.args["Path"]), vm_id=vm.id, capture=capture)
            ctx.mark_mutated()
        except ModelError as e:
            if e.partial:
                ctx.mark_mutated()
            write(ctx, bound, e)
            continue
        if switch(bound, "Passthru"):
            with lab.locked():
                out.append(vm_object(lab, vm))
    return out


def canonical_capture(v: t.Any) -> str:
    if v is None:
        return "CaptureSavedState"  # default [R-DEC]
    s = str(getattr(v, "name", v))
    for c in ("CaptureSavedState", "CaptureDataConsistentState", "CaptureCrashConsistentState"):
        if c.lower() == s.lower():
            return c
    return s



METERING_DISABLED = (
    "Hyper-V was unable to find the metering data for virtual machine '{0}'. Resource metering is not enabled; "
    "run Enable-VMResourceMetering first. (Virtual machine ID {1})"
)  # [constructed]; notes B Measure-VM: data only after Enable-VMResourceMetering


@register("Measure-VM")
def measure_vm(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """notes B Measure-VM: resource metering is never enabled in the model, so every VM errors."""
    for vm in resolve_vms(ctx, bound):
        write(ctx, bound, ModelError("OperationFailed", METERING_DISABLED.format(vm.name, vm.id.upper()), vm.name))
    return []


@register("Get-VMGroup")
def get_vmgroup(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """The model has no VM groups: a wildcard or no name gives nothing; a literal name or an Id errors."""
    from hvsim.model.wildcard import has_wildcards

    for n in as_list(bound.args.get("Name")):
        if not has_wildcards(str(n)):
            write(ctx, bound, ModelError("ObjectNotFound", f'Hyper-V was unable to find a virtual machine group with name "{n}".', str(n)))
    if bound.args.get("Id") is not None:
        i = obj_id(bound.args["Id"])
        write(ctx, bound, ModelError("ObjectNotFound", f'Hyper-V was unable to find a virtual machine group with id "{i}".', i))
    return []
