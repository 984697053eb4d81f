"""The report's per-conversation rows (``Report.conversations``), summed from a simulation's outcomes."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

from ..model import report as R
from ..model.strings import Coded
from ..price.scenarios import NARROW, Outcomes, ints64

#: the calls a log may have for a conversation's calls and places to be counted in 32 bits
_INT32_LIMIT = 1 << 31

#: calls summed per numpy pass (``conversation_rows``): the pass's arrays are this many calls long
SUM_CHUNK = 1 << 16


def conversation_rows(conversation: Coded, order: Sequence[int], outcomes: Outcomes) -> R.ConversationRows:
    """Per conversation, in the order ``order`` first meets one of its calls: its calls, input
    tokens (``total``) and hit tokens (``read``) in ``outcomes``; calls without one (code 0) are in
    no row. The rows of adding each call along ``order`` into a dict of conversations, summed
    instead per conversation code in numpy, ``SUM_CHUNK`` calls at a time: no dict slot, Python
    int or growing array a conversation while the other models are simulated. The rows keep the
    counts in the fewest bytes that hold them (``NARROW``) and make the hit ratio on read
    (``R.HitRatios``): ~13 bytes a row instead of 36."""
    import numpy as np

    codes, table = conversation.codes, conversation.table
    k = len(table)
    small = np.int32 if len(order) < _INT32_LIMIT else np.int64  # counts and places along ``order``
    calls = np.zeros(k, small)
    input_tokens, hit_tokens = np.zeros(k, np.int64), np.zeros(k, np.int64)
    first = np.full(k, len(order), small)  # the place along ``order`` of each conversation's first call
    every = _ints(codes)
    for s in range(0, len(order), SUM_CHUNK):
        idx = np.asarray(order[s : s + SUM_CHUNK], dtype=np.int64)
        c = every[idx]
        np.add.at(calls, c, 1)
        np.add.at(input_tokens, c, ints64(outcomes.total, idx))
        np.add.at(hit_tokens, c, ints64(outcomes.read, idx))
        np.minimum.at(first, c, np.arange(s, s + len(idx), dtype=small))
    met = np.flatnonzero(calls[1:]) + 1  # code 0: no conversation
    met = met[np.argsort(first[met], kind="stable")]
    ids = array("I")
    ids.frombytes(met.astype(np.uint32).tobytes())
    inputs, hits = _narrowest(input_tokens[met]), _narrowest(hit_tokens[met])
    return R.ConversationRows(Coded(ids, table), _narrowest(calls[met]), inputs, hits, R.HitRatios(hits, inputs))


def _ints(codes: Sequence[int]) -> Any:
    """Codes as a numpy vector, read in place when they are an ``array``."""
    import numpy as np

    if type(codes) is array:
        return np.frombuffer(codes, np.dtype(f"{'u' if codes.typecode.isupper() else 'i'}{codes.itemsize}"))
    return np.asarray(codes, dtype=np.int64)


def _narrowest(v: Any) -> array:
    """A numpy vector of integers as an ``array`` of the narrowest signed type that holds its values."""
    import numpy as np

    lo, hi = (int(v.min()), int(v.max())) if len(v) else (0, 0)
    tc = next(t for t, lim in NARROW if -lim <= lo and hi < lim)
    out = array(tc)
    out.frombytes(v.astype(np.dtype(f"i{out.itemsize}")).tobytes())
    return out
