"""A re-read passes over the JSON lines it does not want without decoding them (``reader._Unwanted``),
in the files whose lines held at most one call each in the first pass (``CallIndex.paged``).

The calls it gives must be those of a re-read that decodes every line (and of a full read, counted):
on files with CRLF ends, blank and bad lines, API pages of several calls on one line (their
``"data"`` key spelled plainly or with a ``\\u`` escape), gzip, several files; and it must actually
leave lines undecoded.
"""

from __future__ import annotations

import contextlib
import gzip
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.errors import PromptCacheError
from promptcache.read import reader as RD
from promptcache.read.reader import CallIndex, Reread, read_logs

ROOT = Path(__file__).resolve().parent.parent
_LINES = (ROOT / "fixtures/formats/helicone_export.jsonl").read_bytes().splitlines()
RECS = [_LINES[0], _LINES[1], _LINES[4]]  # calls
OTHER = _LINES[2]  # a record that is no call (skipped: no prompt)


def _line(kind: str, k: int) -> bytes:
    rec = RECS[k % len(RECS)]
    if kind == "rec":
        return rec + b"\n"
    if kind == "crlf":
        return rec + b"\r\n"
    if kind == "other":
        return OTHER + b"\n"
    if kind == "blank":
        return b"  \n"
    if kind == "bad":
        return b'{"not json\n'
    two = b"[" + rec + b"," + RECS[(k + 1) % len(RECS)] + b"]"
    if kind == "page":
        return b'{"data": ' + two + b', "error": null}\n'
    if kind == "escaped_page":  # the same page, its key spelled with an escape
        return b'{"\\u0064ata": ' + two + b"}\n"
    raise AssertionError(kind)


def _write(tmp: Path, name: str, kinds: list[str], gz: bool) -> Path:
    data = b"".join(_line(kind, k) for k, kind in enumerate(kinds))
    path = tmp / (name + (".jsonl.gz" if gz else ".jsonl"))
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _index_of(paths: list[Path], *, marks: bool = False) -> tuple[list, CallIndex]:
    """The calls and their index, as ``first_pass`` makes it (with the files that held pages, and
    with ``marks`` where their lines start)."""
    index = CallIndex()
    calls = []
    reader = read_logs([str(p) for p in paths])
    for c in reader:
        calls.append(c)
        index.add(c)
    index.paged = set(reader.paged)
    if marks:
        index.marks = reader.marks
    return calls, index


def _reread(paths: list[Path], index: CallIndex, wanted, *, gated: bool, monkeypatch) -> list:
    with monkeypatch.context() as m:
        if not gated:  # every line decoded, as before
            m.setattr(RD.LogReader, "_gate", lambda self, path: None)
        return list(Reread([str(p) for p in paths], "auto", index).at(wanted))


def _check(paths: list[Path], monkeypatch) -> tuple[list, CallIndex]:
    calls, index = _index_of(paths)
    n = len(calls)
    for wanted in (range(n), range(0, n, 2), range(1, n, 3), [n - 1] if n else [], [0] if n else [], []):
        got = _reread(paths, index, wanted, gated=True, monkeypatch=monkeypatch)
        assert got == _reread(paths, index, wanted, gated=False, monkeypatch=monkeypatch)
        assert [i for i, _ in got] == list(wanted)
        assert all(c == calls[i] for i, c in got)
    return calls, index


PLAIN = ["rec", "crlf", "blank", "rec", "bad", "crlf", "other", "rec", "blank", "rec", "rec"]
# a page of two calls past the records sniffed for the format (decoded whatever is wanted): its
# calls are numbered 1 and 2, so the lines still name calls uniquely (the index is used) while the
# page's own line (6) names none of them
PAGE = ["other"] * 5 + ["page", "rec", "crlf", "bad", "rec"]
ESCAPED = ["other"] * 5 + ["escaped_page", "rec", "blank", "crlf", "rec"]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("kinds", [PLAIN, PAGE, ESCAPED], ids=["lines", "page", "escaped-page"])
def test_reread_without_decoding_gives_the_same_calls(tmp_path, monkeypatch, kinds, gz):
    path = _write(tmp_path, "log", kinds, gz)
    calls, index = _check([path], monkeypatch)
    assert index.unique and len(calls) >= 5  # the path with the index (and the gate) is the one taken


