"""The first pass's shortcuts change nothing but the work done (differential):

* ``Measurer`` takes the keys and counts of the pieces a call replays from its conversation's
  previous call (text comparison instead of a digest): every shape equals the one measured without;
* ``Grouper.add`` takes the measurer's rendered pieces instead of rendering the call again: the
  same groups, cuts and breakers;
* ``volatile.fingerprint`` skips the email pattern on text without "@": the same fingerprint;
* ``Reread.at`` re-reads only the calls wanted, matched to the first pass by file and line: the
  calls at those positions, in any format, and the other lines left unparsed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.analyze.first_pass import first_pass
from promptcache.knowledge.catalog import load_catalog
from promptcache.measure import shape as S
from promptcache.measure.shape import Measurer
from promptcache.read.reader import CallIndex, Reread, numbered, read_logs
from promptcache.segment import groups as G
from promptcache.segment import volatile

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
DAY = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def calls(gen_log):
    return list(read_logs([str(gen_log("--calls", "150", "--seed", "5")), str(EXAMPLE)]))


def _digests(monkeypatch) -> list[int]:
    """Counts the pieces digested (``Measurer._piece``)."""
    n = [0]
    real = Measurer._piece

    def counting(self, text, extra=0):
        n[0] += 1
        return real(self, text, extra)

    monkeypatch.setattr(Measurer, "_piece", counting)
    return n


@pytest.mark.parametrize("family", ["deepseek-v4", "o200k"])
def test_replayed_pieces_give_the_same_shapes(calls, family, monkeypatch):
    n = _digests(monkeypatch)
    fast = Measurer(family)
    got = [fast.shape(c, trust_usage=True) for c in calls]
    with_reuse = n[0]
    monkeypatch.setattr(S, "RECENT_CONVERSATIONS", 0)  # nothing kept: every piece digested
    slow = Measurer(family)
    want = [slow.shape(c, trust_usage=True) for c in calls]
    assert got == want
    assert fast._pieces == slow._pieces and list(fast._pieces) == list(slow._pieces)
    assert with_reuse < 0.7 * (n[0] - with_reuse)  # the log's conversations replay many pieces


def test_a_few_conversations_kept(calls, monkeypatch):
    """Fewer conversations kept than the log interleaves: the same shapes, a bounded table."""
    monkeypatch.setattr(S, "RECENT_CONVERSATIONS", 2)
    m = Measurer("deepseek-v4")
    got = [m.shape(c, trust_usage=True) for c in calls]
    assert len(m._recent) <= 2
    assert got == [Measurer("deepseek-v4").shape(c, trust_usage=True) for c in calls]


def test_rewritten_calls_with_adjust(calls):
    """A call shaped again with another's correction (the advisor's rewrites) after its
    conversation's calls: the same shape as on a fresh measurer."""
    m = Measurer("deepseek-v4")
    shapes = [m.shape(c, trust_usage=True) for c in calls]
    for c, s in list(zip(calls, shapes, strict=True))[::7]:
        assert m.shape(c, trust_usage=True, adjust=s.adjust) == Measurer("deepseek-v4").shape(
            c, trust_usage=True, adjust=s.adjust
        )


def _fp(calls, monkeypatch, reuse: bool):
    if not reuse:
        real = G.Grouper.add
        monkeypatch.setattr(G.Grouper, "add", lambda self, call, shape, rendered=None: real(self, call, shape))
    measurers = {"deepseek-v4": Measurer("deepseek-v4")}
    fp = first_pass(
        calls,  # type: ignore[arg-type]
        catalog=load_catalog(),
        measurers=measurers,
        primary="deepseek-v4",
        at=DAY,
        now=DAY,
        calibrate=False,
    )
    monkeypatch.undo()
    return fp


class _Reader(list):
    stats = None

    def fraction(self) -> float:
        return 1.0


def test_groups_from_the_measurers_pieces(calls, monkeypatch):
    renders = [0]
    real = G._pieces

    def counting(call, family):
        renders[0] += 1
        return real(call, family)

    monkeypatch.setattr(G, "_pieces", counting)
    got = _fp(_Reader(calls), monkeypatch, reuse=True)
    assert renders[0] == 0  # every call's pieces came from the measurer
    want = _fp(_Reader(calls), monkeypatch, reuse=False)
    assert [f.group for f in got.facts] == [f.group for f in want.facts]
    assert list(got.grouper.groups) == list(want.grouper.groups)
    assert got.grouper.groups == want.grouper.groups


