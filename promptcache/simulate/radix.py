"""Block-hash prompts (``block`` pieces) in the OpenAI and Anthropic policies, at a cost per request
that follows what is new in it, not its number of blocks.

A block-hash trace (``read/traces.py``) gives each prompt as ~2,000 one-block pieces, and most of a
request repeats the one before it. ``engine.PrefixIndex`` and ``engine.EntryStore`` do a Python
step per piece; here the same caches are kept so that a request walks the *runs* it shares with
earlier requests, and compares keys inside a run in C:

- ``RadixIndex``: the prefix set of ``PrefixIndex`` as a radix tree of chain keys. An edge is a run
  of pieces that every request which added or refreshed one of them added or refreshed whole (an
  edge is split wherever a request stops or diverges inside it, before anything is changed), so
  every prefix inside an edge has the same liveness record, held once on the edge. ``lcp`` and
  ``add`` are then a step per edge of the request's path (one per earlier request of the
  conversation, roughly) plus an array comparison per edge.
- ``DepthStore``: ``EntryStore`` with its entries also indexed by depth (the number of pieces in
  the entry's prefix). An entry can only match a request at its own depth (its key is the chain key
  of that prefix), so a breakpoint's look-back visits the depths where entries exist, not every
  block boundary.

Both forget what can never be read again (``sweep``): a record idle past its ``idle`` or older
than its ``cap``, an entry past its expiry. Requests come in start-time order and nothing revives
such a record or entry (a later request replaces it with a new one, as it would create one for a
prefix never seen), so forgetting changes no outcome (``tests/test_cachesim_radix.py`` checks it
against the plain stores). Only blocks pieces come here: a text prompt can share a prefix *inside*
a piece, which ``PrefixIndex``'s per-piece block tables answer.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Callable, Iterator, Sequence

from ..measure.shape import Shape


def is_block_shape(shape: Shape) -> bool:
    """Whether every piece of the prompt is a hash block of a block-hash trace."""
    roles = shape.roles
    if not roles or roles[0] != "block" or roles[-1] != "block":
        return False
    value = getattr(roles, "value", None)  # ``delta.Repeat``: one role for all
    if value is not None:
        return value == "block"
    return all(r == "block" for r in roles)


def as_keys(chain: Sequence[int]) -> array:
    """The chain keys as an ``array('q')`` (what shapes hold; other sequences are copied)."""
    return chain if isinstance(chain, array) and chain.typecode == "q" else array("q", chain)


class Edge:
    """A run of pieces in the radix tree and the liveness record every prefix in it shares
    (``engine.Rec``: usable from ``ready``, alive while idle <= ``idle`` and age <= ``cap``)."""

    __slots__ = ("cap", "children", "created", "dead", "depth", "idle", "keys", "parent", "ready", "used")

    def __init__(self, keys: array, depth: int, parent: Edge | None, rec: tuple[float, float, float, float, float]):
        self.keys = keys  # chain keys chain[depth + 1 .. depth + len(keys)]
        self.depth = depth  # pieces before the edge
        self.parent = parent
        self.children: dict[int, Edge] | None = None  # first chain key -> child edge
        self.created, self.used, self.ready, self.idle, self.cap = rec
        self.dead = False  # dropped from the tree by a sweep (a finger to it is refused)

    @property
    def end(self) -> int:
        return self.depth + len(self.keys)

    def alive(self, now: float) -> bool:
        return self.ready <= now and now - self.used <= self.idle and now - self.created <= self.cap

    def gone(self, now: float) -> bool:
        """Dead for good: idle or age past its limit (``now`` only grows; only a write revives it,
        and a write to a dead prefix is a new record, as for a prefix never seen)."""
        return now - self.used > self.idle or now - self.created > self.cap


def _common(keys: array, chain: array, at: int) -> int:
    """How many leading ``keys`` equal ``chain[at:]`` (the first one is known to)."""
    lo, hi = 1, min(len(keys), len(chain) - at)
    while lo < hi:  # largest m with keys[:m] == chain[at:at+m], by array comparisons (in C)
        mid = (lo + hi + 1) // 2
        if keys[:mid] == chain[at : at + mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class RadixIndex:
    """``engine.PrefixIndex`` for block-hash prompts: the same prefixes and liveness, per edge.

    ``match``, ``live`` and ``add`` take a prompt from the root (a step per edge of its path, each
    a dict lookup and a key comparison). ``request`` does the same for a prompt known by a finger:
    it starts where the previous request on its run of ids (its conversation) ended
    (``fingers``), and reads and refreshes the edges above it in one pass up their parent links."""

    def __init__(self) -> None:
        self.root = Edge(array("q"), 0, None, (0.0, 0.0, 0.0, 0.0, 0.0))
        self.edges = 0
        self.fingers: dict[object, Edge] = {}  # run of ids -> an edge its last request covered whole

    def __del__(self) -> None:
        """Cut the edges' links up as the tree is let go. An edge and its parent's ``children``
        make a cycle, which reference counting cannot free: a tree dropped while the collector is
        quiet (``partition.quiet_collector``: a policy let go at the end of a simulation) held
        every edge until the next full collection, beside the next simulation's tree (as
        ``deepseek.DeepSeekCache.__del__`` for its nodes). Outcomes do not change: nothing reads
        a tree that is let go."""
        stack = [getattr(self, "root", None)]
        while stack:  # iterative: a path can be thousands of edges deep
            e = stack.pop()
            if e is None:
                continue
            e.parent = None
            if e.children:
                stack.extend(e.children.values())

    def match(self, chain: array) -> tuple[list[Edge], int]:
        """The edges of the tree this prompt (chain keys, len n+1) goes through, and how many
        pieces it shares with the tree. An edge the prompt leaves or ends inside is split there
        first, so every edge returned is covered whole (splitting changes no record)."""
        n = len(chain) - 1
        node, d = self.root, 0
        path: list[Edge] = []
        while d < n:
            children = node.children
            e = children.get(chain[d + 1]) if children else None
            if e is None:
                break
            keys = e.keys
            end = d + len(keys)
            if end <= n and keys[-1] == chain[end]:  # chained keys: the last equal, all equal
                path.append(e)
                node, d = e, end
                continue
            m = _common(keys, chain, d + 1)
            path.append(self._split(e, m))
            d += m
            break
        return path, d

    def request(
        self,
        finger: Edge | None,
        chain_at: Callable[[int], int],
        chain_from: Callable[[int], array],
        n: int,
        start: float,
        ready: float,
        idle: float,
        cap: float,
    ) -> tuple[int, Edge]:
        """``match``, ``live`` and ``add`` of a prompt of ``n`` pieces (``chain_at(i)``: its chain key
        ``i``; ``chain_from(lo)``: its chain keys ``lo..n``) that is long enough to be cached, from
        ``finger``: an edge of the tree that the prompt may cover whole (checked here by its last
        chain key: chained keys, equal there, equal on every edge above). Returns the live prefix
        (pieces) as ``live`` gives it, before this request's refresh, and the deepest edge of its
        path.

        The path from the root is the finger's ancestors, the finger, then the edges below it; so
        only the edges below are looked up. The edges above are read and refreshed in one pass up
        the parent links: each edge's liveness and refresh depend on its own record only, and
        the live prefix ends where the topmost edge that is not alive starts (the hit's refresh of
        the live edges is ``add``'s own for a prompt that is cached)."""
        node, d = self.root, 0
        if finger is not None and not finger.dead:
            f = finger.depth + len(finger.keys)
            if f <= n and finger.keys[-1] == chain_at(f):
                node, d = finger, f
        lo = d + 1
        rest = chain_from(lo)  # chain keys lo..n: rest[i - lo] is chain key i
        while d < n:  # ``match`` below the finger
            children = node.children
            e = children.get(rest[d + 1 - lo]) if children else None
            if e is None:
                break
            keys = e.keys
            end = d + len(keys)
            if end <= n and keys[-1] == rest[end - lo]:
                node, d = e, end
                continue
            m = _common(keys, rest, d + 1 - lo)
            node = self._split(e, m)
            d += m
            break
        depth = d  # ``live``: where the topmost edge of the path that is not alive starts
        up: Edge = node
        root = self.root
        while up is not root:  # ``add``'s refresh, ``Edge.alive`` inlined
            if up.ready <= start and start - up.used <= up.idle and start - up.created <= up.cap:
                if up.used < start:
                    up.used = start
                if up.idle < idle:
                    up.idle = idle
                if up.cap < cap:
                    up.cap = cap
            else:
                depth = up.depth
                if not (up.ready > start and up.used >= start - up.idle and start - up.created <= up.cap):
                    up.created = up.used = start  # not being written by a concurrent request: anew
                    up.ready, up.idle, up.cap = ready, idle, cap
            up = up.parent  # type: ignore[assignment]  # every edge but the root has a parent
        if d < n:
            new = Edge(rest[d + 1 - lo :], d, node, (start, start, ready, idle, cap))
            if node.children is None:
                node.children = {}
            node.children[new.keys[0]] = new
            self.edges += 1
            node = new
        return depth, node

    def _split(self, e: Edge, m: int) -> Edge:
        """Cut ``e`` after its first ``m`` pieces; the upper part (returned) gets a copy of the record."""
        upper = Edge(e.keys[:m], e.depth, e.parent, (e.created, e.used, e.ready, e.idle, e.cap))
        e.keys = e.keys[m:]
        e.depth += m
        e.parent = upper
        upper.children = {e.keys[0]: e}
        parent = upper.parent
        assert parent is not None and parent.children is not None
        parent.children[upper.keys[0]] = upper
        self.edges += 1
        return upper

    @staticmethod
    def live(path: list[Edge], now: float) -> tuple[int, list[Edge]]:
        """Pieces of the live prefix along ``path`` (``PrefixIndex.lcp`` stops at the first prefix
        that is not alive) and the live edges."""
        for i, e in enumerate(path):  # ``Edge.alive`` inlined: a step per edge of the path
            if not (e.ready <= now and now - e.used <= e.idle and now - e.created <= e.cap):
                return (path[i - 1].end if i else 0), path[:i]
        return (path[-1].end if path else 0), path

    def add(self, chain: array, path: list[Edge], d: int, start: float, ready: float, idle: float, cap: float) -> None:
        """``PrefixIndex.add`` for the prompt ``match`` gave ``path`` and ``d`` for."""
        for e in path:  # ``Edge.alive`` inlined
            if e.ready <= start and start - e.used <= e.idle and start - e.created <= e.cap:
                if e.used < start:
                    e.used = start
                if e.idle < idle:
                    e.idle = idle
                if e.cap < cap:
                    e.cap = cap
            elif e.ready > start and e.used >= start - e.idle and start - e.created <= e.cap:
                continue  # still being written by a concurrent request
            else:
                e.created = e.used = start
                e.ready, e.idle, e.cap = ready, idle, cap
        n = len(chain) - 1
        if d < n:
            node = path[-1] if path else self.root
            new = Edge(chain[d + 1 :], d, node, (start, start, ready, idle, cap))
            if node.children is None:
                node.children = {}
            node.children[chain[d + 1]] = new
            self.edges += 1

    def sweep(self, now: float) -> None:
        """Drop every subtree whose edges are all dead for good (see ``Edge.gone``)."""
        order: list[Edge] = []
        stack = [self.root]
        while stack:  # parents before children; iterative (a path can be thousands of edges deep)
            e = stack.pop()
            order.append(e)
            if e.children:
                stack.extend(e.children.values())
        keep: set[int] = set()
        for e in reversed(order):  # children first
            if e is self.root:
                break
            if id(e) in keep or not e.gone(now):
                keep.add(id(e.parent))
                continue
            parent = e.parent
            assert parent is not None and parent.children is not None
            del parent.children[e.keys[0]]
            if not parent.children:
                parent.children = None
            e.dead = True  # its children went before it
            self.edges -= 1
        if self.fingers:
            self.fingers = {r: x for r, x in self.fingers.items() if not x.dead}

    def __len__(self) -> int:
        return self.edges


class DepthEntry:
    """``engine.Entry``, the depth of its boundary (pieces in its prefix) and its prompt's root."""

    __slots__ = ("depth", "expires", "ready", "root", "tokens", "ttl")

    def __init__(self, tokens: int, ready: float, expires: float, ttl: float, depth: int, root: int = 0):
        self.tokens, self.ready, self.expires, self.ttl, self.depth = tokens, ready, expires, ttl, depth
        self.root = root


_NONE: list[int] = []  # the depths of a root without entries (never written to)


class DepthStore:
    """``engine.EntryStore`` (same ``get`` and ``put`` rules) with the depths where entries exist,
    sorted, so a look-back visits only boundaries that can hold an entry.

    Depths are kept per *root*, the chain key of the prompt's first piece (``chain[1]``), when the
    caller gives one: an entry's key is the chain key of its whole prefix (chained: equal there,
    equal at every shorter prefix, as everywhere in this module), so only an entry written under
    the request's own root can match it, and a look-back visits only those depths, not those of
    every other conversation live in the same scope (WEKA: one root per session; a request read
    ~70 other sessions' depths at 50,000 calls, 52 at 10,000). Callers that give no root share one
    (``root=0``): the depths of every entry."""

    def __init__(self) -> None:
        self.entries: dict[int, DepthEntry] = {}
        self._depths: dict[int, list[int]] = {}  # root -> sorted distinct depths of its entries
        self._at: dict[int, dict[int, int]] = {}  # root -> {depth: entries at it}

    @property
    def depths(self) -> list[int]:
        """Sorted distinct depths of all the entries (every root)."""
        return sorted({d for at in self._at.values() for d in at})

    def depths_of(self, root: int = 0) -> list[int]:
        """Sorted distinct depths of the entries under ``root`` (do not modify)."""
        return self._depths.get(root, _NONE)

    def get(self, key: int, now: float) -> DepthEntry | None:
        e = self.entries.get(key)
        if e is None or e.ready > now or e.expires < now:
            return None
        return e

    def put(self, key: int, depth: int, tokens: int, ready: float, now: float, ttl: float, root: int = 0) -> None:
        e = self.entries.get(key)
        if e is not None and e.expires >= now and e.ready <= ready:
            e.expires = max(e.expires, now + ttl)
            e.ttl = max(e.ttl, ttl)
            return
        if e is None or e.depth != depth or e.root != root:  # a new key (the same key: the same prefix)
            if e is not None:
                self._drop(e)
            at = self._at.get(root)
            if at is None:
                at = self._at[root] = {}
                self._depths[root] = []
            n = at.get(depth, 0)
            if not n:
                bisect.insort(self._depths[root], depth)
            at[depth] = n + 1
        self.entries[key] = DepthEntry(tokens, ready, now + ttl, ttl, depth, root)

    def _drop(self, e: DepthEntry) -> None:
        """Count one entry less at its root and depth (the entry itself is removed by the caller)."""
        at = self._at[e.root]
        at[e.depth] -= 1
        if not at[e.depth]:
            del at[e.depth]
            self._depths[e.root].remove(e.depth)
            if not at:
                del self._at[e.root], self._depths[e.root]

    def deepest_first(self, depth: int, root: int = 0) -> Iterator[int]:
        """The entry depths under ``root`` from ``depth`` down to 1, deepest first (what a look-back visits)."""
        depths = self.depths_of(root)
        for i in range(bisect.bisect_right(depths, depth) - 1, -1, -1):
            d = depths[i]
            if d < 1:
                return
            yield d

    def below(self, depth: int, root: int = 0) -> int:
        """Index in ``depths_of(root)`` of the deepest entry depth <= ``depth`` (-1: none)."""
        return bisect.bisect_right(self.depths_of(root), depth) - 1

    def sweep(self, now: float) -> None:
        """Forget the entries past their expiry: ``get`` never returns them again and ``put``
        replaces them with a new entry, as for a key never seen."""
        dead = [k for k, e in self.entries.items() if e.expires < now]
        if not dead:
            return
        touched: set[int] = set()
        for k in dead:
            e = self.entries.pop(k)
            at = self._at[e.root]
            at[e.depth] -= 1
            if not at[e.depth]:
                del at[e.depth]
                touched.add(e.root)
        for root in touched:
            at = self._at[root]
            if at:
                self._depths[root] = sorted(at)
            else:
                del self._at[root], self._depths[root]

    def __len__(self) -> int:
        return len(self.entries)


class Prefix:
    """Token counts of a prompt's leading pieces, summed from the end on demand: a request asks
    for a few boundaries near its end (the breakpoints, the entries it may read), so only its
    last pieces are summed, not all of them."""

    __slots__ = ("_at", "_suffix", "tokens", "total")

    def __init__(self, tokens: Sequence[int], total: int):
        self.tokens, self.total = tokens, total
        self._at = len(tokens)  # sum(tokens[_at:]) == _suffix
        self._suffix = 0

    def __getitem__(self, j: int) -> int:
        """sum(tokens[:j])."""
        if j < self._at:
            if j * 2 < self._at:
                return sum(self.tokens[:j])  # near the start: sum forwards
            self._suffix += sum(self.tokens[j : self._at])
            self._at = j
            return self.total - self._suffix
        if j == self._at:
            return self.total - self._suffix
        return self.total - self._suffix + sum(self.tokens[self._at : j])


class Sweeper:
    """When to sweep a policy's stores: after as many requests as there were live records at the
    last sweep (at least ``floor``), so sweeps cost O(1) per request and the state stays within a
    constant factor of what is alive. Forgetting relies on requests coming in start-time order (as
    ``price.scenarios`` feeds them); once one comes earlier than the one before, sweeps stop."""

    __slots__ = ("added", "due", "floor", "last")

    def __init__(self, floor: int = 1024):
        self.added = 0
        self.floor = floor
        self.due: float = floor
        self.last = -math.inf

    def tick(self, now: float) -> bool:
        """Count a request starting at ``now``; True when a sweep at ``now`` is due."""
        if now < self.last:
            self.due = math.inf  # out of order: a later request could still read what is dead now
        self.last = now
        self.added += 1
        return self.added >= self.due

    def swept(self, alive: int) -> None:
        self.added = 0
        self.due = max(alive, self.floor)
