# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""PSRP transport (pypsrp 0.9.1): one RunspacePool per module run, one PowerShell per pipeline.

Only ``add_cmdlet``/``add_parameter`` are used (works on a JEA NoLanguage endpoint); never
``add_script`` or ``Client.execute_ps``. The pool is always closed, on every path.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import collections
import re
import time
import traceback
import uuid
import xml.etree.ElementTree as ET

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _errors as errors
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import (
    Transport,
    duration_to_seconds,
    error_info,
    is_write_pipeline,
    make_result,
    map_requests_exception,
    normalize_datetime,
    open_with_retries,
    quota_error,
    retryable_at_open,
)

PYPSRP_IMPORT_ERROR = None
try:
    from pypsrp.complex_objects import Command, GenericComplexObject, PSInvocationState
    from pypsrp.exceptions import AuthenticationError as PsrpAuthenticationError
    from pypsrp.exceptions import WinRMError as PsrpWinRMError
    from pypsrp.exceptions import WinRMTransportError as PsrpTransportError
    from pypsrp.exceptions import WSManFaultError as PsrpFaultError
    from pypsrp.messages import CreatePipeline
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.serializer import ObjectMeta, Serializer
    from pypsrp.wsman import WSMan

    HAS_PYPSRP = True
except ImportError:  # pragma: no cover - exercised by the missing-library test
    PYPSRP_IMPORT_ERROR = traceback.format_exc()
    HAS_PYPSRP = False
    GenericComplexObject = None
    Serializer = object
    Command = object
    CreatePipeline = None


class ClixmlDateTime(str):
    """The text of a CLIXML ``<DT>`` value (pypsrp returns it as a plain string)."""


class ClixmlDuration(str):
    """The text of a CLIXML ``<TS>`` value."""


def _int(element):
    return int(element.text)


#: CLIXML primitive tags read without pypsrp's generic path (MS-PSRP 2.2.5.1), same values as
#: pypsrp 0.9.1 returns except that DT and TS keep their tag as a str subclass. Strings with an
#: ``_xHHHH_`` escape, SecureString, Ref and every object still go through pypsrp.
_PRIMITIVES = {
    "B": lambda e: (e.text or "").lower() == "true",
    "DT": lambda e: ClixmlDateTime(e.text),
    "TS": lambda e: ClixmlDuration(e.text),
    "By": _int, "SB": _int, "U16": _int, "I16": _int, "U32": _int, "I32": _int, "U64": _int, "I64": _int,
    "Sg": lambda e: float(e.text),
    "Db": lambda e: float(e.text),
    "G": lambda e: uuid.UUID(e.text),
    "Nil": lambda e: None,
    "Version": lambda e: e.text,
}


#: list types pypsrp 0.9.1 reads as a plain ``ListMeta()`` (entries typed by their own TN)
_PLAIN_LISTS = frozenset([
    "System.Collections.ArrayList", "Deserialized.System.Collections.ArrayList",
    "System.Array", "Deserialized.System.Array",
])


def _plain_meta(metadata):
    """True for the metadata pypsrp treats like none at all: a bare ObjectMeta without an object class.

    The exact class, as pypsrp tests it (``type(metadata) == ObjectMeta``): its subclasses (ListMeta,
    DictionaryMeta, ...) steer pypsrp's reading and must keep its path.
    """
    return metadata is None or (metadata.__class__ is ObjectMeta and metadata.object is None)


