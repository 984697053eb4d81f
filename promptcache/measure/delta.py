"""Per-conversation deltas: each block-hash request costs what it adds to the previous one.

Agent sessions resend their whole context every step and add a few blocks (Claude Code: ~2,000
blocks a request, ~12 new). ``BlockDelta`` keeps, per conversation, the previous request's block
keys and chain keys; a new request is compared with it in one vectorized pass (numpy), the
shared prefix's chain keys are copied (one C-level slice) and only the new blocks are hashed.
The chain keys are exactly ``shape.chain_of``'s (``tests/test_perf_traces.py`` checks it): any
earlier request is a valid base, the conversation's previous one is merely the one that shares
the most. This serves block prompts given as plain segment lists (anonymized traces); the
reader's compact requests share their conversation's run of ids and chain keys instead
(``measure/blocks.py``), so nothing is copied per request.

``Repeat`` is a read-only sequence of one value (a block shape's roles), O(1) in memory where a
tuple per distinct prompt length held a pointer per block.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterator, Sequence
from itertools import repeat
from typing import Any, overload


def common_prefix(a: array, b: array) -> int:
    """How many leading items two ``array('q')`` share (vectorized; no Python loop over items)."""
    import numpy as np  # imported on first use: the CLI's start does not pay for it

    m = min(len(a), len(b))
    if not m:
        return 0
    x = np.frombuffer(a, dtype=np.int64, count=m)
    y = np.frombuffer(b, dtype=np.int64, count=m)
    diff = np.flatnonzero(x != y)
    return int(diff[0]) if len(diff) else m


class BlockDelta:
    """Chain keys of block-hash prompts, computed from the previous prompt of each conversation."""

    __slots__ = ("_prev", "hashed", "reused")

    def __init__(self) -> None:
        self._prev: dict[Hashable, tuple[array, array]] = {}  # conversation -> (keys, chain) of its latest
        self.hashed = 0  # blocks hashed (new content)
        self.reused = 0  # blocks whose chain key came from the previous request

    def chain(self, conversation: Hashable, keys: array, root: int) -> array:
        """``chain_of(keys)`` (``chain[k]`` names keys 0..k-1; ``chain[0] == root``)."""
        prev = self._prev.get(conversation)
        if prev is None:
            shared, chain = 0, array("q", [root])
        else:
            shared = common_prefix(prev[0], keys)
            chain = prev[1][: shared + 1]
        h = chain[-1]
        append = chain.append
        for k in keys[shared:]:
            h = hash((h, k))
            append(h)
        self.hashed += len(keys) - shared
        self.reused += shared
        self._prev[conversation] = (keys, chain)
        return chain


class Repeat(Sequence):
    """``n`` times ``value``, as a read-only sequence (slices are ``Repeat`` too)."""

    __slots__ = ("n", "value")

    def __init__(self, value: Any, n: int):
        self.value, self.n = value, n

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> Repeat: ...
    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return Repeat(self.value, len(range(*i.indices(self.n))))
        if not -self.n <= i < self.n:
            raise IndexError("Repeat index out of range")
        return self.value

    def __iter__(self) -> Iterator[Any]:
        return repeat(self.value, self.n)

    def __contains__(self, x: object) -> bool:
        return bool(self.n) and x == self.value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Repeat):
            return self.n == other.n and (not self.n or self.value == other.value)
        if isinstance(other, (tuple, list)):
            return len(other) == self.n and all(x == self.value for x in other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Repeat({self.value!r}, {self.n})"
