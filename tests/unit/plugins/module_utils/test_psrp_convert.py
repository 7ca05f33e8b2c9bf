"""Plain-data conversion of pypsrp-deserialized objects (contracts.md section 2) and PSRP error mapping."""

from __future__ import annotations

import uuid

import pytest
import requests
from pypsrp.exceptions import AuthenticationError as PsrpAuth
from pypsrp.exceptions import WinRMTransportError, WSManFaultError
from pypsrp.messages import ErrorRecordMessage
from pypsrp.serializer import Serializer

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _errors as errors
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _psrp

VM_CLIXML = (
    '<Obj RefId="0"><TN RefId="0"><T>Deserialized.Microsoft.HyperV.PowerShell.VirtualMachine</T>'
    "<T>Deserialized.Microsoft.HyperV.PowerShell.VirtualMachineBase</T><T>Deserialized.System.Object</T></TN>"
    '<Props><S N="Name">web01</S><G N="Id">6F0C2D9E-0002-4C00-8A00-000000000002</G>'
    '<Obj RefId="1" N="State"><I32>2</I32><TN RefId="1"><T>Microsoft.HyperV.PowerShell.VMState</T>'
    "<T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>Running</ToString></Obj>"
    '<Obj RefId="2" N="OperationalStatus"><TN RefId="2"><T>Microsoft.HyperV.PowerShell.VMOperationalStatus[]</T>'
    "<T>System.Array</T><T>System.Object</T></TN><LST>"
    '<Obj RefId="3"><I32>2</I32><TN RefId="3"><T>Microsoft.HyperV.PowerShell.VMOperationalStatus</T>'
    "<T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>Ok</ToString></Obj>"
    '<Obj RefId="4"><I32>32769</I32><TNRef RefId="3" /><ToString>32769</ToString></Obj>'
    "</LST></Obj>"
    '<Ref RefId="3" N="PrimaryOperationalStatus" />'
    '<Obj RefId="5" N="StatusDescriptions"><TN RefId="4"><T>System.Collections.ArrayList</T><T>System.Object</T></TN>'
    "<LST><S>Operating normally</S></LST></Obj>"
    '<Nil N="ParentSnapshotId" />'
    '<B N="IsClustered">false</B>'
    '<I32 N="Generation">2</I32>'
    '<I64 N="MemoryStartup">4294967296</I64>'
    '<U64 N="FileSize">18446744073709551615</U64>'
    '<TS N="Uptime">P1DT2H3M4.5S</TS>'
    '<DT N="CreationTime">2026-10-21T08:00:00Z</DT>'
    '<DT N="LocalTime">2026-10-21T10:00:00.1234567+02:00</DT>'
    '<S N="Notes">it&apos;s $(evil) `n</S>'
    '<Obj RefId="6" N="HardDrives"><TNRef RefId="4" /><LST>'
    "<S>HardDiskDrive (Name = 'Hard Drive on SCSI controller number 0 at location 0')</S></LST></Obj>"
    '<Obj RefId="7" N="Nested"><TN RefId="5"><T>Deserialized.Some.Complex</T><T>Deserialized.System.Object</T></TN>'
    '<Props><S N="Inner">x</S></Props><ToString>Some.Complex (x)</ToString></Obj>'
    "</Props>"
    '<MS><S N="Extended">yes</S></MS>'
    "<ToString>VirtualMachine (Name = 'web01')</ToString></Obj>"
)


def deserialize(xml):
    return Serializer().deserialize(xml)


