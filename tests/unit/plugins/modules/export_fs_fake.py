"""A file-system layer for checkpoint_export tests, over the hvsim lab's volumes.

Used only while hvsim does not serve the PowerShell file cmdlets the export module needs
(Get-ChildItem, Import-Csv, Set-Content, New-Item, Remove-Item, Get-FileHash).
``FsEngineTransport`` serves those pipelines from the lab's file model (Volume.files, where the
exports written by Export-VM/Export-VMSnapshot land) and hands every other pipeline to the real
engine. Directories are entries of kind ``dir``; text files (the manifest) keep their text as
``content``; a data file's ``content`` is the model's content hash, which stands for its bytes.

Messages follow the FileSystem provider's ItemNotFoundException text ("Cannot find path '{0}'
because it does not exist.", FQID ``PathNotFound,<command class>``).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import typing as t
from unittest import mock

from hvsim.model import paths
from hvsim.model.objects import VFile
from support import modules as support_modules
from support.engine_transport import EngineTransport

PS_PREFIX = "Microsoft.PowerShell."
NOT_FOUND = "Cannot find path '{0}' because it does not exist."
NO_SPACE = "There is not enough space on the disk."

CLASSES = {
    "Get-ChildItem": "Microsoft.PowerShell.Commands.GetChildItemCommand",
    "Import-Csv": "Microsoft.PowerShell.Commands.ImportCsvCommand",
    "Set-Content": "Microsoft.PowerShell.Commands.SetContentCommand",
    "New-Item": "Microsoft.PowerShell.Commands.NewItemCommand",
    "Remove-Item": "Microsoft.PowerShell.Commands.RemoveItemCommand",
    "Get-FileHash": "Microsoft.PowerShell.Commands.GetFileHashCommand",
}


def _err(cmd: str, message: str, target: str, error_id: str = "PathNotFound", category: str = "ObjectNotFound",
         exception: str = "System.Management.Automation.ItemNotFoundException") -> t.Dict[str, t.Any]:
    return {"fqid": "%s,%s" % (error_id, CLASSES.get(cmd, cmd)), "category": category, "message": message,
            "target": target, "exception": exception}


def _result(output=None, errors=None) -> t.Dict[str, t.Any]:
    return {"output": list(output or []), "errors": list(errors or []), "state": "Completed"}


class FileSystem:
    """File operations on one lab host's volumes and the lab's shares."""

    def __init__(self, lab: t.Any, host: str) -> None:
        self.lab = lab
        self.host = lab.hosts[host]

    def _vol(self, path: str):
        return self.lab.volume_for(self.host, path)

    def entries_under(self, path: str) -> t.List[VFile]:
        vol = self._vol(path)
        if vol is None:
            return []
        return [f for f in vol.files.values() if paths.key(f.path) != paths.key(path) and paths.under(f.path, path)]

    def exists(self, path: str) -> bool:
        vol = self._vol(path)
        if vol is None:
            return False
        if paths.key(path) in vol.files or paths.key(path) == paths.key(vol.root):
            return True
        return bool(self.entries_under(path))

    def is_dir(self, path: str) -> bool:
        vol = self._vol(path)
        if vol is None:
            return False
        f = vol.files.get(paths.key(path))
        return (f is not None and f.kind == "dir") or (f is None and self.exists(path))

    def run(self, pipeline: t.List[dict]) -> t.Dict[str, t.Any]:
        first = pipeline[0]
        name = first["cmdlet"].split("\\", 1)[1]
        args = dict((k, v) for k, v in first["parameters"])
        with self.lab.locked():
            if name == "Get-ChildItem":
                return self.get_child_item(args)
            if name == "Import-Csv":
                return self.import_csv(args)
            if name == "Set-Content":
                return self.set_content(args)
            if name == "New-Item":
                return self.new_item(args)
            if name == "Remove-Item":
                return self.remove_item(args)
            if name == "Get-FileHash":
                return self.get_file_hash(args)
        raise AssertionError("unexpected file cmdlet %s" % name)

    def get_child_item(self, args):
        path = args["LiteralPath"]
        if not self.exists(path):
            return _result(errors=[_err("Get-ChildItem", NOT_FOUND.format(path), path)])
        out = []
        if args.get("File"):
            for f in self.entries_under(path):
                if f.kind != "dir" and (args.get("Recurse") or paths.key(paths.dirname(f.path)) == paths.key(path)):
                    out.append({"FullName": f.path, "Name": paths.basename(f.path), "Length": f.size,
                                "PSIsContainer": False})
        elif args.get("Directory"):
            names = {}
            prefix_len = len(paths.clean(path).rstrip("\\")) + 1
            for f in self.entries_under(path):
                rest = paths.clean(f.path)[prefix_len:]
                if "\\" in rest:
                    child = rest.split("\\", 1)[0]
                elif f.kind == "dir":
                    child = rest
                else:
                    continue
                full = paths.join(path, child)
                names.setdefault(paths.key(full), full)
            out = [{"FullName": full, "Name": paths.basename(full), "PSIsContainer": True}
                   for full in (names[k] for k in sorted(names))]
        out.sort(key=lambda o: o["FullName"].lower())
        return _result(out)

    def import_csv(self, args):
        path = args["LiteralPath"]
        vol = self._vol(path)
        f = vol.files.get(paths.key(path)) if vol else None
        if f is None or f.kind == "dir":
            return _result(errors=[_err("Import-Csv", NOT_FOUND.format(path), path)])
        if f.kind != "text":
            return _result([])  # binary data: no usable rows
        return _result([dict(row) for row in csv.DictReader(io.StringIO(f.content.lstrip("\ufeff")))])

    def set_content(self, args):
        path = args["LiteralPath"]
        text = args["Value"]
        vol = self._vol(path)
        parent = paths.dirname(path)
        if vol is None or not self.is_dir(parent):
            return _result(errors=[_err("Set-Content", "Could not find a part of the path '%s'." % path, path,
                                        "GetContentWriterDirectoryNotFoundError", "ObjectNotFound",
                                        "System.IO.DirectoryNotFoundException")])
        data = len(text.encode("utf-8")) + 3  # UTF-8 BOM (Windows PowerShell -Encoding UTF8)
        old = vol.files.get(paths.key(path))
        if data - (old.size if old else 0) > self.lab.free_bytes(vol, self.host):
            return _result(errors=[_err("Set-Content", NO_SPACE, path, "System.IO.IOException", "WriteError",
                                        "System.IO.IOException")])
        vol.files[paths.key(path)] = VFile(paths.clean(path), data, text, "text")
        return _result()

    def new_item(self, args):
        path = args["Path"]
        vol = self._vol(path)
        if vol is None:
            return _result(errors=[_err("New-Item", NOT_FOUND.format(path), path)])
        current = paths.clean(path)
        while paths.key(current) != paths.key(vol.root) and len(current) > len(vol.root.rstrip("\\")):
            vol.files.setdefault(paths.key(current), VFile(current, 0, "", "dir"))
            current = paths.dirname(current)
        return _result([{"FullName": paths.clean(path), "PSIsContainer": True}])

    def remove_item(self, args):
        path = args["LiteralPath"]
        vol = self._vol(path)
        if vol is None or not self.exists(path):
            return _result(errors=[_err("Remove-Item", NOT_FOUND.format(path), path)])
        for f in self.entries_under(path):
            vol.files.pop(paths.key(f.path), None)
        vol.files.pop(paths.key(path), None)
        return _result()

    def get_file_hash(self, args):
        path = args["LiteralPath"]
        vol = self._vol(path)
        f = vol.files.get(paths.key(path)) if vol else None
        if f is None or f.kind == "dir":
            return _result(errors=[_err("Get-FileHash", NOT_FOUND.format(path), path)])
        digest = hashlib.sha256(f.content.encode("utf-8")).hexdigest() if f.kind == "text" else f.content
        return _result([{"Algorithm": "SHA256", "Hash": digest.upper(), "Path": f.path}])


class FsEngineTransport(EngineTransport):
    def _run(self, pipelines, parallel):
        out = []
        fs = FileSystem(self.lab, self.lab_host)
        for pipeline in pipelines:
            if pipeline[0]["cmdlet"].startswith(PS_PREFIX):
                self.pipelines_run.append(pipeline)
                out.append(fs.run(pipeline))
            else:
                out.extend(super()._run([pipeline], parallel))
        return out


def hvsim_has_file_cmdlets() -> bool:
    """True when hvsim itself serves the file cmdlets: handlers registered and catalogued."""
    try:
        import hvsim.engine.cmdlets  # noqa: F401  (registers the handlers)
        from hvsim.engine.catalogue import get_catalogue
        from hvsim.engine.registry import HANDLERS
    except ImportError:
        return False
    catalogue = get_catalogue()
    return all(n in HANDLERS and catalogue.resolve_command(m + "\\" + n) is not None for m, n in MODULES)


MODULES = [("Microsoft.PowerShell.Management", "Get-ChildItem"), ("Microsoft.PowerShell.Management", "New-Item"),
           ("Microsoft.PowerShell.Management", "Remove-Item"), ("Microsoft.PowerShell.Management", "Set-Content"),
           ("Microsoft.PowerShell.Utility", "Get-FileHash"), ("Microsoft.PowerShell.Utility", "Import-Csv")]


@contextlib.contextmanager
def file_cmdlets():
    """hvsim's own file cmdlets when it serves them; this module's FsEngineTransport otherwise."""
    if hvsim_has_file_cmdlets():
        yield
        return
    with mock.patch.object(support_modules, "EngineTransport", FsEngineTransport):
        yield
