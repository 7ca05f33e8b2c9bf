"""Ansible's psrp and winrm connection plugins open (and close) connections to hvsim."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.simulator]


def _plugin(name: str, variables: dict):
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    conn = connection_loader.get(name, PlayContext())
    conn.set_options(var_options=variables)
    return conn


@pytest.mark.psrp
@pytest.mark.parametrize("scheme,auth", [("https", "ntlm"), ("http", "negotiate"), ("https", "basic")])
def test_psrp_connection_plugin(sim, scheme, auth):
    from pypsrp.powershell import RunspacePoolState

    variables = {
        "ansible_host": "127.0.0.1",
        "ansible_port": sim.port("hv01", scheme),
        "ansible_user": sim.username,
        "ansible_password": sim.password,
        "ansible_psrp_protocol": scheme,
        "ansible_psrp_auth": auth,
        "ansible_psrp_ignore_proxy": True,
        "ansible_psrp_operation_timeout": 5,
        "ansible_psrp_read_timeout": 15,
    }
    if scheme == "https":
        variables["ansible_psrp_ca_cert"] = sim.ca_path
    if auth == "basic":
        variables["ansible_psrp_message_encryption"] = "never"
    conn = _plugin("psrp", variables)
    conn._connect()
    try:
        assert conn.runspace.state == RunspacePoolState.OPENED
        assert sim.open_shells() == 1
        rc, out, err = conn.exec_command("whoami")  # raw: add_script, which hvsim refuses
        assert rc != 0 and b"cmdlets only" in err
    finally:
        conn.close()
    assert sim.open_shells() == 0


@pytest.mark.winrs
@pytest.mark.parametrize("scheme,transport", [("https", "ntlm"), ("http", "ntlm"), ("https", "basic")])
def test_winrm_connection_plugin(sim, scheme, transport):
    variables = {
        "ansible_host": "127.0.0.1",
        "ansible_port": sim.port("hv01", scheme),
        "ansible_user": sim.username,
        "ansible_password": sim.password,
        "ansible_winrm_scheme": scheme,
        "ansible_winrm_transport": [transport],
        "ansible_winrm_operation_timeout_sec": 5,
        "ansible_winrm_read_timeout_sec": 15,
    }
    if scheme == "https":
        variables["ansible_winrm_ca_trust_path"] = sim.ca_path
        variables["ansible_winrm_server_cert_validation"] = "validate"
    # variables Ansible passes through to pywinrm arrive in "_extras", as the executor collects them
    variables["_extras"] = {k: v for k, v in variables.items()
                            if k.startswith("ansible_winrm_") and k not in ("ansible_winrm_scheme", "ansible_winrm_transport")}
    conn = _plugin("winrm", variables)
    conn._connect()
    try:
        assert conn.shell_id and sim.open_shells() == 1
        rc, out, err = conn.exec_command("whoami")  # a raw-style command: hvsim refuses to interpret it
        assert rc == 1 and b"does not interpret" in err
    finally:
        conn.close()
    assert sim.open_shells() == 0
