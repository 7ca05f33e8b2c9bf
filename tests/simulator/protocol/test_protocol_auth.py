"""Authentication and transport security, driven by pypsrp and pywinrm."""

from __future__ import annotations

import pytest
import requests
import winrm
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from winrm.exceptions import InvalidCredentialsError

from protocol_clients import psrp_wsman, winrm_protocol

pytestmark = [pytest.mark.simulator]


def _get_vm(wsman) -> list:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Hyper-V\\Get-VM").add_parameter("Name", "vm1")
        out = ps.invoke()
        assert not ps.had_errors
        return out


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_psrp_over_http_with_message_encryption(sim, auth):
    wsman = psrp_wsman(sim, scheme="http", auth=auth, encryption="always")
    out = _get_vm(wsman)
    assert out[0].adapted_properties["Name"] == "vm1"
    # the body really was encrypted: a plain-HTTP listener refuses unencrypted SOAP by default
    assert wsman.transport.encryption is not None


def test_pywinrm_ntlm_over_http_is_encrypted(sim):
    p = winrm_protocol(sim, scheme="http", transport="ntlm", message_encryption="always")
    shell = p.open_shell()
    p.close_shell(shell)
    assert p.transport.encryption is not None
    assert sim.open_shells() == 0


def test_https_with_validated_certificate(sim):
    out = _get_vm(psrp_wsman(sim, scheme="https", auth="ntlm"))
    assert out[0].adapted_properties["Name"] == "vm1"
    p = winrm_protocol(sim, scheme="https", transport="ntlm")
    p.close_shell(p.open_shell())


def test_https_rejects_an_untrusted_client_trust_store(sim):
    # certificate validation against the system store (not our CA) must fail
    wsman = psrp_wsman(sim, scheme="https", auth="ntlm", cert_validation=True)
    with pytest.raises(requests.exceptions.SSLError):
        _get_vm(wsman)


def test_basic_over_https(sim):
    out = _get_vm(psrp_wsman(sim, scheme="https", auth="basic", encryption="never"))
    assert out[0].adapted_properties["Name"] == "vm1"
    p = winrm_protocol(sim, scheme="https", transport="basic")
    p.close_shell(p.open_shell())


def test_basic_over_http_refused_by_default(sim):
    with pytest.raises(AuthenticationError):
        _get_vm(psrp_wsman(sim, scheme="http", auth="basic", encryption="never"))
    p = winrm_protocol(sim, scheme="http", transport="basic")
    with pytest.raises(InvalidCredentialsError):
        p.open_shell()
    assert sim.stats()["auth_failures"] >= 2


def test_basic_over_http_allowed_with_allow_unencrypted(hvsim_factory, fake_engine):
    sim = hvsim_factory(None, engine=fake_engine, hosts=["hv01"], allow_unencrypted=True, https=False)
    out = _get_vm(psrp_wsman(sim, scheme="http", auth="basic", encryption="never"))
    assert out[0].adapted_properties["Name"] == "vm1"
    assert sim.ca_path is None


def test_unencrypted_ntlm_over_http_refused(sim):
    with pytest.raises(WSManFaultError) as err:
        _get_vm(psrp_wsman(sim, scheme="http", auth="ntlm", encryption="never"))
    assert err.value.code == 2150859120
    assert "unencrypted" in err.value.reason.lower()


def test_unencrypted_ntlm_over_https_accepted(sim):
    out = _get_vm(psrp_wsman(sim, scheme="https", auth="ntlm", encryption="never"))
    assert len(out) == 1


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_wrong_password_is_401_psrp(sim, auth):
    with pytest.raises(AuthenticationError):
        _get_vm(psrp_wsman(sim, scheme="http", auth=auth, password="wrong"))
    assert sim.stats()["auth_failures"] >= 1
    assert sim.open_shells() == 0


@pytest.mark.parametrize("transport", ["ntlm", "basic"])
def test_wrong_password_is_401_pywinrm(sim, transport):
    p = winrm_protocol(sim, scheme="https", transport=transport, password="wrong")
    with pytest.raises(InvalidCredentialsError):
        p.open_shell()


def test_unknown_user_is_401(sim):
    with pytest.raises(AuthenticationError):
        _get_vm(psrp_wsman(sim, scheme="https", auth="ntlm", username="mallory"))


def test_domain_qualified_user_accepted(sim):
    out = _get_vm(psrp_wsman(sim, scheme="http", auth="ntlm", username="HVSIM\\" + sim.username))
    assert len(out) == 1


def test_unauthenticated_request_gets_challenge(sim):
    r = requests.post(sim.http_url(), data=b"<x/>", headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
                      proxies={"http": None, "https": None})
    assert r.status_code == 401
    offered = r.headers.get("WWW-Authenticate", "")
    assert "Negotiate" in offered
    assert "Basic" not in offered  # not over plain HTTP without allow_unencrypted
    r = requests.post(sim.https_url(), data=b"<x/>", verify=sim.ca_path, proxies={"http": None, "https": None})
    assert r.status_code == 401 and "Basic" in r.headers.get("WWW-Authenticate", "")


def test_channel_binding_enforced_when_asked(hvsim_factory, fake_engine):
    sim = hvsim_factory(None, engine=fake_engine, hosts=["hv01"], enforce_cbt=True)
    out = _get_vm(psrp_wsman(sim, scheme="https", auth="ntlm"))  # pypsrp sends the TLS channel binding
    assert len(out) == 1
    with pytest.raises(AuthenticationError):
        _get_vm(psrp_wsman(sim, scheme="https", auth="ntlm", negotiate_send_cbt=False))
    p = winrm_protocol(sim, scheme="https", transport="ntlm")  # requests-ntlm sends it too
    p.close_shell(p.open_shell())
