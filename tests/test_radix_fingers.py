"""Block-hash requests that start where their conversation's previous request ended (issue 15).

OpenAI's automatic cache walks a ``BlockShape`` from a *finger* (``RadixIndex.request``: the edge
the previous request on its run of ids covered whole) and reads and refreshes the edges above it in
one pass up their parent links; a plain shape of the same call walks from the root (``match``,
``live``, ``add``). Anthropic's look-back visits only the depths of entries under the prompt's own
first piece (``DepthStore`` per root). Both must give every request the same outcome as the walk
from the root, whatever the sweeps drop in between.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from test_deepseek_radix import block_request, block_stream

from promptcache.measure.blocks import BlockShape
from promptcache.measure.shape import Measurer
from promptcache.model.calls import Call, Usage
from promptcache.read.traces import ScopedIds, block_segments
from promptcache.simulate.anthropic import AnthropicCache
from promptcache.simulate.openai import OpenAIAutoCache
from promptcache.simulate.radix import DepthStore, Sweeper


class _EveryRequest(Sweeper):
    """Sweep before every request (the policies sweep once the state may have doubled)."""

    def tick(self, now: float) -> bool:
        super().tick(now)
        return True


def _never(policy):
    policy._sweeper.due = math.inf
    return policy


@settings(max_examples=300, deadline=None)
@given(
    st.lists(block_request, min_size=1, max_size=40),
    st.booleans(),
    st.sampled_from([64, 128, 200, 1024]),
    st.sampled_from([(30, 100), (100, 100), (300, 3600)]),
    st.sampled_from([15.0, 2.0, 1.0]),
    st.booleans(),
)
def test_openai_finger_walk_equals_the_walk_from_the_root(spec, by_user, minimum, limits, rpm, sweep_every):
    """Every request's outcome through the finger walk equals the same call's as a plain shape
    walked from the root: forks (a finger on the run forked from), compactions, interleaved
    conversations, prompts too short to be cached, gaps past the idle time and the cap, overflow
    machines (a tree each), and fingers to edges a sweep dropped (refused: from the root)."""
    stream, m = block_stream(spec)
    idle, cap = limits

    def make():
        return OpenAIAutoCache(m, min_tokens=minimum, increment_tokens=64, idle_s=idle, cap_s=cap,
                               routing_prefix_tokens=100, overflow_rpm=rpm, scope_by_user=by_user)

    fast, slow = make(), _never(make())
    if sweep_every:
        fast._sweeper = _EveryRequest()
    for fshape, sshape, start, end, user in stream:
        assert type(fshape) is BlockShape
        a = fast.request(fshape, start=start, end=end, user=user)
        assert a == slow.request(sshape, start=start, end=end, user=user)
    for tree in fast._trees.values():  # a finger left after a sweep is an edge still in the tree
        for edge in tree.fingers.values():
            e = edge
            while e.parent is not None:
                assert e.parent.children is not None and e.parent.children[e.keys[0]] is e
                e = e.parent
            assert e is tree.root


@settings(max_examples=200, deadline=None)
@given(st.lists(block_request, min_size=1, max_size=40), st.sampled_from(["auto", "auto-1h"]), st.booleans())
def test_anthropic_depths_per_root_equal_one_list_of_depths(spec, mode, by_user):
    """The look-back over the depths of the prompt's own root reads what a look-back over the depths
    of every entry reads (``root=0`` for every prompt: one list, as before), request by request."""
    stream, m = block_stream(spec)

    def make():
        return AnthropicCache(m, min_tokens=128, ttl_5m_s=30, ttl_1h_s=100, breakpoints=mode, scope_by_user=by_user)

    fast, one = make(), make()

    class OneRoot(DepthStore):
        def depths_of(self, root: int = 0) -> list[int]:
            return super().depths_of(0)

        def put(self, key, depth, tokens, ready, now, ttl, root=0):  # type: ignore[override]  # one root
            super().put(key, depth, tokens, ready, now, ttl, 0)

    one._store = lambda user, call: one._stores.setdefault(one._scope_id(user, call), OneRoot())  # type: ignore[method-assign]  # the store under test
    for fshape, _, start, end, user in stream:
        a = fast.request(fshape, start=start, end=end, user=user)
        assert a == one.request(fshape, start=start, end=end, user=user)


def _conversation(turns: int, step: int = 3, others: tuple[int, ...] = ()):
    """Conversations of ``others[k]`` blocks and a 20-token tail, one request each (other first
    blocks), then one conversation that starts at 20 blocks and grows by ``step`` blocks a turn
    (a 20-token tail of its own each time)."""
    m = Measurer("blocks")
    out = []
    for k, n in enumerate(others):
        total = 64 * n + 20
        segs = block_segments([5000 + 100 * k + j for j in range(n)], total, 64, 1, ("o", k), ScopedIds(1))
        out.append(m.shape(Call(source="s", line=k, model="t", segments=segs, usage=Usage(total, 1)), trust_usage=True))
    delta = ScopedIds(1)
    ids = list(range(1, 21 - step))
    for k in range(turns):
        ids = ids + [100 + step * k + j for j in range(step)]
        total = 64 * len(ids) + 20
        segs = block_segments(ids, total, 64, 1, ("c", k), delta)
        out.append(m.shape(Call(source="s", line=100 + k, model="t", segments=segs, usage=Usage(total, 1)), trust_usage=True))
    return out, m


def test_openai_finger_worked_example():
    """Turn k of a conversation (17 + 3k blocks and a 20-token tail, 1 s apart): each turn leaves
    the previous one's leaf edge before its tail, so the path from the root grows by an edge a turn.
    A turn's finger is the deepest edge of its path within its run's blocks: the one that ends where
    the previous turn's blocks end (its own new blocks and tail are one leaf below it). So the next
    turn looks up one edge below its finger (that leaf, split before the tail) and adds one.

    Turn 6 (35 blocks) after turn 5 (32 blocks and a tail): reads 32 blocks, 2,048 tokens, which
    is 1,024 + 8 x 128 (``min_tokens`` 1,024, steps of 128): all of them.
    """
    shapes, m = _conversation(6)
    policy = OpenAIAutoCache(m, overflow_rpm=0)
    outs = [policy.request(s, start=float(k), end=k + 0.2, user=None) for k, s in enumerate(shapes)]
    assert [o.read for o in outs] == [0, 1280, 1408, 1664, 1792, 2048]  # 20, 23, ... blocks: whole 128s
    (tree,) = policy._trees.values()
    run = shapes[-1].segs.run
    finger = tree.fingers[run]
    assert finger.depth + len(finger.keys) == 32  # turn 5's blocks
    # below it: turn 5's tail, and turn 6's new blocks with its tail
    assert sorted(len(c.keys) for c in finger.children.values()) == [1, 3 + 1]
    path = []
    e = finger
    while e is not tree.root:
        path.append(len(e.keys))
        e = e.parent
    assert path[::-1] == [20, 3, 3, 3, 3]  # an edge a turn, the finger last


def test_openai_finger_to_a_swept_edge_is_refused():
    """Past the idle time every edge is swept: the finger left on the run points to a dropped edge,
    so the next turn walks from the root (nothing there: a miss), as a plain walk would."""
    shapes, m = _conversation(3)
    policy = OpenAIAutoCache(m, overflow_rpm=0, idle_s=300)
    for k, s in enumerate(shapes[:2]):
        policy.request(s, start=float(k), end=k + 0.2, user=None)
    (tree,) = policy._trees.values()
    finger = tree.fingers[shapes[1].segs.run]
    policy.sweep(1000.0)
    assert finger.dead and not policy._trees
    assert policy.request(shapes[2], start=1000.0, end=1000.2, user=None).read == 0


def test_openai_finger_dropped_under_a_live_head_is_refused():
    """Conversations A and B share a 20-block head. A's turns at 0 and 1 s; B's every 20 s; A's
    third turn at 100 s. A sweep at 100 s drops A's own edges (idle past 30 s) but keeps the head
    (B used it at 80 s): A's finger points to a dropped edge, which is refused, so the turn walks
    from the root, reads the live head (20 blocks: 1,280 tokens) and hangs its own blocks under it,
    where a walk from the root finds them again."""
    m = Measurer("blocks")
    head = list(range(1, 21))

    def shape(ids, delta, line):
        total = 64 * len(ids) + 20
        segs = block_segments(ids, total, 64, 1, line, delta)
        return m.shape(Call(source="s", line=line, model="t", segments=segs, usage=Usage(total, 1)), trust_usage=True)

    a, b = ScopedIds(1), ScopedIds(1)
    policy = OpenAIAutoCache(m, overflow_rpm=0, idle_s=30, cap_s=3600)
    policy._sweeper = _EveryRequest()
    turns = [(0.0, shape(head + [31, 32], a, 1)), (1.0, shape(head + [31, 32, 33, 34], a, 2))]
    for t, s in turns:
        policy.request(s, start=t, end=t + 0.2, user=None)
    (tree,) = policy._trees.values()
    finger = tree.fingers[turns[1][1].segs.run]
    for k in range(1, 5):
        policy.request(shape(head + [50 + k], b, 10 + k), start=20.0 * k, end=20.0 * k + 0.2, user=None)
    third = shape(head + [31, 32, 33, 34, 35], a, 3)
    assert policy.request(third, start=100.0, end=100.2, user=None).read == 1280
    assert finger.dead
    e = tree.fingers[third.segs.run]
    while e is not tree.root:  # the new finger hangs in the tree, not under the dropped edge
        assert e.parent.children[e.keys[0]] is e
        e = e.parent
    assert e is tree.root


def test_anthropic_look_back_visits_only_its_roots_depths():
    """Nine other conversations (other first blocks) write entries at depths 21..29; then a
    conversation's first turn (20 blocks and a tail) writes at depth 20, and its second (30 blocks)
    looks back from depth 30: only its own root's depths are visited, depth 20, one lookup, where
    one list of every entry's depths had it visit 21..29 first (ten lookups). It reads 20 blocks,
    1,280 tokens."""
    shapes, m = _conversation(2, step=10, others=tuple(range(21, 30)))
    policy = AnthropicCache(m, min_tokens=1024, breakpoints="auto")
    gets: list[int] = []
    for k, s in enumerate(shapes):
        store = policy._store(None, None)
        if not isinstance(store.entries, _Counting):
            store.entries = _Counting(store.entries, gets)
        gets.clear()
        o = policy.request(s, start=float(k), end=k + 0.2, user=None)
    assert store.depths == list(range(20, 31))
    assert store.depths_of(shapes[-1].chain_at(1)) == [20, 30]
    assert o.read == 64 * 20
    assert len(gets) == 1 + 1  # the look-back's one lookup, and the write's (``put``)


class _Counting(dict):
    """The store's entries, counting lookups."""

    def __init__(self, d, log):
        super().__init__(d)
        self.log = log

    def get(self, key, default=None):
        self.log.append(key)
        return super().get(key, default)


