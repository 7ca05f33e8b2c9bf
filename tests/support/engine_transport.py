"""An in-process transport: the collection's transport boundary wired straight to hvsim's engine.

This is the "in-process fake at the collection's own transport boundary" layer of
winrm-psrp-protocol.md section 11: module logic, idempotency, check and diff mode run against
the real Hyper-V model and the real cmdlet binder, without the cost of WS-Man. The plain
results are produced by the same serializer the WinRS path of the server uses, so the data
shape is the one both real transports deliver (the protocol and parity suites prove that).
"""

from __future__ import annotations

import typing as t

from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import Transport
from hvsim.engine.engine import Engine
from hvsim.engine.types import CallContext, CommandCall
from hvsim.server.serialize import plain_result


class EngineTransport(Transport):
    """Runs pipelines on ``lab`` as lab host ``host``; counts pipelines and opens for assertions."""

    name = "engine"

    def __init__(self, options: t.Any, lab: t.Any, host: str, engine: t.Optional[Engine] = None) -> None:
        super().__init__(options)
        self.lab = lab
        self.lab_host = host
        self.engine = engine or Engine(lab)
        self.pipelines_run: t.List[t.List[dict]] = []
        self.open_count = 0
        self.close_count = 0

    def open(self) -> None:
        self.opened = True
        self.open_count += 1

    def close(self) -> None:
        if self.opened:
            self.close_count += 1
        self.opened = False

    def _run(self, pipelines: t.List[t.List[dict]], parallel: int) -> t.List[dict]:
        context = CallContext(host=self.lab_host, user="hvsim\\tester", transport="engine")
        results = []
        for pipeline in pipelines:
            self.pipelines_run.append(pipeline)
            calls = [CommandCall(c["cmdlet"], [tuple(pair) for pair in c["parameters"]]) for c in pipeline]
            results.append(plain_result(self.engine.run_pipeline(calls, context)))
        return results
