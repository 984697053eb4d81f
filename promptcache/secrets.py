"""Secrets and unsafe characters out of any log text promptcache shows.

Request logs hold API keys, bearer tokens and e-mail addresses that users pasted into prompts.
Wherever a report shows prompt text (breaker samples, group labels, skipped-line messages) it
goes through ``mask_secrets``, which replaces each secret with a ``<kind>`` marker, and
``printable``, which makes control characters, ANSI escapes and bidirectional overrides visible
as ``\\x1b`` / ``\\u202e`` instead of letting them act on a terminal or reorder a line.

``mask_excerpt`` cuts a short excerpt out of a long text and masks it with the surrounding text in
view, so a secret cut by the excerpt's edge is still recognized and masked whole.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")

#: (marker kind, pattern), most specific first; the first that matches at a position wins.
PATTERNS: list[tuple[str, str]] = [
    ("anthropic-key", r"\bsk-ant-[A-Za-z0-9_-]{16,}"),
    ("openai-key", r"\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}"),
    ("google-key", r"\bAIza[0-9A-Za-z_-]{30,}"),
    ("aws-key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    ("github-token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"),
    ("slack-token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),
    ("bearer-token", r"(?i:\bbearer)\s+[A-Za-z0-9._~+/=-]{8,}"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    ("private-key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.{0,4096}?-----END [A-Z ]*PRIVATE KEY-----)?"),
    ("email", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    ("hex", r"(?<![A-Za-z0-9])[0-9a-fA-F]{32,}(?![A-Za-z0-9])"),
    # a long base64/base64url run with upper case, lower case and digits (not a word or a path)
    (
        "base64",
        r"(?<![A-Za-z0-9+/_-])(?=[A-Za-z0-9+/_-]{0,200}?[0-9])(?=[A-Za-z0-9+/_-]{0,200}?[A-Z])"
        r"(?=[A-Za-z0-9+/_-]{0,200}?[a-z])[A-Za-z0-9+/_-]{40,}={0,2}",
    ),
]


# Cheap literal tests (C speed) that a kind could be present at all; the regex runs only for those.
_HINTS: dict[str, tuple[str, ...]] = {
    "anthropic-key": ("sk-ant-",),
    "openai-key": ("sk-",),
    "google-key": ("AIza",),
    "aws-key": ("AKIA", "ASIA", "ABIA", "ACCA"),
    "github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "slack-token": ("xox",),
    "jwt": ("eyJ",),
    "private-key": ("PRIVATE KEY",),
    "email": ("@",),
}
_LONG_RUN = 32  # hex and base64 need a run of at least this many non-space characters


@functools.lru_cache(maxsize=256)
def _compiled(kinds: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(
        "|".join(f"(?P<{name.replace('-', '_')}>{p})" for name, p in PATTERNS if name in kinds), re.DOTALL
    )


def _pattern(text: str) -> re.Pattern[str] | None:
    """The secrets regex restricted to the kinds ``text`` could hold (None: it holds none)."""
    kinds = [k for k, hints in _HINTS.items() if any(h in text for h in hints)]
    if "bearer" in text.lower():
        kinds.append("bearer-token")
    if any(len(w) >= _LONG_RUN for w in text.split()):
        kinds += ["hex", "base64"]
    if not kinds:
        return None
    return _compiled(tuple(kinds))  # compiled on first use: `lint` start-up stays fast


def _marker(m: re.Match[str]) -> str:
    kind = (m.lastgroup or "secret").replace("_", "-")
    if kind == "bearer-token":
        return m.group()[:6] + " <bearer-token>"
    return f"<{kind}>"


def find_secrets(text: str) -> list[tuple[str, int, int]]:
    """Every secret in ``text`` as (kind, start, end), left to right, non-overlapping."""
    pat = _pattern(text)
    return (
        []
        if pat is None
        else [((m.lastgroup or "secret").replace("_", "-"), m.start(), m.end()) for m in pat.finditer(text)]
    )


def mask_secrets(text: str) -> str:
    """``text`` with every API key, token, JWT, e-mail and long hex/base64 run replaced by ``<kind>``."""
    pat = _pattern(text)
    return text if pat is None else pat.sub(_marker, text)


def mask_excerpt(text: str, start: int, end: int, margin: int = 256) -> str:
    """``text[start:end]`` with secrets masked, judged with ``margin`` characters of context each side.

    A secret that only overlaps the excerpt is replaced by its marker once, so no part of it shows.
    """
    start = max(0, start)
    end = max(start, min(end, len(text)))
    ws = max(0, start - margin)
    window = text[ws : end + margin]
    pat = _pattern(window)
    if pat is None:
        return text[start:end]
    out: list[str] = []
    pos = start
    for m in pat.finditer(window):
        a, b = m.start() + ws, m.end() + ws
        if b <= start:
            continue
        if a >= end:
            break
        if a > pos:
            out.append(text[pos:a])
        out.append(_marker(m))
        pos = max(pos, b)
    if pos < end:
        out.append(text[pos:end])
    return "".join(out)


# C0 controls (but tab and newline), DEL, C1 controls, bidi embeddings/overrides/isolates and marks,
# zero-width and invisible formatting characters, line/paragraph separators.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]")


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def printable(text: str, *, newlines: bool = True) -> str:
    """``text`` with control, bidi-override and invisible characters shown as ``\\x1b`` / ``\\u202e``.

    Tabs always stay; newlines stay unless ``newlines`` is false (then they become ``⏎``).
    """
    text = text.replace("\r\n", "\n")
    if not newlines:
        text = text.replace("\n", "⏎").replace("\t", " ")
    return _UNSAFE.sub(_visible, text)


def has_unsafe(text: str) -> bool:
    """True when ``text`` holds a control, bidi or invisible character ``printable`` would show."""
    return _UNSAFE.search(text) is not None


def safe_excerpt(text: str, start: int, end: int) -> str:
    """A masked (``mask_excerpt``), single-line, printable excerpt: what a report may show of a prompt."""
    return printable(mask_excerpt(text, start, end), newlines=False)


def printable_data(value: Any) -> Any:
    """``value`` (nested dicts, lists, tuples, strings) with ``printable`` applied to every string and key."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_data(k): printable_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [printable_data(v) for v in value]
    if isinstance(value, tuple):
        return tuple(printable_data(v) for v in value)
    return value


def printable_model(model: M) -> M:
    """A copy of a pydantic model whose every string shows its control and bidi characters."""
    return type(model).model_validate(printable_data(model.model_dump(mode="python", round_trip=True)))


# Characters JSON encoders leave raw that still act on a terminal or an editor showing the file.
_JSON_RAW = re.compile("[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]")


def json_safe(text: str) -> str:
    """JSON text with bidi, C1 and invisible characters written as ``\\uXXXX`` escapes.

    Exact: the data parses back unchanged (these characters can only occur inside JSON strings).
    """
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


__all__ = [
    "PATTERNS",
    "find_secrets",
    "has_unsafe",
    "json_safe",
    "mask_excerpt",
    "mask_secrets",
    "printable",
    "printable_data",
    "printable_model",
    "safe_excerpt",
]
