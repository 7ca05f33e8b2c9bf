"""PowerShell-style parameter binding against the catalogue.

Modelled on PowerShell's binder (PowerShell/PowerShell ``engine/CmdletParameterBinderController.cs``,
``MergedCommandParameterMetadata.cs``, ``ParameterBinderBase.cs``) as summarised in
hyperv-cmdlets-notes.md §A.1:

1. **Named binding** (``prepare``), done for every command of a pipeline before anything runs:
   each name is resolved (exact name, exact alias, unique prefix, declared-beats-common), a
   second occurrence is ``ParameterAlreadyBound``, the value is converted to the parameter type
   and validated (ValidateNotNull/ValidateNotNullOrEmpty from the module-diff file, then the
   null/empty checks PowerShell applies to mandatory parameters). The candidate parameter sets
   are those that contain every bound parameter; none -> ``AmbiguousParameterSet``.
2. **Set resolution without pipeline input** (``finish``): one candidate -> it; otherwise the
   unique candidate whose mandatory parameters are all bound, else the default set when it is a
   candidate, else ``AmbiguousParameterSet``; then ``MissingMandatoryParameter`` (non-interactive).
3. **Pipeline input** (``bind_input``), per input object, in PowerShell's four states
   (ByValue without coercion, ByPropertyName without coercion, ByValue with coercion,
   ByPropertyName with coercion); in each state the default set is tried first and, when it
   binds nothing, the other remaining sets. Errors here are per object (non-terminating), as in
   PowerShell, where pipeline binding failures are written with WriteError.

All failures raise ``BindingError`` carrying a ParameterBindingException ErrorRecord.
Message texts: ParameterBinderStrings.resx (ENGINE); Windows PowerShell 5.1 wording where the
two differ (AmbiguousParameterSet, conversion messages from .NET Framework).
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import typing as t
import uuid

from . import errors as E
from .catalogue import INT_RANGES, OBJECT_TYPES, SCALAR_KINDS, CmdletSpec, ParamInfo
from .types import Deserialized, HvEnum, HvError, HvGuid, HvInt, HvObject, HvTimeSpan


class BindingError(Exception):
    def __init__(self, error: HvError) -> None:
        super().__init__(error.message)
        self.error = error


# ---------------------------------------------------------------------------------------------
# messages (ParameterBinderStrings.resx; .NET / PowerShell 5.1 conversion texts)

MSG_NAMED_NOT_FOUND = "A parameter cannot be found that matches parameter name '{0}'."
MSG_POSITIONAL_NOT_FOUND = "A positional parameter cannot be found that accepts argument '{0}'."
MSG_AMBIGUOUS = "Parameter cannot be processed because the parameter name '{0}' is ambiguous. Possible matches include:{1}."
MSG_ALREADY_BOUND = (
    "Cannot bind parameter because parameter '{0}' is specified more than once. To provide multiple values "
    'to parameters that can accept multiple values, use the array syntax. For example, "-parameter value1,value2,value3".'
)
# Windows PowerShell 5.1 text (PowerShell 7.5 appends a different second sentence).
MSG_AMBIGUOUS_SET = "Parameter set cannot be resolved using the specified named parameters."
MSG_MISSING_MANDATORY = "Cannot process command because of one or more missing mandatory parameters:{0}."
MSG_INPUT_NOT_BOUND = (
    "The input object cannot be bound to any parameters for the command either because the command does not "
    "take pipeline input or the input and its properties do not match any of the parameters that take pipeline input."
)
MSG_INPUT_MISSING_MANDATORY = (
    "The input object cannot be bound because it did not contain the information required to bind all "
    "mandatory parameters:{0}"
)
MSG_CANNOT_BIND = "Cannot bind parameter '{0}'. {1}"
MSG_CANNOT_CONVERT_TO_PARAM = "Cannot convert '{0}' to the type '{1}' required by parameter '{2}'. {3}"
MSG_VALIDATION = "Cannot validate argument on parameter '{0}'. {1}"
MSG_NULL_NOT_ALLOWED = "Cannot bind argument to parameter '{0}' because it is null."
MSG_EMPTY_STRING_NOT_ALLOWED = "Cannot bind argument to parameter '{0}' because it is an empty string."
MSG_EMPTY_ARRAY_NOT_ALLOWED = "Cannot bind argument to parameter '{0}' because it is an empty array."
# System.Management.Automation Metadata.resx (ValidateNotNull/ValidateNotNullOrEmpty failures)
MSG_V_NOTNULLOREMPTY = "The argument is null or empty. Provide an argument that is not null or empty, and then try the command again."
MSG_V_NOTNULLOREMPTY_COLL = (
    "The argument is null, empty, or an element of the argument collection contains a null value. "
    "Supply a collection that does not contain any null values and then try the command again."
)
MSG_V_NOTNULL = "The argument is null. Provide a valid value for the argument, and then try running the command again."
MSG_V_NOTNULL_COLL = (
    "The argument is null or empty, or an element of the argument collection contains a null value. "
    "Supply a collection that does not contain any null values and then try the command again."
)
# .NET Framework / PowerShell conversion messages
MSG_CONVERT_VALUE = 'Cannot convert value "{0}" to type "{1}". Error: "{2}"'
MSG_CONVERT_THE_VALUE = 'Cannot convert the "{0}" value of type "{1}" to type "{2}".'
MSG_GUID_FORMAT = "Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)."
MSG_INT_FORMAT = "Input string was not in a correct format."
MSG_INT_RANGE = "Value was either too large or too small for {0} {1}."
MSG_ENUM = (
    "Unable to match the identifier name {0} to a valid enumerator name. Specify one of the following "
    "enumerator names and try again:\r\n{1}"
)
MSG_NOT_SUPPORTED = "Specified method is not supported."
MSG_MISMATCHED_PSTYPENAME = (
    "Cannot bind argument to parameter '{0}', because PSTypeNames of the argument do not match the PSTypeName "
    "required by the parameter: {1}."
)


# ---------------------------------------------------------------------------------------------
# value helpers


def dotnet_type_of(value: t.Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, HvInt):
        return "System." + value.dotnet_type
    if isinstance(value, int):
        return "System.Int32" if -(2**31) <= value < 2**31 else "System.Int64"
    if isinstance(value, float):
        return "System.Double"
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, HvGuid):
        return "System.Guid"
    if isinstance(value, HvEnum):
        return value.type_name
    if isinstance(value, HvObject):
        return value.type_name
    if isinstance(value, Deserialized):
        name = value.type_names[0] if value.type_names else "System.Management.Automation.PSObject"
        return name if name.startswith("Deserialized.") else "Deserialized." + name
    if isinstance(value, (list, tuple)):
        return "System.Object[]"
    if isinstance(value, datetime.datetime):
        return "System.DateTime"
    if isinstance(value, HvTimeSpan):
        return "System.TimeSpan"
    return "System.Object"


def to_ps_string(value: t.Any) -> str:
    """PowerShell's string conversion (``[string]$x``) for the values hvsim handles."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, HvInt):
        return str(value.value)
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, HvGuid):
        return value.value
    if isinstance(value, HvEnum):
        return value.name
    if isinstance(value, HvObject):
        return value.to_string or value.type_name
    if isinstance(value, Deserialized):
        for key in ("ToString", "__ToString__", "_ToString"):
            if isinstance(value.properties.get(key), str):
                return value.properties[key]
        # No <ToString> carried over: rebuild the Hyper-V objects' ToString() form
        # [inferred: VirtualMachineBase.ToString, "VirtualMachine (Name = 'x') [Id = 'guid']"].
        names = " ".join(value.type_names)
        props = value.properties
        if "Name" in props and "Id" in props:
            for short in ("VirtualMachine", "VMSnapshot"):
                if f"Microsoft.HyperV.PowerShell.{short}" in names:
                    return f"{short} (Name = '{to_ps_string(props['Name'])}') [Id = '{to_ps_string(props['Id'])}']"
        return dotnet_type_of(value)
    if isinstance(value, (list, tuple)):
        return " ".join(to_ps_string(v) for v in value)  # $OFS
    return str(value)


