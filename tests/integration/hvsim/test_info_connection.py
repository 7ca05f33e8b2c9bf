"""Authentication modes, refusals and WinRM shell accounting of the info modules against hvsim."""

from __future__ import annotations

import pytest

from integration.hvsim.helpers import TRANSPORTS, connection, run_module

pytestmark = [pytest.mark.psrp, pytest.mark.winrs, pytest.mark.timeout(300)]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ntlm_with_message_encryption_over_http(sim, transport):
    # hvsim refuses unencrypted SOAP on plain HTTP (AllowUnencrypted=false), so success proves encryption
    result = run_module("vm_info", connection(sim, scheme="http", auth="ntlm", transport=transport, name="web01",
                                              include=["checkpoints"]))
    assert result.get("failed") is not True, result.get("msg")
    assert result["vms"][0]["name"] == "web01"
    assert not result["recorded_warnings"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_basic_over_https_with_validated_ca(sim, transport):
    result = run_module("checkpoint_info", connection(sim, scheme="https", auth="basic", transport=transport,
                                                      vm_name="web01", include_files=False))
    assert result.get("failed") is not True, result.get("msg")
    assert [c["name"] for c in result["checkpoints"]] == ["before-patch", "after-patch"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_basic_over_http_refused_without_opt_in(sim, transport):
    sim.reset_stats()
    result = run_module("vm_info", connection(sim, scheme="http", auth="basic", transport=transport))
    assert result["failed"] is True
    assert "Refusing Basic authentication over HTTP" in result["msg"]
    assert "hyperv_allow_unencrypted_http" in result["msg"]
    assert sim.stats()["requests"] == 0  # refused before anything was sent


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_basic_over_http_with_opt_in_reaches_a_permissive_host(hvsim_factory, transport):
    lab = hvsim_factory("demo", allow_unencrypted=True)
    result = run_module("vm_info", connection(lab, scheme="http", auth="basic", transport=transport, name="web01",
                                              include=[], hyperv_allow_unencrypted_http=True))
    assert result.get("failed") is not True, result.get("msg")
    assert any("unencrypted" in w for w in result["recorded_warnings"])


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_wrong_password_fails_fast_without_echoing_it(sim, transport):
    args = connection(sim, transport=transport, hyperv_password="Wr0ng-Passw0rd-xyz", hyperv_connection_retries=3)
    result = run_module("vm_info", args)
    assert result["failed"] is True
    assert result["error"]["kind"] == "authentication"
    assert "hyperv_username" in result["msg"]
    assert "Wr0ng-Passw0rd-xyz" not in str(result)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_untrusted_certificate_is_a_tls_error(sim, transport):
    args = connection(sim, transport=transport)
    args.pop("hyperv_ca_path")
    result = run_module("vm_info", args)
    assert result["failed"] is True
    assert result["error"]["kind"] == "tls"
    assert "hyperv_ca_path" in result["msg"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unreachable_port_is_a_connection_error(sim, transport):
    args = connection(sim, transport=transport, hyperv_port=1, hyperv_operation_timeout=2, hyperv_read_timeout=3)
    result = run_module("vm_info", args)
    assert result["failed"] is True
    assert result["error"]["kind"] == "connection"
    assert "on host 127.0.0.1" in result["msg"]


# ------------------------------------------------------------------------- shell accounting
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_shell_count_returns_to_baseline(sim, transport):
    baseline = sim.open_shells()
    ok = run_module("vm_info", connection(sim, transport=transport, name="web01"))
    assert ok.get("failed") is not True
    assert sim.open_shells() == baseline

    # a command failure (Hyper-V error on the host)
    missing = run_module("vm_info", connection(sim, transport=transport, vm_id="6f0c2d9e-0099-4c00-8a00-000000000099"))
    assert missing["failed"] is True
    assert sim.open_shells() == baseline

    # an exception mid-run: the connection carrying a reply is dropped
    sim.inject_fault("drop_connection", count=1, after=4)
    dropped = run_module("checkpoint_info", connection(sim, transport=transport))
    sim.clear_faults()
    assert dropped["failed"] is True, dropped
    assert dropped["error"]["kind"] == "connection"
    assert sim.open_shells() == baseline


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_shell_quota_is_named(sim, transport):
    sim.inject_fault("max_shells_per_user", value=0)
    try:
        result = run_module("vm_info", connection(sim, transport=transport))
    finally:
        sim.inject_fault("max_shells_per_user", value=30)
    assert result["failed"] is True
    assert result["error"]["kind"] == "quota"
    assert result["error"]["quota"] == "MaxShellsPerUser"
    assert result["error"]["fault_code"] == 2150859173
    assert "MaxShellsPerUser" in result["msg"] and "throttle" in result["msg"]
    assert sim.open_shells() == 0
