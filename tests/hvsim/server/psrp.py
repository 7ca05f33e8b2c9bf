"""PSRP over WS-Man: a psrpcore ServerRunspacePool per shell, ServerPipelines per CommandId.

psrpcore is Sans-IO: incoming fragments go in with ``receive_data``, events come out of
``next_event``, outgoing payloads come out of ``data_to_send`` carrying their pipeline id.
Outgoing payloads are routed into per-target queues (``None`` = the pool) that Receive drains.
"""

from __future__ import annotations

import base64
import collections
import threading
import typing as t
import uuid

import psrpcore
import psrpcore.types as T
from psrpcore.types import PSInvocationState, RunspacePoolState

from hvsim.engine.types import CallContext, CommandCall, HvError, HvObject, PipelineResult

from . import clixml, serialize

FRAGMENT_SIZE = 32768


def start_quietly(pipeline: psrpcore.ServerPipeline) -> None:
    """Mark a pipeline Running without telling the client.

    psrpcore's ``start()`` queues a PIPELINE_STATE Running message. A Windows server does not send
    one: PowerShell's ServerPowerShellDriver.HandlePowerShellInvocationStateChanged sends the state
    to the client only for Completed, Failed and Stopped (docs/hvsim.md, "PSRP"). The extra message
    made every pipeline cost one more Receive than on a real host.
    """
    valid = (PSInvocationState.NotStarted, PSInvocationState.Stopped, PSInvocationState.Completed)
    if pipeline.state not in valid:
        raise psrpcore.InvalidPipelineState("start a pipeline", pipeline.state, list(valid))
    pipeline._change_state(PSInvocationState.Running, emit=False)  # pylint: disable=protected-access


class PSRPPipelineState:
    def __init__(self, pipeline: psrpcore.ServerPipeline):
        self.pipeline = pipeline
        self.started = False
        self.finished = False
        self.drop_pending = False
        self.worker: t.Optional[threading.Thread] = None


