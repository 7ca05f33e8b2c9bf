"""WS-Management SOAP envelopes: parsing requests, building replies and faults."""

from __future__ import annotations

import dataclasses
import re
import typing as t
import uuid
from xml.etree import ElementTree as ET

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "wmie": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError",
    "pwsh": "http://schemas.microsoft.com/powershell",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_GET = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
ACTION_COMMAND = _SHELL + "/Command"
ACTION_RECEIVE = _SHELL + "/Receive"
ACTION_SEND = _SHELL + "/Send"
ACTION_SIGNAL = _SHELL + "/Signal"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

RESOURCE_CMD = _SHELL + "/cmd"
RESOURCE_PSRP_PREFIX = "http://schemas.microsoft.com/powershell/"

STATE_DONE = _SHELL + "/CommandState/Done"
STATE_RUNNING = _SHELL + "/CommandState/Running"
SIGNAL_TERMINATE = _SHELL + "/signal/terminate"
SIGNAL_CTRL_C = _SHELL + "/signal/ctrl_c"
SIGNAL_PS_CTRL_C = "powershell/signal/crtl_c"  # sic, as MS-PSRP spells it
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

# Windows fault codes (MS-WSMV / winerror.h)
CODE_OPERATION_TIMEOUT = 2150858793  # 0x80338029
CODE_SHELL_NOT_FOUND = 2150858843  # 0x8033805B
CODE_QUOTA_MAX_SHELLS = 2150859173  # 0x803381A5
CODE_QUOTA_MAX_OPERATIONS = 2150859174  # 0x803381A6
CODE_ACCESS_DENIED = 5
CODE_ACTION_NOT_SUPPORTED = 2150858771  # 0x80338013
CODE_INVALID_SELECTORS = 2150858806  # 0x80338036
CODE_UNENCRYPTED_REFUSED = 2150859120  # hvsim's choice: "unencrypted traffic is disabled"


def q(prefix: str, name: str) -> str:
    return "{%s}%s" % (NS[prefix], name)


