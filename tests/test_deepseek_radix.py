"""DeepSeek V4's radix tree against plain per-piece implementations, on random request streams.

- ``bounded=False`` against the policy as it was at 762051e (``deepseek_reference.OldDeepSeekCache``,
  verbatim): the tree only changes the work (a request walks nodes, not pieces), never an outcome.
- the default (``bounded``) against ``deepseek_reference.BoundedReference``: the forgetting rule
  written one record per piece, nothing ever deleted; the tree's sweeps and deletions are invisible.

Prompts are built from a small alphabet so that they share prefixes, diverge mid-piece, mid-block
(4-token blocks) and mid-unit, replay earlier outputs, and arrive with gaps around the eviction
time and the construction delay, in several ``user_id`` scopes.
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from deepseek_reference import BoundedReference, OldDeepSeekCache
from hypothesis import example, given, settings
from hypothesis import strategies as st

from promptcache.measure.shape import ROOT, Shape, chain_of
from promptcache.simulate.deepseek import DeepSeekCache

BLOCK = 4


class Pieces:
    """A measurer over token tuples: ``blocks(key)`` are the chained hashes of each full block."""

    block_tokens = BLOCK

    def __init__(self) -> None:
        self._blocks: dict[int, array] = {}

    def piece(self, toks: tuple[int, ...]) -> int:
        key = hash(("piece", toks))
        if key not in self._blocks:
            h, out = ROOT, array("q")
            for i in range(BLOCK, len(toks) + 1, BLOCK):
                h = hash((h, *toks[i - BLOCK : i]))
                out.append(h)
            self._blocks[key] = out
        return key

    def blocks(self, key: int) -> array:
        return self._blocks.get(key, array("q"))


# a piece: a base run of tokens, cut and extended, so pieces share leading blocks and diverge inside
BASES = [tuple(range(b * 100, b * 100 + 24)) for b in range(3)]
piece_spec = st.tuples(st.integers(0, 2), st.integers(0, 24), st.lists(st.integers(0, 3), max_size=6),
                       st.integers(-2, 2))
request_spec = st.tuples(
    st.lists(piece_spec, min_size=1, max_size=8),
    st.sampled_from([0, 1, 1, 1, 2, 3]),  # 0: a fresh prompt; else extends the request that many back
    st.sampled_from([None, "x", "y"]),
    st.sampled_from([0, 0.5, 0.5, 4, 6, 6, 30, 100, 101, 101, 250]),  # gap before it (evict 100, delay 5)
    st.sampled_from([None, 0, 3, 9]),  # output tokens (None: no output)
    st.sampled_from([0.5, 3, 8]),  # latency
)


def build(ms: Pieces, spec: list) -> list[tuple[Shape, float, float, str | None]]:
    out: list[tuple[Shape, float, float, str | None]] = []
    prompts: list[tuple[list[int], list[int], int | None, int]] = []
    t = 0.0
    for n_out, (pieces, back, user, gap, out_toks, lat) in enumerate(spec):
        keys: list[int] = []
        toks: list[int] = []
        if back and back <= len(prompts):
            pk, pt, pout, pn = prompts[-back]
            keys, toks = pk[:-1], pt[:-1]  # the earlier prompt without its generation piece ...
            if pout is not None:
                keys, toks = [*keys, pout], [*toks, pn]  # ... and its output replayed
        for base, cut, tail, adj in pieces:
            body = BASES[base][:cut] + tuple(900 + x for x in tail)
            keys.append(ms.piece(body))
            toks.append(max(0, len(body) + adj))  # a reported total can move a piece's count
        keys.append(ms.piece((7, 7)))  # the generation piece
        toks.append(2)
        out_key = None if out_toks is None else ms.piece((800 + n_out % 4, 1, 2, 3, 4, 5)[: 2 + out_toks % 5])
        shape = Shape(keys, toks, ("x",) * len(keys), tuple(range(len(keys))), chain_of(keys), out_key,
                      out_toks or 0, True)
        prompts.append((keys, toks, out_key, out_toks or 0))
        t += gap
        out.append((shape, t, t + lat, user))
    return out


def run_both(new, ref, stream) -> list[int]:
    reads = []
    for shape, start, end, user in stream:
        a = new.request(shape, start=start, end=end, user=user)
        b = ref.request(shape, start=start, end=end, user=user)
        assert a == b
        reads.append(a.read)
    return reads


params = st.fixed_dictionaries({"interval_tokens": st.sampled_from([0, 0, 7, 12]),
                                "scope_by_user": st.booleans()})


@settings(max_examples=300, deadline=None)
@given(st.lists(request_spec, min_size=1, max_size=30), params)
def test_tree_equals_the_per_piece_walk(spec, kw):
    ms = Pieces()
    stream = build(ms, spec)
    new = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100, bounded=False, **kw)  # type: ignore[arg-type]  # a test measurer
    run_both(new, OldDeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100, **kw), stream)


def test_a_request_ending_inside_an_edge_does_not_refresh_the_longer_prefix():
    """A request that leaves an edge mid-way (the edge is split where it ends) has the prefix up to
    the split, not the longer one below it. Pieces of 8 tokens (A, B, C) and a 2-token generation
    piece g; construction 5 s, eviction 100 s, each request lasts 1 s:

    - t = 6: A B C C g (34 tokens) reads 0; its end-of-input unit (34 tokens, anchored on the
      prefix A B C C) is ready at 6 + 5 = 11.
    - t = 56: A B g reads 0; it shares A B with the first (16 tokens): that unit is persisted once it
      completes, ready at 57 + 5 = 62. It had the prefix A B, not A B C C.
    - t = 107: A B C C g again. The prefix A B C C was last had at 6, 101 s before: past 100 s,
      forgotten, and the 34-token unit anchored on it with it (the unit itself idle only
      107 - 11 = 96 s). The prefix A B was had at 56: its 16-token unit is read.

    Until this fix the request at 56 also touched the node below the split (A B C C g), so it was
    remembered until 156 and the third request read 34 tokens."""
    ms = Pieces()
    a, b, c = (ms.piece(base[:8]) for base in BASES)
    g = ms.piece((7, 7))

    def prompt(*keys: int) -> Shape:
        ks = [*keys, g]
        return Shape(ks, [8] * len(keys) + [2], ("x",) * len(ks), tuple(range(len(ks))), chain_of(ks), None, 0, True)

    stream = [(prompt(a, b, c, c), 6.0, 7.0, None), (prompt(a, b), 56.0, 57.0, None), (prompt(a, b, c, c), 107.0, 108.0, None)]
    new = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100)  # type: ignore[arg-type]  # a test measurer
    assert run_both(new, BoundedReference(ms, construction_delay_s=5, eviction_idle_s=100), stream) == [0, 0, 16]


@settings(max_examples=1000, deadline=None)
@given(st.lists(request_spec, min_size=1, max_size=30), params)
@example(  # the case above: a split edge's lower node was touched by the request that split it
    [([(0, 8, [], 0), (1, 8, [], 0), (2, 8, [], 0), (2, 8, [], 0)], 0, None, 6, None, 0.5),
     ([(0, 8, [], 0), (1, 8, [], 0)], 0, None, 50, None, 0.5),
     ([(0, 8, [], 0), (1, 8, [], 0), (2, 8, [], 0), (2, 8, [], 0)], 0, None, 51, None, 0.5)],
    {"interval_tokens": 0, "scope_by_user": False},
)
def test_bounded_tree_equals_the_plain_forgetting_model(spec, kw):
    ms = Pieces()
    stream = build(ms, spec)
    new = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100, **kw)  # type: ignore[arg-type]  # a test measurer
    run_both(new, BoundedReference(ms, construction_delay_s=5, eviction_idle_s=100, **kw), stream)


# --- block-hash requests (``BlockShape``): the finger, lazy ``last`` and the upward unit search -------

# each request: its conversation (several interleave, sharing a head of ids), which earlier request
# of it it starts from (0 = the latest), how many of that one's ids it keeps (None: all), new ids,
# tokens past its full blocks (an unhashed tail), user, the gap before it (eviction 100 s, slack 25 s:
# gaps around both), latency
block_request = st.tuples(
    st.integers(0, 3), st.integers(0, 3), st.one_of(st.none(), st.integers(0, 12)),
    st.lists(st.integers(0, 5), max_size=6), st.sampled_from([0, 0, 20, 64, 70]),
    st.sampled_from([None, "x", "y"]),
    st.sampled_from([0, 0.5, 3, 6, 6, 9, 13, 20, 24, 26, 30, 49, 60, 76, 80, 90, 99, 101, 110, 126, 150, 260]),
    st.sampled_from([0.5, 3, 8]),
)


def block_stream(spec):
    """(BlockShape, plain Shape of the same call, start, end, user) for each request."""
    from promptcache.measure.blocks import BlockShape
    from promptcache.measure.shape import Measurer
    from promptcache.model.calls import Call, Usage
    from promptcache.read.traces import ScopedIds, block_segments

    fast_m, slow_m = Measurer("blocks"), Measurer("blocks")
    convs: dict[int, tuple[ScopedIds, list[list[int]]]] = {}
    out = []
    t = 0.0
    for n, (conv, back, keep, new, extra, user, gap, lat) in enumerate(spec):
        delta, earlier = convs.setdefault(conv, (ScopedIds(1), []))
        base = earlier[-1 - back % len(earlier)] if earlier else [1000, 1001, 1002]  # a head every conversation shares
        ids = (base if keep is None else base[:keep]) + [conv * 100 + x for x in new]
        earlier.append(ids)
        total = 64 * len(ids) + extra
        if not total:
            continue
        segs = block_segments(ids, total, 64, 1, n, delta)
        fast = fast_m.shape(Call(source="s", line=n, model="t", segments=segs, usage=Usage(total, 1)), trust_usage=True)
        slow = slow_m.shape(Call(source="s", line=n, model="t", segments=list(segs), usage=Usage(total, 1)),
                            trust_usage=True)
        assert type(fast) is BlockShape and type(slow) is not BlockShape
        t += gap
        out.append((fast, slow, t, t + lat, user))
    return out, fast_m


@settings(max_examples=300, deadline=None)
@given(st.lists(block_request, min_size=1, max_size=40), st.booleans(), st.sampled_from([0, 0, 100]))
def test_block_requests_equal_the_full_walk_and_the_plain_model(spec, by_user, interval):
    """A ``BlockShape`` request (walk from its finger, nodes above touched lazily, units looked for
    from the deepest node up, no array built) reads what the same call's plain shape reads through
    the full walk from the root, and what the plain forgetting model (``BoundedReference``) reads;
    across forks, compactions, interleaved conversations and gaps past the eviction time.

    (Against ``BoundedReference`` since the fix of the split edge: until then a request that ended
    inside an edge also touched the node below where it ended, a longer prefix it did not have.)"""
    stream, m = block_stream(spec)
    kw = {"construction_delay_s": 5, "eviction_idle_s": 100, "scope_by_user": by_user, "interval_tokens": interval}
    fast, slow = DeepSeekCache(m, **kw), DeepSeekCache(m, **kw)  # type: ignore[arg-type]  # kw: a test's parameters
    ref = BoundedReference(m, **kw)
    for fshape, sshape, start, end, user in stream:
        a = fast.request(fshape, start=start, end=end, user=user)
        assert a == slow.request(sshape, start=start, end=end, user=user)
        assert a == ref.request(sshape, start=start, end=end, user=user)
        assert fast.footprint(fshape, user=user) == slow.footprint(sshape, user=user)
    for name in ("keys", "tokens", "chain"):  # the policy read the block shapes in place
        assert all(name not in (s[0]._kept or ()) for s in stream)


def test_block_request_starts_at_its_conversations_finger():
    """A conversation's requests start where the one before ended: the walk does not visit the
    nodes of its earlier turns (each turn leaves a branch node for its unhashed tail)."""
    spec = [(0, 0, None, [i], 20, None, 10, 1) for i in range(40)]
    stream, m = block_stream(spec)
    cache = DeepSeekCache(m, construction_delay_s=5, eviction_idle_s=1000)
    walked = []
    walk = cache._walk

    def counting(node, chain, n, now):
        path = walk(node, chain, n, now)
        walked.append(len(path))
        return path

    cache._walk = counting  # type: ignore[method-assign]  # counting the nodes each walk visits
    reads = [cache.request(f, start=s, end=e, user=u).read for f, _, s, e, u in stream]
    assert max(walked[2:]) <= 3  # one finger, then at most the new edge and a split
    # request k (3 + k + 1 blocks and a 20-token tail) reads the common prefix the request before it
    # persisted once complete: the hashed blocks of request k - 2, 3 + k - 1 of them
    assert reads[:2] == [0, 0] and reads[2:] == [64 * (3 + k - 1) for k in range(2, 40)]


def test_nodes_skipped_by_fingers_are_not_forgotten_while_below_them_is_live():
    """Eviction 100 s, so ``last`` is kept lazily to 25 s: conversation A (head H, then one new block
    and a 20-token tail per request) reaches its finger every 10 s from t = 15 to 45, so the head
    node above its fingers was last written at 25 (the first request of the epoch starting at 25).
    At t = 135 (a sweep is due, then C's first request walks from the root) the head's stored time
    is 110 s old, past the limit, but A had it 90 s before: the sweep asks the subtree (45), keeps
    it, and A at t = 140 still reads the common prefix its request at 45 persisted (ready at
    46 + 5 = 51, idle 89 s): its request at 35's 7 hashed blocks, 448 tokens. The plain shapes,
    walked from the root each time, read the same."""
    spec = [(1, 0, None, [9], 20, None, 0, 1)]  # B at 0: H + one block of its own
    spec += [(0, 0, None, [i], 20, None, 5 if i == 0 else 10, 1) for i in range(5)]  # A at 5 .. 45
    spec += [(2, 0, None, [1], 20, None, 90, 1), (0, 0, None, [5], 20, None, 5, 1)]  # C at 135, A at 140
    stream, m = block_stream(spec)
    fast = DeepSeekCache(m, construction_delay_s=5, eviction_idle_s=100)
    slow = DeepSeekCache(m, construction_delay_s=5, eviction_idle_s=100)
    asked = []
    true_last = fast._true_last

    def counting(node):
        asked.append(node.depth)
        return true_last(node)

    fast._true_last = counting  # type: ignore[method-assign]  # recording when the subtree is asked
    reads = []
    for f, s, start, end, user in stream:
        a = fast.request(f, start=start, end=end, user=user)
        assert a == slow.request(s, start=start, end=end, user=user)
        reads.append(a.read)
    assert [start for _, _, start, _, _ in stream] == [0, 5, 15, 25, 35, 45, 135, 140]
    assert asked and reads[-1] == 448


# --- the sweep: what it leaves (branch dscpu: a node's children are looked at one by one only when
# the idlest of them is past ``forget``; its units only when ``umin`` says one may be idle) -------


def _tree_left(cache: DeepSeekCache, now: float) -> tuple[int, int]:
    """(nodes, units) in the tree, after asserting that no child left is forgotten at ``now`` and no
    unit left is idle past the eviction time (ready by ``now``)."""
    nodes = units = 0
    for roots in cache._trees.values():
        stack = list(roots.values())
        while stack:
            v = stack.pop()
            nodes += 1
            assert not v.dead
            for at in (v.exact or {}).values():
                for u in at.values():
                    units += 1
                    assert not (u.ready <= now and now - max(u.used, u.ready) > cache.evict)
                    assert v.umin <= max(u.used, u.ready)
            for kid in (v.kids or {}).values():
                assert not cache._stale(kid, now)
                stack.append(kid)
    return nodes, units


@settings(max_examples=300, deadline=None)
@given(st.lists(request_spec, min_size=1, max_size=30), params)
def test_a_sweep_leaves_nothing_forgotten_and_outcomes_unchanged(spec, kw):
    """After each sweep the tree holds no forgotten prefix and no evicted unit (the pre-checks skip
    only nodes with nothing to drop), and a cache swept before every request returns the same outcomes as one swept every ``eviction_idle_s``."""
    ms = Pieces()
    stream = build(ms, spec)
    lazy = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100, **kw)  # type: ignore[arg-type]  # a test measurer
    eager = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100, **kw)  # type: ignore[arg-type]  # a test measurer
    for shape, start, end, user in stream:
        eager._sweep(start)
        _tree_left(eager, start)
        assert lazy.request(shape, start=start, end=end, user=user) == eager.request(
            shape, start=start, end=end, user=user
        )


def test_a_cache_let_go_frees_its_tree_with_the_collector_off():
    """The tree's links up make cycles: a cache dropped while the collector is quiet (as during a
    simulation, ``partition.quiet_collector``) must not keep its nodes until the next full
    collection, beside the next simulation's (``Simulations.mixed``: the hybrid placement's peak).
    ``DeepSeekCache.__del__`` cuts the links; reference counting frees every node."""
    from promptcache.simulate import deepseek

    ms = Pieces()
    spec = [([(k % 3, 24, [k % 4], 0)], 1 if k else 0, None, 1, 3, 0.5) for k in range(12)]
    with collector_off(deepseek._Node) as made:
        cache = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100)  # type: ignore[arg-type]  # a test measurer
        for shape, start, end, user in build(ms, spec):
            cache.request(shape, start=start, end=end, user=user)
        assert made() > 10  # a tree was built: several prompts, each extending the last
        del cache
        assert made() == 0


@contextmanager
def collector_off(kind: type) -> Iterator[Callable[[], int]]:
    """The collector off for the block, which gets a count of the objects of ``kind`` alive now
    beyond those alive before it (after a full collection): what reference counting alone frees."""

    def alive() -> int:
        return sum(1 for o in gc.get_objects() if type(o) is kind)

    gc.collect()
    before = alive()
    gc.disable()
    try:
        yield lambda: alive() - before
    finally:
        gc.enable()


# --- chat fingers (branch dsfast): a chat request of ``chat_depth`` pieces or more starts its walk at
# the node the previous turn of its conversation left (found by its chain keys), and looks for its
# unit from there up --------------------------------------------------------------------------------


def _subtree_last(v) -> float:
    """The true ``last`` of a node (the largest in its subtree), read without writing it back."""
    return max([v.last, *(_subtree_last(k) for k in (v.kids or {}).values())])


def _tree_state(cache: DeepSeekCache) -> dict:
    """Every node left in the tree (by scope, depth and chain key): its edge, its units in the order
    they are kept (exact and partial, with their times), and its true ``last`` (a stored one may lag
    it where a walk started below: ``_lazy_last``)."""
    out = {}
    for scope, roots in cache._trees.items():
        stack = list(roots.values())
        while stack:
            v = stack.pop()
            assert not v.dead
            exact = [(k, off, u.ready, u.used) for k, at in (v.exact or {}).items() for off, u in at.items()]
            partial = [(b, off, u.ready, u.used) for b, us in (v.partial or {}).items() for off, u in us]
            out[(scope, v.depth, v.chain)] = (list(v.chains), list(v.keys), exact, partial, _subtree_last(v))
            stack.extend((v.kids or {}).values())
    return out


@settings(max_examples=600, deadline=None)
@given(st.lists(request_spec, min_size=1, max_size=30), params, st.booleans())
def test_chat_fingers_change_no_outcome_unit_or_prefix(spec, kw, bounded):
    """A cache taking a chat finger on every request (``chat_depth = 1``) against one that never does
    (every walk from the root) and the plain per-piece model: the same outcome for every request,
    and after it the same tree (nodes, edges, units with their ready and used times, in the same
    order, true ``last`` times), so the same units read, written and evicted."""
    ms = Pieces()
    stream = build(ms, spec)
    fast = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100, bounded=bounded, **kw)  # type: ignore[arg-type]  # a test measurer
    slow = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100, bounded=bounded, **kw)  # type: ignore[arg-type]  # a test measurer
    fast.chat_depth, slow.chat_depth = 1, 10**9
    ref = (BoundedReference if bounded else OldDeepSeekCache)(ms, construction_delay_s=5, eviction_idle_s=100, **kw)
    for shape, start, end, user in stream:
        a = fast.request(shape, start=start, end=end, user=user)
        assert a == slow.request(shape, start=start, end=end, user=user)
        assert a == ref.request(shape, start=start, end=end, user=user)
        assert _tree_state(fast) == _tree_state(slow)
    assert not slow._fingers


def test_a_chat_turn_starts_at_the_finger_its_previous_turn_left():
    """A conversation of 8-token turns (system S, then user U_i, reply R_i as the output, replayed in
    the next prompt, and a 2-token generation piece g), one request every 10 s: turn i (from 0) is
    S U_0 R_0 .. U_i g, 2i + 3 pieces. From the second turn on, the request does not walk from the
    root (``_walk_hit``) but starts at the node the turn before left, its reply after its prompt
    (depth 2i + 1), and reads that reply's unit: the previous prompt and reply, 8 * (2i + 1) tokens."""
    ms = Pieces()
    g = ms.piece((7, 7))
    system = ms.piece(BASES[0][:8])
    cache = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100)  # type: ignore[arg-type]  # a test measurer
    cache.chat_depth = 3
    walked = []
    walk_hit = cache._walk_hit

    def from_root(*args):
        walked.append(args[0].depth)
        return walk_hit(*args)

    cache._walk_hit = from_root  # type: ignore[method-assign]  # recording the walks from the root
    keys: list[int] = [system]
    reads, started = [], []
    for i in range(6):
        keys = [*keys, ms.piece((500 + i,) * 8)]
        reply = ms.piece((600 + i,) * 8)
        ks = [*keys, g]
        shape = Shape(ks, [8] * len(keys) + [2], ("x",) * len(ks), tuple(range(len(ks))), chain_of(ks), reply, 8, True)
        fingers = cache._fingers.get("", {})
        started.append(sorted(x.depth for x in fingers.values()))
        reads.append(cache.request(shape, start=10.0 * i, end=10.0 * i + 1, user=None).read)
        keys = [*keys, reply]
    assert walked == [0]  # the first turn only
    assert started == [[]] + [[2 * i + 1] for i in range(1, 6)]
    assert reads == [0] + [8 * (2 * i + 1) for i in range(1, 6)]


