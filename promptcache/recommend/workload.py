"""Workload evidence for the model choice: task signals, chains, volume, per-group counts.

Everything here is a count of something plainly visible in the log, so a reader can check it:

* **Task signals** are plain keywords in the system prompt and the last user message
  (``TASK_RULES``: "summarize", "translate", "extract", a question mark at the end of the user
  message, a code fence, ...). They are reported as counts per keyword, never folded into a
  hidden classifier; they explain, they do not decide.
* **Chains**: a call *extends* an earlier call when its prompt begins with the earlier call's
  whole prompt (all pieces but the generation prompt; compared by ``Shape.chain`` keys), or when
  both carry the same ``conversation_id``. The first call of a chain is its *planning* call; the
  rest are *execution* steps (agent loop turns, conversation turns).
* **Volume**: calls per day and the most calls started within any 60 seconds.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..measure.shape import ChatShape, Shape
from ..model.calls import Call, is_blocks
from ..model.facts import CallFacts, conversation_keys
from ..model.notes import VolumeBasis
from .concurrency import peak_per_window

SCAN_CHARS = 4000  # of the system prompt and of the last user message

# (kind, keyword label, pattern, where, needles): where is "any" (system + last user message) or
# "user"; the pattern runs on the lower-cased text only when one of the plain needles occurs in it.
TASK_RULES: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    ("summarization", "summarize/summary", r"\bsummar(?:y|ies|ize|ise|izing|ising|ization)\b", "any", ("summar",)),
    ("summarization", "tl;dr", r"\btl;?dr\b", "any", ("tl;dr", "tldr")),
    ("translation", "translate/translation", r"\btranslat(?:e|es|ed|ion|ing)\b", "any", ("translat",)),
    ("extraction", "extract", r"\bextract(?:s|ed|ion|ing)?\b", "any", ("extract",)),
    (
        "extraction",
        "return/output JSON",
        r"\b(?:as|in|return|output|respond with)\s+(?:valid\s+|a\s+)?json\b",
        "any",
        ("json",),
    ),
    (
        "classification",
        "classify/categorize",
        r"\bclassif(?:y|ies|ication)\b|\bcategori[sz]e\b",
        "any",
        ("classif", "categori"),
    ),
    ("qa", "question mark ending the user message", r"\?\s*$", "user", ("?",)),
    ("qa", "answer the question", r"\banswer (?:the|this|my|a|each) question", "any", ("answer ",)),
    ("code", "code fence ```", r"```", "any", ("```",)),
    (
        "code",
        "code words (function, refactor, traceback, unit test, bug)",
        r"\b(?:refactor\w*|traceback|stack trace|unit tests?|def \w+\(|function \w+\(|compil(?:e|er|ing)|bugs?|debug\w*)\b",
        "any",
        ("refactor", "traceback", "stack trace", "unit test", "def ", "function ", "compil", "bug"),
    ),
    (
        "reasoning",
        "step by step / prove / plan",
        r"\bstep[- ]by[- ]step\b|\bprove\b|\bplan (?:the|a|your)\b",
        "any",
        ("step", "prove", "plan "),
    ),
]
_COMPILED = [
    (kind, label, re.compile(pat, re.MULTILINE), where, needles) for kind, label, pat, where, needles in TASK_RULES
]
SIMPLE_KINDS = ("summarization", "translation", "extraction", "classification", "qa")
_SYSTEM_BITS: dict[int, int] = {}  # system prompts repeat: their bits are computed once (bounded)
SYSTEM_BITS_KEPT = 10_000
# the last user messages' bits: an agent loop's calls end with the same user message turn after
# turn (1,611 distinct in the 3,000-call benchmark log); a few kept, emptied when full
_USER_BITS: dict[int, int] = {}
USER_BITS_KEPT = 1024


def _bits(text: str, where: str) -> int:
    low = text.lower()
    bits = 0
    for i, (_, _, rx, w, needles) in enumerate(_COMPILED):
        if w in (where, "any") and any(nd in low for nd in needles) and rx.search(low):
            bits |= 1 << i
    return bits


def task_bits(call: Call) -> int:
    """Bitmask of the ``TASK_RULES`` whose keyword appears in the call (bit i = rule i)."""
    if is_blocks(call.segments):
        return 0  # a block-hash trace: no text, no keyword (what the lines below give for it)
    system = "\n".join(s.text[:SCAN_CHARS] for s in call.segments if s.role == "system")
    user = next((s.text[:SCAN_CHARS] for s in reversed(call.segments) if s.role == "user"), "")
    return _kept_bits(_SYSTEM_BITS, system, "system", SYSTEM_BITS_KEPT) | _kept_bits(
        _USER_BITS, user, "user", USER_BITS_KEPT
    )


def _kept_bits(kept: dict[int, int], text: str, where: str, limit: int) -> int:
    """``_bits(text, where)`` (0 for no text), kept in ``kept`` by the text's hash; ``kept`` is
    emptied when it holds ``limit`` texts' bits."""
    if not text:
        return 0
    key = hash(text)
    got = kept.get(key)
    if got is None:
        if len(kept) >= limit:
            kept.clear()
        got = kept[key] = _bits(text, where)
    return got


