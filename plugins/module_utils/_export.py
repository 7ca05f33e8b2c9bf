# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""checkpoint_export helpers: file access on the host, the export manifest, verification, rotation.

No Hyper-V cmdlet lists, hashes or writes files, so the export module uses these PowerShell
cmdlets (module-qualified, paths always through ``-LiteralPath`` so that ``[`` ``]`` ``*`` ``?``
in a path are never wildcards; ``New-Item`` has no ``-LiteralPath`` and its ``-Path`` does not
expand wildcards). Parameters as documented on Microsoft Learn (PowerShell 5.1 reference):

* ``Microsoft.PowerShell.Management\\Get-ChildItem -LiteralPath <dir> -Recurse -File`` / ``-Directory``
  (learn.microsoft.com/powershell/module/microsoft.powershell.management/get-childitem; -File and
  -Directory are FileSystem provider parameters)
* ``Microsoft.PowerShell.Utility\\Get-FileHash -LiteralPath <file> -Algorithm SHA256``
  (learn.microsoft.com/powershell/module/microsoft.powershell.utility/get-filehash)
* ``Microsoft.PowerShell.Utility\\Import-Csv -LiteralPath <file>``
  (learn.microsoft.com/powershell/module/microsoft.powershell.utility/import-csv)
* ``Microsoft.PowerShell.Management\\Set-Content -LiteralPath <file> -Value <text> -Encoding UTF8``
  (…/set-content)
* ``Microsoft.PowerShell.Management\\New-Item -Path <dir> -ItemType Directory -Force`` (…/new-item)
* ``Microsoft.PowerShell.Management\\Remove-Item -LiteralPath <dir> -Recurse -Force`` (…/remove-item)

These run in the WinRM session, as the connecting user, on the Hyper-V host; a JEA endpoint must
expose them (see the module documentation).

The manifest is one CSV file, ``hyperv-checkpoints-export.csv`` in the export folder, with the
columns ``record,key,value,size,sha256``: one ``meta`` row per field (VM Id, checkpoint Id, times,
status, ...) and one ``file`` row per exported file (relative path, size, SHA-256). CSV because
``Import-Csv`` returns one flat object per row, which both transports carry as plain data without
any string-typed pipeline output; it is also readable in any spreadsheet.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import re

from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import is_not_found
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import STATE_FAILED, command

GET_CHILD_ITEM = "Microsoft.PowerShell.Management\\Get-ChildItem"
SET_CONTENT = "Microsoft.PowerShell.Management\\Set-Content"
NEW_ITEM = "Microsoft.PowerShell.Management\\New-Item"
REMOVE_ITEM = "Microsoft.PowerShell.Management\\Remove-Item"
GET_FILE_HASH = "Microsoft.PowerShell.Utility\\Get-FileHash"
IMPORT_CSV = "Microsoft.PowerShell.Utility\\Import-Csv"

EXPORT_CMDLETS = (GET_CHILD_ITEM, NEW_ITEM, REMOVE_ITEM, SET_CONTENT, GET_FILE_HASH, IMPORT_CSV)

MANIFEST_NAME = "hyperv-checkpoints-export.csv"
MANIFEST_COLUMNS = ("record", "key", "value", "size", "sha256")
META_FIELDS = ("format", "status", "host", "vm_id", "vm_name", "source", "checkpoint_id", "checkpoint_name",
               "checkpoint_creation_time", "capture_live_state", "started", "finished", "error", "total_bytes")
MANIFEST_FORMAT = "hyperv.checkpoints/export/1"
STATUS_IN_PROGRESS = "in_progress"
STATUS_COMPLETE = "complete"
STATUS_FAILED = "failed"

_FOLDER_RE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def join(base, *parts):
    """Windows path join (keeps UNC prefixes)."""
    out = base.replace("/", "\\").rstrip("\\")
    for part in parts:
        out = out + "\\" + part.strip("\\/")
    return out


def is_unc(path):
    return path.replace("/", "\\").startswith("\\\\")


def is_absolute(path):
    p = path.replace("/", "\\")
    return is_unc(p) or bool(re.match(r"\A[A-Za-z]:\\", p))


def validate_folder_name(name):
    """None when ``name`` is a single, safe folder name; else the problem."""
    if not name or not name.strip() or name in (".", ".."):
        return "folder_name must not be empty, '.' or '..'"
    if _FOLDER_RE.search(name):
        return "folder_name must be one folder name, without \\ / : * ? \" < > | or control characters"
    if name != name.strip() or name.endswith("."):
        return "folder_name must not start or end with a space or end with a dot"
    return None


def default_folder_name(vm_id, checkpoint_id=None, now=None):
    """``<vm id>_<checkpoint id>`` for a checkpoint, ``<vm id>_current_<UTC date>`` for the current state."""
    if checkpoint_id:
        return "%s_%s" % (vm_id, checkpoint_id)
    return "%s_current_%s" % (vm_id, now.strftime("%Y-%m-%d"))


