# -*- coding: utf-8 -*-

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The connection options shared by every module of the collection.
    # Keep in sync with plugins/module_utils/_connection.py (a unit test compares them).
    DOCUMENTATION = r"""
options:
  hyperv_host:
    description:
      - Name or address of the Hyper-V host to connect to over WinRM.
      - A host name, not a URL; use O(hyperv_scheme) and O(hyperv_port) for the rest of the endpoint.
      - The modules run on the controller; use C(delegate_to=localhost) or run them in a play against V(localhost).
      - If not set, the value of the E(HYPERV_HOST) environment variable is used.
    type: str
    required: true
  hyperv_port:
    description:
      - TCP port of the WinRM listener.
      - Defaults to V(5986) when O(hyperv_scheme=https) and to V(5985) when O(hyperv_scheme=http).
      - If not set, the value of the E(HYPERV_PORT) environment variable is used.
    type: int
  hyperv_scheme:
    description:
      - Whether to connect over HTTPS (TLS) or plain HTTP.
      - Over V(http) only authentications that encrypt the WinRM messages themselves are accepted
        (V(negotiate), V(ntlm), V(kerberos), V(credssp)); see O(hyperv_allow_unencrypted_http).
      - If not set, the value of the E(HYPERV_SCHEME) environment variable is used.
    type: str
    choices: [http, https]
    default: https
  hyperv_auth:
    description:
      - The authentication protocol.
      - V(negotiate) uses Kerberos when possible and NTLM otherwise. With O(hyperv_transport=winrm) it uses NTLM.
      - V(basic) sends the password base64-encoded; it is refused over HTTP unless O(hyperv_allow_unencrypted_http=true).
      - V(certificate) needs HTTPS, O(hyperv_cert_pem) and O(hyperv_cert_key_pem).
      - V(credssp) sends the reusable password to the host; use it only with a fully trusted host.
      - If not set, the value of the E(HYPERV_AUTH) environment variable is used.
    type: str
    choices: [basic, certificate, credssp, kerberos, negotiate, ntlm]
    default: negotiate
  hyperv_username:
    description:
      - The user to authenticate as, for example V(HOST\\ansible) or V(ansible@EXAMPLE.COM).
      - Required for V(basic), V(ntlm) and V(credssp). Optional for V(negotiate) and V(kerberos), which can use a
        Kerberos ticket cache.
      - If not set, the value of the E(HYPERV_USERNAME) environment variable is used.
    type: str
  hyperv_password:
    description:
      - The password of O(hyperv_username). It is never logged or returned.
      - If not set, the value of the E(HYPERV_PASSWORD) environment variable is used.
    type: str
  hyperv_cert_pem:
    description:
      - Path to the client certificate (PEM) for O(hyperv_auth=certificate).
      - If not set, the value of the E(HYPERV_CERT_PEM) environment variable is used.
    type: path
  hyperv_cert_key_pem:
    description:
      - Path to the private key (PEM) of O(hyperv_cert_pem).
      - If not set, the value of the E(HYPERV_CERT_KEY_PEM) environment variable is used.
    type: path
  hyperv_validate_certs:
    description:
      - Whether to validate the host's TLS certificate.
      - Setting this to V(false) removes host authentication and emits a warning; set O(hyperv_ca_path) instead.
      - If not set, the value of the E(HYPERV_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  hyperv_ca_path:
    description:
      - Path to a PEM bundle of the CA certificates that may sign the host's WinRM certificate.
      - Without it the CA bundle of the Python C(requests) library is used, not the operating system store.
      - If not set, the value of the E(HYPERV_CA_PATH) environment variable is used.
    type: path
  hyperv_transport:
    description:
      - V(psrp) (default) uses PowerShell Remoting (pypsrp) and sends each cmdlet and parameter as structured data.
        It also works with a JEA endpoint (see O(hyperv_configuration_name)).
      - V(winrm) uses a WinRS shell (pywinrm) that runs C(powershell.exe) with a fixed runner script; the commands
        travel as data on standard input.
      - If not set, the value of the E(HYPERV_TRANSPORT) environment variable is used.
    type: str
    choices: [psrp, winrm]
    default: psrp
  hyperv_configuration_name:
    description:
      - The PowerShell session configuration (endpoint) to use with O(hyperv_transport=psrp), for example a JEA
        endpoint that exposes only the Hyper-V cmdlets the collection needs.
      - If not set, the value of the E(HYPERV_CONFIGURATION_NAME) environment variable is used.
    type: str
    default: Microsoft.PowerShell
  hyperv_operation_timeout:
    description:
      - WS-Management operation timeout in seconds. Must be lower than O(hyperv_read_timeout).
      - If not set, the value of the E(HYPERV_OPERATION_TIMEOUT) environment variable is used.
    type: int
    default: 20
  hyperv_read_timeout:
    description:
      - Seconds to wait for the host to answer an HTTP request. Must be greater than O(hyperv_operation_timeout).
      - If not set, the value of the E(HYPERV_READ_TIMEOUT) environment variable is used.
    type: int
    default: 30
  hyperv_connection_retries:
    description:
      - How many times to retry opening the connection when the host cannot be reached (refused, reset, timed out).
      - Only the connection set-up is retried. A command is never re-sent, so a change is never applied twice.
        Authentication and certificate failures are never retried.
      - A WinRM quota fault when the session opens (too many shells of the user on the host) is waited out 1, 2
        and 4 seconds whatever this option says, since opening a session changes nothing on the host.
      - If not set, the value of the E(HYPERV_CONNECTION_RETRIES) environment variable is used.
    type: int
    default: 0
  hyperv_message_encryption:
    description:
      - WinRM message encryption. V(auto) encrypts messages over HTTP (where the authentication supports it) and
        relies on TLS over HTTPS.
      - V(never) over HTTP is refused unless O(hyperv_allow_unencrypted_http=true).
      - If not set, the value of the E(HYPERV_MESSAGE_ENCRYPTION) environment variable is used.
    type: str
    choices: [auto, always, never]
    default: auto
  hyperv_allow_unencrypted_http:
    description:
      - Explicit opt-in for WinRM sessions over HTTP whose messages are not encrypted, that is O(hyperv_auth=basic)
        with O(hyperv_scheme=http), or O(hyperv_message_encryption=never) with O(hyperv_scheme=http).
      - Without it such a connection is refused before anything is sent, with a message saying why. With it the
        module warns on every run. Use it only on an isolated lab network.
      - If not set, the value of the E(HYPERV_ALLOW_UNENCRYPTED_HTTP) environment variable is used.
    type: bool
    default: false
    aliases: [hyperv_allow_basic_over_http]
requirements:
  - pypsrp >= 0.9.1 (for O(hyperv_transport=psrp))
  - pywinrm >= 0.5.0 (for O(hyperv_transport=winrm))
notes:
  - The modules run on the Ansible controller (or wherever the task is delegated) and connect to the Hyper-V host
    themselves; they do not use the play's connection.
  - Many parallel tasks against one Hyper-V host can exhaust its WinRM quotas (shells per user). Limit them per
    host with C(throttle) or C(serial).
  - Environment variables are read only when the option is not set; module_defaults with
    C(group/hyperv.checkpoints.hyperv) is the usual way to set the connection once per play.
"""