class FastSerializer(Serializer):
    """pypsrp's Serializer with fast paths for what Hyper-V output objects are made of.

    pypsrp serializes every element back to text (``ET.tostring``) and rebuilds its table of
    about 60 known types before it even looks at the tag; for the thousands of properties of a
    host-wide ``Get-VM`` that was most of the controller's CPU (docs/performance.md). The fast
    paths give the same values: primitives, Ref, Hyper-V objects and enums, and ArrayLists,
    also as the entries of a list (pypsrp hands those a shared bare ObjectMeta, whose ``tag``
    it sets from the first entry, so that is done here too). Escaped strings, typed lists,
    dictionaries and pypsrp's known PowerShell types keep pypsrp's path.
    """

    def deserialize(self, element, metadata=None, clear=True):
        if not clear and not isinstance(element, str) and _plain_meta(metadata):
            if metadata is not None and metadata.tag == "*":
                metadata.tag = element.tag
            tag = element.tag
            if tag in ("S", "ToString"):
                text = element.text
                if text is None:
                    return ""
                if "_x" not in text:
                    return text
            elif tag == "Obj":
                types = self._get_types_from_obj(element)
                if _generic_types(types):
                    return self._deserialize_dynamic_obj(element, ObjectMeta("ObjDynamic", object=GenericComplexObject))
                if types and types[0] in _PLAIN_LISTS:
                    return self._plain_list(element)
            elif tag == "Ref":
                return self.obj[element.attrib["RefId"]]
            else:
                fast = _PRIMITIVES.get(tag)
                if fast is not None:
                    return fast(element)
        return super(FastSerializer, self).deserialize(element, metadata=metadata, clear=clear)

    def __init__(self):
        super(FastSerializer, self).__init__()
        self._templates = PipelineTemplates(self)

    def serialize(self, value, metadata=None, parent=None, clear=True):
        if clear and metadata is None and parent is None and CreatePipeline is not None \
                and isinstance(value, CreatePipeline):
            text = self._templates.render(value)
            if text is not None:
                return text  # pypsrp's Message.pack sends bytes as they are
        return super(FastSerializer, self).serialize(value, metadata=metadata, parent=parent, clear=clear)

    def _deserialize_dynamic_obj(self, element, metadata):
        obj = super(FastSerializer, self)._deserialize_dynamic_obj(element, metadata)
        # its direct properties went through deserialize() above, so DT and TS are typed already
        obj.hv_typed_times = True
        return obj

    def _get_types_from_obj(self, element):
        """pypsrp's ``_get_types_from_obj`` in one pass over the children (no ElementPath queries)."""
        types = []
        first_tn = tn_ref = None
        for child in element:
            if child.tag == "TN":
                if first_tn is None:
                    first_tn = child
                types.extend(t.text or "" for t in child if t.tag == "T")
            elif child.tag == "TNRef" and tn_ref is None:
                tn_ref = child
        if types:
            self.tn[first_tn.attrib["RefId"]] = types
        if tn_ref is not None:
            types = self.tn[tn_ref.attrib["RefId"]]
        return types

    def _plain_list(self, element):
        """An ArrayList as pypsrp's ``_deserialize_lst`` reads it: the entries of its LST, or []."""
        entries = element.find("LST")
        shared = ObjectMeta()
        value = [] if entries is None else [self.deserialize(e, metadata=shared, clear=False) for e in entries]
        self.obj[element.attrib["RefId"]] = value
        return value


class PlainCommand(Command):
    """A pypsrp Command whose parameter values are plain data (str, int, bool, lists), never XML.

    ``Transport.run`` refuses any other value (``validate_pipeline``: JSON data only) before a
    pipeline is built.

    pypsrp deep-copies every command twice per pipeline it serializes, in case a value is an XML
    element that must not move between parents. With plain values the copy serializes exactly
    like the command itself (tests/unit: the CreatePipeline bytes are equal), and the copying
    was a tenth of the module's CPU on a host-wide batch.
    """

    def __deepcopy__(self, memo):
        return self


# A string slot of a template: private-use characters, which pypsrp's string escaping and
# ElementTree leave as they are and which the rest of a CreatePipeline never contains
_SLOT = u"\ue000%d\ue001"
_SLOT_RE = re.compile(u"\ue000(\\d+)\ue001")
_MERGES = ("merge_my_result", "merge_to_result", "merge_previous", "merge_error", "merge_warning",
           "merge_verbose", "merge_debug", "merge_information")


