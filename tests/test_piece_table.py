"""The measurer's piece table (``measure.pieces.Pieces``): a piece's count, key and chained block
hashes equal, value by value, what ``Measurer`` kept before: 1f637cf's loop (one block-hash array
per piece, appended to) on random texts (hypothesis), the bundled example, a generated short-chat
log and the real agent recordings; and ef6a29a's table (a tuple or an exact array per piece, frozen
below) on random sequences of texts and of block hashes, across chunk boundaries, pickled and
merged as ``analyze/sharded_read.py`` merges workers' tables."""

from __future__ import annotations

import os
import subprocess
import sys
from array import array
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.measure import pieces as P
from promptcache.measure.pieces import Pieces, as_array
from promptcache.measure.shape import ROOT, Measurer
from promptcache.measure.tokens import output_piece, render
from promptcache.model.calls import Call
from promptcache.model.keys import text_key
from promptcache.read.reader import read_logs

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
REPO = Path(__file__).resolve().parents[1]
FAMILIES = ("deepseek-v4", "o200k", "cl100k")


def _reference_blocks(ids: list[int], b: int) -> list[int]:
    """A piece's chained block hashes as ``Measurer._store`` computed them at 1f637cf."""
    blocks, h = array("q"), ROOT
    for i in range(b, len(ids) + 1, b):
        h = hash((h, *ids[i - b : i]))
        blocks.append(h)
    return list(blocks)


def _check_entry(m: Measurer, text: str) -> int:
    """The table's entry for ``text`` against its token ids; the number of blocks."""
    tok = m._tokenizer
    assert tok is not None
    key = text_key(text)
    entry = m._pieces.get(key)
    assert entry is not None
    ids = tok.encode(text)
    want = _reference_blocks(ids, m.block_tokens)
    got = m.blocks(key)
    assert list(got) == want
    assert m._pieces.get(key) == (key, entry[1])
    assert entry[0] == key and m._piece(text)[0] is entry[0]  # the key object the shapes share
    assert m._piece(text)[1] is entry[1] >= len(ids)  # count = ids + the piece's framing, one object
    if not want:
        assert got is P._EMPTY  # no view of its own
    else:
        assert type(got) is memoryview and got.format == "q" and got.obj in m._pieces._chunks
    return len(want)


def _check_calls(calls: list[Call], family: str) -> tuple[int, int]:
    """Every text call's pieces, generation prompt and output checked; (pieces, blocks) seen."""
    m = Measurer(family)
    n = blocks = 0
    for c in calls:
        if c.segments and c.segments[0].role == "block":
            continue
        m.shape(c, trust_usage=True)
        pieces, gen = render(c, family)
        out = output_piece(c, family)
        for text in [*(p.text for p in pieces), gen, *([out] if out else [])]:
            blocks += _check_entry(m, text)
            n += 1
    return n, blocks


_WORD = st.sampled_from(["the", "cache", "order", "Rule", "漢字", "x1", "\n", "  ", "report", ".", "é", "12345"])


@settings(max_examples=150, deadline=None)
@given(words=st.lists(_WORD, max_size=120), family=st.sampled_from(FAMILIES))
def test_entry_of_any_text_as_before(words, family):
    m = Measurer(family)
    text = " ".join(words)
    m._piece(text)
    _check_entry(m, text)


def test_entries_of_every_length_as_before():
    m = Measurer("deepseek-v4")
    tok = m._tokenizer
    assert tok is not None
    sizes = set()
    for k in range(0, 120):
        text = "word " * k
        m._piece(text)
        sizes.add(_check_entry(m, text))
    assert {0, 1, 2, 3, 4} <= sizes


@pytest.mark.parametrize("family", FAMILIES)
def test_entries_on_the_bundled_example(family):
    pieces, blocks = _check_calls(list(read_logs([EXAMPLE])), family)
    assert pieces > 1000 and blocks > 1000


