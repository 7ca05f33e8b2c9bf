# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure functions over one VM's checkpoint tree.

Inputs are sequences of ``_models.Checkpoint`` (anything with ``id``, ``name``,
``parent_id`` and ``creation_time``) plus, where relevant, the VM's ``ParentSnapshotId``
(the checkpoint the "Now" marker hangs under). Nothing here does I/O.

Robustness rules (a host can report a damaged tree):
- a checkpoint whose parent is not in the list is treated as a root (an *orphan*);
- cycles never hang: every walk keeps a visited set and stops on a repeat;
- children are ordered by creation time, then name, then Id, so results are deterministic.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def index(checkpoints):
    """{id: checkpoint}. Later duplicates of the same Id are ignored."""
    result = {}
    for cp in checkpoints:
        result.setdefault(cp.id, cp)
    return result


def _sort_key(cp):
    return (cp.creation_time or "", cp.name or "", cp.id or "")


def children_map(checkpoints):
    """{parent_id or None: [child, ...]} with orphans under None, each list sorted."""
    idx = index(checkpoints)
    result = {}
    for cp in idx.values():
        parent = cp.parent_id if cp.parent_id in idx and cp.parent_id != cp.id else None
        result.setdefault(parent, []).append(cp)
    for kids in result.values():
        kids.sort(key=_sort_key)
    return result


def roots(checkpoints):
    """Checkpoints without a (known) parent, oldest first."""
    return list(children_map(checkpoints).get(None, []))


def orphans(checkpoints):
    """Checkpoints whose parent_id names a checkpoint that is not in the list."""
    idx = index(checkpoints)
    return [cp for cp in idx.values() if cp.parent_id and cp.parent_id not in idx]


def find(checkpoints, checkpoint_id):
    """The checkpoint with that Id, or None."""
    if not checkpoint_id:
        return None
    return index(checkpoints).get(checkpoint_id)


def parent(checkpoints, checkpoint_id):
    """The parent checkpoint, or None for a root / unknown Id."""
    idx = index(checkpoints)
    cp = idx.get(checkpoint_id)
    if cp is None or not cp.parent_id or cp.parent_id == cp.id:
        return None
    return idx.get(cp.parent_id)


def children(checkpoints, checkpoint_id):
    """Immediate children, oldest first."""
    if checkpoint_id not in index(checkpoints):
        return []
    return list(children_map(checkpoints).get(checkpoint_id, []))


def path_from_root(checkpoints, checkpoint_id):
    """[root, ..., checkpoint]; [] for an unknown Id. Stops at a cycle."""
    idx = index(checkpoints)
    path = []
    seen = set()
    current = idx.get(checkpoint_id)
    while current is not None and current.id not in seen:
        seen.add(current.id)
        path.append(current)
        current = idx.get(current.parent_id) if current.parent_id else None
    path.reverse()
    return path


def depth(checkpoints, checkpoint_id):
    """1 for a root, 2 for its child, ...; 0 for an unknown Id."""
    return len(path_from_root(checkpoints, checkpoint_id))


def subtree(checkpoints, checkpoint_id):
    """The checkpoint and all its descendants, pre-order (parent before children)."""
    idx = index(checkpoints)
    if checkpoint_id not in idx:
        return []
    kids = children_map(checkpoints)
    result = []
    seen = set()
    stack = [idx[checkpoint_id]]
    while stack:
        cp = stack.pop()
        if cp.id in seen:
            continue
        seen.add(cp.id)
        result.append(cp)
        stack.extend(reversed(kids.get(cp.id, [])))
    return result


def descendants(checkpoints, checkpoint_id):
    """All descendants, without the checkpoint itself."""
    return subtree(checkpoints, checkpoint_id)[1:]


def walk(checkpoints):
    """Every checkpoint once, pre-order from the roots (oldest root first)."""
    result = []
    seen = set()
    for root in roots(checkpoints):
        for cp in subtree(checkpoints, root.id):
            if cp.id not in seen:
                seen.add(cp.id)
                result.append(cp)
    # checkpoints only reachable through a cycle are not below any root: add them last
    for cp in sorted(index(checkpoints).values(), key=_sort_key):
        if cp.id not in seen:
            seen.add(cp.id)
            result.append(cp)
    return result


def current(checkpoints, now_parent_id):
    """The checkpoint the "Now" marker hangs under (VM.ParentSnapshotId), or None.

    Hyper-V Manager's *Revert* applies exactly this checkpoint, so it is also ``latest``.
    """
    return find(checkpoints, now_parent_id)


def latest(checkpoints, now_parent_id):
    """The Revert target: the parent of "Now" (VM.ParentSnapshotId). None without checkpoints."""
    return current(checkpoints, now_parent_id)


def now_depth(checkpoints, now_parent_id):
    """How many checkpoints lie between the root and "Now" (0 when Now has no parent)."""
    return depth(checkpoints, now_parent_id) if now_parent_id else 0


def is_on_now_path(checkpoints, now_parent_id, checkpoint_id):
    """True when the checkpoint is an ancestor of "Now" (its disks are in the live chain)."""
    return any(cp.id == checkpoint_id for cp in path_from_root(checkpoints, now_parent_id))


def newest(checkpoints):
    """The most recently created checkpoint (by creation time), or None."""
    cps = list(index(checkpoints).values())
    if not cps:
        return None
    return max(cps, key=_sort_key)


def match_name(checkpoints, name):
    """Checkpoints whose name equals ``name`` exactly (case-sensitive, no trimming)."""
    return [cp for cp in index(checkpoints).values() if cp.name == name]


def match_name_casefold(checkpoints, name):
    """Checkpoints whose name equals ``name`` ignoring case (used only for hints)."""
    folded = name.casefold()
    return [cp for cp in index(checkpoints).values() if (cp.name or "").casefold() == folded]


def vhd_chain_depth(chain):
    """Number of differencing links (one per checkpoint level) in a disk's VHD chain."""
    return sum(1 for link in chain if link.is_differencing)


def chain_avhdx_paths(chain):
    """The differencing (.avhdx) files of a chain, newest first."""
    return [link.path for link in chain if link.is_differencing]


def tree_summary(checkpoints, now_parent_id):
    """Plain data for module results: per checkpoint its parent, children and depth, plus Now."""
    kids = children_map(checkpoints)
    out = []
    for cp in walk(checkpoints):
        out.append(
            {
                "id": cp.id,
                "parent_id": cp.parent_id,
                "children_ids": [c.id for c in kids.get(cp.id, [])],
                "depth": depth(checkpoints, cp.id),
                "is_current": cp.id == now_parent_id,
                "on_now_path": is_on_now_path(checkpoints, now_parent_id, cp.id),
            }
        )
    return out
