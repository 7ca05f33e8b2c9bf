"""Turning engine values into wire values and back.

* PSRP output: ``HvObject`` -> psrpcore ``PSObject`` with ``Deserialized.`` type names,
  properties as adapted properties (``<Props>``, as Windows sends .NET properties), enums as
  enum objects (``<Obj><TN>type, System.Enum...</TN><ToString>Name</ToString><I32>2</I32></Obj>``),
  Guid ``<G>``, DateTime ``<DT>``, integers with their .NET width, lists, nested objects at
  depth > 1 as their ToString.
* PSRP input: psrpcore's deserialized parameter values -> plain Python, complex objects as
  ``Deserialized(type_names, props)``.
* WinRS: ``HvObject`` -> the runner's plain JSON (contracts.md §2).
"""

from __future__ import annotations

import datetime
import enum
import functools
import typing as t
import uuid

import psrpcore.types as T
from psrpcore.types._enum import PSEnumMeta

from hvsim.engine.types import Deserialized, HvEnum, HvError, HvGuid, HvInt, HvObject, HvTimeSpan

# ---------------------------------------------------------------------------------------------
# Engine -> PSRP


@functools.lru_cache(maxsize=4096)
def _enum_class(type_name: str, name: str, value: int) -> type:
    # psrpcore writes an enum's <ToString> from the member name, so the member is named after it.
    try:
        ns = PSEnumMeta.__prepare__("HvsimEnum", (T.PSEnumBase,))
        ns[name] = value
        ns["__str__"] = lambda self: name
        cls = PSEnumMeta("HvsimEnum", (T.PSEnumBase,), ns)  # type: ignore[call-arg]
    except (TypeError, ValueError, AttributeError):  # a name Python's enum refuses ("name", "_x", ...)
        ns = PSEnumMeta.__prepare__("HvsimEnum", (T.PSEnumBase,))
        ns["member"] = value
        ns["__str__"] = lambda self: name
        cls = PSEnumMeta("HvsimEnum", (T.PSEnumBase,), ns)  # type: ignore[call-arg]
    cls = T.PSType([type_name], rehydrate=False)(cls)
    cls.PSObject.to_string = name
    return cls


def ps_enum(value: HvEnum) -> t.Any:
    return _enum_class(value.type_name, value.name, int(value.value))(int(value.value))


_INT_TYPES = {
    "Byte": T.PSByte,
    "SByte": T.PSSByte,
    "Int16": T.PSInt16,
    "UInt16": T.PSUInt16,
    "Int32": T.PSInt,
    "UInt32": T.PSUInt,
    "Int64": T.PSInt64,
    "UInt64": T.PSUInt64,
}


