"""Readers: log files in, normalized ``Call`` records out, with every line accounted for.

``read_logs`` takes files, directories (every log file under them) and globs; each file may be
plain or gzip, JSONL, a JSON array (streamed element by element, so memory stays flat), a single
JSON document, or a YAML cassette. The format of each file is detected from its first records
(``detect.py``) unless ``input_format`` forces one; mixed formats in one run are fine.

Three kinds of format:

* per-record (``PARSERS``): one record -> one ``Call``;
* documents (``EXPANDERS``): one record -> many units (OTLP spans, cassette interactions, WEKA
  requests, trajectory turns), each unit one ledger line;
* sessions (``SESSIONS``): a whole file is one conversation log (Claude Code and Codex CLI session
  transcripts); a stateful reader sees its records in order and yields each model call once it is
  complete (several lines can make one call). Lines that only give a later call its context (user
  turns, tool results, metadata, further content blocks of a call already counted) are counted as
  ``companion_lines``, like batch inputs;
* joined (``openai-batch``, ``anthropic-batch``): the input/request file is indexed by
  ``custom_id`` and each output/result line is joined with its request. Input lines are counted as
  ``companion_lines``; an input with no output line is one skipped line (``no_batch_output``), an
  output with no input file in the run is skipped as ``batch_input_missing``.

``ReadStats`` keeps the ledger: ``lines == calls + skipped`` (by reason). With ``strict=True`` the
first bad line raises ``LogFormatError`` (``file:line: what was wrong``). A reader never tokenizes
or prices.
"""

from __future__ import annotations

import glob as _glob
import gzip
import io
import os
import re
import zlib
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson

from ..errors import LogFormatError, PromptCacheError
from ..model.calls import Call
from ..secrets import mask_secrets
from . import fsurl
from .anthropic import parse_anthropic, parse_anthropic_batch_pair
from .capture import parse_capture
from .cassettes import expand_vcr, load_yaml
from .claude_code import ClaudeCodeSession
from .codex import CodexSession
from .common import LineError
from .detect import detect, nearest
from .gemini import parse_gemini
from .helicone import parse_helicone
from .langfuse import parse_langfuse
from .litellm import parse_litellm
from .openai_batch import is_input_line, parse_openai_batch_pair
from .openai_chat import parse_openai_chat
from .openai_responses import parse_openai_responses
from .otel import expand_otel
from .traces import (
    BailianParser,
    expand_weka,
    parse_bailian,
    parse_mooncake,
    parse_promptcache_trace,
)
from .trajectories import expand_trajectory

Parser = Callable[[object, str, int], Call]
Expander = Callable[[object, str, int], Iterator[tuple[int, "Call | LineError"]]]

#: format name -> parser of one decoded record
PARSERS: dict[str, Parser] = {
    "openai": parse_openai_chat,
    "openai-responses": parse_openai_responses,
    "anthropic": parse_anthropic,
    "gemini": parse_gemini,
    "litellm": parse_litellm,
    "langfuse": parse_langfuse,
    "helicone": parse_helicone,
    "mooncake": parse_mooncake,
    "bailian": parse_bailian,
    "promptcache-trace": parse_promptcache_trace,
    "promptcache-capture": parse_capture,
}
#: formats whose parser keeps state within one file (a fresh one per file)
PARSER_FACTORIES: dict[str, Callable[[], Parser]] = {"bailian": BailianParser}
#: format name -> expander of one record into many units
EXPANDERS: dict[str, Expander] = {
    "otel": expand_otel,
    "vcr": expand_vcr,
    "weka": expand_weka,
    "trajectory": expand_trajectory,
}
#: format name -> a per-file session reader: ``feed(obj, line)`` and ``finish()`` yield (line, Call |
#: LineError) for each completed call; ``context_lines`` counts the lines that only gave context
SESSIONS: dict[str, Callable[[str], Any]] = {
    "claude-code": ClaudeCodeSession,
    "codex": CodexSession,
}
JOINED = ("openai-batch", "anthropic-batch")
ALIASES = {
    "claude-code-transcript": "claude-code",
    "codex-cli": "codex",
    "capture": "promptcache-capture",
    "openai-chat": "openai",
    "chat": "openai",
    "responses": "openai-responses",
    "claude": "anthropic",
    "otlp": "otel",
    "cassette": "vcr",
    "swe-agent": "trajectory",
    "openhands": "trajectory",
    "mini-swe-agent": "trajectory",
    "qwen-bailian": "bailian",
    "kv-cache-tester": "weka",
}
FORMAT_NAMES = sorted([*PARSERS, *EXPANDERS, *SESSIONS, *JOINED])

MAX_EXAMPLES = 5
#: a JSONL line longer than this is skipped (``too_large``) without being held whole: no provider
#: accepts a request this big, and a file with no newlines (binary, or one huge line) stays cheap
MAX_LINE_BYTES = 64 * 1024 * 1024
SNIFF_RECORDS = 5
_LOG_SUFFIXES = (".jsonl", ".json", ".ndjson", ".traj", ".yaml", ".yml")


