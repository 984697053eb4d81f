"""Values that change from call to call and break a cached prefix: dates, times, ids, counters.

One ordered list of named patterns, shared by the log analyzer (what varies where calls
diverge), the restructurer (which lines to move) and the reports (masking samples).
"""

from __future__ import annotations

import re

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("uuid", re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")),
    (
        "timestamp",
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}| ?UTC)?"
            r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? \d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4} \d{2}:\d{2}(?::\d{2})?"
        ),
    ),
    (
        "date",
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
            r"|\b(?:January|February|March|April|May|June|July|August|September|October|November|December|"
            r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4}\b"
            r"|\b\d{1,2} (?:January|February|March|April|May|June|July|August|September|October|November|December) \d{4}\b"
        ),
    ),
    ("time", re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AaPp][Mm])?\b")),
    ("epoch", re.compile(r"\b1[5-9]\d{8}(?:\d{3})?\b")),
    ("hex_id", re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{16,}\b")),
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")),
    ("counter", re.compile(r"(?i:\b(?:message|turn|step|attempt|request|call)\s+#?\d+\s+(?:of|/)\s+\d+\b)")),
]

_ANY = re.compile("|".join(f"(?P<{name}>{p.pattern})" for name, p in PATTERNS))
# every pattern needs a digit or an @: text without one is skipped at C speed
_MAYBE = re.compile(r"[0-9@]")
_DIGITS = str.maketrans("0123456789", "0000000000")
_IDS = re.compile(r"[0-9a-fA-F]{8,}|[\w.+-]+@[\w-]+\.\w+")
_HEX = re.compile(r"[0-9a-fA-F]{8,}")  # ``_IDS`` where the text has no "@" (no email to try at every word)


def find(text: str) -> list[tuple[str, int, int]]:
    """Every volatile value in ``text`` as (kind, start, end), left to right, non-overlapping."""
    if not _MAYBE.search(text):
        return []
    return [(m.lastgroup or "value", m.start(), m.end()) for m in _ANY.finditer(text)]


def mask(text: str) -> str:
    """``text`` with each volatile value replaced by ``<kind>``: equal masks mean same template."""
    return _ANY.sub(lambda m: f"<{m.lastgroup}>", text)


def fingerprint(text: str) -> str:
    """A cheap template key: digits zeroed and long hex ids / emails blanked (equal for calls
    that differ only in such values). Much faster than ``mask`` on long prompts.

    Not cached: its callers (``segment.groups``' template keys) are, by the same text, and keep
    only a digest per text; a cache here held a copy of each distinct prompt as well (~1 KB a
    prompt, up to 512 of them) and was never hit."""
    return (_IDS if "@" in text else _HEX).sub("#", text.translate(_DIGITS))


def kind_at(text: str, pos: int) -> str | None:
    """The kind of volatile value covering (or starting within 3 characters of) ``pos``."""
    for kind, a, b in find(text[max(0, pos - 40) : pos + 60]):
        a += max(0, pos - 40)
        b += max(0, pos - 40)
        if a <= pos + 3 and pos < b:
            return kind
    return None
