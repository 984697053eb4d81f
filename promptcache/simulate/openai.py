"""OpenAI prompt caching, in its two generations.

``OpenAIAutoCache`` (models before GPT-5.6): automatic for prompts of ``min_tokens`` (1024) or
more; a hit is the longest common prefix with a live cached prompt, counted as ``min_tokens`` plus
whole ``increment_tokens`` (128) steps. Entries stay ``idle_s`` after their last use (5-10 min
in memory) up to ``cap_s`` (1 h), or ``retention_24h_s`` with ``prompt_cache_retention: "24h"``
(the default for models whose ``default_retention`` is ``24h``). Requests are routed by the first
``routing_prefix_tokens`` tokens and ``prompt_cache_key``; above ``overflow_rpm`` requests a
minute for one route, requests are spread round-robin over as many machines as the last minute's
rate needs (``ceil(n / overflow_rpm)``), each with its own cache: an extra machine's first request
misses and caches the prefix there, so overflow *reduces* effectiveness (one warm-up miss per extra
machine, and more after idle gaps), as OpenAI's guide says, rather than making every extra request
a miss. No write charge.

``OpenAIBreakpointCache`` (GPT-5.6 and later): entries only at breakpoints, the implicit one at
the latest user or tool message (unless ``cache_mode == "explicit"``) and explicit
``prompt_cache_breakpoint`` markers; a read must match an entry exactly at a boundary where an
earlier request wrote one (no fallback to a shorter unmarked prefix), the longest of the latest
``read_lookback_breakpoints``; up to ``max_writes`` new entries per request, billed at 1.25x
(``cache_write_5m`` in the catalog); ``ttl_s`` (30 min) minimum life, refreshed on a hit.
"""

from __future__ import annotations

import math
from collections import deque

from ..measure.blocks import BlockShape
from ..measure.shape import Measurer, Shape, ShapeList
from ..model.calls import BlockRun
from ..model.hints import CacheHints
from .base import PolicyBase, explicit_breakpoints, placed_breakpoints
from .engine import PrefixIndex, cumulative, root_at, seconds, shape_root
from .outcome import Outcome
from .radix import DepthStore, Prefix, RadixIndex, Sweeper, as_keys, is_block_shape


