"""Windows path helpers for the simulated host file systems (pure string functions)."""

from __future__ import annotations

import functools
import re
import typing as t

_DRIVE = re.compile(r"^[A-Za-z]:")


def clean(path: str) -> str:
    """Display form: backslashes, no duplicate separators, no trailing separator (except a drive root)."""
    return _clean(str(path))


# Every cmdlet and every clock advance (disk growth of each running VM) resolves paths; a fleet
# lab resolves the same few thousand strings over and over, so the pure results are memoised.
@functools.lru_cache(maxsize=65536)
def _clean(path: str) -> str:
    p = path.replace("/", "\\")
    unc = p.startswith("\\\\")
    body = p[2:] if unc else p
    parts: t.List[str] = []
    for seg in body.split("\\"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and not (len(parts) == 1 and _DRIVE.match(parts[0])):
                parts.pop()
            continue
        parts.append(seg)
    if unc:
        return "\\\\" + "\\".join(parts)
    if parts and _DRIVE.match(parts[0]) and len(parts) == 1:
        return parts[0][:2].upper() + "\\"
    if parts and _DRIVE.match(parts[0]):
        parts[0] = parts[0][:2].upper()
    return "\\".join(parts)


def key(path: str) -> str:
    """Comparison key: clean and case-folded (NTFS is case-insensitive)."""
    return _key(str(path))


@functools.lru_cache(maxsize=65536)
def _key(path: str) -> str:
    return _clean(path).lower()


def join(base: str, *more: str) -> str:
    out = clean(base)
    for m in more:
        out = out.rstrip("\\") + "\\" + str(m).strip("\\/")
    return clean(out)


def dirname(path: str) -> str:
    p = clean(path)
    if "\\" not in p.rstrip("\\"):
        return p
    head = p.rstrip("\\").rsplit("\\", 1)[0]
    if _DRIVE.match(head) and len(head) == 2:
        return head + "\\"
    return head


def basename(path: str) -> str:
    return clean(path).rstrip("\\").rsplit("\\", 1)[-1]


def stem(path: str) -> str:
    b = basename(path)
    return b.rsplit(".", 1)[0] if "." in b else b


def is_unc(path: str) -> bool:
    return str(path).replace("/", "\\").startswith("\\\\")


def share_root(path: str) -> t.Optional[str]:
    """``\\\\server\\share`` of a UNC path, or None."""
    if not is_unc(path):
        return None
    parts = clean(path)[2:].split("\\")
    if len(parts) < 2:
        return None
    return "\\\\" + parts[0] + "\\" + parts[1]


def is_root(path: str) -> bool:
    """A drive root (``D:\\``, ``D:``) or the root of a share (``\\\\srv\\share``)."""
    p = clean(path)
    if _DRIVE.match(p) and len(p.rstrip("\\")) == 2:
        return True
    if is_unc(p):
        return len(p[2:].split("\\")) <= 2
    return False


def is_absolute(path: str) -> bool:
    p = str(path).replace("/", "\\")
    return bool(_DRIVE.match(p) and p[2:3] == "\\") or p.startswith("\\\\")


def under(path: str, root: str) -> bool:
    return _under(str(path), str(root))


@functools.lru_cache(maxsize=65536)
def _under(path: str, root: str) -> bool:
    k, r = _key(path), _key(root).rstrip("\\")
    return k == r or k.startswith(r + "\\")
