"""DeepSeek's disk cache, in its two documented rule sets.

``v4-units`` (current): a request hits only a *persisted cache prefix unit* that it fully
matches. Units are persisted at the end of each request's input and of its output, every
``interval_tokens`` in long inputs (0: none, the default, as the guide's long-document example
implies), and, when a request shares a prefix with an earlier one, at the
end of that common prefix (so ``A+B``, ``A+C`` miss and a third ``A+D`` hits ``A``).

``legacy-64`` (V2/V3): the longest prefix shared with any earlier request, floored to 64-token
units. Both: units become usable ``construction_delay_s`` after they are written and vanish after
``eviction_idle_s`` unused; the scope is the account split by ``user_id``.

V4 keeps, per scope, a radix tree of the prefixes earlier requests had (``_Node``): an edge is a
run of pieces no request branched inside, stored as two arrays of machine integers (chain keys and
piece keys), and carries one record for all of them (when a request last had it) and the units
that end in its last piece's successor. A request walks the tree's nodes, not its pieces, and
adds only the pieces past its longest previously seen prefix. Prefixes and units idle past
``eviction_idle_s`` can be forgotten (``bounded``): the provider has evicted them, so it can neither
serve them nor detect a common prefix with them; the tree then holds only the live window
(docs/cache-rules.md).
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import attrgetter
from typing import Any

from ..measure.blocks import BlockShape, ReadInPlace
from ..measure.shape import Measurer, Shape, ShapeList
from ..model.hints import CacheHints
from .engine import BlockIndex, prompt_root, root_at, seconds, shape_root
from .outcome import Outcome


@dataclass(slots=True)
class _Unit:
    ready: float
    used: float


@dataclass
class _Scope:
    """Legacy rule: every prefix an earlier request had, with its liveness."""

    # chain before piece -> {block hash: the ``seen`` record of the first piece that had it}: partial
    # prefixes inside pieces (alive while that record is)
    blocks: BlockIndex
    # chain keys of every prefix an earlier request had -> [time usable, time last touched]; a
    # piece's blocks are registered in ``blocks`` when its prefix first enters here
    # (``chain[k + 1]`` is the hash of ``(chain[k], key)``: one entry per piece under a parent)
    seen: dict[int, list[float]] = field(default_factory=dict)


class _Node:
    """A prefix of ``depth`` pieces that an earlier request had, where the tree branches, a unit is
    anchored, or a request ended. ``chains`` and ``keys`` are the edge from its parent node (``up``):
    the chain keys of depths ``parent.depth + 1 .. depth`` and the piece keys of depths
    ``parent.depth .. depth - 1`` (one request's slices; an edge is split where a later request
    leaves it). ``last``: when a request last had this prefix, kept lazily: the latest start of a
    request that had it is the largest ``last`` in its subtree, and a request that reaches a node
    without walking to it (``DeepSeekCache._finger``) writes its start on the nodes above only when
    their ``last`` is before the current epoch (``_lazy_last``); ``dead``: forgotten, with its subtree.

    Units anchored here end inside piece ``depth`` of a request with this prefix: ``exact``
    (piece key -> {offset in the piece: unit}) for that very piece, and ``partial`` (hash of a
    piece's first j blocks -> [(offset, unit)], j = ceil(offset / block), the js in ``needs``) for
    a different piece sharing them. ``btab``: block hash -> the child (its key in ``kids``) whose
    first piece has it, built on first use (a common prefix found inside a piece). ``omax``: at
    least the largest offset of its units (of all ever anchored here; never lowered)."""

    __slots__ = (
        "btab", "chain", "chains", "dead", "depth", "exact", "keys", "kids", "last", "needs", "omax", "partial", "umin", "up",
    )  # fmt: skip

    def __init__(
        self, depth: int, chain: int, chains: Sequence[int], keys: Sequence[int], last: float, up: _Node | None
    ):
        self.depth = depth
        self.chain = chain
        self.chains = chains
        self.keys = keys
        self.last = last
        self.up = up
        self.dead = False
        self.kids: dict[int, _Node] | None = None
        self.exact: dict[int, dict[int, _Unit]] | None = None
        self.partial: dict[int, list[tuple[int, _Unit]]] | None = None
        self.needs: set[int] | None = None
        self.btab: dict[int, int] | None = None
        self.umin = math.inf  # at most the earliest ``max(used, ready)`` of its units (a sweep's bound)
        self.omax = -1  # at least the largest offset of its units (``_unit_hit``'s bound)


def _bury(node: _Node) -> None:
    """Mark a forgotten subtree dead (a finger to it is then refused), its links up cut (no cycle
    left: reference counting frees it)."""
    stack = [node]
    while stack:
        v = stack.pop()
        v.dead = True
        v.up = None
        if v.kids:
            stack.extend(v.kids.values())


class _BlockCum:
    """Tokens before each piece (``cum[k]``, ``len(cum) == n + 1``) of a ``BlockShape``, in O(1)."""

    __slots__ = ("n", "shape")

    def __init__(self, shape: BlockShape, n: int):
        self.shape, self.n = shape, n

    def __len__(self) -> int:
        return self.n + 1

    def __getitem__(self, k: int) -> int:
        return self.shape.prefix_tokens(k)

    def first_reaching(self, pos: int) -> int:
        """``bisect_left(self, pos, 1)``: the first ``k >= 1`` with ``cum[k] >= pos`` (``n + 1``: none),
        in O(1): every block of the run before its last holds ``block`` tokens."""
        segs = self.shape.segs
        k = max(1, -(-pos // segs.block))
        if k < segs.n:  # cum[k] = block * k >= pos > block * (k - 1) = cum[k - 1]
            return k
        for k in range(max(1, segs.n), self.n + 1):  # the run's last block, then the tail: two at most
            if self.shape.prefix_tokens(k) >= pos:
                return k
        return self.n + 1


_NO_CHAIN = array("q")
_LAST = attrgetter("last")

#: pieces from which a chat request looks for a finger and leaves one (``DeepSeekCache.chat_depth``):
#: below, a request of a short chat (at most 4 turns of a generated log's short chats: 9 pieces)
#: walks a few nodes from the root, and a finger for each of them would only cost memory
CHAT_DEPTH = 10
#: how many depths, from its second last piece up, a chat request looks for a finger at (the next
#: turn after a reply is usually the reply, a user turn or tool results, and the generation piece)
CHAT_LOOKBACK = 6

#: children of a node from which ``_inside`` indexes their blocks (``_Node.btab``); below, it scans them
CROWD = 8


class DeepSeekCache:
    """Simulates one DeepSeek model's cache over calls given in start-time order.

    ``bounded``: prefixes and units idle past ``eviction_idle_s`` are forgotten (the state follows
    the live window). ``bounded=False`` keeps every prefix ever seen for common-prefix detection
    (outcomes identical to the per-piece model of 762051e: ``tests/test_deepseek_radix.py``).

    A block-hash request (``BlockShape``) starts its walk at a *finger*: the deepest node on its
    path that the previous request on the same run of ids (its conversation) reached, checked by
    its chain key, so a request costs what it adds, not one step per earlier turn. The nodes it
    skips are touched lazily (``_Node``), and its units are looked for from its deepest node up,
    stopping where no unit above can be longer (``_unit_hit``). Outcomes are those of the full
    walk (``tests/test_deepseek_radix.py``).

    A chat request of ``chat_depth`` pieces or more does the same from a finger found by its chain
    keys (``_chat_finger``): a chat shape names no conversation, so each such request leaves one at
    the prefix its next turn is expected to start with (its output after its prompt, or its prompt),
    and the next looks for it at its own last depths. Why the outcomes are those of the walk from
    the root: a live node whose chain key is the request's at its depth is on the request's path
    (chain keys name whole prefixes); every node above it is alive and not forgotten (its true
    ``last``, the largest in its subtree, is at least the finger's, and its stored one lags that by
    less than ``slack``: ``_lazy_last``), so the walk from the root would reach the finger through
    them, touching them (here: lazily, which only ``_stale`` reads, through the true ``last``),
    splitting and forgetting nothing above it, and continue from there as ``_walk`` does; the unit
    read is the first of the longest on the same path, found from the bottom (``_unit_hit``).
    Short conversations (under ``chat_depth`` pieces) walk from the root: their walks are short,
    and a finger each would only cost memory (``tests/test_deepseek_radix.py``)."""

    def __init__(
        self,
        measurer: Measurer,
        *,
        rule: str = "deepseek-v4-units",
        construction_delay_s: float = 5,
        eviction_idle_s: float = 21600,
        interval_tokens: int = 0,
        min_unit_tokens: int = 1,
        unit_tokens: int = 64,
        scope_by_user: bool = True,
        bounded: bool = True,
    ):
        if rule not in ("deepseek-v4-units", "deepseek-legacy-64"):
            raise ValueError(f"unknown DeepSeek rule {rule!r}")
        self.legacy = rule == "deepseek-legacy-64"
        self.m = measurer
        self.delay = seconds(construction_delay_s)
        self.evict = seconds(eviction_idle_s)
        self.interval = int(interval_tokens)
        self.min_unit = int(min_unit_tokens)
        self.unit = int(unit_tokens)
        self.by_user = scope_by_user
        self.bounded = bounded
        # how long a prefix is remembered unused: as long as a unit lives, or forever
        self.forget = self.evict if bounded else math.inf
        # the epoch of lazy ``last`` (``_lazy_last``): a stored ``last`` is within ``slack`` of the true one
        self.slack = self.forget / 4 if 0 < self.forget < math.inf else math.inf
        self._scopes: dict[str, _Scope] = {}
        self._trees: dict[str, dict[int, _Node]] = {}  # scope -> {chain[0]: root}
        self._fingers: dict[str, dict[object, _Node]] = {}  # scope -> {block run: node its last request reached}
        self._maxoff = 0  # the largest offset of any unit persisted (bounds the units above a node)
        self._next_sweep = -math.inf if bounded and self.evict < math.inf else math.inf
        self.crowd = CROWD  # children from which ``_inside`` indexes their blocks
        self.chat_depth = CHAT_DEPTH  # pieces from which a chat request takes and leaves a finger

    def __del__(self) -> None:
        """Cut the prefix trees' links up as the cache is let go (``_bury``). They make cycles,
        which reference counting cannot free: a simulation that ended while the collector is quiet
        (``partition.quiet_collector``) held its whole tree until the next full collection, beside
        the next one's (``Simulations.mixed``: the hybrid placement's two models, the peak of
        ``_recommend``). Outcomes do not change: nothing reads a cache that is let go."""
        for roots in getattr(self, "_trees", {}).values():
            for root in roots.values():
                _bury(root)

    def _scope(self, key: str) -> _Scope:
        scope = self._scopes.get(key)
        if scope is None:  # a block keeps the record of the first piece that had it
            scope = self._scopes[key] = _Scope(BlockIndex(self.m.blocks, keep_first=True))
        return scope

    def _scope_key(self, user: str | None) -> str:
        return (user or "") if self.by_user else ""

    @property
    def forgets_after_s(self) -> float | None:
        """Seconds of quiet after which this cache holds nothing of a partition (``footprint``)
        that a later request can see: a request of the partition that starts more than this after
        the latest start and end of every earlier one has the outcome it would have through a
        fresh cache, and so have the requests after it (``price.units.rerun_partitions`` re-runs
        only such stretches of a partition as hold a changed call). None where nothing is sure to
        be forgotten: the legacy rule (an evicted output prefix is not built again, so it stays
        dead where a fresh cache would write it) and ``bounded=False``.

        Why, for V4 bounded (``tests/test_epochs.py`` checks it against the whole simulation): let
        ``t`` be the latest start or end of the earlier requests and ``T`` a later start with
        ``T - t > construction_delay_s + eviction_idle_s``. Every unit was made ready at a start or
        end plus the delay (``_persist``: at most ``t + delay``) and read only at starts (``used``:
        at most ``t``), so at ``T`` it is ready and idle past ``eviction_idle_s``: dead
        (``_alive``). Every prefix was last had at a start (a node's true ``last``, at most ``t``),
        so it is forgotten (``_stale``: ``forget`` is ``eviction_idle_s`` when bounded), and a
        finger's node with it (``_finger`` and ``_chat_finger`` test ``last``). A request at ``T``
        sweeps first (the previous sweep was at a start, at most ``t``, and the next is due
        ``eviction_idle_s`` later), and the sweep drops every unit, prefix, root and finger: the
        tree is a fresh cache's. Only ``_maxoff`` stays, a bound on how far up a unit is looked for,
        which finds the same unit."""
        if self.legacy or not self.bounded or self.evict == math.inf:
            return None
        return self.delay + self.evict

    def footprint(self, shape: Shape, *, user: str | None, call: CacheHints | None = None) -> tuple:
        """Where this request reads and writes cache state: its scope and its prompt's root.

        Requests whose footprints are disjoint never affect each other's outcome (there is no
        capacity or other state shared across scopes, and within a scope every unit, prefix and
        block is keyed under the first piece's chain or blocks), so a what-if only re-simulates the
        requests whose footprints meet a changed request's (``scenarios.resimulate``). A prompt of
        a single piece keeps its output at the root too, under the output's own root.
        """
        scope = self._scope_key(user)
        prints: tuple[tuple[str, tuple[str, int] | None], ...] = ((scope, shape_root(self.m, shape)),)
        if (
            type(shape) is not BlockShape and len(shape.roles) == 1 and shape.out_key is not None
        ):  # (a block call has no output piece; ``roles``: one per piece, no array built)
            prints += ((scope, prompt_root(self.m, shape.out_key)),)
        return prints

    def footprint_at(self, shapes: ShapeList, i: int, *, user: str | None, call: CacheHints | None = None) -> tuple:
        """``footprint(shapes[i], ...)`` read from the list's record (no shape made; a block shape
        has no output key)."""
        scope = self._scope_key(user)
        prints: tuple[tuple[str, tuple[str, int] | None], ...] = ((scope, root_at(self.m, shapes, i)),)
        out = shapes.lone_out_key(i)
        if out is not None:
            prints += ((scope, prompt_root(self.m, out)),)
        return prints

    def request(
        self, shape: Shape, *, start: float, end: float, user: str | None, call: CacheHints | None = None
    ) -> Outcome:
        if self.legacy:
            total = shape.total
            scope = self._scope(self._scope_key(user))
            hit = self._legacy_hit(scope, shape, start)
            self._remember_legacy(scope, shape, start, end)
            return Outcome(read=min(hit, total), total=total)
        if start >= self._next_sweep:
            self._sweep(start)
        key = (user or "") if self.by_user else ""  # ``_scope_key``
        roots = self._trees.get(key)
        if roots is None:
            roots = self._trees[key] = {}
        run = None
        keys: Any  # a piece sequence: the shape's arrays, or a BlockShape's read in place
        toks: Any
        chain: Any
        cum: Any
        if type(shape) is BlockShape:  # read in place: no per-block array
            segs = shape.segs
            n = len(segs)
            keys, toks = ReadInPlace(shape.key_at, shape.keys_from), ReadInPlace(shape.segs.size_at)
            chain, cum = ReadInPlace(shape.chain_at, shape.chain_from), _BlockCum(shape, n)
            run = segs.run
        else:  # a chat shape's arrays made for this request alone (not kept: it is read once per pass)
            keys, toks, chain = shape.arrays_read()
            n = len(keys)
            cum = list(accumulate(toks, initial=0))  # tokens before each piece: one C-level pass
        total = cum[n] if run is None else shape.total  # sum(tokens)
        c0 = chain[0]
        root = roots.get(c0)
        if root is None:
            root = roots[c0] = _Node(0, c0, _NO_CHAIN, (), -math.inf, None)
        fingers = None
        start_at = root
        if run is not None or n >= self.chat_depth:
            fingers = self._fingers.get(key)
            if fingers is None:
                fingers = self._fingers[key] = {}
            if run is not None:
                start_at = self._finger(fingers, run, chain, n, start) or root
            elif fingers:
                start_at = self._chat_finger(fingers, chain, n, start) or root
        if start_at is root:
            path, hit = self._walk_hit(root, chain, keys, cum, n, start)
        else:
            path = self._walk(start_at, chain, n, start)
            hit = self._unit_hit(path[-1], keys, n, cum, start)
        # where the prefixes earlier requests had end: the common prefix with them, found whether
        # or not they are still usable, and persisted once this request completes; a node without
        # children shares no block of the next piece (``_inside`` would give 0), so it is not asked:
        # most walks end at one, the previous turn's end (32,579 of 36,128 requests of the
        # 3,000-call benchmark log)
        at = path[-1]
        depth = at.depth
        lcp = cum[depth]
        if depth < n and at.kids:
            lcp += self._inside(at, keys[depth], toks[depth], start)
        tail = self._remember(path, shape, keys, chain, n, start)
        self._persist(path, tail, shape, keys, toks, n, start, end, lcp, cum)
        if fingers is None:
            pass
        elif run is not None:
            top = shape.segs.n  # type: ignore[attr-defined]  # a BlockShape: its run's part
            i = len(path) - 1
            while path[i].depth > top:  # the deepest node of the path within the run (the root is)
                i -= 1
            fingers[run] = path[i]
        else:  # a chat request's: the prefix the next turn of this conversation is expected to start with
            out = shape.out_key
            if out is None:
                fingers[tail.chain] = tail
            else:
                kid = tail.kids[hash((chain[n - 1], out))]  # type: ignore[index]  # ``_remember`` added it
                fingers[kid.chain] = kid
        return Outcome(hit if hit < total else total, total)

    # -- the v4 radix tree -------------------------------------------------------------------
    def _finger(self, fingers: dict[object, _Node], run, chain: Sequence[int], n: int, now: float) -> _Node | None:
        """Where a block request's walk can start: the node the last request on its run (or on the
        run it forked from) reached, if that prefix is still in the tree, alive, and this
        request's (its chain key at that depth). Every node above it is then alive too (an
        ancestor was had whenever it was) and is touched lazily (``_lazy_last``)."""
        while run is not None:
            x = fingers.get(run)
            if x is not None:
                d = x.depth
                if not x.dead and d <= n and now - x.last <= self.forget and chain[d] == x.chain:
                    if x.up is not None:
                        x.last = now
                        self._lazy_last(x.up, now)
                    return x
                return None
            run = run.parent
        return None

    def _chat_finger(self, fingers: dict[object, _Node], chain: Sequence[int], n: int, now: float) -> _Node | None:
        """Where a chat request's walk can start: a node an earlier request left as a finger (the
        prefix it expected its next turn to start with) at one of this request's last
        ``CHAT_LOOKBACK`` depths, if it is still in the tree, alive and this request's (its chain key
        there: found by it). It is taken (one finger per conversation's end)."""
        get = fingers.get
        for k in range(n - 2, max(0, n - 2 - CHAT_LOOKBACK), -1):
            ck = chain[k]
            x = get(ck)
            if x is not None:
                del fingers[ck]
                if x.depth == k and not x.dead and now - x.last <= self.forget:
                    x.last = now
                    self._lazy_last(x.up, now)
                    return x
                return None
        return None

    def _lazy_last(self, node: _Node | None, now: float) -> None:
        """Touch ``node`` and its ancestors at ``now`` up to the first whose ``last`` is already in
        ``now``'s epoch (of ``slack`` seconds): then every ancestor's stored ``last`` is at least the
        start of the epoch of any descendant's, so it is within ``slack`` of the true one
        (``_stale``). The root keeps no time."""
        slack = self.slack
        if slack == math.inf:
            return  # nothing is forgotten: no time is read
        epoch = math.floor(now / slack) * slack
        while node is not None and node.up is not None and node.last < epoch:
            node.last = now
            node = node.up

    def _stale(self, node: _Node, now: float) -> bool:
        """Whether the prefix ``node`` ends is forgotten at ``now`` (no request had it for longer than
        ``forget``); exact: its true ``last`` is the largest in its subtree, read only when the
        stored one is within ``slack`` of the limit."""
        idle = now - node.last
        if idle <= self.forget:
            return False
        if idle > self.forget + self.slack:
            return True
        return now - self._true_last(node) > self.forget

    @staticmethod
    def _true_last(node: _Node) -> float:
        """The latest start of a request that had ``node``'s prefix: the largest ``last`` in its
        subtree, written back on every node of it."""
        order = []
        stack = [node]
        while stack:
            v = stack.pop()
            order.append(v)
            if v.kids:
                stack.extend(v.kids.values())
        for v in reversed(order):  # children first
            if v.kids:
                m = max(k.last for k in v.kids.values())
                if m > v.last:
                    v.last = m
        return node.last

    def _walk(self, node: _Node, chain: Sequence[int], n: int, now: float) -> list[_Node]:
        """The nodes of this request's longest previously seen (and not forgotten) prefix from
        ``node`` (the root, or a finger): the last one is where that prefix ends (an edge the
        request leaves is split there). Every prefix walked through is touched: a request reading
        through it keeps it remembered."""
        forget = self.forget
        path = [node]
        add = path.append
        d = node.depth
        while d < n:
            kids = node.kids
            if kids is None:
                break
            ck = chain[d + 1]
            kid = kids.get(ck)
            if kid is None:
                break
            if now - kid.last > forget and self._stale(kid, now):  # forgotten, with everything after it
                del kids[ck]
                _bury(kid)
                break
            d2 = kid.depth
            if d2 <= n and chain[d2] == kid.chain:
                kid.last = now
                node = kid
                add(kid)
                d = d2
                continue
            # the request leaves the edge (or ends) inside it: chain keys are chained hashes, so
            # the longest match is found by bisection; the edge is split there
            cs = kid.chains
            lo, hi = d + 1, min(d2 - 1, n)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if chain[mid] == cs[mid - d - 1]:
                    lo = mid
                else:
                    hi = mid - 1
            # only the prefix it had is touched: the node made by the split, not ``kid`` below it
            # (a longer prefix this request did not have)
            up = self._split(node, kid, lo)
            up.last = now
            path.append(up)
            break
        return path

    def _walk_hit(
        self, node: _Node, chain: Sequence[int], keys: Sequence[int], cum: Sequence[int], n: int, now: float
    ) -> tuple[list[_Node], int]:
        """``_walk`` from the root and ``_unit_hit`` on the nodes it walks through, in one pass: the
        same path, the same tree, the same unit read and touched (the first of the longest in path
        order, kept here by a strict ``>`` on the way down). The units read are those anchored on
        the path, which the walk does not change (a node made by a split has none)."""
        forget, evict = self.forget, self.evict
        path = [node]
        add = path.append
        d = node.depth
        best, best_unit, best_node = 0, None, node
        while d < n:
            exact, js = node.exact, node.needs
            if exact is not None or js:  # ``_unit_hit``'s look at one node, inlined
                before = cum[d]
                key = keys[d]
                here, here_unit = -1, None
                if exact is not None:
                    same = exact.get(key)
                    if same:
                        for off, u in same.items():
                            if (
                                before + off > here
                                and (r := u.ready) <= now
                                and (now - u.used <= evict or now - r <= evict)
                            ):
                                here, here_unit = before + off, u
                if js and here < before + node.omax:  # else no unit here is longer than the one found
                    blocks = self.m.blocks(key)
                    partial = node.partial
                    assert partial is not None
                    for j in js:
                        if j <= len(blocks):
                            for off, u in partial.get(blocks[j - 1], ()):
                                if (
                                    before + off > here
                                    and (r := u.ready) <= now
                                    and (now - u.used <= evict or now - r <= evict)
                                ):
                                    here, here_unit = before + off, u
                if here_unit is not None and here > best:  # a deeper equal does not win
                    best, best_unit, best_node = here, here_unit, node
            kids = node.kids
            if kids is None:
                break
            ck = chain[d + 1]
            kid = kids.get(ck)
            if kid is None:
                break
            if now - kid.last > forget and self._stale(kid, now):  # forgotten, with everything after it
                del kids[ck]
                _bury(kid)
                break
            d2 = kid.depth
            if d2 <= n and chain[d2] == kid.chain:
                kid.last = now
                node = kid
                add(kid)
                d = d2
                continue
            cs = kid.chains  # the request leaves the edge inside it: split there (``_walk``)
            lo, hi = d + 1, min(d2 - 1, n)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if chain[mid] == cs[mid - d - 1]:
                    lo = mid
                else:
                    hi = mid - 1
            up = self._split(node, kid, lo)
            up.last = now
            add(up)
            break
        if best_unit is not None:
            best_unit.used = now  # may be before a unit's first ``ready`` (a later one was persisted)
            if now < best_node.umin:
                best_node.umin = now
        return path, best

    @staticmethod
    def _split(parent: _Node, kid: _Node, depth: int) -> _Node:
        """A node at ``depth`` on the edge from ``parent`` to ``kid``, which becomes its only child."""
        cut = depth - parent.depth
        cs, ks = kid.chains, kid.keys
        up = _Node(depth, cs[cut - 1], cs[:cut], ks[:cut], kid.last, parent)
        kid.chains, kid.keys = cs[cut:], ks[cut:]
        kid.up = up
        up.kids = {kid.chains[0]: kid}
        assert parent.kids is not None
        parent.kids[cs[0]] = up
        return up

    def _node_at(self, path: list[_Node], depth: int) -> _Node:
        """The node at ``depth`` on this request's path (made by splitting an edge if needed); a
        path that starts below ``depth`` (at a finger) is extended up first."""
        while path[0].depth > depth:
            up = path[0].up
            assert up is not None  # the root is at depth 0
            path.insert(0, up)
        i = len(path) - 1
        while path[i].depth > depth:  # the nodes needed are near the end: a scan back beats a bisection
            i -= 1
        node = path[i]
        if node.depth != depth:
            node = self._split(node, path[i + 1], depth)
            path.insert(i + 1, node)
        return node

    def _add_kid(self, node: _Node, kid: _Node) -> None:
        ck = kid.chains[0]
        kids = node.kids
        if kids is None:
            node.kids = {ck: kid}
        else:
            old = kids.get(ck)
            if old is not None:
                _bury(old)
            kids[ck] = kid
        kid.up = node
        btab = node.btab
        if btab is not None:  # a dict operation per block, looped in C
            deque(map(btab.setdefault, self.m.blocks(kid.keys[0]), repeat(ck)), maxlen=0)

    def _unit_hit(self, at: _Node, keys: Sequence[int], n: int, cum: Sequence[int], now: float) -> int:
        """The longest live unit this request fully matches, among the units anchored on its path
        (the first of equals in path order, from the root, is the one touched). A unit inside a
        piece matches the same piece, or a different one sharing its first ceil(offset / block)
        blocks; both are found by index. The path is read from its deepest node up, and no further
        than a unit could still be as long as the best found (a unit anchored at depth k ends
        within ``cum[k] + _maxoff``), so the work is per node near the end of the match. A node whose
        units all end before the best found (``omax``: at least their largest offset) is passed
        without a look, and so are a node's partial units once a unit as long as its ``omax`` is
        found."""
        best, best_unit, best_node = 0, None, at
        evict = self.evict
        reach = self._maxoff
        node: _Node | None = at
        while node is not None:
            k = node.depth
            if k < n:
                before = cum[k]
                if before + reach < best:
                    break
                exact, js = node.exact, node.needs
                if before + node.omax >= best and (exact is not None or js):  # else none of its units is as long
                    key = keys[k]
                    here, here_unit = -1, None  # this node's longest (the first of equals)
                    if exact is not None:
                        same = exact.get(key)
                        if same:
                            for off, u in same.items():  # ``_alive`` inlined: the hottest loop of a simulation
                                # (``now - max(used, ready) <= evict``, one subtraction each: equal in floats)
                                if (
                                    before + off > here
                                    and (r := u.ready) <= now
                                    and (now - u.used <= evict or now - r <= evict)
                                ):
                                    here, here_unit = before + off, u
                    if js and here < before + node.omax:  # else no unit here is longer than the one found
                        blocks = self.m.blocks(key)
                        partial = node.partial
                        assert partial is not None
                        for j in js:
                            if j <= len(blocks):
                                for off, u in partial.get(blocks[j - 1], ()):
                                    if (
                                        before + off > here
                                        and (r := u.ready) <= now
                                        and (now - u.used <= evict or now - r <= evict)
                                    ):
                                        here, here_unit = before + off, u
                    if here_unit is not None and here >= best and here > 0:  # a shallower equal wins
                        best, best_unit, best_node = here, here_unit, node
            node = node.up
        if best_unit is not None:
            best_unit.used = now  # may be before a unit's first ``ready`` (a later one was persisted)
            if now < best_node.umin:
                best_node.umin = now
        return best

    def _inside(self, node: _Node, key: int, tokens: int, now: float) -> int:
        """Tokens of piece ``key`` (of ``tokens`` tokens, after ``node``'s prefix) that an earlier
        request not forgotten had there too, in whole blocks: the piece differs from every one there.

        Blocks are chained hashes (``blocks[j]`` names a piece's first j + 1 blocks), so that is the
        longest run of leading blocks the piece shares with a live child's first piece. A node of
        ``CROWD`` children or more finds it by bisection over its children's blocks indexed
        (``btab``, one dict entry per block of each child's first piece); a smaller one, the usual
        node, child by child (``_scan_kids``): building and keeping that index for a few children
        cost more than the lookups it saves (on the 3,000-call benchmark log, nodes of 1-7 children
        took 175 of the 229 ms of ``_inside``, 2,557 indexes built; 23 ms scanned). Both give the
        same length (``tests/test_deepseek_crowd.py``). Asked only under a node with children
        (``request``: a childless node shares no block, and most walks end at one)."""
        kids = node.kids
        assert kids, "asked only under a node with children"
        blocks = self.m.blocks(key)
        if not blocks:
            return 0
        if len(kids) < self.crowd:
            node.btab = None  # (a node left with few children) not kept up to date any longer
            lo = self._scan_kids(kids, blocks, now)
        else:
            lo, hi = 0, len(blocks)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self._has_block(node, blocks[mid - 1], now):
                    lo = mid
                else:
                    hi = mid - 1
        return min(lo * self.m.block_tokens, tokens)

    def _scan_kids(self, kids: dict[int, _Node], blocks: Sequence[int], now: float) -> int:
        """The most leading ``blocks`` a live child's first piece has too, child by child: a child
        is looked at only when it can share more than the best so far, and asked whether it is
        forgotten only then."""
        best = 0
        n = len(blocks)
        of = self.m.blocks
        for kid in kids.values():
            kb = of(kid.keys[0])
            hi = min(n, len(kb))
            if hi <= best or blocks[best] != kb[best]:  # shares at most ``best`` blocks
                continue
            lo = best + 1
            while lo < hi:  # the shared run's length, by bisection (a chained hash equal: all before too)
                mid = (lo + hi + 1) // 2
                if blocks[mid - 1] == kb[mid - 1]:
                    lo = mid
                else:
                    hi = mid - 1
            if not self._stale(kid, now):
                best = lo
                if best == n:
                    break
        return best

    def _has_block(self, node: _Node, block: int, now: float) -> bool:
        kids = node.kids
        assert kids is not None
        btab = node.btab
        if btab is None:
            btab = node.btab = {}
            for c, child in kids.items():
                deque(map(btab.setdefault, self.m.blocks(child.keys[0]), repeat(c)), maxlen=0)
        ck = btab.get(block)
        if ck is None:
            return False
        kid = kids.get(ck)
        if kid is not None and not self._stale(kid, now):
            return True
        # the first child with this block is forgotten: drop every forgotten child, ask again
        for gone in [c for c, child in kids.items() if self._stale(child, now)]:
            _bury(kids.pop(gone))
        node.btab = None
        return bool(kids) and self._has_block(node, block, now)

    def _remember(
        self, path: list[_Node], shape: Shape, keys: Sequence[int], chain: Sequence[int], n: int, now: float
    ) -> _Node:
        """Add this request's prompt past its longest seen prefix (one edge), and its output; returns
        the node before its last piece (where its input and output units are anchored)."""
        at = path[-1]
        d = at.depth
        if d < n - 1:  # the new edge and the node before its last piece, as a split of it would make them
            if type(chain) is array:  # a chat shape's arrays: each slice cut once
                node = _Node(n - 1, chain[n - 1], chain[d + 1 : n], keys[d : n - 1], now, at)
                c = chain[n]
                node.kids = {c: _Node(n, c, chain[n:], keys[n - 1 :], now, node)}
            else:  # read in place: only ``view[i:]``
                cs, ks = chain[d + 1 :], keys[d:]
                node = _Node(n - 1, cs[-2], cs[:-1], ks[:-1], now, at)
                c = cs[-1]
                node.kids = {c: _Node(n, c, cs[-1:], ks[-1:], now, node)}
            self._add_kid(at, node)
            path.append(node)
            path.append(node.kids[c])
        elif d == n - 1:
            leaf = _Node(n, chain[n], chain[d + 1 :], keys[d:], now, at)
            self._add_kid(at, leaf)
            path.append(leaf)
            node = at
        else:
            node = self._node_at(path, n - 1)
        out = shape.out_key
        if out is not None:
            c = hash((chain[n - 1], out))
            kids = node.kids
            kid = kids.get(c) if kids is not None else None
            if kid is None:
                if kids is None:  # ``_add_kid`` of a first child (no block index yet)
                    node.kids = {c: _Node(n, c, array("q", (c,)), [out], now, node)}
                else:
                    self._add_kid(node, _Node(n, c, array("q", (c,)), [out], now, node))
            elif self._stale(kid, now):
                self._add_kid(node, _Node(n, c, array("q", (c,)), [out], now, node))
            else:
                kid.last = now
        return node

    # -- v4 writes ---------------------------------------------------------------------------
    def _persist(
        self,
        path: list[_Node],
        tail: _Node,
        shape: Shape,
        keys: Sequence[int],
        toks: Sequence[int],
        n: int,
        start: float,
        end: float,
        lcp: int,
        cum: Sequence[int],
    ) -> None:
        """Write this request's units; ``lcp`` is its common prefix with the earlier requests, ``tail``
        the node before the last piece."""
        total = cum[n]
        delay = self.delay
        # common prefix with an earlier request: persisted once the request completes
        if self.min_unit <= lcp < total:
            self._add_unit_at(path, keys, toks, lcp, end + delay, start, cum)
        # end of input
        self._add_unit(tail, keys[n - 1], toks[n - 1], start + delay, start)
        # fixed intervals inside long inputs
        interval = self.interval
        if interval > 0:
            pos = interval
            while pos < total:
                self._add_unit_at(path, keys, toks, pos, start + delay, start, cum)
                pos += interval
        # end of output: the prompt without its generation prompt, then the output as generated
        out = shape.out_key
        if out is not None:
            self._add_unit(tail, out, shape.out_tokens, end + delay, start)

    def _add_unit_at(
        self,
        path: list[_Node],
        keys: Sequence[int],
        toks: Sequence[int],
        pos: int,
        ready: float,
        now: float,
        cum: Sequence[int],
    ) -> None:
        """Persist a unit ending ``pos`` tokens in, in the first piece that reaches ``pos``; ``cum``
        (tokens before each piece, len n+1) finds it by bisection instead of a walk over the pieces
        (a block-hash prompt has ~2,000 of them, and a long one ~30 interval units)."""
        # the first piece k with pos <= cum[k + 1]
        k = (cum.first_reaching(pos) if type(cum) is _BlockCum else bisect_left(cum, pos, 1)) - 1
        if k + 1 >= len(cum):
            return
        before = cum[k]
        if pos == before and k > 0:  # a piece boundary: the unit ends the previous piece
            self._add_unit(self._node_at(path, k - 1), keys[k - 1], toks[k - 1], ready, now)
        else:
            self._add_unit(self._node_at(path, k), keys[k], pos - before, ready, now)

    def _add_unit(self, node: _Node, key: int, off: int, ready: float, now: float) -> None:
        """Persist a unit at ``ready``; one the cache evicted (idle past ``eviction_idle_s`` at the
        request's start, ``now``) is built again, as if new."""
        exact = node.exact
        if exact is None:
            u = None
            at = None
            node.exact = {key: {off: (u := _Unit(ready, ready))}}
        else:
            at = exact.get(key)
            u = at.get(off) if at is not None else None
            if u is not None:
                r = u.ready
                if r <= now and now - u.used > self.evict and now - r > self.evict:  # ``not _alive``
                    if not self.bounded:
                        u.ready = u.used = ready
                        return
                    self._drop_unit(node, key, off, u)  # bounded: a new record, as after a sweep
                    at = exact.get(key)
                else:
                    if ready < r:
                        u.ready = ready
                    return
            u = _Unit(ready, ready)
            if at is None:
                exact[key] = {off: u}
            else:
                at[off] = u
        if ready < node.umin:
            node.umin = ready
        if off > node.omax:
            node.omax = off
            if off > self._maxoff:
                self._maxoff = off
        m = self.m
        j = -(-off // m.block_tokens)
        if j >= 1:
            blocks = m.blocks(key)
            if j <= len(blocks):
                partial = node.partial
                if partial is None:
                    partial = node.partial = {}
                    node.needs = set()
                assert node.needs is not None
                b = blocks[j - 1]
                units = partial.get(b)
                if units is None:
                    partial[b] = [(off, u)]
                else:
                    units.append((off, u))
                node.needs.add(j)

    def _drop_unit(self, node: _Node, key: int, off: int, u: _Unit) -> None:
        assert node.exact is not None
        at = node.exact[key]
        del at[off]
        if not at:
            del node.exact[key]
        j = -(-off // self.m.block_tokens)
        blocks = self.m.blocks(key)
        if 1 <= j <= len(blocks) and node.partial is not None:
            b = blocks[j - 1]
            units = [p for p in node.partial.get(b, ()) if p[1] is not u]
            if units:
                node.partial[b] = units
            else:
                node.partial.pop(b, None)

    def _sweep(self, now: float) -> None:
        """Drop what the provider has evicted by ``now``: prefixes (with everything after them) no
        request had for ``eviction_idle_s``, and units idle that long. Invisible in the outcomes:
        a forgotten prefix is never walked again and a dead unit never read again (persisting it
        anew makes a new record either way); it bounds the state by the live window. (A parent's
        lazy ``last`` may then lag a forgotten child's: both are past the limit, for good.)"""
        evict, forget = self.evict, self.forget
        for key, roots in list(self._trees.items()):
            for c0, root in list(roots.items()):
                stack = [root]
                while stack:
                    node = stack.pop()
                    exact = node.exact
                    if exact is not None and now - node.umin > evict:  # else none of its units is idle that long
                        # ``not self._alive``: ready by now and idle past ``evict`` (now - max(used, ready) > evict)
                        dead = [
                            (k, off, u)
                            for k, at in exact.items()
                            for off, u in at.items()
                            if now - u.used > evict and now - u.ready > evict and u.ready <= now
                        ]
                        for k, off, u in dead:
                            self._drop_unit(node, k, off, u)
                        if not exact:
                            node.exact = None
                        else:
                            node.umin = min(
                                u.used if u.used > u.ready else u.ready for at in exact.values() for u in at.values()
                            )
                    kids = node.kids
                    if kids:
                        # the idlest child first, in C: most nodes have none to forget
                        if now - min(map(_LAST, kids.values())) > forget:
                            gone = [c for c, kid in kids.items() if now - kid.last > forget and self._stale(kid, now)]
                            for c in gone:
                                _bury(kids.pop(c))
                            if gone:
                                node.btab = None
                        stack.extend(kids.values())
                if not root.kids and root.exact is None:
                    root.dead = True
                    del roots[c0]
            if not roots:
                del self._trees[key]
        for key, fingers in list(self._fingers.items()):
            live = {r: x for r, x in fingers.items() if not x.dead}
            if live:
                self._fingers[key] = live
            else:
                del self._fingers[key]
        self._next_sweep = now + evict

    # -- legacy (V2/V3) -------------------------------------------------------------------------
    def _alive(self, ready: float, used: float, now: float) -> bool:
        return ready <= now and now - max(used, ready) <= self.evict

    def _legacy_hit(self, scope: _Scope, shape: Shape, now: float) -> int:
        lcp = self._common_prefix(scope, shape, now)
        hit = lcp // self.unit * self.unit
        return hit if hit >= self.unit else 0

    def _common_prefix(self, scope: _Scope, shape: Shape, now: float) -> int:
        """Tokens this request shares with the longest-matching earlier request usable at ``now``."""
        before = 0
        keys, toks, chain = shape.keys, shape.tokens, shape.chain
        for k, key in enumerate(keys):
            t = scope.seen.get(chain[k + 1])
            if t is not None and self._alive(t[0], t[1], now):
                before += toks[k]
                continue
            return before + self._legacy_inside(scope, chain[k], key, toks[k], now)
        return before

    def _legacy_inside(self, scope: _Scope, parent: int, key: int, tokens: int, now: float | None) -> int:
        """Tokens of piece ``key`` (of ``tokens`` tokens, after the prefix ``parent``) that an earlier
        request had there too, in whole blocks: the piece differs from every earlier one there.
        With ``now``, only blocks still alive then count (usable, and not idle past
        ``eviction_idle_s``), and the record of the deepest one is touched: reading keeps it alive."""
        blocks = self.m.blocks(key)
        known = scope.blocks.under(parent)
        lo, hi = 0, len(blocks)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            r = known.get(blocks[mid - 1])
            if r is not None and (now is None or self._alive(r[0], r[1], now)):
                lo = mid
            else:
                hi = mid - 1
        if now is not None and lo:
            r = known[blocks[lo - 1]]
            r[1] = max(r[1], now)
        return min(lo * self.m.block_tokens, tokens)

    def _revive(self, scope: _Scope, parent: int, key: int, start: float, ready: float) -> None:
        """Legacy: a new piece rebuilds the blocks it shares with an earlier piece there; the record
        they belong to, if evicted by ``start``, is usable again from ``ready``."""
        blocks = self.m.blocks(key)
        known = scope.blocks.under(parent)
        lo, hi = 0, len(blocks)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if blocks[mid - 1] in known:
                lo = mid
            else:
                hi = mid - 1
        if lo:
            r = known[blocks[lo - 1]]
            if r[0] <= start and start - max(r[1], r[0]) > self.evict:
                r[0] = r[1] = ready

    def _remember_legacy(self, scope: _Scope, shape: Shape, start: float, end: float) -> None:
        """Record this request's prefixes (and its output's) for later common-prefix detection."""
        keys, chain = shape.keys, shape.chain
        ready = start + self.delay
        seen, blocks = scope.seen, scope.blocks
        for k in range(len(keys)):
            key, c = keys[k], chain[k + 1]
            t = seen.get(c)
            if t is None:
                if k == 0 or chain[k] in seen:
                    self._revive(scope, chain[k], key, start, ready)
                t = seen[c] = [ready, ready]
                blocks.add(chain[k], key, t)
            elif t[0] <= start and start - max(t[1], t[0]) > self.evict:
                t[0] = t[1] = ready  # evicted: this request builds it again
            else:
                t[1] = start  # a request reading through a prefix keeps it alive
        if shape.out_key is not None:
            c = hash((chain[-2], shape.out_key))
            if c not in seen:
                out_ready = end + self.delay
                t = seen[c] = [out_ready, out_ready]
                blocks.add(chain[-2], shape.out_key, t)


def same_below(a: Mapping[str, Any], b: Mapping[str, Any]) -> float | None:
    """The prompt length (tokens) up to which two DeepSeek caches cannot be told apart: given
    requests none longer than it, caches with parameters ``a`` and ``b`` (``rule`` included, each
    resolved for the model, as ``policies.policy_params`` and ``resolve`` give them) return the
    same outcomes. None when they differ in more than ``interval_tokens`` (or are not V4).

    Why: ``interval_tokens`` is read in one place, ``_persist``, which writes units at ``interval``,
    ``2 * interval``, ... while below the request's total: a request of at most ``interval`` tokens
    writes none (0: none at any length). Requests no longer than both intervals therefore run the
    same steps in both caches, from the same state, and return the same outcomes. Per partition
    (``simulate.partition``: footprints connected), a partition's outcomes depend on its own requests
    only, so a partition whose requests are all that short has the same outcomes under both (the
    calibration's fit grid re-runs only the others: ``analyze.simulations.Simulations.outcomes_once``).
    """
    if a.get("rule") != "deepseek-v4-units" or b.get("rule") != "deepseek-v4-units":
        return None
    ia, ib = a.get("interval_tokens", 0), b.get("interval_tokens", 0)
    if not all(type(i) is int for i in (ia, ib)):
        return None
    if {k: v for k, v in a.items() if k != "interval_tokens"} != {k: v for k, v in b.items() if k != "interval_tokens"}:
        return None
    return min(i if i > 0 else math.inf for i in (ia, ib))
