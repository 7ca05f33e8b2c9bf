# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The ``parallel`` option of the VM-list modules and the per-VM result rules of a batch (pure, no I/O).

``parallel`` is documented once in the ``hyperv.checkpoints.batch`` doc fragment; its default and
bounds are the batch runner's (``_batch.DEFAULT_PARALLEL``, ``_batch.MAX_PARALLEL``).

The result helpers follow the ``checkpoint`` module's batch mode: one dict per VM with
``vm_id``, ``vm_name``, ``changed``, ``failed``, ``skipped`` and ``msg``; a ``summary``; the task
fails when any VM failed, with a message that lists each failed VM.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hyperv.checkpoints.plugins.module_utils._batch import DEFAULT_PARALLEL, MAX_PARALLEL

BATCH_FAILURE_CHOICES = ["collect", "fail_fast"]


def parallel_argument():
    """The argument spec entry of ``parallel`` (matches the ``batch`` doc fragment)."""
    return dict(type="int", default=DEFAULT_PARALLEL)


def parallel_problem(value):
    """None when ``value`` is a valid ``parallel``, else the message for fail_json."""
    if value is None or not MAX_PARALLEL >= value >= 1:
        return "parallel must be between 1 and %d (pipelines at once on the session's runspace pool), got %s" % (
            MAX_PARALLEL, value)
    return None


def label(vm_name, vm_id, requested=None):
    """"'name' (id)" from what is known about a VM of the batch."""
    if vm_name is not None and vm_id:
        return "'%s' (%s)" % (vm_name, vm_id)
    if vm_name is not None:
        return "'%s'" % vm_name
    return str(vm_id or requested)


def skip_message(first_label):
    return ("Not attempted: batch_failure=fail_fast and VM %s failed first; nothing was changed on this VM"
            % first_label)


def summary(results):
    """{total, changed, failed, skipped, unchanged} for per-VM result dicts.

    ``unchanged`` counts the VMs that neither changed, failed nor were skipped (a failed VM that was
    changed before it failed counts as changed and failed).
    """
    out = {
        "total": len(results),
        "changed": sum(1 for r in results if r["changed"]),
        "failed": sum(1 for r in results if r["failed"]),
        "skipped": sum(1 for r in results if r["skipped"]),
    }
    out["unchanged"] = sum(1 for r in results if not (r["changed"] or r["failed"] or r["skipped"]))
    return out


def failure_message(results, host):
    """The task message when any VM failed (None when none did), as the checkpoint module's batch mode."""
    failed = [r for r in results if r["failed"]]
    if not failed:
        return None
    msg = "%d of %d VMs failed on host %s: %s" % (
        len(failed), len(results), host,
        " | ".join("%s: %s" % (label(r["vm_name"], r["vm_id"]), r["msg"]) for r in failed))
    skipped = [r for r in results if r["skipped"]]
    if skipped:
        msg += " | batch_failure=fail_fast: %d VM(s) not attempted, nothing was changed on them: %s" % (
            len(skipped), ", ".join(label(r["vm_name"], r["vm_id"]) for r in skipped))
    return msg
