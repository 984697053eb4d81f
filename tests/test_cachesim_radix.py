"""Block-hash prompts in the OpenAI and Anthropic policies (``simulate.radix``, issue 15).

Each policy sends a block-hash shape to a structure that walks runs of blocks (a radix tree for
OpenAI's automatic cache, entries indexed by depth for the breakpoint caches) and forgets what has
expired. The reference is the same policy with that path switched off: every shape then goes
through the piece-by-piece code these replace (``engine.PrefixIndex``; the look-back over every
boundary with ``engine.EntryStore``), which never forgets. Both must give every request the same
outcome on random streams: sessions that grow, rewrite their last block, diverge mid-run and get
compacted, idle gaps past the TTLs, concurrent writers, breakpoints (explicit, automatic, 1 h),
user scopes, ``prompt_cache_key`` routing and overflow machines, 24 h retention.
"""

from __future__ import annotations

import math
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from test_deepseek_radix import block_request, block_stream, collector_off

from promptcache.measure.shape import Measurer, Shape
from promptcache.model.calls import Call, Segment, Usage
from promptcache.model.hints import CacheHints, SegmentHint
from promptcache.simulate import anthropic, openai
from promptcache.simulate.anthropic import AnthropicCache
from promptcache.simulate.engine import EntryStore
from promptcache.simulate.openai import OpenAIAutoCache, OpenAIBreakpointCache
from promptcache.simulate.radix import Prefix, RadixIndex, Sweeper, as_keys

# one request: (which earlier request to continue (mod the count; 0..1 = a fresh prompt on a
# shared head), blocks of it kept, new block ids (small alphabet: collisions), partial tail,
# seconds since the previous request, its duration, user, prompt_cache_key, breakpoint choice,
# 24 h retention / 1 h TTL, messages-level option)
request_specs = st.lists(
    st.tuples(
        st.integers(0, 7),
        st.integers(0, 60),
        st.lists(st.integers(1, 5), max_size=14),
        st.integers(0, 63),
        st.sampled_from([0, 0, 0.25, 0.25, 1, 5, 30, 200, 300, 301, 900, 3000, 3600, 3601, 90000]),  # TTL edges
        st.sampled_from([0.0, 0.2, 2.0, 30.0]),
        st.sampled_from(["u1", "u2"]),
        st.sampled_from([None, None, "k"]),
        st.integers(0, 6),
        st.booleans(),
        st.sampled_from(["", "", "auto", "any"]),
    ),
    min_size=1,
    max_size=60,
)

HEAD = [101, 102, 103, 104]  # a shared system head (4 blocks)


def _stream(spec) -> list[tuple[Shape, float, float, str, CacheHints | None]]:
    """Shapes (through the real block-trace path), times, users and hints of a random stream."""
    m = Measurer("blocks")
    prompts: list[list[int]] = []
    out = []
    t = 1_000_000.0
    for n, (src, keep, new, tail, gap, dur, user, key, bp, long, choice) in enumerate(spec):
        if src < 2 or not prompts:
            ids = HEAD[: 1 + src * 3] + new
        else:
            prev = prompts[(src * 7 + n) % len(prompts)]
            ids = prev[:keep] + new
        if not ids:
            ids = [7]
        prompts.append(ids)
        segs = [Segment("block", block_id=h, block_tokens=64) for h in ids]
        if tail:  # WEKA's unique unhashed last block
            segs.append(Segment("block", block_id=hash(("tail", n)), block_tokens=tail))
        call = Call(
            source="t", line=n, model="m", conversation_id=str(src), segments=segs, usage=Usage(64 * len(ids) + tail, 1)
        )
        shape = m.shape(call, trust_usage=True)
        t += gap
        hints = None
        if bp or key or long or choice:
            marks = [None] * len(segs)
            if bp >= 3 and len(segs) > 2:  # explicit breakpoints inside the prompt
                for j in range(bp - 2):
                    marks[(j * 5 + bp) % (len(segs) - 1)] = "1h" if long and j == 0 else "5m"
            hints = CacheHints(
                tuple(SegmentHint(c) for c in marks) if bp >= 3 else (),
                ("1h" if long else "5m") if bp in (1, 2, 5) else None,  # automatic caching
                "explicit" if bp == 6 else None,
                key,
                "24h" if long else None,
                choice,
                bp == 4,
                0,
                None,
                None,
            )
        out.append((shape, t, t + dur, user, hints))
    return out


class _PlainStore(EntryStore):
    """The store the breakpoint policies used before: ``EntryStore``, never swept."""

    def put(self, key, depth, tokens, ready, now, ttl, root=0):  # type: ignore[override]  # depth, root not kept
        super().put(key, tokens, ready, now, ttl)

    def sweep(self, now):
        pass

    def __len__(self):
        return len(self.entries)


