# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's exception tree.

Library exceptions (pypsrp, pywinrm, requests, spnego) are mapped to these once, in the
transport layer. Everything above the transport (client, module base, modules) only ever
sees these classes.

    HyperVError
     +-- AuthenticationError
     +-- TLSError
     +-- ConnectionError          (write_may_have_applied flag)
     +-- OperationTimeoutError
     +-- QuotaError               (quota name, fault code)
     +-- ConfigurationError       (bad option combination, refused before connecting)
     +-- CommandError             (a Hyper-V ErrorRecord)
     |    +-- NotFoundError
     +-- AmbiguousError           (candidates with their Ids)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class HyperVError(Exception):
    """Base of every error raised by the collection's module_utils."""

    #: short machine-readable kind, used by the module base to build messages
    kind = "error"

    def __init__(self, message, hint=None):
        super(HyperVError, self).__init__(message)
        self.message = message
        #: what the user can do about it (one sentence), or None
        self.hint = hint

    def __str__(self):
        return self.message


class AuthenticationError(HyperVError):
    """The host refused the credentials (HTTP 401, NTLM/Kerberos failure). Never retried."""

    kind = "authentication"


class TLSError(HyperVError):
    """The TLS handshake or the certificate validation failed. Never retried."""

    kind = "tls"


class ConnectionError(HyperVError):  # pylint: disable=redefined-builtin
    """The host could not be reached, or the connection dropped / a read timed out.

    ``write_may_have_applied`` is True when the failure happened after a pipeline that
    changes state had been sent: the change may have been applied on the host. Callers
    must then re-read the state (by Id or marker) instead of sending the write again.
    """

    kind = "connection"

    def __init__(self, message, hint=None, write_may_have_applied=False, request_sent=False):
        super(ConnectionError, self).__init__(message, hint=hint)
        self.write_may_have_applied = write_may_have_applied
        self.request_sent = request_sent


class OperationTimeoutError(HyperVError):
    """A Hyper-V operation did not finish in time (e.g. waiting for a merge)."""

    kind = "timeout"


class QuotaError(HyperVError):
    """A WinRM quota was exceeded (MaxShellsPerUser, MaxConcurrentOperationsPerUser, ...)."""

    kind = "quota"

    def __init__(self, message, quota, fault_code, hint=None):
        super(QuotaError, self).__init__(message, hint=hint)
        self.quota = quota
        self.fault_code = fault_code


class ConfigurationError(HyperVError):
    """A connection option combination that the collection refuses (checked before connecting)."""

    kind = "configuration"


class CommandError(HyperVError):
    """A Hyper-V cmdlet wrote an ErrorRecord (terminating or not).

    ``errors`` holds every ErrorInfo dict of the pipeline (contracts.md section 2); the
    attributes describe the first one.
    """

    kind = "command"

    def __init__(self, message, fqid=None, category=None, target=None, exception=None, errors=None, hint=None):
        super(CommandError, self).__init__(message, hint=hint)
        self.fqid = fqid
        self.category = category
        self.target = target
        self.exception = exception
        self.errors = list(errors or [])

    @property
    def error_id(self):
        """The ErrorId part of the fully qualified error id (``ObjectNotFound``)."""
        if not self.fqid:
            return None
        return self.fqid.split(",", 1)[0]

    @classmethod
    def from_error_info(cls, info, errors=None, hint=None):
        return cls(
            info.get("message") or "Hyper-V reported an error without a message",
            fqid=info.get("fqid"),
            category=info.get("category"),
            target=info.get("target"),
            exception=info.get("exception"),
            errors=errors if errors is not None else [info],
            hint=hint,
        )


class NotFoundError(CommandError):
    """The VM or checkpoint does not exist (ObjectNotFound, or no exact match on the controller)."""

    kind = "not_found"


class AmbiguousError(HyperVError):
    """More than one object matched a name exactly. ``candidates`` is a list of {id, name} dicts."""

    kind = "ambiguous"

    def __init__(self, message, candidates, hint=None):
        super(AmbiguousError, self).__init__(message, hint=hint)
        self.candidates = list(candidates)
