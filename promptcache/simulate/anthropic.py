"""Anthropic prompt caching: entries written only at ``cache_control`` breakpoints.

Rules (docs/cache-rules.md, research A.3): up to ``max_breakpoints`` explicit breakpoints plus
top-level automatic caching (a breakpoint on the last block, one slot); on each request every
breakpoint looks back up to ``lookback_blocks`` content-block boundaries (pieces; a block trace's
hash blocks are not content blocks and do not count) for an entry an earlier request wrote and
the longest live one is read; new entries are written at the breakpoints past it.
Entries live ``ttl_5m_s`` (refreshed on every hit) or ``ttl_1h_s`` from the start of the request
that wrote or read them, become visible once the writer's response has begun, and need a prefix
of at least ``min_tokens`` (per model, dated). Charges follow the mixed-TTL rule: A = hit,
B = highest 1h breakpoint after A, C = last breakpoint: read A, 1h write B-A, 5m write C-B.
Invalidation: the tools level is the start of the prefix (a change invalidates everything);
``tool_choice``, thinking and the number of images are folded into the messages-level keys.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable, Sequence

from ..measure.blocks import BlockShape, ReadInPlace, run_chain
from ..measure.shape import Measurer, Shape, ShapeList
from ..model.hints import CacheHints
from .base import (
    SYSTEM_LEVEL,
    PolicyBase,
    auto_spots,
    explicit_breakpoints,
    last_prompt_piece,
    placed_breakpoints,
    system_pieces,
)
from .engine import cumulative, root_at, seconds, shape_root
from .outcome import Outcome
from .radix import DepthEntry, DepthStore, Prefix, Sweeper, is_block_shape


class AnthropicCache(PolicyBase):
    def __init__(
        self,
        measurer: Measurer,
        *,
        min_tokens=1024,
        max_breakpoints: int = 4,
        lookback_blocks: int = 20,
        ttl_5m_s="5m",
        ttl_1h_s="1h",
        response_begin_s: float = 1.0,
        breakpoints: str = "logged",
        scope_by_user: bool = False,
    ):
        if breakpoints not in ("logged", "auto", "auto-1h"):
            raise ValueError("breakpoints must be 'logged', 'auto' or 'auto-1h'")
        self.m = measurer
        self.min_tokens = min_tokens
        self.max_bp = int(max_breakpoints)
        self.lookback = int(lookback_blocks)
        self.ttl5 = seconds(ttl_5m_s)
        self.ttl1h = seconds(ttl_1h_s)
        self.begin = float(response_begin_s)
        self.mode = breakpoints
        self.by_user = scope_by_user
        self._stores: dict[tuple, DepthStore] = {}
        self._sweeper = Sweeper()

    def footprint(self, shape: Shape, *, user: str | None, call: CacheHints | None = None) -> tuple:
        """Its scope and its prompt's root (``simulate.partition``): every entry is keyed by a
        boundary key (``_keys``), a chain key of the prompt up to that boundary, which starts with
        the first piece (the messages-level settings are folded in after the system level, never
        before the first piece), so requests under other roots never read, refresh or overwrite
        it (see ``DeepSeekCache.footprint``); sweeping forgets only expired entries."""
        return ((self._scope_name(user, call), shape_root(self.m, shape)),)

    def footprint_at(self, shapes: ShapeList, i: int, *, user: str | None, call: CacheHints | None = None) -> tuple:
        """``footprint(shapes[i], ...)`` read from the list's record (no shape made)."""
        return ((self._scope_name(user, call), root_at(self.m, shapes, i)),)

    @property
    def forgets_after_s(self) -> float | None:
        """Seconds of quiet after which this cache holds nothing of a partition that a later
        request can see (``DeepSeekCache.forgets_after_s``): the longer TTL. Every entry expires
        at most that long after the start of the request that wrote or last read it
        (``DepthStore.put``, the refresh in ``request``); an expired entry is never read
        (``DepthStore.get``) and a write over it makes a new entry, as for a key never seen; the
        look-back counts content-block boundaries, not entries, and sweeping changes no outcome
        (``tests/test_cachesim_radix.py``). So a request starting later than that after the latest
        start of a partition's earlier ones reads what it would through a fresh cache
        (``tests/test_epochs.py``)."""
        return max(self.ttl5, self.ttl1h)

    def _ttl(self, cc: str) -> float:
        return self.ttl1h if cc.strip().lower() == "1h" else self.ttl5

    def breakpoints(self, shape: Shape, call: CacheHints | None) -> list[tuple[int, float, bool]]:
        """(piece index, ttl seconds, is 1h) of this request's breakpoints, at most ``max_breakpoints``."""
        placement = call.placement if call is not None else ()  # set by an advisor what-if
        if placement:
            return [(k, self.ttl5, False) for k in placed_breakpoints(shape, placement)]
        if self.mode != "logged":
            # translated from another provider: where a client would put them (the advisor's spots)
            one_h = self.mode == "auto-1h"
            ttl = self.ttl1h if one_h else self.ttl5
            return [(k, ttl, one_h) for k in placed_breakpoints(shape, auto_spots(shape))]
        last = last_prompt_piece(shape)
        bps = explicit_breakpoints(shape, call)
        if call is not None and call.cache_control is not None and (not bps or bps[-1][0] != last):
            bps.append((last, call.cache_control))  # automatic caching uses one slot
        bps = bps[: self.max_bp]  # the API rejects more; keep the first ones
        return [(k, self._ttl(cc), cc.strip().lower() == "1h") for k, cc in bps]

    def _keys(self, shape: Shape, call: CacheHints | None) -> list[int]:
        """Boundary keys: chain keys with the messages-level settings folded in after the system level."""
        salt = _salt(call)
        out = [shape.chain[0]]
        sys_level = True
        for k, role in enumerate(shape.roles):
            if sys_level and role not in SYSTEM_LEVEL:
                sys_level = False
            c = shape.chain[k + 1]
            out.append(c if sys_level else hash((c, salt)))
        return out

    def _key_at(self, shape: Shape, call: CacheHints | None) -> Callable[[int], int]:
        """``_keys(shape, call)[j]`` as ``key(j)``, hashed on use: a boundary within the leading
        system-level pieces (``system_pieces``) is its chain key, any later one salted."""
        chain, level, salt = shape.chain, system_pieces(shape), _salt(call)
        if len(chain) != len(shape.roles) + 1:  # not a plain prompt's chain: as ``_keys`` makes them
            return self._keys(shape, call).__getitem__
        return lambda j: chain[j] if j <= level else hash((chain[j], salt))

    def _store(self, user: str | None, call: CacheHints | None) -> DepthStore:
        scope = self._scope_id(user, call)
        store = self._stores.get(scope)
        if store is None:
            store = self._stores[scope] = DepthStore()
        return store

    def sweep(self, now: float) -> None:
        """Forget the entries past their expiry (``radix.DepthStore.sweep``): no request at ``now``
        or later can read them, and a write there makes a new entry either way."""
        for scope, store in list(self._stores.items()):
            store.sweep(now)
            if not len(store):
                del self._stores[scope]
        self._sweeper.swept(sum(len(s) for s in self._stores.values()))

    def request(
        self, shape: Shape, *, start: float, end: float, user: str | None, call: CacheHints | None = None
    ) -> Outcome:
        total = shape.total
        bps = self.breakpoints(shape, call)
        if not bps:
            return Outcome(read=0, total=total)
        if self._sweeper.tick(start):
            self.sweep(start)
        store = self._store(user, call)
        if is_block_shape(shape):
            return self._blocks(store, shape, bps, start, end, call)
        cum = cumulative(shape.tokens)
        key = self._key_at(shape, call)  # ``_keys(shape, call)[j]``: only the boundaries visited hashed
        minimum = self._p(self.min_tokens, start)
        # read: the longest live entry within each breakpoint's lookback window, which counts content
        # blocks: a boundary inside a block trace (``block`` pieces: fixed-size hash blocks of
        # unknown content) is not one, so it does not use up the window
        hit, hit_entry = 0, None
        roles = shape.roles
        for k, _, _ in bps:
            looked = 0
            for j in range(k + 1, 0, -1):
                if cum[j] <= hit:
                    break
                e = store.get(key(j), start)
                if e is not None:
                    hit, hit_entry = cum[j], e
                    break
                if roles[j - 1] != "block":
                    looked += 1
                    if looked >= self.lookback:
                        break
        if hit_entry is not None:
            hit_entry.expires = max(hit_entry.expires, start + hit_entry.ttl)  # refreshed on each hit
        # writes at the breakpoints past the hit, if long enough
        ready = start + min(self.begin, max(end - start, 0.0))
        root = shape.chain[1] if len(shape.chain) > 1 else 0
        return _write(store, bps, cum, hit, total, minimum, ready, start, key, root)

    def _blocks(
        self,
        store: DepthStore,
        shape: Shape,
        bps: list[tuple[int, float, bool]],
        start: float,
        end: float,
        call: CacheHints | None,
    ) -> Outcome:
        """``request`` for a block-hash prompt: the same reads and writes, visiting only the depths
        where the store holds entries (``radix.DepthStore``) and hashing only the boundaries visited.

        Every boundary is a hash block, not a content block, so the look-back window is never used
        up: each breakpoint reads the deepest live entry at or before it that is past the hit so far.
        """
        total = shape.total
        cum: Prefix | ReadInPlace
        chain: Sequence[int] | ReadInPlace
        if type(shape) is BlockShape:  # read in place: token counts and chain keys in O(1), no array
            cum, chain = ReadInPlace(shape.prefix_tokens), ReadInPlace(shape.chain_at)
        else:
            cum, chain = Prefix(shape.tokens, total), shape.chain
        salt = _salt(call)
        level = system_pieces(shape)  # boundaries 1..level are keyed without the salt (none here)
        minimum = self._p(self.min_tokens, start)
        root = chain[1]  # only entries under the prompt's own first piece can match (``DepthStore``)
        if type(shape) is BlockShape:
            hit, hit_entry = _block_read(store, shape, bps, start, salt, level, root)
        else:
            hit, hit_entry = 0, None
            depths = store.depths_of(root)
            for k, _, _ in bps:
                i = store.below(k + 1, root)
                while i >= 0:
                    j = depths[i]
                    if j < 1 or cum[j] <= hit:
                        break
                    e = store.get(chain[j] if j <= level else hash((chain[j], salt)), start)
                    if e is not None:
                        hit, hit_entry = cum[j], e
                        break
                    i -= 1
        if hit_entry is not None:
            hit_entry.expires = max(hit_entry.expires, start + hit_entry.ttl)  # refreshed on each hit
        ready = start + min(self.begin, max(end - start, 0.0))
        return _write(
            store, bps, cum, hit, total, minimum, ready, start,
            lambda j: chain[j] if j <= level else hash((chain[j], salt)), root,
        )  # fmt: skip