class _EveryRequest(Sweeper):
    """Sweep before every request (the policies sweep once the state may have doubled)."""

    def tick(self, now: float) -> bool:
        super().tick(now)
        return True


def _run(policy, stream, *, reference: bool, sweep_every: bool = False):
    if sweep_every:
        policy._sweeper = _EveryRequest()
    outs = []
    with (
        mock.patch.object(openai, "is_block_shape", lambda s: False) if reference else mock.MagicMock(),
        mock.patch.object(anthropic, "is_block_shape", lambda s: False) if reference else mock.MagicMock(),
    ):
        if reference:
            if hasattr(policy, "_sweeper"):
                policy._sweeper.due = math.inf
            if isinstance(policy, AnthropicCache):
                policy._store = lambda user, call: policy._stores.setdefault(policy._scope_id(user, call), _PlainStore())
        for shape, start, end, user, hints in stream:
            if reference and isinstance(policy, OpenAIBreakpointCache):
                policy._stores.setdefault(policy._scope_id(user, hints, key=True), _PlainStore())
            o = policy.request(shape, start=start, end=end, user=user, call=hints)
            outs.append((o.read, o.write, o.write_1h, o.total))
    return outs


def _openai_auto(m, **kw):
    return OpenAIAutoCache(m, min_tokens=128, increment_tokens=64, idle_s=300, cap_s=3600, **kw)


@settings(max_examples=200, deadline=None)
@given(request_specs, st.booleans(), st.sampled_from([15.0, 2.0, 1.0]))
def test_openai_auto_radix_equals_piece_index(spec, by_user, rpm):
    stream = _stream(spec)
    m = Measurer("blocks")
    ref = _run(_openai_auto(m, scope_by_user=by_user, overflow_rpm=rpm), stream, reference=True)
    new = _run(_openai_auto(m, scope_by_user=by_user, overflow_rpm=rpm), stream, reference=False)
    assert new == ref
    swept = _openai_auto(m, scope_by_user=by_user, overflow_rpm=rpm)
    assert _run(swept, stream, reference=False, sweep_every=True) == ref
    # what is left after a sweep is alive, or under something alive; past every limit, nothing
    last = stream[-1][1]
    swept.sweep(last)
    for tree in swept._trees.values():
        _check_tree(tree, last)
    swept.sweep(last + 2 * 86400)
    assert not swept._trees


def _check_tree(tree: RadixIndex, now: float) -> None:
    """Every edge covers >= 1 block, is keyed by its first chain key, and no leaf is dead for good."""
    stack = [tree.root]
    count = 0
    while stack:
        e = stack.pop()
        for first, child in (e.children or {}).items():
            assert len(child.keys) >= 1 and child.keys[0] == first and child.parent is e
            assert child.depth == e.end
            stack.append(child)
            count += 1
        if e is not tree.root and not e.children:
            assert not e.gone(now)
    assert count == len(tree)


@settings(max_examples=200, deadline=None)
@given(request_specs, st.booleans(), st.sampled_from(["logged", "auto", "auto-1h"]))
def test_anthropic_depth_store_equals_boundary_walk(spec, by_user, mode):
    stream = _stream(spec)
    m = Measurer("blocks")

    def make():
        return AnthropicCache(m, min_tokens=128, ttl_5m_s=300, ttl_1h_s=3600, breakpoints=mode, scope_by_user=by_user)

    ref = _run(make(), stream, reference=True)
    assert _run(make(), stream, reference=False) == ref
    swept = make()
    assert _run(swept, stream, reference=False, sweep_every=True) == ref
    last = stream[-1][1]
    swept.sweep(last)
    for store in swept._stores.values():
        assert all(e.expires >= last for e in store.entries.values())
        assert store.depths == sorted({e.depth for e in store.entries.values()})
        for root in {e.root for e in store.entries.values()}:  # each root's depths: its entries'
            assert store.depths_of(root) == sorted({e.depth for e in store.entries.values() if e.root == root})
    swept.sweep(last + 3601)
    assert not swept._stores


@settings(max_examples=150, deadline=None)
@given(request_specs, st.sampled_from([50, 2, 1]))
def test_openai_breakpoints_depth_store_equals_boundary_walk(spec, lookback):
    stream = _stream(spec)
    m = Measurer("blocks")

    def make():
        return OpenAIBreakpointCache(m, min_tokens=128, ttl_s=600, read_lookback_breakpoints=lookback)

    assert _run(make(), stream, reference=False) == _run(make(), stream, reference=True)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 70), max_size=40), st.lists(st.integers(0, 45), max_size=8))
def test_prefix_sums_from_the_end_equal_sums(tokens, asks):
    p = Prefix(tokens, sum(tokens))
    for j in asks:
        j = min(j, len(tokens))
        assert p[j] == sum(tokens[:j])