def test_several_files(tmp_path, monkeypatch):
    paths = [_write(tmp_path, "a", PLAIN, False), _write(tmp_path, "b", PAGE, True), _write(tmp_path, "c", PLAIN, True)]
    _, index = _check(paths, monkeypatch)
    assert index.unique and index.paged == {str(paths[1])}


def test_a_page_of_one_call_names_its_line(tmp_path, monkeypatch):
    one = _write(tmp_path, "one", ["rec", "rec"], False)
    path = tmp_path / "log.jsonl"
    lines = one.read_bytes().splitlines()
    path.write_bytes(lines[0] + b"\n" + b'{"data": [' + lines[1] + b"]}\n" + b"\n".join(lines) + b"\n")
    calls, index = _check([path], monkeypatch)
    assert index.unique and index.paged == set() and [c.line for c in calls] == [1, 2, 3, 4]


def test_without_the_pages_known_every_line_is_decoded(tmp_path, monkeypatch):
    path = _write(tmp_path, "b", PAGE, False)
    calls, index = _index_of([path])
    index.paged = None  # a reader that does not say (the sharded one)
    for wanted in ([0], [2, 4], []):
        got = list(Reread([str(path)], "auto", index).at(wanted))
        assert [c for _, c in got] == [calls[i] for i in wanted]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_lines_not_wanted_are_not_decoded(tmp_path, monkeypatch, gz):
    path = _write(tmp_path, "log", ["other"] * 5 + ["blank", "bad"] + ["rec"] * 40 + ["crlf"] * 40, gz)
    calls, index = _index_of([path])
    decoded = [0]

    class Counting:
        JSONDecodeError = orjson.JSONDecodeError

        @staticmethod
        def loads(raw):
            decoded[0] += 1
            return orjson.loads(raw)

    monkeypatch.setattr(RD, "orjson", Counting)
    wanted = [3, len(calls) - 1]
    got = list(Reread([str(path)], "auto", index).at(wanted))
    assert [c for _, c in got] == [calls[i] for i in wanted]
    # the records sniffed for the format, then the wanted
    assert decoded[0] <= RD.SNIFF_RECORDS + len(wanted)
    decoded[0] = 0
    monkeypatch.setattr(RD.LogReader, "_gate", lambda self, path: None)
    assert list(Reread([str(path)], "auto", index).at(wanted)) == got
    assert decoded[0] == 86  # before: every line but the blank one


KINDS = st.sampled_from(["rec", "crlf", "blank", "bad", "other", "page", "escaped_page"])


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(KINDS, max_size=14), gz=st.booleans(), data=st.data())
def test_any_mix_of_lines(tmp_path_factory, kinds, gz, data):
    path = _write(tmp_path_factory.mktemp("mix"), "log", kinds, gz)
    calls, index = _index_of([path])
    wanted = data.draw(st.lists(st.sampled_from(range(len(calls))), unique=True).map(sorted) if calls else st.just([]))
    got = list(Reread([str(path)], "auto", index).at(wanted))
    assert [i for i, _ in got] == wanted and all(c == calls[i] for i, c in got)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(RD.LogReader, "_gate", lambda self, path: None)
        assert list(Reread([str(path)], "auto", index).at(wanted)) == got


def test_a_pretty_printed_document_is_still_read_whole():
    """Line 1 is decoded even when not wanted: it may begin a document spread over lines (a file
    read with the gate on from its first line, as a run with batch files reads its other files)."""
    import io

    doc = (ROOT / "fixtures/formats/langfuse_observations.json").read_bytes()
    gate = RD._Unwanted(frozenset())
    gate.on = True
    assert list(RD._jsonl_records(io.BytesIO(doc), skip=gate)) == list(RD._jsonl_records(io.BytesIO(doc)))
    assert list(RD._jsonl_records(io.BytesIO(doc))) == [(1, orjson.loads(doc))]