@dataclass
class SkippedLine:
    path: str
    line: int
    reason: str
    message: str


@dataclass
class ReadStats:
    """The ledger that proves no line was lost: ``lines == calls + sum(skipped.values())``."""

    files: list[str] = field(default_factory=list)
    lines: int = 0
    calls: int = 0
    blank_lines: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: list[SkippedLine] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)  # file -> detected (or forced) format
    companion_lines: int = 0  # batch input/request lines, counted through their output lines
    incomplete_prompts: int = 0  # calls whose log holds only part of the prompt

    def skip(self, path: str, line: int, reason: str, message: str) -> None:
        self.skipped[reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(SkippedLine(path, line, reason, message))

    @property
    def skipped_lines(self) -> int:
        return sum(self.skipped.values())


def _is_log_name(name: str) -> bool:
    n = name.lower()
    n = n.removesuffix(".gz")
    return n.endswith(_LOG_SUFFIXES)


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if fsurl.is_url(p):  # s3://, gs://, file://, memory://: listed by fsspec, named as given
            out.extend(fsurl.expand(str(p), _is_log_name))  # type: ignore[arg-type]  # a Url has Path's name
            continue
        path = Path(p)
        if path.is_dir():
            found = sorted(q for q in path.rglob("*") if q.is_file() and _is_log_name(q.name))
            if not found:
                raise PromptCacheError(f"{path}: directory holds no log files (*.jsonl, *.json, *.gz, *.yaml)")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        elif path.exists():  # a pipe (``<(zcat log.gz)``), a FIFO or a device: it can be read only once
            raise PromptCacheError(
                f"{path}: not a regular file (a pipe or a device), and promptcache opens a log more than "
                "once: save it to a file first (a .gz log can be given as it is)"
            )
        elif any(ch in str(p) for ch in "*?["):
            found = sorted(Path(q) for q in _glob.glob(str(p), recursive=True))
            files: list[Path] = []
            for q in found:
                if q.is_dir():
                    files.extend(sorted(r for r in q.rglob("*") if r.is_file() and _is_log_name(r.name)))
                elif q.is_file():
                    files.append(q)
            if not files:
                raise PromptCacheError(f"{p}: the pattern matches no files")
            out.extend(files)
        else:
            raise PromptCacheError(f"{path}: no such file")
    return out


def _size(path: Path) -> int:
    if isinstance(path, fsurl.Url):
        return fsurl.size(path)
    try:
        return path.stat().st_size
    except OSError:
        return 0


class _GzipOwning(gzip.GzipFile):
    """A gzip stream that closes the file it reads (``GzipFile(fileobj=...)`` leaves it open)."""

    def close(self) -> None:
        raw: Any = self.fileobj
        try:
            super().close()
        finally:
            if raw is not None:
                raw.close()


def _open(path: Path) -> io.BufferedIOBase:
    """The file's records' bytes, opened once: a gzip stream when its first bytes (peeked) say so.
    A URL's stream is buffered too (peek and ``readline(limit)`` as a local file's)."""
    if isinstance(path, fsurl.Url):
        fh = io.BufferedReader(fsurl.open_binary(path))
    else:
        fh = cast(io.BufferedReader, open(path, "rb", buffering=READ_BUFFER))
    if fh.peek(2)[:2] == b"\x1f\x8b":
        return _GzipOwning(fileobj=fh, mode="rb")
    return fh


# a local file's read buffer: ``readline`` of a line longer than the default buffer (8 KB; a chat
# log's lines are ~30 KB) grows its result chunk by chunk, ~3.5x the time of reading into 64 KB on
# the 3,000-call log (0.075 s against 0.022 s for its 89 MB)
READ_BUFFER = 1 << 16


# --- containers -------------------------------------------------------------------------------

_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},\n]|"')


def iter_json_array(fh: io.BufferedIOBase, chunk: int = 1 << 20) -> Iterator[tuple[int, bytes]]:
    """The top-level elements of a JSON array, as raw bytes with the line each starts on.

    Scans structural characters only (strings are skipped whole by one regex), so a huge array is
    read in chunks and never held in memory at once. Malformed input ends with a ``ValueError``.
    """
    buf = b""
    scan = 0
    depth = 0
    started = False
    elem_start = 0
    elem_line = 1
    line = 1
    eof = False
    while True:
        if not eof:
            data = fh.read(chunk)
            if data:
                buf += data
            else:
                eof = True
        need_more = False
        for m in _TOKENS.finditer(buf, scan):
            tok = m.group()
            c = tok[:1]
            if c == b'"':
                if len(tok) == 1:
                    need_more = True
                    scan = m.start()
                    break
                continue
            if c == b"\n":
                line += 1
                continue
            if c in b"[{":
                if depth == 0:
                    if c != b"[" or started:
                        raise ArrayError(line, f"line {line}: expected a JSON array")
                    started = True
                    elem_start, elem_line = m.end(), line
                depth += 1
            elif c in b"]}":
                depth -= 1
                if depth == 0:
                    text = buf[elem_start : m.start()]
                    if text.strip():
                        yield _elem_line(text, elem_line), text
                    return
                if depth < 0:
                    raise ArrayError(line, f"line {line}: unbalanced brackets")
            elif c == b"," and depth == 1:
                text = buf[elem_start : m.start()]
                yield _elem_line(text, elem_line), text
                elem_start, elem_line = m.end(), line
        else:
            scan = len(buf)
        if eof:
            raise ArrayError(line, f"line {line}: the array is cut short" if started else "no JSON array found")
        if need_more or not started or depth >= 1:
            cut = min(elem_start, scan) if started else scan
            buf = buf[cut:]
            scan -= cut
            elem_start -= cut


