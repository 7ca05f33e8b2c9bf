"""Select-Object -Property: the projection the collection puts after its host-wide reads.

Source: PowerShell/PowerShell ``src/Microsoft.PowerShell.Commands.Utility/commands/utility/
Select-Object.cs`` (``ProcessParameter``, ``ProcessObject``, ``SetPSCustomObject``) and the
Select-Object reference page (catalogue_select.json cites both):

* each input object gives a new PSCustomObject holding one note property per selected name, in
  the order of ``-Property``; its first type name is ``Selected.`` plus the input's .NET type;
* a name without wildcard characters that the object lacks still gives a property, ``$null``;
  a wildcard name adds every property it matches, in the object's order, or none;
* a property selected twice is written once, and the second raises the non-terminating error
  ``AlreadyExistingUserSpecifiedPropertyNoExpand``;
* without ``-Property`` the input object passes through unchanged.

Calculated properties (hashtables) are not modelled; the collection sends names only.
Select-Object is not a Hyper-V call, so it does not count toward deferred faults
(``registry.handler``, not ``_common.register``).
"""

from __future__ import annotations

import typing as t

from hvsim.engine.errors import hv_error
from hvsim.engine.registry import BoundCommand, CmdletError, HandlerContext, handler
from hvsim.engine.types import Deserialized, HvError, HvObject
from hvsim.model.wildcard import has_wildcards, wildcard_match

from ._common import as_list

CUSTOM_OBJECT = "System.Management.Automation.PSCustomObject"
# SelectObjectStrings.AlreadyExistingProperty
MSG_ALREADY_EXISTING = 'The property cannot be processed because the property "{0}" already exists.'


def _not_modelled(value: t.Any) -> CmdletError:
    return CmdletError(HvError(
        fqid="NotImplemented,Microsoft.PowerShell.Commands.SelectObjectCommand",
        category="NotImplemented",
        message="hvsim models Select-Object -Property with property names only, not %s." % type(value).__name__,
        exception="System.NotImplementedException",
        terminating=True,
    ))


def _selected(obj: t.Any, names: t.Sequence[str]) -> t.Tuple[t.Dict[str, t.Any], t.List[str]]:
    """(note properties, names selected twice) of one input object."""
    props = obj.properties if isinstance(obj, (HvObject, Deserialized)) else {}
    by_lower = {name.lower(): name for name in props}
    picked: t.Dict[str, t.Any] = {}
    seen: t.Set[str] = set()
    twice: t.List[str] = []
    for pattern in names:
        if has_wildcards(pattern):
            matched = [name for name in props if wildcard_match(pattern, name)]
        else:
            matched = [by_lower.get(pattern.lower(), pattern)]
        for name in matched:
            if name.lower() in seen:
                twice.append(name)
                continue
            seen.add(name.lower())
            picked[name] = props.get(name)
    return picked, twice


def _base_type(obj: t.Any) -> str:
    if isinstance(obj, HvObject):
        return CUSTOM_OBJECT if obj.custom else obj.type_name
    if isinstance(obj, str):
        return "System.String"
    return CUSTOM_OBJECT


@handler("Select-Object")
def select_object(ctx: HandlerContext, bound: BoundCommand) -> t.List[t.Any]:
    obj = bound.args.get("InputObject")
    if obj is None:
        return []
    names = as_list(bound.args.get("Property"))
    if not names:
        return [obj]
    for name in names:
        if not isinstance(name, str):
            raise _not_modelled(name)
    picked, twice = _selected(obj, names)
    for name in twice:
        ctx.write_error(hv_error("AlreadyExistingUserSpecifiedPropertyNoExpand", cmdlet=bound.cmdlet,
                                 message=MSG_ALREADY_EXISTING.format(name), category="InvalidOperation",
                                 exception="System.Management.Automation.PSArgumentException"))
    return [HvObject("Selected." + _base_type(obj), picked, extra_type_names=(CUSTOM_OBJECT,), custom=True)]