def _with_slots(value, strings):
    """(shape, value with each string replaced by a slot); the strings are appended to ``strings``."""
    if isinstance(value, str) and value:  # ElementTree writes an empty one as <S />: part of the shape
        strings.append(value)
        return str, _SLOT % (len(strings) - 1)
    if isinstance(value, list):
        parts = [_with_slots(v, strings) for v in value]
        return (list, tuple(part[0] for part in parts)), [part[1] for part in parts]
    return (type(value), value), value


def _escape_text(text):
    """ElementTree's escaping of element text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class PipelineTemplates(object):
    """CreatePipeline messages written from one pypsrp rendering per pipeline shape.

    pypsrp builds an ElementTree of about 70 elements for a two-command CreatePipeline and
    writes it out, about 1.1 ms of CPU per pipeline, a tenth of a batched VM's. The text depends
    on the string values of the parameters only where each is written as ``<S>`` text, so the
    first message of a shape (the cmdlets, parameter names, types and list lengths, every other
    value and setting) is rendered by pypsrp with a slot for each string, and each later one is
    that text with its strings escaped in as pypsrp escapes them. Unit tests compare the bytes
    with pypsrp's for every pipeline the client builds, cache hits and edge-case strings included.
    Only pipelines of PlainCommands (build_powershell) are rendered; anything else returns None.
    """

    MAX_SHAPES = 64

    def __init__(self, serializer):
        self._serializer = serializer
        self._templates = {}

    def render(self, message):
        key, strings, slotted = self._shape(message)
        if key is None:
            return None
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = self._template(message, slotted)
            if len(self._templates) > self.MAX_SHAPES:
                self._templates.clear()
        parts, order = template
        values = [_escape_text(self._serializer._serialize_string(strings[i])) for i in order]
        out = [parts[0]]
        for value, part in zip(values, parts[1:]):
            out.append(value)
            out.append(part)
        return u"".join(out).encode("utf-8", "xmlcharrefreplace")

    @staticmethod
    def _shape(message):
        """(key, strings, {CommandParameter: slotted value}), or (None, ...) when not ours to render."""
        pipeline = message.pipeline
        host = getattr(message.host_info, "host", None)
        if pipeline is None or host is not None or getattr(pipeline, "_extra_cmds", None):
            return None, None, None
        strings = []
        slotted = {}
        commands = []
        for cmd in pipeline.commands or ():
            if not isinstance(cmd, PlainCommand):
                return None, None, None
            args = []
            for arg in cmd.args:
                shape, value = _with_slots(arg.value, strings)
                slotted[id(arg)] = (arg, value)
                args.append((arg.name, shape))
            merges = tuple(getattr(getattr(cmd, m, None), "value", None) for m in _MERGES)
            commands.append((cmd.cmd, cmd.protocol_version, cmd.is_script, cmd.use_local_scope,
                             cmd.end_of_statement, merges, tuple(args)))
        key = (message.no_input, message.host_info is None, getattr(message.apartment_state, "value", None),
               getattr(message.remote_stream_options, "value", None), message.add_to_history, message.is_nested,
               pipeline.is_nested, pipeline.history, pipeline.redirect_err_to_out, tuple(commands))
        return key, strings, slotted

    def _template(self, message, slotted):
        """pypsrp's text of ``message`` with slots for its strings: (literal parts, string index per slot)."""
        originals = [(pair[0], pair[0].value) for pair in slotted.values()]
        try:
            for arg, value in slotted.values():
                arg.value = value
            element = super(FastSerializer, self._serializer).serialize(message)
        finally:
            for arg, value in originals:
                arg.value = value
        text = ET.tostring(element, encoding="utf-8", method="xml").decode("utf-8")
        pieces = _SLOT_RE.split(text)
        return pieces[0::2], [int(i) for i in pieces[1::2]]


