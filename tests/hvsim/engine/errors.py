"""Standard ErrorRecords for hvsim: Hyper-V cmdlet errors and PowerShell binder errors.

API for cmdlet handlers (the model side)
----------------------------------------
::

    from hvsim.engine.errors import hv_error, ErrorIds, Messages
    from hvsim.engine.registry import CmdletError

    # non-terminating, then go on with the next object (Hyper-V's WriteError):
    ctx.write_error(hv_error("ObjectNotFound", cmdlet="Get-VMSnapshot",
                             message=Messages.SNAPSHOT_NOT_FOUND, target=vm_name))
    # or stop this invocation (still non-terminating for the pipeline):
    raise CmdletError(hv_error("InvalidState", cmdlet=bound.cmdlet,
                               message=Messages.INVALID_STATE, target=vm.name))

``hv_error(error_id, *, cmdlet, message, target=None, category=None, exception=None,
terminating=False) -> HvError``

* ``error_id``: one of the notes' §A.4 ErrorIds (``ErrorIds.*``): ObjectNotFound, InvalidParameter,
  InvalidState, InvalidOperation, OperationFailed, AccessDenied, ObjectInUse, OperationTimeout,
  NotSupported, Unspecified. The category is filled in from the notes' pairs
  (ObjectNotFound/ObjectNotFound, InvalidParameter/InvalidArgument, InvalidState/InvalidOperation,
  InvalidOperation/InvalidOperation, OperationFailed/InvalidOperation, AccessDenied/PermissionDenied,
  ObjectInUse/ResourceBusy, OperationTimeout/OperationTimeout, NotSupported/InvalidOperation,
  Unspecified/NotSpecified) unless ``category`` is given.
* ``cmdlet``: canonical name (``"Get-VMSnapshot"``; an alias or ``Hyper-V\\`` prefix is accepted
  too). The FQID is ``"<ErrorId>,<implementing class>"``, e.g.
  ``ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMSnapshot``; the classes come from
  ``hyperv-cmdlets-module-diff.json`` (Get-VHD is ``Microsoft.Vhd.PowerShell.Cmdlets.GetVHD``).
* ``target``: the TargetObject as a string (VM name, checkpoint name, id) or None.
* ``exception`` defaults to ``Microsoft.HyperV.PowerShell.VirtualizationException``.

Other helpers: ``fqid(error_id, cmdlet)``, ``cmdlet_class(cmdlet)``, ``Messages`` (message texts
from notes §A/§B, R-DEC resource strings; use ``.format(...)``), and the binder's
``binding_error(...)`` / ``command_not_found(...)`` used by the engine itself.
"""

from __future__ import annotations

import functools
import json
import typing as t

from .types import HvError

VIRTUALIZATION_EXCEPTION = "Microsoft.HyperV.PowerShell.VirtualizationException"
PARAMETER_BINDING_EXCEPTION = "System.Management.Automation.ParameterBindingException"
VALIDATION_EXCEPTION = "System.Management.Automation.ParameterBindingValidationException"
COMMAND_NOT_FOUND_EXCEPTION = "System.Management.Automation.CommandNotFoundException"


class ErrorIds:
    OBJECT_NOT_FOUND = "ObjectNotFound"
    INVALID_PARAMETER = "InvalidParameter"
    INVALID_STATE = "InvalidState"
    INVALID_OPERATION = "InvalidOperation"
    OPERATION_FAILED = "OperationFailed"
    ACCESS_DENIED = "AccessDenied"
    OBJECT_IN_USE = "ObjectInUse"
    OPERATION_TIMEOUT = "OperationTimeout"
    NOT_SUPPORTED = "NotSupported"
    UNSPECIFIED = "Unspecified"


# notes §A.4: ErrorId -> ErrorCategory
CATEGORY_FOR_ID: t.Dict[str, str] = {
    "ObjectNotFound": "ObjectNotFound",
    "InvalidParameter": "InvalidArgument",
    "InvalidState": "InvalidOperation",
    "InvalidOperation": "InvalidOperation",
    "OperationFailed": "InvalidOperation",
    "AccessDenied": "PermissionDenied",
    "ObjectInUse": "ResourceBusy",
    "OperationTimeout": "OperationTimeout",
    "NotSupported": "InvalidOperation",
    "Unspecified": "NotSpecified",
}


class Messages:
    """Message texts from hyperv-cmdlets-notes.md (R-DEC resource strings unless noted)."""

    VM_NOT_FOUND_BY_NAME = 'Hyper-V was unable to find a virtual machine with name "{0}".'
    VM_NOT_FOUND_BY_ID = 'Hyper-V was unable to find a virtual machine with id "{0}".'
    SNAPSHOT_NOT_FOUND = "Unable to find a snapshot matching the given criteria."
    SNAPSHOT_AMBIGUOUS = "More than one snapshot was found matching the given criteria."
    INVALID_STATE = "The operation cannot be performed while the virtual machine is in its current state."
    ALREADY_IN_STATE = "The virtual machine is already in the specified state."  # a warning
    PAUSED_USE_RESUME = (
        'The virtual machine "{0}" was paused. Use the Resume-VM cmdlet to return a paused virtual '
        "machine to a running state."
    )  # a warning
    SAVE_TURNOFF_EXCLUSIVE = "The Save and TurnOff parameters are mutually exclusive."
    DYNAMIC_STATIC_MEMORY = (
        "Dynamic and static memory settings cannot be specified together. To set maximum memory, "
        "minimum memory and buffer settings, turn on Dynamic Memory as well."
    )
    INTEGRATION_COMPONENT_NOT_FOUND = "No integration component with the given name could be found."
    NOT_A_VHD = "'{0}' is not an existing virtual hard disk file."


