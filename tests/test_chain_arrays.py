"""``workload.find_chains`` in 4-byte arrays (``index_code``) gives the numbers of the 8-byte form."""

from array import array
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from promptcache.recommend import workload


@st.composite
def _calls(draw):
    n = draw(st.integers(0, 40))
    prompts = [tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=5))) for _ in range(n)]
    convs = [draw(st.none() | st.sampled_from("ab")) for _ in range(n)]
    # chain keys: one per prefix of the prompt's pieces plus the generation piece (``Shape.chain``)
    shapes = [
        SimpleNamespace(chain=array("q", [hash(p[:k]) for k in range(len(p) + 1)] + [hash((p, "gen"))]))
        for p in prompts
    ]
    metas = [SimpleNamespace(conversation=c) for c in convs]
    order = draw(st.permutations(range(n)))
    return metas, order, shapes


@given(_calls())
def test_find_chains_same_numbers_as_8_byte_arrays(calls):
    metas, order, shapes = calls
    got = workload.find_chains(metas, order, shapes)
    plain = workload.index_code
    try:
        workload.index_code = lambda n: "q"  # the form before: 8-byte arrays
        old = workload.find_chains(metas, order, shapes)
    finally:
        workload.index_code = plain
    assert old.parent.itemsize == 8 and got.parent.itemsize == 4
    assert (list(got.parent), list(got.root), list(got.step)) == (list(old.parent), list(old.root), list(old.step))
    assert got.count() == old.count()


def test_index_code_widens_past_two_to_the_31():
    assert workload.index_code(2**31 - 1) == "i" and workload.index_code(2**31) == "q"
