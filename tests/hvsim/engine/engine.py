"""Run a structured pipeline: resolve cmdlets, bind parameters, dispatch to handlers.

``Engine(lab).run_pipeline(calls, context) -> PipelineResult`` is the only entry point the server
uses. It is thread-safe and holds no lock while a handler runs (handlers may sleep for simulated
durations; the model does its own locking).

Semantics (PowerShell's, see hyperv-cmdlets-notes.md §A and docs/contracts.md §2):

* Every command is resolved and its named parameters bound **before anything runs**; an unknown
  command (``CommandNotFoundException``) or a binding error ends the pipeline as Failed.
* The first command runs once. A later command runs once per input object (process-block
  semantics) with the object bound ByValue/ByPropertyName; objects flow depth-first, as
  PowerShell streams them. A downstream command with no input never runs.
* Handler errors: ``ctx.write_error(err)`` is non-terminating; ``raise CmdletError(err)`` ends that
  invocation (non-terminating unless ``err.terminating``). ``-ErrorAction Stop`` turns the first
  non-terminating error into a terminating one, ``SilentlyContinue``/``Ignore`` drop them
  (``-WarningAction`` likewise for warnings). Any other exception raised by a handler becomes a
  terminating ErrorRecord and is logged; the server never sees it.
* Per-object pipeline binding failures are non-terminating errors, as in PowerShell.
"""

from __future__ import annotations

import importlib
import logging
import threading
import typing as t

from . import binder as B
from . import errors as E
from .catalogue import Catalogue, CmdletSpec, get_catalogue
from .registry import HANDLERS, BoundCommand, CmdletError, Handler, HandlerContext
from .types import CallContext, CommandCall, HvError, HvObject, PipelineResult

log = logging.getLogger("hvsim.engine")

_IMPORT_LOCK = threading.Lock()
_HANDLERS_IMPORTED = False
_HANDLER_IMPORT_ERROR: t.Optional[str] = None


def _import_handlers() -> None:
    """Import ``hvsim.engine.cmdlets`` once so that handlers self-register."""
    global _HANDLERS_IMPORTED
    if _HANDLERS_IMPORTED:
        return
    with _IMPORT_LOCK:
        if _HANDLERS_IMPORTED:
            return
        global _HANDLER_IMPORT_ERROR
        try:
            importlib.import_module("hvsim.engine.cmdlets")
        except Exception as exc:  # a broken handler module must not take the server down
            if not (isinstance(exc, ModuleNotFoundError) and exc.name == "hvsim.engine.cmdlets"):
                log.exception("hvsim: importing the cmdlet handlers failed")
            _HANDLER_IMPORT_ERROR = f"{type(exc).__name__}: {exc}"
        _HANDLERS_IMPORTED = True


class _Stop(Exception):
    """Raised inside write_error under -ErrorAction Stop (PowerShell throws from WriteError too)."""

    def __init__(self, error: HvError) -> None:
        super().__init__(error.message)
        self.error = error


def not_implemented(spec: CmdletSpec) -> HvError:
    why = "no handler is registered"
    if _HANDLER_IMPORT_ERROR:
        why += f"; importing hvsim.engine.cmdlets failed with {_HANDLER_IMPORT_ERROR}"
    return HvError(
        fqid=f"NotImplemented,{spec.class_name}",
        category="NotImplemented",
        message=f"hvsim does not implement the cmdlet '{spec.module}\\{spec.name}' (it is in the catalogue, but {why}).",
        target=spec.name,
        exception="System.NotImplementedException",
        terminating=True,
    )


def internal_error(spec: CmdletSpec, exc: BaseException) -> HvError:
    return HvError(
        fqid=f"HvsimInternalError,{spec.class_name}",
        category="NotSpecified",
        message=f"hvsim internal error in {spec.name}: {type(exc).__name__}: {exc}",
        target=spec.name,
        exception="System.InvalidOperationException",
        terminating=True,
    )


class _Stage:
    __slots__ = ("spec", "prep", "handler", "error_action", "warning_action")

    def __init__(self, spec: CmdletSpec, prep: B.Prepared, handler: t.Optional[Handler]) -> None:
        self.spec = spec
        self.prep = prep
        self.handler = handler
        self.error_action = prep.values.get("ErrorAction")
        self.warning_action = prep.values.get("WarningAction")