class WSManFault(Exception):
    """A fault to return as HTTP 500 with a SOAP Fault body."""

    def __init__(
        self,
        code: int,
        reason: str,
        *,
        value: str = "s:Receiver",
        subcode: str = "w:InternalError",
        machine: str = "localhost",
        wmi_error: bool = False,
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.value = value
        self.subcode = subcode
        self.machine = machine
        self.wmi_error = wmi_error


def operation_timeout_fault() -> WSManFault:
    return WSManFault(
        CODE_OPERATION_TIMEOUT,
        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
        subcode="w:TimedOut",
    )


def shell_not_found_fault(shell_id: str) -> WSManFault:
    return WSManFault(
        CODE_SHELL_NOT_FOUND,
        "The request for the Windows Remote Shell with ShellId %s failed because the shell was not found on the "
        "server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the "
        "server. Provide the correct ShellId or create a new shell and retry the operation." % shell_id.upper(),
        value="s:Sender",
        subcode="w:InvalidSelectors",
    )


def max_shells_fault(limit: int) -> WSManFault:
    return WSManFault(
        CODE_QUOTA_MAX_SHELLS,
        "The WS-Management service cannot process the request. This user is allowed a maximum number of %d "
        "concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user." % limit,
        subcode="w:QuotaLimit",
        wmi_error=True,
    )


def max_operations_fault(limit: int) -> WSManFault:
    return WSManFault(
        CODE_QUOTA_MAX_OPERATIONS,
        "The WS-Management service cannot process the request. This user is allowed a maximum number of %d "
        "concurrent operations, which has been exceeded. Close existing operations for this user, or raise the "
        "quota for this user." % limit,
        subcode="w:QuotaLimit",
        wmi_error=True,
    )


@dataclasses.dataclass
class Request:
    root: ET.Element
    action: str
    message_id: str
    resource_uri: str
    shell_id: t.Optional[str]
    operation_timeout: float
    options: t.Dict[str, str]
    body: ET.Element
    max_envelope_size: int


_DURATION = re.compile(r"^P(?:T)?(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$")


def parse_duration(text: t.Optional[str], default: float = 60.0) -> float:
    if not text:
        return default
    m = _DURATION.match(text.strip())
    if not m:
        return default
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + s


def parse_request(data: bytes) -> Request:
    root = ET.fromstring(data)
    header = root.find("s:Header", NS)
    body = root.find("s:Body", NS)
    if header is None or body is None:
        raise WSManFault(2150858817, "The SOAP envelope has no Header or Body.", value="s:Sender", subcode="w:SchemaValidationError")

    def text(path: str) -> str:
        el = header.find(path, NS)
        return (el.text or "").strip() if el is not None else ""

    shell_id = None
    for sel in header.findall("w:SelectorSet/w:Selector", NS):
        if sel.attrib.get("Name") == "ShellId":
            shell_id = (sel.text or "").strip()
    options = {}
    for opt in header.findall("w:OptionSet/w:Option", NS):
        options[opt.attrib.get("Name", "")] = (opt.text or "").strip()
    try:
        max_env = int(text("w:MaxEnvelopeSize") or 153600)
    except ValueError:
        max_env = 153600
    return Request(
        root=root,
        action=text("a:Action"),
        message_id=text("a:MessageID"),
        resource_uri=text("w:ResourceURI"),
        shell_id=shell_id,
        operation_timeout=parse_duration(text("w:OperationTimeout"), 60.0),
        options=options,
        body=body,
        max_envelope_size=max_env,
    )


def envelope(action: str, relates_to: str, body_children: t.Sequence[ET.Element] = ()) -> bytes:
    env = ET.Element(q("s", "Envelope"))
    env.set("xml:lang", "en-US")
    header = ET.SubElement(env, q("s", "Header"))
    ET.SubElement(header, q("a", "Action")).text = action
    ET.SubElement(header, q("a", "MessageID")).text = "uuid:%s" % str(uuid.uuid4()).upper()
    ET.SubElement(header, q("a", "To")).text = ANONYMOUS
    ET.SubElement(header, q("a", "RelatesTo")).text = relates_to
    body = ET.SubElement(env, q("s", "Body"))
    for child in body_children:
        body.append(child)
    return ET.tostring(env, encoding="utf-8", xml_declaration=False)


def fault_envelope(fault: WSManFault, relates_to: str) -> bytes:
    f = ET.Element(q("s", "Fault"))
    code = ET.SubElement(f, q("s", "Code"))
    ET.SubElement(code, q("s", "Value")).text = fault.value
    sub = ET.SubElement(code, q("s", "Subcode"))
    ET.SubElement(sub, q("s", "Value")).text = fault.subcode
    reason = ET.SubElement(f, q("s", "Reason"))
    rt = ET.SubElement(reason, q("s", "Text"))
    rt.set("xml:lang", "en-US")
    rt.text = fault.reason
    detail = ET.SubElement(f, q("s", "Detail"))
    wf = ET.SubElement(detail, q("f", "WSManFault"))
    wf.set("Code", str(fault.code))
    wf.set("Machine", fault.machine)
    msg = ET.SubElement(wf, q("f", "Message"))
    msg.text = fault.reason
    if fault.wmi_error:
        wmi = ET.SubElement(detail, q("wmie", "MSFT_WmiError"))
        ET.SubElement(wmi, q("wmie", "CIMStatusCode")).text = "27"
        ET.SubElement(wmi, q("wmie", "Message")).text = fault.reason
        ET.SubElement(wmi, q("wmie", "MessageID")).text = "HRESULT 0x%08x" % fault.code
        ET.SubElement(wmi, q("wmie", "error_Category")).text = "0"
        ET.SubElement(wmi, q("wmie", "error_Code")).text = str(fault.code)
        ET.SubElement(wmi, q("wmie", "error_Type")).text = "HRESULT"
        ET.SubElement(wmi, q("wmie", "error_WindowsErrorMessage")).text = fault.reason
    return envelope(ACTION_FAULT, relates_to, [f])


def resource_created(address: str, resource_uri: str, shell_id: str, extra: t.Sequence[ET.Element] = ()) -> t.List[ET.Element]:
    rc = ET.Element(q("x", "ResourceCreated"))
    ET.SubElement(rc, q("a", "Address")).text = address
    rp = ET.SubElement(rc, q("a", "ReferenceParameters"))
    ET.SubElement(rp, q("w", "ResourceURI")).text = resource_uri
    ss = ET.SubElement(rp, q("w", "SelectorSet"))
    sel = ET.SubElement(ss, q("w", "Selector"))
    sel.set("Name", "ShellId")
    sel.text = shell_id
    return [rc, *extra]


def shell_element(shell_id: str, resource_uri: str, owner: str, client_ip: str, input_streams: str, output_streams: str) -> ET.Element:
    shell = ET.Element(q("rsp", "Shell"))
    for name, value in (
        ("ShellId", shell_id),
        ("ResourceUri", resource_uri),
        ("Owner", owner),
        ("ClientIP", client_ip),
        ("IdleTimeOut", "PT7200.000S"),
        ("InputStreams", input_streams),
        ("OutputStreams", output_streams),
        ("ShellRunTime", "P0DT0H0M0S"),
        ("ShellInactivity", "P0DT0H0M0S"),
    ):
        ET.SubElement(shell, q("rsp", name)).text = value
    return shell
