"""Get-VMIntegrationService, Enable-VMIntegrationService, Disable-VMIntegrationService."""

from __future__ import annotations

import typing as t

from hvsim.engine.registry import BoundCommand, HandlerContext
from hvsim.engine.types import HvObject
from hvsim.model import messages as M
from hvsim.model.errors import ModelError
from hvsim.model.wildcard import wildcard_match

from ._common import register, as_list, host_of, lab_of, obj_id, resolve_vms, switch, whatif, write
from ._objects import ic_object


def _pick(ics: t.Sequence[t.Any], names: t.Sequence[str]) -> t.List[t.Any]:
    if not names:
        return list(ics)
    return [ic for ic in ics if any(wildcard_match(n, ic.name) for n in names)]


@register("Get-VMIntegrationService")
def get_vmintegrationservice(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """notes B Get-VMIntegrationService; names are localized, so clients match on the Id (behaviour §1)."""
    lab = lab_of(ctx)
    names = [str(n) for n in as_list(bound.args.get("Name"))]
    out = []
    if "VMSnapshot" in bound.args:
        with lab.locked():
            for o in as_list(bound.args["VMSnapshot"]):
                try:
                    s = lab.get_snapshot(host_of(ctx), obj_id(o))
                except ModelError as e:
                    write(ctx, bound, e)
                    continue
                vm = lab.vms[s.vm_id]
                picked = _pick(vm.integration, names)
                if names and not picked:
                    write(ctx, bound, ModelError("InvalidParameter", M.IC_NOT_FOUND, ", ".join(names)))
                out.extend(ic_object(lab, vm, ic, s) for ic in picked)
        return out
    vms = resolve_vms(ctx, bound, name_param="VMName")
    with lab.locked():
        for vm in vms:
            picked = _pick(vm.integration, names)
            if names and not picked:
                write(ctx, bound, ModelError("InvalidParameter", M.IC_NOT_FOUND, ", ".join(names)))
            out.extend(ic_object(lab, vm, ic) for ic in picked)
    return out


def _toggle(ctx: HandlerContext, bound: BoundCommand, enabled: bool) -> t.List[HvObject]:
    lab = lab_of(ctx)
    out = []
    pairs = []
    if "VMIntegrationService" in bound.args:
        with lab.locked():
            for o in as_list(bound.args["VMIntegrationService"]):
                props = o.properties if isinstance(o, HvObject) else {}
                vm_id = obj_id(props.get("VMId"))
                type_id = str(props.get("Id", "")).rsplit("\\", 1)[-1].upper()
                pairs.append((vm_id, [type_id]))
    else:
        names = [str(n) for n in as_list(bound.args.get("Name"))]
        for vm in resolve_vms(ctx, bound, name_param="VMName"):
            picked = _pick(vm.integration, names)
            if not picked:
                write(ctx, bound, ModelError("InvalidParameter", M.IC_NOT_FOUND, ", ".join(names)))
                continue
            pairs.append((vm.id, [ic.type_id for ic in picked]))
    for vm_id, type_ids in pairs:
        if whatif(bound):
            continue
        try:
            vm = lab.vms.get(vm_id)
            changed = lab.set_integration(vm.host if vm else host_of(ctx), vm_id, type_ids, enabled)
            ctx.mark_mutated()
        except ModelError as e:
            write(ctx, bound, e)
            continue
        if switch(bound, "Passthru"):
            with lab.locked():
                out.extend(ic_object(lab, lab.vms[vm_id], ic) for ic in changed)
    return out


@register("Enable-VMIntegrationService", writes=True)
def enable_vmintegrationservice(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    return _toggle(ctx, bound, True)


@register("Disable-VMIntegrationService", writes=True)
def disable_vmintegrationservice(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    return _toggle(ctx, bound, False)