def object_type_names(value: t.Any) -> t.Tuple[str, ...]:
    """.NET type names of an object, with CIM's ``Type#namespace/class`` suffixes also stripped."""
    if isinstance(value, HvObject):
        names = (value.type_name,) + tuple(value.extra_type_names)
        return names + tuple(n.split("#", 1)[0] for n in names if "#" in n)
    return ()


class _ConvertFailed(Exception):
    def __init__(self, inner: str, error_id: str = "", message: t.Optional[str] = None) -> None:
        super().__init__(inner)
        self.inner = inner
        self.error_id = error_id
        self.message = message


def _convert_element(param: ParamInfo, value: t.Any, *, coerce: bool = True) -> t.Any:
    """Convert one element to the parameter's element type; raises _ConvertFailed."""
    et = param.element_type
    target = param.dotnet_element_type
    if param.is_enum:
        names = param.enum_values
        if isinstance(value, HvEnum):
            value = value.name
        if isinstance(value, str):
            key = value.strip().lower()
            for n in names:
                if n.lower() == key:
                    return n
        shown = to_ps_string(value)
        raise _ConvertFailed(MSG_CONVERT_VALUE.format(shown, target, MSG_ENUM.format(shown, ", ".join(names))))
    kind = SCALAR_KINDS.get(et)
    if kind == "any":
        return value
    if kind == "string" or kind == "char":
        if isinstance(value, Deserialized) and not coerce:
            raise _ConvertFailed("")
        s = to_ps_string(value)
        if kind == "char" and len(s) != 1:
            raise _ConvertFailed(MSG_CONVERT_VALUE.format(s, "System.Char", "String must be exactly one character long."))
        return s
    if kind == "int":
        lo, hi = INT_RANGES[et]
        if isinstance(value, HvInt):
            n = value.value
        elif isinstance(value, bool):
            n = int(value)
        elif isinstance(value, int):
            n = value
        elif isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                raise _ConvertFailed(MSG_CONVERT_VALUE.format(to_ps_string(value), target, _range_msg(et)))
            n = round(value)  # banker's rounding, as [int]2.5 -> 2
        elif isinstance(value, str):
            s = value.strip()
            try:
                n = int(s, 16) if s.lower().startswith("0x") else int(s)
            except ValueError:
                raise _ConvertFailed(MSG_CONVERT_VALUE.format(value, target, MSG_INT_FORMAT)) from None
        else:
            raise _ConvertFailed(MSG_CONVERT_THE_VALUE.format(to_ps_string(value), dotnet_type_of(value), target))
        if not lo <= n <= hi:
            raise _ConvertFailed(MSG_CONVERT_VALUE.format(to_ps_string(value), target, _range_msg(et)))
        return n
    if kind in ("bool", "switch"):
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, HvInt)):
            return bool(value.value if isinstance(value, HvInt) else value)
        # Compiled cmdlets refuse anything but booleans and numbers for [bool]/[switch]:
        # "Cannot convert 'System.String' to the type 'System.Boolean' required by parameter 'X'.
        # Specified method is not supported." (FQID CannotConvertArgument) [inferred, OBS].
        raise _ConvertFailed(
            "",
            error_id="CannotConvertArgument",
            message=MSG_CANNOT_CONVERT_TO_PARAM.format(dotnet_type_of(value), target, param.name, MSG_NOT_SUPPORTED),
        )
    if kind == "guid":
        if isinstance(value, HvGuid):
            return value.value
        if isinstance(value, str):
            g = _parse_guid(value)
            if g is None:
                raise _ConvertFailed(MSG_CONVERT_VALUE.format(value, "System.Guid", MSG_GUID_FORMAT))
            return g
        raise _ConvertFailed(MSG_CONVERT_THE_VALUE.format(to_ps_string(value), dotnet_type_of(value), "System.Guid"))
    accepted = OBJECT_TYPES.get(et)
    if accepted is not None:
        if isinstance(value, HvObject) and accepted.intersection(object_type_names(value)):
            if param.ps_type_name and not _has_ps_type_name(value, param.ps_type_name):
                raise _ConvertFailed(
                    "",
                    error_id="MismatchedPSTypeName",
                    message=MSG_MISMATCHED_PSTYPENAME.format(param.name, param.ps_type_name),
                )
            return value
        raise _ConvertFailed(MSG_CONVERT_THE_VALUE.format(to_ps_string(value), dotnet_type_of(value), target))
    # Unknown type: pass through unchanged.
    return value