class ArrayError(ValueError):
    """A malformed JSON array, with the line where reading it failed."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line


def _resume(head: list[Record], rest: Iterator[Record]) -> Iterator[Record]:
    """The records already read, then the rest of the same file."""
    yield from head
    head.clear()  # the first record of a one-document file is the whole file: not kept twice
    yield from rest


def _elem_line(text: bytes, line: int) -> int:
    lead = len(text) - len(text.lstrip())
    return line + text[:lead].count(b"\n")


Record = tuple[int, Any]  # (line, decoded object or a LineError)

#: a JSON line a re-read passed over without decoding it (``_Unwanted``)
UNREAD: Any = object()


#: a first pass notes where a line starts about every this many bytes of a plain local JSON-lines
#: file (``LineMarks``): ~12 bytes per 64 KiB of log, whatever its number of calls
MARK_BYTES = 1 << 16


class LineMarks:
    """Where some lines of a plain local JSON-lines file start, noted by a first pass (about one
    every ``MARK_BYTES``): ``lines[k]`` starts at byte ``offsets[k]``, both increasing. ``size``:
    the file's size when it was read (a re-read of a file of another size does not use them)."""

    __slots__ = ("lines", "offsets", "size")

    def __init__(self, size: int):
        self.lines, self.offsets, self.size = array("I"), array("q"), size

    def add(self, line: int, offset: int) -> None:
        try:
            self.lines.append(line)
        except OverflowError:  # a line past 4 billion: no further marks
            return
        self.offsets.append(offset)


class _Unwanted:
    """A re-read's lines to decode (``LogReader.only``) in a file whose lines each held at most one
    call in the first pass (no API page of several: ``LogReader.plain``): from when ``on`` is set
    (the file's format known to give a call per line: no expander, session or join), a JSON line
    not among ``lines`` is yielded as ``UNREAD`` instead of decoded, but for line 1 (which may
    begin a pretty-printed document). With the first pass's ``marks`` of the file, the lines
    before the next wanted one are not even read: the re-read seeks to the last mark at or before
    it, and stops after the last wanted line. The calls read are those a full decode gives; the
    re-read's own ``ReadStats`` (which no one reads) do not count the lines passed over."""

    __slots__ = ("lines", "marks", "on", "wanted")

    def __init__(self, lines: set[int] | frozenset[int], marks: LineMarks | None = None):
        self.lines, self.on, self.marks = lines, False, marks
        self.wanted = sorted(lines) if marks is not None else []


def _records(
    path: Path,
    on_open: Callable[[Any], None] | None = None,
    skip: _Unwanted | None = None,
    marks: dict[str, LineMarks] | None = None,
) -> Generator[Record, None, None]:
    """Decoded records of one file, whatever its container (``on_open`` sees the open handle; ``skip``:
    JSON lines a re-read need not decode; ``marks``: where a plain local JSON-lines file's line
    marks go, by file, noted as it is read)."""
    name = path.name.lower().removesuffix(".gz")
    with _open(path) as fh:
        # a local file's own bytes (no gzip stream, URL, pipe or FIFO): offsets a re-read can seek to
        plain = type(fh) is io.BufferedReader and not isinstance(path, fsurl.Url) and fh.seekable()
        size = os.fstat(fh.fileno()).st_size if plain else -1
        if skip is not None and skip.marks is not None and skip.marks.size != size:
            skip.marks = None  # not the file the first pass read: every line is read, as without marks
        if on_open is not None:
            on_open(fh)
        if name.endswith((".yaml", ".yml")):
            try:
                yield 1, load_yaml(fh.read())
            except LineError as exc:
                yield 1, exc
            return
        head = fh.peek(64) if hasattr(fh, "peek") else b""
        first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if first == b"[":
            yield from _array_records(fh)
            return
        noted = None
        if marks is not None and size >= 0:
            noted = marks[str(path)] = LineMarks(size)
        yield from _jsonl_records(fh, skip=skip, marks=noted)


