"""Raw transport parity: the same pipelines give the same plain results over PSRP and WinRS.

Also: several pipelines concurrently in one RunspacePool (parallel), errors and Failed state.
"""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _host_reads as host_reads
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _lifecycle as lc
from ansible_collections.hyperv.checkpoints.plugins.module_utils._connection import build_connection_options
from ansible_collections.hyperv.checkpoints.plugins.module_utils._psrp import PSRPTransport
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import command
from ansible_collections.hyperv.checkpoints.plugins.module_utils._winrs import WinRSTransport
from integration.hvsim.helpers import connection

pytestmark = [pytest.mark.psrp, pytest.mark.winrs, pytest.mark.timeout(300)]

WEB01 = "6f0c2d9e-0002-4c00-8a00-000000000002"

PIPELINES = [
    [command("Hyper-V\\Get-VM")],
    [command("Hyper-V\\Get-VM", ("Id", WEB01)), command("Hyper-V\\Get-VMSnapshot")],
    [command("Hyper-V\\Get-VM", ("Id", WEB01)), command("Hyper-V\\Get-VMHardDiskDrive")],
    [command("Hyper-V\\Get-VM", ("Id", WEB01)), command("Hyper-V\\Get-VMIntegrationService")],
    [command("Storage\\Get-Volume")],
    [command("CimCmdlets\\Get-CimInstance", ("Namespace", "root/virtualization/v2"),
             ("ClassName", "Msvm_KvpExchangeComponent"))],
    # the host-wide reads' projections (Select-Object output: PSCustomObjects)
    host_reads.list_vms_pipeline(lc.RAW_VM_PROPERTIES),
    host_reads.vm_statuses_pipeline(),
    host_reads.all_checkpoints_pipeline(),
    host_reads.all_services_pipeline(),
    # a non-terminating Hyper-V error: Completed with an ErrorRecord
    [command("Hyper-V\\Get-VMSnapshot", ("Id", "6f0c2d9e-0099-4c00-8a00-000000000099"))],
    # a parameter-binding error: terminating, Failed
    [command("Hyper-V\\Get-VM", ("NoSuchParameter", "x"))],
]


def options(sim, transport):
    return build_connection_options(connection(sim, transport=transport))[0]


def test_same_plain_results(sim):
    with PSRPTransport(options(sim, "psrp")) as psrp:
        via_psrp = psrp.run(PIPELINES)
    with WinRSTransport(options(sim, "winrm")) as winrs:
        via_winrs = winrs.run(PIPELINES)
    for index, (a, b) in enumerate(zip(via_psrp, via_winrs)):
        # uptime/CPU figures move between the two reads; compare everything else
        for result in (a, b):
            for obj in result["output"]:
                for volatile in ("Uptime", "CPUUsage", "MemoryDemand"):
                    obj.pop(volatile, None)
        assert a == b, "pipeline %d differs" % index
    statuses = via_psrp[PIPELINES.index(host_reads.vm_statuses_pipeline())]["output"]
    assert statuses and all(set(o) == {"Id", "VMId", "Name", "VMName", "OperationalStatus"} for o in statuses)
    not_found, binding = via_psrp[-2], via_psrp[-1]
    assert not_found["state"] == "Completed" and not_found["errors"][0]["category"] == "ObjectNotFound"
    assert binding["state"] == "Failed" and binding["errors"]


def test_parallel_pipelines_in_one_pool(sim):
    pipelines = [[command("Hyper-V\\Get-VM", ("Id", WEB01)), command("Hyper-V\\Get-VMSnapshot")]] * 6
    baseline = sim.open_shells()
    with PSRPTransport(options(sim, "psrp"), max_runspaces=3) as transport:
        sequential = transport.run(pipelines, parallel=1)
        parallel = transport.run(pipelines, parallel=3)
    assert parallel == sequential
    assert len(parallel) == 6 and all(len(r["output"]) == 2 for r in parallel)
    assert sim.open_shells() == baseline
