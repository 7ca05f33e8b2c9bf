"""PSRP output objects written straight to CLIXML bytes, equal byte for byte to psrpcore's.

``serialize.ps_object`` builds a psrpcore ``PSObject`` per value and psrpcore then builds an
ElementTree per message. For the merge polls of a fleet (a host-wide ``Get-VM`` of 50 VMs each
poll) that was about four fifths of the simulator's CPU, which the benchmark's controller shares on
one machine (docs/hvsim.md, "Output serialization"). This writer emits the same text directly:

* the rules are psrpcore 0.3.1's (``psrpcore.types._serializer``): RefIds in pre-order, type
  names referenced by their first name (``TNRef``), a repeated enum member written as ``Ref``
  (``serialize.ps_enum`` returns one cached member per type, name and value), strings escaped by
  psrpcore's own ``_serialize_string``, DateTime and TimeSpan text by its own formatters;
* a value it does not know raises ``Unsupported`` and the caller falls back to psrpcore;
* ``tests/simulator/protocol/test_clixml_parity.py`` compares it with psrpcore for every object
  the labs emit and for hand-written edge cases.
"""

from __future__ import annotations

import datetime
import enum
import functools
import re
import typing as t
import uuid

from psrpcore._payload import PSRPMessage, StreamType, create_message
from psrpcore.types import PSInvocationState, PSRPMessageType
from psrpcore.types._serializer import _serialize_datetime, _serialize_duration, _serialize_enum_to_string, _serialize_string
from psrpcore._exceptions import InvalidPipelineState

from hvsim.engine.types import HvEnum, HvGuid, HvInt, HvObject, HvTimeSpan
from hvsim.server import serialize


class Unsupported(Exception):
    """A value this writer does not render; psrpcore serializes the object instead."""


_INT_TAGS = {"Byte": "By", "SByte": "SB", "Int16": "I16", "UInt16": "U16", "Int32": "I32", "UInt32": "U32",
             "Int64": "I64", "UInt64": "U64"}
_INT_RANGES = {"By": (0, 2**8), "SB": (-(2**7), 2**7), "I16": (-(2**15), 2**15), "U16": (0, 2**16),
               "I32": (-(2**31), 2**31), "U32": (0, 2**32), "I64": (-(2**63), 2**63), "U64": (0, 2**64)}
# Any character psrpcore's _serialize_string might rewrite ('_' before x/X, control characters,
# surrogates, astral characters): a string without one is written as it is.
_MAY_ESCAPE = re.compile("[_\u0000-\u001F\u007F-\u009F\uD800-\uDFFF\U00010000-\U0010FFFF]")
_LIST_TYPES = ("System.Collections.ArrayList", "System.Object")


