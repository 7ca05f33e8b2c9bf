"""hvsim's direct CLIXML writer (hvsim.server.clixml) against psrpcore's serializer, byte for byte.

The writer replaces ``pipeline.write_output(serialize.ps_object(obj))`` for speed only: every
object the labs emit, and hand-written edge cases, must give psrpcore's exact bytes.
"""

from __future__ import annotations

import datetime
import enum
import typing as t
import uuid
from xml.etree import ElementTree

import psrpcore
import pytest
from psrpcore.types import PSInvocationState
from psrpcore.types import serialize as psrpcore_serialize

from hvsim.engine.engine import Engine
from hvsim.engine.types import CallContext, CommandCall, HvEnum, HvGuid, HvInt, HvObject, HvTimeSpan
from hvsim.lab import build_lab, generate_fleet, load_lab
from hvsim.server import clixml, serialize

pytestmark = [pytest.mark.simulator]


def psrpcore_bytes(obj: HvObject) -> bytes:
    return ElementTree.tostring(psrpcore_serialize(serialize.ps_object(obj), None), encoding="utf-8", method="xml")


READS: t.List[t.Tuple[str, t.List[t.Tuple[str, t.Any]]]] = [
    ("Get-VM", []),
    ("Get-VMSnapshot", [("VMName", "*")]),
    ("Get-VMHardDiskDrive", [("VMName", "*")]),
    ("Get-VMIntegrationService", [("VMName", "*")]),
    ("Get-VMHost", []),
    ("Get-VMGroup", []),
    ("Get-Volume", []),
    ("Get-Cluster", []),
    ("Get-ClusterNode", []),
    ("Get-ClusterGroup", []),
    ("Get-ClusterResource", []),
    ("Measure-VM", [("VMName", "*")]),
]


def lab_objects(lab: t.Any) -> t.List[HvObject]:
    engine = Engine(lab)
    out: t.List[HvObject] = []
    for host in lab.hosts:
        def run(cmdlet: str, params: t.List[t.Tuple[str, t.Any]]) -> t.List[t.Any]:
            result = engine.run_pipeline([CommandCall(cmdlet, params)], CallContext(host, "hvadmin", "psrp"))
            return [o for o in result.output if isinstance(o, HvObject)]

        for cmdlet, params in READS:
            out += run(cmdlet, params)
        paths = [d.properties["Path"] for d in run("Get-VMHardDiskDrive", [("VMName", "*")]) if d.properties.get("Path")]
        if paths:
            out += run("Get-VHD", [("Path", paths)])
        for reads, names in PROJECTIONS:
            calls = [CommandCall(c, []) for c in reads] + [CommandCall("Select-Object", [("Property", names)])]
            result = engine.run_pipeline(calls, CallContext(host, "hvadmin", "psrp"))
            out += [o for o in result.output if isinstance(o, HvObject)]
    return out


# Select-Object output (PSCustomObjects, note properties in <MS>) of each value kind the objects hold
PROJECTIONS: t.List[t.Tuple[t.List[str], t.List[str]]] = [
    (["Get-VM"], ["Id", "Name", "State", "OperationalStatus", "MemoryStartup", "Uptime", "Notes",
                  "FibreChannelHostBusAdapters", "IsClustered", "NoSuchProperty"]),
    (["Get-VM", "Get-VMSnapshot"], ["Id", "VMId", "CreationTime", "SnapshotType", "ParentSnapshotId", "Path"]),
    (["Get-VM", "Get-VMIntegrationService"], ["Name", "Id", "Enabled", "PrimaryStatusDescription",
                                              "OperationalStatus"]),
]


@pytest.fixture(scope="module")
def objects() -> t.List[HvObject]:
    found = lab_objects(load_lab("demo")) + lab_objects(build_lab(generate_fleet(3, 6)))
    # merges in flight: VMs whose status lists MergingDisks (the merge polls' view)
    lab = build_lab(generate_fleet(2, 4), time_scale=1.0)
    lab.switches["merge_hold"] = True
    for vm in list(lab.vms.values()):
        ids = [s.id for s in lab.snapshots_of(vm.id)][:1]
        if ids:
            lab.remove_snapshots(vm.host, ids)
    found += lab_objects(lab)
    return found


def test_every_lab_object_is_written_as_psrpcore_writes_it(objects):
    types = {o.type_name for o in objects}
    # the labs' output covers the objects the collection reads
    for expected in ("Microsoft.HyperV.PowerShell.VirtualMachine", "Microsoft.HyperV.PowerShell.VMSnapshot",
                     "Microsoft.HyperV.PowerShell.HardDiskDrive", "Microsoft.HyperV.PowerShell.VMHost"):
        assert expected in types
    assert any("MergingDisks" in clixml.object_clixml(o).decode() for o in objects), "a VM with a merge in flight"
    assert any(o.custom for o in objects), "Select-Object output"
    mismatched = [o.type_name for o in objects if clixml.object_clixml(o) != psrpcore_bytes(o)]
    assert not mismatched, mismatched[:5]