def _has_ps_type_name(value: HvObject, ps_type_name: str) -> bool:
    """[PSTypeName('Microsoft.Management.Infrastructure.CimInstance#MSFT_Partition')]: CIM objects carry
    ``CimInstance#<namespace>/<class>`` and ``CimInstance#<class>`` type names."""
    cls = ps_type_name.split("#", 1)[-1].lower()
    for n in (value.type_name,) + tuple(value.extra_type_names):
        low = n.lower()
        if low == ps_type_name.lower() or low.endswith("/" + cls) or low.endswith("#" + cls):
            return True
    return False


def _range_msg(et: str) -> str:
    article = "an" if et.startswith("Int") else "a"  # .NET: "for an Int32." / "for a UInt32."
    return MSG_INT_RANGE.format(article, et)


def _parse_guid(s: str) -> t.Optional[str]:
    """System.Guid.Parse formats D, N, B, P (case-insensitive, surrounding blanks allowed)."""
    s = s.strip()
    if len(s) == 38 and ((s[0], s[-1]) in (("{", "}"), ("(", ")"))):
        s = s[1:-1]
    if len(s) == 36:
        if s[8] != "-" or s[13] != "-" or s[18] != "-" or s[23] != "-":
            return None
    elif len(s) != 32:
        return None
    try:
        int(s.replace("-", ""), 16)
        return str(uuid.UUID(s))
    except ValueError:
        return None


