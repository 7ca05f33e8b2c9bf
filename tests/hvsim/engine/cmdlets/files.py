"""File cmdlets over the simulated host file systems (checkpoint_export reads its exports back).

Get-ChildItem, New-Item, Remove-Item, Set-Content (Microsoft.PowerShell.Management),
Get-FileHash, Import-Csv (Microsoft.PowerShell.Utility). Error texts are Windows PowerShell 5.1's
provider messages [inferred from PowerShell's resource strings]; see docs/hvsim.md.
"""

from __future__ import annotations

import csv
import io
import typing as t

from hvsim.engine.registry import BoundCommand, CmdletError, HandlerContext
from hvsim.engine.types import HvEnum, HvError, HvInt, HvObject
from hvsim.model import paths
from hvsim.model.core import as_datetime
from hvsim.model.files import FsError, file_hash, listing, make_dir, read_text, remove, write_text
from hvsim.model.objects import VFile

from ._common import as_list, host_of, lab_of, register

MGMT = "Microsoft.PowerShell.Commands."
PROVIDER = "Microsoft.PowerShell.Core\\FileSystem::"

NOT_FOUND = "Cannot find path '{0}' because it does not exist."
ACCESS_DENIED = "Access to the path '{0}' is denied."
NO_DRIVE = "Cannot find drive. A drive with the name '{0}' does not exist."
DIR_MISSING = "Could not find a part of the path '{0}'."
DISK_FULL = "There is not enough space on the disk."
IN_USE = "Cannot remove item {0}: The process cannot access the file '{0}' because it is being used by another process."
EXISTS = "An item with the specified name {0} already exists."
FILE_NOT_FOUND = "Could not find file '{0}'."

CLASSES = {
    "Get-ChildItem": MGMT + "GetChildItemCommand",
    "New-Item": MGMT + "NewItemCommand",
    "Remove-Item": MGMT + "RemoveItemCommand",
    "Set-Content": MGMT + "SetContentCommand",
    "Import-Csv": MGMT + "ImportCsvCommand",
    "Get-FileHash": "Get-FileHash",  # a script function in Windows PowerShell 5.1
}


def _err(bound: BoundCommand, e: FsError) -> HvError:
    cls = CLASSES.get(bound.cmdlet, bound.cmdlet)
    p = e.path
    if e.kind == "denied":
        ident = "DirUnauthorizedAccessError" if bound.cmdlet == "Get-ChildItem" else "UnauthorizedAccessError"
        return HvError(f"{ident},{cls}", "PermissionDenied", ACCESS_DENIED.format(p), p, "System.UnauthorizedAccessException")
    if e.kind == "no_drive":
        return HvError(f"DriveNotFound,{cls}", "ObjectNotFound", NO_DRIVE.format(e.detail), e.detail,
                       "System.Management.Automation.DriveNotFoundException")
    if e.kind == "dir_missing":
        return HvError(f"GetContentWriterDirectoryNotFoundError,{cls}", "ObjectNotFound", DIR_MISSING.format(p), p,
                       "System.IO.DirectoryNotFoundException")
    if e.kind == "disk_full":
        return HvError(f"GetContentWriterIOError,{cls}", "WriteError", DISK_FULL, p, "System.IO.IOException")
    if e.kind == "in_use":
        return HvError(f"RemoveFileSystemItemIOError,{cls}", "WriteError", IN_USE.format(p), p, "System.IO.IOException")
    if e.kind == "exists":
        return HvError(f"DirectoryExist,{cls}", "ResourceExists", EXISTS.format(p), p, "System.IO.IOException")
    if bound.cmdlet == "Import-Csv":
        return HvError(f"FileOpenFailure,{cls}", "OpenError", FILE_NOT_FOUND.format(p), None, "System.IO.FileNotFoundException")
    return HvError(f"PathNotFound,{cls}", "ObjectNotFound", NOT_FOUND.format(p), p,
                   "System.Management.Automation.ItemNotFoundException")


def _path(bound: BoundCommand) -> t.List[str]:
    return [str(p) for p in as_list(bound.args.get("LiteralPath", bound.args.get("Path")))]


def _user(ctx: HandlerContext) -> str:
    return ctx.call.user


def file_object(lab: t.Any, f: VFile) -> HvObject:
    p = f.path
    name = paths.basename(p)
    when = as_datetime(f.mtime or lab.now())
    props = {
        "Name": name,
        "FullName": p,
        "Length": HvInt(int(f.size), "Int64"),
        "DirectoryName": paths.dirname(p),
        "Extension": ("." + name.rsplit(".", 1)[1]) if "." in name else "",
        "BaseName": name.rsplit(".", 1)[0] if "." in name else name,
        "Mode": "-a----",
        "Attributes": HvEnum("System.IO.FileAttributes", "Archive", 32),
        "IsReadOnly": False,
        "CreationTime": when,
        "LastWriteTime": when,
        "LastWriteTimeUtc": when,
        "PSPath": PROVIDER + p,
        "PSParentPath": PROVIDER + paths.dirname(p),
        "PSChildName": name,
        "PSIsContainer": False,
    }
    return HvObject("System.IO.FileInfo", props, to_string=p, extra_type_names=("System.IO.FileSystemInfo", "System.Object"))


