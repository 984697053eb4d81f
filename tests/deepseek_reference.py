"""The DeepSeek cache policy as it was at 762051e (``promptcache/simulate/deepseek.py``), verbatim,
with the ``BlockIndex`` it used: the reference the radix-tree policy is compared with
(``test_deepseek_radix.py``). Its hit walk visits every piece (block) of every request, and it
never forgets a prefix it has seen."""

# ruff: noqa
from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from typing import Any

from promptcache.measure.shape import Measurer, Shape
from promptcache.model.hints import CacheHints
from promptcache.simulate.engine import prompt_root, seconds
from promptcache.simulate.outcome import Outcome

_NONE: dict[int, Any] = {}


class BlockIndex:
    """``parent chain -> {block hash: value}`` for the blocks of every piece registered under a
    parent, built only when the parent is first looked up.

    Every new piece registers all its blocks (hundreds for a long prompt), but they are read only
    where a later prompt diverges inside a piece under the same parent, which most parents (the
    end of each conversation turn) never see. So registrations wait as ``(piece key, value)`` and
    are expanded, in order, on the parent's first lookup: the same table, built for a few parents.
    ``keep_first`` keeps a block's first value (``setdefault``), else the latest wins.
    """

    def __init__(self, blocks_of: Callable[[int], Sequence[int]], *, keep_first: bool):
        self.blocks_of = blocks_of
        self.keep_first = keep_first
        self._built: dict[int, dict[int, Any]] = {}
        self._waiting: dict[int, list[tuple[int, Any]]] = {}

    def add(self, parent: int, key: int, value: Any) -> None:
        built = self._built.get(parent)
        if built is None:
            self._waiting.setdefault(parent, []).append((key, value))
        else:
            self._expand(built, key, value)

    def under(self, parent: int) -> dict[int, Any]:
        """Block hash -> value for the pieces registered under ``parent`` so far."""
        built = self._built.get(parent)
        if built is None:
            waiting = self._waiting.pop(parent, None)
            if waiting is None:
                return _NONE
            built = self._built[parent] = {}
            for key, value in waiting:
                self._expand(built, key, value)
        return built

    def _expand(self, into: dict[int, Any], key: int, value: Any) -> None:
        if self.keep_first:  # looped in C: a dict operation per block, no Python frame
            deque(map(into.setdefault, self.blocks_of(key), repeat(value)), maxlen=0)
        else:
            into.update(zip(self.blocks_of(key), repeat(value)))



@dataclass(slots=True)
class _Unit:
    ready: float
    used: float


@dataclass
class _Scope:
    # chain before piece -> {block hash: the ``seen`` record of the first piece that had it}: partial
    # prefixes inside pieces (the legacy rule reads them, alive while that record is)
    blocks: BlockIndex
    # every unit: (chain key before its piece, piece key) -> {offset within the piece: unit}; the
    # units a request with the same piece there can hit
    exact: dict[tuple[int, int], dict[int, _Unit]] = field(default_factory=dict)
    # (chain, hash of the piece's first j blocks) -> [(offset, unit)] with j = ceil(offset / block):
    # the units a request can hit through a partial match inside a different piece
    partial: dict[tuple[int, int], list[tuple[int, _Unit]]] = field(default_factory=dict)
    # chain -> the block counts j indexed in ``partial`` under it
    needs: dict[int, set[int]] = field(default_factory=dict)
    # chain keys of every prefix an earlier request had -> [time usable, time last touched]; a
    # piece's blocks are registered in ``blocks`` when its prefix first enters here
    # (``chain[k + 1]`` is the hash of ``(chain[k], key)``: one entry per piece under a parent)
    seen: dict[int, list[float]] = field(default_factory=dict)


