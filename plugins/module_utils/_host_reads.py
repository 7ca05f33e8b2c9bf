# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Host-wide reads: one pipeline per kind of object for every VM of a host (issue 7).

The batch runner, checkpoint_prune and checkpoint_apply read a host this way instead of VM by
VM. Each read of objects a model turns into data ends in ``Select-Object -Property`` with the
names that model's ``from_plain`` reads (``_models.*_PROPERTIES``); ``run_reads`` retries after a
WinRM quota fault (reads only) and falls back to full objects on an endpoint without
Select-Object. User text never appears here: every parameter is fixed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import (
    GET_HDD,
    GET_IC,
    GET_SNAPSHOT,
    GET_VHD,
    GET_VM,
    is_projected,
    projected,
    projection_refused,
    raise_for_result,
    unprojected,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import (
    CHECKPOINT_PROPERTIES,
    INTEGRATION_SERVICE_PROPERTIES,
    VM,
    VM_PROPERTIES,
    VM_STATUS_PROPERTIES,
    VMStatus,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import (
    QUOTA_RETRY_DELAYS,
    call_with_quota_waits,
    command,
)

#: Back-off (seconds) between read attempts after a WinRM quota fault; reads only (as for opening a session).
READ_RETRY_DELAYS = QUOTA_RETRY_DELAYS


def all_checkpoints_pipeline():
    return projected([command(GET_VM), command(GET_SNAPSHOT)], CHECKPOINT_PROPERTIES)


def all_disks_pipeline():
    return [command(GET_VM), command(GET_HDD)]


def all_services_pipeline():
    return projected([command(GET_VM), command(GET_IC)], INTEGRATION_SERVICE_PROPERTIES)


def all_checkpoint_disks_pipeline():
    return [command(GET_VM), command(GET_SNAPSHOT), command(GET_HDD)]


def vhds_pipeline(paths):
    return [command(GET_VHD, ("Path", list(paths)))]


def _run_with_quota_retry(client, pipelines, sleep):
    return call_with_quota_waits(lambda: client.run(pipelines), sleep, list(READ_RETRY_DELAYS))


def run_reads(client, pipelines, sleep):
    """client.run for read pipelines, retried with back-off after a quota fault (reads only).

    A projected read (``... | Select-Object``) that the endpoint refuses for want of Select-Object
    (a JEA session that does not expose it) is read again as full objects, and so is every later
    read of the session (``client.projections``). Reads change nothing, so running one again is safe.
    """
    if not client.projections:
        pipelines = [unprojected(p) for p in pipelines]
    results = list(_run_with_quota_retry(client, pipelines, sleep))
    refused = [i for i, (p, r) in enumerate(zip(pipelines, results)) if is_projected(p) and projection_refused(r)]
    if refused:
        client.projections = False
        again = _run_with_quota_retry(client, [unprojected(pipelines[i]) for i in refused], sleep)
        for i, result in zip(refused, again):
            results[i] = result
    return results


def list_vms_pipeline(extra=()):
    """Every VM of the host, with the properties ``VM`` reads and the ``extra`` ones.

    (``HyperVClient.list_vms_pipeline`` is the same listing with every property.)
    """
    return projected([command(GET_VM)], VM_PROPERTIES + tuple(extra))


def vm_statuses_pipeline():
    """Every VM's Id, Name and OperationalStatus: a merge poll."""
    return projected([command(GET_VM)], VM_STATUS_PROPERTIES)


def list_vms(client, sleep):
    """Every VM of the host in one pipeline, read with ``run_reads``."""
    res = run_reads(client, [list_vms_pipeline()], sleep)[0]
    return [VM.from_plain(o) for o in raise_for_result(res, "listing VMs")]


def vm_statuses(client, sleep):
    """{VM Id: VMStatus} of every VM of the host (a merge poll), read with ``run_reads``."""
    res = run_reads(client, [vm_statuses_pipeline()], sleep)[0]
    statuses = (VMStatus.from_plain(o) for o in raise_for_result(res, "listing VMs"))
    return dict((status.id, status) for status in statuses)