@settings(max_examples=200, deadline=None)
@given(st.lists(block_request, min_size=1, max_size=12), st.lists(st.integers(-5, 2000), min_size=1, max_size=12))
def test_deepseek_block_cum_first_reaching_equals_bisection(spec, positions):
    """DeepSeek places a unit in the first piece that reaches its end: for a ``BlockShape`` in O(1)
    (``_BlockCum.first_reaching``), equal to the bisection over the prefix sums it replaced."""
    from bisect import bisect_left

    from promptcache.simulate.deepseek import _BlockCum

    stream, _ = block_stream(spec)
    for fshape, sshape, *_ in stream:
        n = len(fshape.segs)
        cum = _BlockCum(fshape, n)
        plain = [sum(sshape.tokens[:k]) for k in range(n + 1)]
        for pos in [*positions, *plain, *(p + 1 for p in plain)]:
            assert cum.first_reaching(pos) == bisect_left(cum, pos, 1) == bisect_left(plain, pos, 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(block_request, min_size=1, max_size=40), st.sampled_from([0, 100]))
def test_deepseek_sweep_skips_only_nodes_without_idle_units(spec, interval):
    """A sweep looks at a node's units only when its bound (``umin``: at most the earliest
    ``max(used, ready)`` of them, lowered by a hit that sets ``used`` before a later ``ready``) says
    one may be idle past the eviction time. The bound holds on every node after every request,
    and after each sweep no unit left in the tree is evicted: the sweep forgets what it did before."""
    from promptcache.simulate.deepseek import DeepSeekCache

    stream, m = block_stream(spec)
    policy = DeepSeekCache(m, construction_delay_s=5, eviction_idle_s=100, interval_tokens=interval)
    for fshape, _, start, end, user in stream:
        policy._next_sweep = -math.inf  # a sweep before every request
        policy.request(fshape, start=start, end=end, user=user)
        nodes = [r for roots in policy._trees.values() for r in roots.values()]
        while nodes:
            node = nodes.pop()
            nodes.extend((node.kids or {}).values())
            units = [u for at in (node.exact or {}).values() for u in at.values()]
            assert all(node.umin <= max(u.used, u.ready) for u in units)
            assert all(policy._alive(u.ready, u.used, start) or u.ready > start for u in units)


