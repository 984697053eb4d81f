"""DeepSeek V4's common prefix inside a piece (``DeepSeekCache._inside``): a node's children
scanned one by one (fewer than ``crowd``) or their blocks indexed and bisected (``btab``) give the
same outcomes, on the random request streams of ``test_deepseek_radix`` (shared leading blocks,
divergence mid-piece, gaps around the eviction time) and on a crowded node."""

from __future__ import annotations

from deepseek_reference import BoundedReference
from hypothesis import given, settings
from hypothesis import strategies as st
from test_deepseek_radix import Pieces, build, params, request_spec

from promptcache.measure.shape import Shape, chain_of
from promptcache.simulate import deepseek
from promptcache.simulate.deepseek import DeepSeekCache

#: every node scanned, every node indexed, a few of each, the default
CROWDS = (10**9, 0, 2, deepseek.CROWD)


def _policies(ms: Pieces, kw: dict, *, bounded: bool) -> list[DeepSeekCache]:
    out = []
    for crowd in CROWDS:
        p = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100, bounded=bounded, **kw)  # type: ignore[arg-type]  # a test measurer
        p.crowd = crowd
        out.append(p)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(request_spec, min_size=1, max_size=40), params, st.booleans())
def test_scan_equals_the_indexed_bisection(spec, kw, bounded):
    ms = Pieces()
    stream = build(ms, spec)
    pols = _policies(ms, kw, bounded=bounded)
    ref = BoundedReference(ms, construction_delay_s=5, eviction_idle_s=100, **kw) if bounded else None
    for shape, start, end, user in stream:
        got = [p.request(shape, start=start, end=end, user=user) for p in pols]
        assert all(o == got[0] for o in got[1:])
        if ref is not None:
            assert got[0] == ref.request(shape, start=start, end=end, user=user)


def test_a_crowded_node_both_ways(monkeypatch):
    """A system piece followed by 20 user pieces that share 0-5 leading blocks with earlier ones
    (the root's child gets 20 children): the same common prefixes and hits, scanned or indexed,
    and each way taken."""
    ms = Pieces()
    system = ms.piece(tuple(range(40)))
    shapes = []
    for n in range(20):
        body = tuple(range(100, 100 + 4 * (n % 6))) + (500 + n, 501, 502, 503, 504)
        keys = [system, ms.piece(body), ms.piece((7, 7))]
        toks = [40, len(body), 2]
        shapes.append(Shape(keys, toks, ("x",) * 3, (0, 1, 2), chain_of(keys), None, 0, True))
    scans, bisects = [], []
    real_scan, real_has = DeepSeekCache._scan_kids, DeepSeekCache._has_block
    monkeypatch.setattr(DeepSeekCache, "_scan_kids", lambda s, *a: scans.append(1) or real_scan(s, *a))
    monkeypatch.setattr(DeepSeekCache, "_has_block", lambda s, *a: bisects.append(1) or real_has(s, *a))
    reads = []
    for crowd in (10**9, 0, deepseek.CROWD):
        p = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100)  # type: ignore[arg-type]  # a test measurer
        p.crowd = crowd
        reads.append([p.request(s, start=10.0 * i, end=10.0 * i + 1, user=None).read for i, s in enumerate(shapes)])
    assert reads[0] == reads[1] == reads[2]
    assert scans and bisects
    assert max(reads[0]) > 40  # units persisted at a common prefix inside the user piece are hit


def test_a_forgotten_child_not_yet_swept_is_not_shared():
    """A child idle past the eviction time between two sweeps (swept every 100 s) shares no
    blocks: the common prefix, and the unit persisted there, are those of the plain forgetting
    model, scanned or indexed."""
    ms = Pieces()
    system = ms.piece(tuple(range(8)))
    gen = ms.piece((7, 7))

    def shape(body: tuple[int, ...]) -> Shape:
        keys = [system, ms.piece(body), gen]
        return Shape(keys, [8, len(body), 2], ("x",) * 3, (0, 1, 2), chain_of(keys), None, 0, True)

    old = tuple(range(100, 124))  # 6 blocks
    other = tuple(range(300, 324))
    stream = [
        (shape(old), 0.0),
        (shape(other), 50.0),
        (shape((900, 901, 902, 903)), 100.0),  # a sweep: ``old`` idle 100 s, kept
        (shape(other), 140.0),
        (shape(old[:16] + (1, 2, 3, 4)), 180.0),  # ``old`` idle 180 s: forgotten, not yet swept
        (shape(old[:16] + (5, 6, 7, 8)), 190.0),  # would hit a unit at 16 tokens in, had it shared
    ]
    for crowd in (10**9, 0):
        p = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100)  # type: ignore[arg-type]  # a test measurer
        p.crowd = crowd
        ref = BoundedReference(ms, construction_delay_s=5, eviction_idle_s=100)
        for s, t in stream:
            assert p.request(s, start=t, end=t + 1, user=None) == ref.request(s, start=t, end=t + 1, user=None)