def convert(param: ParamInfo, value: t.Any, cmdlet: str = "") -> t.Any:
    """Convert a value given for ``param``; raises BindingError(CannotConvertArgument...)."""
    try:
        if value is None:
            if param.is_switch:
                return False  # -Switch:$null is not present
            return "" if param.element_type == "String" and not param.is_array else None
        if param.is_array:
            items = list(value) if isinstance(value, (list, tuple)) else [value]
            if param.element_type == "Char" and isinstance(value, str):
                items = list(value)
            return [None if v is None else _convert_element(param, v) for v in items]
        if isinstance(value, (list, tuple)) and SCALAR_KINDS.get(param.element_type) not in ("string", "any"):
            if len(value) == 1:
                value = value[0]
            else:
                raise _ConvertFailed(
                    MSG_CONVERT_THE_VALUE.format("System.Object[]", "System.Object[]", param.dotnet_element_type)
                )
        return _convert_element(param, value)
    except _ConvertFailed as exc:
        raise BindingError(_conversion_error(cmdlet, param, exc)) from None


def _conversion_error(cmdlet: str, param: ParamInfo, exc: _ConvertFailed) -> HvError:
    if exc.message is not None:
        return E.binding_error(exc.error_id or "CannotConvertArgument", cmdlet=cmdlet, message=exc.message)
    # Element conversion of an array parameter is reported as CannotConvertArgument (e.g. the
    # deserialized-VM case for -VM <VirtualMachine[]>), a scalar one as
    # CannotConvertArgumentNoMessage (e.g. Get-VM -Id abc) [inferred, OBS].
    error_id = "CannotConvertArgument" if param.is_array else "CannotConvertArgumentNoMessage"
    return E.binding_error(error_id, cmdlet=cmdlet, message=MSG_CANNOT_BIND.format(param.name, exc.inner))


def _is_empty(v: t.Any) -> bool:
    return v is None or (isinstance(v, str) and v == "")


