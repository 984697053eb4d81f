"""The cache-friendly layout of a call: static content first, what changes per call last.

This is the foundation's restructuring, applied call by call so it streams: lines of the tool
list and the system prompt that hold a volatile value (a date, a time, an id: ``volatile.find``)
are taken out of the prefix and appended to the last user message, where the model still reads
them. The re-simulated cost of the result is what the report states; nothing is estimated.
"""

from __future__ import annotations

from dataclasses import replace

from . import volatile
from .datamodel import Call, Segment

MOVED_HEADER = "\n\n"


def restructure(call: Call) -> tuple[Call, list[str]]:
    """The restructured call and the kinds of values moved (empty when nothing changed)."""
    moved: list[str] = []
    kinds: list[str] = []
    segs: list[Segment] = []
    for s in call.segments:
        if s.role in ("system", "tools") and s.text:
            keep, out, found = _split_volatile(s.text)
            if out:
                moved.extend(out)
                kinds.extend(found)
                s = replace(s, text=keep)
        segs.append(s)
    if not moved:
        return call, []
    last_user = max((i for i, s in enumerate(segs) if s.role == "user"), default=None)
    note = "\n".join(moved)
    if last_user is None:
        segs.append(Segment("user", note))
    else:
        segs[last_user] = replace(segs[last_user], text=segs[last_user].text + MOVED_HEADER + note)
    return replace(call, segments=segs), sorted(set(kinds))


def _split_volatile(text: str) -> tuple[str, list[str], list[str]]:
    keep: list[str] = []
    out: list[str] = []
    kinds: list[str] = []
    for line in text.splitlines(keepends=True):
        found = volatile.find(line)
        if found:
            out.append(line.rstrip("\n"))
            kinds.extend(k for k, _, _ in found)
        else:
            keep.append(line)
    return "".join(keep), out, kinds