def test_entries_on_a_generated_short_chat_log(tmp_path):
    log = tmp_path / "short.jsonl"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "gen_log.py"),
            "--short",
            "--seed",
            "3",
            "--calls",
            "300",
            "-o",
            str(log),
        ],
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    pieces, blocks = _check_calls(list(read_logs([log])), "deepseek-v4")
    assert pieces > 1000 and blocks > 1000


@pytest.mark.skipif(not os.environ.get("PROMPTCACHE_REALDATA"), reason="PROMPTCACHE_REALDATA not set")
def test_entries_on_real_agent_recordings():
    root = Path(os.environ["PROMPTCACHE_REALDATA"]) / "trajectories"
    pieces = blocks = 0
    for p in sorted(root.iterdir()):
        for fam in ("deepseek-v4", "o200k"):
            a, b = _check_calls(list(read_logs([p])), fam)
            pieces, blocks = pieces + a, blocks + b
    assert pieces > 100 and blocks > 1000


def test_known_pieces_get_the_same_entries():
    """A piece taken from another table of the process (``Measurer.known``, Dask workers) gets the
    entry its own tokenization would: same count, key, block hashes and layout."""
    known: dict = {}
    warm, reused, fresh = Measurer("o200k"), Measurer("o200k"), Measurer("o200k")
    warm.known = reused.known = known
    texts = ["hi", "word " * 20, "word " * 40, "the cache order " * 300]
    for t in texts:
        warm._piece(t, 2)
    for t in texts:
        assert reused._piece(t, 1) == fresh._piece(t, 1)
    assert reused._pieces == fresh._pieces and list(reused._pieces) == list(fresh._pieces)
    for t in texts:
        assert type(known[text_key(t)][1]) is array  # a copy: outlives the table it came from


# -- ef6a29a's table, frozen: ``Measurer._store``, ``_entry``, ``blocks`` and the merge of
# ``analyze/sharded_read.py`` as they were, to compare the new table with -----------------------


def _old_entry(count: int, key: int, blocks) -> tuple:
    if len(blocks) <= 2:
        return (count, key, *blocks)
    return (count, key, blocks if type(blocks) is array else array("q", blocks))


def _old_blocks(pieces: dict, key: int):
    got = pieces.get(key)
    if got is None or len(got) == 2:
        return array("q")
    b = got[2]
    return b if type(b) is array else got[2:]


class _OldMeasurer(Measurer):
    """ef6a29a's ``Measurer`` piece table: a dict of tuples."""

    def __init__(self, family: str):
        super().__init__(family)
        self._old: dict[int, tuple] = {}
        self.blocks = lambda key: _old_blocks(self._old, key)

    def _piece(self, text: str, extra: int = 0) -> tuple[int, int]:
        key = text_key(text)
        got = self._old.get(key)
        if got is None:
            assert self._tokenizer is not None
            ids = self._tokenizer.encode(text)
            b = self.block_tokens
            hs, h = [], ROOT
            for i in range(b, len(ids) + 1, b):
                h = hash((h, *ids[i - b : i]))
                hs.append(h)
            got = self._old[key] = _old_entry(len(ids) + extra, key, hs)
        return got[1], got[0]


def _old_merge(pieces: dict, table: dict) -> bool:
    differ = False
    for key, entry in table.items():
        got = pieces.get(key)
        if got is None:
            pieces[key] = entry
        elif got[0] != entry[0]:
            differ = True
    return differ


