"""Chat shapes (``measure.shape.ChatShape``): a text call's shape as a prefix of its conversation's
run equals, field by field, the plain ``Shape`` the measurer makes with runs off, for generated
conversations with diverging histories, reported totals on both sides of the count, carried-over
adjustments, hidden prefixes and interleaved conversations; and so do the accessors that build no
array, after later calls extend or fork the run, after the arrays are forgotten, and after pickling."""

from __future__ import annotations

import pickle
from array import array
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptcache.measure import shape as shape_mod
from promptcache.measure.shape import ChatShape, Measurer, Shape
from promptcache.model.calls import HIDDEN_PREFIX, Call, Segment, Usage

FIELDS = ("keys", "tokens", "roles", "indexes", "chain", "out_key", "out_tokens", "reported", "adjust", "total")
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]


def plain(s: Shape) -> tuple:
    values = (getattr(s, f) for f in FIELDS)
    return tuple(list(v) if isinstance(v, (tuple, list)) or hasattr(v, "typecode") else v for v in values)


def same_as_plain(s: Shape, p: Shape) -> None:
    assert plain(s) == plain(p)
    n = len(p.keys)
    if type(s) is ChatShape:
        assert [list(a) for a in s.arrays()] == [list(p.keys), list(p.tokens), list(p.chain)]
        assert s.first_key == p.keys[0]
        for k in range(-1, n + 3):
            assert s.prefix_tokens(k) == sum(p.tokens[: max(k, 0)])
        for i in range(-n, n):
            assert s.key_at(i) == p.keys[i]
        for i in range(-(n + 1), n + 1):
            assert s.chain_at(i) == p.chain[i]
        for lo in range(n + 3):
            assert list(s.keys_from(lo)) == list(p.keys[lo:])
            assert list(s.chain_from(lo)) == list(p.chain[lo:])


# a conversation's next call: the previous call's messages and answer replayed (or its history
# edited: a turn changed or dropped), then a new user turn
step = st.tuples(
    st.integers(0, 5),  # which conversation
    st.sampled_from(["replay", "replay", "replay", "edit", "drop", "retry", "fresh"]),
    st.integers(0, 5),  # the new turn's words
    st.integers(0, 5),  # the answer's words
    st.one_of(st.none(), st.integers(0, 400), st.integers(-30, 30).map(lambda d: ("adjust", d))),
    st.booleans(),  # a hidden prefix (a conversation's first call decides)
)


def text(i: int, salt: int) -> str:
    return " ".join(WORDS[(i + j * salt) % len(WORDS)] for j in range(1 + i)) + f" #{salt}"


def conversations(steps, family):
    """(call, adjust) in order: conversations interleaved as the steps say."""
    hist: dict[int, list[Segment]] = {}
    hidden: dict[int, bool] = {}
    out: dict[int, str] = {}
    for n, (c, how, words, answer, usage, hide) in enumerate(steps):
        segs = hist.get(c)
        if segs is None or how == "fresh":
            hidden[c] = hide
            segs = [Segment("system", "(hidden)", name=HIDDEN_PREFIX)] if hide else []
            segs.append(Segment("system", f"You are bot {c}."))
        else:
            segs = list(segs)
            if how != "retry" and out.get(c):
                segs.append(Segment("assistant", out[c]))
            if how == "edit" and len(segs) > 1:
                k = 1 + n % (len(segs) - 1)
                segs[k] = Segment(segs[k].role, segs[k].text + " (edited)")
            elif how == "drop" and len(segs) > 2:
                del segs[1 + n % (len(segs) - 2)]
        if how != "retry":
            segs.append(Segment("user", text(words, n)))
        hist[c] = segs
        out[c] = text(answer, 1000 + n) if answer else ""
        u = Usage(usage, 7) if isinstance(usage, int) else Usage(50, 7)
        call = Call("t", n, family, list(segs), call_id=f"id{n}", conversation_id=f"c{c}", usage=u, output_text=out[c])
        yield call, usage[1] if isinstance(usage, tuple) else None, usage is not None