def build_powershell(pool, pipeline):
    """A pypsrp PowerShell for one structured pipeline: cmdlets and parameters, never script."""
    ps = PowerShell(pool)
    version = pool.protocol_version or ""
    for cmd in pipeline:
        ps.commands.append(PlainCommand(cmd["cmdlet"], protocol_version=version, is_script=False, use_local_scope=None))
        for name, value in cmd["parameters"]:
            ps.add_parameter(name, value)
    return ps


def use_fast_serializer(pool):
    """Give a pypsrp 0.9.1 RunspacePool the FastSerializer (it reads messages with ``_fragmenter``)."""
    fragmenter = getattr(pool, "_fragmenter", None)
    if fragmenter is None or not hasattr(pool, "_serializer"):
        return False
    fast = FastSerializer()
    pool._serializer = fast  # pylint: disable=protected-access
    fragmenter.serializer = fast
    return True


def proxies_resolved_once(wsman):
    """Stop requests from re-reading the proxy environment on every WS-Man message.

    pypsrp builds its session with the environment's proxies for the endpoint already merged
    into ``session.proxies`` (and NO_PROXY applied); with ``trust_env`` on, requests looks them
    up again for each message, which was several percent of a batch's CPU. Certificate
    settings are unaffected: pypsrp sets ``session.verify`` itself and sends with
    ``Session.send``, which never reads the environment for it.
    """
    session = getattr(getattr(wsman, "transport", None), "session", None)
    if session is None:
        return False
    session.trust_env = False
    return True


# The one "Selected." type pypsrp reads as its own class (Measure-Object output); every other
# Select-Object output (Selected.<type>, PSCustomObject, System.Object) is a GenericComplexObject
_PYPSRP_SELECTED_TYPES = ("Selected.Microsoft.PowerShell.Commands.GenericMeasureInfo",)


def _generic_types(types):
    """True when pypsrp would read an object with these type names as a GenericComplexObject.

    pypsrp takes the first type name it knows: for every Hyper-V object and enum, and for
    Select-Object's output (``Selected.<type>``, ``PSCustomObject``), that is ``System.Object``
    (or ``PSObject``) at the end of the chain. Lists, dictionaries, pypsrp's
    known PowerShell types (ErrorRecord, PSCredential, ...) and chains without a known root
    (pypsrp returns those as raw XML) are left to pypsrp.
    """
    for name in types or ():
        if name.startswith("Deserialized.System."):
            name = name[len("Deserialized."):]
        if name in ("System.Object", "System.Management.Automation.PSObject"):
            return True
        if name in ("System.Enum", "System.ValueType", "System.Management.Automation.PSCustomObject"):
            continue
        if name in _PYPSRP_SELECTED_TYPES or name.startswith("System.") or name.endswith("[]"):
            return False
    return False


# System.Management.Automation.ErrorCategory
ERROR_CATEGORIES = [
    "NotSpecified", "OpenError", "CloseError", "DeviceError", "DeadlockDetected", "InvalidArgument",
    "InvalidData", "InvalidOperation", "InvalidResult", "InvalidType", "MetadataError", "NotImplemented",
    "NotInstalled", "ObjectNotFound", "OperationStopped", "OperationTimeout", "SyntaxError", "ParserError",
    "PermissionDenied", "ResourceBusy", "ResourceExists", "ResourceUnavailable", "ReadError", "WriteError",
    "FromStdErr", "SecurityError", "ProtocolError", "ConnectionError", "AuthenticationError",
    "LimitsExceeded", "QuotaExceeded", "NotEnabled",
]


# ---------------------------------------------------------------------------- conversion
def _strip_deserialized(type_name):
    if type_name and type_name.startswith("Deserialized."):
        return type_name[len("Deserialized."):]
    return type_name


def _types(obj):
    return [_strip_deserialized(tn) for tn in (getattr(obj, "types", None) or [])]


def _is_enum(obj):
    return "System.Enum" in _types(obj)


