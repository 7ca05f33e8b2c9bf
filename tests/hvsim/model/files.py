"""File-system view of the simulated hosts (for the file cmdlets the export module uses).

Folders are implicit (a folder exists when a file or folder lies under it) or explicit
(``New-Item -ItemType Directory``). Files written by Hyper-V (disks, exports) carry a content
token; files written by ``Set-Content`` keep their text.

Access from a WinRM session to a UNC path is a second hop: without delegated credentials
(NTLM, or Kerberos without delegation) the file server sees no user and access is denied. The
switch ``session_unc_access`` (``deny`` by default, ``allow`` = CredSSP/delegation configured)
decides; with ``allow`` the share's ``users`` list must name the user (or Everyone).
Hyper-V's own writes (Export-*) use the host's computer account instead (behaviour §13).
"""

from __future__ import annotations

import hashlib
import typing as t

from . import paths
from .core import Lab
from .objects import Host, VFile, Volume

UTF8_BOM = b"\xef\xbb\xbf"


class FsError(Exception):
    """kind: not_found | denied | no_drive | dir_missing | disk_full | in_use | exists."""

    def __init__(self, kind: str, path: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {path}")
        self.kind = kind
        self.path = path
        self.detail = detail


def _host(lab: Lab, host: str) -> Host:
    return lab.hosts[host]


def _volume(lab: Lab, host: str, path: str, user: str) -> Volume:
    if not paths.is_absolute(path):
        raise FsError("not_found", path)
    vol = lab.volume_for(_host(lab, host), path)
    if vol is None:
        if paths.is_unc(path):
            raise FsError("not_found", path)
        raise FsError("no_drive", path, path[:1])
    if paths.is_unc(path) and not session_access(lab, vol, user):
        raise FsError("denied", path)
    return vol


def session_access(lab: Lab, share: Volume, user: str) -> bool:
    if lab.switches.get("session_unc_access", "deny") != "allow":
        return False
    names = {u.lower() for u in share.users}
    u = (user or "").lower()
    return "everyone" in names or u in names or u.split("\\")[-1] in {n.split("\\")[-1] for n in names}


def _is_dir(vol: Volume, k: str) -> bool:
    root = paths.key(vol.root).rstrip("\\")
    if k.rstrip("\\") == root:
        return True
    if k in vol.dirs:
        return True
    prefix = k + "\\"
    return any(f.startswith(prefix) for f in vol.files) or any(d.startswith(prefix) for d in vol.dirs)


def exists(lab: Lab, host: str, path: str, user: str) -> t.Tuple[bool, bool]:
    """(is a file, is a folder)."""
    vol = _volume(lab, host, path, user)
    k = paths.key(path)
    return k in vol.files, _is_dir(vol, k)


def _display_dir(vol: Volume, k: str, fallback: str) -> str:
    if k in vol.dirs:
        return vol.dirs[k]
    for f in vol.files.values():
        fk = paths.key(f.path)
        if fk.startswith(k + "\\"):
            return f.path[: len(k)]
    for d, disp in vol.dirs.items():
        if d.startswith(k + "\\"):
            return disp[: len(k)]
    return fallback


def listing(lab: Lab, host: str, path: str, user: str, *, recurse: bool, files: bool, dirs: bool
            ) -> t.List[t.Tuple[str, t.Optional[VFile]]]:
    """Get-ChildItem: [(display path, VFile or None for a folder)] in PowerShell's order
    (a folder's own items by name, then each subfolder's items when recursing)."""
    vol = _volume(lab, host, path, user)
    k = paths.key(path)
    if k in vol.files:
        f = vol.files[k]
        return [(f.path, f)] if files or not dirs else []
    if not _is_dir(vol, k):
        raise FsError("not_found", path)
    out: t.List[t.Tuple[str, t.Optional[VFile]]] = []

    def walk(dk: str, disp: str) -> None:
        prefix = dk.rstrip("\\") + "\\"
        direct_files = sorted((f for fk, f in vol.files.items() if fk.startswith(prefix) and "\\" not in fk[len(prefix):]),
                              key=lambda f: paths.basename(f.path).lower())
        sub: t.Dict[str, str] = {}
        for fk, f in vol.files.items():
            if fk.startswith(prefix) and "\\" in fk[len(prefix):]:
                name = f.path[len(prefix):].split("\\", 1)[0]
                sub.setdefault(prefix + name.lower(), disp.rstrip("\\") + "\\" + name)
        for d, ddisp in vol.dirs.items():
            if d.startswith(prefix):
                name = ddisp[len(prefix):].split("\\", 1)[0]
                sub.setdefault(prefix + name.lower(), disp.rstrip("\\") + "\\" + name)
        items: t.List[t.Tuple[str, t.Optional[VFile]]] = []
        for sk in sorted(sub):
            if dirs or not files:
                items.append((sub[sk], None))
        for f in direct_files:
            if files or not dirs:
                items.append((f.path, f))
        items.sort(key=lambda it: paths.basename(it[0]).lower())
        out.extend(items)
        if recurse:
            for sk in sorted(sub):
                walk(sk, sub[sk])

    walk(k, _display_dir(vol, k, paths.clean(path)))
    return out


def make_dir(lab: Lab, host: str, path: str, user: str, *, force: bool) -> str:
    """New-Item -ItemType Directory (parents included)."""
    with lab.locked():
        vol = _volume(lab, host, path, user)
        k = paths.key(path)
        if k in vol.files:
            raise FsError("exists", path)
        if _is_dir(vol, k) and not force:
            raise FsError("exists", path)
        disp = paths.clean(path)
        if not _is_dir(vol, k):
            vol.dirs[k] = disp
            lab._save()
        return _display_dir(vol, k, disp)


def _in_use_keys(lab: Lab, host: str) -> t.Set[str]:
    """Disks a VM of the host or one of its checkpoints uses (Hyper-V holds them open)."""
    used: t.Set[str] = set()
    for vm in lab.vms.values():
        if vm.host != host:
            continue
        used.update(lab._chain_files(vm))
        for d in vm.drives:
            if d.path:
                used.add(paths.key(d.path))
    return used


def remove(lab: Lab, host: str, path: str, user: str, *, recurse: bool) -> int:
    """Remove-Item -Recurse: delete a file or a folder tree; files in use stay (error)."""
    with lab.locked():
        vol = _volume(lab, host, path, user)
        k = paths.key(path)
        is_file, is_dir = k in vol.files, _is_dir(vol, k)
        if not is_file and not is_dir:
            raise FsError("not_found", path)
        if is_dir and k.rstrip("\\") == paths.key(vol.root).rstrip("\\"):
            raise FsError("denied", path)
        targets = [k] if is_file else [fk for fk in vol.files if fk.startswith(k + "\\")]
        if is_dir and targets and not recurse:
            raise FsError("exists", path, "not empty")
        used = _in_use_keys(lab, host)
        busy = [fk for fk in targets if fk in used]
        for fk in targets:
            if fk not in busy:
                del vol.files[fk]
        if is_dir and not busy:
            for d in [d for d in vol.dirs if d == k or d.startswith(k + "\\")]:
                del vol.dirs[d]
        lab._save()
        if busy:
            raise FsError("in_use", vol.files[busy[0]].path)
        return len(targets)


def text_bytes(text: str) -> bytes:
    """Set-Content -Encoding UTF8 in Windows PowerShell 5.1: BOM + text + CRLF."""
    return UTF8_BOM + text.encode("utf-8") + b"\r\n"


def write_text(lab: Lab, host: str, path: str, user: str, text: str) -> VFile:
    with lab.locked():
        vol = _volume(lab, host, path, user)
        k = paths.key(path)
        if _is_dir(vol, k) and k not in vol.files:
            raise FsError("denied", path)
        parent = paths.key(paths.dirname(path))
        if not _is_dir(vol, parent):
            raise FsError("dir_missing", path)
        data = text_bytes(text)
        old = vol.files.get(k)
        need = len(data) - (old.size if old else 0)
        if need > lab.free_bytes(vol, _host(lab, host)):
            raise FsError("disk_full", path)
        # For text files the content token is the text itself (tests read it back directly).
        f = VFile(paths.clean(path), len(data), text, "text", None, text, lab.now())
        vol.files[k] = f
        lab._save()
        return f


def read_text(lab: Lab, host: str, path: str, user: str) -> str:
    with lab.locked():
        vol = _volume(lab, host, path, user)
        f = vol.files.get(paths.key(path))
        if f is None:
            raise FsError("not_found", path)
        if f.text is not None:
            return f.text
        return ""  # a binary file read as text: nothing the model can show


def file_hash(lab: Lab, host: str, path: str, user: str) -> t.Tuple[str, VFile]:
    """SHA256 (upper-case hex) of the file: of the bytes for text files, of the content token otherwise."""
    with lab.locked():
        vol = _volume(lab, host, path, user)
        f = vol.files.get(paths.key(path))
        if f is None:
            raise FsError("not_found", path)
        if f.text is not None:
            digest = hashlib.sha256(text_bytes(f.text)).hexdigest()
        else:
            digest = hashlib.sha256(f"{f.content}:{f.size}".encode()).hexdigest()
        return digest.upper(), f
