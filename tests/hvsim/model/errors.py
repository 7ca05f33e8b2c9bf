"""Errors raised by the model; handlers turn them into Hyper-V ErrorRecords.

``error_id`` is the Hyper-V ErrorId (FullyQualifiedErrorId prefix); the category follows the
pairs in hyperv-cmdlets-notes.md A.4.
"""

from __future__ import annotations

import typing as t

CATEGORY_OF: t.Dict[str, str] = {
    "ObjectNotFound": "ObjectNotFound",
    "InvalidParameter": "InvalidArgument",
    "InvalidState": "InvalidOperation",
    "InvalidOperation": "InvalidOperation",
    "OperationFailed": "InvalidOperation",
    "AccessDenied": "PermissionDenied",
    "ObjectInUse": "ResourceBusy",
    "OperationTimeout": "OperationTimeout",
    "NotSupported": "InvalidOperation",
    "Unspecified": "NotSpecified",
}


class ModelError(Exception):
    """A failed model operation: ``error_id`` (Hyper-V ErrorId), message text and target."""

    def __init__(self, error_id: str, message: str, target: t.Optional[str] = None) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message
        self.target = target
        self.partial = False  # True when the failed operation still changed state (partial export)

    @property
    def category(self) -> str:
        return CATEGORY_OF.get(self.error_id, "NotSpecified")

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"ModelError({self.error_id!r}, {self.message!r}, {self.target!r})"


class ModelWarning(t.NamedTuple):
    text: str
