"""The contract between the engine (binding, pipelines) and the cmdlet handlers (the model side).

A handler implements one canonical cmdlet (``Get-VMSnapshot``, not an alias, no module prefix).
The engine binds the call against the catalogue first, then calls the handler once per bound
invocation (once per pipeline input object when the cmdlet takes pipeline input, PowerShell's
process-block semantics), with the arguments keyed by *canonical* parameter names.

Argument values in ``BoundCommand.args`` (converted by hvsim.engine.binder):

* only parameters that were bound are present; a switch not given is absent, ``-Confirm:$false``
  is ``args["Confirm"] = False``, a given switch is ``True``;
* ``String`` -> ``str``; array types (``String[]``, ``Guid[]``, ``VirtualMachine[]``, ...) -> ``list``
  even for a single value; ``Guid`` -> lower-case ``str``; integer types -> ``int``;
  ``Boolean`` -> ``bool``; enums -> the canonical member name (``"Production"``, ``"Standard"``);
* object parameters (``VM``, ``VMSnapshot``, ...) -> the ``HvObject`` the previous command emitted
  (a list for array-typed ones); pipeline-bound parameters are not in ``explicit``;
* common parameters keep their canonical names (``ErrorAction``, ``Verbose``, ...); the engine
  itself applies ``-ErrorAction`` / ``-WarningAction`` to what the handler writes.
"""

from __future__ import annotations

import dataclasses
import typing as t

from .types import CallContext, HvError, HvObject


@dataclasses.dataclass
class BoundCommand:
    cmdlet: str  # canonical cmdlet name, e.g. "Checkpoint-VM"
    module: str  # e.g. "Hyper-V"
    parameter_set: str
    args: t.Dict[str, t.Any]  # canonical parameter name -> value; switches are bool
    explicit: t.FrozenSet[str] = frozenset()  # parameter names the caller gave (not pipeline-bound)
    # True when ShouldProcess would prompt (ConfirmImpact High without -Confirm:$false, or
    # -Confirm given); the handler decides what a non-interactive host does then.
    confirm_required: bool = False


class CmdletError(Exception):
    """Raised by a handler for an error that stops this invocation (written as an ErrorRecord).

    Hyper-V cmdlets write errors as non-terminating (WriteError): the pipeline goes on with the
    next input object and ends Completed. Set ``error.terminating`` for errors that must end
    the pipeline as Failed.
    """

    def __init__(self, error: HvError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclasses.dataclass
class HandlerContext:
    call: CallContext
    model: t.Any  # hvsim.model.Lab (owned by the model side)
    write_error: t.Callable[[HvError], None]
    write_warning: t.Callable[[str], None]
    mark_mutated: t.Callable[[], None]  # a handler that changes state calls this before returning


Handler = t.Callable[[HandlerContext, BoundCommand], t.List[HvObject]]

HANDLERS: t.Dict[str, Handler] = {}
WRITES: t.Set[str] = set()


def handler(cmdlet: str, *, writes: bool = False) -> t.Callable[[Handler], Handler]:
    """Register ``fn`` as the implementation of ``cmdlet``; ``writes`` marks state-changing cmdlets."""

    def register(fn: Handler) -> Handler:
        HANDLERS[cmdlet] = fn
        if writes:
            WRITES.add(cmdlet)
        return fn

    return register