def ps_value(value: t.Any, depth: int) -> t.Any:
    """Convert one property value found at serialization ``depth`` (the object itself is depth 1)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, HvEnum):
        return ps_enum(value)
    if isinstance(value, HvGuid):
        return T.PSGuid(value.value)
    if isinstance(value, uuid.UUID):
        return T.PSGuid(str(value))
    if isinstance(value, HvInt):
        return _INT_TYPES.get(value.dotnet_type, T.PSInt64)(value.value)
    if isinstance(value, enum.Enum):
        return ps_value(value.value, depth)
    if isinstance(value, int):
        return T.PSInt(value) if -(2**31) <= value < 2**31 else T.PSInt64(value)
    if isinstance(value, float):
        return T.PSDouble(value)
    if isinstance(value, HvTimeSpan):
        return datetime.timedelta(seconds=value.seconds)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, HvObject):
        if depth > 1:
            return value.to_string or value.type_name
        return ps_object(value)
    if isinstance(value, (list, tuple)):
        return [ps_value(v, depth) for v in value]
    if isinstance(value, dict):
        return {str(k): ps_value(v, depth) for k, v in value.items()}
    return str(value)


def ps_object(obj: HvObject) -> T.PSObject:
    """An output object as PowerShell sends a deserialized .NET object (depth 1)."""
    ps = T.PSObject()
    names = [obj.type_name, *obj.extra_type_names]
    type_names = ["Deserialized." + n for n in names if n != "System.Object"]
    type_names.append("Deserialized.System.Object")
    ps.PSObject.type_names = type_names
    if obj.to_string:
        ps.PSObject.to_string = obj.to_string
    # a PSCustomObject (Select-Object output) has note properties, which PowerShell writes in <MS>
    members = ps.PSObject.extended_properties if obj.custom else ps.PSObject.adapted_properties
    for name, value in obj.properties.items():
        members.append(T.PSNoteProperty(name, ps_value(value, 2)))
    return ps


def _error_category(name: str) -> t.Any:
    try:
        return T.ErrorCategory[name]
    except KeyError:
        return T.ErrorCategory.NotSpecified


def ps_exception(error: HvError) -> T.NETException:
    exc = T.NETException(Message=error.message, HResult=-2146233087)
    names = [error.exception]
    if error.exception != "System.Exception":
        names.append("System.Exception")
    names.append("System.Object")
    exc.PSObject.type_names = names
    exc.PSObject.to_string = error.message
    return exc


def ps_category_info(error: HvError, activity: str = "") -> T.ErrorCategoryInfo:
    return T.ErrorCategoryInfo(
        Category=_error_category(error.category),
        Activity=activity,
        Reason=error.exception.rsplit(".", 1)[-1],
        TargetName=error.target or "",
        TargetType="String" if error.target is not None else "",
    )


def ps_error_record(error: HvError, activity: str = "") -> T.ErrorRecord:
    record = T.ErrorRecord(
        Exception=ps_exception(error),
        CategoryInfo=ps_category_info(error, activity),
        TargetObject=error.target,
        FullyQualifiedErrorId=error.fqid,
    )
    return record


# ---------------------------------------------------------------------------------------------
# PSRP parameters -> engine


def from_ps(value: t.Any) -> t.Any:
    """A parameter value psrpcore deserialized -> plain Python / ``Deserialized``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):
        return int(value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (uuid.UUID, T.PSGuid)):
        return str(value).lower()
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, bytes):
        return value
    if isinstance(value, (list, tuple)):
        return [from_ps(v) for v in value]
    if isinstance(value, dict):
        return {str(from_ps(k)): from_ps(v) for k, v in value.items()}
    if isinstance(value, T.PSObject):
        props: t.Dict[str, t.Any] = {}
        meta = value.PSObject
        for prop in list(meta.adapted_properties) + list(meta.extended_properties):
            try:
                props[prop.name] = from_ps(prop.get_value(value))
            except Exception:  # pragma: no cover - defensive, property getters on odd objects
                props[prop.name] = None
        # PowerShell does not prefix a name that already starts with "Deserialized." twice.
        names = tuple(n[len("Deserialized."):] if n.startswith("Deserialized.Deserialized.") else n for n in meta.type_names)
        return Deserialized(names, props)
    return value


# ---------------------------------------------------------------------------------------------
# Engine -> runner JSON (WinRS)


def iso_o(value: datetime.datetime) -> str:
    """PowerShell's ``ToString('o')`` for a DateTime with an offset: 7 fractional digits, +HH:MM."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    offset = value.utcoffset() or datetime.timedelta(0)
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return "%s.%07d%s%02d:%02d" % (
        value.strftime("%Y-%m-%dT%H:%M:%S"),
        value.microsecond * 10,
        sign,
        total // 3600,
        (total % 3600) // 60,
    )


def plain_value(value: t.Any, depth: int = 2) -> t.Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, HvEnum):
        return value.name
    if isinstance(value, HvGuid):
        return value.value.lower()
    if isinstance(value, uuid.UUID):
        return str(value).lower()
    if isinstance(value, HvInt):
        return int(value.value)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value
    if isinstance(value, HvTimeSpan):
        return float(value.seconds)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, datetime.datetime):
        return iso_o(value)
    if isinstance(value, HvObject):
        if depth > 1:
            return value.to_string or value.type_name
        return plain_object(value)
    if isinstance(value, (list, tuple)):
        return [plain_value(v, depth) for v in value]
    if isinstance(value, dict):
        return {str(k): plain_value(v, depth) for k, v in value.items()}
    return str(value)


def plain_object(obj: HvObject) -> t.Dict[str, t.Any]:
    return {name: plain_value(value, 2) for name, value in obj.properties.items()}


def plain_error(error: HvError) -> t.Dict[str, t.Any]:
    return {
        "fqid": error.fqid,
        "category": error.category,
        "message": error.message,
        "target": error.target,
        "exception": error.exception,
    }


def plain_result(result: t.Any) -> t.Dict[str, t.Any]:
    return {
        "output": [plain_object(o) if isinstance(o, HvObject) else plain_value(o, 1) for o in result.output],
        "errors": [plain_error(e) for e in result.errors],
        "state": "Failed" if result.failed else "Completed",
    }
