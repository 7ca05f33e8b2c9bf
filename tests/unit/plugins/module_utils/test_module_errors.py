"""Exception → fail_json message mapping, argument validators."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _errors as errors
from ansible_collections.hyperv.checkpoints.plugins.module_utils._module import (
    describe_error,
    validate_checkpoint_name,
    validate_guid,
    validate_vm_name,
)

CP_ID = "0b7e5a11-2c3d-4e5f-8a9b-1c2d3e4f5a6b"


def test_command_error_message_names_everything():
    exc = errors.CommandError(
        "The operation cannot be performed while the object is in its current state.",
        fqid="InvalidState,Microsoft.HyperV.PowerShell.Commands.RemoveVMSnapshot",
        category="InvalidOperation",
    )
    msg, details = describe_error(exc, "remove the checkpoint", host="hv01", vm="web01",
                                  vm_id="6f0c2d9e-0002-4c00-8a00-000000000002", checkpoint="nightly",
                                  checkpoint_id=CP_ID)
    assert msg.startswith(
        "Failed to remove the checkpoint on host hv01, VM 'web01' (6f0c2d9e-0002-4c00-8a00-000000000002), "
        "checkpoint 'nightly' (%s): The operation cannot be performed" % CP_ID
    )
    assert "[Hyper-V error InvalidState,Microsoft.HyperV.PowerShell.Commands.RemoveVMSnapshot, " \
           "category InvalidOperation]" in msg
    assert details["fqid"].startswith("InvalidState")
    assert details["kind"] == "command"


def test_ambiguous_lists_candidates():
    exc = errors.AmbiguousError("2 VMs named 'dup' on host hv01 (Ids: a, b)",
                                candidates=[{"id": "a", "name": "dup"}, {"id": "b", "name": "dup"}],
                                hint="Select the VM with vm_id.")
    msg, details = describe_error(exc, "read VM information", host="hv01", vm="dup")
    assert "Ids: a, b" in msg and msg.endswith("Select the VM with vm_id.")
    assert details["candidates"] == [{"id": "a", "name": "dup"}, {"id": "b", "name": "dup"}]


@pytest.mark.parametrize(
    "exc, needle",
    [
        (errors.AuthenticationError("Authentication to hv01 failed"), "hyperv_username"),
        (errors.TLSError("TLS connection to hv01 failed"), "hyperv_ca_path"),
        (errors.ConnectionError("Could not connect to hv01"), "WinRM listener"),
        (errors.QuotaError("WinRM quota MaxShellsPerUser exceeded", "MaxShellsPerUser", 2150859173), "throttle"),
        (errors.OperationTimeoutError("Timed out"), "timeout"),
    ],
)
def test_default_hints(exc, needle):
    msg, details = describe_error(exc, "connect", host="hv01")
    assert needle in msg
    assert details["kind"] == exc.kind


def test_write_may_have_applied_says_so():
    exc = errors.ConnectionError("Timed out waiting for hv01", write_may_have_applied=True, request_sent=True)
    msg, details = describe_error(exc, "create the checkpoint", host="hv01", vm="web01")
    assert "may already have been applied" in msg
    assert details["write_may_have_applied"] is True


def test_secrets_are_masked():
    exc = errors.AuthenticationError("Authentication failed for password S3cret!")
    msg = describe_error(exc, "connect", host="hv01", secrets=["S3cret!"])[0]
    assert "S3cret!" not in msg and "********" in msg


@pytest.mark.parametrize(
    "value, ok",
    [
        ("6f0c2d9e-0002-4c00-8a00-000000000002", True),
        ("{6F0C2D9E-0002-4C00-8A00-000000000002}", True),
        ("6f0c2d9e00024c008a00000000000002", False),
        ("web01", False),
        ("", False),
        ("6f0c2d9e-0002-4c00-8a00-00000000000g", False),
    ],
)
def test_validate_guid(value, ok):
    assert (validate_guid(value, "vm_id") is None) is ok


@pytest.mark.parametrize(
    "value, ok",
    [
        ("before patch", True),
        ("x" * 100, True),
        ("x" * 101, False),
        ("", False),
        ("   ", False),
        ("a\nb", False),
        ("a\rb", False),
        ("a\tb", False),
        ("a\u2028b", False),
        ("\u202ertl \u2018q\u2019 😀 $(x) `; * ? [a]", True),
        (" trailing ", True),
    ],
)
def test_validate_checkpoint_name(value, ok):
    assert (validate_checkpoint_name(value) is None) is ok


@pytest.mark.parametrize("value, ok", [("web01", True), ("a\nb", True), ("a\x00b", False), ("", False),
                                       ("x" * 101, False)])
def test_validate_vm_name(value, ok):
    assert (validate_vm_name(value) is None) is ok
