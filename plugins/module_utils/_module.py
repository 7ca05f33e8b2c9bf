# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""HyperVModule: a thin wrapper around AnsibleModule (amazon.aws AnsibleAWSModule style).

* merges the shared connection spec into the module's spec;
* validates the connection options (refusals, warnings) before connecting;
* reports a missing pypsrp / pywinrm with ``missing_required_lib``;
* ``client()`` is a context manager that opens the transport and always closes it;
* ``describe_error()`` maps collection exceptions to a message that says what was being
  done, on which host, VM and checkpoint, the Hyper-V error id and what to do.

Only a module's ``main()`` exits (``fail_from`` / ``exit_json`` are called from there).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import re
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _errors as errors
from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import HyperVClient
from ansible_collections.hyperv.checkpoints.plugins.module_utils._connection import (
    build_connection_options,
    connection_argument_spec,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import create_transport

GUID_RE = re.compile(r"\A\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?\Z")
_CONTROL_RE = re.compile(u"[\u0000-\u001f\u007f-\u009f\u2028\u2029]")
_VM_CONTROL_RE = re.compile(u"[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f]")

CHECKPOINT_NAME_MAX = 100
VM_NAME_MAX = 100

DEFAULT_HINTS = {
    "authentication": "Check hyperv_username, hyperv_password and hyperv_auth; the account must be allowed to "
    "use WinRM on the host (Administrators, or a JEA endpoint via hyperv_configuration_name).",
    "tls": "Set hyperv_ca_path to the CA that issued the host's WinRM certificate (keep hyperv_validate_certs "
    "enabled), and check that hyperv_host matches the certificate name.",
    "connection": "Check hyperv_host, hyperv_port and hyperv_scheme, and that the WinRM listener is running "
    "(winrm enumerate winrm/config/listener).",
    "quota": "Too many WinRM shells or operations for this user on the host: lower the number of tasks that "
    "target this host at once (throttle), or raise the WinRM quota.",
    "timeout": "Raise the timeout option of the task, or check the host for a stuck operation.",
    "configuration": None,
}


def is_guid(value):
    return isinstance(value, str) and bool(GUID_RE.match(value.strip()))


def validate_guid(value, option):
    """None when ``value`` is a GUID, else an error message naming the option."""
    if value is None:
        return None
    if not is_guid(value):
        return "%s must be a GUID such as 6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f, got %r" % (option, value)
    return None


def validate_checkpoint_name(value, option="name"):
    """None when valid: not blank, at most 100 characters, no control characters (newlines included)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        return "%s must not be empty or only whitespace" % option
    if len(value) > CHECKPOINT_NAME_MAX:
        return "%s is %d characters long; Hyper-V allows at most %d" % (option, len(value), CHECKPOINT_NAME_MAX)
    if _CONTROL_RE.search(value):
        return "%s must not contain control characters or line breaks" % option
    return None


def validate_vm_name(value, option="name"):
    """None when valid: not blank, at most 100 characters, no control characters except CR/LF.

    VM names are only ever *matched* (never created), so newlines are accepted: a VM that
    really has one in its name must remain addressable.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        return "%s must not be empty or only whitespace" % option
    if len(value) > VM_NAME_MAX:
        return "%s is %d characters long; Hyper-V VM names are at most %d" % (option, len(value), VM_NAME_MAX)
    if _VM_CONTROL_RE.search(value):
        return "%s must not contain control characters" % option
    return None


def _quote(name):
    return "'%s'" % name


def describe_target(host=None, vm=None, vm_id=None, checkpoint=None, checkpoint_id=None):
    """"on host h, VM 'x' (id), checkpoint 'y' (id)" from whatever is known."""
    parts = []
    if host:
        parts.append("on host %s" % host)
    if vm is not None or vm_id:
        if vm is not None and vm_id:
            parts.append("VM %s (%s)" % (_quote(vm), vm_id))
        elif vm is not None:
            parts.append("VM %s" % _quote(vm))
        else:
            parts.append("VM %s" % vm_id)
    if checkpoint is not None or checkpoint_id:
        if checkpoint is not None and checkpoint_id:
            parts.append("checkpoint %s (%s)" % (_quote(checkpoint), checkpoint_id))
        elif checkpoint is not None:
            parts.append("checkpoint %s" % _quote(checkpoint))
        else:
            parts.append("checkpoint %s" % checkpoint_id)
    return ", ".join(parts)


def describe_error(exc, action, host=None, vm=None, vm_id=None, checkpoint=None, checkpoint_id=None,
                   secrets=()):
    """(message, details dict) for a collection exception.

    ``action`` is what was being done ("read the checkpoints"); the message reads
    "Failed to <action> <target>: <reason> [Hyper-V error <fqid>, category <c>]. <what to do>".
    Any value in ``secrets`` is masked, defence in depth on top of no_log.
    """
    target = describe_target(host, vm, vm_id, checkpoint, checkpoint_id)
    msg = "Failed to %s%s: %s" % (action, (" " + target) if target else "", exc)
    details = {"kind": getattr(exc, "kind", "error")}
    if isinstance(exc, errors.CommandError):
        ids = []
        if exc.fqid:
            ids.append("Hyper-V error %s" % exc.fqid)
        if exc.category:
            ids.append("category %s" % exc.category)
        if ids:
            msg += " [%s]" % ", ".join(ids)
        details.update(fqid=exc.fqid, category=exc.category, target=exc.target, exception=exc.exception,
                       errors=exc.errors)
    if isinstance(exc, errors.AmbiguousError):
        details["candidates"] = exc.candidates
    if isinstance(exc, errors.QuotaError):
        details.update(quota=exc.quota, fault_code=exc.fault_code)
    if isinstance(exc, errors.ConnectionError):
        details["write_may_have_applied"] = exc.write_may_have_applied
    if not msg.endswith("."):
        msg += "."
    hint = getattr(exc, "hint", None) or DEFAULT_HINTS.get(details["kind"])
    if isinstance(exc, errors.ConnectionError) and exc.write_may_have_applied:
        hint = ("The change may already have been applied on the host. Do not repeat it blindly: run the task "
                "again, it re-reads the state by Id before acting. " + (hint or ""))
    if hint:
        msg += " " + hint.strip()
    for secret in secrets:
        if secret:
            msg = msg.replace(secret, "********")
    return msg, details


@contextlib.contextmanager
def open_client(options, parallel=1):
    """Open a transport for ``options`` and yield a HyperVClient; the transport is always closed.

    Module unit tests patch this function to inject a fake client.
    """
    transport = create_transport(options, max_parallel=parallel)
    try:
        transport.open()
        yield HyperVClient(transport, parallel=parallel)
    finally:
        transport.close()


class HyperVModule(object):
    """Wraps AnsibleModule; see the module docstring."""

    def __init__(self, argument_spec=None, **kwargs):
        spec = connection_argument_spec()
        spec.update(argument_spec or {})
        kwargs.setdefault("supports_check_mode", True)
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self._options = None

    # -- AnsibleModule pass-throughs ------------------------------------------------
    def warn(self, message):
        self.module.warn(message)

    def exit_json(self, **result):
        self.module.exit_json(**result)

    def fail_json(self, msg, **result):
        self.module.fail_json(msg=msg, **result)

    # -- validation ------------------------------------------------------------------
    def validation_errors(self, checks):
        """Run (validator, value, option) triples; return the error messages."""
        problems = []
        for validator, value, option in checks:
            if isinstance(value, (list, tuple)):
                for index, item in enumerate(value):
                    problem = validator(item, "%s[%d]" % (option, index))
                    if problem:
                        problems.append(problem)
            else:
                problem = validator(value, option)
                if problem:
                    problems.append(problem)
        return problems

    def connection_options(self):
        """ConnectionOptions for this run; fails the module on a refused combination.

        Called by ``main()`` before connecting (it may call fail_json)."""
        if self._options is None:
            try:
                options, warnings = build_connection_options(self.params)
            except errors.ConfigurationError as exc:
                self.module.fail_json(msg=str(exc))
            for warning in warnings:
                self.module.warn(warning)
            self._require_library(options.transport)
            self._options = options
        return self._options

    def _require_library(self, transport):
        if transport == "winrm":
            from ansible_collections.hyperv.checkpoints.plugins.module_utils import _winrs

            if not _winrs.HAS_PYWINRM:
                self.module.fail_json(msg=missing_required_lib("pywinrm"), exception=_winrs.PYWINRM_IMPORT_ERROR)
        else:
            from ansible_collections.hyperv.checkpoints.plugins.module_utils import _psrp

            if not _psrp.HAS_PYPSRP:
                self.module.fail_json(msg=missing_required_lib("pypsrp"), exception=_psrp.PYPSRP_IMPORT_ERROR)

    # -- the client --------------------------------------------------------------------
    def client(self, parallel=1):
        """Context manager yielding a HyperVClient; the connection is closed on every path."""
        return open_client(self.connection_options(), parallel=parallel)

    @property
    def host(self):
        return self.params.get("hyperv_host")

    def describe_error(self, exc, action, **target):
        target.setdefault("host", self.host)
        return describe_error(exc, action, secrets=[self.params.get("hyperv_password")], **target)

    def fail_from(self, exc, action, result=None, **target):
        """fail_json with the mapped message; for use in a module's main() only."""
        msg, details = self.describe_error(exc, action, **target)
        result = dict(result or {})
        result.setdefault("changed", False)
        result["error"] = details
        if isinstance(exc, errors.HyperVError):
            self.module.fail_json(msg=msg, **result)
        self.module.fail_json(msg=msg, exception=traceback.format_exc(), **result)
