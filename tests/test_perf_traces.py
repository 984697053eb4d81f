"""Block-hash traces take the delta path (issue 15); these tests check it against plain computations.

The ideal cache sends block-hash shapes to a prefix tree of block hashes
(``cachesim.prefixtree.BlockPrefixes``) instead of the piece-by-piece ``PrefixIndex``: it must give
every request the same read as the plain definition (the longest prefix, in blocks, shared with
any earlier request in its scope) and as the piece index it replaces.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.measure.shape import Measurer
from promptcache.model.calls import Call, Segment, Usage
from promptcache.model.keys import text_key
from promptcache.simulate.engine import INF, PrefixIndex
from promptcache.simulate.ideal import IdealCache, ideal_hits


def _call(ids: list[int], tail: int, n: int) -> Call:
    segs = [Segment("block", block_id=h, block_tokens=64) for h in ids]
    if tail:
        segs.append(Segment("block", block_id=hash(("tail", n)), block_tokens=tail))
    return Call(source="t", line=n, model="trace", segments=segs, usage=Usage(64 * len(ids) + tail, 1))


def _naive(requests: list[tuple[list[int], int, str]], by_user: bool) -> list[int]:
    """The definition: tokens of the longest block prefix shared with any earlier request in scope."""
    seen: list[tuple[str, list[int]]] = []
    out = []
    for ids, _tail, user in requests:
        best = 0
        for u, prev in seen:
            if by_user and u != user:
                continue
            n = 0
            for a, b in zip(prev, ids):
                if a != b:
                    break
                n += 1
            best = max(best, n)
        out.append(64 * best)
        seen.append((user, ids))
    return out


# sessions that grow, rewrite their last block, get compacted, and share heads across sessions
request_lists = st.lists(
    st.tuples(st.integers(0, 5),  # which earlier request to extend (mod the count so far), or fresh
              st.integers(0, 40),  # how many of its blocks to keep
              st.lists(st.integers(1, 6), max_size=12),  # new block ids (a small alphabet: collisions)
              st.integers(0, 63),  # partial tail
              st.sampled_from(["u1", "u2"])),
    min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(request_lists, st.booleans())
def test_ideal_block_path_equals_definition_and_piece_index(spec, by_user):
    requests: list[tuple[list[int], int, str]] = []
    for pick, keep, new, tail, user in spec:
        base = requests[pick % len(requests)][0][:keep] if requests and pick else []
        requests.append((base + new, tail if base + new else tail + 1, user))  # never an empty prompt
    m = Measurer("blocks")
    fast = IdealCache(m, scope_by_user=by_user)
    slow: dict[str, PrefixIndex] = {}
    want = _naive(requests, by_user)
    for n, (ids, tail, user) in enumerate(requests):
        shape = m.shape(_call(ids, tail, n), trust_usage=True)
        got = fast.request(shape, start=float(n), end=float(n), user=user)
        index = slow.setdefault(user if by_user else "", PrefixIndex(m))
        lcp, _ = index.lcp(shape, float(n))
        index.add(shape, float(n), -INF, INF, INF)
        assert got.read == want[n] == min(lcp, shape.total)
        assert got.total == 64 * len(ids) + tail


def test_ideal_hits_worked_example():
    # request 1: blocks a b c + 10-token tail; nothing cached -> 0 of 202
    # request 2: blocks a b d + 5-token tail; a b were seen -> 128 of 197
    # request 3: blocks a b c e; a b c were seen -> 192 of 256
    calls = [_call([1, 2, 3], 10, 0), _call([1, 2, 4], 5, 1), _call([1, 2, 3, 5], 0, 2)]
    assert ideal_hits(calls) == (0 + 128 + 192, 202 + 197 + 256)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["c1", "c2", None]), st.integers(0, 30),
                          st.lists(st.integers(-3, 3), max_size=10)), min_size=1, max_size=30))
def test_block_delta_chain_equals_chain_of(spec):
    """Chain keys from the conversation's previous request (hashing only new blocks) are
    exactly those computed from scratch, whatever the previous request shared."""
    from array import array

    from promptcache.measure.delta import BlockDelta
    from promptcache.measure.shape import ROOT, chain_of

    delta = BlockDelta()
    last: dict = {}
    for conv, keep, new in spec:
        keys = array("q", list(last.get(conv, []))[:keep] + new)
        last[conv] = keys
        assert delta.chain(conv, keys, ROOT) == chain_of(list(keys))


def test_repeat_is_a_read_only_tuple():
    from promptcache.measure.delta import Repeat

    r = Repeat("block", 4)
    assert r == ("block",) * 4 and ("block",) * 4 == r and list(r) == ["block"] * 4
    assert r[1:3] == ("block", "block") and r[-1] == "block" and "block" in r and "user" not in r
    assert [*r[:2], "system", *r[2:]] == ["block", "block", "system", "block", "block"]
    assert Repeat("block", 0) == () and len(r[5:]) == 0


def _plain_segments(hash_ids, total, block, scope, tail_key):
    """The reader's blocks as it built them before ``BlockSegments``: one Segment per block."""
    n = len(hash_ids)
    segs = []
    for i, h in enumerate(hash_ids):
        size = block if i < n - 1 or n * block <= total else total - (n - 1) * block
        segs.append(Segment("block", block_id=hash((scope, h)), block_tokens=size))
    if total - n * block > 0:
        tail_id = text_key(f"{scope}:{tail_key!r}", b"tail")  # stable in every process (model/keys.py)
        segs.append(Segment("block", block_id=tail_id, block_tokens=total - n * block))
    return segs


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 30), st.lists(st.integers(-2**63, 2**63 - 1) |
                                                                          st.integers(0, 5), max_size=8),
                          st.integers(0, 200)), min_size=1, max_size=25))