class _Run:
    """State of one pipeline run (one per run_pipeline call; never shared between threads)."""

    def __init__(self, engine: "Engine", stages: t.List[_Stage], context: CallContext) -> None:
        self.engine = engine
        self.stages = stages
        self.context = context
        self.result = PipelineResult()
        if not hasattr(self.result, "warnings"):
            self.result.warnings = []  # type: ignore[attr-defined]

    # -- error plumbing --------------------------------------------------------------------
    def _write_error(self, stage: _Stage, error: HvError) -> None:
        if error.terminating:
            raise _Stop(error)
        action = stage.error_action
        if action == "Stop":
            raise _Stop(_as_terminating(error))
        if action in ("SilentlyContinue", "Ignore"):
            return
        self.result.errors.append(error)

    def _write_warning(self, stage: _Stage, text: str) -> None:
        action = stage.warning_action
        if action in ("SilentlyContinue", "Ignore"):
            return
        if action == "Stop":
            raise _Stop(
                HvError(
                    fqid="ActionPreferenceStop",
                    category="OperationStopped",
                    message="The running command stopped because the preference variable \"WarningPreference\" "
                    f"or common parameter is set to Stop: {text}",
                    exception="System.Management.Automation.ActionPreferenceStopException",
                    terminating=True,
                )
            )
        self.result.warnings.append(text)  # type: ignore[attr-defined]

    # -- execution -------------------------------------------------------------------------
    def invoke(self, index: int, set_name: str, args: t.Dict[str, t.Any]) -> None:
        stage = self.stages[index]
        bound = BoundCommand(
            cmdlet=stage.spec.name,
            module=stage.spec.module,
            parameter_set=set_name,
            args=args,
            explicit=stage.prep.explicit,
            confirm_required=confirm_required(stage.spec, args),
        )
        result = self.result

        def mark_mutated() -> None:
            result.mutated = True

        ctx = HandlerContext(
            call=self.context,
            model=self.engine.lab,
            write_error=lambda err: self._write_error(stage, err),
            write_warning=lambda text: self._write_warning(stage, text),
            mark_mutated=mark_mutated,
        )
        assert stage.handler is not None
        try:
            out = stage.handler(ctx, bound)
        except _Stop:
            raise
        except CmdletError as exc:
            self._write_error(stage, exc.error)
            return
        except Exception as exc:  # noqa: BLE001 - never crash the server
            log.exception("hvsim: handler for %s raised", stage.spec.name)
            raise _Stop(internal_error(stage.spec, exc)) from None
        if out is None:
            return
        if isinstance(out, HvObject):
            out = [out]
        for obj in out:
            self.emit(index + 1, obj)

    def emit(self, index: int, obj: t.Any) -> None:
        if index >= len(self.stages):
            self.result.output.append(obj)
            return
        stage = self.stages[index]
        try:
            set_name, args = B.bind_input(stage.prep, obj)
        except B.BindingError as exc:
            # pipeline-input binding errors are written per object (non-terminating)
            err = exc.error
            err.terminating = False
            self._write_error(stage, err)
            return
        self.invoke(index, set_name, args)


def confirm_required(spec: CmdletSpec, args: t.Mapping[str, t.Any]) -> bool:
    """Would ShouldProcess prompt? (notes §A.3, about_Preference_Variables $ConfirmPreference)

    With the default ``$ConfirmPreference = High`` a cmdlet prompts when its ConfirmImpact is High
    (only Restore-VMSnapshot here) or when ``-Confirm`` is given; ``-Confirm:$false`` and
    ``-WhatIf`` suppress the prompt.
    """
    if not spec.supports_should_process or args.get("WhatIf"):
        return False
    confirm = args.get("Confirm")
    if confirm is not None:
        return bool(confirm)
    return (spec.confirm_impact or "Medium") == "High"


def _as_terminating(error: HvError) -> HvError:
    return HvError(
        fqid=error.fqid,
        category=error.category,
        message=error.message,
        target=error.target,
        exception=error.exception,
        terminating=True,
    )


class Engine:
    """Binds and runs pipelines against ``lab`` (the model's Lab object, passed to handlers)."""

    def __init__(
        self,
        lab: t.Any,
        *,
        catalogue: t.Optional[Catalogue] = None,
        handlers: t.Optional[t.Mapping[str, Handler]] = None,
    ) -> None:
        self.lab = lab
        self.catalogue = catalogue or get_catalogue()
        self._handlers = handlers  # None: the shared registry (hvsim.engine.cmdlets)

    def handler_for(self, spec: CmdletSpec) -> t.Optional[Handler]:
        if self._handlers is not None:
            return self._handlers.get(spec.name)
        _import_handlers()
        return HANDLERS.get(spec.name)

    def bind(self, call: CommandCall, *, first: bool = True) -> t.Tuple[CmdletSpec, B.Prepared]:
        """Resolve and bind one command's named parameters (raises B.BindingError)."""
        spec = self.catalogue.resolve_command(call.cmdlet)
        if spec is None:
            raise B.BindingError(E.command_not_found(call.cmdlet))
        prep = B.prepare(spec, call.parameters or ())
        if not first:
            B.check_downstream(prep)
        return spec, prep

    def run_pipeline(self, calls: t.Sequence[CommandCall], context: CallContext) -> PipelineResult:
        stages: t.List[_Stage] = []
        failed = PipelineResult()
        if not hasattr(failed, "warnings"):
            failed.warnings = []  # type: ignore[attr-defined]
        try:
            for i, call in enumerate(calls):
                spec, prep = self.bind(call, first=(i == 0))
                stages.append(_Stage(spec, prep, None))
            first_set, first_args = B.finish(stages[0].prep) if stages else ("", {})
        except B.BindingError as exc:
            log.debug("hvsim: binding failed: %s", exc.error.fqid)
            failed.errors.append(_as_terminating(exc.error))
            failed.failed = True
            return failed
        except Exception as exc:  # noqa: BLE001 - a binder bug must not crash the server
            log.exception("hvsim: binder failure")
            failed.errors.append(
                HvError(
                    fqid="HvsimInternalError",
                    category="NotSpecified",
                    message=f"hvsim internal error while binding: {type(exc).__name__}: {exc}",
                    exception="System.InvalidOperationException",
                    terminating=True,
                )
            )
            failed.failed = True
            return failed
        for stage in stages:
            stage.handler = self.handler_for(stage.spec)
            if stage.handler is None:
                failed.errors.append(not_implemented(stage.spec))
                failed.failed = True
                return failed
        run = _Run(self, stages, context)
        if not stages:
            return run.result
        try:
            run.invoke(0, first_set, first_args)
        except _Stop as stop:
            run.result.errors.append(_as_terminating(stop.error))
            run.result.failed = True
        except Exception as exc:  # noqa: BLE001 - engine bug: report, never crash the server
            log.exception("hvsim: engine failure")
            run.result.errors.append(internal_error(stages[0].spec, exc))
            run.result.failed = True
        return run.result
