# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""WinRS transport (pywinrm 0.5.0): one shell per module run, one powershell.exe per ``run()``.

The command is always the fixed bootstrap (``_winrs_runner``); the structured pipelines
travel on stdin as base64 JSON data. The shell is closed in ``close()`` on every path, and
each command is cleaned up (Signal terminate) in ``finally``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time
import traceback

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _errors as errors
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import (
    QUOTAS,
    Transport,
    is_write_pipeline,
    make_result,
    map_requests_exception,
    open_with_retries,
    quota_error,
    retryable_at_open,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._winrs_runner import (
    POWERSHELL_EXE,
    build_stdin,
    command_arguments,
    parse_stdout,
)

PYWINRM_IMPORT_ERROR = None
try:
    from winrm.exceptions import AuthenticationError as WinrmAuthenticationError
    from winrm.exceptions import WinRMError, WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError
    from winrm.protocol import Protocol

    HAS_PYWINRM = True
except ImportError:  # pragma: no cover - exercised by the missing-library test
    PYWINRM_IMPORT_ERROR = traceback.format_exc()
    HAS_PYWINRM = False


# pywinrm has no "negotiate"; its NTLM transport is the closest (documented).
AUTH_MAP = {
    "negotiate": "ntlm",
    "ntlm": "ntlm",
    "kerberos": "kerberos",
    "credssp": "credssp",
    "basic": "basic",
    "certificate": "certificate",
}

# Keep every Send envelope well under the default 150 KiB MaxEnvelopeSize.
STDIN_CHUNK = 60000

_CLIXML_ERROR_RE = re.compile(r'<S S="Error">(.*?)</S>', re.DOTALL)
_CLIXML_ESCAPE_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def clean_stderr(stderr):
    """Turn powershell.exe's CLIXML stderr into plain text (winrm-psrp-protocol.md section 2)."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", errors="replace")
    text = stderr or ""
    if text.startswith("#< CLIXML"):
        parts = _CLIXML_ERROR_RE.findall(text)
        text = "".join(_CLIXML_ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), p) for p in parts)
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    return text.strip()


def _fault_code(exc):
    for attr in ("wsman_fault_code", "wmierror_code"):
        code = getattr(exc, attr, None)
        try:
            code = int(code)
        except (TypeError, ValueError):
            continue
        if code in QUOTAS:
            return code
    code = getattr(exc, "wsman_fault_code", None)
    try:
        return int(code)
    except (TypeError, ValueError):
        return None


def map_exception(exc, host, request_sent=False, write=False):
    """Map a pywinrm / requests exception to the collection's tree (called once, here)."""
    if isinstance(exc, errors.HyperVError):
        return exc
    text = str(exc)
    name = type(exc).__name__
    module = type(exc).__module__ or ""
    if HAS_PYWINRM and isinstance(exc, WinrmAuthenticationError):
        return errors.AuthenticationError("Authentication to %s failed: %s" % (host, text))
    if HAS_PYWINRM and isinstance(exc, WSManFaultError):
        code = _fault_code(exc)
        quota = quota_error(code, host, exc.reason)
        if quota is not None:
            return quota
        return errors.ConnectionError(
            "WinRM fault from %s: %s" % (host, exc.reason or text),
            write_may_have_applied=request_sent and write,
            request_sent=request_sent,
        )
    if HAS_PYWINRM and isinstance(exc, WinRMTransportError):
        if exc.code == 401:
            return errors.AuthenticationError("Authentication to %s failed (HTTP 401)" % host)
        return errors.ConnectionError(
            "HTTP %s from %s" % (exc.code, host),
            write_may_have_applied=request_sent and write,
            request_sent=request_sent,
        )
    if HAS_PYWINRM and isinstance(exc, WinRMOperationTimeoutError):
        return errors.ConnectionError(
            "WinRM operation timeout from %s" % host,
            write_may_have_applied=request_sent and write,
            request_sent=request_sent,
        )
    mapped = map_requests_exception(exc, host, request_sent=request_sent, write=write)
    if mapped is not None:
        return mapped
    if module.startswith("spnego") or module.startswith("requests_ntlm") or name in ("InvalidTokenError",):
        return errors.AuthenticationError("Authentication to %s failed: %s" % (host, text))
    if HAS_PYWINRM and isinstance(exc, WinRMError):
        return errors.ConnectionError(
            "WinRM error from %s: %s" % (host, text),
            write_may_have_applied=request_sent and write,
            request_sent=request_sent,
        )
    if isinstance(exc, AssertionError):
        # pywinrm asserts RelatesTo on Signal/Delete replies
        return errors.ConnectionError("Protocol error from %s: a reply did not match its request" % host,
                                      write_may_have_applied=request_sent and write, request_sent=request_sent)
    if isinstance(exc, ValueError):
        return errors.ConfigurationError("Invalid connection settings for %s: %s" % (host, text))
    return errors.HyperVError("Unexpected %s talking to %s: %s" % (name, host, text))


class WinRSTransport(Transport):
    name = "winrm"

    def __init__(self, options, sleep=time.sleep):
        super(WinRSTransport, self).__init__(options)
        self._sleep = sleep
        self._protocol = None
        self._shell_id = None

    def _build_protocol(self):
        o = self.options
        kwargs = dict(
            endpoint=o.endpoint,
            transport=AUTH_MAP[o.auth],
            username=o.username,
            password=o.password,
            server_cert_validation="validate" if o.validate_certs else "ignore",
            ca_trust_path=o.ca_path if (o.validate_certs and o.ca_path) else "legacy_requests",
            read_timeout_sec=o.read_timeout,
            operation_timeout_sec=o.operation_timeout,
            message_encryption=o.encryption,
        )
        if o.auth == "certificate":
            kwargs["cert_pem"] = o.cert_pem
            kwargs["cert_key_pem"] = o.cert_key_pem
        return Protocol(**kwargs)

    def open(self):
        if self.opened:
            return
        open_with_retries(self._open_once, retryable_at_open, max(0, self.options.connection_retries), self._sleep,
                          self.quota_retry_delays)

    def _open_once(self):
        try:
            self._protocol = self._build_protocol()
            self._shell_id = self._protocol.open_shell(codepage=65001, noprofile=True)
            self.opened = True
        except Exception as exc:  # pylint: disable=broad-except
            mapped = map_exception(exc, self.host, request_sent=False)
            self._close_quietly()
            raise mapped

    def _close_quietly(self):
        protocol, shell_id = self._protocol, self._shell_id
        self._protocol = None
        self._shell_id = None
        self.opened = False
        if protocol is not None and shell_id is not None:
            try:
                protocol.close_shell(shell_id)
            except Exception:  # pylint: disable=broad-except
                pass
        elif protocol is not None:
            try:
                protocol.transport.close_session()
            except Exception:  # pylint: disable=broad-except
                pass

    def close(self):
        self._close_quietly()

    def _send_stdin(self, command_id, data):
        chunks = [data[i:i + STDIN_CHUNK] for i in range(0, len(data), STDIN_CHUNK)] or [""]
        for index, chunk in enumerate(chunks):
            self._protocol.send_command_input(self._shell_id, command_id, chunk, end=index == len(chunks) - 1)

    def _run(self, pipelines, parallel):
        # The runner executes the pipelines of one request in order; ``parallel`` does not apply.
        write = any(is_write_pipeline(p) for p in pipelines)
        stdin = build_stdin(pipelines)
        command_id = None
        try:
            command_id = self._protocol.run_command(self._shell_id, POWERSHELL_EXE, command_arguments())
            self._send_stdin(command_id, stdin)
            stdout, stderr, rc = self._protocol.get_command_output(self._shell_id, command_id)
        except Exception as exc:  # pylint: disable=broad-except
            mapped = map_exception(exc, self.host, request_sent=command_id is not None, write=write)
            if command_id is not None:
                self._cleanup(command_id)
                command_id = None
            self._close_quietly()
            raise mapped
        finally:
            if command_id is not None:
                self._cleanup(command_id)
        if rc != 0:
            raise errors.HyperVError(
                "The WinRS runner failed on %s (exit code %s): %s" % (self.host, rc, clean_stderr(stderr) or "no detail"),
                hint="Check that Windows PowerShell 5.1 and the Hyper-V module are installed on the host.",
            )
        try:
            raw = parse_stdout(stdout, len(pipelines))
        except ValueError as exc:
            raise errors.HyperVError("Could not read the WinRS runner output from %s: %s" % (self.host, exc))
        results = []
        for res in raw:
            if not isinstance(res, dict):
                raise errors.HyperVError("Malformed runner result from %s" % self.host)
            output = res.get("output") or []
            if isinstance(output, dict):  # defensive: a single object must still be a list
                output = [output]
            results.append(make_result(output, res.get("errors") or [], res.get("state") == "Failed"))
        return results

    def _cleanup(self, command_id):
        if self._protocol is None:
            return
        try:
            self._protocol.cleanup_command(self._shell_id, command_id)
        except Exception:  # pylint: disable=broad-except
            pass