class OpenAIAutoCache(PolicyBase):
    def __init__(
        self,
        measurer: Measurer,
        *,
        min_tokens: int = 1024,
        increment_tokens: int = 128,
        idle_s="5m",
        cap_s="1h",
        retention_24h_s="24h",
        default_retention="in_memory",
        routing_prefix_tokens: int = 256,
        overflow_rpm: float = 15,
        response_begin_s: float = 0.5,
        scope_by_user: bool = False,
    ):
        self.m = measurer
        self.min_tokens = min_tokens
        self.inc = increment_tokens
        self.idle = seconds(idle_s)
        self.cap = seconds(cap_s)
        self.long = seconds(retention_24h_s)
        self.default_retention = default_retention
        self.route_tokens = int(routing_prefix_tokens)
        self.rpm = float(overflow_rpm)
        self.begin = float(response_begin_s)
        self.by_user = scope_by_user
        self._index: dict[tuple, PrefixIndex] = {}
        self._trees: dict[tuple, RadixIndex] = {}  # the same, for block-hash prompts (``radix``)
        self._sweeper = Sweeper()
        self._routes: dict[tuple, deque] = {}
        self._sent: dict[tuple, int] = {}  # requests sent so far per route (round-robin over its machines)
        self.overflowed = 0  # requests served by an overflow machine

    def footprint(self, shape: Shape, *, user: str | None, call: CacheHints | None = None) -> tuple:
        """Where this request reads and writes cache state (``simulate.partition``): its scope
        (the user when scoped by user, and ``prompt_cache_key``) and its prompt's root.

        Exact, as ``DeepSeekCache.footprint`` argues for its own. Every prefix a scope's cache keeps
        (``PrefixIndex``, ``RadixIndex``) hangs under a chain that starts with the first piece, so
        a request reads, refreshes or adds only prefixes under its own root. The other state is
        per route (its last minute of requests and round-robin count, ``_machine``, and the
        overflow machines' caches), and a route is a chain key (or a chained block hash of the
        first piece) of the prompt's first ``routing_prefix_tokens``, so two requests on one
        route share their root too. Sweeping forgets only what no later request can read, and
        nothing else is shared (no capacity).
        """
        return ((self._scope_name(user, call, key=True), shape_root(self.m, shape)),)

    def footprint_at(self, shapes: ShapeList, i: int, *, user: str | None, call: CacheHints | None = None) -> tuple:
        """``footprint(shapes[i], ...)`` read from the list's record (no shape made)."""
        return ((self._scope_name(user, call, key=True), root_at(self.m, shapes, i)),)

    def _route(self, shape: Shape) -> int:
        if type(shape) is BlockShape:
            return self._block_route(shape)
        before = 0
        for k, n in enumerate(shape.tokens):
            if before + n >= self.route_tokens:
                j = (self.route_tokens - before) // self.m.block_tokens
                blocks = self.m.blocks(shape.keys[k])
                if 0 < j <= len(blocks):
                    return hash((shape.chain[k], blocks[j - 1]))
                return shape.chain[k + 1]
            before += n
        return shape.chain[-1]

    def _block_route(self, shape: BlockShape) -> int:
        """``_route`` of a block shape, read in place (the first few blocks, no array built)."""
        segs = shape.segs
        before = 0
        for k in range(len(segs)):
            n = segs.size_at(k)
            if before + n >= self.route_tokens:
                j = (self.route_tokens - before) // self.m.block_tokens
                blocks = self.m.blocks(shape.key_at(k))
                if 0 < j <= len(blocks):
                    return hash((shape.chain_at(k), blocks[j - 1]))
                return shape.chain_at(k + 1)
            before += n
        return shape.chain_at(-1)

    def _machine(self, scope: tuple, shape: Shape, now: float) -> tuple[tuple, int]:
        """The route of this request and the machine it lands on (0: the route's home machine;
        1, 2...: overflow machines, used while the route's last minute is above ``overflow_rpm``)."""
        route = (scope, self._route(shape))
        if self.rpm <= 0 or self.rpm == float("inf"):
            return route, 0
        q = self._routes.setdefault(route, deque())
        while q and q[0] <= now - 60:
            q.popleft()
        q.append(now)
        sent = self._sent.get(route, 0)
        self._sent[route] = sent + 1
        machines = math.ceil(len(q) / self.rpm)
        return route, (sent % machines if machines > 1 else 0)

    def _overflow(self, scope: tuple, shape: Shape, now: float) -> bool:
        """Whether this request lands on an overflow machine (one without the route's history)."""
        return self._machine(scope, shape, now)[1] > 0

    def request(
        self, shape: Shape, *, start: float, end: float, user: str | None, call: CacheHints | None = None
    ) -> Outcome:
        total = shape.total
        scope = self._scope_id(user, call, key=True)
        route, machine = self._machine(scope, shape, start)
        where = (route, machine) if machine else scope  # an overflow machine: its own cache
        if machine:  # warmed by the requests it serves
            self.overflowed += 1
        retention = (
            call.prompt_cache_retention
            if call is not None and call.prompt_cache_retention
            else self._p(self.default_retention, start)
        )
        idle, cap = (self.long, self.long) if retention == "24h" else (self.idle, self.cap)
        minimum = self._p(self.min_tokens, start)
        ready = start + min(self.begin, max(end - start, 0.0))
        if self._sweeper.tick(start):
            self.sweep(start)
        if is_block_shape(shape):
            return self._blocks(where, shape, start, ready, idle, cap, minimum)
        index = self._index.get(where)
        if index is None:
            index = self._index[where] = PrefixIndex(self.m)
        lcp, path = index.lcp(shape, start)
        hit = 0
        if total >= minimum and lcp >= minimum:
            hit = min(minimum + (lcp - minimum) // self.inc * self.inc, total)
            for r in path:
                r.used = start
        if total >= minimum:
            index.add(shape, start, ready, idle, cap)
        return Outcome(read=hit, total=total)

    def _blocks(
        self, where: tuple, shape: Shape, start: float, ready: float, idle: float, cap: float, minimum: int
    ) -> Outcome:
        """``request`` for a block-hash prompt, on a radix tree (``radix.RadixIndex``): the same
        prefixes, liveness and outcome as ``PrefixIndex``, a step per run of blocks."""
        total = shape.total
        tree = self._trees.get(where)
        if tree is None:
            tree = self._trees[where] = RadixIndex()
        if type(shape) is BlockShape:
            return self._block_request(tree, shape, start, ready, idle, cap, minimum)
        chain = as_keys(shape.chain)
        path, d = tree.match(chain)
        depth, live = tree.live(path, start)
        lcp = shape.prefix_tokens(depth) if type(shape) is BlockShape else Prefix(shape.tokens, total)[depth]
        hit = 0
        if total >= minimum and lcp >= minimum:
            hit = min(minimum + (lcp - minimum) // self.inc * self.inc, total)
            for e in live:
                e.used = start
        if total >= minimum:
            tree.add(chain, path, d, start, ready, idle, cap)
        return Outcome(read=hit, total=total)

    def _block_request(
        self, tree: RadixIndex, shape: BlockShape, start: float, ready: float, idle: float, cap: float, minimum: int
    ) -> Outcome:
        """``_blocks`` for a ``BlockShape``: its walk starts at the edge the previous request on its
        run of ids (its conversation, or the run it forked from) reached (``RadixIndex.request``),
        its chain keys read in place from that depth on. A prompt too short to be cached is neither
        read nor added (``_blocks`` only splits an edge for it, which changes no outcome)."""
        total = shape.total
        if total < minimum:
            return Outcome(read=0, total=total)
        segs = shape.segs
        n = len(segs)
        fingers = tree.fingers
        run = segs.run
        finger = None
        r: BlockRun | None = run
        while r is not None:
            finger = fingers.get(r)
            if finger is not None:
                break
            r = r.parent
        depth, e = tree.request(finger, shape.chain_at, shape.chain_from, n, start, ready, idle, cap)
        top = segs.n  # the run's part of the prompt (its last piece may be a tail of its own)
        root = tree.root
        while e is not root and e.depth + len(e.keys) > top:
            e = e.parent  # type: ignore[assignment]  # every edge but the root has a parent
        if e is not root:
            fingers[run] = e
        lcp = shape.prefix_tokens(depth)
        hit = 0
        if lcp >= minimum:
            hit = min(minimum + (lcp - minimum) // self.inc * self.inc, total)
        return Outcome(read=hit, total=total)

    def sweep(self, now: float) -> None:
        """Forget the prefixes no request at ``now`` or later can read: idle past ``idle_s`` or
        older than their cap (``PrefixIndex.sweep``, ``radix.RadixIndex.sweep``). State then
        follows the live window instead of the whole log."""
        left = 0
        for where, tree in list(self._trees.items()):
            tree.sweep(now)
            if not len(tree):
                del self._trees[where]
            left += len(tree)
        for where, index in list(self._index.items()):
            n = index.sweep(now)
            if not n:
                del self._index[where]
            left += n
        self._sweeper.swept(left)


class OpenAIBreakpointCache(PolicyBase):
    def __init__(
        self,
        measurer: Measurer,
        *,
        min_tokens: int = 1024,
        max_writes: int = 4,
        read_lookback_breakpoints: int = 50,
        ttl_s="30m",
        response_begin_s: float = 0.5,
        breakpoints: str = "logged",
        scope_by_user: bool = False,
    ):
        self.m = measurer
        self.min_tokens = min_tokens
        self.max_writes = int(max_writes)
        self.lookback = int(read_lookback_breakpoints)
        self.ttl = seconds(ttl_s)
        self.begin = float(response_begin_s)
        self.mode = breakpoints
        self.by_user = scope_by_user
        self._stores: dict[tuple, DepthStore] = {}  # never swept: see docs/cache-rules.md

    def footprint(self, shape: Shape, *, user: str | None, call: CacheHints | None = None) -> tuple:
        """Its scope (user when scoped by user, and ``prompt_cache_key``) and its prompt's root
        (``simulate.partition``): each entry is keyed by a chain key of the prompt up to its
        breakpoint, which starts with the first piece, so requests under other roots never read,
        refresh or overwrite it (see ``DeepSeekCache.footprint``)."""
        return ((self._scope_name(user, call, key=True), shape_root(self.m, shape)),)

    def footprint_at(self, shapes: ShapeList, i: int, *, user: str | None, call: CacheHints | None = None) -> tuple:
        """``footprint(shapes[i], ...)`` read from the list's record (no shape made)."""
        return ((self._scope_name(user, call, key=True), root_at(self.m, shapes, i)),)

    def breakpoints(self, shape: Shape, call: CacheHints | None) -> list[int]:
        """Piece indexes of this request's breakpoints (explicit markers, then the implicit one)."""
        placement = call.placement if call is not None else ()  # set by an advisor what-if
        if placement:
            bps = placed_breakpoints(shape, placement)
        else:
            bps = [k for k, _ in explicit_breakpoints(shape, call)] if self.mode == "logged" else []
        implicit = call is None or call.cache_mode != "explicit" or self.mode != "logged"
        if implicit:
            for k in range(len(shape.roles) - 2, -1, -1):
                if shape.roles[k] in ("user", "tool", "block"):
                    if k not in bps:
                        bps.append(k)
                    break
        return sorted(bps)

    def request(
        self, shape: Shape, *, start: float, end: float, user: str | None, call: CacheHints | None = None
    ) -> Outcome:
        total = shape.total
        scope = self._scope_id(user, call, key=True)
        store = self._stores.get(scope)
        if store is None:
            store = self._stores[scope] = DepthStore()
        blocks = is_block_shape(shape)
        # a block-hash prompt: prefix sums from the end, only where asked (``radix.Prefix``)
        cum = Prefix(shape.tokens, total) if blocks else cumulative(shape.tokens)
        chain = shape.chain
        minimum = self._p(self.min_tokens, start)
        # read: exact entries at boundaries earlier requests marked (their breakpoints stay read-only)
        hit, entry, looked = 0, None, 0
        # a block prompt looks only at the depths where some entry is (``radix.DepthStore``)
        depths = store.deepest_first(len(shape.keys) - 1) if blocks else range(len(shape.keys) - 1, 0, -1)
        for j in depths:
            if chain[j] in store.entries:
                looked += 1
                e = store.get(chain[j], start)
                if e is not None:
                    hit, entry = cum[j], e
                    break
                if looked >= self.lookback:
                    break
        if entry is not None:
            entry.expires = max(entry.expires, start + entry.ttl)
        ready = start + min(self.begin, max(end - start, 0.0))
        new = [k for k in self.breakpoints(shape, call) if cum[k + 1] > hit and cum[k + 1] >= minimum]
        new = new[-self.max_writes :]  # up to four new writes; the latest ones win
        last = hit
        for k in new:
            store.put(chain[k + 1], k + 1, cum[k + 1], ready, start, self.ttl)
            last = max(last, cum[k + 1])
        return Outcome(read=hit, total=total, write=last - hit)
