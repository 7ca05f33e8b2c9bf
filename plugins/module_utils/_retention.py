# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure retention logic for checkpoint_prune: scope, ownership, keep_newest, older_than, order.

Nothing here does I/O. The selection rules (hyperv-behaviour.md section 12, collection-style.md
section 8 "unscoped retention"):

1. Only ``SnapshotType == Standard`` checkpoints are ever candidates. Recovery, Planned, Missing,
   Replica, AppConsistentReplica and SyncedReplica (and any unknown type) are skipped.
2. The *scope* is: owned by the collection (name starts with the ownership prefix; on by default)
   and matching ``name_pattern`` (glob or regex, matched on the controller, case-sensitive).
3. Within the scope, the ``keep_newest`` newest (by creation time) are kept.
4. Of the rest, with ``older_than``, only those older than that age are removed.
5. The checkpoint the VM currently runs from (VM.ParentSnapshotId) is kept unless
   ``include_current`` is set. A checkpoint with no readable creation time is never removed.
6. Removals are ordered oldest first.

Hence: a removed checkpoint is always Standard and in scope, and at least ``keep_newest`` of the
in-scope checkpoints (or all of them, when there are fewer) always remain.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import re

from ansible_collections.hyperv.checkpoints.plugins.module_utils._reports import parse_iso

DEFAULT_OWNED_PREFIX = "ansible-"
PRUNABLE_TYPE = "Standard"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_RE = re.compile(r"(\d+)\s*([smhdw])", re.IGNORECASE)
_DURATION_FULL_RE = re.compile(r"\A\s*(?:\d+\s*[smhdw]\s*)+\Z", re.IGNORECASE)

REASON_TYPE = "type %s is never pruned"
REASON_NOT_OWNED = "not created by this collection (name does not start with %r)"
REASON_NO_MATCH = "name does not match name_pattern"
REASON_KEEP_NEWEST = "one of the %d newest in scope (keep_newest)"
REASON_TOO_YOUNG = "younger than older_than (%s)"
REASON_CURRENT = "the VM currently runs from it (set include_current to remove it)"
REASON_NO_TIME = "creation time unknown"


class RetentionError(ValueError):
    """An invalid retention option (bad duration, bad regex, nothing to decide on)."""


def parse_duration(text):
    """Seconds from ``90m``, ``12h``, ``7d``, ``2w``, ``45s`` or a sum such as ``1d12h``.

    A bare integer (int or digits) is taken as seconds. Raises RetentionError otherwise.
    """
    if isinstance(text, bool):
        raise RetentionError("older_than must be a duration such as 7d, 12h or 90m")
    if isinstance(text, int):
        if text < 0:
            raise RetentionError("older_than must not be negative")
        return text
    if not isinstance(text, str) or not text.strip():
        raise RetentionError("older_than must be a duration such as 7d, 12h or 90m")
    stripped = text.strip()
    if stripped.isdigit():
        return int(stripped)
    if not _DURATION_FULL_RE.match(stripped):
        raise RetentionError(
            "older_than %r is not a duration: use a number and a unit s, m, h, d or w, for example 7d, 12h, 90m "
            "or 1d12h" % text)
    return sum(int(n) * _UNITS[u.lower()] for n, u in _DURATION_RE.findall(stripped))


def compile_matcher(pattern, pattern_type="glob"):
    """A callable name -> bool for ``name_pattern`` (None matches everything).

    ``glob``: fnmatch syntax (``*``, ``?``, ``[seq]``), matched against the whole name,
    case-sensitive (never the host's wildcard engine). ``regex``: Python ``re.search``,
    case-sensitive; anchor with ``^``/``$`` to match the whole name.
    """
    if pattern is None:
        return lambda name: True
    if pattern_type == "glob":
        regex = re.compile(fnmatch.translate(pattern), re.DOTALL)
        return lambda name: bool(regex.match(name or ""))
    if pattern_type == "regex":
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise RetentionError("name_pattern %r is not a valid regular expression: %s" % (pattern, exc))
        return lambda name: bool(regex.search(name or ""))
    raise RetentionError("pattern_type must be glob or regex")