def _same_as_old(new: Pieces, old: dict) -> None:
    assert list(new) == list(old)  # same keys, same order
    assert len(new) == len(old)
    for (k, n, b), (ko, eo) in zip(new.entries(), old.items(), strict=True):
        assert k == ko and n == eo[0] and k is not None
        assert list(b) == list(_old_blocks(old, ko)) == list(new.blocks(k))
        assert new.get(k) == (eo[1], eo[0])


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Chunks of 3 to 8 hashes: most pieces start a chunk, many need one of their own."""
    monkeypatch.setattr(P, "FIRST_CHUNK", 3)
    monkeypatch.setattr(P, "MAX_CHUNK", 8)


_TEXTS = st.lists(st.tuples(st.lists(_WORD, max_size=200).map(" ".join), st.integers(-2, 5)), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(texts=_TEXTS, family=st.sampled_from(FAMILIES), small=st.booleans())
def test_pieces_of_any_texts_as_the_frozen_table(texts, family, small):
    """Texts of any length in any order, repeated with other framings: the same keys and counts
    (one object each, shared), the same table, in chunks of a few hashes or of the real sizes."""
    with pytest.MonkeyPatch.context() as mp:
        if small:
            mp.setattr(P, "FIRST_CHUNK", 2)
            mp.setattr(P, "MAX_CHUNK", 5)
            mp.setattr(P, "VIEWS_KEPT", 3)  # the views kept are dropped every few asks
        new, old = Measurer(family), _OldMeasurer(family)
        views = []
        for text, extra in texts:
            got, want = new._piece(text, extra), old._piece(text, extra)
            assert got == want
            assert new._piece(text, 7) == got  # stored once: the first framing's count
            if new._pieces._objects:  # a table of key objects hands out the stored one (shared)
                assert new._piece(text)[0] is got[0]
            views.append((got[0], new.blocks(got[0])))
        _same_as_old(new._pieces, old._old)
        for key, view in views:  # a view handed out earlier still reads its piece (chunks never move)
            assert list(view) == list(old.blocks(key))
        for _ in range(2):  # asked again: from the views kept or made anew, the same hashes
            for text, _extra in texts:
                key = text_key(text)
                assert list(new.blocks(key)) == list(old.blocks(key))
        assert new.blocks(12345) is P._EMPTY  # not in the table


_HASH = st.integers(-(2**63), 2**63 - 1)
_TABLE = st.lists(st.tuples(st.integers(0, 40), st.integers(-3, 2000), st.lists(_HASH, max_size=20)), max_size=25)


def _both(rows) -> tuple[Pieces, dict]:
    new, old = Pieces(), {}
    for key, count, hs in rows:
        if key not in old:
            old[key] = _old_entry(count, key, hs)
            new.add(key, count, hs)
    return new, old


@settings(max_examples=150, deadline=None)
@given(a=_TABLE, b=_TABLE, sizes=st.sampled_from([(1, 1), (2, 5), (3, 8), (1024, 1 << 15)]))
def test_tables_pickled_and_merged_as_the_frozen_ones(a, b, sizes):
    """Random tables (hashes over the whole signed 64-bit range, chunks of a few hashes or the real
    sizes): the same blocks, pickled and unpickled, and merged as ``sharded_read`` merged dicts:
    the same pieces in the same order and the same answer on counts that differ."""
    import pickle

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(P, "FIRST_CHUNK", sizes[0])
        mp.setattr(P, "MAX_CHUNK", sizes[1])
        new_a, old_a = _both(a)
        new_b, old_b = _both(b)
        _same_as_old(new_a, old_a)
        back = pickle.loads(pickle.dumps(new_b))
        _same_as_old(back, old_b)
        assert back == new_b
        assert new_a.merge(back) == _old_merge(old_a, old_b)
        _same_as_old(new_a, old_a)
        again = pickle.loads(pickle.dumps(new_a))  # a table unpickled, then added to
        again.add(10_000, 1, [7, 8, 9])
        old_a[10_000] = _old_entry(1, 10_000, [7, 8, 9])
        _same_as_old(again, old_a)
        assert new_a.block_count() == sum(len(_old_blocks(old_a, k)) for k in old_a) - 3


def test_a_piece_longer_than_a_chunk(tiny_chunks):
    t = Pieces()
    t.add(1, 5, [1, 2])
    t.add(2, 6, list(range(100)))  # a chunk of its own, sized exactly
    t.add(3, 7, [5])
    assert list(t.blocks(2)) == list(range(100)) and list(t.blocks(1)) == [1, 2] and list(t.blocks(3)) == [5]
    assert [len(c) for c in t._chunks] == [3, 100, 8]


def test_what_leaves_the_process_is_a_copy():
    """Views do not pickle: ``as_array`` copies, and the simulators' tables for other processes
    (``PieceTable.of``) hold arrays."""
    import pickle

    from promptcache.measure.shape import Shape, chain_of
    from promptcache.simulate.partition import PieceTable

    m = Measurer("o200k")
    k1, _ = m._piece("the cache order " * 40)
    k2, _ = m._piece("hi")
    v = m.blocks(k1)
    assert type(v) is memoryview
    with pytest.raises(TypeError):
        pickle.dumps(v)
    a = as_array(v)
    assert type(a) is array and list(a) == list(v) and as_array(a) is a
    keys = (k1, k2)
    table = PieceTable.of(m, [Shape(keys, (1, 1), ("user", "user"), (0, 1), chain_of(keys), None, 0, True)])
    assert set(table.table) == {k1} and type(table.table[k1]) is array
    assert pickle.loads(pickle.dumps(table)).table == table.table


# -- the index (branch piecekeys): keys in an open-addressing table of piece numbers, no dict ------


class _PlainTable:
    """The table as a plain dict (key -> (key, count, hashes)), in insertion order: what ``Pieces``
    must answer like."""

    def __init__(self) -> None:
        self.d: dict[int, tuple[int, int, list[int]]] = {}

    def add(self, key: int, count: int, hs: list[int]) -> None:
        self.d[key] = (key, count, list(hs))

    def get(self, key: int):
        e = self.d.get(key)
        return None if e is None else (e[0], e[1])

    def blocks(self, key: int) -> list[int]:
        e = self.d.get(key)
        return [] if e is None else e[2]

    def merge(self, other: _PlainTable) -> bool:
        differ = False
        for k, e in other.d.items():
            if k not in self.d:
                self.d[k] = e
            elif self.d[k][1] != e[1]:
                differ = True
        return differ


def _same_as_plain(t: Pieces, p: _PlainTable, probe: list[int]) -> None:
    assert len(t) == len(p.d) and list(t) == list(p.d)
    assert [(k, n, list(b)) for k, n, b in t.entries()] == list(p.d.values())
    for k in probe:
        assert t.get(k) == p.get(k)
        assert (k in t) == (k in p.d)
        assert list(t.blocks(k)) == p.blocks(k)
    for k in p.d:  # the stored key object, the same one each time
        got = t.get(k)
        assert got is not None and got[0] is t.get(k)[0]  # type: ignore[index]


# keys that share home slots: all of ``x << 32 | x`` start at slot 0, multiples of 2**k share their
# low bits, and the extremes of the signed 64-bit range
_KEY = st.one_of(
    st.integers(0, 30),
    st.integers(0, 30).map(lambda x: x << 32 | x),
    st.integers(-8, 8).map(lambda x: x << 40),
    st.sampled_from([-(2**63), 2**63 - 1, -1, 2**32, -(2**32), 2**31 - 1]),
    _HASH,
)
_OP = st.one_of(
    st.tuples(st.just("add"), _KEY, st.integers(-3, 300), st.lists(_HASH, max_size=6)),
    st.tuples(st.just("ask"), _KEY),
    st.tuples(st.just("pickle")),
    st.tuples(st.just("merge"), st.lists(st.tuples(_KEY, st.integers(0, 5), st.lists(_HASH, max_size=3)), max_size=8)),
)


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(_OP, max_size=60),
    first=st.sampled_from([1, 2, 4, 256]),
    kept=st.sampled_from([2, 8192]),
    objects=st.booleans(),
)
def test_index_answers_as_a_plain_dict(ops, first, kept, objects):
    """Random adds, asks (get, in, blocks), pickles and merges, with keys made to collide and indexes
    that start at 1 to 256 slots (so that they double often), keys kept as objects or as machine
    integers: the table answers as a dict does."""
    import pickle

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(P, "FIRST_SLOTS", first)
        mp.setattr(P, "VIEWS_KEPT", kept)
        t, p = Pieces(objects), _PlainTable()
        probe: list[int] = [12345]
        for op in ops:
            if op[0] == "add":
                _, key, count, hs = op
                if key not in p.d:
                    assert key not in t
                    t.add(key, count, hs)
                    p.add(key, count, hs)
                probe.append(key)
            elif op[0] == "ask":
                probe.append(op[1])
                assert t.get(op[1]) == p.get(op[1]) and list(t.blocks(op[1])) == p.blocks(op[1])
            elif op[0] == "pickle":
                back = pickle.loads(pickle.dumps(t))
                assert back == t and t == back
                t = back
            else:
                ot, op_ = Pieces(not objects), _PlainTable()  # a table of the other kind merged in
                for key, count, hs in op[1]:
                    if key not in op_.d:
                        ot.add(key, count, hs)
                        op_.add(key, count, hs)
                assert t.merge(ot) == p.merge(op_)
                probe.extend(k for k, _, _ in op[1])
            _same_as_plain(t, p, probe)
            assert (type(t._keys) is list) == objects  # kept across pickles
        assert P.LOAD[1] * len(t) <= P.LOAD[0] * len(t._slots) and len(t._slots) & (len(t._slots) - 1) == 0


def test_tables_equal_by_content_not_order():
    a, b = Pieces(), Pieces()
    a.add(1, 5, [1, 2])
    a.add(2 << 32 | 2, 6, [])
    b.add(2 << 32 | 2, 6, [])
    b.add(1, 5, [1, 2])
    assert a == b
    c = Pieces()
    c.add(1, 5, [1, 3])
    c.add(2 << 32 | 2, 6, [])
    assert a != c
    d = Pieces()
    d.add(1, 5, [1, 2])
    d.add(3, 6, [])
    assert a != d
    e = Pieces()
    e.add(1, 5, [1, 2])
    e.add(2 << 32 | 2, 7, [])  # another count
    assert a != e and e != a


def test_a_table_without_key_objects():
    """``Pieces(key_objects=False)`` keeps keys as machine integers: ``get`` hands out the caller's
    key object the first time a piece is asked for, the same one after, as many as ``ASKED_KEPT``
    (then cleared: the answers stay the same)."""
    t = Pieces(key_objects=False)
    texts = [f"piece {i}" for i in range(10)]
    for i, text in enumerate(texts):
        t.add(text_key(text), i + 300, [i])
    assert type(t._keys) is array and not t._asked
    first = text_key(texts[3])
    got = t.get(first)
    assert got is not None and got[0] is first and got[1] == 303
    again = t.get(text_key(texts[3]))
    assert again is not None and again[0] is first  # shared from the second ask on
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(P, "ASKED_KEPT", 2)
        for text in texts:
            k = text_key(text)
            assert t.get(k) == (k, texts.index(text) + 300)
        assert len(t._asked) <= 2
    assert [list(t.blocks(text_key(x))) for x in texts] == [[i] for i in range(10)]
    assert t.get(text_key("not there")) is None and text_key("not there") not in t


# -- narrow columns (branch piececols): counts and ends in the narrowest array type, widened on overflow --


def _narrowest(values: list[int], types: tuple[str, ...]) -> str | None:
    """The first of ``types`` whose range holds every value (None: none does, a list)."""
    for t in types:
        bits = 8 * array(t).itemsize
        lo, hi = (0, 2**bits - 1) if t.isupper() else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if all(lo <= v <= hi for v in values):
            return t
    return None


_COUNT = st.one_of(
    st.integers(-3, 300),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**15 - 1, 2**15, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64]),
)
_NARROW_OP = st.one_of(
    st.tuples(st.just("add"), _KEY, _COUNT, st.lists(_HASH, max_size=7)),
    st.tuples(st.just("ask"), _KEY),
    st.tuples(st.just("pickle")),
    st.tuples(st.just("merge"), st.lists(st.tuples(_KEY, _COUNT, st.lists(_HASH, max_size=4)), max_size=8)),
)


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(_NARROW_OP, max_size=120),
    many=st.integers(0, 400),
    small_types=st.booleans(),
    chunks=st.sampled_from([(1, 2), (2, 5), (3, 8), (1024, 1 << 15)]),
    kept=st.sampled_from([2, 8192]),
    objects=st.booleans(),
)
def test_narrow_columns_answer_as_a_plain_dict(ops, many, small_types, chunks, kept, objects):
    """Random adds (counts from small to past 64 bits, so the counts column widens), asks, pickles
    and merges, after up to 400 pieces added first (the index refilled many times from one slot),
    with column types of 8 bits first (widened every few adds: ends past 255 hashes) or the real
    ones, chunks of 1 to 8 hashes or the real sizes: the table answers as a dict does, its
    columns in the narrowest type that holds them, and views handed out before a widening or a
    new chunk still read their piece."""
    import pickle

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(P, "FIRST_SLOTS", 1)
        mp.setattr(P, "VIEWS_KEPT", kept)
        mp.setattr(P, "FIRST_CHUNK", chunks[0])
        mp.setattr(P, "MAX_CHUNK", chunks[1])
        if small_types:
            mp.setattr(P, "COUNT_TYPES", ("b", "h", "i", "q"))
            mp.setattr(P, "END_TYPES", ("B", "H", "I", "Q"))
        t, p = Pieces(objects), _PlainTable()
        for j in range(many):  # keys 2**40 apart: all share home slot 0 until the index is large
            t.add(j << 40, j * 9973, [j, -j] if j % 3 else [])
            p.add(j << 40, j * 9973, [j, -j] if j % 3 else [])
        probe: list[int] = [12345, 0, (many - 1) << 40]
        views = []
        for op in ops:
            if op[0] == "add":
                _, key, count, hs = op
                if key not in p.d:
                    t.add(key, count, hs)
                    p.add(key, count, hs)
                    views.append((key, t.blocks(key)))
                probe.append(key)
            elif op[0] == "ask":
                probe.append(op[1])
                assert t.get(op[1]) == p.get(op[1]) and list(t.blocks(op[1])) == p.blocks(op[1])
            elif op[0] == "pickle":
                back = pickle.loads(pickle.dumps(t))
                assert back == t and t == back
                t = back
            else:
                ot, op_ = Pieces(not objects), _PlainTable()
                for key, count, hs in op[1]:
                    if key not in op_.d:
                        ot.add(key, count, hs)
                        op_.add(key, count, hs)
                assert t.merge(ot) == p.merge(op_)
                probe.extend(k for k, _, _ in op[1])
        _same_as_plain(t, p, probe)
        for key, view in views:
            assert list(view) == p.blocks(key)
        assert t.block_count() == sum(len(e[2]) for e in p.d.values())
        counts = [e[1] for e in p.d.values()]
        want = _narrowest(counts, P.COUNT_TYPES)
        assert (t._counts.typecode if type(t._counts) is array else None) == want
        assert type(t._ends) is array and t._ends.typecode == _narrowest(list(t._ends), P.END_TYPES)
        assert P.LOAD[1] * len(t) <= P.LOAD[0] * len(t._slots)


def test_columns_widen_on_huge_counts():
    t = Pieces(key_objects=False)
    t.add(1, 5, [1])
    assert t._counts.typecode == "h" and t._ends.typecode == "I"  # type: ignore[union-attr]
    t.add(2, 40_000, [2])
    assert t._counts.typecode == "i"  # type: ignore[union-attr]
    t.add(3, 2**40, [])
    assert t._counts.typecode == "q"  # type: ignore[union-attr]
    t.add(4, 2**64, [3, 4])
    assert type(t._counts) is list
    assert [t.get(k) for k in (1, 2, 3, 4)] == [(1, 5), (2, 40_000), (3, 2**40), (4, 2**64)]
    assert [list(t.blocks(k)) for k in (1, 2, 3, 4)] == [[1], [2], [], [3, 4]]
