"""FailoverClusters: Get-Cluster, Get-ClusterNode, Get-ClusterGroup, Get-ClusterResource (minimal)."""

from __future__ import annotations

import typing as t
import uuid

from hvsim.engine.registry import BoundCommand, CmdletError, HandlerContext
from hvsim.engine.types import HvEnum, HvGuid, HvObject

from ._common import register, as_list, hv_error, host_of, lab_of, obj_id
from hvsim.model.wildcard import wildcard_match

FC = "Microsoft.FailoverClusters.PowerShell."
NO_CLUSTER = "The cluster service is not running.  Make sure that the service is running on all nodes in the cluster."


def _cluster(ctx: HandlerContext, bound: BoundCommand) -> t.Tuple[str, t.List[str]]:
    lab = lab_of(ctx)
    me = lab.hosts[host_of(ctx)]
    if not me.cluster:
        raise CmdletError(hv_error("Unspecified", cmdlet=bound.cmdlet, message=NO_CLUSTER,
                                   category="ConnectionError", exception="Microsoft.FailoverClusters.PowerShell.ClusterCmdletException"))
    nodes = sorted(h.name for h in lab.hosts.values() if h.cluster == me.cluster)
    return me.cluster, nodes


@register("Get-Cluster")
def get_cluster(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    lab = lab_of(ctx)
    with lab.locked():
        name, _ = _cluster(ctx, bound)
        domain = lab.hosts[host_of(ctx)].domain
        return [HvObject(FC + "Cluster", {"Name": name, "Domain": domain, "Id": HvGuid(str(uuid.UUID(lab._content("cluster", name)[:32])))},
                         to_string=name)]


@register("Get-ClusterNode")
def get_clusternode(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    lab = lab_of(ctx)
    with lab.locked():
        name, nodes = _cluster(ctx, bound)
        names = [str(n) for n in as_list(bound.args.get("Name"))]
        out = []
        for i, n in enumerate(nodes):
            if names and not any(wildcard_match(p, n) for p in names):
                continue
            up = lab.hosts[n].online
            out.append(HvObject(FC + "ClusterNode", {
                "Name": n, "Id": str(i + 1), "Cluster": name,
                "State": HvEnum(FC + "ClusterNodeState", "Up" if up else "Down", 0 if up else 1),
                "NodeName": n,
            }, to_string=n))
        return out


def _groups(ctx: HandlerContext, bound: BoundCommand) -> t.List[t.Tuple[t.Any, HvObject]]:
    lab = lab_of(ctx)
    name, nodes = _cluster(ctx, bound)
    names = [str(n) for n in as_list(bound.args.get("Name"))]
    vm_ids = {obj_id(v) for v in as_list(bound.args.get("VMId"))}
    out = []
    for vm in sorted(lab.vms.values(), key=lambda v: v.name.lower()):
        if not vm.is_clustered or vm.host not in nodes:
            continue
        if names and not any(wildcard_match(p, vm.name) for p in names):
            continue
        if vm_ids and vm.id not in vm_ids:
            continue
        online = vm.state in ("Running", "Paused")
        out.append((vm, HvObject(FC + "ClusterGroup", {
            "Name": vm.name, "Cluster": name, "OwnerNode": vm.host,
            "State": HvEnum(FC + "ClusterGroupState", "Online" if online else "Offline", 0 if online else 1),
            "GroupType": HvEnum(FC + "GroupType", "VirtualMachine", 111),
            "Id": HvGuid(vm.id), "VMId": HvGuid(vm.id),
        }, to_string=vm.name)))
    return out


@register("Get-ClusterGroup")
def get_clustergroup(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    lab = lab_of(ctx)
    with lab.locked():
        return [o for _, o in _groups(ctx, bound)]


@register("Get-ClusterResource")
def get_clusterresource(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    lab = lab_of(ctx)
    with lab.locked():
        out = []
        for vm, g in _groups(ctx, bound):
            out.append(HvObject(FC + "ClusterResource", {
                "Name": f"Virtual Machine {vm.name}", "OwnerGroup": vm.name, "OwnerNode": vm.host,
                "ResourceType": "Virtual Machine", "State": HvEnum(FC + "ClusterResourceState",
                                                                  g.properties["State"].name, g.properties["State"].value),
                "VMId": HvGuid(vm.id), "Id": HvGuid(vm.id),
            }, to_string=f"Virtual Machine {vm.name}"))
        return out