class Colour(enum.Enum):
    RED = 3


EDGE_VALUES: t.List[t.Any] = [
    "", "plain", "_x0041_ stays literal", "_X0041_", "a_b", "tab\tnew\nline\rcr", "\x01\x1f\x7f\x85", "<&>\"'",
    "caf\u00e9 \u4e2d", "smile \U0001F600", "lone \ud800 \udc00", None, True, False,
    0, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1,
    HvInt(255, "Byte"), HvInt(-128, "SByte"), HvInt(-32768, "Int16"), HvInt(65535, "UInt16"),
    HvInt(2**32 - 1, "UInt32"), HvInt(2**64 - 1, "UInt64"), HvInt(7, "Int32"), HvInt(7, "Decimal?"),
    0.1, 1e-05, 3.0, -2.5e300, float("inf"),
    HvTimeSpan(0), HvTimeSpan(0.5), HvTimeSpan(61.25), HvTimeSpan(90061.0000001), HvTimeSpan(-3600),
    datetime.datetime(2026, 1, 2, 3, 4, 5), datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.timezone.utc),
    datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=-5, minutes=-30))),
    HvGuid("6F0C2D9E-0003-4C00-8A00-000000000003"), uuid.UUID("6f0c2d9e-0003-4c00-8a00-000000000004"),
    HvObject("Nested.Type", {"A": 1}, to_string="Nested (A = 1)"), HvObject("Nested.NoText", {}),
    HvEnum("Microsoft.HyperV.PowerShell.VMState", "Running", 2), HvEnum("Odd.Enum", "name", 1),
    HvEnum("Odd.Enum", "_x", 2), HvEnum("Odd.Enum", "none", 0), HvEnum("Odd.Enum", "", 4),
    Colour.RED, ["a", 1, None, ["nested", HvEnum("E.T", "A", 1)], (2, 3)], (), [],
]


@pytest.mark.parametrize("value", EDGE_VALUES, ids=[repr(v)[:40] for v in EDGE_VALUES])
def test_edge_values_are_written_as_psrpcore_writes_them(value):
    obj = HvObject("Edge.Case", {"Value": value, "Again": value, "Name with \"<&>\" _x0041_\n": value},
                   to_string="Edge <&> case", extra_type_names=("Edge.Base", "System.Object"))
    assert clixml.object_clixml(obj) == psrpcore_bytes(obj)


def test_repeated_enum_members_and_type_names_are_referenced_as_psrpcore_references_them():
    ok = HvEnum("Microsoft.HyperV.PowerShell.VMOperationalStatus", "Ok", 2)
    running = HvEnum("Microsoft.HyperV.PowerShell.VMState", "Running", 2)
    obj = HvObject("T", {"List": [ok, ok, running], "Primary": ok, "State": running, "Other": [1], "Empty": HvObject("X", {})})
    text = clixml.object_clixml(obj)
    assert text == psrpcore_bytes(obj)
    assert b"<Ref " in text and b"<TNRef " in text


@pytest.mark.parametrize("value", [{"key": "value"}, object(), HvInt(256, "Byte"), HvEnum("Big.Enum", "Big", 2**31)],
                         ids=["dict", "object", "byte-overflow", "enum-beyond-int32"])
def test_values_it_does_not_render_are_left_to_psrpcore(value):
    with pytest.raises(clixml.Unsupported):
        clixml.object_clixml(HvObject("T", {"V": value}))


def running_pipeline() -> t.Any:
    pool = psrpcore.ServerRunspacePool()
    pipeline = psrpcore.ServerPipeline(pool, uuid.uuid4())
    pipeline.state = PSInvocationState.Running
    return pool, pipeline


@pytest.mark.parametrize("obj", [HvObject("T", {"A": "b", "E": HvEnum("E.T", "A", 1)}, to_string="T"),
                                 HvObject("T", {"D": {"k": 1}})], ids=["written-here", "psrpcore-fallback"])
def test_the_queued_message_equals_psrpcores(obj):
    pool, pipeline = running_pipeline()
    pipeline.write_output(serialize.ps_object(obj))
    clixml.write_output(pipeline, obj)
    theirs, ours = pool._send_buffer  # pylint: disable=protected-access
    assert ours.data == theirs.data
    assert (ours.message_type, ours.stream_type, ours.pipeline_id, ours.runspace_pool_id) == \
        (theirs.message_type, theirs.stream_type, theirs.pipeline_id, theirs.runspace_pool_id)
    assert ours.object_id == theirs.object_id + 1


def test_a_pipeline_that_is_not_running_refuses_output_as_psrpcore_does():
    _, pipeline = running_pipeline()
    pipeline.state = PSInvocationState.Completed
    with pytest.raises(psrpcore.PSRPCoreError):
        clixml.write_output(pipeline, HvObject("T", {}))
