"""_policy: Windows path normalisation (test-matrix A16, A17) and the per-VM settings plan."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import ConfigurationError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import VM
from ansible_collections.hyperv.checkpoints.plugins.module_utils._policy import normalize_path, path_key, plan_vm


@pytest.mark.parametrize(
    "given, clean",
    [
        ("D:\\Hyper-V\\Checkpoints", "D:\\Hyper-V\\Checkpoints"),
        ("d:/Hyper-V/Checkpoints/", "D:\\Hyper-V\\Checkpoints"),
        ("D:\\Hyper-V\\\\Checkpoints\\\\", "D:\\Hyper-V\\Checkpoints"),
        ("D:\\Hyper-V\\.\\x\\..\\Checkpoints", "D:\\Hyper-V\\Checkpoints"),
        ("\\\\fs01\\vms\\cp\\", "\\\\fs01\\vms\\cp"),
        ("//fs01/vms/cp", "\\\\fs01\\vms\\cp"),
    ],
)
def test_normalize_path_cleans(given, clean):
    assert normalize_path(given)[0] == clean


@pytest.mark.parametrize("a, b", [("C:/x", "c:\\x\\"), ("D:\\Hyper-V", "d:\\hyper-v"), ("D:\\a\\b\\..", "D:\\A")])
def test_equal_paths_compare_equal(a, b):
    """A17: case, slash direction, trailing separator and '..' never give a false change."""
    assert normalize_path(a)[1] == normalize_path(b)[1]


@pytest.mark.parametrize(
    "bad, words",
    [
        ("D:\\", "root of drive"),
        ("d:/", "root of drive"),
        ("D:\\x\\..", "root of drive"),
        ("\\\\fs01\\vms", "root of the share"),
        ("\\\\fs01\\vms\\", "root of the share"),
        ("Hyper-V\\cp", "absolute path"),
        ("..\\cp", "absolute path"),
        ("D:cp", "absolute path"),
        ("D:\\..\\cp", "climbs above"),
        ("\\\\?\\C:\\cp", "device paths"),
        ("D:\\a|b", "does not allow"),
        ("\\\\fs01", "not a valid UNC"),
        ("   ", "non-empty"),
    ],
)
def test_normalize_path_refuses(bad, words):
    """A16: drive and share roots are refused; relative and odd paths too."""
    with pytest.raises(ConfigurationError) as err:
        normalize_path(bad)
    assert words in str(err.value)


def test_path_key_never_raises():
    assert path_key("D:\\") == "d:"
    assert path_key(None) == ""


def _vm(**kw):
    base = dict(Id="6f0c2d9e-0002-4c00-8a00-000000000002", Name="web01", CheckpointType="Production",
                AutomaticCheckpointsEnabled=False, SnapshotFileLocation="D:\\Hyper-V")
    base.update(kw)
    return VM.from_plain(base)


def test_plan_vm_nothing_to_do():
    p = plan_vm(_vm(), "production", False, normalize_path("d:/hyper-v/"))
    assert p["changes"] == [] and p["set"] == {} and p["before"] == p["after"]


def test_plan_vm_all_three():
    p = plan_vm(_vm(), "production_only", True, normalize_path("E:/cp/"))
    assert p["changes"] == ["checkpoint_type", "automatic_checkpoints", "snapshot_file_location"]
    assert p["set"] == {"checkpoint_type": "ProductionOnly", "automatic_checkpoints": True,
                        "snapshot_file_location": "E:\\cp"}
    assert p["before"]["checkpoint_type"] == "production"
    assert p["after"] == {"checkpoint_type": "production_only", "automatic_checkpoints": True,
                          "snapshot_file_location": "E:\\cp"}


def test_plan_vm_only_given_settings_are_compared():
    p = plan_vm(_vm(CheckpointType="Standard"), None, None, None)
    assert p["changes"] == []