def test_radix_worked_example():
    """Three requests: A = blocks 1..6, B = 1..4 then 9, C = 1..6 again.

    B leaves A's edge after 4 blocks: the edge splits into 1..4 (both) and 5..6 (A only), and B's
    9 hangs under 1..4. C walks two edges (1..4, 5..6), not six blocks.
    """
    from promptcache.measure.shape import chain_of

    tree = RadixIndex()
    a = as_keys(chain_of([1, 2, 3, 4, 5, 6]))
    path, d = tree.match(a)
    assert (path, d) == ([], 0)
    tree.add(a, path, d, 0.0, 0.5, 300.0, 3600.0)
    assert len(tree) == 1
    b = as_keys(chain_of([1, 2, 3, 4, 9]))
    path, d = tree.match(b)
    assert d == 4 and [len(e.keys) for e in path] == [4] and len(tree) == 2
    tree.add(b, path, d, 10.0, 10.5, 300.0, 3600.0)
    assert len(tree) == 3
    path, d = tree.match(a)
    assert d == 6 and [len(e.keys) for e in path] == [4, 2]
    assert path[0].used == 10.0 and path[1].used == 0.0  # B refreshed only what it shares
    depth, live = tree.live(path, 305.0)  # 1..4 used at 10 s: alive; 5..6 idle since 0 s: not
    assert depth == 4 and live == path[:1]
    tree.sweep(311.0)  # 5..6 and 9 idle for more than 300 s; 1..4 too: everything goes
    assert len(tree) == 0


# text prompts: pieces drawn from a small pool whose token lists share beginnings, so prompts share
# prefixes inside pieces too (``PrefixIndex``'s per-piece block tables)
text_specs = st.lists(
    st.tuples(
        st.lists(st.integers(0, 5), min_size=1, max_size=5),  # pieces from the pool
        st.sampled_from([0, 0, 0.25, 1, 30, 300, 301, 900, 3600, 3601, 90000]),
        st.sampled_from([0.0, 2.0]),
        st.sampled_from(["u1", "u2"]),
        st.booleans(),  # 24 h retention
    ),
    min_size=1,
    max_size=40,
)


def _text_stream(spec, m: Measurer) -> list[tuple[Shape, float, float, str, CacheHints | None]]:
    from promptcache.measure.shape import chain_of

    pool = [[1] * 40, [1] * 24 + [2] * 16, [3] * 64, [3] * 32 + [4] * 8, [5] * 20, [1] * 8]
    keys_of = []
    for ids in pool:
        key = hash(tuple(ids))
        m._store(key, ids, 0)
        keys_of.append(key)
    out = []
    t = 5_000.0
    for picks, gap, dur, user, long in spec:
        keys = [keys_of[p] for p in picks]
        toks = [len(pool[p]) for p in picks]
        roles = ("system",) + ("user",) * (len(keys) - 1)
        shape = Shape(keys, toks, roles, tuple(range(len(keys))), chain_of(keys), None, 0, True)
        t += gap
        hints = CacheHints((), None, None, None, "24h", "", False, 0, None, None) if long else None
        out.append((shape, t, t + dur, user, hints))
    return out


@settings(max_examples=200, deadline=None)
@given(text_specs, st.booleans())
def test_openai_auto_text_sweeps_change_nothing(spec, by_user):
    """``PrefixIndex.sweep``: forgetting prefixes dead for good leaves every outcome as it was."""
    m = Measurer("blocks", block_tokens=4)
    stream = _text_stream(spec, m)

    def make():
        return OpenAIAutoCache(m, min_tokens=16, increment_tokens=4, idle_s=300, cap_s=3600, scope_by_user=by_user)

    ref = _run(make(), stream, reference=True)
    swept = make()
    assert _run(swept, stream, reference=False, sweep_every=True) == ref
    swept.sweep(stream[-1][1] + 2 * 86400)
    assert not swept._index


def test_block_index_sweep_keeps_a_waiting_list_with_a_live_value():
    """A parent's registrations wait unexpanded; the latest wins on a shared block. With an old
    live value and a newer gone one on the same blocks, dropping only the gone one would let the
    old one win where the gone one shadows it, so the list stays until all of it is gone."""
    from promptcache.simulate.engine import BlockIndex

    blocks = {1: [10, 11], 2: [10, 12], 3: [20]}
    index = BlockIndex(lambda k: blocks[k], keep_first=False)
    index.add(7, 1, "live")
    index.add(7, 2, "gone")
    index.add(8, 3, "gone")
    assert index.sweep(lambda v: v == "gone") == 2  # parent 7 kept whole, parent 8 dropped
    assert index.under(7) == {10: "gone", 11: "live", 12: "gone"}
    assert index.under(8) == {}
    assert index.sweep(lambda v: v == "gone") == 1  # built: the gone values go, block 11 stays
    assert index.under(7) == {11: "live"}


