"""``measure.shape.ShapeList``: a family's shapes with chat shapes' fields in columns equals, element
by element, the list of the shapes appended (chat shapes of conversations that branch and continue,
plain shapes, block-hash shapes, counts past 32 bits), by index (negative too), slice and
iteration, after later calls extend or fork the runs, with few shapes kept made, and pickled."""

from __future__ import annotations

import pickle

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_chatshape import conversations, same_as_plain, step

from promptcache.advise.whatif import Overlay
from promptcache.measure import shape as shape_mod
from promptcache.measure.blocks import BlockShape
from promptcache.measure.shape import ChatShape, Measurer, Shape, ShapeList
from promptcache.model.calls import Call, Segment, Usage
from promptcache.read.traces import ScopedIds, block_segments
from promptcache.simulate.partition import _footprint_at
from promptcache.simulate.policies import default_rules, make_policy


def policies(m: Measurer) -> list:
    """Every packaged policy that declares a footprint, on ``m``'s pieces, scoped by user or not."""
    out = []
    for name in default_rules().policies:
        for by_user in (False, True):
            pol = make_policy(None, m, policy=name, overrides={"scope_by_user": by_user})
            if hasattr(pol, "footprint_at"):
                out.append(pol)
    return out


def block_shapes(m: Measurer, k: int) -> list[Shape]:
    """``k`` block-hash calls of one conversation, each extending the one before."""
    ids, out, delta = [1000, 1001], [], ScopedIds(1)
    for n in range(k):
        ids = [*ids, 2000 + n]
        segs = block_segments(ids, 64 * len(ids) + 5, 64, 1, n, delta)
        out.append(m.shape(Call(source="b", line=n, model="t", segments=segs, usage=Usage(64 * len(ids) + 5, 1)),
                           trust_usage=True))
    return out


def check_equal(got: ShapeList, want: list[Shape], pols: list = ()) -> None:  # type: ignore[assignment]
    assert len(got) == len(want)
    for i, w in enumerate(want):
        for s in (got[i], got[i - len(want)]):
            assert type(s) is type(w) and s == w
            if type(w) is ChatShape:
                if s.run is not w.run:  # packed: the arena from the run's base, its positions equal
                    assert s.run is got._arena and s.cnt is got._counts and s.base > 0 and w.base == 0
                    assert s.run[2 * s.base : 2 * (s.base + s.n)] == w.run[: 2 * w.n]
                    assert s.cnt[s.base : s.base + s.n] == w.cnt[: w.n]
                    assert s.cnt.typecode == "i" and len(got._arena) == 2 * len(got._counts)
                assert s.roles is w.roles and s.indexes is w.indexes
                assert s.gen_tokens == w.gen_tokens and s.n == w.n and s.gen_key == w.gen_key
                same_as_plain(s, Shape(w.keys, w.tokens, w.roles, w.indexes, w.chain, w.out_key, w.out_tokens,
                                       w.reported, w.adjust))
            else:
                assert s is w  # kept as it is
    for i in range(len(want)):  # the readers: exactly what the shape gives, no shape made
        s = got[i]
        for j in (i, i - len(want)):
            got._last = -1
            assert got.total(j) == s.total and got.out_key(j) == s.out_key and got.pieces(j) == len(s.roles)
            assert got.first_key(j) == (s.keys[0] if len(s.keys) else None)
            assert got.lone_out_key(j) == (s.out_key if len(s.roles) == 1 else None)
            assert got._last == -1  # none made
        same_footprints(got, i, pols)
    listed = list(got)
    assert len(listed) == len(want) and all(type(a) is type(b) and a == b for a, b in zip(listed, want, strict=True))
    assert got[1:-1] == want[1:-1] and got[::2] == want[::2]