def _enum_name(obj):
    if obj.to_string not in (None, ""):
        return str(obj.to_string)
    if obj.property_sets:
        return str(obj.property_sets[0])
    return None


def _property_tags(obj):
    """{property name: CLIXML tag} for the object's direct properties (DT and TS need retyping).

    pypsrp returns DateTime and TimeSpan values as their raw text, indistinguishable from a
    string, so the serialized XML of the object is consulted for their tags.
    """
    xml = getattr(obj, "_xml", None)
    if not xml:
        return {}
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return {}
    tags = {}
    for container in ("Props", "MS"):
        node = root.find(container)
        if node is None:
            continue
        for child in node:
            name = child.get("N")
            if name is not None:
                tags[name] = child.tag
    return tags


def to_plain(value, depth=0):
    """Convert a value deserialized by pypsrp to plain data (contracts.md section 2)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)  # ClixmlDateTime and the like become plain str
    if isinstance(value, uuid.UUID):
        return str(value).lower()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (list, tuple)):
        return [to_plain(v, depth) for v in value]
    if isinstance(value, dict):
        if depth >= 1:
            return str(value)
        return dict((str(k), to_plain(v, depth + 1)) for k, v in value.items())
    if GenericComplexObject is not None and isinstance(value, GenericComplexObject):
        if _is_enum(value):
            return _enum_name(value)
        if depth >= 1:
            return str(value.to_string) if value.to_string is not None else None
        props = {}
        props.update(value.adapted_properties)
        props.update(value.extended_properties)
        if not props and value.property_sets:
            # a primitive with type names attached (e.g. a string emitted as PSObject)
            return to_plain(value.property_sets[0], depth)
        # an object read by pypsrp's own Serializer has DT and TS as plain text: its XML tells them apart
        tags = {} if getattr(value, "hv_typed_times", False) else None
        out = {}
        for name, prop in props.items():
            if isinstance(prop, ClixmlDateTime):
                tag = "DT"
            elif isinstance(prop, ClixmlDuration):
                tag = "TS"
            elif isinstance(prop, str):
                if tags is None:
                    tags = _property_tags(value)
                tag = tags.get(name)
            else:
                tag = None
            if tag == "DT":
                out[name] = normalize_datetime(prop)
            elif tag == "TS":
                out[name] = duration_to_seconds(prop)
            else:
                out[name] = to_plain(prop, depth + 1)
        return out
    if hasattr(value, "get") and hasattr(value, "qsize"):  # a Queue
        items = []
        while not value.empty():
            items.append(to_plain(value.get(), depth))
        return items
    text = str(value)
    return text


def _message_of(exc_obj):
    if exc_obj is None:
        return None
    if GenericComplexObject is not None and isinstance(exc_obj, GenericComplexObject):
        for props in (exc_obj.adapted_properties, exc_obj.extended_properties):
            if props.get("Message"):
                return str(props["Message"])
        if exc_obj.to_string:
            return str(exc_obj.to_string)
        return None
    return str(exc_obj)


def error_to_info(record):
    """An ErrorRecord from ``ps.streams.error`` as an ErrorInfo dict."""
    message = getattr(record, "details_message", None) or _message_of(getattr(record, "exception", None))
    if not message:
        message = str(record) if getattr(record, "_to_string", None) else None
    category = getattr(record, "category", None)
    if isinstance(category, int) and 0 <= category < len(ERROR_CATEGORIES):
        category = ERROR_CATEGORIES[category]
    elif category is not None:
        category = str(category)
    target = getattr(record, "target_object", None)
    if target is not None and not isinstance(target, str):
        target = to_plain(target, 1)
        target = None if target is None else str(target)
    if target is None:
        target = getattr(record, "target_name", None) or None
    exc_type = None
    exc_obj = getattr(record, "exception", None)
    if exc_obj is not None:
        names = _types(exc_obj)
        exc_type = names[0] if names else None
    return error_info(
        fqid=getattr(record, "fq_error", None),
        category=category,
        message=message,
        target=target,
        exception=exc_type,
    )


# ---------------------------------------------------------------------------- exception mapping
def map_exception(exc, host, request_sent=False, write=False):
    """Map a pypsrp / requests / spnego exception to the collection's tree (called once, here)."""
    if isinstance(exc, errors.HyperVError):
        return exc
    name = type(exc).__name__
    module = type(exc).__module__ or ""
    text = str(exc)
    if HAS_PYPSRP and isinstance(exc, PsrpAuthenticationError):
        return errors.AuthenticationError("Authentication to %s failed: %s" % (host, text))
    if HAS_PYPSRP and isinstance(exc, PsrpFaultError):
        code = exc.code
        try:
            code = int(code)
        except (TypeError, ValueError):
            pass
        quota = quota_error(code, host, exc.reason or text)
        if quota is not None:
            return quota
        return errors.ConnectionError(
            "WinRM fault from %s: %s" % (host, text),
            write_may_have_applied=request_sent and write,
            request_sent=request_sent,
        )
    if HAS_PYPSRP and isinstance(exc, PsrpTransportError):
        if exc.code == 401:
            return errors.AuthenticationError("Authentication to %s failed (HTTP 401)" % host)
        return errors.ConnectionError(
            "HTTP %s from %s" % (exc.code, host),
            write_may_have_applied=request_sent and write,
            request_sent=request_sent,
        )
    mapped = map_requests_exception(exc, host, request_sent=request_sent, write=write)
    if mapped is not None:
        return mapped
    if module.startswith("spnego") or name in ("SpnegoError", "InvalidTokenError", "BadMICError"):
        return errors.AuthenticationError("Authentication to %s failed: %s" % (host, text))
    if HAS_PYPSRP and isinstance(exc, PsrpWinRMError):
        return errors.ConnectionError(
            "WinRM error from %s: %s" % (host, text),
            write_may_have_applied=request_sent and write,
            request_sent=request_sent,
        )
    if isinstance(exc, ValueError):
        return errors.ConfigurationError("Invalid connection settings for %s: %s" % (host, text))
    return errors.HyperVError("Unexpected %s talking to %s: %s" % (name, host, text))