# ElementTree's escapes for text and for attribute values, in its order ("&" first)
_CDATA_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
_ATTRIB_ESCAPES = _CDATA_ESCAPES + (('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;"))


def _escape(text: str, escapes: t.Tuple[t.Tuple[str, str], ...]) -> str:
    for char, entity in escapes:
        if char in text:
            text = text.replace(char, entity)
    return text


def _cdata(text: str) -> str:
    return _escape(text, _CDATA_ESCAPES)


def _attrib(text: str) -> str:
    return _escape(text, _ATTRIB_ESCAPES)


def _string(text: str) -> str:
    return _serialize_string(text) if _MAY_ESCAPE.search(text) else text


@functools.lru_cache(maxsize=4096)
def _name_attr(name: str) -> str:
    return ' N="%s"' % _attrib(_string(name))


@functools.lru_cache(maxsize=4096)
def _enum_text(type_name: str, name: str, value: int) -> t.Tuple[str, str]:
    """(value element, ToString) of an enum member exactly as psrpcore writes the cached member."""
    try:
        member = serialize.ps_enum(HvEnum(type_name, name, value))
    except (TypeError, ValueError) as exc:  # e.g. a value beyond Int32, which psrpcore's enum refuses
        raise Unsupported(str(exc)) from exc
    number = int(member.value)
    tag = "I32" if number <= 2**31 - 1 else "I64"
    return "<%s>%d</%s>" % (tag, number, tag), _cdata(_serialize_enum_to_string(member))


class _Writer:
    """One message: its RefId counter and its tables of written type names and enum members."""

    __slots__ = ("out", "next_ref", "type_refs", "enum_refs")

    def __init__(self) -> None:
        self.out: t.List[str] = []
        self.next_ref = 0
        self.type_refs: t.Dict[str, int] = {}
        self.enum_refs: t.Dict[t.Tuple[str, str, int], int] = {}

    def _ref(self) -> int:
        ref = self.next_ref
        self.next_ref += 1
        return ref

    def _type_names(self, names: t.Sequence[str]) -> None:
        ref = self.type_refs.get(names[0])
        if ref is not None:
            self.out.append('<TNRef RefId="%d" />' % ref)
            return
        ref = self.type_refs[names[0]] = len(self.type_refs)
        self.out.append('<TN RefId="%d">%s</TN>' % (ref, "".join("<T>%s</T>" % _cdata(n) for n in names)))

    def top(self, obj: HvObject) -> None:
        """``serialize.ps_object``: the output object at depth 1."""
        names = [obj.type_name, *obj.extra_type_names]
        type_names = ["Deserialized." + n for n in names if n != "System.Object"]
        type_names.append("Deserialized.System.Object")
        self.out.append('<Obj RefId="%d">' % self._ref())
        self._type_names(type_names)
        if obj.properties:
            container = "MS" if obj.custom else "Props"  # note properties / adapted properties
            self.out.append("<%s>" % container)
            for name, value in obj.properties.items():
                self.value(value, _name_attr(name))
            self.out.append("</%s>" % container)
        if obj.to_string:
            self.out.append("<ToString>%s</ToString>" % _cdata(obj.to_string))
        self.out.append("</Obj>")

    def value(self, value: t.Any, attr: str) -> None:
        """One property value at depth 2, in ``serialize.ps_value``'s order of type tests."""
        out = self.out
        if value is None:
            out.append("<Nil%s />" % attr)
        elif isinstance(value, bool):
            out.append("<B%s>%s</B>" % (attr, "true" if value else "false"))
        elif isinstance(value, HvEnum):
            self._enum(value, attr)
        elif isinstance(value, HvGuid):
            out.append("<G%s>%s</G>" % (attr, uuid.UUID(value.value)))
        elif isinstance(value, uuid.UUID):
            out.append("<G%s>%s</G>" % (attr, uuid.UUID(str(value))))
        elif isinstance(value, HvInt):
            self._int(_INT_TAGS.get(value.dotnet_type, "I64"), int(value.value), attr)
        elif isinstance(value, enum.Enum):
            self.value(value.value, attr)
        elif isinstance(value, int):
            self._int("I32" if -(2**31) <= value < 2**31 else "I64", int(value), attr)
        elif isinstance(value, float):
            out.append("<Db%s>%s</Db>" % (attr, str(float(value)).upper()))
        elif isinstance(value, HvTimeSpan):
            out.append("<TS%s>%s</TS>" % (attr, _serialize_duration(datetime.timedelta(seconds=value.seconds))))
        elif isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=datetime.timezone.utc)
            out.append("<DT%s>%s</DT>" % (attr, _serialize_datetime(value)))
        elif isinstance(value, str):
            self._str(value, attr)
        elif isinstance(value, HvObject):
            self._str(value.to_string or value.type_name, attr)  # beyond depth 1: its ToString
        elif isinstance(value, (list, tuple)):
            out.append('<Obj RefId="%d"%s>' % (self._ref(), attr))
            self._type_names(_LIST_TYPES)
            if not value:
                out.append("<LST /></Obj>")
                return
            out.append("<LST>")
            for item in value:
                self.value(item, "")
            out.append("</LST></Obj>")
        else:
            raise Unsupported(type(value).__name__)  # dicts and anything else: psrpcore's rules

    def _str(self, text: str, attr: str) -> None:
        self.out.append("<S%s>%s</S>" % (attr, _cdata(_string(text))) if text else "<S%s />" % attr)

    def _int(self, tag: str, number: int, attr: str) -> None:
        low, high = _INT_RANGES[tag]
        if not low <= number < high:
            raise Unsupported("%s out of range" % tag)
        self.out.append("<%s%s>%d</%s>" % (tag, attr, number, tag))

    def _enum(self, value: HvEnum, attr: str) -> None:
        key = (value.type_name, value.name, int(value.value))
        ref = self.enum_refs.get(key)
        if ref is not None:
            self.out.append('<Ref RefId="%d"%s />' % (ref, attr))
            return
        ref = self.enum_refs[key] = self._ref()
        number, text = _enum_text(*key)
        self.out.append('<Obj RefId="%d"%s>%s' % (ref, attr, number))
        self._type_names((value.type_name, "System.Enum", "System.ValueType", "System.Object"))
        self.out.append("<ToString>%s</ToString></Obj>" % text if text else "</Obj>")


def object_clixml(obj: HvObject) -> bytes:
    """The CLIXML of one output object (a whole PSRP message body); ``Unsupported`` if it cannot."""
    writer = _Writer()
    writer.top(obj)
    return "".join(writer.out).encode("utf-8")


def write_output(pipeline: t.Any, obj: HvObject) -> None:
    """``ServerPipeline.write_output(serialize.ps_object(obj))``, with the body written here.

    The message is queued as psrpcore's ``RunspacePool.prepare_message`` queues it (same header,
    same object id counter); only the serialization differs.
    """
    try:
        data = object_clixml(obj)
    except Unsupported:
        pipeline.write_output(serialize.ps_object(obj))
        return
    if pipeline.state != PSInvocationState.Running:
        raise InvalidPipelineState("write pipeline output", pipeline.state, [PSInvocationState.Running])
    pool = pipeline.runspace_pool
    message = create_message(pool._is_client, PSRPMessageType.PipelineOutput, data, pool.runspace_pool_id,
                             pipeline.pipeline_id)
    pool._send_buffer.append(PSRPMessage(PSRPMessageType.PipelineOutput, bytearray(message), pool.runspace_pool_id,
                                         pipeline.pipeline_id, pool._fragment_counter, StreamType.default))