def bit_labels(bits: int) -> list[tuple[str, str]]:
    """(kind, keyword label) of every rule set in ``bits``."""
    return [(k, lab) for i, (k, lab, _, _, _) in enumerate(_COMPILED) if bits >> i & 1]


#: ``Chains.flags`` bits: the call extends no earlier call (the first, or planning, call of its
#: chain); a later call extends that chain (set on its first call only)
FIRST, EXTENDED = 1, 2


@dataclass
class Chains:
    """What later steps read of each call's chain, kept for the whole run: a byte of ``flags`` a
    call (``FIRST``, ``EXTENDED``), and only where a call of a chain of two or more has no
    conversation id of its own, its chain's first call (``head``, ``index_code``; -1 elsewhere;
    None when no call needs one), which names its conversation (``analyze.pipeline._conversations``). The links
    themselves (each call's parent, first call and step: 12 bytes a call) go once found: 1 byte
    a call where every call has an id."""

    flags: bytearray
    head: array | None = None

    def first(self, i: int) -> bool:
        """The call extends no earlier call (its step is 0)."""
        return bool(self.flags[i] & FIRST)

    def extended_first(self, i: int) -> bool:
        """The call is the first of a chain that a later call extends."""
        return self.flags[i] == FIRST | EXTENDED

    def count(self) -> int:
        """First calls: the chains, a lone call one of them."""
        return self.flags.count(FIRST) + self.flags.count(FIRST | EXTENDED)


def index_code(n: int) -> str:
    """The array type code that holds every call index and -1 of ``n`` calls: 4-byte signed ints,
    8-byte ones past 2**31 calls."""
    return "i" if n < 2**31 and array("i").itemsize == 4 else "q"


def find_chains(metas: Sequence[CallFacts], order: Sequence[int], shapes: Sequence[Shape]) -> Chains:
    """Link each call to the latest earlier call whose whole prompt is its prefix, in time order.

    Each call registers the chain key of its prompt without the generation piece; a later call
    looks up each of its own prefix keys, longest first, so the work is O(pieces) per call. Only
    each call's first call of its chain is followed while linking (``root``, dropped at the end).

    Nothing is kept a call in a Python object while it links: the registered keys are an
    open-addressing table of typed slots (``_LatestByKey``), the latest call of each conversation
    an array by conversation code (``conversation_codes``). A dict from key to call held a dict
    entry and two int objects a call (~130 bytes a call of ``_prepare``'s transient).
    """
    import numpy as np

    n = len(metas)
    codes, nconv = conversation_codes(metas)
    code = index_code(n)
    root = array(code, range(n))
    by_prefix = _LatestByKey(n)
    call_key, slot_call, mask = by_prefix.keys, by_prefix.calls, by_prefix.mask
    by_conv = array(code, [-1]) * (nconv + 1)  # the latest call of each conversation code (0: none)
    for i in order:
        s = shapes[i]
        chain = (
            s.chain_from(0) if type(s) is ChatShape else s.chain
        )  # len(keys) + 1 chain keys (a chat shape's: not kept)
        nk = len(chain) - 1
        p = -1
        for k in range(nk - 2, 0, -1):  # prefixes shorter than this call's own prompt
            key = chain[k]
            h = key & mask
            while got := slot_call[h]:  # call + 1 (0: a free slot, the key is not registered)
                if call_key[got - 1] == key:
                    p = got - 1
                    break
                h = (h + 1) & mask
            if p >= 0:
                break
        conv = codes[i]
        if p < 0 and conv:
            p = by_conv[conv]
        if p >= 0:
            root[i] = root[p]
        if nk >= 2:  # registers this call's prompt as the latest with its key
            key = chain[nk - 1]
            h = key & mask
            while (got := slot_call[h]) and call_key[got - 1] != key:
                h = (h + 1) & mask
            call_key[i], slot_call[h] = key, i + 1
        if conv:
            by_conv[conv] = i
    del by_prefix, call_key, slot_call, by_conv
    r = np.frombuffer(root, np.dtype(f"i{root.itemsize}")) if n else np.zeros(0, np.int64)
    first = r == np.arange(n)
    flags = first.astype(np.uint8)
    flags[r[~first]] |= EXTENDED  # a later call's first call: its chain is extended
    head = None
    if n:  # the calls with no conversation id in a chain of two or more (a lone call's flags: FIRST alone)
        named = np.flatnonzero((np.frombuffer(codes, np.dtype(f"u{codes.itemsize}")) == 0) & (flags != FIRST))
        if len(named):
            head = array(code, [-1]) * n
            np.frombuffer(head, np.dtype(f"i{head.itemsize}"))[named] = r[named]
    return Chains(bytearray(flags.tobytes()), head)