def _array_records(fh: io.BufferedIOBase) -> Iterator[Record]:
    try:
        gen = iter_json_array(fh)
        first = next(gen, None)
        if first is None:
            return
        try:
            obj = orjson.loads(first[1])
        except orjson.JSONDecodeError as exc:
            yield first[0], LineError("not_json", f"not valid JSON ({exc})")
            obj = None
        if obj is not None and not _is_record(obj):
            # the array itself is one document (a trajectory's messages or events): load it whole
            items = [obj] + [orjson.loads(raw) for _, raw in gen]
            yield 1, items
            return
        if obj is not None:
            yield first[0], obj
        for line, raw in gen:
            try:
                yield line, orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield line, LineError("not_json", f"not valid JSON ({exc})")
    except (ValueError, orjson.JSONDecodeError) as exc:
        yield max(1, getattr(exc, "line", 1)), LineError("not_json", f"the JSON array is malformed ({exc})")


def _is_record(obj: Any) -> bool:
    fmt = detect(obj)
    return (fmt is not None and fmt != "trajectory") or (
        fmt is None
        and not (
            isinstance(obj, dict) and ("role" in obj or ("source" in obj and ("action" in obj or "observation" in obj)))
        )
    )


def _jsonl_records(
    fh: io.BufferedIOBase,
    first_line: int = 1,
    skip: _Unwanted | None = None,
    marks: LineMarks | None = None,
    base: int = 0,
) -> Iterator[Record]:
    """Records of JSON lines; ``first_line``: the number of ``fh``'s first line in its file (a byte
    range read on its own, ``read/ranges.py``); ``skip``: lines a re-read need not decode (and, with
    its file's marks, need not read); ``marks``: where to note line starts, ``fh`` being read from
    byte ``base`` of its file."""
    lineno = first_line - 1
    pending: list[bytes] = []
    pending_line = pending_size = 0
    pos, due = base, base  # where in the file the next line starts, and where the next mark is due (``marks``)
    while True:
        if skip is not None and skip.on and skip.marks is not None and not pending and lineno >= 1:
            if lineno + 1 not in skip.lines:
                lineno = _seek_wanted(fh, skip, lineno)
                if lineno < 0:
                    return  # no wanted line after this one
        raw = fh.readline(MAX_LINE_BYTES + 1)
        if not raw:
            break
        if marks is not None and pos >= due:  # this line starts at ``pos``
            marks.add(lineno + 1, pos)
            due = pos + MARK_BYTES
        pos += len(raw)
        lineno += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            size = len(raw)
            while (rest := fh.readline(1 << 20)) and size < 1 << 40:  # skip to the end of the line
                size += len(rest)
                if rest.endswith(b"\n"):
                    break
            pos += size - len(raw)
            yield (
                lineno,
                LineError(
                    "too_large",
                    f"the line is {size / 1e6:,.0f} MB, more than the "
                    f"{MAX_LINE_BYTES >> 20} MiB any request can be: skipped unread",
                ),
            )
            continue
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if pending:  # inside a pretty-printed document: collect it whole
            pending.append(raw)
            pending_size += len(raw)
            if pending_size > MAX_LINE_BYTES:  # not one document after all: read it line by line
                yield from _lines(pending, pending_line)
                pending, pending_size = [], 0
            continue
        if not raw.strip():
            yield lineno, None
            continue
        if skip is not None and skip.on and lineno > 1 and lineno not in skip.lines:
            yield lineno, UNREAD
            continue
        try:
            yield lineno, orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if lineno == 1 and raw.lstrip().startswith((b"{", b"[")):
                pending = [raw]  # perhaps one pretty-printed document
                pending_line, pending_size = lineno, len(raw)
                continue
            yield lineno, LineError("not_json", f"not valid JSON ({exc.args[0] if exc.args else exc})")
    if pending:
        try:
            yield pending_line, orjson.loads(b"".join(pending))
        except orjson.JSONDecodeError:
            yield from _lines(pending, pending_line)  # not a document after all: line by line


def _seek_wanted(fh: io.BufferedIOBase, skip: _Unwanted, lineno: int) -> int:
    """Before reading line ``lineno + 1``, which a re-read does not want: move ``fh`` to the last
    mark at or before the next wanted line when that passes over lines. The number of the line
    before where ``fh`` is then; -1 when no wanted line is left."""
    wanted = skip.wanted
    k = bisect_right(wanted, lineno)
    if k == len(wanted):
        return -1
    marks = skip.marks
    assert marks is not None
    m = bisect_right(marks.lines, wanted[k]) - 1
    if m >= 0 and marks.lines[m] > lineno + 1:
        fh.seek(marks.offsets[m])
        return marks.lines[m] - 1
    return lineno


def _lines(raws: list[bytes], first: int) -> Iterator[Record]:
    for i, raw in enumerate(raws, first):
        if not raw.strip():
            yield i, None
            continue
        try:
            yield i, orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield i, LineError("not_json", f"not valid JSON ({exc.args[0] if exc.args else exc})")


# --- the reader -------------------------------------------------------------------------------


def _canonical(fmt: str) -> str:
    return ALIASES.get(fmt, fmt)