# ---------------------------------------------------------------------------------------------- pipelines
def list_files_pipeline(folder):
    return [command(GET_CHILD_ITEM, ("LiteralPath", folder), ("Recurse", True), ("File", True))]


def list_dirs_pipeline(folder):
    return [command(GET_CHILD_ITEM, ("LiteralPath", folder), ("Directory", True))]


def read_manifest_pipeline(path):
    return [command(IMPORT_CSV, ("LiteralPath", path))]


def write_manifest_pipeline(path, text):
    return [command(SET_CONTENT, ("LiteralPath", path), ("Value", text), ("Encoding", "UTF8"))]


def make_dir_pipeline(path):
    return [command(NEW_ITEM, ("Path", path), ("ItemType", "Directory"), ("Force", True))]


def remove_tree_pipeline(path):
    if not path or not is_absolute(path) or len(path.rstrip("\\")) <= 2:
        raise ValueError("refusing to remove %r: not an absolute export folder" % (path,))
    return [command(REMOVE_ITEM, ("LiteralPath", path), ("Recurse", True), ("Force", True))]


def hash_pipeline(path):
    return [command(GET_FILE_HASH, ("LiteralPath", path), ("Algorithm", "SHA256"))]


# ---------------------------------------------------------------------------------------------- results
def _errors(result):
    return result.get("errors") or []


def missing(result):
    """True when the result failed only because the path does not exist."""
    errors = _errors(result)
    if not errors:
        return False
    for e in errors:
        fqid = e.get("fqid") or ""
        if not (is_not_found(e) or fqid.startswith("PathNotFound") or "does not exist" in (e.get("message") or "")):
            return False
    return True


def failed(result):
    return bool(_errors(result)) or result.get("state") == STATE_FAILED


def first_error(result):
    errors = _errors(result)
    if errors:
        return errors[0].get("message") or errors[0].get("fqid") or "unknown error"
    return "the pipeline failed without an error record"


def files_from_listing(folder, output):
    """[(relative path, size)] from Get-ChildItem -File output, without the manifest, sorted."""
    prefix = folder.rstrip("\\").lower() + "\\"
    out = []
    for obj in output:
        full = obj.get("FullName") or ""
        if not full.lower().startswith(prefix):
            continue
        rel = full[len(prefix):]
        if rel.lower() == MANIFEST_NAME.lower():
            continue
        size = obj.get("Length")
        try:
            size = int(size)
        except (TypeError, ValueError):
            size = None
        out.append((rel, size))
    out.sort(key=lambda item: item[0].lower())
    return out


def dirs_from_listing(output):
    return sorted((obj.get("FullName") or "") for obj in output if obj.get("FullName"))


# ---------------------------------------------------------------------------------------------- manifest
def build_manifest(status, vm, host, checkpoint=None, capture_live_state=None, started=None, finished=None,
                   files=(), hashes=None, error=None):
    """The manifest document (dict). ``files`` is [(relative path, size)], ``hashes`` {path: sha256}."""
    hashes = hashes or {}
    files = list(files)
    return {
        "format": MANIFEST_FORMAT,
        "status": status,
        "host": host,
        "vm_id": vm.id,
        "vm_name": vm.name,
        "source": "checkpoint" if checkpoint is not None else "current_state",
        "checkpoint_id": checkpoint.id if checkpoint is not None else None,
        "checkpoint_name": checkpoint.name if checkpoint is not None else None,
        "checkpoint_creation_time": checkpoint.creation_time if checkpoint is not None else None,
        "capture_live_state": capture_live_state,
        "started": started,
        "finished": finished,
        "error": error,
        "file_paths": [item[0] for item in files],
        "file_sizes": [item[1] for item in files],
        "file_sha256": [hashes.get(item[0]) for item in files],
        "total_bytes": sum(item[1] or 0 for item in files),
    }


def _cell(value):
    if value is None:
        return ""
    return " ".join(str(value).split("\n")).replace("\r", " ")


