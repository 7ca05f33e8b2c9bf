"""CimCmdlets\\Get-CimInstance for the guest role (notes "Guest role": Msvm_KvpExchangeComponent)."""

from __future__ import annotations

import re
import typing as t

from hvsim.engine.registry import BoundCommand, CmdletError, HandlerContext
from hvsim.engine.types import HvError, HvObject

from ._common import register, host_of, lab_of
from ._objects import kvp_object

CIM_CLASS = "Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand"
_FILTER = re.compile(r"""^\s*(\w+)\s*=\s*(?:'([^']*)'|"([^"]*)")\s*$""")


def _cim_error(code: str, message: str, category: str, target: t.Optional[str] = None) -> HvError:
    return HvError(f"HRESULT {code},{CIM_CLASS}", category, message, target,
                   "Microsoft.Management.Infrastructure.CimException", False)


@register("Get-CimInstance")
def get_ciminstance(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """Only root/virtualization/v2 Msvm_KvpExchangeComponent, one object per VM on this host
    (SystemName = VM Id). GuestIntrinsicExchangeItems (XML) only while the guest reports (running,
    KVP service enabled). Filter: ``SystemName='<id>'`` (also ``=``-compare on other properties)."""
    lab = lab_of(ctx)
    ns = str(bound.args.get("Namespace") or "root/cimv2").replace("\\", "/").strip("/").lower()
    cls = str(bound.args.get("ClassName") or "")
    if ns != "root/virtualization/v2":
        raise CmdletError(_cim_error("0x8004100e", "Invalid namespace ", "MetadataError", ns))
    if cls.lower() != "msvm_kvpexchangecomponent":
        raise CmdletError(_cim_error("0x80041010", "Invalid class ", "MetadataError", cls))
    flt = bound.args.get("Filter")
    prop = val = None
    if flt:
        m = _FILTER.match(str(flt))
        if not m:
            raise CmdletError(_cim_error("0x80041017", "Invalid query ", "InvalidArgument", str(flt)))
        prop, val = m.group(1), m.group(2) if m.group(2) is not None else m.group(3)
    with lab.locked():
        out = []
        for vm in lab.vms_on(host_of(ctx)):
            obj = kvp_object(lab, vm)
            if prop is not None:
                have = obj.properties.get(prop)
                if have is None or str(have).lower() != str(val).lower():
                    continue
            out.append(obj)
        out.sort(key=lambda o: o.properties["SystemName"])
        return out