def _first_pass(paths: list[Path]):
    from promptcache.analyze.first_pass import first_pass
    from promptcache.knowledge.catalog import load_catalog
    from promptcache.measure.shape import Measurer

    return first_pass(
        read_logs([str(p) for p in paths]),
        catalog=load_catalog(),
        measurers={"deepseek-v4": Measurer("deepseek-v4")},
        primary="deepseek-v4",
        at=None,
        now=datetime(2026, 11, 1, tzinfo=UTC),
        calibrate=False,
    )


def test_first_pass_keeps_the_files_with_pages(tmp_path):
    paths = [_write(tmp_path, "a", PLAIN, False), _write(tmp_path, "b", PAGE, False)]
    fp = _first_pass(paths)
    assert fp.index.unique and fp.index.paged == {str(paths[1])}
    assert len(fp.index.lines) == len(list(read_logs([str(p) for p in paths])))


# -- a re-read seeks to the lines it wants (``LineMarks``) ------------------------------------------


def _unmarked(index: CallIndex) -> CallIndex:
    from copy import copy

    plain = copy(index)
    plain.marks = {}
    return plain


@settings(max_examples=80, deadline=None)
@given(
    kinds=st.lists(KINDS, max_size=24),
    gz=st.booleans(),
    every=st.sampled_from([1, 30, 200, 1 << 16]),
    data=st.data(),
)
def test_seeking_gives_the_calls_of_reading_every_line(tmp_path_factory, kinds, gz, every, data):
    """Differential: with marks every ``every`` bytes (1: at every line), the calls a re-read gives
    are those of the same re-read without marks, of one that decodes every line, and of the first
    pass, for any mix of records, CRLF ends, blank, bad and non-call lines and pages."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(RD, "MARK_BYTES", every)
        path = _write(tmp_path_factory.mktemp("seek"), "log", kinds, gz)
        calls, index = _index_of([path], marks=True)
    assert (str(path) in index.marks) == (not gz)  # a gzip stream is not seekable: no marks
    wanted = data.draw(st.lists(st.sampled_from(range(len(calls))), unique=True).map(sorted) if calls else st.just([]))
    got = list(Reread([str(path)], "auto", index).at(wanted))
    assert [i for i, _ in got] == wanted and all(c == calls[i] for i, c in got)
    assert list(Reread([str(path)], "auto", _unmarked(index)).at(wanted)) == got
    with pytest.MonkeyPatch.context() as m:
        m.setattr(RD.LogReader, "_gate", lambda self, path: None)
        assert list(Reread([str(path)], "auto", index).at(wanted)) == got


def test_marks_name_where_their_lines_start(tmp_path, monkeypatch):
    monkeypatch.setattr(RD, "MARK_BYTES", 100)
    kinds = ["rec", "crlf", "blank", "bad", "other", "rec"] * 20
    path = _write(tmp_path, "log", kinds, False)
    reader = read_logs([str(path)])
    list(reader)
    marks = reader.marks[str(path)]
    data = path.read_bytes()
    starts = [0] + [k + 1 for k, b in enumerate(data) if b == 0x0A][:-1]  # each line's first byte
    assert marks.size == len(data) and marks.lines[0] == 1 and marks.offsets[0] == 0
    assert all(marks.offsets[k] == starts[line - 1] for k, line in enumerate(marks.lines))
    # one a line past each 100 bytes read, no more: ~a mark per 100 bytes here
    gaps = [b - a for a, b in zip(marks.offsets, marks.offsets[1:], strict=False)]
    assert min(gaps) >= 100 and len(marks.lines) >= len(data) // (100 + max(len(_line(k, 0)) for k in kinds))


def _bytes_read(monkeypatch) -> list[int]:
    """The bytes the reader reads from its files from now on (its ``open`` counted)."""
    import io

    count = [0]

    class Counted(io.FileIO):
        def readinto(self, b):  # type: ignore[override]
            n = super().readinto(b)
            count[0] += n or 0
            return n

    def counting_open(path, mode="r", buffering=-1):
        assert mode == "rb"
        return io.BufferedReader(Counted(path, "r"), buffer_size=buffering if buffering > 0 else io.DEFAULT_BUFFER_SIZE)

    monkeypatch.setattr(RD, "open", counting_open, raising=False)
    return count


def test_a_reread_reads_only_near_the_lines_it_wants(tmp_path, monkeypatch):
    """A re-read of 3 calls of ~2,400 lines reads a few marks' worth of the file, not all of it
    (before: the whole file, line by line, each unwanted line passed over undecoded)."""
    monkeypatch.setattr(RD, "MARK_BYTES", 4096)
    monkeypatch.setattr(RD, "READ_BUFFER", 4096)
    path = _write(tmp_path, "log", ["rec", "crlf", "blank", "rec"] * 600, False)
    size = path.stat().st_size
    calls, index = _index_of([path], marks=True)
    wanted = [10, len(calls) // 2, len(calls) - 1]
    count = _bytes_read(monkeypatch)
    got = list(Reread([str(path)], "auto", index).at(wanted))
    assert [c for _, c in got] == [calls[i] for i in wanted]
    assert count[0] < size / 10, (count[0], size)
    count[0] = 0
    assert list(Reread([str(path)], "auto", _unmarked(index)).at(wanted)) == got
    assert count[0] >= size  # without marks: every line read


def test_marks_of_a_file_that_changed_are_not_used(tmp_path, monkeypatch):
    """A file of another size than the first pass read (appended to since): its marks are not used
    (every line read, the calls matched by their lines, as without marks)."""
    monkeypatch.setattr(RD, "MARK_BYTES", 64)
    path = _write(tmp_path, "log", ["rec", "blank", "crlf"] * 30, False)
    calls, index = _index_of([path], marks=True)
    with path.open("ab") as fh:
        fh.write(_line("rec", 0))
    count = _bytes_read(monkeypatch)
    wanted = [2, len(calls) - 1]
    got = list(Reread([str(path)], "auto", index).at(wanted))
    assert [c for _, c in got] == [calls[i] for i in wanted]
    assert count[0] >= path.stat().st_size


def test_first_pass_keeps_the_marks(tmp_path):
    paths = [_write(tmp_path, "a", PLAIN, False), _write(tmp_path, "b", PLAIN, True)]
    fp = _first_pass(paths)
    assert set(fp.index.marks) == {str(paths[0])}  # the plain file's; a gzip stream is not seekable
    assert list(fp.index.marks[str(paths[0])].lines) == [1]  # a mark per 64 KiB: the first line's


def _pipe(data: bytes):
    """A ``/dev/fd`` path reading ``data`` through a pipe (as ``<(zcat log.gz)`` gives), fed by a
    thread; ``close()`` when done."""
    import os
    import threading

    r, w = os.pipe()

    def feed() -> None:
        with os.fdopen(w, "wb") as fh, contextlib.suppress(BrokenPipeError):
            fh.write(data)

    writer = threading.Thread(target=feed)
    writer.start()

    def close() -> None:
        os.close(r)
        writer.join()

    return f"/dev/fd/{r}", close


def test_a_pipe_gets_no_marks():
    """A file that cannot be sought (a pipe here) gets no marks, so a re-read never seeks it (``seek``
    would raise there)."""
    path, close = _pipe(b"".join(_line(k, 0) for k in PLAIN))
    noted: dict = {}
    try:
        records = list(RD._records(Path(path), marks=noted))
    finally:
        close()
    assert records and noted == {}  # (some records: the look for the gzip magic takes a pipe's first buffer)


def test_a_pipe_is_refused_with_what_to_do(capsys):
    """A log given as a pipe is refused before it is read (exit 2, one sentence). Before, the look for
    the gzip magic took the pipe's first buffer (its calls never counted), and the advisor's re-read
    found the pipe empty: 200 short chats through ``<(cat ...)`` ended in an internal error
    (``zip() argument 2 is shorter than argument 1``)."""
    from promptcache.cli import main

    path, close = _pipe(b"".join(_line(k, 0) for k in PLAIN * 20))
    try:
        with pytest.raises(PromptCacheError, match="not a regular file"):
            read_logs([path])
        assert main(["analyze", path, "--format", "json"]) == 2
    finally:
        close()
    err = capsys.readouterr().err
    assert "save it to a file first" in err and path in err


@pytest.mark.parametrize("marks", [False, True], ids=["scan", "marks"])
@pytest.mark.parametrize("unique", [True, False], ids=["index", "counted"])
def test_a_log_cut_since_the_first_pass_stops_with_what_happened(tmp_path, monkeypatch, marks, unique):
    """A log cut since the first pass (rotated, rewritten): the calls wanted that are gone stop the
    re-read with one sentence that names the log (before: fewer calls came back, and the advisor
    failed later on an internal error); one appended to is re-read as before."""
    monkeypatch.setattr(RD, "MARK_BYTES", 64)
    path = _write(tmp_path, "log", ["rec", "blank", "crlf"] * 10, False)
    calls, index = _index_of([path], marks=marks)
    if not unique:
        index.unique = False  # matched by counting, as where lines do not name calls
    wanted = [1, len(calls) - 1]
    with path.open("ab") as fh:  # appended to: the first pass's calls are all still there
        fh.write(_line("rec", 0))
    assert [c for _, c in Reread([str(path)], "auto", index).at(wanted)] == [calls[i] for i in wanted]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # cut in half
    with pytest.raises(PromptCacheError, match=r"the log changed while promptcache read it \(1 call"):
        list(Reread([str(path)], "auto", index).at(wanted))


@pytest.mark.parametrize("marks", [False, True], ids=["scan", "marks"])
@pytest.mark.parametrize("unique", [True, False], ids=["index", "counted"])
def test_a_call_rewritten_in_place_is_not_taken_for_the_first_one(tmp_path, monkeypatch, marks, unique):
    """A re-read matches each call to the first pass's by its call id, not by its position: a log
    whose lines were rewritten since the first pass (here two calls swapped: the same size, the
    same line count, every line still a call) stops the run with one sentence naming the line.
    Before, the advisor silently took the other call for the one it had measured."""
    monkeypatch.setattr(RD, "MARK_BYTES", 64)
    kinds = ["rec", "blank", "crlf"] * 4
    path = _write(tmp_path, "log", kinds, False)
    calls, index = _index_of([path], marks=marks)
    if not unique:
        index.unique = False  # matched by counting, as where lines do not name calls
    assert len(index.ids) == len(calls) == 8
    wanted = [0, 1, len(calls) - 1]
    assert [c for _, c in Reread([str(path)], "auto", index).at(wanted)] == [calls[i] for i in wanted]
    lines = path.read_bytes().splitlines(keepends=True)
    lines[0], lines[2] = lines[2].replace(b"\r\n", b"\n"), lines[0].replace(b"\n", b"\r\n")  # calls 0 and 1 swapped
    size = path.stat().st_size
    path.write_bytes(b"".join(lines))
    assert path.stat().st_size == size  # the marks still apply
    assert [c for _, c in Reread([str(path)], "auto", index).at([len(calls) - 1])] == [calls[-1]]  # untouched
    with pytest.raises(PromptCacheError, match=rf"{path.name}:1: the log changed while promptcache read it"):
        list(Reread([str(path)], "auto", index).at(wanted))


def test_the_index_keeps_each_calls_id():
    """``CallIndex.ids``: the CRC-32 of each call's id, one per call added, also once the index
    gave up naming calls by their lines (a re-read then counts, and still checks the ids)."""
    import zlib

    from promptcache.model.calls import Call

    index = CallIndex()
    for src, line, cid in [("a", 1, "x"), ("a", 2, "y"), ("a", 2, "z"), ("b", 1, "é")]:
        index.add(Call(source=src, line=line, model="m", segments=[], call_id=cid))
    assert not index.unique
    assert list(index.ids) == [zlib.crc32(c.encode()) for c in ("x", "y", "z", "é")]