class OldDeepSeekCache:
    """Simulates one DeepSeek model's cache over calls given in start-time order."""

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
        self._scopes: dict[str, _Scope] = {}

    def _scope(self, key: str) -> _Scope:
        scope = self._scopes.get(key)
        if scope is None:  # a block keeps the record of the first piece that had it
            scope = self._scopes[key] = _Scope(BlockIndex(self.m.blocks, keep_first=True))
        return scope

    def _scope_key(self, user: str | None) -> str:
        return (user or "") if self.by_user else ""

    def footprint(self, shape: Shape, *, user: str | None, call: CacheHints | None = None) -> tuple:
        """Where this request reads and writes cache state: its scope and its prompt's root.

        Requests whose footprints are disjoint never affect each other's outcome (there is no
        capacity or other state shared across scopes, and within a scope every unit, prefix and
        block is keyed under the first piece's chain or blocks), so a what-if only re-simulates the
        requests whose footprints meet a changed request's (``scenarios.resimulate``). A prompt of
        a single piece keeps its output at the root too, under the output's own root.
        """
        scope = self._scope_key(user)
        if not shape.keys:
            return ((scope, None),)
        prints: tuple[tuple[str, tuple[str, int]], ...] = ((scope, prompt_root(self.m, shape.keys[0])),)
        if len(shape.keys) == 1 and shape.out_key is not None:
            prints += ((scope, prompt_root(self.m, shape.out_key)),)
        return prints

    def request(
        self, shape: Shape, *, start: float, end: float, user: str | None, call: CacheHints | None = None
    ) -> Outcome:
        scope = self._scope(self._scope_key(user))
        total = shape.total
        if self.legacy:
            hit, k = self._legacy_hit(scope, shape, start), 0
        else:
            hit, k, before = self._unit_hit(scope, shape, start)
            self._persist(scope, shape, start, end, k, before)
        self._remember(scope, shape, start, end, k)
        return Outcome(read=min(hit, total), total=total)

    # -- lookups -----------------------------------------------------------------------------
    def _alive(self, ready: float, used: float, now: float) -> bool:
        return ready <= now and now - max(used, ready) <= self.evict

    def _unit_hit(self, scope: _Scope, shape: Shape, now: float) -> tuple[int, int, int]:
        """The longest live unit this request fully matches. A unit inside a piece matches the same
        piece, or a different one sharing its first ceil(offset / block) blocks; both are found by
        index, so the work is per piece, not per stored unit.

        Also returns where the prefixes earlier requests had end: the first piece ``k`` no earlier
        request had after the same pieces (``len(keys)`` if none), and the tokens before it, which
        is where ``_persist`` looks for the common prefix. The prefixes walked through are touched
        (``_remember`` then starts at ``k``)."""
        best, best_unit, before = 0, None, 0
        keys, toks, chain, seen, evict = shape.keys, shape.tokens, shape.chain, scope.seen, self.evict
        for k, key in enumerate(keys):
            c = chain[k]
            same = scope.exact.get((c, key))
            if same:
                for off, u in same.items():  # ``_alive`` inlined: the hottest loop of a simulation
                    if before + off > best and (r := u.ready) <= now and now - max(u.used, r) <= evict:
                        best, best_unit = before + off, u
            js = scope.needs.get(c)
            if js:
                blocks = self.m.blocks(key)
                for j in js:
                    if j <= len(blocks):
                        for off, u in scope.partial.get((c, blocks[j - 1]), ()):
                            if before + off > best and (r := u.ready) <= now and now - max(u.used, r) <= evict:
                                best, best_unit = before + off, u
            t = seen.get(chain[k + 1])
            if t is None:
                break
            t[1] = now  # a request reading through a prefix keeps it alive
            before += toks[k]
        else:
            k = len(keys)
        if best_unit is not None:
            best_unit.used = now
        return best, k, before

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
            return before + self._inside(scope, chain[k], key, toks[k], now)
        return before

    def _inside(self, scope: _Scope, parent: int, key: int, tokens: int, now: float | None) -> int:
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

    # -- writes ------------------------------------------------------------------------------
    def _add_unit(self, scope: _Scope, parent: int, key: int, off: int, ready: float, now: float) -> None:
        """Persist a unit at ``ready``; one the cache evicted (idle past ``eviction_idle_s`` at the
        request's start, ``now``) is built again, as if new."""
        at = scope.exact.get((parent, key))
        u = at.get(off) if at is not None else None
        if u is not None:
            if u.ready <= now and now - max(u.used, u.ready) > self.evict:
                u.ready = u.used = ready
            elif ready < u.ready:
                u.ready = ready
            return
        if at is None:
            at = scope.exact[(parent, key)] = {}
        u = at[off] = _Unit(ready, ready)
        j = -(-off // self.m.block_tokens)
        blocks = self.m.blocks(key)
        if 1 <= j <= len(blocks):
            scope.partial.setdefault((parent, blocks[j - 1]), []).append((off, u))
            scope.needs.setdefault(parent, set()).add(j)

    def _persist(self, scope: _Scope, shape: Shape, start: float, end: float, k: int, before: int) -> None:
        """Write this request's units; ``k`` and ``before`` are where ``_unit_hit`` found the
        prefixes earlier requests had end (whether still usable or not: the common prefix is
        detected against every earlier request)."""
        keys, toks, chain = shape.keys, shape.tokens, shape.chain
        n = len(keys)
        # common prefix with an earlier request: persisted once the request completes
        lcp = before if k == n else before + self._inside(scope, chain[k], keys[k], toks[k], None)
        cum = list(accumulate(toks, initial=0))  # tokens before each piece: one C-level pass, then bisect
        if self.min_unit <= lcp < shape.total:
            self._add_unit_at(scope, shape, lcp, end + self.delay, start, cum)
        # end of input
        self._add_unit(scope, chain[n - 1], keys[n - 1], toks[n - 1], start + self.delay, start)
        # fixed intervals inside long inputs
        if self.interval > 0:
            pos = self.interval
            while pos < shape.total:
                self._add_unit_at(scope, shape, pos, start + self.delay, start, cum)
                pos += self.interval
        # end of output: the prompt without its generation prompt, then the output as generated
        if shape.out_key is not None:
            self._add_unit(scope, chain[n - 1], shape.out_key, shape.out_tokens, end + self.delay, start)

    def _add_unit_at(
        self, scope: _Scope, shape: Shape, pos: int, ready: float, now: float, cum: list[int] | None = None
    ) -> None:
        """Persist a unit ending ``pos`` tokens in, in the first piece that reaches ``pos``; ``cum``
        (tokens before each piece, len n+1) finds it by bisection instead of a walk over the pieces
        (a block-hash prompt has ~2,000 of them, and a long one ~30 interval units)."""
        if cum is None:
            cum = list(accumulate(shape.tokens, initial=0))
        k = bisect_left(cum, pos, 1) - 1  # the first piece k with pos <= cum[k + 1]
        if k + 1 >= len(cum):
            return
        before = cum[k]
        if pos == before and k > 0:  # a piece boundary: the unit ends the previous piece
            self._add_unit(scope, shape.chain[k - 1], shape.keys[k - 1], shape.tokens[k - 1], ready, now)
        else:
            self._add_unit(scope, shape.chain[k], shape.keys[k], pos - before, ready, now)

    def _remember(self, scope: _Scope, shape: Shape, start: float, end: float, first: int) -> None:
        """Record this request's prefixes (and its output's) for later common-prefix detection,
        from piece ``first`` on (the ones before it were touched by the walk that found ``first``)."""
        keys, chain = shape.keys, shape.chain
        ready = start + self.delay
        seen, blocks, legacy = scope.seen, scope.blocks, self.legacy
        for k in range(first, len(keys)):
            key, c = keys[k], chain[k + 1]
            t = seen.get(c)
            if t is None:
                if legacy and (k == 0 or chain[k] in seen):
                    self._revive(scope, chain[k], key, start, ready)
                t = seen[c] = [ready, ready]
                blocks.add(chain[k], key, t)
            elif legacy and t[0] <= start and start - max(t[1], t[0]) > self.evict:
                t[0] = t[1] = ready  # evicted: this request builds it again
            else:
                t[1] = start  # a request reading through a prefix keeps it alive
        if shape.out_key is not None:
            c = hash((chain[-2], shape.out_key))
            if c not in seen:
                out_ready = end + self.delay
                t = seen[c] = [out_ready, out_ready]
                blocks.add(chain[-2], shape.out_key, t)


class BoundedReference:
    """The bounded V4 model (``DeepSeekCache``'s default since issue 15), written the plain way:
    one record per prefix (per piece), the hit walk over every piece, nothing ever deleted.

    - A prefix is remembered while a request that had it (walked through it or added it, its
      output's prefix included) started within ``eviction_idle_s``. The walk stops at the first
      prefix not remembered, and the common prefix is detected only against remembered ones.
    - A forgotten prefix forgets what was anchored at it: remembering it again starts it empty.
    - A unit idle past ``eviction_idle_s`` is dead; persisting it again makes a new record (last
      in the order units are read), where the unbounded model revived the old one in place.
    """

    def __init__(self, measurer, *, rule="deepseek-v4-units", construction_delay_s=5, eviction_idle_s=21600,
                 interval_tokens=0, min_unit_tokens=1, unit_tokens=64, scope_by_user=True):
        assert rule == "deepseek-v4-units"
        self.m = measurer
        self.delay = seconds(construction_delay_s)
        self.evict = seconds(eviction_idle_s)
        self.interval = int(interval_tokens)
        self.min_unit = int(min_unit_tokens)
        self.by_user = scope_by_user
        self.scopes = {}

    def request(self, shape, *, start, end, user, call=None):
        sc = self.scopes.setdefault((user or "") if self.by_user else "", {"seen": {}, "kids": {}, "units": {}})
        seen, kids, units = sc["seen"], sc["kids"], sc["units"]
        now, evict = start, self.evict
        keys, toks, chain = shape.keys, shape.tokens, shape.chain
        n = len(keys)

        def remembered(c):
            t = seen.get(c)
            return t is not None and now - t <= evict

        best, best_unit, before, k = 0, None, 0, 0
        while k < n:
            at = units.get(chain[k])
            if at is not None:
                for off, u in at["exact"].get(keys[k], {}).items():
                    if before + off > best and u.ready <= now and now - max(u.used, u.ready) <= evict:
                        best, best_unit = before + off, u
                blocks = self.m.blocks(keys[k])
                for j in at["needs"]:
                    if j <= len(blocks):
                        for off, u in at["partial"].get(blocks[j - 1], ()):
                            if before + off > best and u.ready <= now and now - max(u.used, u.ready) <= evict:
                                best, best_unit = before + off, u
            if not remembered(chain[k + 1]):
                break
            seen[chain[k + 1]] = now
            before += toks[k]
            k += 1
        if best_unit is not None:
            best_unit.used = now
        if k == n:
            lcp = before
        else:  # blocks of the remembered pieces after the same prefix
            known = set()
            for c, key in kids.get(chain[k], {}).items():
                if remembered(c):
                    known.update(self.m.blocks(key))
            blocks = self.m.blocks(keys[k])
            j = 0
            while j < len(blocks) and blocks[j] in known:
                j += 1
            lcp = before + min(j * self.m.block_tokens, toks[k])

        def remember(parent, c, key):
            if remembered(c):
                seen[c] = now
                return
            units.pop(c, None)
            kids.pop(c, None)
            seen[c] = now
            kids.setdefault(parent, {})[c] = key

        for i in range(k, n):
            remember(chain[i], chain[i + 1], keys[i])
        if shape.out_key is not None:
            remember(chain[n - 1], hash((chain[n - 1], shape.out_key)), shape.out_key)

        cum = list(accumulate(toks, initial=0))
        total = cum[n]
        if self.min_unit <= lcp < total:
            self._add_at(units, shape, lcp, end + self.delay, now, cum)
        self._add(units, chain[n - 1], keys[n - 1], toks[n - 1], start + self.delay, now)
        if self.interval > 0:
            for pos in range(self.interval, total, self.interval):
                self._add_at(units, shape, pos, start + self.delay, now, cum)
        if shape.out_key is not None:
            self._add(units, chain[n - 1], shape.out_key, shape.out_tokens, end + self.delay, now)
        return Outcome(read=min(best, total), total=total)

    def _add_at(self, units, shape, pos, ready, now, cum):
        k = bisect_left(cum, pos, 1) - 1
        if k + 1 >= len(cum):
            return
        if pos == cum[k] and k > 0:
            self._add(units, shape.chain[k - 1], shape.keys[k - 1], shape.tokens[k - 1], ready, now)
        else:
            self._add(units, shape.chain[k], shape.keys[k], pos - cum[k], ready, now)

    def _add(self, units, c, key, off, ready, now):
        at = units.setdefault(c, {"exact": {}, "partial": {}, "needs": set()})
        same = at["exact"].setdefault(key, {})
        j = -(-off // self.m.block_tokens)
        blocks = self.m.blocks(key)
        u = same.get(off)
        if u is not None:
            if not (u.ready <= now and now - max(u.used, u.ready) > self.evict):
                u.ready = min(u.ready, ready)
                return
            del same[off]  # dead: a new record
            if 1 <= j <= len(blocks):
                lst = at["partial"][blocks[j - 1]]
                lst[:] = [p for p in lst if p[1] is not u]
        u = same[off] = _Unit(ready, ready)
        if 1 <= j <= len(blocks):
            at["partial"].setdefault(blocks[j - 1], []).append((off, u))
            at["needs"].add(j)
