# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The shared connection argument spec and the rules that decide whether a connection is allowed.

Documented once in ``plugins/doc_fragments/connection.py``; keep both in sync (a unit test
compares them).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

from ansible.module_utils.basic import env_fallback

from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import ConfigurationError

AUTH_CHOICES = ["basic", "certificate", "credssp", "kerberos", "negotiate", "ntlm"]
# Auth protocols that can encrypt WinRM messages themselves (MS-WSMV), so HTTP stays confidential.
ENCRYPTING_AUTHS = frozenset(["credssp", "kerberos", "negotiate", "ntlm"])
PASSWORD_AUTHS = frozenset(["basic", "credssp", "ntlm"])
DEFAULT_PORTS = {"https": 5986, "http": 5985}


def connection_argument_spec():
    """The ``hyperv_*`` options every module accepts, each with an environment fallback."""
    return dict(
        hyperv_host=dict(type="str", required=True, fallback=(env_fallback, ["HYPERV_HOST"])),
        hyperv_port=dict(type="int", fallback=(env_fallback, ["HYPERV_PORT"])),
        hyperv_scheme=dict(
            type="str", default="https", choices=["http", "https"], fallback=(env_fallback, ["HYPERV_SCHEME"])
        ),
        hyperv_auth=dict(
            type="str", default="negotiate", choices=AUTH_CHOICES, fallback=(env_fallback, ["HYPERV_AUTH"])
        ),
        hyperv_username=dict(type="str", fallback=(env_fallback, ["HYPERV_USERNAME"])),
        hyperv_password=dict(type="str", no_log=True, fallback=(env_fallback, ["HYPERV_PASSWORD"])),
        hyperv_cert_pem=dict(type="path", fallback=(env_fallback, ["HYPERV_CERT_PEM"])),
        hyperv_cert_key_pem=dict(type="path", no_log=False, fallback=(env_fallback, ["HYPERV_CERT_KEY_PEM"])),
        hyperv_validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["HYPERV_VALIDATE_CERTS"])),
        hyperv_ca_path=dict(type="path", fallback=(env_fallback, ["HYPERV_CA_PATH"])),
        hyperv_transport=dict(
            type="str", default="psrp", choices=["psrp", "winrm"], fallback=(env_fallback, ["HYPERV_TRANSPORT"])
        ),
        hyperv_configuration_name=dict(
            type="str", default="Microsoft.PowerShell", fallback=(env_fallback, ["HYPERV_CONFIGURATION_NAME"])
        ),
        hyperv_operation_timeout=dict(type="int", default=20, fallback=(env_fallback, ["HYPERV_OPERATION_TIMEOUT"])),
        hyperv_read_timeout=dict(type="int", default=30, fallback=(env_fallback, ["HYPERV_READ_TIMEOUT"])),
        hyperv_connection_retries=dict(
            type="int", default=0, fallback=(env_fallback, ["HYPERV_CONNECTION_RETRIES"])
        ),
        hyperv_message_encryption=dict(
            type="str",
            default="auto",
            choices=["auto", "always", "never"],
            fallback=(env_fallback, ["HYPERV_MESSAGE_ENCRYPTION"]),
        ),
        hyperv_allow_unencrypted_http=dict(
            type="bool",
            default=False,
            aliases=["hyperv_allow_basic_over_http"],
            fallback=(env_fallback, ["HYPERV_ALLOW_UNENCRYPTED_HTTP"]),
        ),
    )


CONNECTION_OPTION_NAMES = frozenset(connection_argument_spec())


@dataclasses.dataclass(frozen=True)
class ConnectionOptions:
    host: str
    port: int
    scheme: str = "https"
    auth: str = "negotiate"
    username: t.Optional[str] = None
    password: t.Optional[str] = dataclasses.field(default=None, repr=False)
    cert_pem: t.Optional[str] = None
    cert_key_pem: t.Optional[str] = None
    validate_certs: bool = True
    ca_path: t.Optional[str] = None
    transport: str = "psrp"
    configuration_name: str = "Microsoft.PowerShell"
    operation_timeout: int = 20
    read_timeout: int = 30
    connection_retries: int = 0
    message_encryption: str = "auto"
    allow_unencrypted_http: bool = False
    #: the encryption setting actually passed to the library (auto/always/never)
    encryption: str = "auto"

    @property
    def ssl(self):
        return self.scheme == "https"

    @property
    def endpoint(self):
        host = self.host
        if ":" in host and not host.startswith("["):
            host = "[%s]" % host  # IPv6 literal
        return "%s://%s:%d/wsman" % (self.scheme, host, self.port)

    @property
    def cert_validation(self):
        """pypsrp's cert_validation value: False, True, or the CA bundle path."""
        if not self.validate_certs:
            return False
        return self.ca_path or True

    def describe(self):
        """Safe one-line description for messages (never the password)."""
        return "%s via %s (%s auth)" % (self.endpoint, self.transport, self.auth)