def test_deepseek_hit_lowers_the_sweep_bound():
    """A unit's ``used`` can go below its first ``ready``: R2 (1 s to 30 s) persists the unit at
    its common prefix with R1 (20 blocks) ready at 35 s; R3 (the 20 blocks alone, at 2 s) persists
    the same unit as its input's end, ready at 7 s; R4 (at 10 s) reads it: last used at 10 s. R5
    (at 100 s) reads a longer unit (25 blocks, R1b's common prefix with R1) and keeps the 20-block
    prefix remembered. With
    eviction at 100 s, the unit read at 10 s is gone at 115 s, and the sweep there must look at it
    though its first ``ready`` (35 s) is within 100 s: the hit lowered the node's bound to 10 s."""
    from promptcache.simulate.deepseek import DeepSeekCache

    m = Measurer("blocks")
    delta = ScopedIds(1)

    def shape(ids, tail, line):
        total = 64 * len(ids) + tail
        segs = block_segments(ids, total, 64, 1, line, delta)
        return m.shape(Call(source="s", line=line, model="t", segments=segs, usage=Usage(total, 1)), trust_usage=True)

    head = list(range(1, 21))
    policy = DeepSeekCache(m, construction_delay_s=5, eviction_idle_s=100)
    reads = [
        policy.request(shape(ids, tail, line), start=start, end=end, user=None).read
        for line, (ids, tail, start, end) in enumerate([
            (head + [21, 22, 23, 24, 25], 20, 0.0, 1.0),
            (head + [99], 20, 1.0, 30.0),
            (head + [21, 22, 23, 24, 25, 30], 20, 1.5, 2.0),
            (head, 0, 2.0, 2.2),
            (head + [50], 20, 10.0, 10.2),
            (head + [21, 22, 23, 24, 25, 40], 20, 100.0, 100.2),
        ])
    ]
    assert reads == [0, 0, 0, 0, 64 * 20, 64 * 25]

    def units():
        nodes = [r for roots in policy._trees.values() for r in roots.values()]
        while nodes:
            node = nodes.pop()
            nodes.extend((node.kids or {}).values())
            yield from ((node.depth, u.used) for at in (node.exact or {}).values() for u in at.values())

    assert (19, 10.0) in units()
    policy._sweep(115.0)
    assert (19, 10.0) not in units() and any(d >= 19 for d, _ in units())