def validate(spec: CmdletSpec, param: ParamInfo, value: t.Any) -> None:
    """ValidateNotNull / ValidateNotNullOrEmpty, then the mandatory null/empty checks."""
    for attr in param.validation:
        problem = None
        if attr == "NotNullOrEmpty":
            if isinstance(value, list):
                if not value or any(_is_empty(v) for v in value):
                    problem = MSG_V_NOTNULLOREMPTY_COLL
            elif _is_empty(value):
                problem = MSG_V_NOTNULLOREMPTY
        elif attr == "NotNull":
            if isinstance(value, list):
                if any(v is None for v in value):
                    problem = MSG_V_NOTNULL_COLL
            elif value is None:
                problem = MSG_V_NOTNULL
        if problem:
            raise BindingError(
                E.binding_error(
                    "ParameterArgumentValidationError",
                    cmdlet=spec.name,
                    message=MSG_VALIDATION.format(param.name, problem),
                    category="InvalidData",
                    exception=E.VALIDATION_EXCEPTION,
                )
            )
    if any(b.required for b in param.sets.values()):
        error_id = message = None
        if value is None:
            error_id, message = "ParameterArgumentValidationErrorNullNotAllowed", MSG_NULL_NOT_ALLOWED
        elif isinstance(value, str) and value == "":
            error_id, message = "ParameterArgumentValidationErrorEmptyStringNotAllowed", MSG_EMPTY_STRING_NOT_ALLOWED
        elif isinstance(value, list):
            if not value:
                error_id, message = "ParameterArgumentValidationErrorEmptyArrayNotAllowed", MSG_EMPTY_ARRAY_NOT_ALLOWED
            elif any(v is None for v in value):
                error_id, message = "ParameterArgumentValidationErrorNullNotAllowed", MSG_NULL_NOT_ALLOWED
            elif any(v == "" for v in value if isinstance(v, str)):
                error_id, message = "ParameterArgumentValidationErrorEmptyStringNotAllowed", MSG_EMPTY_STRING_NOT_ALLOWED
        if error_id:
            raise BindingError(
                E.binding_error(
                    error_id,
                    cmdlet=spec.name,
                    message=message.format(param.name),
                    category="InvalidData",
                    exception=E.VALIDATION_EXCEPTION,
                )
            )


# ---------------------------------------------------------------------------------------------
# named binding


@dataclasses.dataclass
class Prepared:
    """A command after named binding: values by canonical name, candidate sets."""

    spec: CmdletSpec
    values: t.Dict[str, t.Any]
    explicit: t.FrozenSet[str]
    candidates: t.Tuple[str, ...]


def _err(spec: CmdletSpec, error_id: str, message: str, **kw: t.Any) -> BindingError:
    return BindingError(E.binding_error(error_id, cmdlet=spec.name, message=message, **kw))


def _sets_for(spec: CmdletSpec, names: t.Iterable[str], within: t.Sequence[str]) -> t.Tuple[str, ...]:
    sets = list(within)
    for n in names:
        p = spec.params[n]
        if p.kind == "common":
            continue
        sets = [s for s in sets if s in p.sets]
    return tuple(sets)


