# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure builders of the info modules' return values (plain dicts, no I/O)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _tree as tree

_ISO_RE = re.compile(
    r"\A(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?\Z"
)


def parse_iso(text):
    """Parse an ISO 8601 'o' string (7-digit fractions allowed) to an aware datetime, or None.

    A value without an offset is taken as UTC.
    """
    if not isinstance(text, str):
        return None
    match = _ISO_RE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    micro = int((match.group(7) or "0")[:6].ljust(6, "0"))
    tz = match.group(8)
    if tz in (None, "Z"):
        tzinfo = datetime.timezone.utc
    else:
        sign = -1 if tz[0] == "-" else 1
        tzinfo = datetime.timezone(sign * datetime.timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    try:
        return datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=tzinfo)
    except ValueError:
        return None


def age_seconds(creation_time, now):
    created = parse_iso(creation_time)
    if created is None:
        return None
    return max(0, int((now - created).total_seconds()))


def link_report(link):
    return {
        "path": link.path,
        "vhd_type": link.vhd_type,
        "vhd_format": link.vhd_format,
        "size": link.size,
        "file_size": link.file_size,
        "parent_path": link.parent_path,
    }


def disk_report(disk):
    return {
        "path": disk.path,
        "controller_type": disk.controller_type,
        "controller_number": disk.controller_number,
        "controller_location": disk.controller_location,
        "disk_number": disk.disk_number,
        "passthrough": disk.is_passthrough,
        "vhd_set": disk.is_vhd_set,
        "chain": [link_report(link) for link in disk.chain],
        "chain_depth": tree.vhd_chain_depth(disk.chain),
        "avhdx_paths": tree.chain_avhdx_paths(disk.chain),
    }


def integration_report(services):
    """(list of service dicts, backup dict) from IntegrationService objects."""
    items = []
    backup = {"present": False, "enabled": None, "guest_responding": None, "name": None}
    for svc in services:
        items.append(
            {
                "name": svc.name,
                "id": svc.id,
                "kind": svc.kind,
                "enabled": svc.enabled,
                "primary_status": svc.primary_status,
                "secondary_status": svc.secondary_status,
                "guest_responding": svc.guest_responding,
            }
        )
        if svc.kind == "vss":
            backup = {
                "present": True,
                "enabled": svc.enabled,
                "guest_responding": svc.guest_responding,
                "name": svc.name,
            }
    return items, backup


def vss_available(backup):
    """True when Backup (VSS) is enabled and the guest answers; None when unknown."""
    if not backup.get("present"):
        return None
    if backup.get("enabled") is False:
        return False
    if backup.get("guest_responding") is None:
        return None
    return bool(backup.get("enabled")) and bool(backup.get("guest_responding"))


def vm_report(vm, host, checkpoints=None, disks=None, services=None, role=None):
    """The vm_info entry of one VM. ``None`` inputs mean "not gathered" and give nulls."""
    current = tree.current(checkpoints or [], vm.parent_checkpoint_id) if checkpoints is not None else None
    report = {
        "id": vm.id,
        "name": vm.name,
        "host": vm.host or host,
        "state": vm.state,
        "status": vm.status,
        "operational_status": list(vm.operational_status),
        "busy": vm.busy,
        "busy_reasons": vm.busy_reasons,
        "checkpoint_type": vm.checkpoint_type,
        "automatic_checkpoints": vm.automatic_checkpoints,
        "snapshot_file_location": vm.snapshot_file_location,
        "path": vm.path,
        "generation": vm.generation,
        "version": vm.version,
        "memory_startup": vm.memory_startup,
        "memory_assigned": vm.memory_assigned,
        "dynamic_memory": vm.dynamic_memory,
        "processor_count": vm.processor_count,
        "is_clustered": vm.is_clustered,
        "replication_mode": vm.replication_mode,
        "replication_state": vm.replication_state,
        "checkpoint_count": len(checkpoints) if checkpoints is not None else None,
        "current_checkpoint_id": vm.parent_checkpoint_id,
        "current_checkpoint_name": current.name if current is not None else vm.parent_checkpoint_name,
    }
    if services is not None:
        items, backup = integration_report(services)
        report["integration_services"] = items
        report["backup_integration_service"] = backup
        report["vss_available"] = vss_available(backup)
    else:
        report["integration_services"] = None
        report["backup_integration_service"] = None
        report["vss_available"] = None
    if role is not None:
        report["guest_role"] = role.as_dict()
        report["domain_controller"] = role.domain_controller
    else:
        report["guest_role"] = None
        report["domain_controller"] = None
    report["disks"] = [disk_report(d) for d in disks] if disks is not None else None
    return report


def checkpoint_report(cp, checkpoints, now_parent_id, now, file_links=None):
    """The checkpoint_info entry of one checkpoint.

    ``file_links`` is the list of VhdChainLink of the checkpoint's own differencing files
    (None when unknown): they give ``files`` and ``size``.
    """
    kids = tree.children(checkpoints, cp.id)
    files = None
    size = None
    if file_links is not None:
        files = [link.path for link in file_links]
        sizes = [link.file_size for link in file_links]
        size = sum(sizes) if all(s is not None for s in sizes) else None
    return {
        "id": cp.id,
        "name": cp.name,
        "vm_id": cp.vm_id,
        "vm_name": cp.vm_name,
        "parent_id": cp.parent_id,
        "parent_name": cp.parent_name,
        "children_ids": [c.id for c in kids],
        "depth": tree.depth(checkpoints, cp.id),
        "creation_time": cp.creation_time,
        "age_seconds": age_seconds(cp.creation_time, now),
        "snapshot_type": cp.snapshot_type,
        "state": cp.state,
        "captured_memory": cp.captured_memory,
        "captured_type": cp.captured_type,
        "is_automatic": cp.is_automatic,
        "is_current": cp.id == now_parent_id,
        "on_now_path": tree.is_on_now_path(checkpoints, now_parent_id, cp.id),
        "path": cp.path,
        "files": files,
        "size": size,
    }


def vm_tree_report(vm, checkpoints, disks, now, checkpoint_files=None, selected=None):
    """The checkpoint_info entry of one VM: Now position, chain depths, merge state and the tree.

    ``selected`` limits the returned checkpoints (a name / Id filter) without changing the
    tree facts (parents, children, depth) computed over all checkpoints.
    """
    checkpoint_files = checkpoint_files or {}
    current = tree.current(checkpoints, vm.parent_checkpoint_id)
    ordered = tree.walk(checkpoints)
    if selected is not None:
        wanted = set(c.id for c in selected)
        ordered = [c for c in ordered if c.id in wanted]
    return {
        "vm_id": vm.id,
        "vm_name": vm.name,
        "state": vm.state,
        "operational_status": list(vm.operational_status),
        "checkpoint_type": vm.checkpoint_type,
        "checkpoint_count": len(checkpoints),
        "now_parent_id": vm.parent_checkpoint_id,
        "now_parent_name": current.name if current is not None else vm.parent_checkpoint_name,
        "now_depth": tree.now_depth(checkpoints, vm.parent_checkpoint_id),
        "latest_id": current.id if current is not None else None,
        "root_ids": [c.id for c in tree.roots(checkpoints)],
        "merge_pending": vm.merging,
        "disks": [
            {"path": d.path, "chain_depth": tree.vhd_chain_depth(d.chain), "avhdx_paths": tree.chain_avhdx_paths(d.chain)}
            for d in (disks or [])
        ],
        "checkpoints": [
            checkpoint_report(c, checkpoints, vm.parent_checkpoint_id, now, checkpoint_files.get(c.id)) for c in ordered
        ],
    }
