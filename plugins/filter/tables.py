# -*- coding: utf-8 -*-
# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that render the info modules' results as text a person can read."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

_VM_COLUMNS = (
    ("VM", 18),
    ("STATE", 8),
    ("TYPE", 14),
    ("CKPTS", 5),
    ("CURRENT", 22),
    ("ROLE", 20),
)


def _cell(value, width):
    text = "-" if value is None or value == "" else str(value)
    if len(text) > width:
        text = text[: width - 1] + "~"
    return text.ljust(width)


def _role(vm):
    hints = []
    if vm.get("domain_controller"):
        hints.append("domain controller")
    if (vm.get("replication_mode") or "None") not in ("None", ""):
        hints.append("replica" if vm.get("replication_mode") == "Replica" else "replicated")
    if vm.get("is_clustered"):
        hints.append("clustered")
    if vm.get("vss_available") is False:
        hints.append("no VSS")
    if vm.get("busy"):
        hints.append("busy")
    return ", ".join(hints)


def vm_table(vms, host=None):
    """Lines of a fixed-width table of ``vm_info``'s ``vms`` (one line per VM, a header first)."""
    if not isinstance(vms, list):
        raise AnsibleFilterError("vm_table expects the 'vms' list returned by hyperv.checkpoints.vm_info")
    lines = []
    if host:
        lines.append("Hyper-V host %s: %d VMs" % (host, len(vms)))
    lines.append(" ".join(_cell(title, width) for title, width in _VM_COLUMNS).rstrip())
    for vm in vms:
        if not isinstance(vm, dict):
            raise AnsibleFilterError("vm_table expects a list of VM dictionaries")
        row = (
            vm.get("name"),
            vm.get("state"),
            vm.get("checkpoint_type"),
            vm.get("checkpoint_count"),
            vm.get("current_checkpoint_name"),
            _role(vm),
        )
        lines.append(" ".join(_cell(value, width) for value, (_title, width) in zip(row, _VM_COLUMNS)).rstrip())
    return lines


def _describe(checkpoint):
    parts = [checkpoint.get("snapshot_type") or "?"]
    if checkpoint.get("snapshot_type") == "Standard":
        parts.append("with memory" if checkpoint.get("captured_memory") else "no memory")
    age = checkpoint.get("age_seconds")
    if isinstance(age, (int, float)):
        if age >= 86400:
            parts.append("%dd old" % (age // 86400))
        elif age >= 3600:
            parts.append("%dh old" % (age // 3600))
        else:
            parts.append("%dm old" % (age // 60))
    return ", ".join(parts)


def checkpoint_tree(vm):
    """Lines drawing one VM of ``checkpoint_info``'s ``vms`` as a tree, with the "Now" marker."""
    if not isinstance(vm, dict) or "checkpoints" not in vm:
        raise AnsibleFilterError("checkpoint_tree expects one entry of the 'vms' list returned by "
                                 "hyperv.checkpoints.checkpoint_info")
    by_id = dict((c["id"], c) for c in vm["checkpoints"])
    children = {}
    for checkpoint in vm["checkpoints"]:
        children.setdefault(checkpoint.get("parent_id"), []).append(checkpoint["id"])
    now_parent = vm.get("now_parent_id")
    lines = ["%s (%s, %d checkpoints)" % (vm.get("vm_name"), vm.get("state"), len(by_id))]
    if not by_id:
        lines.append("  (no checkpoints) <- Now")
        return lines
    if now_parent is None:
        lines.append("  Now (not below any checkpoint)")

    def walk(node_id, prefix, last):
        checkpoint = by_id[node_id]
        branch = "`- " if last else "|- "
        lines.append("%s%s%s [%s]" % (prefix, branch, checkpoint.get("name"), _describe(checkpoint)))
        kids = list(children.get(node_id, []))
        child_prefix = prefix + ("   " if last else "|  ")
        if node_id == now_parent:
            marker_last = not kids
            lines.append("%s%sNow" % (child_prefix, "`- " if marker_last else "|- "))
        for index, kid in enumerate(kids):
            walk(kid, child_prefix, index == len(kids) - 1)

    roots = list(children.get(None, []))
    orphans = [cid for cid, c in by_id.items() if c.get("parent_id") and c["parent_id"] not in by_id]
    roots.extend(orphans)
    for index, root in enumerate(roots):
        walk(root, "  ", index == len(roots) - 1)
    return lines


class FilterModule(object):
    def filters(self):
        return {
            "vm_table": vm_table,
            "checkpoint_tree": checkpoint_tree,
        }
