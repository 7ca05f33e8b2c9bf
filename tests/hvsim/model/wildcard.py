"""PowerShell ``WildcardPattern`` matching as the Hyper-V cmdlets use it for -Name / -VMName.

Source: hyperv-cmdlets-notes.md A.5 ("Wildcards * ? [ ] are honoured on all these cmdlets"),
hyperv-behaviour.md §6 ("[ and ] are wildcard characters as well"). Matching is
case-insensitive (WildcardOptions.IgnoreCase). The backtick escapes the next character.
"""

from __future__ import annotations

import functools
import re

_SPECIAL = set("*?[")


def has_wildcards(pattern: str) -> bool:
    """``WildcardPattern.ContainsWildcardCharacters``: an unescaped ``*``, ``?`` or ``[``."""
    escaped = False
    for ch in pattern:
        if escaped:
            escaped = False
            continue
        if ch == "`":
            escaped = True
            continue
        if ch in _SPECIAL:
            return True
    return False


class WildcardError(ValueError):
    """The pattern is not a valid wildcard pattern (e.g. an unclosed ``[``)."""


@functools.lru_cache(maxsize=4096)
def _compile(pattern: str) -> "re.Pattern[str]":
    out = []
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "`" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            j = i + 1
            body = []
            closed = False
            while j < n:
                c = pattern[j]
                if c == "]":
                    closed = True
                    break
                if c == "`" and j + 1 < n:
                    body.append(re.escape(pattern[j + 1]))
                    j += 2
                    continue
                if c == "-" and body and j + 1 < n and pattern[j + 1] != "]":
                    body.append("-")
                else:
                    body.append(re.escape(c) if c not in "-" else "\\-")
                j += 1
            if not closed:
                raise WildcardError(
                    f"The specified wildcard character pattern is not valid: {pattern}"
                )
            if not body:
                raise WildcardError(
                    f"The specified wildcard character pattern is not valid: {pattern}"
                )
            out.append("[" + "".join(body) + "]")
            i = j
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def wildcard_match(pattern: str, text: str) -> bool:
    """True when ``text`` matches the PowerShell wildcard ``pattern`` (case-insensitive)."""
    return _compile(pattern).match(text) is not None
