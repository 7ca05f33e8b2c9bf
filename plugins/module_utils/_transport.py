# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Transport layer: the structured command shape and the base class of both transports.

A *command* is ``{"cmdlet": "Hyper-V\\Get-VM", "parameters": [[name, value], ...]}`` and a
*pipeline* is a list of commands (contracts.md section 1). ``Transport.run(pipelines,
parallel=1)`` returns one plain result per pipeline (contracts.md section 2)::

    {"output": [{...}, ...], "errors": [ErrorInfo, ...], "state": "Completed" | "Failed"}

Everything here is importable without pypsrp or pywinrm.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    import requests

    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - both transports depend on requests
    HAS_REQUESTS = False

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _errors as hv_errors
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import (
    ConfigurationError,
)

# A module-qualified cmdlet name: "Hyper-V\Get-VM", "CimCmdlets\Get-CimInstance".
CMDLET_RE = re.compile(r"\A[A-Za-z][A-Za-z0-9.\-]*\\[A-Z][A-Za-z]+-[A-Z][A-Za-z0-9]+\Z")
# The one cmdlet sent without its module: a JEA session has Select-Object only as a proxy function
# outside its module (_client.SELECT_OBJECT)
UNQUALIFIED_CMDLETS = frozenset(["Select-Object"])
# A parameter name: letters and digits only (no dash, no colon, no spaces).
PARAMETER_RE = re.compile(r"\A[A-Za-z][A-Za-z0-9]*\Z")

# Verbs whose cmdlets only read. Anything else in a pipeline makes it a write pipeline.
READ_VERBS = frozenset(["Get", "Measure", "Select", "Test"])  # Select: the Select-Object projections

# Parameters that take wildcards on the Hyper-V cmdlets (hyperv-behaviour.md section 6).
# The client never fills them; tests assert it.
WILDCARD_PARAMETERS = frozenset(["name", "vmname"])

#: Back-off (seconds) after a WinRM quota fault (MaxShellsPerUser, MaxConcurrentOperationsPerUser) before the
#: next try of something that changes nothing on the host: opening a session, or a read.
QUOTA_RETRY_DELAYS = (1.0, 2.0, 4.0)

STATE_COMPLETED = "Completed"
STATE_FAILED = "Failed"

_DT_RE = re.compile(
    r"\A(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?(?P<tz>Z|[+-]\d{2}:?\d{2})?\Z"
)
_DURATION_RE = re.compile(
    r"\A(?P<sign>-)?P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?\Z"
)


def command(cmdlet, *parameters):
    """Build one command: ``command("Hyper-V\\Get-VM", ("Id", vm_id))``."""
    return {"cmdlet": cmdlet, "parameters": [[name, value] for name, value in parameters]}


def _valid_value(value):
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, list):
        return all(v is None or isinstance(v, (str, bool, int)) for v in value)
    return False


def validate_pipeline(pipeline):
    """Raise ConfigurationError unless ``pipeline`` has the contract shape.

    This is the last line of defence for the "user text is only ever a value" rule:
    cmdlet and parameter names must match fixed patterns, values must be JSON data.
    """
    if not isinstance(pipeline, list) or not pipeline:
        raise ConfigurationError("internal error: a pipeline must be a non-empty list of commands")
    for cmd in pipeline:
        if not isinstance(cmd, dict) or set(cmd) != {"cmdlet", "parameters"}:
            raise ConfigurationError("internal error: a command must have exactly 'cmdlet' and 'parameters'")
        if not isinstance(cmd["cmdlet"], str) or not (CMDLET_RE.match(cmd["cmdlet"])
                                                      or cmd["cmdlet"] in UNQUALIFIED_CMDLETS):
            raise ConfigurationError("internal error: invalid cmdlet name %r" % (cmd["cmdlet"],))
        for pair in cmd["parameters"]:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ConfigurationError("internal error: a parameter must be a [name, value] pair")
            name, value = pair
            if not isinstance(name, str) or not PARAMETER_RE.match(name):
                raise ConfigurationError("internal error: invalid parameter name %r" % (name,))
            if not _valid_value(value):
                raise ConfigurationError("internal error: parameter %s has a non-JSON value" % name)