def _time_key(cp):
    created = parse_iso(cp.creation_time)
    return (0 if created is None else 1, created.timestamp() if created else 0.0, cp.name or "", cp.id or "")


def _age(cp, now):
    created = parse_iso(cp.creation_time)
    if created is None:
        return None
    return (now - created).total_seconds()


def _describe_age(seconds):
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % seconds


def select(checkpoints, now_parent_id, now, keep_newest=None, older_than=None, matcher=None,
           owned_prefix=DEFAULT_OWNED_PREFIX, owned_only=True, include_current=False):
    """Decide which checkpoints of one VM to remove.

    Returns ``{"remove": [cp...] oldest first, "keep": [(cp, reason)], "skip": [(cp, reason)]}``:
    ``keep`` holds in-scope checkpoints that stay, ``skip`` the ones outside the scope.
    ``older_than`` is in seconds; ``now`` an aware datetime.
    """
    if keep_newest is None and older_than is None:
        raise RetentionError("set keep_newest, older_than or both: without them nothing can be decided")
    if keep_newest is not None and keep_newest < 0:
        raise RetentionError("keep_newest must be 0 or more")
    if owned_only and not owned_prefix:
        raise RetentionError("owned_prefix must not be empty while owned_only is true")
    if matcher is None:
        matcher = compile_matcher(None)

    seen = set()
    unique = []
    for cp in checkpoints:
        if cp.id not in seen:
            seen.add(cp.id)
            unique.append(cp)

    skip = []
    scope = []
    for cp in unique:
        if cp.snapshot_type != PRUNABLE_TYPE:
            skip.append((cp, REASON_TYPE % (cp.snapshot_type or "unknown")))
        elif owned_only and not (cp.name or "").startswith(owned_prefix):
            skip.append((cp, REASON_NOT_OWNED % owned_prefix))
        elif not matcher(cp.name or ""):
            skip.append((cp, REASON_NO_MATCH))
        else:
            scope.append(cp)

    ordered = sorted(scope, key=_time_key)  # oldest first; unknown times sort first
    protected = set()
    keep = []
    if keep_newest:
        for cp in ordered[-keep_newest:]:
            protected.add(cp.id)
            keep.append((cp, REASON_KEEP_NEWEST % keep_newest))
    remove = []
    for cp in ordered:
        if cp.id in protected:
            continue
        age = _age(cp, now)
        if age is None:
            keep.append((cp, REASON_NO_TIME))
            continue
        if older_than is not None and age <= older_than:
            keep.append((cp, REASON_TOO_YOUNG % _describe_age(older_than)))
            continue
        if cp.id == now_parent_id and not include_current:
            keep.append((cp, REASON_CURRENT))
            continue
        remove.append(cp)
    keep.sort(key=lambda pair: _time_key(pair[0]))
    return {"remove": remove, "keep": keep, "skip": skip}


def tree_after(checkpoints, now_parent_id, removed_ids):
    """(checkpoints, now_parent_id) after removing ``removed_ids`` one by one without children.

    Children of a removed checkpoint re-parent onto its parent, and so does "Now" (behaviour §4).
    Returns plain dicts (id, name, parent_id, creation_time, snapshot_type).
    """
    removed_ids = set(removed_ids)
    by_id = dict((cp.id, cp) for cp in checkpoints)

    def surviving_parent(pid):
        seen = set()
        while pid in removed_ids and pid in by_id and pid not in seen:
            seen.add(pid)
            pid = by_id[pid].parent_id
        return pid

    out = []
    for cp in checkpoints:
        if cp.id in removed_ids:
            continue
        out.append(node(cp, parent_id=surviving_parent(cp.parent_id)))
    return out, surviving_parent(now_parent_id)


def node(cp, parent_id):
    """Plain data of one checkpoint for the diff, with the given parent."""
    return {
        "id": cp.id,
        "name": cp.name,
        "parent_id": parent_id,
        "creation_time": cp.creation_time,
        "snapshot_type": cp.snapshot_type,
    }


def tree_before(checkpoints):
    return [node(cp, cp.parent_id) for cp in checkpoints]