class LogReader:
    """Iterates the calls of one or more log files; ``stats`` fills as it goes."""

    def __init__(self, paths: Iterable[str | Path], *, input_format: str = "auto", strict: bool = False):
        fmt = _canonical(input_format)
        if fmt != "auto" and fmt not in FORMAT_NAMES:
            raise PromptCacheError(
                f"unknown input format {input_format!r}; choose one of: auto, {', '.join(FORMAT_NAMES)}"
            )
        self.paths = _expand(paths)
        self.input_format = fmt
        self.strict = strict
        self.stats = ReadStats(files=[str(p) for p in self.paths])
        self._bytes_total = sum(_size(p) for p in self.paths)
        self._bytes_done = 0  # files read to the end
        self._fh: Any = None  # the file being read, for ``fraction``
        self._fh_name = ""  # its path
        self._index: dict[str, dict[str, Any]] = {}  # joined family -> custom_id -> request line
        self._index_src: dict[str, dict[str, tuple[str, int]]] = {}
        self._used: dict[str, set[str]] = {}
        # file -> its lines to parse (``Reread.at``): a one-call record on another line is passed
        # over unparsed; None: every record is parsed
        self.only: dict[str, set[int]] | None = None
        # files where a line held an API page of several calls (their lines then name no call)
        self.paged: set[str] = set()
        # files whose lines held at most a call each when first read (``CallIndex.paged``): a
        # re-read passes over their lines not in ``only`` without decoding them
        self.plain: set[str] | None = None
        # file -> where some of its lines start, noted as a plain local JSON-lines file is read (a
        # first pass's, ``CallIndex.marks``; a re-read notes none): a re-read is given them
        # (``known_marks``) and seeks
        self.marks: dict[str, LineMarks] = {}
        self.known_marks: dict[str, LineMarks] | None = None

    # detection ------------------------------------------------------------------------------
    def _sniff(self, path: Path) -> tuple[str | None, str | None]:
        """(format, role in a joined format: "input"/"output"/None) of one file."""
        fmt, role, _ = self._sniff_records(_records(path))
        return fmt, role

    def _sniff_records(self, records: Iterator[Record]) -> tuple[str | None, str | None, list[Record] | None]:
        """(format, role, the records read to decide: None when reading failed) of one file's records."""
        votes: Counter[str] = Counter()
        role = None
        seen = 0
        head: list[Record] = []
        try:
            for rec in records:
                head.append(rec)
                obj = rec[1]
                if obj is None or isinstance(obj, LineError):
                    continue
                if _is_page(obj) and obj["data"]:
                    obj = obj["data"][0]
                fmt = detect(obj)
                if fmt:
                    votes[fmt] += 1
                    if fmt in JOINED:
                        role = _batch_role(fmt, obj)
                seen += 1
                if seen >= SNIFF_RECORDS:
                    break
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error):
            return None, None, None
        if self.input_format != "auto":
            fmt = self.input_format
            if fmt in JOINED and role is None:
                role = "output"
            return fmt, role, head
        if not votes:
            return None, None, head
        return votes.most_common(1)[0][0], role, head

    # iteration ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Call]:
        """Files in order, each parsed once: its first records decide its format and are then read
        as its first calls (a WEKA trace is one JSON document: sniffing it is parsing it). A run
        with batch files (``JOINED``: an output needs every input file indexed first) switches, at
        its first batch file, to detecting every remaining file up front, and so does ``--strict``
        (whose first error must be the one the up-front order meets first)."""
        done = 0
        try:
            if not self.strict:
                for path in self.paths:
                    opened: list[Any] = []
                    gate = self._gate(path)
                    records = _records(path, opened.append, gate, self.marks if self.only is None else None)
                    fmt, _role, head = self._sniff_records(records)
                    if fmt in JOINED:
                        records.close()
                        break
                    self.stats.formats[str(path)] = fmt or "unknown"
                    if head is None:  # unreadable while sniffing: read it again, as a plain read reports it
                        records.close()
                        yield from self._read_file(path, fmt)
                    else:
                        if opened:
                            self._opened(opened[0])
                        yield from self._read_file(path, fmt, _resume(head, records), gate)
                    done += 1
            yield from self._read_planned(self.paths[done:], first=done == 0)
        finally:
            for path in self.paths[done:]:  # an interrupted run still names every file's format
                if str(path) not in self.stats.formats:
                    self.stats.formats[str(path)] = self._sniff(path)[0] or "unknown"

    def _read_planned(self, paths: list[Path], *, first: bool) -> Iterator[Call]:
        """Every file's format detected up front, batch inputs indexed, then the files read in order
        (``first``: nothing was read before, else the batch inputs' skipped lines go before those
        of the files already read, as if they had been indexed first)."""
        plan = [(p, *self._sniff(p)) for p in paths]
        for path, fmt, _role in plan:
            self.stats.formats[str(path)] = fmt or "unknown"
        earlier = self.stats.examples
        if not first:
            self.stats.examples = []
        for path, fmt, role in plan:
            if fmt in JOINED and role == "input":
                self._load_index(path, fmt)
        if not first:
            self.stats.examples = (self.stats.examples + earlier)[:MAX_EXAMPLES]
        for path, fmt, role in plan:
            if fmt in JOINED and role == "input":
                continue
            yield from self._read_file(path, fmt)
        for family, _index in self._index.items():  # requests that never came back
            used = self._used.get(family, set())
            for cid, (src, line) in self._index_src[family].items():
                if cid not in used:
                    self.stats.lines += 1
                    self._bad(
                        src,
                        line,
                        "no_batch_output",
                        f"batch request {cid!r} has no line in any output/results file of this run "
                        f"(pass the batch's {'output' if family == 'openai-batch' else 'results'} file too)",
                    )

    def _opened(self, fh: Any) -> None:
        if self._fh is not None:
            self._bytes_done += _size(Path(self._fh_name))
        self._fh, self._fh_name = fh, getattr(getattr(fh, "fileobj", fh), "name", "")

    def fraction(self) -> float | None:
        """How much of the input's bytes has been read (compressed bytes for .gz), for an ETA."""
        if not self._bytes_total:
            return None
        fh = self._fh
        if fh is None:
            pos = 0
        elif getattr(fh, "closed", False):  # read to its end
            pos = _size(Path(self._fh_name))
        else:
            try:
                pos = getattr(fh, "fileobj", fh).tell()  # compressed bytes for .gz
            except (AttributeError, OSError, ValueError):
                pos = 0
        return min(1.0, (self._bytes_done + pos) / self._bytes_total)

    def _load_index(self, path: Path, family: str) -> None:
        index = self._index.setdefault(family, {})
        src = self._index_src.setdefault(family, {})
        name = str(path)
        last = 0
        try:
            for line, obj in _records(path):
                last = line
                if obj is None:
                    self.stats.blank_lines += 1
                    continue
                if isinstance(obj, LineError) or not isinstance(obj, dict) or "custom_id" not in obj:
                    self.stats.lines += 1
                    msg = str(obj) if isinstance(obj, LineError) else "a batch input line needs `custom_id`"
                    self._bad(name, line, "not_json" if isinstance(obj, LineError) else "bad_shape", msg)
                    continue
                self.stats.companion_lines += 1
                cid = str(obj["custom_id"])
                index[cid] = obj
                src[cid] = (name, line)
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:  # a truncated .gz: as in _read_file
            self.stats.lines += 1
            self._bad(name, last + 1, "unreadable", f"file stops being readable here: {exc}")

    def read_records(self, path: Path, fmt: str | None, records: Iterator[Record]) -> Iterator[Call]:
        """The calls of ``records`` read elsewhere from ``path`` (a whole file, or a byte range of it:
        ``read/ranges.py``) in format ``fmt``; ``stats`` counts them as a whole file's read would."""
        return self._read_file(path, fmt, records)

    def _gate(self, path: Path) -> _Unwanted | None:
        """The lines of ``path`` a re-read decodes (None: every line), with the marks the first pass
        noted in it."""
        name = str(path)
        if self.only is None or self.plain is None or name not in self.plain:
            return None
        known = self.known_marks.get(name) if self.known_marks is not None else None
        return _Unwanted(self.only.get(name, frozenset()), known)

    def _read_file(
        self, path: Path, fmt: str | None, records: Iterator[Record] | None = None, gate: _Unwanted | None = None
    ) -> Iterator[Call]:
        """The calls of one file (``records``: its records when already being read, else read now;
        ``gate``: the lines of ``records`` a re-read decodes)."""
        name = str(path)
        stats = self.stats
        parser = None
        if fmt in PARSER_FACTORIES:
            parser = PARSER_FACTORIES[fmt]()
        elif fmt in PARSERS:
            parser = PARSERS[fmt]
        expander = EXPANDERS.get(fmt) if fmt else None
        session = SESSIONS[fmt](name) if fmt in SESSIONS else None
        if records is None:
            gate = self._gate(path)
            records = _records(path, self._opened, gate)
        if gate is not None:  # one call per line: the lines not wanted need not be decoded
            gate.on = fmt is not None and fmt not in JOINED and expander is None and session is None
        last = 0
        try:
            for line, obj in records:
                last = line
                if obj is UNREAD:
                    continue
                if obj is None:
                    stats.blank_lines += 1
                    continue
                if isinstance(obj, LineError):
                    stats.lines += 1
                    self._bad(name, line, obj.reason, str(obj))
                    continue
                if fmt is None:
                    stats.lines += 1
                    self._bad(
                        name,
                        line,
                        "unknown_format",
                        f"a record in no known shape; nearest format: {nearest(obj)} (force one with --input-format)",
                    )
                    continue
                if expander is not None:
                    yield from self._expand(expander, obj, name, line)
                    continue
                if session is not None:
                    yield from self._units(session.feed(obj, line), name)
                    continue
                if _is_page(obj):
                    items = obj["data"]
                    if len(items) > 1:
                        self.paged.add(name)
                else:
                    items = [obj]
                if self.only is not None and len(items) == 1 and line not in self.only.get(name, ()):
                    continue  # a re-read that wants no call of this line
                for k, item in enumerate(items):
                    at = line if len(items) == 1 else k + 1
                    stats.lines += 1
                    try:
                        if fmt in JOINED:
                            call = self._join(fmt, item, name, at)
                        else:
                            assert parser is not None
                            call = parser(item, name, at)
                    except LineError as exc:
                        self._bad(name, at, exc.reason, self._explain(exc, item, fmt))
                        continue
                    yield self._count(call)
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            # A truncated .gz or an unreadable file: what was read so far stands; say where it stopped.
            stats.lines += 1
            self._bad(name, last + 1, "unreadable", f"file stops being readable here: {exc}")
        if session is not None:  # the last call of a session completes at the end of its file
            yield from self._units(session.finish(), name)
            stats.companion_lines += session.context_lines

    def _expand(self, expander: Expander, obj: Any, name: str, line: int) -> Iterator[Call]:
        yield from self._units(expander(obj, name, line), name)

    def _units(self, units: Iterable[tuple[int, Call | LineError]], name: str) -> Iterator[Call]:
        for unit, item in units:
            self.stats.lines += 1
            if isinstance(item, LineError):
                self._bad(name, unit, item.reason, str(item))
            else:
                yield self._count(item)

    def _count(self, call: Call) -> Call:
        self.stats.calls += 1
        if call.incomplete_prompt:
            self.stats.incomplete_prompts += 1
        return call

    def _join(self, fmt: str, obj: Any, name: str, line: int) -> Call:
        if not isinstance(obj, dict) or "custom_id" not in obj:
            raise LineError("bad_shape", "a batch output line needs `custom_id`")
        index = self._index.get(fmt)
        if index is None:
            kind = (
                "input file (the JSONL uploaded with the batch)"
                if fmt == "openai-batch"
                else "requests file (the `requests` sent to /v1/messages/batches, one {custom_id, params} a line)"
            )
            raise LineError(
                "batch_input_missing",
                f"{Path(name).name} is a batch "
                f"{'output' if fmt == 'openai-batch' else 'results'} file, but its {kind} is missing "
                f"from this run: pass it too so calls can be joined on custom_id",
            )
        cid = str(obj["custom_id"])
        request = index.get(cid)
        if request is None:
            raise LineError("batch_unmatched", f"custom_id {cid!r} is in no batch input file of this run")
        self._used.setdefault(fmt, set()).add(cid)
        if fmt == "openai-batch":
            return parse_openai_batch_pair(request, obj, name, line)
        return parse_anthropic_batch_pair(request, obj, name, line)

    def _explain(self, exc: LineError, obj: Any, fmt: str | None) -> str:
        if exc.reason in ("bad_shape", "no_messages", "no_input", "no_contents"):
            near = nearest(obj)
            if near != fmt:
                return f"{exc} (the line looks like {near}, the file was read as {fmt})"
        return str(exc)

    def _bad(self, path: str, line: int, reason: str, message: str) -> None:
        message = mask_secrets(message)  # messages quote bits of the line: never a key or an e-mail
        if self.strict:
            raise LogFormatError(message + " (drop --strict to skip bad lines and go on)", path=path, line=line)
        self.stats.skip(path, line, reason, message)


