"""The input cut into pieces that can be read apart: whole files, and line-aligned byte ranges of
large JSON-lines files, each knowing the number of its first line (``--engine dask``: each is read
and measured on a worker, ``analyze/sharded_read.py``). Imports no Dask.

How a file is cut, without reading it on the client:

1. ``plan`` lists the inputs (local paths or fsspec URLs), detects each file's format from its
   head as the local reader does (``inspect``: a task per file), and cuts a file into nominal ranges of ``range_bytes`` when it is
   plain (not gzip) JSON lines of a one-record-per-line format (``PARSERS``, stateless). Every
   other file is one whole range: gzip (not seekable), JSON arrays and documents, YAML, session
   transcripts and stateful parsers (Bailian), whose records depend on the ones before.
   A run with batch files (``openai-batch``, ``anthropic-batch``: an output needs every input
   indexed first) is not cut at all (``plan`` gives None: read on the client, as before).
2. ``bounds`` (one task per nominal range, on the workers) moves each cut to the start of the next
   line and counts the newlines between two cuts: a line belongs to the range it starts in.
3. ``number`` gives each range its first line number from those counts (1 + the newlines of the
   same file's earlier ranges), so a bad line is named by its file and its line, as in a local run.

``records(range)`` then gives a range's records, exactly the ones (and the line numbers) the whole
file's read gives for those lines.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from . import fsurl
from .reader import (
    JOINED,
    PARSER_FACTORIES,
    PARSERS,
    LineMarks,
    LogReader,
    Record,
    _jsonl_records,
    _records,
    _size,
)

#: the byte size a large JSON-lines file is cut into (``PROMPTCACHE_RANGE_BYTES`` overrides it)
RANGE_BYTES = 64 << 20
RANGE_BYTES_ENV = "PROMPTCACHE_RANGE_BYTES"
_FIRST_LINE_MAX = 1 << 20  # a first line longer than this: the file is read whole


@dataclass(frozen=True)
class Range:
    """Lines ``[start, end)`` (bytes) of ``path``, or the whole file (``end == -1``)."""

    path: Path  # a ``pathlib.Path`` or an ``fsurl.Url``; ``str(path)`` names it in the report
    fmt: str | None  # detected (or forced) format; None: no known shape
    start: int = 0
    end: int = -1
    first_line: int = 1
    lines: int = 0  # newlines in [start, end), from ``bounds``

    @property
    def whole(self) -> bool:
        return self.end < 0


def range_bytes(workers: int = 1, total: int = 0) -> int:
    """About four ranges per worker thread, between 1 MiB and ``RANGE_BYTES`` (or the environment's)."""
    env = os.environ.get(RANGE_BYTES_ENV)
    if env:
        return max(1, int(env))
    return max(1 << 20, min(RANGE_BYTES, total // max(1, 4 * workers)))


@dataclass(frozen=True)
class FileInfo:
    """What ``plan`` needs of one file: its format, its size, and whether it can be cut."""

    path: Path
    fmt: str | None
    size: int
    lines: bool  # plain JSON lines of a stateless one-record-per-line format


def inspect(path: Path, input_format: str = "auto") -> FileInfo:
    """A file's format (detected from its head as the local reader does), size and cuttability:
    a task per file, so a run of many remote files is inspected on the workers."""
    fmt, _role = LogReader([], input_format=input_format)._sniff(path)
    cut = fmt in PARSERS and fmt not in PARSER_FACTORIES and _one_record_a_line(path)
    return FileInfo(path, fmt, _size(path), cut)


def plan(
    paths: Iterable[str | Path],
    *,
    input_format: str = "auto",
    workers: int = 1,
    size: int | None = None,
    map: Callable[[Callable[[Any], Any], list[Any]], list[Any]] | None = None,
) -> tuple[list[Path], list[Range]] | None:
    """(files, nominal ranges in log order), or None when the run has batch files. ``size``: the
    range size (default ``range_bytes``); ``map``: how the files are inspected (an executor's
    ``map``; default here, one by one)."""
    files = LogReader(paths, input_format=input_format).paths  # listed here (a directory, a prefix, a glob)
    fn = functools.partial(inspect, input_format=input_format)
    infos: list[FileInfo] = map(fn, files) if map is not None else [fn(p) for p in files]
    if any(i.fmt in JOINED for i in infos):
        return None
    step = size or range_bytes(workers, sum(i.size for i in infos))
    out: list[Range] = []
    for i in infos:
        if i.size > step and i.lines:
            out.extend(Range(i.path, i.fmt, s, min(s + step, i.size)) for s in range(0, i.size, step))
        else:
            out.append(Range(i.path, i.fmt))
    return files, out


def _one_record_a_line(path: Path) -> bool:
    """Plain (not gzip) JSON lines: the first line alone is a JSON object."""
    try:
        with _raw(path) as fh:
            head = fh.readline(_FIRST_LINE_MAX)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b" or not head.endswith(b"\n") or Path(str(path)).suffix.lower() in (".yaml", ".yml"):
        return False
    head = head.removeprefix(b"\xef\xbb\xbf")
    if not head.lstrip().startswith(b"{"):
        return False
    try:
        return isinstance(orjson.loads(head), dict)
    except orjson.JSONDecodeError:
        return False


def _raw(path: Path) -> io.BufferedIOBase:
    """The file's bytes as stored (gzip not undone), seekable."""
    if isinstance(path, fsurl.Url):
        return io.BufferedReader(fsurl.open_binary(path))
    return open(path, "rb")


def _line_start(fh: io.BufferedIOBase, offset: int, end: int) -> int:
    """The first line start at or after ``offset`` (``end`` when none)."""
    if offset <= 0:
        return 0
    fh.seek(offset - 1)
    pos = offset - 1
    while pos < end:
        chunk = fh.read(1 << 16)
        if not chunk:
            return end
        i = chunk.find(b"\n")
        if i >= 0:
            return min(end, pos + i + 1)
        pos += len(chunk)
    return end


def bounds(rng: Range) -> Range:
    """The range moved to line starts, with the newlines it holds (a worker task: reads its bytes once)."""
    if rng.whole:
        return rng
    size = _size(rng.path)
    with _raw(rng.path) as fh:
        start = _line_start(fh, rng.start, size)
        end = _line_start(fh, rng.end, size) if rng.end < size else size
        lines = 0
        fh.seek(start)
        left = end - start
        while left > 0:
            chunk = fh.read(min(left, 1 << 22))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            left -= len(chunk)
    return replace(rng, start=start, end=end, lines=lines)


def number(ranges: list[Range]) -> list[Range]:
    """Each range's first line from the newline counts of the same file's ranges before it; ranges
    left empty by a cut inside a long line are dropped."""
    out: list[Range] = []
    line, last = 1, None
    for r in ranges:
        if r.path != last:
            line, last = 1, r.path
        if r.whole:
            out.append(r)
            continue
        if r.end > r.start:
            out.append(replace(r, first_line=line))
        line += r.lines
    return out


def size(rng: Range) -> int:
    """The range's bytes as stored (a whole file's size)."""
    return _size(rng.path) if rng.whole else rng.end - rng.start


def records(rng: Range, marks: dict[str, LineMarks] | None = None) -> Iterator[Record]:
    """The range's records: a whole file as ``reader`` reads it, a byte range as JSON lines
    numbered from its ``first_line``. ``marks``: where the range's lines of a local file start go
    there (``reader.LineMarks``, about one every ``MARK_BYTES``, the range's first line among them),
    as a first pass over the whole file notes them, so a re-read on the client can seek."""
    if rng.whole:
        yield from _records(rng.path, marks=marks)
        return
    with _raw(rng.path) as fh:
        noted = None
        if marks is not None and not isinstance(rng.path, fsurl.Url):
            noted = marks[str(rng.path)] = LineMarks(os.fstat(fh.fileno()).st_size)
        fh.seek(rng.start)
        window = io.BufferedReader(_Window(fh, rng.end - rng.start), 1 << 20)
        yield from _jsonl_records(window, rng.first_line, marks=noted, base=rng.start)


class _Window(io.RawIOBase):
    """The next ``n`` bytes of a file, then its end: a range is streamed, never held whole."""

    def __init__(self, fh: io.BufferedIOBase, n: int):
        self.fh, self.left = fh, n

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.left <= 0:
            return 0
        data = self.fh.read(min(len(b), self.left))
        b[: len(data)] = data
        self.left -= len(data)
        return len(data)


__all__ = [
    "RANGE_BYTES",
    "RANGE_BYTES_ENV",
    "FileInfo",
    "Range",
    "bounds",
    "inspect",
    "number",
    "plan",
    "range_bytes",
    "records",
    "size",
]