def test_vm_object_to_plain():
    plain = _psrp.to_plain(deserialize(VM_CLIXML))
    assert plain["Name"] == "web01"
    assert plain["Id"] == "6f0c2d9e-0002-4c00-8a00-000000000002"  # Guid lower-case
    assert plain["State"] == "Running"  # enum by name
    assert plain["OperationalStatus"] == ["Ok", "32769"]  # enum array; undefined value as decimal string
    assert plain["PrimaryOperationalStatus"] == "Ok"  # <Ref> to an enum
    assert plain["StatusDescriptions"] == ["Operating normally"]  # single-element list stays a list
    assert plain["ParentSnapshotId"] is None
    assert plain["IsClustered"] is False
    assert plain["Generation"] == 2
    assert plain["MemoryStartup"] == 4294967296
    assert plain["FileSize"] == 18446744073709551615
    assert plain["Uptime"] == pytest.approx(93784.5)  # TimeSpan as total seconds
    assert plain["CreationTime"] == "2026-10-21T08:00:00.0000000+00:00"  # 'o' with offset
    assert plain["LocalTime"] == "2026-10-21T10:00:00.1234567+02:00"
    assert plain["Notes"] == "it's $(evil) `n"  # literal data
    assert plain["HardDrives"] == ["HardDiskDrive (Name = 'Hard Drive on SCSI controller number 0 at location 0')"]
    assert plain["Nested"] == "Some.Complex (x)"  # beyond depth 1: ToString
    assert plain["Extended"] == "yes"  # MS (extended) members too


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        (True, True),
        (5, 5),
        ("x", "x"),
        (uuid.UUID("6F0C2D9E-0002-4C00-8A00-000000000002"), "6f0c2d9e-0002-4c00-8a00-000000000002"),
        (b"\x00\x01", "AAE="),
        ([1, [2]], [1, [2]]),
        ({"a": 1}, {"a": 1}),
    ],
)
def test_primitives(value, expected):
    assert _psrp.to_plain(value) == expected


ERROR_CLIXML = (
    '<Obj RefId="0"><TN RefId="0"><T>System.Management.Automation.ErrorRecord</T><T>System.Object</T></TN><MS>'
    '<Obj RefId="1" N="Exception"><TN RefId="1"><T>Microsoft.HyperV.PowerShell.VirtualizationException</T>'
    "<T>System.Exception</T><T>System.Object</T></TN><Props>"
    '<S N="Message">Unable to find a snapshot matching the given criteria.</S></Props>'
    "<ToString>Unable to find a snapshot matching the given criteria.</ToString></Obj>"
    '<S N="TargetObject">00000000-0002-4c00-8a00-000000000002</S>'
    '<S N="FullyQualifiedErrorId">ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMSnapshot</S>'
    '<Nil N="InvocationInfo" /><I32 N="ErrorCategory_Category">13</I32>'
    '<S N="ErrorCategory_Activity">Get-VMSnapshot</S><S N="ErrorCategory_Reason">VirtualizationException</S>'
    '<S N="ErrorCategory_TargetName">00000000-0002-4c00-8a00-000000000002</S>'
    '<S N="ErrorCategory_TargetType">String</S>'
    '<S N="ErrorCategory_Message">ObjectNotFound (:) [Get-VMSnapshot], VirtualizationException</S>'
    '<B N="SerializeExtendedInfo">false</B></MS>'
    "<ToString>Unable to find a snapshot matching the given criteria.</ToString></Obj>"
)


def test_error_record_to_info():
    from pypsrp.complex_objects import ObjectMeta

    record = Serializer().deserialize(ERROR_CLIXML, ObjectMeta("Obj", object=ErrorRecordMessage))
    info = _psrp.error_to_info(record)
    assert info == {
        "fqid": "ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMSnapshot",
        "category": "ObjectNotFound",
        "message": "Unable to find a snapshot matching the given criteria.",
        "target": "00000000-0002-4c00-8a00-000000000002",
        "exception": "Microsoft.HyperV.PowerShell.VirtualizationException",
    }


@pytest.mark.parametrize(
    "exc, kind, extra",
    [
        (PsrpAuth("Failed to authenticate the user bob with ntlm"), errors.AuthenticationError, {}),
        (WinRMTransportError("http", 401, "denied"), errors.AuthenticationError, {}),
        (WSManFaultError(2150859173, "HV01", "The maximum number of concurrent shells", None, None, None),
         errors.QuotaError, {"quota": "MaxShellsPerUser", "fault_code": 2150859173}),
        (WSManFaultError(2150859174, "HV01", "operations", None, None, None),
         errors.QuotaError, {"quota": "MaxConcurrentOperationsPerUser"}),
        (requests.exceptions.SSLError("certificate verify failed"), errors.TLSError, {}),
        (requests.exceptions.ConnectionError("refused"), errors.ConnectionError, {"write_may_have_applied": False}),
        (ValueError("Cannot use message encryption with auth 'basic'"), errors.ConfigurationError, {}),
    ],
)
def test_exception_mapping(exc, kind, extra):
    mapped = _psrp.map_exception(exc, "hv01")
    assert isinstance(mapped, kind) and type(mapped).__name__ == kind.__name__
    assert "hv01" in str(mapped)
    for key, value in extra.items():
        assert getattr(mapped, key) == value