def same_footprints(got: ShapeList, i: int, pols: list) -> None:
    """Every policy's ``footprint_at`` (read from the record) equals its ``footprint`` of the shape."""
    for pol in pols:
        for user in (None, "u"):
            want = pol.footprint(got[i], user=user, call=None)
            assert pol.footprint_at(got, i, user=user, call=None) == want
            assert _footprint_at(pol, got)(i, user=user, call=None) == want
            over = Overlay(got, {i: got[i]})
            assert _footprint_at(pol, over)(i, user=user) == want
            assert _footprint_at(pol, Overlay(got, {}))(i, user=user) == want


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(step, min_size=1, max_size=30),
    plain_every=st.sampled_from([0, 2, 3]),
    blocks=st.lists(st.integers(0, 30), max_size=3),
    live=st.sampled_from([1, 3, 64]),
    window=st.sampled_from([None, (1, 1), (2, 3), (3, 0)]),
)
def test_shape_list_equals_the_shapes_appended(steps, plain_every, blocks, live, window):
    """``window``: ``PACK_EVERY`` and ``PACK_LAG`` (None: the defaults, more than any list here, so
    only ``pack`` packs)."""
    old, shape_mod.LIVE = shape_mod.LIVE, live  # few kept made: shapes made again, arrays built again
    every, lag = shape_mod.PACK_EVERY, shape_mod.PACK_LAG
    if window is not None:
        shape_mod.PACK_EVERY, shape_mod.PACK_LAG = window
    try:
        chat, ref, blk = Measurer("cl100k"), Measurer("cl100k"), Measurer("blocks")
        ref.chat_runs = False
        want: list[Shape] = []
        made = iter(block_shapes(blk, len(blocks)))
        for n, (call, adjust, trust) in enumerate(conversations(steps, "cl100k")):
            m = ref if plain_every and n % plain_every == 0 else chat
            want.append(m.shape(call, trust_usage=trust, adjust=adjust))
            if n in blocks:
                want.append(next(made))
        got = ShapeList()
        for i, s in enumerate(want):
            got.append(s)
            assert got[i] == s and got[-1] == s  # readable as it grows
        if window is not None and all(type(w) is ChatShape for w in want) and len(want) >= sum(window):
            assert got._packed > 0 and any(type(r) is int for r in got._refs)  # packed as it grew
        pols = [*policies(chat), *policies(blk)[:1]]  # roots read from either table's blocks
        check_equal(got, want, pols)
        check_equal(ShapeList(want), want, pols)
        back = pickle.loads(pickle.dumps((got, want)))
        check_equal(back[0], back[1], pols)
        for cut in (len(want), len(want) // 2):  # packed at the end, or halfway with shapes appended after
            packed = ShapeList(want[:cut])
            packed.pack()
            check_packed(packed, want[:cut], exact=window is None)
            for s in want[cut:]:
                packed.append(s)
            check_equal(packed, want, pols)
            back = pickle.loads(pickle.dumps((packed, [packed[i] for i in range(len(want))], want)))
            check_equal(back[0], back[2], pols)
            for s, w, r in zip(back[1], back[2], packed._refs, strict=True):
                assert s == w
                if type(r) is int:  # a shape on the arena pickles its positions alone
                    assert s.base == 0 and len(s.run) == 2 * s.n and len(s.cnt) == s.n
    finally:
        shape_mod.LIVE = old
        shape_mod.PACK_EVERY, shape_mod.PACK_LAG = every, lag


def check_packed(got: ShapeList, want: list[Shape], exact: bool = True) -> None:
    """After ``pack``: every chat shape of the list on the arena, which holds the sentinel and each
    run's positions that a shape of the list reads, once (``exact``: packed at once; packed a window
    at a time, a run with shapes in two windows is there twice), and nothing else; no run held."""
    runs: dict[int, int] = {}
    for i, s in enumerate(want):
        if type(s) is ChatShape and type(got._refs[i]) is int:
            runs[id(s.run)] = max(runs.get(id(s.run), 0), s.n)  # positions
    chat = [i for i, s in enumerate(want) if type(s) is ChatShape and s.n <= 0xFFFF and s.base == 0
            and -(2**31) <= s.adjust < 2**31 and -(2**31) <= s.out_tokens < 2**31]
    assert [i for i, r in enumerate(got._refs) if type(r) is int] == chat
    assert (type(got._refs) is bytes) == (len(chat) == len(want) > 0)  # a byte a call when all are on the arena
    if chat:
        assert got._arena is not None and (len(got._counts) == 1 + sum(runs.values()) or not exact)
        assert len(got._counts) >= 1 + sum(runs.values()) and len(got._arena) == 2 * len(got._counts)
        if type(got._refs) is bytes:
            assert not got._cnts  # no run held outside the arena
    else:
        assert got._arena is None
    got.pack()  # once: a second call changes nothing
    check_equal(got, want)


def test_counts_past_32_bits_and_no_output_key_kept_exact():
    m = Measurer("cl100k")
    segs = [Segment("system", "Be brief."), Segment("user", "Hi")]
    shapes = [m.shape(Call("t", n, "m", segs[: 1 + n % 2], conversation_id="c"), trust_usage=False) for n in range(3)]
    assert all(type(s) is ChatShape and s.out_key is None for s in shapes)
    big = m.shape(Call("t", 9, "m", segs, conversation_id="c"), trust_usage=True, adjust=2**33)  # past 32 bits
    out = m.shape(Call("t", 10, "m", segs, conversation_id="c", usage=Usage(50, 7)), trust_usage=True)
    assert type(big) is ChatShape and big.adjust == 2**33 and big.reported and out.out_key is not None
    lone = m.shape(Call("t", 11, "m", [], conversation_id="d", usage=Usage(5, 3)), trust_usage=False)
    assert type(lone) is ChatShape and lone.roles == ("generation",) and lone.out_key is not None  # one piece
    got = ShapeList([*shapes, big, out, lone])
    check_equal(got, [*shapes, big, out, lone], policies(m))  # DeepSeek's footprint: the output's root too
    assert got.lone_out_key(len(got) - 1) == lone.out_key and got.lone_out_key(len(got) - 2) is None
    assert got._refs[-3] is big  # kept as the object it is
    got.pack()
    check_equal(got, [*shapes, big, out, lone], policies(m))
    assert got._refs[-3] is big and got._refs[0] == 0
    assert got[0].out_key is None and got[0].reported is False and got[-2].reported is True


def test_blocks_alone_write_no_records():
    shapes = block_shapes(Measurer("blocks"), 5)
    assert all(type(s) is BlockShape for s in shapes)
    got = ShapeList(shapes)
    assert not got._recs and list(got) == shapes
    check_equal(got, shapes)
    got.pack()
    assert got._arena is None and not got._recs and list(got) == shapes  # nothing to pack


def test_a_shape_read_twice_is_one_object_with_its_arrays_built_once():
    m = Measurer("cl100k")
    shapes = [m.shape(c, trust_usage=False) for c, _, _ in conversations([(0, "replay", 1, 1, None, False)] * 4,
                                                                        "cl100k")]
    got = ShapeList(shapes)
    a = got[2]
    keys = a.keys
    assert got[2] is a and got[2].keys is keys
