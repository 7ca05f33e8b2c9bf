"""Shared helpers for the checkpoint lifecycle module tests (in-process engine transport)."""

from __future__ import annotations

import typing as t
from unittest import mock

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _lifecycle as lc
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _models
from ansible_collections.hyperv.checkpoints.plugins.module_utils._winrs_runner import ALLOWED_CMDLETS
from support.modules import run_module

DC01 = "6f0c2d9e-0001-4c00-8a00-000000000001"  # HV01 Running, Production, domain controller
WEB01 = "6f0c2d9e-0002-4c00-8a00-000000000002"  # HV01 Running, Production, before-patch > after-patch
APP01 = "6f0c2d9e-0003-4c00-8a00-000000000003"  # HV01 Running, Standard, release-1.4 > nightly > nightly
SQLCLU_A = "6f0c2d9e-0004-4c00-8a00-000000000004"  # HV01, shared VHD set
LNX01 = "6f0c2d9e-0005-4c00-8a00-000000000005"  # HV01 Running, Production, no VSS in the guest
DEEP01 = "6f0c2d9e-0006-4c00-8a00-000000000006"  # HV01 Off, Standard, deep tree, Now under L6
WEB01_HV02 = "6f0c2d9e-0009-4c00-8a00-000000000009"  # HV02 Off
SQL01 = "6f0c2d9e-000b-4c00-8a00-00000000000b"  # HV02 Running, ProductionOnly, pre-upgrade
LEGACY01 = "6f0c2d9e-000c-4c00-8a00-00000000000c"  # HV02 Paused, Disabled
PT01 = "6f0c2d9e-000d-4c00-8a00-00000000000d"  # HV02, pass-through disk
REPLICA = "6f0c2d9e-000e-4c00-8a00-00000000000e"  # HV03, Recovery > Replica checkpoints
NIGHTLY49 = "6f0c2d9e-000f-4c00-8a00-00000000000f"  # HV03 Running, Standard, 49 checkpoints
SMALL01 = "6f0c2d9e-0010-4c00-8a00-000000000010"  # HV03 Running, Standard, 8 GiB memory, F: has ~3 GiB free

HOST_OF = {DC01: "HV01", WEB01: "HV01", APP01: "HV01", SQLCLU_A: "HV01", LNX01: "HV01", DEEP01: "HV01",
           WEB01_HV02: "HV02", SQL01: "HV02", LEGACY01: "HV02", PT01: "HV02", REPLICA: "HV03",
           NIGHTLY49: "HV03", SMALL01: "HV03"}
FAST = {"poll_interval": 0}

# Parameters the modules may send; user text may only be the value of the ones marked as values.
FIXED_PARAMETERS = {"Id", "Passthru", "Confirm", "IncludeAllChildSnapshots", "TurnOff", "Save", "Force",
                    "CheckpointType", "AutomaticCheckpointsEnabled", "SnapshotFileLocation", "AllowUnverifiedPaths",
                    "Namespace", "ClassName", "SnapshotName", "NewName", "Path", "Property"}
# Select-Object -Property takes only the property names the models read (never user text)
PROJECTED_NAMES = set(_models.VM_PROPERTIES + _models.VM_STATUS_PROPERTIES + _models.CHECKPOINT_PROPERTIES
                      + _models.INTEGRATION_SERVICE_PROPERTIES + lc.RAW_VM_PROPERTIES)


def reset_warnings():
    """AnsibleModule keeps warnings in a process-global list; in-process runs would inherit earlier ones."""
    from ansible.module_utils.common import warnings as ansible_warnings

    for attr in ("_global_warnings", "_global_deprecations"):
        store = getattr(ansible_warnings, attr, None)
        if hasattr(store, "clear"):
            store.clear()


def module_run(*args, **kwargs):
    """support.modules.run_module, isolated from earlier in-process runs.

    Warnings are process-global, and once any test imports controller code
    ``ansible.module_utils._internal.is_controller`` becomes True and ``warn()`` goes to the
    controller's Display instead of the module result. Both would hide or leak warnings.
    """
    from ansible.module_utils import _internal

    reset_warnings()
    with mock.patch.object(_internal, "is_controller", False):
        return run_module(*args, **kwargs)


def run(module, args, lab, vm_id=None, host=None, check_mode=False, diff=False, transports=None):
    host = host or HOST_OF.get(vm_id or args.get("vm_id"), "HV01")
    return module_run(module, dict(FAST, **args), lab=lab, host=host, check_mode=check_mode, diff=diff,
                      transports=transports)


def cps(lab, vm_id):
    """The model's checkpoints of a VM (independent of the modules)."""
    return lab.snapshots_of(vm_id)


def names(lab, vm_id):
    return [s.name for s in cps(lab, vm_id)]


def warnings_of(result) -> t.List[str]:
    out = []
    for w in result.get("warnings") or []:
        if isinstance(w, dict):
            w = (w.get("event") or {}).get("msg") or w.get("msg") or str(w)
        out.append(str(w))
    return out


def assert_safe_pipelines(transports, user_values=()):
    """Only allow-listed cmdlets, fixed parameter names, user text never in a -Name/-VMName (A1-A4)."""
    seen = 0
    for tr in transports:
        for pipeline in tr.pipelines_run:
            for cmd in pipeline:
                seen += 1
                assert cmd["cmdlet"] in ALLOWED_CMDLETS, cmd
                for name, value in cmd["parameters"]:
                    assert name in FIXED_PARAMETERS, (name, cmd)
                    if name == "Property":
                        assert cmd["cmdlet"] == "Select-Object" and set(value) <= PROJECTED_NAMES, cmd
                    assert name.lower() not in ("name", "vmname")
                    for text in user_values:
                        if value == text:
                            assert name in ("SnapshotName", "NewName", "SnapshotFileLocation"), (name, cmd)
                        elif isinstance(value, str):
                            assert text not in value or value == text, (name, value)
    assert seen, "no pipeline ran"


__all__ = ["lc"]


def make_shared_vhdx(lab, vm_name="sqlclu-a"):
    """Turn the VM's VHD Set into a shared .vhdx (the kind Hyper-V cannot checkpoint, behaviour §9).

    The demo lab's guest cluster uses a VHD Set, which can be checkpointed; the refusal tests need
    a shared VHDX. Returns the new path.
    """
    import dataclasses

    vm = next(v for v in lab.vms.values() if v.name == vm_name)
    drive = next(d for d in vm.drives if d.shared)
    host = lab.hosts[vm.host]
    old = lab.find_file(host, drive.path)
    new_path = drive.path[: -len(".vhds")] + ".vhdx"
    vol = lab.volume_for(host, drive.path)
    del vol.files[next(k for k, f in vol.files.items() if f is old)]
    vhd = dataclasses.replace(old.vhd, vhd_format="VHDX") if old.vhd is not None else None
    vol.files[new_path.lower()] = dataclasses.replace(old, path=new_path, vhd=vhd)
    drive.path = new_path
    return new_path