def test_read_timeout_after_a_write_may_have_applied():
    exc = requests.exceptions.ReadTimeout("read timed out")
    mapped = _psrp.map_exception(exc, "hv01", request_sent=True, write=True)
    assert isinstance(mapped, errors.ConnectionError)
    assert mapped.write_may_have_applied is True
    assert _psrp.map_exception(exc, "hv01", request_sent=True, write=False).write_may_have_applied is False
    assert _psrp.map_exception(exc, "hv01", request_sent=False, write=True).write_may_have_applied is False


@pytest.mark.parametrize(
    "exc, kind, may_have_applied",
    [
        (requests.exceptions.SSLError("certificate verify failed"), errors.TLSError, None),
        (requests.exceptions.ConnectTimeout("connect timed out"), errors.ConnectionError, False),
        (requests.exceptions.ReadTimeout("read timed out"), errors.ConnectionError, True),
        (requests.exceptions.ConnectionError("connection reset"), errors.ConnectionError, True),
    ],
)
def test_both_transports_map_http_failures_alike(exc, kind, may_have_applied):
    from ansible_collections.hyperv.checkpoints.plugins.module_utils import _winrs

    for transport in (_psrp, _winrs):
        mapped = transport.map_exception(exc, "hv01", request_sent=True, write=True)
        assert type(mapped).__name__ == kind.__name__ and "hv01" in str(mapped)
        if may_have_applied is not None:
            assert mapped.write_may_have_applied is may_have_applied


# ---------------------------------------------------------------------------------------------- FastSerializer
def _both(xml):
    slow = _psrp.to_plain(Serializer().deserialize(xml))
    fast = _psrp.to_plain(_psrp.FastSerializer().deserialize(xml))
    return slow, fast


def test_fast_serializer_matches_pypsrp_on_the_handwritten_vm():
    slow, fast = _both(VM_CLIXML)
    assert fast == slow
    assert isinstance(fast["Uptime"], float)  # TS retyped without re-parsing the object's XML


@pytest.mark.parametrize("text", ["plain", "", "line_x000A_break", "_x0041_", "tab\tand _x000D__x000A_"])
def test_fast_serializer_strings_and_escapes(text):
    xml = '<Obj RefId="0"><TN RefId="0"><T>Deserialized.X</T></TN><Props><S N="V">%s</S></Props></Obj>' % text
    slow, fast = _both(xml)
    assert fast == slow


_AL = '<TN RefId="%s"><T>System.Collections.ArrayList</T><T>System.Object</T></TN>'


@pytest.mark.parametrize("props", [
    # an ArrayList of strings and numbers, then a second one naming the first's types by TNRef
    '<Obj N="A" RefId="1">%s<LST><S>a</S><I32>2</I32></LST></Obj>'
    '<Obj N="B" RefId="2"><TNRef RefId="1" /><LST><S>b_x000A_c</S></LST></Obj>' % (_AL % "1"),
    # an empty ArrayList, and one without an LST at all
    '<Obj N="A" RefId="1">%s<LST /></Obj><Obj N="B" RefId="2"><TNRef RefId="1" /></Obj>' % (_AL % "1"),
    # Hyper-V objects and enums inside a list, and a Ref to an object read earlier
    '<Obj N="A" RefId="1">%s<LST><Obj RefId="2"><TN RefId="2"><T>Microsoft.HyperV.PowerShell.VMState</T>'
    '<T>System.Enum</T><T>System.Object</T></TN><ToString>Running</ToString><I32>2</I32></Obj>'
    '<Obj RefId="3"><TN RefId="3"><T>Microsoft.HyperV.PowerShell.HardDiskDrive</T><T>System.Object</T></TN>'
    '<Props><S N="Path">C:\\d.vhdx</S></Props></Obj></LST></Obj><Ref N="R" RefId="3" />' % (_AL % "1"),
    # pypsrp's order-dependent rule: after a string, an untyped Obj in the same list stays raw XML
    '<Obj N="A" RefId="1">%s<LST><S>x</S><Obj RefId="2"><Props><S N="V">y</S></Props></Obj></LST></Obj>'
    % (_AL % "1"),
    '<Obj N="A" RefId="1">%s<LST><Obj RefId="2"><Props><S N="V">y</S></Props></Obj><S>x</S></LST></Obj>'
    % (_AL % "1"),
    # an object type pypsrp does not know, without a System.Object root: raw XML in both
    '<Obj N="A" RefId="1"><TN RefId="1"><T>Microsoft.HyperV.PowerShell.VMState</T></TN><I32>2</I32></Obj>',
    # a typed array and a nested list keep pypsrp's path
    '<Obj N="A" RefId="1"><TN RefId="1"><T>System.String[]</T><T>System.Array</T><T>System.Object</T></TN>'
    '<LST><S>a</S><Nil /></LST></Obj>'
    '<Obj N="B" RefId="2">%s<LST><Obj RefId="3"><TNRef RefId="2" /><LST><S>n</S></LST></Obj></LST></Obj>'
    % (_AL % "2"),
])
def test_fast_serializer_lists_and_refs_match_pypsrp(props):
    xml = ('<Obj RefId="0"><TN RefId="0"><T>Microsoft.HyperV.PowerShell.VirtualMachine</T><T>System.Object</T>'
           '</TN><Props>%s</Props></Obj>' % props)
    slow, fast = _both(xml)
    assert fast == slow
    assert "A" in fast  # read as an object, not left as raw XML