def test_reader_delta_ids_equal_plain_segments(spec):
    """Block ids hashed only past the prefix shared with the previous request (``ScopedIds``) are
    the ids hashed one by one, and the compact ``BlockSegments`` is the list of segments it stands for."""
    from promptcache.read.traces import ScopedIds, block_segments

    delta = ScopedIds(12345)
    prev: list[int] = []
    for n, (pick, keep, new, extra) in enumerate(spec):
        ids = (prev[:keep] if pick else []) + new
        total = 64 * len(ids) + extra if extra < 64 or not ids else 64 * len(ids) - (extra % 64)
        got = block_segments(ids, max(total, 0), 64, 12345, n, delta)
        assert list(got) == _plain_segments(ids, max(total, 0), 64, 12345, n) == got
        assert [s.block_tokens for s in got] == list(got.sizes) and len(got) == len(got.ids)
        prev = ids


def test_reader_refuses_non_integer_ids_as_before():
    import pytest

    from promptcache.read.common import LineError
    from promptcache.read.traces import ScopedIds, block_segments

    for bad, at in (([1, 2, True], 2), ([1.5], 0), ([1, "2"], 1), ([None], 0)):
        with pytest.raises(LineError, match=rf"`hash_ids\[{at}\]` is not an integer"):
            block_segments(bad, 64 * len(bad), 64, 1, 0, ScopedIds(1))
    # ids past 64 bits are fine: hashed the plain way
    big = [2**70, 2**70 + 1]
    assert list(block_segments(big, 128, 64, 1, 0, ScopedIds(1))) == _plain_segments(big, 128, 64, 1, 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 100), min_size=1, max_size=30), st.integers(0, 3200))
def test_deepseek_unit_position_by_bisection_equals_the_walk(tokens, pos):
    """``DeepSeekCache._add_unit_at`` finds the piece holding ``pos`` by bisection over cumulative
    counts; the walk over the pieces it replaced picks the same piece and offset (zero-token pieces too)."""
    from itertools import accumulate

    from promptcache.measure.shape import Shape, chain_of
    from promptcache.simulate.deepseek import DeepSeekCache

    keys = list(range(100, 100 + len(tokens)))
    shape = Shape(keys, tokens, ["user"] * len(keys), list(range(len(keys))), chain_of(keys), None, 0, True)
    got: list[tuple] = []
    cache = DeepSeekCache(Measurer("blocks"))
    # the radix tree's node at a depth stands for the chain key there
    cache._node_at = lambda path, depth: depth  # type: ignore[method-assign,assignment,return-value]  # a depth for a node
    cache._add_unit = lambda node, key, off, ready, now: got.append((shape.chain[node], key, off))  # type: ignore[method-assign,index]  # node is a depth here
    cache._add_unit_at([], shape.keys, shape.tokens, pos, 1.0, 0.0, list(accumulate(tokens, initial=0)))
    want: list[tuple] = []
    before = 0
    for k, n in enumerate(tokens):  # the walk, as it was
        if pos <= before + n:
            if pos == before and k > 0:
                want.append((shape.chain[k - 1], keys[k - 1], tokens[k - 1]))
            else:
                want.append((shape.chain[k], keys[k], pos - before))
            break
        before += n
    assert got == want


# --- requests as prefixes of shared runs (BlockRun, BlockShape): equal to the plain forms ----------

# each request: which earlier request it starts from (0 = fresh), how many of its ids it keeps,
# new ids, and tokens past its full blocks (a partial last block or an unhashed tail)
run_specs = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 40), st.lists(st.integers(-3, 40), max_size=10),
              st.integers(-63, 100)),
    min_size=1, max_size=40)


def _requests(spec):
    out: list[tuple[list[int], int]] = []
    for pick, keep, new, extra in spec:
        base = out[-1 - pick % len(out)][0][:keep] if out and pick else []
        ids = base + new
        total = max(64 * len(ids) + (extra if ids else abs(extra)), 0)
        out.append((ids, total))
    return out