def _is_page(obj: Any) -> bool:
    """An API page (Langfuse ``{"data": [...], "meta": {...}}``, Helicone ``{"data": [...], "error": null}``):
    its ``data`` items are the records."""
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("data"), list)
        and set(obj) <= {"data", "meta", "pagination", "error"}
        and not obj.get("error")
    )


def _batch_role(fmt: str, obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    if fmt == "openai-batch":
        return "input" if is_input_line(obj) else "output"
    return "input" if "params" in obj else "output"


def read_logs(paths: Iterable[str | Path], *, input_format: str = "auto", strict: bool = False) -> LogReader:
    """Open log files for streaming; iterate the result for ``Call`` records."""
    return LogReader(paths, input_format=input_format, strict=strict)


def call_fingerprint(call: Call) -> int:
    """The CRC-32 of a call's id (``Call.call_id``): what ``CallIndex`` keeps to know a call again."""
    return zlib.crc32(call.call_id.encode("utf-8", "surrogatepass"))


class CallIndex:
    """Where each call of a first pass came from, to re-read some calls without parsing the rest.

    A call is named by its file and line (``Call.source``, ``Call.line``), a name that is unique
    when, file after file, the lines of successive calls only increase (a JSON-lines log: one
    call a line); otherwise (a file given twice, a page of several calls a line, a session whose
    units share a line) the index gives up (``unique`` false) and re-reads parse every call. Kept
    as machine integers: a line per call (4 bytes) and where each file's calls start.

    A call read again is matched to the first pass's by its call id, not by where it was found:
    ``ids`` keeps, per call (unique or not), the CRC-32 of its ``call_id`` (4 bytes), and a re-read
    call whose id differs from the one the first pass read at its position means the log changed
    between the two reads (``Reread.at`` stops the run then)."""

    def __init__(self) -> None:
        self.ids = array("I")
        self.lines = array("I")
        self.files: list[tuple[int, str]] = []  # (position of the file's first call, file)
        self.unique = True
        self._seen: set[str] = set()
        # files where a line held an API page of several calls (``LogReader.paged`` of the first
        # pass's reader; None: not known, and every line of a re-read is decoded)
        self.paged: set[str] | None = None
        # where some lines of the plain local JSON-lines files start (``LogReader.marks`` of the
        # first pass's reader): a re-read seeks to the lines it wants
        self.marks: dict[str, LineMarks] = {}

    def add(self, call: Call) -> None:
        self.ids.append(call_fingerprint(call))
        if not self.unique:
            return
        n = len(self.lines)
        src = call.source
        if not self.files or self.files[-1][1] != src:
            if src in self._seen:
                self.unique = False
                return
            self._seen.add(src)
            self.files.append((n, src))
        elif call.line <= self.lines[-1]:
            self.unique = False
            return
        try:
            self.lines.append(call.line)
        except OverflowError:  # a line past 4 billion: no index
            self.unique = False

    def names(self, wanted: Iterable[int]) -> dict[tuple[str, int], int]:
        """(file, line) -> position, of the wanted positions."""
        starts = [n for n, _ in self.files]
        out: dict[tuple[str, int], int] = {}
        for i in sorted(wanted):
            f = bisect_right(starts, i) - 1
            out[(self.files[f][1], self.lines[i])] = i
        return out


class Reread:
    """The log read again (``calls()``: every call, in order, as the first pass read them), or
    only some of its calls (``at``)."""

    def __init__(self, paths: Sequence[str], input_format: str, index: CallIndex | None = None):
        self.paths, self.input_format, self.index = paths, input_format, index

    def __call__(self) -> LogReader:
        return read_logs(self.paths, input_format=self.input_format, strict=False)

    def at(self, wanted: Iterable[int]) -> Iterator[tuple[int, Call]]:
        """The calls at the ``wanted`` positions (of the first pass), each with its position, in
        order. With a unique index, a one-call line that holds none of them is not parsed, and
        each call read is found by its file and line, not by counting. Either way a call is taken
        only when its call id is the one the first pass read at that position (``CallIndex.ids``).
        A wanted call no longer there, or another call in its place (the log was cut or rewritten
        since the first pass), stops the run with an error that says so."""
        want = set(wanted)
        ids = self.index.ids if self.index is not None else None
        found = 0
        for i, call in self._at(want):
            if ids is not None and call_fingerprint(call) != ids[i]:  # every call of the first pass has its id there
                raise PromptCacheError(
                    f"{call.source}:{call.line}: the log changed while promptcache read it (this line holds another "
                    "call than it did when first read): analyze a copy that nothing writes to"
                )
            found += 1
            yield i, call
        if found < len(want):
            raise PromptCacheError(
                f"{', '.join(map(str, self.paths))}: the log changed while promptcache read it ({len(want) - found} "
                "call(s) of its first read are no longer there): analyze a copy that nothing writes to"
            )

    def _at(self, want: set[int]) -> Iterator[tuple[int, Call]]:
        index = self.index
        if index is None or not index.unique:
            yield from ((i, c) for i, c in enumerate(self()) if i in want)
            return
        reader = self()
        if not {src for _, src in index.files} <= {str(p) for p in reader.paths}:  # named otherwise (a worker's copy)
            yield from ((i, c) for i, c in enumerate(reader) if i in want)
            return
        names = index.names(want)
        only: dict[str, set[int]] = {}
        for src, line in names:
            only.setdefault(src, set()).add(line)
        reader.only = only
        reader.known_marks = index.marks
        if index.paged is not None:
            reader.plain = {src for _, src in index.files} - index.paged
        for call in reader:
            i = names.get((call.source, call.line))
            if i is not None:
                yield i, call


def numbered(calls: Callable[[], Iterable[Call]], wanted: Iterable[int]) -> Iterator[tuple[int, Call]]:
    """The calls at the ``wanted`` positions with their positions: ``Reread.at`` when ``calls``
    is one, else every call read and counted (the calls of other positions may come too)."""
    at = getattr(calls, "at", None)
    if at is not None:
        return at(wanted)
    return enumerate(calls())


__all__ = [
    "EXPANDERS",
    "FORMAT_NAMES",
    "PARSERS",
    "SESSIONS",
    "CallIndex",
    "LineError",
    "LineMarks",
    "LogReader",
    "ReadStats",
    "Reread",
    "call_fingerprint",
    "iter_json_array",
    "read_logs",
]