@settings(max_examples=300, deadline=None)
@given(st.lists(request_spec, min_size=1, max_size=30), params, st.booleans())
def test_the_common_prefix_inside_a_piece_is_looked_for_only_under_a_node_with_children(spec, kw, bounded):
    """``request`` asks ``_inside`` for the blocks a request's next piece shares with an earlier one
    only where its walk ended on a node with children: a childless node (most walks end on the
    previous turn's end) shares none, and ``_inside`` gave 0 there after looking up the piece's
    blocks. The outcomes stay the reference model's."""
    ms = Pieces()
    stream = build(ms, spec)
    cache = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100, bounded=bounded, **kw)  # type: ignore[arg-type]  # a test measurer
    ref = (BoundedReference if bounded else OldDeepSeekCache)(ms, construction_delay_s=5, eviction_idle_s=100, **kw)
    asked = []
    inside = cache._inside

    def recorded(node, key, tokens, now):
        asked.append(bool(node.kids))
        return inside(node, key, tokens, now)

    cache._inside = recorded  # type: ignore[method-assign]  # recording what ``request`` asks
    for shape, start, end, user in stream:
        assert cache.request(shape, start=start, end=end, user=user) == ref.request(shape, start=start, end=end, user=user)
    assert all(asked)


def test_a_new_turn_after_the_previous_end_does_not_look_up_its_blocks():
    """Two turns of one conversation (pieces of 8 tokens, blocks of 4; S the system prompt, U0 and U1
    user turns, R0 the first reply, g the generation piece). The first request's walk ends at its
    new root, the second's at the first one's output (the prefix S U0 R0, the reply replayed):
    neither node has children, so neither request looks up the blocks of the piece after it (S for
    the first, U1 for the second). The second reads the first's end-of-output unit: S U0 R0, 24
    tokens."""
    ms = Pieces()
    g = ms.piece((7, 7))
    s, u0, r0, u1 = (ms.piece((x,) * 8) for x in (1, 2, 3, 4))
    looked: list[int] = []
    blocks = ms.blocks

    def counted(key: int) -> array:
        looked.append(key)
        return blocks(key)

    cache = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100)  # type: ignore[arg-type]  # a test measurer
    first = [s, u0, g]
    second = [s, u0, r0, u1, g]
    shapes = [
        Shape(first, [8, 8, 2], ("x",) * 3, (0, 1, 2), chain_of(first), r0, 8, True),
        Shape(second, [8, 8, 8, 8, 2], ("x",) * 5, tuple(range(5)), chain_of(second), None, 0, True),
    ]
    reads = []
    for i, shape in enumerate(shapes):
        looked.clear()
        ms.blocks = counted  # type: ignore[method-assign]  # counting the look-ups of this request
        reads.append(cache.request(shape, start=10.0 * i, end=10.0 * i + 1, user=None).read)
        ms.blocks = blocks  # type: ignore[method-assign]
        assert shape.keys[0 if i == 0 else 3] not in looked  # the piece after the walk's end
    assert reads == [0, 24]  # the second reads the first's prompt and reply: S U0 R0