def _hvsim_run(pipeline):
    """The CLIXML of each output object of ``pipeline`` (client commands) on the demo lab's HV01.

    As hvsim's PSRP server serializes it with psrpcore (hvsim's own writer is byte-equal, a
    simulator test checks that).
    """
    from psrpcore.types import serialize
    import xml.etree.ElementTree as ET

    from hvsim.engine.engine import Engine
    from hvsim.engine.types import CallContext, CommandCall
    from hvsim.lab import load_lab
    from hvsim.server import serialize as hv_serialize

    engine = Engine(load_lab("demo"))
    ctx = CallContext(host="HV01", user="hvsim\\tester", transport="psrp")
    calls = [CommandCall(c["cmdlet"], [tuple(p) for p in c["parameters"]]) for c in pipeline]
    result = engine.run_pipeline(calls, ctx)
    assert not result.errors, result.errors
    return [ET.tostring(serialize(hv_serialize.ps_object(obj), None), encoding="unicode") for obj in result.output]


def _cmd(*cmdlets):
    return [{"cmdlet": c, "parameters": []} for c in cmdlets]


def _hvsim_outputs():
    """CLIXML of every object a module reads, full and projected (Select-Object)."""
    from ansible_collections.hyperv.checkpoints.plugins.module_utils import _host_reads as _batch

    pipelines = [
        _cmd("Hyper-V\\Get-VM"),
        _cmd("Hyper-V\\Get-VM", "Hyper-V\\Get-VMSnapshot"),
        _cmd("Hyper-V\\Get-VM", "Hyper-V\\Get-VMHardDiskDrive"),
        _cmd("Hyper-V\\Get-VM", "Hyper-V\\Get-VMIntegrationService"),
        _cmd("Hyper-V\\Get-VM", "Hyper-V\\Get-VMSnapshot", "Hyper-V\\Get-VMHardDiskDrive"),
        _cmd("Storage\\Get-Volume"),
        _batch.list_vms_pipeline(),
        _batch.vm_statuses_pipeline(),
        _batch.all_checkpoints_pipeline(),
        _batch.all_services_pipeline(),
    ]
    out = []
    for pipeline in pipelines:
        out += _hvsim_run(pipeline)
    return out


def test_fast_serializer_matches_pypsrp_on_every_hvsim_object():
    outputs = _hvsim_outputs()
    assert len(outputs) > 60
    for xml in outputs:
        slow, fast = _both(xml)
        assert fast == slow, xml[:300]
    assert any("Selected.Microsoft.HyperV.PowerShell.VirtualMachine</T>" in x for x in outputs)


@pytest.mark.parametrize("types, fast", [
    (["Deserialized.Selected.Microsoft.HyperV.PowerShell.VirtualMachine",
      "Deserialized.System.Management.Automation.PSCustomObject", "Deserialized.System.Object"], True),
    (["Selected.Microsoft.HyperV.PowerShell.VirtualMachine", "System.Management.Automation.PSCustomObject",
      "System.Object"], True),
    (["Selected.Microsoft.PowerShell.Commands.GenericMeasureInfo", "System.Management.Automation.PSCustomObject",
      "System.Object"], False),  # pypsrp's own CommandMetadataCount
    (["Deserialized.System.Management.Automation.PSCustomObject", "Deserialized.System.Object"], True),
])
def test_select_object_output_takes_the_fast_path_where_pypsrp_reads_a_generic_object(types, fast):
    assert _psrp._generic_types(types) is fast