def prepare(spec: CmdletSpec, parameters: t.Sequence[t.Sequence[t.Any]]) -> Prepared:
    """Bind the named parameters of one command (raises BindingError, terminating)."""
    values: t.Dict[str, t.Any] = {}
    resolved: t.List[t.Tuple[ParamInfo, t.Any]] = []
    if isinstance(parameters, dict):  # tolerate {"Name": value} as well as [[name, value], ...]
        parameters = list(parameters.items())
    for pair in parameters:
        name, value = pair[0], pair[1]
        if name is None or name == "":
            raise _err(spec, "PositionalParameterNotFound", MSG_POSITIONAL_NOT_FOUND.format(to_ps_string(value)))
        key = str(name)
        if key.startswith("-"):
            key = key[1:]
        if key.endswith(":"):
            key = key[:-1]
        param, ambiguous = spec.resolve_parameter(key)
        if param is None:
            if ambiguous:
                listed = "".join(" -" + p.name for p in ambiguous)
                raise _err(spec, "AmbiguousParameter", MSG_AMBIGUOUS.format(key, listed))
            raise _err(spec, "NamedParameterNotFound", MSG_NAMED_NOT_FOUND.format(key))
        resolved.append((param, value))
    for param, value in resolved:
        if param.name in values:
            raise _err(spec, "ParameterAlreadyBound", MSG_ALREADY_BOUND.format(param.name))
        converted = convert(param, value, spec.name)
        validate(spec, param, converted)
        values[param.name] = converted
    candidates = _sets_for(spec, values, spec.set_names)
    if not candidates:
        raise _err(spec, "AmbiguousParameterSet", MSG_AMBIGUOUS_SET)
    return Prepared(spec=spec, values=values, explicit=frozenset(values), candidates=candidates)


def _missing(spec: CmdletSpec, set_name: str, bound: t.Container[str]) -> t.List[str]:
    return [p.name for p in spec.params.values() if set_name in p.sets and p.sets[set_name].required and p.name not in bound]


def choose_set(spec: CmdletSpec, candidates: t.Sequence[str], bound: t.Container[str]) -> t.Optional[str]:
    """PowerShell's choice among the remaining sets, or None when it cannot decide."""
    if len(candidates) == 1:
        return candidates[0]
    satisfied = [s for s in candidates if not _missing(spec, s, bound)]
    if len(satisfied) == 1:
        return satisfied[0]
    if spec.default_set in candidates and (not satisfied or spec.default_set in satisfied):
        return spec.default_set
    return None


def finish(prep: Prepared) -> t.Tuple[str, t.Dict[str, t.Any]]:
    """Resolve the set of a command that gets no pipeline input (raises BindingError)."""
    spec = prep.spec
    set_name = choose_set(spec, prep.candidates, prep.values)
    if set_name is None:
        raise _err(spec, "AmbiguousParameterSet", MSG_AMBIGUOUS_SET)
    missing = _missing(spec, set_name, prep.values)
    if missing:
        raise _err(spec, "MissingMandatoryParameter", MSG_MISSING_MANDATORY.format("".join(" " + m for m in missing)))
    return set_name, dict(prep.values)


def check_downstream(prep: Prepared) -> None:
    """Before the pipeline runs: a downstream command whose every candidate set lacks a mandatory
    parameter that pipeline input cannot supply fails like a first command would (PowerShell
    prompts for those before processing; non-interactive hosts fail)."""
    spec = prep.spec
    blocked = []
    for s in prep.candidates:
        lacking = [
            n
            for n in _missing(spec, s, prep.values)
            if not (spec.params[n].sets[s].by_value or spec.params[n].sets[s].by_property_name)
        ]
        if lacking:
            blocked.append((s, lacking))
    if blocked and len(blocked) == len(prep.candidates):
        # Parameters mandatory (and not pipeline-bindable) in every remaining set are the ones
        # PowerShell would prompt for before the pipeline starts.
        common = [n for n in blocked[0][1] if all(n in lacking for _set, lacking in blocked[1:])]
        if common:
            raise _err(spec, "MissingMandatoryParameter", MSG_MISSING_MANDATORY.format("".join(" " + m for m in common)))


# ---------------------------------------------------------------------------------------------
# pipeline binding

_BY_VALUE_NO_COERCION, _BY_NAME_NO_COERCION, _BY_VALUE_COERCION, _BY_NAME_COERCION = range(4)


def _exact_match(param: ParamInfo, value: t.Any) -> bool:
    """Would ``value`` bind to ``param`` without type coercion?"""
    et = param.element_type
    if isinstance(value, (list, tuple)):
        return param.is_array and all(v is None or _exact_match_element(param, v) for v in value)
    if value is None:
        return True
    return _exact_match_element(param, value)


