"""WinRS (cmd shell): commands, stdin, output, and the collection's runner.

A command starts lazily at the first Receive for its CommandId (stdin arrives first via Send).
The only program hvsim "runs" is the collection's WinRS runner: ``powershell.exe ...
-EncodedCommand <BOOTSTRAP>`` (exact bootstrap text) with stdin line 1 = base64 of the runner
(recognised by SHA-256) and line 2 = base64 JSON request. Anything else gets the PowerShell
CLIXML error on stderr and exit code 1.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib
import json
import re
import shlex
import threading
import types
import typing as t
import uuid
from xml.sax.saxutils import escape as xml_escape

from hvsim.engine.types import CallContext, CommandCall, HvError, PipelineResult

from . import serialize

RUNNER_MODULE = "ansible_collections.hyperv.checkpoints.plugins.module_utils._winrs_runner"


class RunnerSpec:
    """The constants hvsim recognises (normally the collection's ``_winrs_runner`` module)."""

    def __init__(self, bootstrap: str, runner: str, runner_sha256: str, allowed: t.Optional[t.Iterable[str]] = None):
        self.bootstrap = bootstrap
        self.runner = runner
        self.runner_sha256 = runner_sha256.lower()
        # the runner's lookup is exact and ordinal (a Dictionary with StringComparer.Ordinal)
        self.allowed = None if allowed is None else frozenset(allowed)
        actual = hashlib.sha256(runner.encode("utf-8")).hexdigest()
        if actual != self.runner_sha256:
            raise RuntimeError(
                "RUNNER_SHA256 (%s) does not match sha256(RUNNER_SCRIPT) (%s): the WinRS runner constants drifted"
                % (self.runner_sha256, actual)
            )

    @classmethod
    def from_module(cls, module: t.Union[str, types.ModuleType] = RUNNER_MODULE) -> "RunnerSpec":
        mod = importlib.import_module(module) if isinstance(module, str) else module
        return cls(
            bootstrap=mod.BOOTSTRAP_SCRIPT,
            runner=mod.RUNNER_SCRIPT,
            runner_sha256=mod.RUNNER_SHA256,
            allowed=getattr(mod, "ALLOWED_CMDLETS", None),
        )


def clixml_error(message: str) -> bytes:
    """stderr as powershell.exe writes it for errors: ``#< CLIXML`` + ``<Objs>`` with Error strings."""
    lines = message.replace("\r\n", "\n").split("\n")
    parts = []
    for line in lines:
        text = xml_escape(line) + "_x000D__x000A_"
        parts.append('<S S="Error">%s</S>' % text)
    return (
        '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        + "".join(parts)
        + "</Objs>"
    ).encode("utf-8")


NOT_INTERPRETED = (
    "hvsim does not interpret arbitrary PowerShell or commands: only the hyperv.checkpoints WinRS runner "
    "(recognised by its bootstrap text and SHA-256) and PSRP cmdlet pipelines (add_cmdlet/add_parameter) are "
    "executed by this simulated host."
)

_ENC_RE = re.compile(r"(?i)^-(e|ec|enc|encodedcommand)$")


def encoded_command(command_line: str) -> t.Optional[str]:
    """The decoded ``-EncodedCommand`` script of a powershell command line, if any."""
    try:
        tokens = shlex.split(command_line, posix=False)
    except ValueError:
        tokens = command_line.split()
    if not tokens or not re.search(r"(?i)(^|[\\/])(powershell|pwsh)(\.exe)?$", tokens[0].strip('"')):
        return None
    for i, tok in enumerate(tokens[1:-1], start=1):
        if _ENC_RE.match(tok):
            try:
                return base64.b64decode(tokens[i + 1].strip('"'), validate=True).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None


class WinRSCommand:
    def __init__(self, command_id: str, command_line: str):
        self.id = command_id
        self.command_line = command_line
        self.stdin = bytearray()
        self.stdin_done = False
        self.started = False
        self.done = False
        self.exit_code = 0
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.sent_out = 0
        self.sent_err = 0
        self.drop_pending = False
        self.worker: t.Optional[threading.Thread] = None


class WinRSShell:
    kind = "winrs"

    def __init__(self, server: t.Any, shell_id: str, owner: str, host: str, resource_uri: str, codepage: str):
        self.server = server
        self.id = shell_id
        self.owner = owner
        self.host = host
        self.resource_uri = resource_uri
        self.codepage = codepage
        self.cond = threading.Condition()
        self.commands: t.Dict[str, WinRSCommand] = {}
        self.op_count = 0
        self.closed = False

    # -- operations ---------------------------------------------------------------------
    def command(self, command_id: t.Optional[str], command_line: str) -> str:
        cid = command_id or str(uuid.uuid4()).upper()
        with self.cond:
            self.commands[cid] = WinRSCommand(cid, command_line)
            self.op_count += 1
        return cid

    def send(self, command_id: str, data: bytes, end: bool) -> None:
        with self.cond:
            cmd = self.commands.get(command_id)
            if cmd is None:
                return
            cmd.stdin += data
            if end:
                cmd.stdin_done = True
            self.cond.notify_all()

    def signal(self, command_id: t.Optional[str], code: str) -> None:
        with self.cond:
            if command_id is None:
                return
            cmd = self.commands.get(command_id)
            if cmd is None:
                return
            if code.endswith("terminate"):
                self.commands.pop(command_id, None)
            cmd.done = True
            cmd.stdin_done = True
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            for cmd in self.commands.values():
                cmd.stdin_done = True
            self.commands.clear()
            self.cond.notify_all()

    def receive(self, command_id: t.Optional[str], timeout: float, max_bytes: int = 1 << 30) -> t.Tuple[t.List[t.Tuple[str, bytes, bool]], str, t.Optional[int], bool]:
        """Block until output, completion or ``timeout``. Returns (streams, state, exit code, drop)."""
        with self.cond:
            cmd = self.commands.get(command_id or "")
            if cmd is None:
                if command_id is None and self.commands:
                    cmd = list(self.commands.values())[-1]
                else:
                    return [], "Done", 0, False
            if not cmd.started:
                cmd.started = True
                cmd.worker = threading.Thread(target=self._execute, args=(cmd,), name="hvsim-winrs-%s" % cmd.id[:8], daemon=True)
                self.server.track_thread(cmd.worker)
                cmd.worker.start()
            deadline_ok = self.cond.wait_for(
                lambda: cmd.done or len(cmd.stdout) > cmd.sent_out or len(cmd.stderr) > cmd.sent_err
                or self.closed or self.server.stopping,
                timeout=timeout,
            )
            if not deadline_ok:
                return [], "Timeout", None, False
            streams = []
            # honour the envelope size: at most max_bytes of output per Receive
            out = bytes(cmd.stdout[cmd.sent_out:cmd.sent_out + max_bytes])
            err = bytes(cmd.stderr[cmd.sent_err:cmd.sent_err + max(0, max_bytes - len(out))])
            cmd.sent_out += len(out)
            cmd.sent_err += len(err)
            all_sent = cmd.sent_out == len(cmd.stdout) and cmd.sent_err == len(cmd.stderr)
            if cmd.done and all_sent:
                streams.append(("stdout", out, True))
                streams.append(("stderr", err, True))
                return streams, "Done", cmd.exit_code, cmd.drop_pending
            if out:
                streams.append(("stdout", out, False))
            if err:
                streams.append(("stderr", err, False))
            return streams, "Running", None, False

    # -- execution ------------------------------------------------------------------------
    def _finish(self, cmd: WinRSCommand, rc: int, stdout: bytes = b"", stderr: bytes = b"", drop: bool = False) -> None:
        with self.cond:
            cmd.stdout += stdout
            cmd.stderr += stderr
            cmd.exit_code = rc
            cmd.done = True
            cmd.drop_pending = drop
            self.cond.notify_all()

    def _execute(self, cmd: WinRSCommand) -> None:
        try:
            self._execute_inner(cmd)
        except Exception as exc:  # never leave a client waiting forever
            self.server.log("winrs command failed: %r" % exc)
            self._finish(cmd, 1, stderr=clixml_error("hvsim internal error: %s" % exc))

    def _execute_inner(self, cmd: WinRSCommand) -> None:
        script = encoded_command(cmd.command_line)
        spec = None
        spec_error = None
        if script is not None:
            try:
                spec = self.server.runner_spec()
            except Exception as exc:
                spec_error = exc
        if script is None or spec is None or script != spec.bootstrap:
            msg = NOT_INTERPRETED
            if spec_error is not None:
                msg += " (The collection's WinRS runner constants could not be loaded: %s)" % spec_error
            self._finish(cmd, 1, stderr=clixml_error(msg))
            return

        # The bootstrap reads all of stdin.
        with self.cond:
            self.cond.wait_for(lambda: cmd.stdin_done or self.closed or self.server.stopping)
            if cmd.done or self.closed or self.server.stopping:
                return  # terminated, shell deleted or server stopping before stdin ended: nothing runs
            data = bytes(cmd.stdin)
        # As the bootstrap reads $input: trimmed, non-empty lines.
        lines = [ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
        if len(lines) < 2:
            self._finish(cmd, 1, stderr=clixml_error("The runner bootstrap expects two lines on stdin."))
            return
        try:
            runner_text = base64.b64decode(lines[0].strip(), validate=True)
        except binascii.Error:
            self._finish(cmd, 1, stderr=clixml_error("Stdin line 1 is not base64."))
            return
        if hashlib.sha256(runner_text).hexdigest() != spec.runner_sha256:
            self._finish(cmd, 1, stderr=clixml_error(NOT_INTERPRETED + " (The script on stdin is not the known runner.)"))
            return
        try:
            request = json.loads(base64.b64decode(lines[1].strip(), validate=True).decode("utf-8"))
            pipelines = request["pipelines"]
            if request.get("version") != 1 or not isinstance(pipelines, list):
                raise ValueError("unsupported request version or shape")
        except Exception as exc:
            self._finish(cmd, 1, stderr=clixml_error("The runner could not decode its request: %s" % exc))
            return

        context = CallContext(host=self.host, user=self.owner, transport="winrs")
        results = []
        mutated = False
        for pipeline in pipelines:
            result = self._run_pipeline(pipeline, context, spec)
            mutated = mutated or result.mutated
            results.append(serialize.plain_result(result))
        body = json.dumps({"version": 1, "results": results}, ensure_ascii=False) + "\r\n"
        drop = mutated and self.server.faults.fire("drop_after_mutation", self.host)
        self._finish(cmd, 0, stdout=body.encode("utf-8"), drop=drop)

    def _run_pipeline(self, pipeline: t.Any, context: CallContext, spec: RunnerSpec) -> PipelineResult:
        calls = []
        for command in pipeline:
            name = command["cmdlet"]
            if spec.allowed is not None and name not in spec.allowed:
                # the runner's own refusal record (_winrs_runner New-HvRefusal), written as it writes it
                return PipelineResult(
                    errors=[
                        HvError(
                            fqid="CommandNotAllowed,HyperV.Checkpoints.Runner",
                            category="PermissionDenied",
                            message="The command '%s' is not on the runner allow-list." % name,
                            target=name,
                            exception="System.Management.Automation.CommandNotFoundException",
                            terminating=True,
                        )
                    ],
                    failed=True,
                )
            params = [(p[0], p[1]) for p in command.get("parameters", [])]
            calls.append(CommandCall(cmdlet=name, parameters=params))
        return self.server.run_pipeline(calls, context)
