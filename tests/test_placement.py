"""``recommend.options.Placement``: one byte a call into a tuple of entries, read as the list it replaced."""

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from promptcache.recommend.options import Placement


class _Entry:  # entries are compared by identity, as the recommendation's catalog entries are
    def __init__(self, id_: str) -> None:
        self.id = id_


_POOL = [_Entry(f"m{k}") for k in range(300)] + [None]


@given(st.lists(st.integers(0, len(_POOL) - 1), max_size=400))
def test_placement_reads_as_the_list(picks):
    plain = [_POOL[k] for k in picks]
    placed = Placement(iter(plain))
    assert len(placed) == len(plain)
    assert all(a is b for a, b in zip(placed, plain, strict=True))
    assert all(placed[i] is plain[i] for i in range(-len(plain), len(plain)))
    ids = lambda xs: Counter(None if e is None else e.id for e in xs)  # noqa: E731
    assert list(ids(placed).most_common()) == list(ids(plain).most_common())  # ties: first seen first


def test_more_than_a_byte_of_entries():
    plain = [_POOL[k % 300] for k in range(900)]
    placed = Placement(plain)
    assert [id(e) for e in placed] == [id(e) for e in plain]


@given(st.integers(0, 500))
def test_uniform_is_the_repeated_list(n):
    e = _POOL[3]
    u = Placement.uniform(e, n)
    assert len(u) == n and all(x is e for x in u)
    assert [u[i] for i in range(n)] == [e] * n


@given(st.lists(st.integers(-(2**63), 2**63 - 1) | st.integers(0, 2**32 + 5), max_size=60))
def test_put_hit_keeps_every_value(values):
    from array import array

    from promptcache.recommend.options import put_hit

    read = array("I", bytes(array("I").itemsize * len(values)))
    for i, v in enumerate(values):
        read = put_hit(read, i, v)
    assert list(read) == values