def _exact_match_element(param: ParamInfo, value: t.Any) -> bool:
    et = param.element_type
    kind = SCALAR_KINDS.get(et)
    if param.is_enum:
        return isinstance(value, HvEnum) and value.type_name == param.dotnet_element_type
    if kind == "any":
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "int":
        return (isinstance(value, HvInt) and value.dotnet_type == et) or (isinstance(value, int) and not isinstance(value, bool))
    if kind in ("bool", "switch"):
        return isinstance(value, bool)
    if kind == "guid":
        return isinstance(value, HvGuid)
    accepted = OBJECT_TYPES.get(et)
    if accepted is not None:
        return (
            isinstance(value, HvObject)
            and bool(accepted.intersection(object_type_names(value)))
            and (not param.ps_type_name or _has_ps_type_name(value, param.ps_type_name))
        )
    return False


def _property(obj: t.Any, param: ParamInfo) -> t.Tuple[bool, t.Any]:
    props = obj.properties if isinstance(obj, (HvObject, Deserialized)) else None
    if not props:
        return False, None
    lowered = {k.lower(): k for k in props}
    for n in (param.name,) + param.aliases:
        k = lowered.get(n.lower())
        if k is not None:
            return True, props[k]
    return False, None


def bind_input(prep: Prepared, obj: t.Any) -> t.Tuple[str, t.Dict[str, t.Any]]:
    """Bind one pipeline input object; returns (set, args). Raises BindingError (non-terminating)."""
    spec = prep.spec
    values = dict(prep.values)
    valid = list(prep.candidates)
    pipeline_bound: t.List[str] = []

    def try_state(state: int, sets: t.Sequence[str]) -> bool:
        bound_any = False
        for p in spec.params.values():
            if p.name in values or p.kind != "cmdlet":
                continue
            bindings = [p.sets[s] for s in sets if s in p.sets]
            if not bindings:
                continue
            if state in (_BY_VALUE_NO_COERCION, _BY_VALUE_COERCION):
                if not any(b.by_value for b in bindings):
                    continue
                raw = obj
            else:
                if not any(b.by_property_name for b in bindings):
                    continue
                found, raw = _property(obj, p)
                if not found:
                    continue
            if state in (_BY_VALUE_NO_COERCION, _BY_NAME_NO_COERCION):
                if not _exact_match(p, raw):
                    continue
                try:
                    v = convert(p, raw, spec.name)
                except BindingError:
                    continue
            else:
                try:
                    v = convert(p, raw, spec.name)
                except BindingError:
                    if state == _BY_VALUE_COERCION:
                        continue  # PowerShell ignores cast failures for ByValue
                    raise
            validate(spec, p, v)
            values[p.name] = v
            pipeline_bound.append(p.name)
            bound_any = True
        return bound_any

    for state in range(4):
        bound = False
        others = valid
        if spec.default_set in valid:
            bound = try_state(state, [spec.default_set])
            others = [s for s in valid if s != spec.default_set]
        if not bound and others:
            bound = try_state(state, others)
        if bound:
            valid = list(_sets_for(spec, pipeline_bound, prep.candidates))
            if not valid:
                raise BindingError(
                    E.binding_error("AmbiguousParameterSet", cmdlet=spec.name, message=MSG_AMBIGUOUS_SET)
                )
    if not pipeline_bound:
        raise BindingError(E.binding_error("InputObjectNotBound", cmdlet=spec.name, message=MSG_INPUT_NOT_BOUND, target=to_ps_string(obj)))
    set_name = choose_set(spec, valid, values)
    if set_name is None:
        raise BindingError(E.binding_error("AmbiguousParameterSet", cmdlet=spec.name, message=MSG_AMBIGUOUS_SET))
    missing = _missing(spec, set_name, values)
    if missing:
        raise BindingError(
            E.binding_error(
                "InputObjectMissingMandatory",
                cmdlet=spec.name,
                message=MSG_INPUT_MISSING_MANDATORY.format("".join(" " + m for m in missing)),
                target=to_ps_string(obj),
            )
        )
    return set_name, values