def cmdlet_verb(cmdlet):
    return cmdlet.split("\\", 1)[-1].split("-", 1)[0]


def is_write_pipeline(pipeline):
    """True when any command in the pipeline can change state on the host."""
    return any(cmdlet_verb(cmd["cmdlet"]) not in READ_VERBS for cmd in pipeline)


def normalize_datetime(text):
    """Normalise a .NET DateTime string to the 'o' round-trip form with an explicit offset.

    ``2026-11-25T15:07:27Z`` and ``2026-11-25T15:07:27.12+00:00`` both become
    ``2026-11-25T15:07:27.0000000+00:00`` / ``...1200000+00:00``. A value without an offset
    (DateTimeKind Unspecified) keeps none. Anything unparseable is returned unchanged.
    """
    if not isinstance(text, str):
        return text
    match = _DT_RE.match(text.strip())
    if not match:
        return text
    frac = (match.group("frac") or "")[:7].ljust(7, "0")
    tz = match.group("tz")
    if tz == "Z":
        tz = "+00:00"
    elif tz and ":" not in tz:
        tz = tz[:3] + ":" + tz[3:]
    return "%s.%s%s" % (match.group("base"), frac, tz or "")


def duration_to_seconds(text):
    """xs:duration (``PT1H2M3.5S``, as PSRP serialises a TimeSpan) to total seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    if not isinstance(text, str):
        return text
    match = _DURATION_RE.match(text.strip())
    if not match:
        return text
    total = 0.0
    for unit, factor in (("days", 86400), ("hours", 3600), ("minutes", 60), ("seconds", 1)):
        if match.group(unit):
            total += float(match.group(unit)) * factor
    return -total if match.group("sign") else total


# WinRM quota faults (winrm-psrp-protocol.md section 7): the WSManFault code names the quota.
FAULT_MAX_SHELLS = 2150859173
FAULT_MAX_OPERATIONS = 2150859174
QUOTAS = {
    FAULT_MAX_SHELLS: "MaxShellsPerUser",
    FAULT_MAX_OPERATIONS: "MaxConcurrentOperationsPerUser",
}


def quota_error(code, host, reason):
    """A QuotaError naming the WinRM quota for a quota fault ``code``, or None for any other code."""
    if code not in QUOTAS:
        return None
    return hv_errors.QuotaError(
        "WinRM quota %s exceeded on %s (fault %s): %s" % (QUOTAS[code], host, code, reason),
        quota=QUOTAS[code],
        fault_code=code,
    )


def map_requests_exception(exc, host, request_sent=False, write=False):
    """The collection exception for an HTTP-layer (requests) failure, or None for anything else.

    Both transports talk HTTP through requests, so TLS failures, timeouts and dropped
    connections look the same on either; ``write_may_have_applied`` tells the caller not to
    repeat a write blindly (re-read the state first).
    """
    if not HAS_REQUESTS:
        return None
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return hv_errors.TLSError("TLS connection to %s failed: %s" % (host, text))
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return hv_errors.ConnectionError("Timed out connecting to %s" % host, request_sent=False)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return hv_errors.ConnectionError(
            "Timed out waiting for %s to answer (read timeout)" % host,
            write_may_have_applied=request_sent and write,
            request_sent=request_sent,
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        return hv_errors.ConnectionError(
            "Could not connect to %s (or the connection dropped): %s" % (host, text),
            write_may_have_applied=request_sent and write,
            request_sent=request_sent,
        )
    return None


def retryable_at_open(exc):
    """Connection-level failures worth retrying before anything was sent: refused, reset, timed out, 5xx.

    (Authentication, TLS, configuration and quota errors are other classes, never retried as such.)
    """
    return isinstance(exc, hv_errors.ConnectionError)


def call_with_quota_waits(call, sleep, waits):
    """``call()``, called again after each of ``waits`` (consumed) while it raises a WinRM quota fault.

    Only for what changes nothing on the host (opening a session, a read): the quota frees as other
    sessions and operations of the user end.
    """
    while True:
        try:
            return call()
        except hv_errors.QuotaError:
            if not waits:
                raise
            sleep(waits.pop(0))


def open_with_retries(open_once, retryable, connection_retries, sleep, quota_delays=QUOTA_RETRY_DELAYS):
    """Run ``open_once()`` (which raises mapped errors) until the session is open.

    A quota fault is retried after each of ``quota_delays`` (``call_with_quota_waits``; the waits are
    shared by all attempts). A failure for which ``retryable(error)`` holds (refused, reset, timed
    out) is retried ``connection_retries`` times, after 1 s, 2 s, 4 s... Anything else
    (authentication, TLS, configuration) is raised at once.
    """
    waits = list(quota_delays)
    failures = 0
    delay = 1.0
    while True:
        try:
            return call_with_quota_waits(open_once, sleep, waits)
        except hv_errors.QuotaError as exc:
            if quota_delays:
                exc.hint = ("The host refused a new session %d times over %gs (%s). Lower the parallelism "
                            "(throttle, forks) against this host, or raise the quota." % (
                                len(quota_delays) + 1, sum(quota_delays), exc.quota or "quota"))
            raise
        except hv_errors.HyperVError as exc:
            failures += 1
            if failures > connection_retries or not retryable(exc):
                raise
            sleep(delay)
            delay *= 2


def make_result(output=None, errors=None, failed=False):
    return {
        "output": list(output or []),
        "errors": list(errors or []),
        "state": STATE_FAILED if failed else STATE_COMPLETED,
    }


def error_info(fqid=None, category=None, message=None, target=None, exception=None):
    return {"fqid": fqid, "category": category, "message": message, "target": target, "exception": exception}


class Transport(object):
    """Base class: open once, run pipelines, always close.

    Use as a context manager; ``close()`` is idempotent and never raises.
    """

    #: "psrp" or "winrm"
    name = "base"
    #: waits after a quota fault at open (the inventory plugin sets () and applies its own query_retries)
    quota_retry_delays = QUOTA_RETRY_DELAYS

    def __init__(self, options):
        #: a _connection.ConnectionOptions
        self.options = options
        self.opened = False

    @property
    def host(self):
        return self.options.host

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def open(self):
        raise NotImplementedError

    def close(self):
        raise NotImplementedError

    def run(self, pipelines, parallel=1, on_result=None):
        """Run ``pipelines`` (list of pipelines) and return one plain result per pipeline.

        With ``on_result(index, result)``, each result is handed over as soon as it is known;
        returning False from it stops the launch of further pipelines, whose results stay None
        (a batch's fail-fast rule). If the session fails, the raised error carries ``started``:
        the indices that were sent but whose result is unknown, so a caller re-reads those
        before it decides anything (never re-sends a write blindly) and knows the others were
        never sent.
        """
        for pipeline in pipelines:
            validate_pipeline(pipeline)
        if not pipelines:
            return []
        if not self.opened:
            self.open()
        parallel = max(1, int(parallel or 1))
        if on_result is None:
            return self._run(pipelines, parallel)
        return self._run_streaming(pipelines, parallel, on_result)

    def _run(self, pipelines, parallel):
        raise NotImplementedError

    def _run_streaming(self, pipelines, parallel, on_result):
        """For transports that answer a whole request at once: requests of ``parallel`` pipelines."""
        results = [None] * len(pipelines)
        for start in range(0, len(pipelines), parallel):
            indices = list(range(start, min(len(pipelines), start + parallel)))
            try:
                chunk = self._run([pipelines[i] for i in indices], parallel)
            except hv_errors.HyperVError as exc:
                exc.started = indices
                raise
            go_on = True
            for index, result in zip(indices, chunk):
                results[index] = result
                if on_result(index, result) is False:
                    go_on = False
            if not go_on:
                break
        return results


def create_transport(options, max_parallel=1):
    """Instantiate the transport named by ``options.transport`` (imports its library lazily)."""
    if options.transport == "winrm":
        from ansible_collections.hyperv.checkpoints.plugins.module_utils._winrs import WinRSTransport

        return WinRSTransport(options)
    from ansible_collections.hyperv.checkpoints.plugins.module_utils._psrp import PSRPTransport

    return PSRPTransport(options, max_runspaces=max_parallel)