class PSRPShell:
    kind = "psrp"

    def __init__(self, server: t.Any, shell_id: str, owner: str, host: str, resource_uri: str):
        self.server = server
        self.id = shell_id
        self.owner = owner
        self.host = host
        self.resource_uri = resource_uri
        self.cond = threading.Condition()
        self.pool = psrpcore.ServerRunspacePool()
        self.queues: t.Dict[t.Optional[uuid.UUID], t.Deque[bytes]] = collections.defaultdict(collections.deque)
        self.pipelines: t.Dict[uuid.UUID, PSRPPipelineState] = {}
        self.op_count = 0
        self.closed = False

    # -- plumbing (call with self.cond held) ----------------------------------------------
    def _drain(self) -> None:
        while True:
            payload = self.pool.data_to_send(FRAGMENT_SIZE)
            if payload is None:
                break
            self.queues[payload.pipeline_id].append(payload.data)
        self.cond.notify_all()

    def _feed(self, data: bytes, pipeline_id: t.Optional[uuid.UUID], prompt_response: bool = False) -> None:
        stream = psrpcore.StreamType.prompt_response if prompt_response else psrpcore.StreamType.default
        self.pool.receive_data(psrpcore.PSRPPayload(data, stream, pipeline_id))
        while True:
            event = self.pool.next_event()
            if event is None:
                break
            self._handle_event(event)
        self._drain()

    def _handle_event(self, event: t.Any) -> None:
        if isinstance(event, psrpcore.CreatePipelineEvent):
            state = self.pipelines.get(event.pipeline_id)
            if state is not None and not state.started:
                state.started = True
                state.worker = threading.Thread(
                    target=self._run, args=(state, event.pipeline), name="hvsim-psrp-%s" % str(event.pipeline_id)[:8], daemon=True
                )
                self.server.track_thread(state.worker)
                state.worker.start()
        elif isinstance(event, psrpcore.GetAvailableRunspacesEvent):
            self.pool.runspace_availability_response(event.ci, 1)
        elif isinstance(event, (psrpcore.SetMaxRunspacesEvent, psrpcore.SetMinRunspacesEvent, psrpcore.ResetRunspaceStateEvent)):
            self.pool.runspace_availability_response(event.ci, True)
        elif isinstance(event, psrpcore.GetCommandMetadataEvent):
            # Not supported: finish the pipeline with no output.
            state = self.pipelines.get(event.pipeline_id)
            if state is not None:
                start_quietly(state.pipeline)
                state.pipeline.complete()
                state.finished = True
        # Everything else (session capability, init, key exchange, host responses, input) is
        # handled inside psrpcore or needs no action.

    # -- operations ---------------------------------------------------------------------------
    def create(self, creation_xml_b64: str) -> None:
        with self.cond:
            self._feed(base64.b64decode(creation_xml_b64), None)

    def command(self, command_id: str, arguments_b64: t.List[str]) -> str:
        pid = uuid.UUID(command_id)
        with self.cond:
            # The ServerPipeline must exist before the CREATE_PIPELINE fragment is fed.
            pipeline = psrpcore.ServerPipeline(self.pool, pid)
            self.pipelines[pid] = PSRPPipelineState(pipeline)
            self.op_count += 1
            for arg in arguments_b64:
                if arg:
                    self._feed(base64.b64decode(arg), pid)
        return command_id

    def send(self, command_id: t.Optional[str], data: bytes, prompt_response: bool = False) -> None:
        pid = uuid.UUID(command_id) if command_id else None
        with self.cond:
            self._feed(data, pid, prompt_response)

    def signal(self, command_id: t.Optional[str], code: str) -> None:
        if not command_id:
            return
        pid = uuid.UUID(command_id)
        with self.cond:
            state = self.pipelines.get(pid)
            if state is None:
                return
            pipeline = state.pipeline
            try:
                if pipeline.state in (PSInvocationState.Running, PSInvocationState.Stopping):
                    pipeline.stop()
                    state.finished = True
                if code.endswith("terminate"):
                    if pipeline.state == PSInvocationState.Running:
                        pipeline.stop()
                    pipeline.close()
                    self.pipelines.pop(pid, None)
                    self._drain()
                    self.queues.pop(pid, None)
            finally:
                self._drain()

    def close(self) -> None:
        with self.cond:
            for pid, state in list(self.pipelines.items()):
                try:
                    if state.pipeline.state in (PSInvocationState.Running, PSInvocationState.Stopping):
                        state.pipeline.stop()
                    state.pipeline.close()
                except Exception as exc:  # pragma: no cover - defensive
                    self.server.log("closing pipeline %s: %r" % (pid, exc))
                    self.pool.pipeline_table.pop(pid, None)
            self.pipelines.clear()
            try:
                if self.pool.state in (RunspacePoolState.Opened, RunspacePoolState.Closing, RunspacePoolState.Closed):
                    self.pool.close()
            except Exception as exc:  # pragma: no cover - defensive
                self.server.log("closing pool %s: %r" % (self.id, exc))
            self.closed = True
            self.cond.notify_all()

    def receive(self, command_id: t.Optional[str], timeout: float, max_bytes: int) -> t.Tuple[t.List[bytes], t.Optional[str], bool]:
        """Block until data for the target or ``timeout``. Returns (payloads, state or None for the pool, drop)."""
        pid = uuid.UUID(command_id) if command_id else None
        with self.cond:
            queue = self.queues[pid]

            def ready() -> bool:
                if queue or self.closed or self.server.stopping:
                    return True
                if pid is not None:
                    state = self.pipelines.get(pid)
                    return state is None
                return False

            if not self.cond.wait_for(ready, timeout=timeout):
                return [], "Timeout", False
            payloads: t.List[bytes] = []
            total = 0
            while queue and (not payloads or total + len(queue[0]) <= max_bytes):
                data = queue.popleft()
                payloads.append(data)
                total += len(data)
            if pid is None:
                return payloads, None, False
            state = self.pipelines.get(pid)
            done = state is None or (state.finished and not queue)
            drop = bool(state is not None and done and state.drop_pending)
            if drop:
                state.drop_pending = False
            return payloads, "Done" if done else "Running", drop

    # -- execution ------------------------------------------------------------------------------
    def _calls(self, powershell: t.Any) -> t.Tuple[t.List[CommandCall], t.Optional[HvError]]:
        calls: t.List[CommandCall] = []
        for cmd in powershell.commands:
            if cmd.is_script:
                return [], HvError(
                    fqid="ScriptsNotSupported,hvsim.PSRP",
                    category="PermissionDenied",
                    message="hvsim runs cmdlets only (add_cmdlet/add_parameter); scripts (add_script) are not "
                    "interpreted by this simulated host.",
                    target=None,
                    exception="System.Management.Automation.PSNotSupportedException",
                    terminating=True,
                )
            params = []
            for name, value in cmd.parameters:
                params.append((None if name is None else str(name), True if (value is None and name is not None) else serialize.from_ps(value)))
            calls.append(CommandCall(cmdlet=str(cmd.command_text), parameters=params))
        return calls, None

    def _run(self, state: PSRPPipelineState, powershell: t.Any) -> None:
        pipeline = state.pipeline
        calls: t.List[CommandCall] = []
        reject: t.Optional[HvError] = None
        try:
            with self.cond:
                if self.closed or pipeline.pipeline_id not in self.pipelines:
                    return
                start_quietly(pipeline)
                self._drain()
            calls, reject = self._calls(powershell)
            if reject is not None:
                result = PipelineResult(errors=[reject], failed=True)
            else:
                context = CallContext(host=self.host, user=self.owner, transport="psrp")
                result = self.server.run_pipeline(calls, context)
        except Exception as exc:
            self.server.log("psrp pipeline failed: %r" % exc)
            result = PipelineResult(
                errors=[HvError(fqid="hvsimInternalError", category="NotSpecified", message="hvsim internal error: %s" % exc,
                                exception="System.Exception", terminating=True)],
                failed=True,
            )
        activity = calls[-1].cmdlet.split("\\")[-1] if reject is None and calls else ""
        drop = result.mutated and self.server.faults.fire("drop_after_mutation", self.host)
        with self.cond:
            if self.closed or pipeline.pipeline_id not in self.pipelines or pipeline.state != PSInvocationState.Running:
                return
            try:
                for obj in result.output:
                    if isinstance(obj, HvObject):
                        # No PSComputerName/RunspaceId notes: Invoke-Command adds those on the client side,
                        # a raw PSRP pipeline's output does not carry them.
                        clixml.write_output(pipeline, obj)
                    else:
                        pipeline.write_output(serialize.ps_value(obj, 1))
                for text in getattr(result, "warnings", None) or []:
                    pipeline.write_warning(str(text))
                terminating = None
                if result.failed:
                    terminating = next((e for e in result.errors if e.terminating), None) or (result.errors[-1] if result.errors else None)
                for err in result.errors:
                    if err is terminating:
                        continue
                    record = serialize.ps_error_record(err, activity)
                    pipeline.write_error(
                        exception=record.Exception,
                        category_info=record.CategoryInfo,
                        target_object=err.target,
                        fully_qualified_error_id=err.fqid,
                    )
                if result.failed:
                    record = serialize.ps_error_record(terminating, activity) if terminating else None
                    pipeline._change_state(PSInvocationState.Failed, record)
                else:
                    pipeline.complete()
                state.drop_pending = drop
                state.finished = True
            finally:
                self._drain()
