"""The protocol-level FaultPlan of hvsim: what the WS-Man server does wrong, on purpose.

A FaultPlan lives on the server object (``server.faults``) and can be changed while clients
are connected (thread-safe). The same plan is reachable from the CLI (``--fault SPEC``) and
from the control endpoint (``POST /hvsim/faults`` with JSON).

One-shot faults (each has ``count``: how many times it fires, ``None`` = every time;
``after``: how many matching events to let through first; ``host``: only on that lab host):

``auth_failure``         the request gets HTTP 401 whatever its credentials.
``drop_connection``      the server closes the TCP connection instead of replying.
``drop_after_mutation``  a pipeline that changed state (``PipelineResult.mutated``) is applied,
                         then the connection carrying its result is closed without a reply.
``operation_timeout``    a Receive for a command (with CommandId) answers the operation-timeout fault (2150858793) at once.
``http_500``             the request gets a bare HTTP 500 (no SOAP body): a transient failure.

Settings (always in force): ``latency`` (seconds added to every WS-Man reply),
``max_shells_per_user`` (default 30, fault 2150859173), ``max_concurrent_operations``
(default 1500, fault 2150859174; counted per user over the commands of its open shells,
never decremented within a shell, as WinRS does).

Model-level kinds (``disk_full``, ``vss_failure``, ``backup_lock``, ...) are not kept here:
the server forwards them to ``lab.inject_fault(kind, **params)``.

CLI/endpoint spec syntax: ``KIND[:key=value[,key=value...]]``, e.g. ``drop_after_mutation:count=1``,
``latency:seconds=0.2``, ``max_shells_per_user:value=5``, ``vss_failure:vm=dc01``.
"""

from __future__ import annotations

import dataclasses
import threading
import typing as t

ONE_SHOT_KINDS = ("auth_failure", "drop_connection", "drop_after_mutation", "operation_timeout", "http_500")
SETTING_KINDS = ("latency", "max_shells_per_user", "max_concurrent_operations")
PROTOCOL_KINDS = ONE_SHOT_KINDS + SETTING_KINDS


@dataclasses.dataclass
class Fault:
    kind: str
    count: t.Optional[int] = 1
    after: int = 0
    host: t.Optional[str] = None
    fired: int = 0
    seen: int = 0

    def to_dict(self) -> t.Dict[str, t.Any]:
        return dataclasses.asdict(self)


def _coerce(value: t.Any) -> t.Any:
    if not isinstance(value, str):
        return value
    low = value.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(value)
        except ValueError:
            pass
    return value


def parse_spec(spec: str) -> t.Tuple[str, t.Dict[str, t.Any]]:
    """``"drop_after_mutation:count=1,host=hv01"`` -> ``("drop_after_mutation", {"count": 1, "host": "hv01"})``."""
    kind, _, rest = spec.partition(":")
    params: t.Dict[str, t.Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError("fault parameter %r in %r is not key=value" % (item, spec))
        params[key.strip()] = _coerce(value.strip())
    return kind.strip(), params


class FaultPlan:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: t.List[Fault] = []
        self.latency = 0.0
        self.max_shells_per_user = 30
        self.max_concurrent_operations = 1500

    # -- configuration -------------------------------------------------------------------
    def add(self, kind: str, *, count: t.Optional[int] = 1, after: int = 0, host: t.Optional[str] = None) -> Fault:
        if kind not in ONE_SHOT_KINDS:
            raise ValueError("unknown protocol fault %r (one of %s)" % (kind, ", ".join(ONE_SHOT_KINDS)))
        fault = Fault(kind=kind, count=count, after=int(after), host=host)
        with self._lock:
            self._faults.append(fault)
        return fault

    def set(self, kind: str, value: t.Any) -> None:
        if kind == "latency":
            self.latency = float(value)
        elif kind == "max_shells_per_user":
            self.max_shells_per_user = int(value)
        elif kind == "max_concurrent_operations":
            self.max_concurrent_operations = int(value)
        else:
            raise ValueError("unknown protocol setting %r" % kind)

    def apply(self, kind: str, **params: t.Any) -> None:
        """Apply one protocol fault/setting given as keyword parameters (CLI/endpoint form)."""
        if kind in SETTING_KINDS:
            value = params.get("value", params.get("seconds"))
            if value is None:
                raise ValueError("%s needs value=... (or seconds=... for latency)" % kind)
            self.set(kind, value)
        else:
            self.add(kind, count=params.get("count", 1), after=params.get("after", 0), host=params.get("host"))

    def clear(self, kind: t.Optional[str] = None) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if kind is not None and f.kind != kind]
            if kind is None:
                self.latency = 0.0
                self.max_shells_per_user = 30
                self.max_concurrent_operations = 1500

    # -- runtime ---------------------------------------------------------------------------
    def fire(self, kind: str, host: t.Optional[str] = None) -> bool:
        """Record one matching event for ``kind``; True when a fault fires on it."""
        with self._lock:
            for fault in self._faults:
                if fault.kind != kind or (fault.host is not None and host is not None and fault.host != host):
                    continue
                if fault.count is not None and fault.fired >= fault.count:
                    continue
                fault.seen += 1
                if fault.seen <= fault.after:
                    continue
                fault.fired += 1
                return True
        return False

    def pending(self, kind: str, host: t.Optional[str] = None) -> bool:
        """True if a fault of ``kind`` could still fire (does not consume it)."""
        with self._lock:
            return any(
                f.kind == kind
                and (f.host is None or host is None or f.host == host)
                and (f.count is None or f.fired < f.count)
                for f in self._faults
            )

    def to_dict(self) -> t.Dict[str, t.Any]:
        with self._lock:
            return {
                "faults": [f.to_dict() for f in self._faults],
                "latency": self.latency,
                "max_shells_per_user": self.max_shells_per_user,
                "max_concurrent_operations": self.max_concurrent_operations,
            }
