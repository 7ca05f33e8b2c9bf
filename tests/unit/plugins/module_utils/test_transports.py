"""Transport plumbing with the libraries mocked: close on every path, stdin, results, retries."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import requests
from winrm.exceptions import InvalidCredentialsError, WSManFaultError

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _errors as errors
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _psrp, _transport, _winrs
from ansible_collections.hyperv.checkpoints.plugins.module_utils._connection import build_connection_options
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import (
    duration_to_seconds,
    is_write_pipeline,
    normalize_datetime,
    validate_pipeline,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._winrs_runner import (
    POWERSHELL_EXE,
    command_arguments,
)

GET_VM = [{"cmdlet": "Hyper-V\\Get-VM", "parameters": []}]
CHECKPOINT = [
    {"cmdlet": "Hyper-V\\Get-VM", "parameters": [["Id", "6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"]]},
    {"cmdlet": "Hyper-V\\Checkpoint-VM", "parameters": [["SnapshotName", "x"], ["Passthru", True]]},
]


def options(**extra):
    params = dict(hyperv_host="hv01", hyperv_auth="ntlm", hyperv_username="u", hyperv_password="p")
    params.update(extra)
    return build_connection_options(params)[0]


# ---------------------------------------------------------------- helpers in _transport
@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-11-25T15:07:27Z", "2026-11-25T15:07:27.0000000+00:00"),
        ("2026-11-25T15:07:27.12+00:00", "2026-11-25T15:07:27.1200000+00:00"),
        ("2026-11-25T15:07:27.123456789-05:00", "2026-11-25T15:07:27.1234567-05:00"),
        ("2026-11-25T15:07:27+0100", "2026-11-25T15:07:27.0000000+01:00"),
        ("2026-11-25T15:07:27", "2026-11-25T15:07:27.0000000"),
        ("not a date", "not a date"),
        (None, None),
    ],
)
def test_normalize_datetime(value, expected):
    assert normalize_datetime(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [("PT0S", 0.0), ("PT1.5S", 1.5), ("P1DT1H", 90000.0), ("-PT1M", -60.0), (3, 3.0), ("junk", "junk")],
)
def test_duration(value, expected):
    assert duration_to_seconds(value) == expected


@pytest.mark.parametrize(
    "pipeline",
    [
        [],
        [{"cmdlet": "Get-VM", "parameters": []}],  # not module-qualified
        [{"cmdlet": "Hyper-V\\Get-VM; Remove-VM", "parameters": []}],
        [{"cmdlet": "Hyper-V\\Get-VM", "parameters": [["Id -Force", "x"]]}],
        [{"cmdlet": "Hyper-V\\Get-VM", "parameters": [["-Id", "x"]]}],
        [{"cmdlet": "Hyper-V\\Get-VM", "parameters": [["Id", {"a": 1}]]}],
        [{"cmdlet": "Hyper-V\\Get-VM", "parameters": [["Id"]]}],
        [{"cmdlet": "Hyper-V\\Get-VM", "parameters": [], "script": "x"}],
    ],
)
def test_validate_pipeline_rejects(pipeline):
    with pytest.raises(errors.ConfigurationError):
        validate_pipeline(pipeline)


def test_write_detection():
    assert not is_write_pipeline(GET_VM)
    assert is_write_pipeline(CHECKPOINT)


# ---------------------------------------------------------------- WinRS
class FakeProtocol:
    instances = []
    quota_refusals = 0

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.shells = 0
        self.closed = 0
        self.cleaned = []
        self.sent = []
        self.commands = []
        self.stdout = b""
        self.stderr = b""
        self.rc = 0
        self.fail_on = None
        FakeProtocol.instances.append(self)
        self.transport = mock.Mock()

    def open_shell(self, **kwargs):
        if self.fail_on == "open":
            raise requests.exceptions.ConnectionError("refused")
        if self.fail_on == "open_quota" or FakeProtocol.quota_refusals > 0:
            FakeProtocol.quota_refusals -= 1
            raise WSManFaultError(500, "fault", "", "quota", wsman_fault_code=2150859173)
        self.shells += 1
        return "SHELL"

    def run_command(self, shell_id, command, arguments):
        self.commands.append((command, list(arguments)))
        return "CMD"

    def send_command_input(self, shell_id, command_id, data, end=False):
        self.sent.append((data, end))

    def get_command_output(self, shell_id, command_id):
        if self.fail_on == "output":
            raise requests.exceptions.ReadTimeout("read timed out")
        if self.fail_on == "quota":
            raise WSManFaultError(500, "fault", "", "quota", wsman_fault_code=2150859173)
        if self.fail_on == "auth":
            raise InvalidCredentialsError("the specified credentials were rejected by the server")
        return self.stdout, self.stderr, self.rc

    def cleanup_command(self, shell_id, command_id):
        self.cleaned.append(command_id)

    def close_shell(self, shell_id, close_session=True):
        self.closed += 1


@pytest.fixture
def fake_protocol(monkeypatch):
    FakeProtocol.instances = []
    FakeProtocol.quota_refusals = 0
    monkeypatch.setattr(_winrs, "Protocol", FakeProtocol)
    return FakeProtocol


def runner_output(results):
    return json.dumps({"version": 1, "results": results}).encode("ascii")


def test_winrs_success(fake_protocol):
    transport = _winrs.WinRSTransport(options(hyperv_transport="winrm"))
    with transport:
        proto = fake_protocol.instances[0]
        proto.stdout = runner_output([{"output": [{"Name": "a"}], "errors": [], "state": "Completed"}])
        result = transport.run([GET_VM])
    assert result == [{"output": [{"Name": "a"}], "errors": [], "state": "Completed"}]
    assert proto.commands == [(POWERSHELL_EXE, command_arguments())]
    assert proto.sent[-1][1] is True
    assert proto.cleaned == ["CMD"]
    assert proto.closed == 1
    assert proto.kwargs["transport"] == "ntlm"
    assert proto.kwargs["message_encryption"] == "auto"
    assert proto.kwargs["server_cert_validation"] == "validate"


def test_winrs_negotiate_maps_to_ntlm_and_ca_path(fake_protocol):
    with _winrs.WinRSTransport(options(hyperv_auth="negotiate", hyperv_ca_path="/ca.pem")):
        pass
    assert fake_protocol.instances[0].kwargs["transport"] == "ntlm"
    assert fake_protocol.instances[0].kwargs["ca_trust_path"] == "/ca.pem"


def test_winrs_large_stdin_is_chunked(fake_protocol):
    big = [[{"cmdlet": "Hyper-V\\Get-VHD", "parameters": [["Path", "D:\\" + "x" * 200]]}] for dummy in range(400)]
    with _winrs.WinRSTransport(options()) as transport:
        proto = fake_protocol.instances[0]
        proto.stdout = runner_output([{"output": [], "errors": [], "state": "Completed"}] * 400)
        transport.run(big)
    assert len(proto.sent) > 1
    assert [sent[1] for sent in proto.sent] == [False] * (len(proto.sent) - 1) + [True]
    assert all(len(sent[0]) <= _winrs.STDIN_CHUNK for sent in proto.sent)


def test_winrs_runner_failure_closes_shell(fake_protocol):
    transport = _winrs.WinRSTransport(options())
    with pytest.raises(errors.HyperVError) as err:
        with transport:
            proto = fake_protocol.instances[0]
            proto.rc = 1
            proto.stderr = b'#< CLIXML\r\n<Objs><S S="Error">runner broke_x000D__x000A_</S></Objs>'
            transport.run([GET_VM])
    assert "runner broke" in str(err.value)
    assert proto.cleaned == ["CMD"] and proto.closed == 1


@pytest.mark.parametrize(
    "fail_on, kind, write_applied",
    [("output", errors.ConnectionError, True), ("quota", errors.QuotaError, None),
     ("auth", errors.AuthenticationError, None)],
)
def test_winrs_exception_closes_shell(fake_protocol, fail_on, kind, write_applied):
    transport = _winrs.WinRSTransport(options())
    with pytest.raises(kind) as err:
        with transport:
            proto = fake_protocol.instances[0]
            proto.fail_on = fail_on
            transport.run([CHECKPOINT])
    assert proto.cleaned == ["CMD"]
    assert proto.closed == 1
    if write_applied is not None:
        assert err.value.write_may_have_applied is write_applied
    if kind is errors.QuotaError:
        assert err.value.quota == "MaxShellsPerUser"


def test_winrs_open_retries_connection_failures_only(fake_protocol):
    sleeps = []
    transport = _winrs.WinRSTransport(options(hyperv_connection_retries=2), sleep=sleeps.append)
    original = FakeProtocol.open_shell

    def always_refused(self, **kwargs):
        self.fail_on = "open"
        return original(self, **kwargs)

    with mock.patch.object(FakeProtocol, "open_shell", always_refused):
        with pytest.raises(errors.ConnectionError):
            transport.open()
    assert len(fake_protocol.instances) == 3
    assert sleeps == [1.0, 2.0]


@pytest.mark.parametrize("refusals, opened", [(1, True), (3, True), (4, False)])
def test_winrs_open_waits_out_a_shell_quota(fake_protocol, refusals, opened):
    """A quota fault at open is retried after 1, 2 and 4 s whatever hyperv_connection_retries says: opening
    changes nothing on the host. After the last wait the QuotaError is raised, naming the waits."""
    FakeProtocol.quota_refusals = refusals
    sleeps = []
    transport = _winrs.WinRSTransport(options(), sleep=sleeps.append)
    if opened:
        transport.open()
        assert transport.opened and fake_protocol.instances[-1].shells == 1
        assert sleeps == list(_transport.QUOTA_RETRY_DELAYS[:refusals])
        transport.close()
        return
    with pytest.raises(errors.QuotaError) as err:
        transport.open()
    assert sleeps == list(_transport.QUOTA_RETRY_DELAYS)
    assert "4 times over 7s" in err.value.hint and "throttle" in err.value.hint
    assert not transport.opened and all(p.shells == 0 for p in fake_protocol.instances)


def test_open_quota_waits_can_be_turned_off(fake_protocol):
    FakeProtocol.quota_refusals = 1
    sleeps = []
    transport = _winrs.WinRSTransport(options(), sleep=sleeps.append)
    transport.quota_retry_delays = ()
    with pytest.raises(errors.QuotaError) as err:
        transport.open()
    assert sleeps == [] and err.value.hint is None


# ---------------------------------------------------------------- PSRP
class FakePS:
    def __init__(self, pool):
        self.pool = pool
        self.commands = []
        self.output = []
        self.had_errors = False
        self.state = 0
        self.streams = mock.Mock(error=[])
        self.closed = False
        pool.created.append(self)

    def add_cmdlet(self, name):
        self.commands.append([name])
        return self

    def add_parameter(self, name, value=None):
        self.commands[-1].append((name, value))
        return self

    def add_script(self, *a, **k):  # pragma: no cover - must never be called
        raise AssertionError("add_script must never be used")

    def begin_invoke(self):
        if self.pool.fail_invoke:
            raise requests.exceptions.ReadTimeout("read timed out")
        self.pool.events.append(("begin", self.pool.created.index(self)))
        self.state = 1

    def end_invoke(self):
        self.pool.events.append(("end", self.pool.created.index(self)))
        self.state = 2
        self.output = [{"cmds": len(self.commands)}]
        return self.output

    def close(self):
        self.closed = True


class FakePool:
    last = None
    protocol_version = "2.3"

    def __init__(self, wsman, configuration_name=None, max_runspaces=1):
        self.wsman = wsman
        self.configuration_name = configuration_name
        self.max_runspaces = max_runspaces
        self.opened = False
        self.closed = False
        self.created = []
        self.fail_invoke = False
        self.events = []
        FakePool.last = self

    def open(self):
        self.opened = True

    def close(self):
        self.closed = True


@pytest.fixture
def fake_pypsrp(monkeypatch):
    wsman_calls = []

    def fake_wsman(**kwargs):
        wsman_calls.append(kwargs)
        return mock.Mock()

    monkeypatch.setattr(_psrp, "WSMan", fake_wsman)
    monkeypatch.setattr(_psrp, "RunspacePool", FakePool)
    monkeypatch.setattr(_psrp, "PowerShell", FakePS)
    # a command as the fake records it: [cmdlet, (parameter, value), ...]
    monkeypatch.setattr(_psrp, "PlainCommand", lambda cmdlet, **kwargs: [cmdlet])
    monkeypatch.setattr(_psrp, "to_plain", lambda o, d=0: o)
    return wsman_calls


def test_psrp_builds_cmdlets_and_closes(fake_pypsrp):
    transport = _psrp.PSRPTransport(options(hyperv_configuration_name="HyperVJEA"), max_runspaces=2)
    with transport:
        results = transport.run([CHECKPOINT, GET_VM, GET_VM], parallel=2)
    pool = FakePool.last
    assert pool.configuration_name == "HyperVJEA" and pool.max_runspaces == 2
    assert pool.closed
    assert pool.created[0].commands == [
        ["Hyper-V\\Get-VM", ("Id", "6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f")],
        ["Hyper-V\\Checkpoint-VM", ("SnapshotName", "x"), ("Passthru", True)],
    ]
    # MS-PSRP 3.1.1.3.2: no message (no Signal) to a pipeline that has completed
    assert not any(ps.closed for ps in pool.created)
    assert [r["state"] for r in results] == ["Completed"] * 3
    kwargs = fake_pypsrp[0]
    assert kwargs["auth"] == "ntlm" and kwargs["encryption"] == "auto" and kwargs["reconnection_retries"] == 0
    assert kwargs["cert_validation"] is True and kwargs["ssl"] is True and kwargs["port"] == 5986


@pytest.mark.parametrize("parallel,count", [(1, 3), (2, 5), (4, 3), (3, 7)])
def test_psrp_runs_a_sliding_window(fake_pypsrp, parallel, count):
    """The next pipeline starts as soon as the oldest has finished; never more than ``parallel`` in flight."""
    transport = _psrp.PSRPTransport(options(), max_runspaces=parallel)
    with transport:
        results = transport.run([GET_VM] * count, parallel=parallel)
    events = FakePool.last.events
    assert len(results) == count and all(r["state"] == "Completed" for r in results)
    in_flight, most = set(), 0
    for kind, index in events:
        if kind == "begin":
            in_flight.add(index)
        else:
            assert index == min(in_flight)  # results are collected oldest first
            in_flight.discard(index)
        most = max(most, len(in_flight))
    assert most == min(parallel, count)
    # after the first window, each end is followed at once by the next begin (no wave barrier)
    ends = [i for i, event in enumerate(events) if event[0] == "end"]
    for position in ends[:count - parallel] if count > parallel else []:
        assert events[position + 1][0] == "begin"


def test_psrp_on_result_false_stops_new_pipelines(fake_pypsrp):
    transport = _psrp.PSRPTransport(options(), max_runspaces=2)
    seen = []

    def on_result(index, result):
        seen.append(index)
        return index != 1  # the second result "fails fast"

    with transport:
        results = transport.run([GET_VM] * 6, parallel=2, on_result=on_result)
    assert seen == [0, 1, 2]  # 2 was already in flight when 1 came back; nothing new after that
    assert results[3:] == [None, None, None]
    assert len(FakePool.last.created) == 3


def test_psrp_failure_mid_window_reports_the_unknown_pipelines(fake_pypsrp, monkeypatch):
    transport = _psrp.PSRPTransport(options(), max_runspaces=2)
    calls = []

    def end_invoke(self):
        calls.append(self)
        if len(calls) == 2:
            raise requests.exceptions.ConnectionError("connection reset")
        self.state = 2
        self.output = [{}]

    monkeypatch.setattr(FakePS, "end_invoke", end_invoke)
    done = []
    transport.open()
    with pytest.raises(errors.ConnectionError) as err:
        transport.run([CHECKPOINT] * 5, parallel=2, on_result=lambda i, r: done.append(i))
    assert done == [0]
    assert sorted(err.value.started) == [1, 2]  # sent, fate unknown; 3 and 4 were never sent
    assert err.value.write_may_have_applied is True
    assert FakePool.last.closed
    transport.close()


def test_psrp_failure_after_write_closes_pool(fake_pypsrp):
    transport = _psrp.PSRPTransport(options())
    transport.open()
    FakePool.last.fail_invoke = True
    with pytest.raises(errors.ConnectionError) as err:
        transport.run([CHECKPOINT])
    assert err.value.write_may_have_applied is True
    assert FakePool.last.closed
    transport.close()


def test_psrp_errors_and_state(fake_pypsrp, monkeypatch):
    monkeypatch.setattr(_psrp, "error_to_info", lambda e: {"fqid": e})
    transport = _psrp.PSRPTransport(options())
    with transport:
        original_end = FakePS.end_invoke

        def end_with_error(self):
            original_end(self)
            self.streams.error = ["NonTerminating"]

        with mock.patch.object(FakePS, "end_invoke", end_with_error):
            result = transport.run([GET_VM])[0]
    assert result["errors"] == [{"fqid": "NonTerminating"}]
    assert result["state"] == "Completed"  # non-terminating error: not Failed


def test_psrp_on_result_error_is_not_a_transport_fault(fake_pypsrp):
    """A bug in the caller's callback surfaces as itself, not as "invalid connection settings"."""
    transport = _psrp.PSRPTransport(options(), max_runspaces=2)
    transport.open()

    def on_result(index, result):
        raise KeyError("settle bug")

    with pytest.raises(KeyError):
        transport.run([GET_VM] * 3, parallel=2, on_result=on_result)
    assert FakePool.last.closed
    transport.close()
