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

from array import array

from deepseek_reference import BoundedReference, OldDeepSeekCache
from hypothesis import given, settings
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


@settings(max_examples=300, deadline=None)
@given(st.lists(request_spec, min_size=1, max_size=30), params)
def test_bounded_tree_equals_the_plain_forgetting_model(spec, kw):
    ms = Pieces()
    stream = build(ms, spec)
    new = DeepSeekCache(ms, construction_delay_s=5, eviction_idle_s=100, **kw)  # type: ignore[arg-type]  # a test measurer
    run_both(new, BoundedReference(ms, construction_delay_s=5, eviction_idle_s=100, **kw), stream)