# Fallbacks for cmdlets the module-diff file gives no implementing class for.
# [inferred, OBS] FailoverClusters: console output shows GetClusterCommand, GetNodeCommand,
# GetResourceCommand and MoveClusterGroupCommand, hence GetClusterGroupCommand; Get-Volume is
# a CDXML function, whose FQID suffix is the command name; Get-CimInstance's class is
# Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand (PowerShell source,
# src/Microsoft.Management.Infrastructure.CimCmdlets/GetCimInstanceCommand.cs).
_FALLBACK_CLASSES = {
    "Get-Cluster": "Microsoft.FailoverClusters.PowerShell.GetClusterCommand",
    "Get-ClusterNode": "Microsoft.FailoverClusters.PowerShell.GetNodeCommand",
    "Get-ClusterGroup": "Microsoft.FailoverClusters.PowerShell.GetClusterGroupCommand",
    "Get-ClusterResource": "Microsoft.FailoverClusters.PowerShell.GetResourceCommand",
    "Get-Volume": "Get-Volume",
    "Get-CimInstance": "Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand",
}


@functools.lru_cache(maxsize=1)
def _classes() -> t.Dict[str, str]:
    from hvsim._paths import SHARED_REFERENCE

    out = dict(_FALLBACK_CLASSES)
    try:
        data = json.loads((SHARED_REFERENCE / "hyperv-cmdlets-module-diff.json").read_text("utf-8"))
    except OSError:  # pragma: no cover - reference missing
        return out
    for name, info in data.get("cmdlets", {}).items():
        cls = info.get("implementing_class")
        if cls:
            out[name] = cls.split(" ", 1)[0]
    return out


def _canonical(cmdlet: str) -> t.Tuple[str, t.Optional[str]]:
    name = cmdlet.split("\\")[-1]
    try:
        from .catalogue import get_catalogue

        spec = get_catalogue().lookup(name)
        if spec is not None:
            return spec.name, spec.class_name
    except Exception:  # pragma: no cover - catalogue unavailable; use the name as given
        pass
    return name, None


def cmdlet_class(cmdlet: str) -> str:
    """The implementing class (FQID suffix) of a cmdlet, e.g. ``Microsoft.HyperV.PowerShell.Commands.GetVM``."""
    name, cls = _canonical(cmdlet)
    if cls:
        return cls
    classes = _classes()
    if name in classes:
        return classes[name]
    return "Microsoft.HyperV.PowerShell.Commands." + name.replace("-", "")


def fqid(error_id: str, cmdlet: str) -> str:
    return f"{error_id},{cmdlet_class(cmdlet)}"


def hv_error(
    error_id: str,
    *,
    cmdlet: str,
    message: str,
    target: t.Any = None,
    category: t.Optional[str] = None,
    exception: t.Optional[str] = None,
    terminating: bool = False,
) -> HvError:
    """A Hyper-V cmdlet ErrorRecord (VirtualizationException) with the notes' ErrorId/category pair."""
    if category is None:
        category = CATEGORY_FOR_ID.get(error_id, "NotSpecified")
    return HvError(
        fqid=fqid(error_id, cmdlet),
        category=category,
        message=message,
        target=None if target is None else str(target),
        exception=exception or VIRTUALIZATION_EXCEPTION,
        terminating=terminating,
    )


# --- engine-side records -------------------------------------------------------------------


def binding_error(
    error_id: str,
    *,
    cmdlet: str,
    message: str,
    target: t.Any = None,
    category: str = "InvalidArgument",
    exception: str = PARAMETER_BINDING_EXCEPTION,
) -> HvError:
    """A ParameterBindingException ErrorRecord; always terminating (ends the pipeline Failed)."""
    return HvError(
        fqid=fqid(error_id, cmdlet),
        category=category,
        message=message,
        target=None if target is None else str(target),
        exception=exception,
        terminating=True,
    )


COMMAND_NOT_FOUND_MESSAGE = (
    "The term '{0}' is not recognized as the name of a cmdlet, function, script file, or operable "
    "program. Check the spelling of the name, or if a path was included, verify that the path is "
    "correct and try again."
)


def command_not_found(name: str) -> HvError:
    """``CommandNotFoundException`` for an unknown or wrongly qualified command name.

    Text: PowerShell/PowerShell DiscoveryExceptions.resx ``CommandNotFoundException``.
    """
    return HvError(
        fqid="CommandNotFoundException",
        category="ObjectNotFound",
        message=COMMAND_NOT_FOUND_MESSAGE.format(name),
        target=name,
        exception=COMMAND_NOT_FOUND_EXCEPTION,
        terminating=True,
    )