def dir_object(lab: t.Any, p: str) -> HvObject:
    name = paths.basename(p)
    when = as_datetime(lab.now())
    props = {
        "Name": name,
        "FullName": p,
        "Mode": "d-----",
        "Attributes": HvEnum("System.IO.FileAttributes", "Directory", 16),
        "Exists": True,
        "CreationTime": when,
        "LastWriteTime": when,
        "PSPath": PROVIDER + p,
        "PSParentPath": PROVIDER + paths.dirname(p),
        "PSChildName": name,
        "PSIsContainer": True,
    }
    return HvObject("System.IO.DirectoryInfo", props, to_string=p, extra_type_names=("System.IO.FileSystemInfo", "System.Object"))


@register("Get-ChildItem")
def get_childitem(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    lab = lab_of(ctx)
    out = []
    for p in _path(bound) or ["C:\\"]:
        try:
            with lab.locked():
                items = listing(lab, host_of(ctx), p, _user(ctx), recurse=bool(bound.args.get("Recurse")),
                                files=bool(bound.args.get("File")), dirs=bool(bound.args.get("Directory")))
                out.extend(file_object(lab, f) if f is not None else dir_object(lab, d) for d, f in items)
        except FsError as e:
            ctx.write_error(_err(bound, e))
    return out


@register("New-Item", writes=True)
def new_item(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    lab = lab_of(ctx)
    kind = str(bound.args.get("ItemType") or "File").lower()
    out = []
    for p in _path(bound):
        if bound.args.get("Name"):
            p = paths.join(p, str(bound.args["Name"]))
        try:
            if kind in ("directory", "container"):
                disp = make_dir(lab, host_of(ctx), p, _user(ctx), force=bool(bound.args.get("Force")))
                ctx.mark_mutated()
                with lab.locked():
                    out.append(dir_object(lab, disp))
            else:
                f = write_text(lab, host_of(ctx), p, _user(ctx), str(bound.args.get("Value") or ""))
                ctx.mark_mutated()
                with lab.locked():
                    out.append(file_object(lab, f))
        except FsError as e:
            ctx.write_error(_err(bound, e))
    return out


@register("Remove-Item", writes=True)
def remove_item(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    lab = lab_of(ctx)
    for p in _path(bound):
        try:
            remove(lab, host_of(ctx), p, _user(ctx), recurse=bool(bound.args.get("Recurse")))
            ctx.mark_mutated()
        except FsError as e:
            if e.kind == "in_use":
                ctx.mark_mutated()  # the other files went
            ctx.write_error(_err(bound, e))
    return []


@register("Set-Content", writes=True)
def set_content(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    lab = lab_of(ctx)
    value = bound.args.get("Value")
    text = "\r\n".join(str(v) for v in value) if isinstance(value, (list, tuple)) else ("" if value is None else str(value))
    for p in _path(bound):
        try:
            write_text(lab, host_of(ctx), p, _user(ctx), text)
            ctx.mark_mutated()
        except FsError as e:
            ctx.write_error(_err(bound, e))
    return []


@register("Import-Csv")
def import_csv(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    lab = lab_of(ctx)
    out = []
    for p in _path(bound):
        try:
            text = read_text(lab, host_of(ctx), p, _user(ctx))
        except FsError as e:
            raise CmdletError(_err(bound, e))
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=str(bound.args.get("Delimiter") or ","))
        for row in reader:
            out.append(HvObject("System.Management.Automation.PSCustomObject",
                                {k: ("" if v is None else v) for k, v in row.items() if k is not None},
                                to_string="", extra_type_names=("System.Object",)))
    return out


@register("Get-FileHash")
def get_filehash(ctx: HandlerContext, bound: BoundCommand) -> t.List[HvObject]:
    """SHA256 only (the collection's algorithm). Reading the file takes size / host throughput."""
    lab = lab_of(ctx)
    algo = str(bound.args.get("Algorithm") or "SHA256").upper()
    out = []
    for p in _path(bound):
        try:
            digest, f = file_hash(lab, host_of(ctx), p, _user(ctx))
        except FsError as e:
            ctx.write_error(_err(bound, e))
            continue
        if algo != "SHA256":
            ctx.write_error(HvError(f"UnsupportedAlgorithm,{CLASSES['Get-FileHash']}", "NotImplemented",
                                    f"hvsim computes SHA256 only, not {algo}.", p, "System.NotImplementedException"))
            continue
        delay = f.size / lab.hosts[host_of(ctx)].throughput * lab.time_scale
        if delay > 0:
            lab.clock.sleep(delay)
        out.append(HvObject("Microsoft.PowerShell.Commands.FileHashInfo",
                            {"Algorithm": "SHA256", "Hash": digest, "Path": f.path}, to_string="",
                            extra_type_names=("System.Object",)))
    return out