# --- the reader's compact requests (``BlockShape``) read in place: equal to their plain shapes -------


@settings(max_examples=200, deadline=None)
@given(st.lists(block_request, min_size=1, max_size=40),
       st.sampled_from(["auto", "auto-1h"]), st.booleans())
def test_block_shapes_read_in_place_equal_their_plain_shapes(spec, mode, by_user):
    """Anthropic's look-back and OpenAI's route and read take a ``BlockShape``'s token counts and
    chain keys from its run (no array built); the same calls as plain shapes (arrays) give the same
    outcome, request by request (gaps past both TTLs, forks, interleaved conversations)."""
    stream, m = block_stream(spec)

    def pair(make):
        return make(), make()

    anth = pair(lambda: AnthropicCache(m, min_tokens=128, ttl_5m_s=30, ttl_1h_s=100, breakpoints=mode,
                                       scope_by_user=by_user))
    oai = pair(lambda: OpenAIAutoCache(m, min_tokens=128, increment_tokens=64, idle_s=30, cap_s=100,
                                       routing_prefix_tokens=100, overflow_rpm=2, scope_by_user=by_user))
    for fshape, sshape, start, end, user in stream:
        for fast, slow in (anth, oai):
            a = fast.request(fshape, start=start, end=end, user=user)
            assert a == slow.request(sshape, start=start, end=end, user=user)
    for name in ("keys", "tokens"):  # neither policy built these arrays
        assert all(name not in (s[0]._kept or ()) for s in stream)


_ROLES = st.sampled_from(["tools", "system", "user", "assistant", "tool"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.integers(0, 5), _ROLES), min_size=1, max_size=9),
            st.sampled_from([0.0, 1.0, 200.0, 400.0]),
            st.sampled_from(["u1", "u2"]),
            st.sampled_from([None, ("", False, 0), ("auto", True, 1), ("any", False, 0)]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["logged", "auto", "auto-1h"]),
)
def test_anthropic_boundary_keys_on_use_equal_the_list(spec, mode):
    """``AnthropicCache._key_at`` (a boundary's key hashed when the walk visits it) gives
    ``_keys``' list item for item (system-level pieces unsalted, anywhere in the prompt), and a
    stream of text requests has the same outcomes as with the whole list made per request."""
    from promptcache.measure.shape import chain_of

    m = Measurer("deepseek-v4")
    keys_of = [hash(("piece", k)) for k in range(6)]
    for k, key in enumerate(keys_of):
        m._store(key, [k + 1] * (20 + 40 * k), 0)
    stream = []
    t = 1_000.0
    for pieces, gap, user, opts in spec:
        keys = [keys_of[k] for k, _ in pieces]
        toks = [20 + 40 * k for k, _ in pieces]
        roles = tuple(r for _, r in pieces)
        shape = Shape(keys, toks, roles, tuple(range(len(keys))), chain_of(keys), None, 0, True)
        hints = None if opts is None else CacheHints((), "5m", None, None, None, opts[0], opts[1], opts[2], None, None)
        t += gap
        stream.append((shape, t, t + 1.0, user, hints))
        pol = AnthropicCache(m, min_tokens=32, breakpoints=mode)
        key = pol._key_at(shape, hints)
        assert [key(j) for j in range(len(shape.chain))] == pol._keys(shape, hints)

    def run(plain: bool):
        pol = AnthropicCache(m, min_tokens=32, breakpoints=mode)
        if plain:
            pol._key_at = lambda shape, call: pol._keys(shape, call).__getitem__
        return [
            (o.read, o.write, o.write_1h, o.total)
            for shape, start, end, user, hints in stream
            for o in (pol.request(shape, start=start, end=end, user=user, call=hints),)
        ]

    assert run(False) == run(True)


def test_a_radix_tree_let_go_frees_its_edges_with_the_collector_off():
    """An edge's link up and its parent's link down make a cycle: a tree dropped while the
    collector is quiet (during a simulation, ``partition.quiet_collector``; a policy's trees when
    the policy is let go) must not keep its edges until the next full collection, beside the next
    simulation's. ``RadixIndex.__del__`` cuts the links up; reference counting frees every edge
    (as ``DeepSeekCache.__del__`` does for its tree, ``test_deepseek_radix``)."""
    from promptcache.measure.shape import chain_of
    from promptcache.simulate import radix

    with collector_off(radix.Edge) as made:
        tree = RadixIndex()
        for k, blocks in enumerate(([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 9], [1, 2, 7], [8, 8])):
            chain = as_keys(chain_of(blocks))
            path, d = tree.match(chain)
            tree.add(chain, path, d, float(k), k + 0.5, 300.0, 3600.0)
        assert made() >= 5  # the root, a split edge and its branches
        del tree, path
        assert made() == 0