def _write(
    store: DepthStore,
    bps: list[tuple[int, float, bool]],
    cum: Sequence[int] | Prefix | ReadInPlace,
    hit: int,
    total: int,
    minimum: int,
    ready: float,
    start: float,
    key_at: Callable[[int], int],
    root: int,
) -> Outcome:
    """Write an entry at each breakpoint past the hit that is long enough (``key_at(j)``: the key of
    the prefix of ``j`` pieces; ``root``: the prompt's first chain key, where the store files its
    depth), and the request's outcome: tokens written up to the last 1-hour breakpoint are billed
    at the 1-hour rate, the rest past it at the 5-minute rate."""
    b_1h = c_last = hit
    for k, ttl, one_h in bps:
        pos = cum[k + 1]
        if pos <= hit or pos < minimum:
            continue
        store.put(key_at(k + 1), k + 1, pos, ready, start, ttl, root=root)
        c_last = max(c_last, pos)
        if one_h:
            b_1h = max(b_1h, pos)
    return Outcome(read=hit, total=total, write=c_last - max(hit, b_1h), write_1h=b_1h - hit)


def _block_read(
    store: DepthStore,
    shape: BlockShape,
    bps: list[tuple[int, float, bool]],
    start: float,
    salt: int,
    level: int,
    root: int,
) -> tuple[int, DepthEntry | None]:
    """The read loop of ``AnthropicCache._blocks`` for a ``BlockShape``, its chain keys and token
    counts read from its run in place: the same depths visited in the same order (those of its
    ``root``), the same entry read (``DepthStore.get`` inlined)."""
    segs = shape.segs
    nrun, block = segs.n, segs.block
    run = segs.run
    base = run.base
    rc = run_chain(run, nrun)  # chain keys base..nrun of the run's prompt
    parts: list[tuple[int, array]] | None = None  # the same for the runs it forked from, when needed
    depths, entries = store.depths_of(root), store.entries
    prefix_tokens, chain_at = shape.prefix_tokens, shape.chain_at
    hit, hit_entry = 0, None
    for k, _, _ in bps:
        i = bisect_right(depths, k + 1) - 1  # ``store.below``
        while i >= 0:
            j = depths[i]
            if j < 1:
                break
            cj = block * j if j < nrun else prefix_tokens(j)
            if cj <= hit:
                break
            if base <= j <= nrun:
                c = rc[j - base]
            elif j > nrun:
                c = chain_at(j)
            else:  # before the fork: the parent runs' chain keys, found once per request
                if parts is None:
                    parts = []
                    r, top = run.parent, base
                    while r is not None:
                        parts.append((r.base, run_chain(r, top)))
                        top = r.base
                        r = r.parent
                c = next(rcx[j - b] for b, rcx in parts if j >= b)
            e = entries.get(c if j <= level else hash((c, salt)))
            if e is not None and e.ready <= start and e.expires >= start:
                hit, hit_entry = cj, e
                break
            i -= 1
    return hit, hit_entry


def _salt(call: CacheHints | None) -> int:
    """The messages-level settings folded into every key past the system level; no options at all
    is the same as the defaults ("", no thinking, no images)."""
    return hash((call.tool_choice, call.thinking, call.images) if call is not None else ("", False, 0))