_TEXT = st.lists(st.sampled_from(list("ab9fF0 .-_+@\n") + ["deadbeef01", "x@y.io", "a.b@c-d.e"]), max_size=40).map(
    "".join
)


@settings(max_examples=400, deadline=None)
@given(text=_TEXT)
def test_fingerprint_without_email_pattern(text):
    want = volatile._IDS.sub("#", text.translate(volatile._DIGITS))
    assert volatile.fingerprint(text) == want


# -- re-reads matched by file and line --------------------------------------------------------------


def _index_of(paths) -> tuple[list, CallIndex]:
    index = CallIndex()
    calls = []
    for c in read_logs([str(p) for p in paths]):
        calls.append(c)
        index.add(c)
    return calls, index


FORMATS = sorted(p for p in (ROOT / "fixtures/formats").iterdir())


@pytest.mark.parametrize(
    "paths", [[p] for p in FORMATS] + [FORMATS, [EXAMPLE, EXAMPLE]], ids=lambda ps: "+".join(p.name for p in ps)[:60]
)
def test_reread_at_gives_the_calls_at_those_positions(paths):
    calls, index = _index_of(paths)
    names = [str(p) for p in paths]
    for wanted in (range(len(calls)), range(0, len(calls), 3), [len(calls) - 1] if calls else [], []):
        got = list(Reread(names, "auto", index).at(wanted))
        assert [i for i, _ in got] == list(wanted)
        assert all(c == calls[i] for i, c in got)
        assert list(numbered(Reread(names, "auto", index), wanted)) == got


def test_index_gives_up_where_lines_do_not_name_calls():
    _, twice = _index_of([EXAMPLE, EXAMPLE])
    assert not twice.unique  # one file given twice
    _, once = _index_of([EXAMPLE])
    assert once.unique and len(once.lines) > 0


def test_reread_parses_only_the_lines_wanted(tmp_path, monkeypatch):
    from promptcache.read import reader as RD

    calls, index = _index_of([EXAMPLE])
    assert index.unique
    parsed = [0]
    fmt = RD.LogReader([str(EXAMPLE)])._sniff(EXAMPLE)[0]
    real = RD.PARSERS[fmt]

    def counting(*a):
        parsed[0] += 1
        return real(*a)

    monkeypatch.setitem(RD.PARSERS, fmt, counting)
    wanted = [1, 5, len(calls) - 1]
    got = list(Reread([str(EXAMPLE)], "auto", index).at(wanted))
    assert [i for i, _ in got] == wanted and [c for _, c in got] == [calls[i] for i in wanted]
    assert parsed[0] <= len(wanted) + 8  # the first records sniffed for the format, then the wanted
    assert parsed[0] < len(calls) / 4


@given(n=st.integers(0, 70), block=st.sampled_from([1, 2, 16]))
def test_block_hashes_chain_each_full_block(n, block):
    """``Measurer._store`` hashes each full block of ids chained from ``ROOT`` as
    ``hash((h, *ids[i - b : i]))`` (a tuple of one iterator's items, not a slice: the same hash)."""
    m = Measurer("blocks", block_tokens=block)
    ids = [(i * 7919) % 100_003 for i in range(n)]
    assert m._store(42, ids, 3) == n + 3
    want, h = [], S.ROOT
    for i in range(block, n + 1, block):
        h = hash((h, *ids[i - block : i]))
        want.append(h)
    assert list(m.blocks(42)) == want


def test_tool_calls_rendered_once_per_text():
    """An assistant turn's tool calls come back with every later call of its conversation: rendered
    once (the same string object), as before."""
    from promptcache.measure import tokens as T

    raw = '[{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\\"a\\": 1}"}}]'
    got = T._tool_calls_deepseek(raw)
    assert got == f'{T.TOOL_CALLS[0]}{T.TOOL_CALL[0]}f{T.TOOL_CALL[1]}{{"a": 1}}{T.TOOL_CALL[2]}{T.TOOL_CALLS[1]}'
    assert T._tool_calls_deepseek(raw) is got
