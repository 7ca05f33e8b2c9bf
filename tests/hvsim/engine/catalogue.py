"""The cmdlet catalogue: parameter metadata indexed once for the binder.

Sources (read once, cached by ``get_catalogue()``):

* ``<SHARED_REFERENCE>/hyperv-cmdlets.json``: parameter sets from the Microsoft cmdlet pages.
* ``<SHARED_REFERENCE>/hyperv-cmdlets-module-diff.json``: what the *shipped* module does
  differently (validation attributes, implementing classes, a few positions/pipeline flags and
  two undocumented Set-VM parameters). The simulator imitates a real host, so these are applied.
* ``catalogue_extra.json`` next to this file: ``CimCmdlets\\Get-CimInstance`` (not a Hyper-V
  cmdlet; notes "Guid role" section), with the parameters the collection uses.
* ``catalogue_files.json`` next to this file: the file cmdlets ``checkpoint_export`` uses for its
  manifest (Get-ChildItem, New-Item, Remove-Item, Set-Content, Get-FileHash, Import-Csv), from
  their Windows PowerShell 5.1 reference pages.
* ``catalogue_select.json`` next to this file: ``Select-Object -Property``, the projection the
  collection puts after its host-wide reads.

Common parameters come from ``common_parameters_definition`` (about_CommonParameters, 5.1);
``ProgressAction`` is left out because Hyper-V hosts run Windows PowerShell 5.1 (notes §A.2).
WhatIf/Confirm exist only where the catalogue lists them inside a parameter set (notes §A.2).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import threading
import typing as t

ALL_SETS = "__AllParameterSets"

# Order in which PowerShell adds the common parameters (CommonParameters class declaration
# order); it decides the order of "Possible matches include:" in AmbiguousParameter.
COMMON_ORDER = (
    "Verbose",
    "Debug",
    "ErrorAction",
    "WarningAction",
    "InformationAction",
    "ErrorVariable",
    "WarningVariable",
    "OutVariable",
    "OutBuffer",
    "PipelineVariable",
    "InformationVariable",
)
RISK_PARAMETERS = ("WhatIf", "Confirm")

# Full .NET names of the short type names used by the catalogue.
DOTNET_TYPES = {
    "String": "System.String",
    "Char": "System.Char",
    "Int32": "System.Int32",
    "Int64": "System.Int64",
    "UInt32": "System.UInt32",
    "UInt64": "System.UInt64",
    "Boolean": "System.Boolean",
    "Guid": "System.Guid",
    "SwitchParameter": "System.Management.Automation.SwitchParameter",
    "PSObject": "System.Management.Automation.PSObject",
    "Object": "System.Object",
    "PSCredential": "System.Management.Automation.PSCredential",
    "ActionPreference": "System.Management.Automation.ActionPreference",
    "CimSession": "Microsoft.Management.Infrastructure.CimSession",
    "CimInstance": "Microsoft.Management.Infrastructure.CimInstance",
    "StringCollection": "System.Collections.Specialized.StringCollection",
    "VirtualMachine": "Microsoft.HyperV.PowerShell.VirtualMachine",
    "VirtualMachineBase": "Microsoft.HyperV.PowerShell.VirtualMachineBase",
    "VMSnapshot": "Microsoft.HyperV.PowerShell.VMSnapshot",
    "VMIntegrationComponent": "Microsoft.HyperV.PowerShell.VMIntegrationComponent",
    "VMDriveController": "Microsoft.HyperV.PowerShell.VMDriveController",
    "CheckpointType": "Microsoft.HyperV.PowerShell.CheckpointType",
    "SnapshotType": "Microsoft.HyperV.PowerShell.SnapshotType",
    "CaptureLiveState": "Microsoft.HyperV.PowerShell.CaptureLiveState",
    "ControllerType": "Microsoft.HyperV.PowerShell.ControllerType",
    "CriticalErrorAction": "Microsoft.HyperV.PowerShell.CriticalErrorAction",
    "FileSystemCmdletProviderEncoding": "Microsoft.PowerShell.Commands.FileSystemCmdletProviderEncoding",
    "OnOffState": "Microsoft.HyperV.PowerShell.OnOffState",
    "StartAction": "Microsoft.HyperV.PowerShell.StartAction",
    "StopAction": "Microsoft.HyperV.PowerShell.StopAction",
    "EnhancedSessionTransportType": "Microsoft.HyperV.PowerShell.EnhancedSessionTransportType",
}

# Object types a typed parameter accepts without coercion: parameter element type -> the
# .NET type names (an object's type_name or extra_type_names) that are instances of it.
# VirtualMachine and VMSnapshot both derive from VirtualMachineBase (hyperv-objects.md);
# VMIdeController/VMScsiController derive from VMDriveController.
OBJECT_TYPES: t.Dict[str, t.FrozenSet[str]] = {
    "VirtualMachine": frozenset({"Microsoft.HyperV.PowerShell.VirtualMachine"}),
    "VMSnapshot": frozenset({"Microsoft.HyperV.PowerShell.VMSnapshot"}),
    "VirtualMachineBase": frozenset(
        {
            "Microsoft.HyperV.PowerShell.VirtualMachineBase",
            "Microsoft.HyperV.PowerShell.VirtualMachine",
            "Microsoft.HyperV.PowerShell.VMSnapshot",
        }
    ),
    "VMIntegrationComponent": frozenset({"Microsoft.HyperV.PowerShell.VMIntegrationComponent"}),
    "VMDriveController": frozenset(
        {
            "Microsoft.HyperV.PowerShell.VMDriveController",
            "Microsoft.HyperV.PowerShell.VMIdeController",
            "Microsoft.HyperV.PowerShell.VMScsiController",
        }
    ),
    "CimSession": frozenset({"Microsoft.Management.Infrastructure.CimSession"}),
    "CimInstance": frozenset({"Microsoft.Management.Infrastructure.CimInstance"}),
    "PSCredential": frozenset({"System.Management.Automation.PSCredential"}),
}

SCALAR_KINDS = {
    "String": "string",
    "Char": "char",
    "Int32": "int",
    "Int64": "int",
    "UInt32": "int",
    "UInt64": "int",
    "Boolean": "bool",
    "SwitchParameter": "switch",
    "Guid": "guid",
    "PSObject": "any",
    "Object": "any",  # Set-Content -Value <Object[]>
    "StringCollection": "string",  # binds like String[] (list of strings)
}

INT_RANGES = {
    "Int32": (-(2**31), 2**31 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt32": (0, 2**32 - 1),
    "UInt64": (0, 2**64 - 1),
}

# Enums whose member list the docs do not give (module-only parameters).
EXTRA_ENUM_VALUES = {"EnhancedSessionTransportType": ("VMBus", "HvSocket")}

# System.Management.Automation.ActionPreference in Windows PowerShell 5.1, in value order
# (SilentlyContinue 0 ... Suspend 5, the enum table of about_CommonParameters), which is the order
# the enum conversion error lists them. Break (6) was added in PowerShell 7.0 and is refused here,
# although the catalogue's accepted_values list it.
ACTION_PREFERENCE_51 = ("SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend")


@dataclasses.dataclass(frozen=True)
class SetBinding:
    """How a parameter behaves in one parameter set."""

    required: bool
    position: t.Optional[int]
    by_value: bool
    by_property_name: bool


@dataclasses.dataclass
class ParamInfo:
    name: str
    type: str  # verbatim short type, e.g. "String[]"
    aliases: t.Tuple[str, ...]
    kind: str  # "cmdlet" | "common" | "risk"
    sets: t.Dict[str, SetBinding]  # for common parameters: every set of the cmdlet
    accepted_values: t.Tuple[str, ...] = ()
    validation: t.Tuple[str, ...] = ()  # "NotNullOrEmpty", "NotNull"
    ps_type_name: str = ""  # [PSTypeName(...)] of CDXML CimInstance parameters

    @property
    def declared(self) -> bool:
        return self.kind == "cmdlet"

    @property
    def is_array(self) -> bool:
        return self.type.endswith("[]") or self.type == "StringCollection"

    @property
    def element_type(self) -> str:
        return self.type[:-2] if self.type.endswith("[]") else self.type

    @property
    def is_switch(self) -> bool:
        return self.type == "SwitchParameter"

    @property
    def enum_values(self) -> t.Tuple[str, ...]:
        return self.accepted_values or EXTRA_ENUM_VALUES.get(self.element_type, ())

    @property
    def is_enum(self) -> bool:
        et = self.element_type
        return bool(self.enum_values) and et not in SCALAR_KINDS

    @property
    def dotnet_type(self) -> str:
        et = self.element_type
        full = DOTNET_TYPES.get(et, et)
        if self.type == "StringCollection":
            return full
        return full + ("[]" if self.type.endswith("[]") else "")

    @property
    def dotnet_element_type(self) -> str:
        et = self.element_type
        return DOTNET_TYPES.get(et, et)

    @property
    def pipeline_capable(self) -> bool:
        return any(b.by_value or b.by_property_name for b in self.sets.values())


@dataclasses.dataclass
class CmdletSpec:
    name: str
    module: str
    aliases: t.Tuple[str, ...]
    default_set: str
    set_names: t.Tuple[str, ...]
    params: t.Dict[str, ParamInfo]  # canonical name -> info, in PowerShell's merge order
    class_name: str
    supports_should_process: bool
    confirm_impact: t.Optional[str]
    outputs: t.Tuple[str, ...] = ()
    # indexes (built by _index)
    _by_name: t.Dict[str, ParamInfo] = dataclasses.field(default_factory=dict, repr=False)
    _by_alias: t.Dict[str, ParamInfo] = dataclasses.field(default_factory=dict, repr=False)
    _keys: t.Tuple[t.Tuple[str, ParamInfo], ...] = dataclasses.field(default=(), repr=False)
    _resolve_cache: t.Dict[str, t.Tuple[t.Optional[ParamInfo], t.Tuple[ParamInfo, ...]]] = dataclasses.field(
        default_factory=dict, repr=False
    )

    def _index(self) -> None:
        self._by_name = {p.name.lower(): p for p in self.params.values()}
        self._by_alias = {}
        # PowerShell tries every parameter name first, then every alias; the order of the
        # matches is the order of "Possible matches include:" (GetMatchingParameter).
        keys = [(p.name.lower(), p) for p in self.params.values()]
        for p in self.params.values():
            for a in p.aliases:
                self._by_alias.setdefault(a.lower(), p)
                keys.append((a.lower(), p))
        self._keys = tuple(keys)

    def resolve_parameter(self, name: str) -> t.Tuple[t.Optional[ParamInfo], t.Tuple[ParamInfo, ...]]:
        """Resolve a full, shortened or aliased parameter name.

        Returns ``(param, ())`` on success, ``(None, ())`` when nothing matches and
        ``(None, candidates)`` when the prefix is ambiguous. Algorithm from notes §A.1
        (PowerShell ``MergedCommandParameterMetadata.GetMatchingParameter``): exact name, then
        exact alias; otherwise prefix matches over names and aliases; several matches of which
        exactly one is declared by the cmdlet -> that one.
        """
        key = name.lower()
        cached = self._resolve_cache.get(key)
        if cached is not None:
            return cached
        result: t.Tuple[t.Optional[ParamInfo], t.Tuple[ParamInfo, ...]]
        exact = self._by_name.get(key) or self._by_alias.get(key)
        if exact is not None:
            result = (exact, ())
        else:
            matches: t.List[ParamInfo] = []
            for k, p in self._keys:
                if k.startswith(key) and p not in matches:
                    matches.append(p)
            if len(matches) == 1:
                result = (matches[0], ())
            elif not matches:
                result = (None, ())
            else:
                declared = [p for p in matches if p.declared]
                if len(declared) == 1:
                    result = (declared[0], ())
                else:
                    result = (None, tuple(matches))
        if len(self._resolve_cache) < 4096:
            self._resolve_cache[key] = result
        return result

    def in_set(self, param: ParamInfo, set_name: str) -> bool:
        return set_name in param.sets

    def params_in_set(self, set_name: str) -> t.List[ParamInfo]:
        return [p for p in self.params.values() if set_name in p.sets]


class Catalogue:
    def __init__(self, cmdlets: t.Dict[str, CmdletSpec], sources: t.Dict[str, str]) -> None:
        self.cmdlets = cmdlets  # canonical name -> spec
        self.sources = sources
        self._lookup: t.Dict[str, CmdletSpec] = {}
        for spec in cmdlets.values():
            self._lookup[spec.name.lower()] = spec
        for spec in cmdlets.values():
            for alias in spec.aliases:
                self._lookup.setdefault(alias.lower(), spec)

    def lookup(self, name: str) -> t.Optional[CmdletSpec]:
        """Find a cmdlet by canonical name or cmdlet alias (no module qualifier), case-insensitive."""
        return self._lookup.get(name.lower())

    def resolve_command(self, name: str) -> t.Optional[CmdletSpec]:
        """Resolve ``Module\\Name`` or ``Name``; a wrong module qualifier resolves to None."""
        if "\\" in name:
            module, _sep, short = name.rpartition("\\")
            spec = self._lookup.get(short.lower())
            if spec is None or spec.module.lower() != module.lower():
                return None
            return spec
        return self._lookup.get(name.lower())


# --- loading ---------------------------------------------------------------------------------

# Cmdlets outside the Hyper-V catalogue that the collection sends: CIM (guest role), the
# file cmdlets checkpoint_export uses for its manifest, and Select-Object (projections).
# Each file cites its Microsoft pages.
EXTRA_PATHS = (
    pathlib.Path(__file__).with_name("catalogue_extra.json"),
    pathlib.Path(__file__).with_name("catalogue_files.json"),
    pathlib.Path(__file__).with_name("catalogue_select.json"),
)


def _position(value: t.Any) -> t.Optional[int]:
    if value is None or str(value) == "Named":
        return None
    return int(value)


def _binding(meta: t.Dict[str, t.Any]) -> SetBinding:
    pipeline = str(meta.get("pipeline", "False"))
    return SetBinding(
        required=bool(meta.get("required", False)),
        position=_position(meta.get("position")),
        by_value="ByValue" in pipeline,
        by_property_name="ByPropertyName" in pipeline,
    )


def _build_cmdlet(
    name: str,
    raw: t.Dict[str, t.Any],
    common_def: t.Dict[str, t.Any],
    diff: t.Optional[t.Dict[str, t.Any]],
    class_name: str,
) -> CmdletSpec:
    set_names = tuple(raw["parameter_sets"].keys())
    params: t.Dict[str, ParamInfo] = {}
    risk: t.Dict[str, ParamInfo] = {}
    for set_name, pset in raw["parameter_sets"].items():
        for pname, meta in pset.items():
            target = risk if pname in RISK_PARAMETERS else params
            info = target.get(pname)
            if info is None:
                info = ParamInfo(
                    name=pname,
                    type=meta["type"],
                    aliases=tuple(meta.get("aliases") or ()),
                    kind="risk" if pname in RISK_PARAMETERS else "cmdlet",
                    sets={},
                    accepted_values=tuple(meta.get("accepted_values") or ()),
                )
                target[pname] = info
            info.sets[set_name] = _binding(meta)

    # Module differences (inferred, module-diff file): the real module's behaviour.
    if diff:
        for d in diff.get("differences_from_docs", ()):
            kind = d.get("kind")
            p = params.get(d.get("parameter", ""))
            if kind == "parameter_in_module_not_in_docs" and d["parameter"] not in params:
                d_sets = d.get("sets", {})
                if list(d_sets) == [ALL_SETS]:
                    b = d_sets[ALL_SETS]
                    binding = _binding(
                        {"required": b.get("mandatory"), "position": b.get("position"), "pipeline": b.get("pipeline")}
                    )
                    params[d["parameter"]] = ParamInfo(
                        name=d["parameter"],
                        type=d["type"],
                        aliases=tuple(d.get("aliases") or ()),
                        kind="cmdlet",
                        sets={s: binding for s in set_names},
                    )
            elif kind == "parameter_position" and p is not None and d.get("set") in p.sets:
                old = p.sets[d["set"]]
                p.sets[d["set"]] = dataclasses.replace(old, position=_position(d["module"]))
            elif kind == "parameter_pipeline" and p is not None and d.get("set") in p.sets:
                old = p.sets[d["set"]]
                mod = str(d["module"])
                p.sets[d["set"]] = dataclasses.replace(
                    old, by_value="ByValue" in mod, by_property_name="ByPropertyName" in mod
                )
        for pname, attrs in (diff.get("validation_attributes") or {}).items():
            if pname in params:
                v = []
                for a in attrs:
                    if a.startswith("ValidateNotNullOrEmpty"):
                        v.append("NotNullOrEmpty")
                    elif a.startswith("ValidateNotNull"):
                        v.append("NotNull")
                params[pname].validation = tuple(v)

    # CDXML (Storage) cmdlets declare their CimInstance parameters with
    # [PSTypeName("Microsoft.Management.Infrastructure.CimInstance#MSFT_<Name>")]; the Get-Volume page
    # describes each as "a <Name> CIM object" (e.g. -Partition: "the partition associated with the
    # volume"), so the class is MSFT_<parameter name> [inferred from the cmdletization convention].
    if raw["module"] == "Storage":
        for p in params.values():
            if p.element_type == "CimInstance" and p.name != "CimSession":
                p.ps_type_name = "Microsoft.Management.Infrastructure.CimInstance#MSFT_" + p.name

    merged: t.Dict[str, ParamInfo] = dict(params)
    if raw.get("common_parameters", True):
        for cname in COMMON_ORDER:
            cdef = common_def.get(cname)
            if cdef is None:
                continue
            merged[cname] = ParamInfo(
                name=cname,
                type=cdef["type"],
                aliases=tuple(cdef.get("aliases") or ()),
                kind="common",
                sets={s: SetBinding(False, None, False, False) for s in set_names},
                accepted_values=ACTION_PREFERENCE_51
                if cdef["type"] == "ActionPreference"
                else tuple(cdef.get("accepted_values") or ()),
            )
    for rname in RISK_PARAMETERS:
        if rname in risk:
            merged[rname] = risk[rname]

    spec = CmdletSpec(
        name=name,
        module=raw["module"],
        aliases=tuple(raw.get("aliases") or ()),
        default_set=raw.get("default_parameter_set") or set_names[0],
        set_names=set_names,
        params=merged,
        class_name=class_name,
        supports_should_process=bool(raw.get("supports_should_process")),
        confirm_impact=(diff or {}).get("confirm_impact", raw.get("confirm_impact")),
        outputs=tuple(raw.get("outputs") or ()),
    )
    spec._index()
    return spec


def load_catalogue(reference_dir: t.Optional[pathlib.Path] = None) -> Catalogue:
    from hvsim._paths import SHARED_REFERENCE

    from .errors import _FALLBACK_CLASSES

    ref = pathlib.Path(reference_dir) if reference_dir else SHARED_REFERENCE
    data = json.loads((ref / "hyperv-cmdlets.json").read_text("utf-8"))
    try:
        mdiff = json.loads((ref / "hyperv-cmdlets-module-diff.json").read_text("utf-8")).get("cmdlets", {})
    except OSError:
        mdiff = {}
    extras = [json.loads(path.read_text("utf-8")) for path in EXTRA_PATHS]

    common_def = {k: v for k, v in data["common_parameters_definition"].items() if not k.startswith("_")}
    raw_cmdlets: t.Dict[str, t.Dict[str, t.Any]] = dict(data["cmdlets"])
    # cmdlet aliases (notes §A.7): cmdlet_aliases maps alias -> cmdlet
    alias_map: t.Dict[str, t.List[str]] = {}
    for alias, target in (data.get("cmdlet_aliases") or {}).items():
        alias_map.setdefault(target, []).append(alias)
    for extra in extras:
        for name, raw in extra.get("cmdlets", {}).items():
            raw_cmdlets[name] = raw

    cmdlets: t.Dict[str, CmdletSpec] = {}
    for name, raw in raw_cmdlets.items():
        raw = dict(raw)
        aliases = list(raw.get("aliases") or ())
        for a in alias_map.get(name, ()):
            if a not in aliases:
                aliases.append(a)
        raw["aliases"] = aliases
        diff = mdiff.get(name)
        cls = None
        if diff and diff.get("implementing_class"):
            cls = diff["implementing_class"].split(" ", 1)[0]
        cls = cls or raw.get("implementing_class") or _FALLBACK_CLASSES.get(name)
        cls = cls or "Microsoft.HyperV.PowerShell.Commands." + name.replace("-", "")
        cmdlets[name] = _build_cmdlet(name, raw, common_def, diff, cls)
    sources = {"catalogue": data.get("source", ""), "extra": " | ".join(e.get("_source", "") for e in extras)}
    return Catalogue(cmdlets, sources)


_CATALOGUE: t.Optional[Catalogue] = None
_LOCK = threading.Lock()


def get_catalogue() -> Catalogue:
    """The process-wide catalogue, loaded once (thread-safe)."""
    global _CATALOGUE
    if _CATALOGUE is None:
        with _LOCK:
            if _CATALOGUE is None:
                _CATALOGUE = load_catalogue()
    return _CATALOGUE