# ---------------------------------------------------------------------------- transport
class _CallbackError(Exception):
    """Carries an error raised by a caller's ``on_result`` through the window's fault handling."""

    def __init__(self, error):
        super(_CallbackError, self).__init__(str(error))
        self.error = error


class PSRPTransport(Transport):
    name = "psrp"

    def __init__(self, options, max_runspaces=1, sleep=time.sleep):
        super(PSRPTransport, self).__init__(options)
        self.max_runspaces = max(1, int(max_runspaces or 1))
        self._sleep = sleep
        self._wsman = None
        self._pool = None

    def _build_wsman(self):
        o = self.options
        kwargs = dict(
            server=o.host,
            port=o.port,
            username=o.username,
            password=o.password,
            ssl=o.ssl,
            auth=o.auth,
            cert_validation=o.cert_validation,
            encryption=o.encryption,
            operation_timeout=o.operation_timeout,
            read_timeout=o.read_timeout,
            connection_timeout=o.read_timeout,
            reconnection_retries=0,
        )
        if o.auth == "certificate":
            kwargs["certificate_pem"] = o.cert_pem
            kwargs["certificate_key_pem"] = o.cert_key_pem
        return WSMan(**kwargs)

    def open(self):
        if self.opened:
            return
        open_with_retries(self._open_once, retryable_at_open, max(0, self.options.connection_retries), self._sleep,
                          self.quota_retry_delays)

    def _open_once(self):
        try:
            self._wsman = self._build_wsman()
            self._pool = RunspacePool(
                self._wsman,
                configuration_name=self.options.configuration_name,
                max_runspaces=self.max_runspaces,
            )
            use_fast_serializer(self._pool)
            self._pool.open()
            proxies_resolved_once(self._wsman)
            self.opened = True
        except Exception as exc:  # pylint: disable=broad-except
            mapped = map_exception(exc, self.host, request_sent=False)
            self._close_quietly()
            raise mapped

    def _close_quietly(self):
        pool, self._pool = self._pool, None
        wsman, self._wsman = self._wsman, None
        self.opened = False
        if pool is not None:
            try:
                pool.close()
            except Exception:  # pylint: disable=broad-except
                pass
        if wsman is not None:
            try:
                wsman.close()
            except Exception:  # pylint: disable=broad-except
                pass

    def close(self):
        self._close_quietly()

    def _build(self, pipeline):
        return build_powershell(self._pool, pipeline)

    @staticmethod
    def _result(ps):
        output = [to_plain(o, 0) for o in (ps.output or [])]
        errs = [error_to_info(e) for e in (ps.streams.error or [])]
        failed = bool(ps.had_errors) or ps.state == PSInvocationState.FAILED
        return make_result(output, errs, failed)

    def _run(self, pipelines, parallel):
        return self._run_streaming(pipelines, parallel, None)

    def _run_streaming(self, pipelines, parallel, on_result):
        """A sliding window of up to ``parallel`` pipelines on the one pool.

        The next pipeline starts as soon as the oldest one in flight has finished, so the host
        always has work queued; results are collected oldest first (a Receive per pipeline, no
        polling of the others). A finished pipeline is not signalled: MS-PSRP 3.1.1.3.2 says the
        client MUST NOT send any more messages to a pipeline once it is Completed, Stopped or
        Failed (pypsrp's ``close()`` would send a Signal terminate).
        """
        parallel = min(parallel, self.max_runspaces)
        results = [None] * len(pipelines)
        waiting = collections.deque(range(len(pipelines)))
        in_flight = collections.deque()
        stop = False
        refused = None
        try:
            while in_flight or (waiting and not stop):
                while waiting and not stop and len(in_flight) < parallel:
                    index = waiting.popleft()
                    ps = self._build(pipelines[index])
                    in_flight.append((index, ps))
                    refused = self._begin(ps, pipelines[index], index)
                    if refused is not None:
                        # a quota refusal leaves the pool usable: finish what runs, then report
                        in_flight.pop()
                        stop = True
                if not in_flight:
                    break
                index, ps = in_flight[0]
                ps.end_invoke()
                results[index] = self._result(ps)
                in_flight.popleft()
                if on_result is not None and self._hand_over(on_result, index, results[index]) is False:
                    stop = True
        except _CallbackError as exc:
            self._close_quietly()
            raise exc.error
        except Exception as exc:  # pylint: disable=broad-except
            unknown = [pending[0] for pending in in_flight]
            write = any(is_write_pipeline(pipelines[i]) for i in unknown)
            mapped = map_exception(exc, self.host, request_sent=bool(unknown), write=write)
            # the pool may be unusable now; free it so the shell quota is not leaked
            self._close_quietly()
            mapped.started = unknown + ([refused.started[0]] if refused is not None else [])
            raise mapped
        if refused is not None:
            # a fresh session has its own operation count; the caller re-reads before anything else
            self._close_quietly()
            raise refused
        return results

    @staticmethod
    def _hand_over(on_result, index, result):
        """Call the caller's ``on_result``; its own errors are not transport faults and stay unmapped."""
        try:
            return on_result(index, result)
        except Exception as exc:  # pylint: disable=broad-except
            raise _CallbackError(exc)

    def _begin(self, ps, pipeline, index):
        """Start one pipeline; a WinRM quota fault is returned (with ``started``), anything else raised."""
        try:
            ps.begin_invoke()
        except Exception as exc:  # pylint: disable=broad-except
            mapped = map_exception(exc, self.host, request_sent=True, write=is_write_pipeline(pipeline))
            if not isinstance(mapped, errors.QuotaError):
                raise
            mapped.started = [index]
            return mapped
        return None