@settings(max_examples=200, deadline=None)
@given(run_specs, st.integers(1, 3))
def test_block_runs_equal_plain_segments_and_never_change(spec, depth):
    """Each request read into its conversation's run tree is the list of segments hashed one by one,
    whichever earlier request it extends, rewrites or cuts (forks, deep fork chains copied into a
    new root), and stays so after later requests were added."""
    from promptcache.model.calls import BlockRun
    from promptcache.read.traces import ScopedIds, block_segments

    old = BlockRun.MAX_DEPTH
    BlockRun.MAX_DEPTH = depth  # small, so the copy of a deep chain is exercised too
    try:
        delta = ScopedIds(99)
        got = []
        for n, (ids, total) in enumerate(_requests(spec)):
            segs = block_segments(ids, total, 64, 99, n, delta)
            assert list(segs) == _plain_segments(ids, total, 64, 99, n)
            got.append((segs, ids, total, n))
        for segs, ids, total, n in got:  # handed-out prefixes never change
            plain = _plain_segments(ids, total, 64, 99, n)
            assert list(segs) == plain and [segs[i] for i in range(-len(plain), len(plain))] == plain + plain
            assert list(segs.ids) == [s.block_id for s in plain] and list(segs.sizes) == [s.block_tokens for s in plain]
            assert segs.total == sum(s.block_tokens for s in plain) and segs.run.depth <= depth
    finally:
        BlockRun.MAX_DEPTH = old


@settings(max_examples=150, deadline=None)
@given(run_specs, st.integers(1, 4))
def test_block_shape_equals_plain_shape(spec, live):
    """A ``BlockShape`` (arrays built on access, forgotten and rebuilt) equals the plain shape of the
    same call as a list of segments, and its array-free answers equal the arrays'."""
    from promptcache.measure import blocks
    from promptcache.measure.blocks import BlockShape
    from promptcache.read.traces import ScopedIds, block_segments

    old = blocks.LIVE
    blocks.LIVE = live  # few kept: arrays are forgotten and built again
    try:
        delta = ScopedIds(7)
        fast_m, slow_m = Measurer("blocks"), Measurer("blocks")
        shapes = []
        for n, (ids, total) in enumerate(_requests(spec)):
            segs = block_segments(ids, total, 64, 7, n, delta)
            if not segs:
                continue  # an empty prompt is no block-hash call (measured as text)
            call = Call(source="s", line=n, model="trace", segments=segs, usage=Usage(total, 3), conversation_id="c")
            fast = fast_m.shape(call, trust_usage=True)
            assert type(fast) is BlockShape
            slow = slow_m.shape(Call(source="s", line=n, model="trace", segments=list(segs), usage=Usage(total, 3),
                                     conversation_id="c"), trust_usage=True)
            shapes.append((fast, slow))
        for fast, slow in shapes + shapes[::-1]:
            assert list(fast.keys) == list(slow.keys) and list(fast.tokens) == list(slow.tokens)
            assert fast.chain == slow.chain and fast.total == slow.total == sum(slow.tokens)
            assert list(fast.roles) == list(slow.roles) and list(fast.indexes) == list(slow.indexes)
            assert (fast.out_key, fast.out_tokens, fast.reported, fast.adjust) == (None, 3, True, 0)
            for k in range(len(slow.keys) + 2):
                assert fast.prefix_tokens(k) == sum(slow.tokens[:k])
            for i in range(-len(slow.chain), len(slow.chain)):
                assert fast.chain_at(i) == slow.chain[i]
            if slow.keys:
                assert fast.first_key == slow.keys[0]
    finally:
        blocks.LIVE = old


@settings(max_examples=100, deadline=None)
@given(run_specs, st.booleans())
def test_ideal_on_block_shapes_equals_piece_index(spec, by_user):
    """The ideal cache reads the same from the reader's compact requests as the piece index does."""
    from promptcache.read.traces import ScopedIds, block_segments

    delta = ScopedIds(3)
    m = Measurer("blocks")
    fast = IdealCache(m, scope_by_user=by_user)
    slow: dict[str, PrefixIndex] = {}
    for n, (ids, total) in enumerate(_requests(spec)):
        if not ids and not total:
            continue
        user = "u1" if n % 3 else "u2"
        segs = block_segments(ids, total, 64, 3, n, delta)
        shape = m.shape(Call(source="s", line=n, model="trace", segments=segs, usage=Usage(total, 1),
                             conversation_id="c"), trust_usage=True)
        got = fast.request(shape, start=float(n), end=float(n), user=user)
        index = slow.setdefault(user if by_user else "", PrefixIndex(m))
        lcp, _ = index.lcp(shape, float(n))
        index.add(shape, float(n), -INF, INF, INF)
        assert got.read == min(lcp, shape.total) and got.total == total
        assert fast.footprint(shape, user=user) == IdealCache(m, scope_by_user=by_user).footprint(
            m.shape(Call(source="s", line=n, model="trace", segments=list(segs), usage=Usage(total, 1)),
                    trust_usage=True), user=user)