@pytest.mark.parametrize("family", ["cl100k", "deepseek-v4"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(step, min_size=1, max_size=30),
    live=st.sampled_from([1, 3, 64]),
    ends=st.sets(st.integers(0, 29), max_size=3),
)
def test_chat_shapes_equal_plain_shapes(family, steps, live, ends):
    old, shape_mod.LIVE = shape_mod.LIVE, live  # few kept: arrays forgotten and built again
    try:
        check(family, steps, ends)
    finally:
        shape_mod.LIVE = old


def check(family, steps, ends=()):
    """``ends``: the steps before which the measurer drops its runs (``end_runs``: as after the first
    pass, when later calls start new runs)."""
    new, ref = Measurer(family), Measurer(family)
    ref.chat_runs = False
    made = []
    for n, (call, adjust, trust) in enumerate(conversations(steps, family)):
        if n in ends:
            new.end_runs()
        s = new.shape(call, trust_usage=trust, adjust=adjust)
        p = ref.shape(call, trust_usage=trust, adjust=adjust)
        assert type(p) is Shape
        same_as_plain(s, p)
        made.append((s, p))
    assert new.adjusted_tokens == ref.adjusted_tokens
    for s, p in made:  # unchanged by the calls after it (runs extended, forked)
        same_as_plain(s, p)
    back = pickle.loads(pickle.dumps([s for s, _ in made]))
    for s, (_, p) in zip(back, made, strict=True):
        same_as_plain(s, p)


def test_replayed_chat_shares_one_run_and_forks_on_edit():
    m = Measurer("cl100k")
    sys_, u1, a1, u2 = (Segment("system", "Be brief."), Segment("user", "Hi"), Segment("assistant", "Hello"),
                        Segment("user", "More"))
    first = m.shape(Call("t", 1, "m", [sys_, u1], conversation_id="c", output_text="Hello"), trust_usage=False)
    second = m.shape(Call("t", 2, "m", [sys_, u1, a1, u2], conversation_id="c"), trust_usage=False)
    assert type(first) is ChatShape and type(second) is ChatShape
    assert first.run is second.run and (first.n, second.n) == (2, 4)
    edited = m.shape(Call("t", 3, "m", [sys_, Segment("user", "Hey"), a1, u2], conversation_id="c"), trust_usage=False)
    assert edited.run is not first.run and list(edited.run[:2]) == list(first.run[:2])  # the system prompt's position copied
    assert edited.cnt is not first.cnt and list(edited.cnt[:1]) == list(first.cnt[:1])


def test_adjustment_beyond_the_generation_piece_or_hidden_prefix_is_plain():
    m = Measurer("cl100k")
    segs = [Segment("system", "Be brief."), Segment("user", "Hi there")]
    assert type(m.shape(Call("t", 1, "m", segs, usage=Usage(1, 0)), trust_usage=True)) is Shape  # below the prompt
    assert type(m.shape(Call("t", 2, "m", segs, usage=Usage(500, 0)), trust_usage=True)) is ChatShape
    hidden = [Segment("system", "x", name=HIDDEN_PREFIX), *segs]
    assert type(m.shape(Call("t", 3, "m", hidden, usage=Usage(500, 0)), trust_usage=True)) is Shape


def test_replace_gives_a_plain_shape_with_the_fields_changed():
    m = Measurer("cl100k")
    s = m.shape(Call("t", 1, "m", [Segment("system", "Be brief."), Segment("user", "Hi")], conversation_id="c"),
                trust_usage=False)
    r = replace(s, tokens=tuple(t + 1 for t in s.tokens))
    assert type(s) is ChatShape and type(r) is Shape
    assert list(r.keys) == list(s.keys) and list(r.chain) == list(s.chain) and r.total == s.total + len(s.keys)


def test_a_run_position_is_shared_only_with_its_key_and_count():
    m = Measurer("cl100k")
    a = m._run(("t", "c"), [11, 12], [5, 6])
    assert m._run(("t", "c"), [11, 12, 13], [5, 6, 7]) is a  # continued in place
    assert m._run(("t", "c"), [11], [5]) is a  # a prefix of it
    b = m._run(("t", "c"), [11, 12], [5, 9])  # same keys, another count: a new run
    (ak, ac), (bk, bc) = a, b
    assert b is not a and bk is not ak and bc is not ac
    assert list(bk) == [11, ak[1], 12, ak[3]] and list(bc) == [5, 9]  # same keys, so same chain keys
    assert list(ak) == [11, ak[1], 12, ak[3], 13, ak[5]] and list(ac) == [5, 6, 7]  # unchanged
    assert ac.typecode == "i" and ak.typecode == "q"


def test_a_count_past_32_bits_gets_a_plain_shape():
    """The runs keep counts as 32-bit: a call with a piece counted past that is shaped plainly
    (equal to the plain shape), and its conversation's run is left as it was."""
    m = Measurer("cl100k")
    a = m._run(("t", "c"), [11, 12], [5, 6])
    assert m._run(("t", "c"), [11, 12, 13], [5, 6, 2**31]) is None
    assert m._run(("t", "c"), [11, 12, 13], [5, 6, 2**31 - 1]) is a and list(a[1]) == [5, 6, 2**31 - 1]


def test_calls_without_pieces_never_extend_a_shared_empty_run():
    """A call whose prompt is its generation piece alone holds an empty run; the next call of its
    conversation starts a run of its own, and a new conversation's run starts empty."""
    m = Measurer("cl100k")
    e = m._run(("t", "c"), [], [])
    assert len(e[0]) == len(e[1]) == 0
    r = m._run(("t", "c"), [11], [5])
    assert r[0] is not e[0] and len(e[0]) == len(e[1]) == 0 and list(r[1]) == [5]
    other = m._run(("t", "d"), [21], [7])
    assert list(other[0]) == [21, other[0][1]] and list(other[1]) == [7]


def test_arrays_read_holds_the_counts_as_the_run_does():
    """``arrays_read`` (the DeepSeek simulator's and ``scale_shape``'s read: no widening) equals
    ``arrays`` item by item, its counts 32-bit unless the generation piece's count needs 64;
    ``arrays`` is 64-bit throughout, as a plain shape's chain."""
    run, cnt = array("q", (11, 111, 22, 222)), array("i", (5, 7))
    for gen in (3, 2**40):
        s = ChatShape(run, cnt, 2, 33, gen, ("a", "b", "g"), (0, 1, -1), None, 0, False, 0)
        keys, counts, chain = s.arrays_read()
        assert [list(a) for a in s.arrays()] == [list(keys), list(counts), list(chain)]
        assert list(counts) == [5, 7, gen] and counts.typecode == ("i" if gen < 2**31 else "q")
        assert [a.typecode for a in s.arrays()] == ["q", "q", "q"]
        assert list(cnt) == [5, 7]  # the run's counts are not extended by the read