@pytest.mark.parametrize("reads, model, properties", [
    (["Hyper-V\\Get-VM"], "VM", "VM_PROPERTIES"),
    (["Hyper-V\\Get-VM"], "VMStatus", "VM_STATUS_PROPERTIES"),
    (["Hyper-V\\Get-VM", "Hyper-V\\Get-VMSnapshot"], "Checkpoint", "CHECKPOINT_PROPERTIES"),
    (["Hyper-V\\Get-VM", "Hyper-V\\Get-VMIntegrationService"], "IntegrationService", "INTEGRATION_SERVICE_PROPERTIES"),
])
def test_a_projection_reads_into_the_same_model_as_the_full_objects(reads, model, properties):
    """Through hvsim's Select-Object, psrpcore's CLIXML and the client's reader, nothing a model reads is lost."""
    from ansible_collections.hyperv.checkpoints.plugins.module_utils import _client, _models

    cls, names = getattr(_models, model), getattr(_models, properties)
    full = [_psrp.to_plain(_psrp.FastSerializer().deserialize(x)) for x in _hvsim_run(_cmd(*reads))]
    narrow = [_psrp.to_plain(_psrp.FastSerializer().deserialize(x))
              for x in _hvsim_run(_client.projected(_cmd(*reads), names))]
    assert len(full) == len(narrow) > 3
    assert [cls.from_plain(o) for o in narrow] == [cls.from_plain(o) for o in full]
    assert all(set(o) == set(names) for o in narrow)  # only the projected properties came back
    assert all(len(o) > len(names) for o in full) or model == "IntegrationService"


# ---------------------------------------------------------------------------------------------- PlainCommand
VM_ID = "3c35612e-4a8d-45d8-9d29-6588571ceeee"
CP_ID = "9f0e2c1a-0b7d-4c4e-8a52-4f3b3a1d2e10"


def _pipelines():
    from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import HyperVClient as C

    return [
        C.list_vms_pipeline(),
        C.create_checkpoint_pipeline(VM_ID, "pre-patch <&> 'x' _x0041_ \u00e9"),
        C.remove_checkpoint_pipeline(CP_ID, include_children=True),
        C.rename_checkpoint_pipeline(CP_ID, "new name"),
        C.set_vm_pipeline(VM_ID, checkpoint_type="ProductionOnly", automatic_checkpoints=False,
                          snapshot_file_location="D:\\Hyper-V\\Snapshots", allow_unverified_paths=True),
        C.stop_vm_pipeline(VM_ID, mode="turn_off", force=True),
        C.get_vhd_pipeline("C:\\vms\\a.avhdx"),
        [{"cmdlet": "Hyper-V\\Get-VHD", "parameters": [("Path", ["C:\\a.vhdx", "C:\\b.avhdx"])]}],
    ]


class _Pool(object):
    """What pypsrp's PowerShell reads from its pool before it sends a CreatePipeline."""

    protocol_version = "2.3"
    host = None
    id = uuid.UUID(int=1)

    def __init__(self):
        from pypsrp.complex_objects import ApartmentState

        self.apartment_state = ApartmentState.UNKNOWN
        self.pipelines = {}


def _create_pipeline_message(ps, monkeypatch):
    """The CreatePipeline message ``ps.begin_invoke()`` would send."""
    from pypsrp.powershell import PowerShell

    sent = []
    monkeypatch.setattr(PowerShell, "_invoke", lambda self, msg: sent.append(msg))
    ps.begin_invoke()
    return sent[0]


def _create_pipeline_xml(ps, monkeypatch):
    import xml.etree.ElementTree as ET

    return ET.tostring(Serializer().serialize(_create_pipeline_message(ps, monkeypatch)), encoding="unicode")


