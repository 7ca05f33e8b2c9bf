"""Get-VMHost and Storage\\Get-Volume (free space per volume)."""

from __future__ import annotations

import typing as t

from hvsim.engine.registry import BoundCommand, HandlerContext
from hvsim.engine.types import HvObject
from hvsim.model import paths
from hvsim.model.errors import ModelError
from hvsim.model.wildcard import wildcard_match

from ._common import register, as_list, host_of, lab_of, target_hosts, write
from ._objects import host_object, volume_object

NO_VOLUME = "No MSFT_Volume objects found with property '{0}' equal to '{1}'. Verify the value of the property and retry."


@register("Get-VMHost")
def get_vmhost(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    lab = lab_of(ctx)
    with lab.locked():
        return [host_object(lab, h) for h in target_hosts(ctx, bound)]


@register("Get-Volume")
def get_volume(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """MSFT_Volume per host volume; SizeRemaining is the free space the model computes
    (disk_full faults included). Sets: none, DriveLetter, FilePath, Path, FileSystemLabel, UniqueId/ObjectId."""
    lab = lab_of(ctx)
    host = host_of(ctx)
    with lab.locked():
        hostobj = lab.hosts[host]
        vols = list(hostobj.volumes)
        objs = {id(v): volume_object(lab, host, v) for v in vols}
        out = []

        def missing(prop: str, val: t.Any) -> None:
            write(ctx, bound, ModelError("ObjectNotFound", NO_VOLUME.format(prop, val), str(val)))

        if "DriveLetter" in bound.args:
            for letter in as_list(bound.args["DriveLetter"]):
                hit = [v for v in vols if v.root[:1].lower() == str(letter)[:1].lower() and len(v.root.rstrip("\\")) == 2]
                out.extend(objs[id(v)] for v in hit) if hit else missing("DriveLetter", letter)
            return out
        if "FilePath" in bound.args:
            for p in as_list(bound.args["FilePath"]):
                v = lab.volume_for(hostobj, str(p))
                if v is None or paths.is_unc(str(p)):
                    missing("FilePath", p)
                else:
                    out.append(objs[id(v)])
            return out
        if "FileSystemLabel" in bound.args:
            for lbl in as_list(bound.args["FileSystemLabel"]):
                hit = [v for v in vols if wildcard_match(str(lbl), v.label)]
                out.extend(objs[id(v)] for v in hit) if hit else missing("FileSystemLabel", lbl)
            return out
        for prop in ("Path", "UniqueId", "ObjectId"):
            if prop in bound.args:
                for val in as_list(bound.args[prop]):
                    hit = [v for v in vols if str(val).lower() in (str(objs[id(v)].properties[prop]).lower(),
                                                                    paths.key(v.root), paths.key(v.root) + "\\")]
                    out.extend(objs[id(v)] for v in hit) if hit else missing(prop, val)
                return out
        return [objs[id(v)] for v in vols]
