"""Shared helpers of the hvsim behaviour tests: demo lab Ids, ``Caller``, ``Piper`` and ``plain``.

Kept out of conftest.py: test modules import these by a unique module name, because several
suites have a conftest.py and ``from conftest import`` would pick whichever was imported last.
"""

from __future__ import annotations

import dataclasses
import typing as t

import hvsim.engine.cmdlets  # noqa: F401  (registers the handlers)
from hvsim.engine.registry import HANDLERS, BoundCommand, CmdletError, HandlerContext
from hvsim.engine.types import CallContext, HvError, HvObject

DEMO_IDS = {
    "dc01": "6f0c2d9e-0001-4c00-8a00-000000000001",
    "web01": "6f0c2d9e-0002-4c00-8a00-000000000002",
    "app01": "6f0c2d9e-0003-4c00-8a00-000000000003",
    "sqlclu-a": "6f0c2d9e-0004-4c00-8a00-000000000004",
    "lnx01": "6f0c2d9e-0005-4c00-8a00-000000000005",
    "deep01": "6f0c2d9e-0006-4c00-8a00-000000000006",
    "dc02": "6f0c2d9e-0007-4c00-8a00-000000000007",
    "sqlclu-b": "6f0c2d9e-0008-4c00-8a00-000000000008",
    "web01-hv02": "6f0c2d9e-0009-4c00-8a00-000000000009",
    "file01": "6f0c2d9e-000a-4c00-8a00-00000000000a",
    "sql01": "6f0c2d9e-000b-4c00-8a00-00000000000b",
    "legacy01": "6f0c2d9e-000c-4c00-8a00-00000000000c",
    "pt01": "6f0c2d9e-000d-4c00-8a00-00000000000d",
    "web02-replica": "6f0c2d9e-000e-4c00-8a00-00000000000e",
    "nightly49": "6f0c2d9e-000f-4c00-8a00-00000000000f",
    "small01": "6f0c2d9e-0010-4c00-8a00-000000000010",
    "wild01": "6f0c2d9e-0011-4c00-8a00-000000000011",
}
HOST_OF = {
    "dc01": "HV01", "web01": "HV01", "app01": "HV01", "sqlclu-a": "HV01", "lnx01": "HV01", "deep01": "HV01",
    "dc02": "HV02", "sqlclu-b": "HV02", "web01-hv02": "HV02", "file01": "HV02", "sql01": "HV02", "legacy01": "HV02",
    "pt01": "HV02", "web02-replica": "HV03", "nightly49": "HV03", "small01": "HV03",
    "wild01": "HV02",
}


@dataclasses.dataclass
class Result:
    output: t.List[HvObject]
    errors: t.List[HvError]
    warnings: t.List[str]
    mutated: bool

    def props(self, name: str) -> t.List[t.Any]:
        return [o.properties.get(name) for o in self.output]


def plain(v: t.Any) -> t.Any:
    """HvEnum -> name, HvGuid -> str, HvInt -> int, lists element-wise (like the contract's plain shape)."""
    from hvsim.engine.types import HvEnum, HvGuid, HvInt

    if isinstance(v, HvEnum):
        return v.name
    if isinstance(v, HvGuid):
        return v.value
    if isinstance(v, HvInt):
        return v.value
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


class Caller:
    def __init__(self, lab: t.Any, transport: str = "psrp") -> None:
        self.lab = lab
        self.transport = transport

    def __call__(self, host: str, cmdlet: str, parameter_set: str = "", **args: t.Any) -> Result:
        errors: t.List[HvError] = []
        warnings: t.List[str] = []
        mutated = [False]
        ctx = HandlerContext(CallContext(host, "hvadmin", self.transport), self.lab, errors.append, warnings.append,
                             lambda: mutated.__setitem__(0, True))
        bound = BoundCommand(cmdlet, "Hyper-V", parameter_set, dict(args), frozenset(args))
        try:
            out = HANDLERS[cmdlet](ctx, bound)
        except CmdletError as e:
            errors.append(e.error)
            out = []
        return Result(list(out), errors, warnings, mutated[0])

    def vm(self, name: str) -> HvObject:
        """The VM object of a demo VM (by Id, on its host)."""
        r = self(HOST_OF[name], "Get-VM", "Id", Id=DEMO_IDS[name])
        assert len(r.output) == 1, r.errors
        return r.output[0]

    def snaps(self, name: str) -> t.List[HvObject]:
        r = self(HOST_OF[name], "Get-VMSnapshot", "VMObject", VM=[self.vm(name)])
        assert not r.errors, r.errors
        return r.output


class Piper:
    """Runs structured pipelines through ``Engine.run_pipeline`` (binding against the catalogue)."""

    def __init__(self, lab: t.Any, transport: str = "psrp") -> None:
        from hvsim.engine.engine import Engine

        self.engine = Engine(lab)
        self.transport = transport

    def __call__(self, host: str, *commands: t.Tuple[str, t.Sequence[t.Tuple[str, t.Any]]]) -> t.Any:
        from hvsim.engine.types import CommandCall

        calls = [CommandCall(c, [tuple(p) for p in params]) for c, params in commands]
        return self.engine.run_pipeline(calls, CallContext(host, "hvadmin", self.transport))