def dump_manifest(manifest):
    """The manifest as CSV text (all fields quoted; line breaks in values become spaces)."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(MANIFEST_COLUMNS)
    for key in META_FIELDS:
        writer.writerow(["meta", key, _cell(manifest.get(key)), "", ""])
    for f in manifest_files(manifest):
        writer.writerow(["file", _cell(f["path"]), "", _cell(f["size"]), _cell(f["sha256"])])
    return buf.getvalue()


def parse_manifest_text(text):
    """Rows of a manifest CSV (what Import-Csv returns), for tests and tools."""
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _int_or_none(value):
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise ValueError("not an integer: %r" % (value,))


def manifest_from_rows(rows):
    """A manifest dict from Import-Csv rows (plain dicts), or None when they are not a manifest."""
    if not isinstance(rows, list):
        return None
    meta = {}
    paths, sizes, hashes = [], [], []
    try:
        for row in rows:
            if not isinstance(row, dict):
                return None
            record = row.get("record")
            if record == "meta":
                meta[row.get("key")] = row.get("value") if row.get("value") != "" else None
            elif record == "file":
                paths.append(row.get("key") or "")
                sizes.append(_int_or_none(row.get("size")))
                hashes.append(row.get("sha256") or None)
        if meta.get("format") != MANIFEST_FORMAT:
            return None
        meta["total_bytes"] = _int_or_none(meta.get("total_bytes"))
    except ValueError:
        return None
    out = dict((key, meta.get(key)) for key in META_FIELDS)
    out.update(file_paths=paths, file_sizes=sizes, file_sha256=hashes)
    return out


def manifest_files(manifest):
    """[{path, size, sha256}] of a manifest."""
    paths = manifest.get("file_paths") or []
    sizes = manifest.get("file_sizes") or []
    hashes = manifest.get("file_sha256") or []
    out = []
    for index, path in enumerate(paths):
        out.append({
            "path": path,
            "size": sizes[index] if index < len(sizes) else None,
            "sha256": hashes[index] if index < len(hashes) else None,
        })
    return out


def assess(manifest, files, vm_id, checkpoint_id):
    """(state, problems) of an existing export folder.

    ``state``: ``absent`` (no manifest and no files), ``complete`` (a complete manifest of this VM and
    checkpoint whose file list and sizes match the folder), ``incomplete`` (no manifest, or one
    that is not complete) or ``mismatch`` (a complete manifest that does not match).
    """
    if manifest is None:
        if not files:
            return "absent", []
        return "incomplete", ["the folder holds %d file(s) but no export manifest" % len(files)]
    problems = []
    if manifest.get("status") != STATUS_COMPLETE:
        problems.append("the manifest says the export is %s%s" % (
            manifest.get("status"), (" (%s)" % manifest["error"]) if manifest.get("error") else ""))
        return "incomplete", problems
    if manifest.get("vm_id") != vm_id:
        problems.append("the manifest is for VM %s, not %s" % (manifest.get("vm_id"), vm_id))
    if (manifest.get("checkpoint_id") or None) != (checkpoint_id or None):
        problems.append("the manifest is for checkpoint %s, not %s" % (manifest.get("checkpoint_id"),
                                                                       checkpoint_id or "the current state"))
    have = dict((p.lower(), s) for p, s in files)
    want = dict((f["path"].lower(), f["size"]) for f in manifest_files(manifest))
    for path in sorted(set(want) - set(have)):
        problems.append("file %s is missing" % path)
    for path in sorted(set(have) - set(want)):
        problems.append("file %s is not in the manifest" % path)
    for path in sorted(set(want) & set(have)):
        if want[path] != have[path]:
            problems.append("file %s has %s bytes, the manifest says %s" % (path, have[path], want[path]))
    return ("mismatch" if problems else "complete"), problems


def verify_hashes(manifest, hashes):
    """Problems where the re-read SHA-256 (``hashes``: {relative path: hex}) differs from the manifest."""
    problems = []
    got = dict((k.lower(), (v or "").lower()) for k, v in hashes.items())
    for f in manifest_files(manifest):
        want = (f["sha256"] or "").lower()
        have = got.get(f["path"].lower())
        if not want:
            problems.append("the manifest has no hash for %s" % f["path"])
        elif have is None:
            problems.append("could not hash %s" % f["path"])
        elif have != want:
            problems.append("file %s has SHA-256 %s, the manifest says %s" % (f["path"], have, want))
    return problems


def rotation(candidates, vm_id, keep, current_folder):
    """Export folders of ``vm_id`` to remove so that ``keep`` complete exports remain.

    ``candidates`` is [(folder, manifest or None)]. Only folders with a *complete* manifest of
    this VM count and can be removed; the folder just exported (``current_folder``) is always
    kept. Newest first by ``finished`` (then folder name); the oldest beyond ``keep`` go.
    """
    if keep is None:
        return []
    mine = [(folder, m) for folder, m in candidates
            if m is not None and m.get("vm_id") == vm_id and m.get("status") == STATUS_COMPLETE]
    mine.sort(key=lambda fm: (fm[1].get("finished") or "", fm[0].lower()), reverse=True)
    current_key = current_folder.rstrip("\\").lower() if current_folder else None
    # the current export always counts as one of the kept ones (also in check mode, before it exists)
    kept = 1 if current_key else 0
    remove = []
    for folder, dummy in mine:
        if current_key and folder.rstrip("\\").lower() == current_key:
            continue
        if kept < keep:
            kept += 1
            continue
        remove.append(folder)
    return remove


def estimate_bytes(disks, memory_bytes=0, config_bytes=64 * 1024):
    """Estimated export size: the chain of every disk (merged files are at most the sum), memory, config.

    ``disks`` are _models.Disk with their chain resolved; a file counted once even if shared.
    Returns None when a size is unknown.
    """
    seen = set()
    total = 0
    for disk in disks:
        for link in disk.chain:
            key = (link.path or "").lower()
            if key in seen:
                continue
            seen.add(key)
            if link.file_size is None:
                return None
            total += link.file_size
    return total + int(memory_bytes or 0) + config_bytes
