# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checkpoint policy planning: Windows path normalisation and the per-VM settings plan (pure).

Paths are compared normalised (case, separator direction, repeated and trailing separators,
``.`` and ``..`` segments) so equal paths never report a change (hyperv-behaviour.md section 8).
Drive roots and share roots are refused (KB hyper-v-vm-supported-file-locations).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import ConfigurationError

_DRIVE_RE = re.compile(r"\A([A-Za-z]):(.*)\Z", re.DOTALL)
_FORBIDDEN_RE = re.compile(u'[<>"|?*\u0000-\u001f]')

TYPE_TO_HV = {"disabled": "Disabled", "standard": "Standard", "production": "Production",
              "production_only": "ProductionOnly"}
HV_TO_TYPE = dict((v, k) for k, v in TYPE_TO_HV.items())


def normalize_path(path, option="snapshot_file_location"):
    """(clean path to send, comparison key) for an absolute Windows path.

    Raises ConfigurationError for relative paths, device paths, drive roots, share roots,
    paths that climb above their root with ``..`` and characters Windows forbids.
    """
    if not isinstance(path, str) or not path.strip():
        raise ConfigurationError("%s must be a non-empty path" % option)
    text = path.replace("/", "\\")
    if text.startswith("\\\\?\\") or text.startswith("\\\\.\\"):
        raise ConfigurationError("%s %r: device paths (\\\\?\\, \\\\.\\) are not supported; use a drive path or a "
                                 "UNC path" % (option, path))
    if text.startswith("\\\\"):
        parts = [p for p in text[2:].split("\\") if p not in ("", ".")]
        if len(parts) < 2:
            raise ConfigurationError("%s %r is not a valid UNC path (\\\\server\\share\\folder)" % (option, path))
        prefix = "\\\\%s\\%s" % (parts[0], parts[1])
        rest = parts[2:]
        root_desc = "the root of the share %s" % prefix
    else:
        match = _DRIVE_RE.match(text)
        if not match or not match.group(2).startswith("\\"):
            raise ConfigurationError(
                "%s %r must be an absolute path such as D:\\Hyper-V\\Checkpoints or \\\\server\\share\\folder "
                "(relative paths are resolved differently by each host process)" % (option, path))
        prefix = "%s:" % match.group(1).upper()
        rest = match.group(2).split("\\")
        root_desc = "the root of drive %s\\" % prefix
    segments = []
    for seg in rest:
        if seg in ("", "."):
            continue
        if seg == "..":
            if not segments:
                raise ConfigurationError("%s %r climbs above %s" % (option, path, root_desc))
            segments.pop()
            continue
        if _FORBIDDEN_RE.search(seg) or ":" in seg:
            raise ConfigurationError("%s %r contains characters Windows does not allow in a folder name" % (option, path))
        segments.append(seg)
    if not segments:
        raise ConfigurationError(
            "%s %r is %s; Hyper-V does not support VM or checkpoint files in a drive or share root. Use a "
            "subfolder, for example %s\\Hyper-V\\Checkpoints" % (option, path, root_desc, prefix))
    clean = prefix + "\\" + "\\".join(segments)
    return clean, clean.casefold()


def path_key(path):
    """Comparison key for a path the host reports (never raises; unknown shapes compare case-folded)."""
    if not path:
        return ""
    try:
        return normalize_path(path)[1]
    except ConfigurationError:
        return path.replace("/", "\\").rstrip("\\").casefold()


def current_settings(vm):
    return {
        "checkpoint_type": HV_TO_TYPE.get(vm.checkpoint_type, vm.checkpoint_type),
        "automatic_checkpoints": vm.automatic_checkpoints,
        "snapshot_file_location": vm.snapshot_file_location,
    }


def plan_vm(vm, checkpoint_type=None, automatic_checkpoints=None, snapshot_file_location=None):
    """The changes for one VM: {"set": {SetVmParam: value}, "changes": [option,...], "before", "after"}.

    ``snapshot_file_location`` is the (clean, key) pair from normalize_path, or None.
    """
    before = current_settings(vm)
    after = dict(before)
    set_args = {}
    changes = []
    if checkpoint_type is not None and before["checkpoint_type"] != checkpoint_type:
        set_args["checkpoint_type"] = TYPE_TO_HV[checkpoint_type]
        after["checkpoint_type"] = checkpoint_type
        changes.append("checkpoint_type")
    if automatic_checkpoints is not None and before["automatic_checkpoints"] != automatic_checkpoints:
        set_args["automatic_checkpoints"] = automatic_checkpoints
        after["automatic_checkpoints"] = automatic_checkpoints
        changes.append("automatic_checkpoints")
    if snapshot_file_location is not None:
        clean, key = snapshot_file_location
        if path_key(before["snapshot_file_location"]) != key:
            set_args["snapshot_file_location"] = clean
            after["snapshot_file_location"] = clean
            changes.append("snapshot_file_location")
    return {"set": set_args, "changes": changes, "before": before, "after": after}
