"""Typed values that flow between the hvsim engine and the protocol layer.

The engine returns these; the server turns them into psrpcore objects (PSRP) or into the
runner's JSON (WinRS). Keeping .NET typing here (enum type names, Guid, DateTime, integer
widths) lets both serialisations be faithful without the model knowing about either.
"""

from __future__ import annotations

import dataclasses
import datetime
import typing as t


@dataclasses.dataclass(frozen=True)
class HvEnum:
    """A .NET enum value: full type name, member name and integer value.

    ``name`` is what ``ToString()`` gives; for an undefined value it is the decimal string.
    """

    type_name: str
    name: str
    value: int


@dataclasses.dataclass(frozen=True)
class HvGuid:
    value: str  # lower-case canonical form


@dataclasses.dataclass(frozen=True)
class HvInt:
    """An integer with its .NET width ("Int32", "Int64", "UInt32", "UInt64")."""

    value: int
    dotnet_type: str = "Int32"


@dataclasses.dataclass(frozen=True)
class HvTimeSpan:
    seconds: float


# A property value. datetime values must be timezone-aware.
HvValue = t.Union[None, str, bool, int, HvInt, HvEnum, HvGuid, HvTimeSpan, datetime.datetime, "HvObject", t.List[t.Any]]


@dataclasses.dataclass
class HvObject:
    """An output object: its .NET type name (without ``Deserialized.``) and ordered properties.

    ``to_string`` is what ``ToString()`` gives when the object is nested beyond depth 1.
    ``custom`` marks a PSCustomObject (``Select-Object`` output): its properties are note
    properties, which PowerShell serializes in ``<MS>`` instead of the adapted ``<Props>``.
    """

    type_name: str
    properties: t.Dict[str, t.Any]
    to_string: str = ""
    extra_type_names: t.Tuple[str, ...] = ()
    custom: bool = False


@dataclasses.dataclass
class HvError:
    """A PowerShell ErrorRecord."""

    fqid: str
    category: str
    message: str
    target: t.Optional[str] = None
    exception: str = "Microsoft.HyperV.PowerShell.VirtualizationException"
    terminating: bool = False


@dataclasses.dataclass(frozen=True)
class Deserialized:
    """An object that arrived from the client as a parameter value.

    Real PowerShell refuses to bind such a property bag to a typed parameter such as
    ``-VM <VirtualMachine[]>``; the binder must do the same.
    """

    type_names: t.Tuple[str, ...]
    properties: t.Dict[str, t.Any]


@dataclasses.dataclass
class CommandCall:
    cmdlet: str
    parameters: t.List[t.Tuple[str, t.Any]]


@dataclasses.dataclass
class CallContext:
    """Who is calling and on which lab host (one listener per host)."""

    host: str
    user: str
    transport: str  # "psrp" or "winrs"


@dataclasses.dataclass
class PipelineResult:
    output: t.List[HvObject] = dataclasses.field(default_factory=list)
    errors: t.List[HvError] = dataclasses.field(default_factory=list)
    failed: bool = False
    mutated: bool = False  # True when the pipeline changed model state (for fault injection)
    warnings: t.List[str] = dataclasses.field(default_factory=list)  # WriteWarning texts, in order