class _LatestByKey:
    """``find_chains``'s registered prompts: chain key -> the latest call that registered it, as
    an open-addressing table (linear probing) of slots holding that call + 1 (``calls``, 0: a
    free slot), each call's registered key in a column by call (``keys``, signed 64-bit: a slot
    whose key a later call registers again takes that call, and the key is compared through it).
    Sized once for every call at most half full (a power of two of 4-byte slots, 8-byte past
    2**31 calls, and 8 bytes a call: ~24 bytes a call at most): no dict entry, key int or call
    int a call. ``find_chains`` probes it inline (a method call a probe costs more CPU than the
    probe)."""

    __slots__ = ("calls", "keys", "mask")

    def __init__(self, n: int):
        size = 8
        while size < 2 * n:
            size *= 2
        self.keys = array("q", [0]) * n
        self.calls = array(index_code(n + 1), [0]) * size
        self.mask = size - 1


def conversation_codes(facts: Sequence[CallFacts]) -> tuple[array, int]:
    """Each call's conversation as a code (0: none; equal where the conversation strings are
    equal) and the highest code: a ``FactTable``'s own codes (read, never changed), else codes
    given in order of first use (a dict a distinct conversation while they are made)."""
    coded = getattr(facts, "coded", None)
    got = coded("conversation") if coded is not None else None
    if got is not None:
        codes = got[0]
        return codes, max(codes, default=0)
    seen: dict[Hashable, int] = {}
    conversation = conversation_keys(facts)
    out = array("I", [0]) * len(facts)
    for i in range(len(facts)):
        c = conversation(i)
        if c is not None:
            out[i] = seen.setdefault(c, len(seen) + 1)
    return out, len(seen)


@dataclass
class GroupCounts:
    calls: int = 0
    with_tools: int = 0
    calls_with_tool_calls: int = 0
    tool_calls: int = 0
    thinking: int = 0
    reasoning_tokens: int = 0
    output_tokens: int = 0
    chain_steps: int = 0  # calls that extend an earlier call
    chain_firsts_extended: int = 0  # chains (first calls) that at least one later call extends
    kinds: Counter = field(default_factory=Counter)  # kind -> calls
    keywords: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # kind -> label -> calls


def group_counts(metas: Sequence[CallFacts], chains: Chains) -> dict[str, GroupCounts]:
    out: dict[str, GroupCounts] = defaultdict(GroupCounts)
    for i, m in enumerate(metas):
        g = out[m.group]
        g.calls += 1
        g.with_tools += m.tools
        g.calls_with_tool_calls += m.tool_calls > 0
        g.tool_calls += m.tool_calls
        g.thinking += m.thinking or m.reasoning_tokens > 0
        g.reasoning_tokens += m.reasoning_tokens
        g.output_tokens += m.output
        g.chain_steps += not chains.first(i)
        g.chain_firsts_extended += chains.extended_first(i)
        if m.task_kinds:
            seen = set()
            for kind, label in bit_labels(m.task_kinds):
                g.keywords[kind][label] += 1
                seen.add(kind)
            for kind in seen:
                g.kinds[kind] += 1
    return out


@dataclass
class Volume:
    calls: int
    span_s: float
    active_days: int
    busiest_day_calls: int
    calls_per_day: float
    basis: VolumeBasis  # how calls_per_day was found (report.recommendation_text writes it with span_s)
    peak_per_minute: int
    peak_minute_at: float | None


def volume(metas: Sequence[CallFacts]) -> Volume:
    """Calls per day (over the log's span; projected when it spans 1 h to 1 day) and peak per minute."""
    starts = [m.start for m in metas if m.timed]
    n = len(metas)
    if not starts:
        return Volume(n, 0.0, 0, n, float(n), "no_timestamps", 0, None)
    span = max(starts) - min(starts)
    days = Counter(datetime.fromtimestamp(t, tz=UTC).date() for t in starts)
    busiest = max(days.values())
    basis: VolumeBasis
    if span >= 86400:
        per_day, basis = len(starts) / (span / 86400), "mean_over_days"
    elif span >= 3600:
        per_day, basis = len(starts) * 86400 / span, "projected"
    else:
        per_day, basis = float(busiest), "too_short"
    peak, at = peak_per_window(starts, 60.0)
    return Volume(n, span, len(days), busiest, per_day, basis, peak, at)