@pytest.mark.parametrize("index", range(len(_pipelines())))
def test_plain_commands_serialize_exactly_like_pypsrp_commands(index, monkeypatch):
    from pypsrp.powershell import PowerShell

    pipeline = _pipelines()[index]
    pool = _Pool()
    reference = PowerShell(pool)
    for cmd in pipeline:
        reference.add_cmdlet(cmd["cmdlet"])
        for name, value in cmd["parameters"]:
            reference.add_parameter(name, value)
    ours = _psrp.build_powershell(pool, pipeline)
    assert [c.__class__ for c in ours.commands] == [_psrp.PlainCommand] * len(pipeline)
    expected = _create_pipeline_xml(reference, monkeypatch)
    assert _create_pipeline_xml(ours, monkeypatch) == expected
    assert pipeline[-1]["cmdlet"].split("\\")[-1] in expected


# ---------------------------------------------------------------------------------------------- PipelineTemplates
def _create_pipeline(pipeline, monkeypatch):
    return _create_pipeline_message(_psrp.build_powershell(_Pool(), pipeline), monkeypatch)


def _pypsrp_bytes(message):
    import xml.etree.ElementTree as ET

    return ET.tostring(Serializer().serialize(message), encoding="utf-8", method="xml")


EDGE_STRINGS = ["", "plain", "<&>\"'", "_x0041_ and _X0041_", "tab\tnew\nline\rcr", "\x01\x1f\x7f\x85",
                "caf\u00e9 \u4e2d", "smile \U0001F600", "lone \ud800 surrogate", "\ue000 0\ue001 slot-like",
                "pre-patch 2026-11-26"]


@pytest.mark.parametrize("index", range(len(_pipelines())))
def test_a_create_pipeline_from_a_template_is_pypsrps_text(index, monkeypatch):
    fast = _psrp.FastSerializer()
    message = _create_pipeline(_pipelines()[index], monkeypatch)
    assert fast.serialize(message) == _pypsrp_bytes(message)  # first of its shape: rendered by pypsrp
    assert fast.serialize(message) == _pypsrp_bytes(message)  # from the template
    assert len(fast._templates._templates) == 1


@pytest.mark.parametrize("text", EDGE_STRINGS)
def test_a_template_escapes_each_string_as_pypsrp_does(text, monkeypatch):
    from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import HyperVClient as C

    fast = _psrp.FastSerializer()
    fast.serialize(_create_pipeline(C.create_checkpoint_pipeline(VM_ID, "first"), monkeypatch))
    if text:  # the client never sends an empty checkpoint name
        message = _create_pipeline(C.create_checkpoint_pipeline(VM_ID, text), monkeypatch)
        assert fast.serialize(message) == _pypsrp_bytes(message)
    lists = _create_pipeline([{"cmdlet": "Hyper-V\\Get-VHD", "parameters": [("Path", [text, "b", text])]}], monkeypatch)
    assert fast.serialize(lists) == _pypsrp_bytes(lists)
    assert len(fast._templates._templates) == 2  # the second checkpoint pipeline reused the first's template
    again = _create_pipeline([{"cmdlet": "Hyper-V\\Get-VHD", "parameters": [("Path", ["x", "b", "y"])]}], monkeypatch)
    assert fast.serialize(again) == _pypsrp_bytes(again)


def test_shapes_that_differ_get_their_own_templates(monkeypatch):
    fast = _psrp.FastSerializer()
    for pipeline in ([{"cmdlet": "Hyper-V\\Get-VHD", "parameters": [("Path", ["a"])]}],
                     [{"cmdlet": "Hyper-V\\Get-VHD", "parameters": [("Path", ["a", "b"])]}],
                     [{"cmdlet": "Hyper-V\\Get-VM", "parameters": [("Id", VM_ID)]}],
                     [{"cmdlet": "Hyper-V\\Set-VM", "parameters": [("Id", VM_ID), ("AutomaticCheckpointsEnabled", True)]}],
                     [{"cmdlet": "Hyper-V\\Set-VM", "parameters": [("Id", VM_ID), ("AutomaticCheckpointsEnabled", False)]}]):
        message = _create_pipeline(pipeline, monkeypatch)
        assert fast.serialize(message) == _pypsrp_bytes(message)
    assert len(fast._templates._templates) == 5


def test_a_pipeline_not_built_of_plain_commands_keeps_pypsrps_path(monkeypatch):
    from pypsrp.powershell import PowerShell

    ps = PowerShell(_Pool())
    ps.add_cmdlet("Hyper-V\\Get-VM").add_parameter("Id", VM_ID)
    fast = _psrp.FastSerializer()
    element = fast.serialize(_create_pipeline_message(ps, monkeypatch))
    assert not isinstance(element, bytes)
    assert fast._templates._templates == {}
