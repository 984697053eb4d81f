"""``workload.find_chains`` keeps a byte of flags a call (and a call's first call only where a
chained call has no conversation id): what the run reads of it equals what the wide form (each
call's parent, first call and step, the form before) gives, and ``pipeline._conversations`` names
each call's conversation as the list made from the wide form did."""

from array import array
from collections import Counter
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.analyze.pipeline import _conversations
from promptcache.recommend import workload


def _wide(metas, order, shapes):
    """The wide form, as ``find_chains`` kept it before: parent, first call and step per call."""
    n = len(metas)
    parent, root, step = array("q", [-1]) * n, array("q", range(n)), array("q", [0]) * n
    by_prefix: dict[int, int] = {}
    by_conv: dict[str, int] = {}
    for i in order:
        chain = shapes[i].chain
        nk = len(chain) - 1
        p = -1
        for k in range(nk - 2, 0, -1):
            got = by_prefix.get(chain[k])
            if got is not None:
                p = got
                break
        conv = metas[i].conversation
        if p < 0 and conv is not None and conv in by_conv:
            p = by_conv[conv]
        if p >= 0:
            parent[i], root[i], step[i] = p, root[p], step[p] + 1
        if nk >= 2:
            by_prefix[chain[nk - 1]] = i
        if conv is not None:
            by_conv[conv] = i
    return parent, root, step


@st.composite
def _calls(draw, ids=None):
    ids = st.none() | st.sampled_from("ab") if ids is None else ids
    n = draw(st.integers(0, 40))
    prompts = [tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=5))) for _ in range(n)]
    convs = [draw(ids) for _ in range(n)]
    # chain keys: one per prefix of the prompt's pieces plus the generation piece (``Shape.chain``)
    shapes = [
        SimpleNamespace(chain=array("q", [hash(p[:k]) for k in range(len(p) + 1)] + [hash((p, "gen"))]))
        for p in prompts
    ]
    metas = [SimpleNamespace(conversation=c) for c in convs]
    order = draw(st.permutations(range(n)))
    return metas, order, shapes


@settings(deadline=None)  # the first example imports numpy
@given(_calls())
def test_kept_flags_read_as_the_wide_form(calls):
    metas, order, shapes = calls
    n = len(metas)
    got = workload.find_chains(metas, order, shapes)
    _, root, step = _wide(metas, order, shapes)
    extended = {root[i] for i in range(n) if step[i] > 0}  # how group_counts and the hybrid read it
    assert len(got.flags) == n
    assert [got.first(i) for i in range(n)] == [step[i] == 0 for i in range(n)]
    assert [got.extended_first(i) for i in range(n)] == [step[i] == 0 and i in extended for i in range(n)]
    assert got.count() == sum(1 for s in step if s == 0)


@settings(deadline=None)  # the first example imports numpy
@given(_calls())
def test_conversations_read_as_the_list_from_the_wide_form(calls):
    metas, order, shapes = calls
    _, root, _ = _wide(metas, order, shapes)
    size = Counter(root)
    old = [  # pipeline._conversations before: a list kept for the run
        m.conversation if m.conversation is not None else (f"chain-{root[i] + 1}" if size[root[i]] > 1 else None)
        for i, m in enumerate(metas)
    ]
    conv = _conversations(metas, workload.find_chains(metas, order, shapes))
    assert len(conv) == len(old) and list(conv) == old
    assert [conv[i] for i in range(len(old))] == old and list(conv[1:3]) == old[1:3]


@settings(deadline=None)
@given(_calls(ids=st.sampled_from("abc")))
def test_no_head_kept_when_every_call_has_an_id(calls):
    metas, order, shapes = calls
    assert workload.find_chains(metas, order, shapes).head is None


def test_head_only_for_chained_calls_without_id():
    # calls 0 -> 1 -> 2 extend one another (no ids); 3 is alone; 4 has an id
    shapes = [SimpleNamespace(chain=array("q", list(range(k + 1)) + [100 + k])) for k in (2, 3, 4, 2, 2)]
    shapes[3] = SimpleNamespace(chain=array("q", [50, 51, 52, 53]))
    shapes[4] = SimpleNamespace(chain=array("q", [60, 61, 62, 63]))
    metas = [SimpleNamespace(conversation=c) for c in (None, None, None, None, "x")]
    got = workload.find_chains(metas, range(5), shapes)
    assert list(got.head) == [0, 0, 0, -1, -1] and got.head.itemsize == 4
    assert list(_conversations(metas, got)) == ["chain-1", "chain-1", "chain-1", None, "x"]
    assert got.count() == 3 and [got.extended_first(i) for i in range(5)] == [True, False, False, False, False]


def test_index_code_widens_past_two_to_the_31():
    assert workload.index_code(2**31 - 1) == "i" and workload.index_code(2**31) == "q"