def build_connection_options(params):
    """Validate the ``hyperv_*`` params; return (ConnectionOptions, [warnings]).

    Raises ConfigurationError for combinations the collection refuses. Nothing here connects.
    """
    warnings = []
    host = (params.get("hyperv_host") or "").strip()
    if not host:
        raise ConfigurationError("hyperv_host is required (or set HYPERV_HOST)")
    if "://" in host or "/" in host or any(c.isspace() for c in host):
        raise ConfigurationError(
            "hyperv_host must be a host name or address, not a URL (got %r); use hyperv_scheme and hyperv_port" % host
        )
    scheme = params.get("hyperv_scheme") or "https"
    auth = params.get("hyperv_auth") or "negotiate"
    port = params.get("hyperv_port")
    if port is None:
        port = DEFAULT_PORTS[scheme]
    if not 0 < int(port) < 65536:
        raise ConfigurationError("hyperv_port must be between 1 and 65535 (got %s)" % port)
    encryption = params.get("hyperv_message_encryption") or "auto"
    allow_http = bool(params.get("hyperv_allow_unencrypted_http"))
    validate_certs = params.get("hyperv_validate_certs")
    validate_certs = True if validate_certs is None else bool(validate_certs)
    username = params.get("hyperv_username")
    password = params.get("hyperv_password")

    op_timeout = int(params.get("hyperv_operation_timeout") or 20)
    read_timeout = int(params.get("hyperv_read_timeout") or 30)
    if op_timeout < 1 or read_timeout < 1:
        raise ConfigurationError("hyperv_operation_timeout and hyperv_read_timeout must be at least 1 second")
    if read_timeout <= op_timeout:
        raise ConfigurationError(
            "hyperv_read_timeout (%d) must be greater than hyperv_operation_timeout (%d): the host may hold a "
            "request open for the whole operation timeout before answering" % (read_timeout, op_timeout)
        )
    retries = int(params.get("hyperv_connection_retries") or 0)
    if retries < 0 or retries > 10:
        raise ConfigurationError("hyperv_connection_retries must be between 0 and 10")

    if auth in PASSWORD_AUTHS and (not username or password is None):
        raise ConfigurationError(
            "hyperv_auth=%s needs hyperv_username and hyperv_password (or HYPERV_USERNAME/HYPERV_PASSWORD)" % auth
        )

    if auth == "certificate":
        if scheme != "https":
            raise ConfigurationError("hyperv_auth=certificate needs hyperv_scheme=https (client certificates are TLS)")
        if not params.get("hyperv_cert_pem") or not params.get("hyperv_cert_key_pem"):
            raise ConfigurationError("hyperv_auth=certificate needs hyperv_cert_pem and hyperv_cert_key_pem")

    if scheme == "http":
        if auth not in ENCRYPTING_AUTHS:
            # basic (certificate was refused above): nothing can encrypt the messages.
            if encryption == "always":
                raise ConfigurationError(
                    "hyperv_message_encryption=always is impossible with hyperv_auth=basic: Basic cannot encrypt "
                    "WinRM messages; use hyperv_scheme=https"
                )
            if not allow_http:
                raise ConfigurationError(
                    "Refusing Basic authentication over HTTP: the password would cross the network only base64-encoded "
                    "and every WinRM message (VM names, paths, results) would be unencrypted. Use hyperv_scheme=https "
                    "(Basic over TLS), or an auth that encrypts messages over HTTP (negotiate, ntlm, kerberos, credssp). "
                    "To accept the risk on an isolated lab network, set hyperv_allow_unencrypted_http=true."
                )
            warnings.append(
                "hyperv_allow_unencrypted_http=true: Basic authentication over HTTP sends the password and all WinRM "
                "traffic to %s unencrypted. Use HTTPS outside an isolated lab." % host
            )
            encryption = "never"
        elif encryption == "never":
            if not allow_http:
                raise ConfigurationError(
                    "Refusing hyperv_message_encryption=never over HTTP: the WinRM messages would be readable and "
                    "could be taken over on the network. Leave hyperv_message_encryption=auto (%s encrypts messages "
                    "over HTTP), use hyperv_scheme=https, or set hyperv_allow_unencrypted_http=true to accept the "
                    "risk." % auth
                )
            warnings.append(
                "hyperv_allow_unencrypted_http=true with hyperv_message_encryption=never: WinRM traffic to %s is "
                "not encrypted." % host
            )
    else:
        if encryption == "always" and auth not in ENCRYPTING_AUTHS:
            raise ConfigurationError(
                "hyperv_message_encryption=always cannot be used with hyperv_auth=%s (it cannot wrap messages); "
                "use auto, TLS already encrypts the connection" % auth
            )
        if not validate_certs:
            warnings.append(
                "hyperv_validate_certs=false: the certificate of %s is not checked, so anyone on the network path "
                "can impersonate the Hyper-V host and capture the credentials. Set hyperv_ca_path to the CA that "
                "issued the WinRM certificate instead." % host
            )
            if params.get("hyperv_ca_path"):
                warnings.append("hyperv_ca_path is ignored because hyperv_validate_certs=false")

    configuration_name = params.get("hyperv_configuration_name") or "Microsoft.PowerShell"
    transport = params.get("hyperv_transport") or "psrp"
    if transport == "winrm" and configuration_name != "Microsoft.PowerShell":
        warnings.append(
            "hyperv_configuration_name applies to hyperv_transport=psrp only; the winrm transport runs powershell.exe "
            "in a WinRS shell and cannot use a JEA endpoint"
        )

    options = ConnectionOptions(
        host=host,
        port=int(port),
        scheme=scheme,
        auth=auth,
        username=username,
        password=password,
        cert_pem=params.get("hyperv_cert_pem"),
        cert_key_pem=params.get("hyperv_cert_key_pem"),
        validate_certs=validate_certs,
        ca_path=params.get("hyperv_ca_path"),
        transport=transport,
        configuration_name=configuration_name,
        operation_timeout=op_timeout,
        read_timeout=read_timeout,
        connection_retries=retries,
        message_encryption=params.get("hyperv_message_encryption") or "auto",
        allow_unencrypted_http=allow_http,
        encryption=encryption,
    )
    return options, warnings
