"""Helpers shared by the cmdlet handlers: argument access, VM/checkpoint resolution, errors."""

from __future__ import annotations

import typing as t

from hvsim.engine.registry import BoundCommand, CmdletError, HandlerContext, handler
from hvsim.engine.types import HvError, HvGuid, HvObject
from hvsim.model.core import Lab
from hvsim.model.errors import ModelError
from hvsim.model.objects import VM, Snapshot
from hvsim.model import messages as M

try:  # the engine helper's ErrorRecord builder (tests/hvsim/engine/errors.py)
    from hvsim.engine.errors import hv_error as _hv_error
except Exception:  # pragma: no cover - fallback while the engine is being written
    _hv_error = None


def hv_error(error_id: str, *, cmdlet: str, message: str, target: t.Any = None, category: t.Optional[str] = None,
             exception: t.Optional[str] = None, terminating: bool = False) -> HvError:
    if _hv_error is not None:
        return _hv_error(error_id, cmdlet=cmdlet, message=message, target=target, category=category,
                         exception=exception, terminating=terminating)
    from hvsim.model.errors import CATEGORY_OF

    return HvError(f"{error_id},Microsoft.HyperV.PowerShell.Commands.{cmdlet.replace('-', '')}",
                   category or CATEGORY_OF.get(error_id, "NotSpecified"), message,
                   None if target is None else str(target), exception or "Microsoft.HyperV.PowerShell.VirtualizationException",
                   terminating)


def register(cmdlet: str, *, writes: bool = False) -> t.Callable[[t.Any], t.Any]:
    """``registry.handler`` plus one ``lab.note_call()`` per invocation (deferred faults count calls)."""

    def deco(fn: t.Any) -> t.Any:
        def invoke(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
            note = getattr(ctx.model, "note_call", None)
            if note is not None:
                note()
            return fn(ctx, bound)

        invoke.__name__ = fn.__name__
        invoke.__doc__ = fn.__doc__
        handler(cmdlet, writes=writes)(invoke)
        return fn

    return deco


def lab_of(ctx: HandlerContext) -> Lab:
    return ctx.model


def host_of(ctx: HandlerContext) -> str:
    return ctx.call.host


def as_list(v: t.Any) -> t.List[t.Any]:
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return list(v)
    return [v]


def obj_id(o: t.Any) -> str:
    """The Id of a pipeline object (HvObject), a Guid value or a string."""
    if isinstance(o, HvObject):
        v = o.properties.get("Id")
        return obj_id(v)
    if isinstance(o, HvGuid):
        return o.value.lower()
    return str(o).lower()


def model_error(bound: BoundCommand, err: ModelError) -> HvError:
    return hv_error(err.error_id, cmdlet=bound.cmdlet, message=err.message, target=err.target)


def write(ctx: HandlerContext, bound: BoundCommand, err: ModelError) -> None:
    ctx.write_error(model_error(bound, err))


def fail(bound: BoundCommand, err: ModelError) -> CmdletError:
    return CmdletError(model_error(bound, err))


def switch(bound: BoundCommand, name: str) -> bool:
    return bool(bound.args.get(name, False))


def whatif(bound: BoundCommand) -> bool:
    return switch(bound, "WhatIf")


COMPUTER_NOT_FOUND = (
    "Hyper-V encountered an error trying to access an object on computer '{0}' because the object was not "
    "found. The object might have been deleted, or you might not have permission to perform the task. Verify "
    "that the Virtual Machine Management service on the computer is running."
)  # [constructed]


# Observed Hyper-V text for missing rights on a remote host (second hop) [OBS, inferred].
REMOTE_DENIED = (
    "You do not have the required permission to complete this task. Contact the administrator of the "
    "authorization policy for the computer '{0}'."
)


def target_hosts(ctx: HandlerContext, bound: BoundCommand) -> t.List[str]:
    """``-ComputerName`` (lab host names; ``localhost``/``.`` = this host) or this listener's host."""
    lab = lab_of(ctx)
    names = as_list(bound.args.get("ComputerName"))
    if not names:
        return [host_of(ctx)]
    out = []
    for n in names:
        s = str(n)
        if s.lower() in ("localhost", ".", "127.0.0.1"):
            out.append(host_of(ctx))
            continue
        short = s.split(".")[0].lower()
        hit = next((h for h in lab.hosts if h.lower() == short), None)
        if hit is None:
            ctx.write_error(hv_error("ObjectNotFound", cmdlet=bound.cmdlet, message=COMPUTER_NOT_FOUND.format(s), target=s))
            continue
        if hit != host_of(ctx) and lab.switches.get("remote_computer_name", "deny") != "allow":
            # A second hop from a WinRM session (NTLM/Kerberos without delegation) has no credentials.
            ctx.write_error(hv_error("AccessDenied", cmdlet=bound.cmdlet, message=REMOTE_DENIED.format(hit), target=s))
            continue
        if hit not in out:
            out.append(hit)
    return out


def resolve_vms(ctx: HandlerContext, bound: BoundCommand, *, name_param: str = "Name", get_vm: bool = False) -> t.List[VM]:
    """VMs named by ``-Name``/``-VMName`` patterns or given as ``-VM`` objects (on this host only).

    Name errors are written (non-terminating) and the rest go on (notes A.4/A.5).
    """
    lab = lab_of(ctx)
    host = host_of(ctx)
    out: t.List[VM] = []
    with lab.locked():
        if "VM" in bound.args:
            for o in as_list(bound.args.get("VM")):
                vm_host = o.properties.get("ComputerName") if isinstance(o, HvObject) else None
                try:
                    out.append(lab.get_vm(vm_host if vm_host in lab.hosts else host, obj_id(o)))
                except ModelError as e:
                    write(ctx, bound, e)
            return out
        names = [str(n) for n in as_list(bound.args.get(name_param))]
        for h in target_hosts(ctx, bound):
            vms, errors = lab.find_vms(h, names or None, get_vm=get_vm)
            for e in errors:
                write(ctx, bound, e)
            out.extend(vms)
        return out


def resolve_one_snapshot(ctx: HandlerContext, bound: BoundCommand) -> t.Optional[Snapshot]:
    """Restore/Rename/Export by name: the ``-Name`` pattern must match exactly one checkpoint.

    notes B Restore-VMSnapshot [R-DEC]: zero -> ObjectNotFound, several -> InvalidParameter.
    """
    lab = lab_of(ctx)
    host = host_of(ctx)
    if "VMSnapshot" in bound.args:
        o = as_list(bound.args["VMSnapshot"])[0]
        with lab.locked():
            try:
                return lab.get_snapshot(host, obj_id(o))
            except ModelError as e:
                raise fail(bound, e)
    vms = resolve_vms(ctx, bound, name_param="VMName")
    if not vms:
        return None
    pattern = str(bound.args.get("Name"))
    with lab.locked():
        hits: t.List[Snapshot] = []
        for vm in vms:
            hits.extend(lab.match_snapshots(vm.id, pattern))
        if not hits:
            raise fail(bound, ModelError("ObjectNotFound", M.SNAPSHOT_NOT_FOUND, pattern))
        if len(hits) > 1:
            raise fail(bound, ModelError("InvalidParameter", M.SNAPSHOT_AMBIGUOUS, pattern))
        return hits[0]
