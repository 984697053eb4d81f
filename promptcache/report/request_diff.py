"""`promptcache diff A.json B.json` on two request bodies: where B's prompt first differs from A's."""

from __future__ import annotations

import json

from ..secrets import mask_secrets, printable


def render_request_diff(names: tuple[str, str], labels: list[str], diff, *, fmt: str = "term") -> str:
    """``diff`` is an ``advise.request_diff.PromptDiff`` (None: B repeats A's whole prompt);
    ``labels`` names B's parts in the request's own terms (``messages[3] (user)``)."""
    a, b = names
    if fmt == "json":
        if diff is None:
            return json.dumps({"extends": True, "before": a, "after": b}, indent=2) + "\n"
        return (
            json.dumps(
                {
                    "extends": False,
                    "before": a,
                    "after": b,
                    "part": _part(labels, diff),
                    "offset": diff.offset,
                    "reason": diff.reason,
                    "shared_parts": diff.shared_parts,
                    "shared_chars": diff.shared_chars,
                    "was": _show(diff.before),
                    "now": _show(diff.after),
                },
                indent=2,
            )
            + "\n"
        )
    if diff is None:
        return f"{b} starts with the whole prompt of {a}: a prefix cache can serve all of {a}'s prompt to it.\n"
    part = _part(labels, diff)
    if diff.reason == "dropped":
        head = f"{b} ends before {part}, which {a} goes on with (the history was cut or rewritten)"
    elif diff.reason == "role":
        head = f"{part} changed role between {a} and {b}"
    else:
        head = f"{b} first differs from {a} at {part} +{diff.offset}"
    tick = "`" if fmt == "markdown" else ""
    lines = [
        f"{head}; {diff.shared_chars:,} characters ({diff.shared_parts} whole part(s)) are shared before it, "
        "and everything from there on misses the prompt cache.",
        f"  was {tick}{_show(diff.before)!r}{tick}",
        f"  now {tick}{_show(diff.after)!r}{tick}" if diff.after else "  now (the prompt ends here)",
    ]
    return "\n".join(lines) + "\n"


def _part(labels: list[str], diff) -> str:
    return labels[diff.shared_parts] if diff.shared_parts < len(labels) else diff.part


def _show(text: str) -> str:
    return printable(mask_secrets(text), newlines=False)
