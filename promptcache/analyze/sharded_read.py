"""The first pass's reading and measuring on an executor's workers (``--engine dask``).

The client plans the input (``read/ranges.py``: whole files and line-aligned byte ranges, opened
by path or fsspec URL on the worker); each range is one task that reads its calls with the normal
reader and measures them (rendering and tokenizing: the costly part of the first pass) with fresh
measurers. It sends back its calls (each distinct text once: equal texts are one object, which
pickle writes once), each call's shapes, its piece tables (stable keys, ``model/keys.py``) and its
``ReadStats``. ``ShardedReader`` is the ``LogReader`` that ``first_pass`` then iterates on the
client: it merges the results in range order (= log order) and, while a range's calls go through
``first_pass`` (facts, template groups, the advisor's evidence, the observed bill), its measurers
give back the shapes the worker made instead of measuring again. The outcome is the local run's:

* a piece's token count is its ids plus the framing of its *first* occurrence in the log (a ChatML
  piece +2, a generation prompt +3, an output +0, when two of them have the same text); a worker
  sees only its range's first occurrence, so a range whose table disagrees with the counts already
  merged is shaped again here, with every key of it already counted (no tokenizing);
* ``ReadStats`` add up across ranges (``lines == calls + skipped``), examples in log order, and a
  bad line is named by its file and line (ranges know their first line); with ``--strict`` the
  first bad line's error is raised after the calls before it, as in a local run;
* template groups and the advisor's evidence are a reduce: when ``first_pass`` asks for it
  (``group_on_workers``), each worker groups its range's calls (``segment.groups.Grouper``) and
  gathers their evidence (``advise.breakers.Evidence``) under its own group ids, and the client
  merges those in range order (``Grouper.merge``, ``Evidence.merge``: exact, see there), mapping
  each call's range-local group to its global id; it does not compare call texts, and renders
  only each range's groups' first calls (their references travel as the calls themselves, not
  rendered twice: ``strip_references``); a range shaped again here has its groups' token counts
  recounted (``recount``);
* the logged model's tokenizer (``calibrate``) is decided by the log's first call: the client reads
  the input up to that call before the ranges are sent;
* with an executor that can keep results where they are (``imap_kept``), each range's shapes and
  piece tables stay on its worker (``analyze/shuffle.py``: ``HeldRanges``, ``FirstPass.held``), so
  the simulations' units are cut out of them there; a range shaped again here is let go (its
  worker's shapes are not the log's) and its calls' shapes are sent by the client.

A read task carries no catalog unless a ``--prices`` file was merged over the packaged one: the
worker loads the packaged catalog itself.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..advise.breakers import Evidence
from ..errors import LogFormatError
from ..knowledge.catalog import Catalog, default_catalog
from ..measure.pieces import Pieces
from ..measure.shape import Measurer, Shape
from ..model.calls import Call
from ..read import ranges as R
from ..read.reader import MAX_EXAMPLES, LineMarks, LogReader, ReadStats
from ..segment.groups import Grouper, GroupStats, recount, restore_references, strip_references
from .first_pass import family_of, shape_call
from .shuffle import HeldRanges, keep_range


@dataclass
class RangeTask:
    rng: R.Range
    families: tuple[str, ...]
    input_format: str
    strict: bool
    primary: str | None = None  # the family whose rendering groups the calls; None: not grouped here
    # None: the packaged catalog, loaded by the worker itself (once per process); a ``--prices``
    # file merged over it travels with the task
    catalog: Catalog | None = None


@dataclass
class RangeResult:
    calls: list[Call]
    shapes: list[Sequence[Shape]]  # per call, one per family (``RangeTask.families`` order)
    tables: list[Pieces]  # per family: the measurer's table of distinct pieces (``Measurer._pieces``)
    adjusted: list[int]  # per family: tokens moved to reach reported totals (``Measurer.adjusted_tokens``)
    stats: ReadStats
    error: LogFormatError | None = None  # --strict: the range's first bad line
    # the range's calls grouped alone (``RangeTask.primary``): its groups by key, in order of first
    # call (ids g1, g2, ...; their references without texts: ``strip_references``), each call's
    # group by position there, and the advisor's evidence
    groups: dict[str, GroupStats] = field(default_factory=dict)
    group_of: array = field(default_factory=lambda: array("I"))
    evidence: Evidence = field(default_factory=Evidence)
    marks: LineMarks | None = None  # where some of its lines start, for a local JSON-lines file (``R.records``)
    paged: bool = False  # a line of it held an API page of several calls (``LogReader.paged``)


def _dedup(call: Call, texts: dict[str, str]) -> None:
    """Equal texts as one object (a conversation resends its history with every call)."""
    segs = call.segments
    if isinstance(segs, list):
        for s in segs:
            if s.text:
                object.__setattr__(s, "text", texts.setdefault(s.text, s.text))  # a frozen Segment: same value
    if call.output_text:
        call.output_text = texts.setdefault(call.output_text, call.output_text)


#: per tokenizer family, the pieces this process has tokenized (``Measurer.known``), bounded by
#: ``KNOWN_BLOCKS`` block hashes: a worker reading many ranges tokenizes a recurring piece once
_KNOWN: dict[str, dict[int, tuple[int, array]]] = {}
KNOWN_BLOCKS = 4_000_000


def _measurer(family: str) -> Measurer:
    """A fresh measurer (its own table: a piece's framing is counted from the range's first
    occurrence) that reuses the token ids this process counted before."""
    m = Measurer(family)
    known = _KNOWN.setdefault(family, {})
    if sum(len(b) for _, b in known.values()) > KNOWN_BLOCKS:
        known.clear()
    m.known = known
    return m


def measure_range(task: RangeTask) -> RangeResult:
    """A worker task: the range's calls read and measured."""
    reader = LogReader([], input_format=task.input_format, strict=task.strict)
    measurers = {f: _measurer(f) for f in task.families}
    calls: list[Call] = []
    shapes: list[Sequence[Shape]] = []
    texts: dict[str, str] = {}
    error = None
    rng = task.rng
    catalog = task.catalog if task.catalog is not None else default_catalog()
    grouper = None if task.primary is None else Grouper(task.primary, measurers[task.primary]._tokenizer)
    p = 0 if task.primary is None else task.families.index(task.primary)
    group_of = array("I")
    evidence = Evidence()
    marks: dict[str, LineMarks] = {}
    try:
        for call in reader.read_records(rng.path, rng.fmt, R.records(rng, marks)):
            _dedup(call, texts)
            calls.append(call)
            s = tuple(shape_call(call, measurers, catalog))
            shapes.append(s)
            if grouper is not None:
                g = grouper.add(call, s[p], measurers[grouper.family].rendered)
                group_of.append(int(g.id[1:]) - 1)  # ids are g1, g2, ... in order of first call
                evidence.add(g.id, call)
    except LogFormatError as exc:
        error = exc
    if grouper is not None:
        strip_references(grouper.groups)  # the client renders them again from the calls sent
    return RangeResult(
        calls,
        shapes,
        [m._pieces for m in measurers.values()],
        [m.adjusted_tokens for m in measurers.values()],
        reader.stats,
        error,
        grouper.groups if grouper is not None else {},
        group_of,
        evidence,
        marks.get(str(rng.path)),
        bool(reader.paged),
    )


class MergedGroups:
    """``first_pass``'s template groups and evidence when the workers group (``group_on_workers``):
    each range's, merged in log order once its calls have gone through ``first_pass``; until
    then each call's global group id comes from its range's (``next_id``)."""

    def __init__(self, grouper: Grouper, evidence: Evidence):
        self.grouper, self.evidence = grouper, evidence
        self._p = 0  # the grouping family's position in a call's shapes (set by the reader)
        self._res: RangeResult | None = None
        self._shapes: list[Sequence[Shape]] = []
        self._ids: list[str] = []  # the current range's groups' global ids, by position
        self._n = 0  # its calls given an id so far

    def start(self, res: RangeResult, shapes: list[Sequence[Shape]]) -> None:
        """The next range: its groups' global ids (a key met before keeps its id, a new one takes
        the next number, in order of first call); ``shapes``: the client's, when it shaped the
        range again (the groups' token counts follow them)."""
        restore_references(res.groups, res.group_of, res.calls, self.grouper.family)
        if shapes is not res.shapes:
            recount(res.groups, res.group_of, [s[self._p] for s in shapes])
        have = self.grouper.groups
        n = len(have)
        ids = []
        for key in res.groups:
            g = have.get(key)
            if g is None:
                n += 1
            ids.append(g.id if g is not None else f"g{n}")
        self._res, self._shapes, self._ids, self._n = res, shapes, ids, 0

    def next_id(self) -> str:
        """The global group id of the current range's next call."""
        assert self._res is not None
        i = self._n
        self._n += 1
        return self._ids[self._res.group_of[i]]

    def end(self) -> None:
        """The current range's calls are done: its groups and evidence merged."""
        res = self._res
        if res is None:
            return
        merged = self._merge(res.groups, res.evidence)
        assert [g.id for g in merged] == self._ids  # the ids its calls were given
        self._res = None

    def settle(self) -> None:
        """After an interrupt: of a range cut short, the calls that went through ``first_pass``
        are grouped here (the only time the client renders calls to group them) and merged."""
        res = self._res
        if res is None or self._n == len(res.calls):
            self.end()
            return
        grouper, evidence = Grouper(self.grouper.family, self.grouper.tk), Evidence()
        for call, s in zip(res.calls[: self._n], self._shapes, strict=False):
            evidence.add(grouper.add(call, s[self._p]).id, call)
        self._merge(grouper.groups, evidence)
        self._res = None

    def _merge(self, groups: dict[str, GroupStats], evidence: Evidence) -> list[GroupStats]:
        merged = self.grouper.merge(groups)
        self.evidence.merge(evidence, {g.id: m.id for g, m in zip(groups.values(), merged, strict=True)})
        return merged


class _Replay:
    """A measurer that gives back the shapes a worker made for the current call."""

    def __init__(self, m: Measurer, i: int, current: list[Sequence[Shape]]):
        self._m, self._i, self._current = m, i, current

    def shape(self, call: Call, *, trust_usage: bool, adjust: int | None = None) -> Shape:
        return self._current[0][self._i]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._m, name)


@dataclass
class ShardedReader:
    """``first_pass``'s reader over the ranges' results (see the module's docstring)."""

    executor: Any  # ``simulate.parallel.Executor`` (``map``; ``imap`` when it streams results in order)
    files: list[Any]
    ranges: list[R.Range]
    measurers: dict[str, Measurer]
    catalog: Catalog
    input_format: str
    strict: bool
    stats: ReadStats = field(default_factory=ReadStats)
    sizes: list[int] = field(default_factory=list)  # bytes of each range, for the progress bar
    reshaped: int = 0  # ranges shaped again on the client (a piece's first framing differed)
    # the ranges' shapes and piece tables kept on their workers for the simulations (``analyze/shuffle.py``),
    # when the executor can keep them (``imap_kept``); a range shaped again here is not held
    held: HeldRanges | None = None
    grouping: MergedGroups | None = None  # the workers group the calls (``group_on_workers``)
    primary: str | None = None
    # where some lines of the local JSON-lines files start, from their ranges' marks (``LogReader.marks``
    # of a local first pass, which ``CallIndex.marks`` takes): a re-read seeks to the lines it wants
    marks: dict[str, LineMarks] = field(default_factory=dict)
    # the files a line of which held an API page of several calls (``LogReader.paged``; a re-read
    # decodes every line of those, and passes over the lines it does not want in the others)
    paged: set[str] = field(default_factory=set)
    _done: int = 0

    def group_on_workers(self, grouper: Grouper, evidence: Evidence, primary: str) -> MergedGroups:
        """Asked by ``first_pass`` before it iterates: each range's calls are grouped on its worker
        with ``primary``'s rendering, their evidence gathered there, and both merged into
        ``grouper`` and ``evidence`` here (``MergedGroups``)."""
        self.primary = primary
        self.grouping = MergedGroups(grouper, evidence)
        return self.grouping

    def fraction(self) -> float | None:
        total = sum(self.sizes)
        return min(1.0, self._done / total) if total else None

    def __iter__(self) -> Iterator[Call]:
        fams = tuple(self.measurers)
        real = dict(self.measurers)
        current: list[Sequence[Shape]] = [()]
        catalog = None if self.catalog is default_catalog() else self.catalog
        tasks = [RangeTask(r, fams, self.input_format, self.strict, self.primary, catalog) for r in self.ranges]
        grouping = self.grouping
        if grouping is not None:
            grouping._p = fams.index(self.primary)
        imap: Callable[..., Any] = getattr(self.executor, "imap", None) or self.executor.map
        kept = getattr(self.executor, "imap_kept", None)
        results: Iterator[tuple[RangeResult, Any]]
        if kept is not None:
            self.held = HeldRanges(fams, release=self.executor.release)
            results = kept(measure_range, keep_range, tasks)
        else:
            results = ((r, None) for r in imap(measure_range, tasks))
        start = 0
        try:
            for i, f in enumerate(fams):
                self.measurers[f] = _Replay(real[f], i, current)  # type: ignore[assignment]  # duck-typed: shape()
            for k, (res, future) in enumerate(results):
                shapes = self._merge(res, fams, real)
                if self.held is not None:
                    if shapes is not res.shapes:  # shaped again here: the worker's shapes are not the log's
                        self.executor.release([future])
                        future = None
                    self.held.add(start, len(res.calls), future)
                start += len(res.calls)
                self._add_marks(self.ranges[k], res.marks)
                if res.paged:
                    self.paged.add(str(self.ranges[k].path))
                self._done += self.sizes[k] if k < len(self.sizes) else 0
                if grouping is not None:
                    grouping.start(res, shapes)
                for call, s in zip(res.calls, shapes, strict=True):
                    current[0] = s
                    yield call
                if grouping is not None:
                    grouping.end()
                if res.error is not None:
                    raise res.error
        finally:
            self.measurers.update(real)

    def _add_marks(self, rng: R.Range, got: LineMarks | None) -> None:
        """A range's line marks added to its file's, ranges coming in log order. Marks need not
        cover a file (a re-read reads from the last mark before the line it wants): a range
        without any adds none; a file read again (named twice) starts its marks again, as the
        local reader's do; a file whose size changed between its ranges' reads keeps none."""
        if got is None:
            return
        name = str(rng.path)
        have = self.marks.get(name)
        if have is None or (have.lines and got.lines and got.lines[0] <= have.lines[-1]):
            self.marks[name] = got
        elif have.size != got.size:
            have.size = -2  # no file's size: a re-read uses none of them
        else:
            have.lines.extend(got.lines)
            have.offsets.extend(got.offsets)

    def _merge(self, res: RangeResult, fams: tuple[str, ...], real: dict[str, Measurer]) -> list[Sequence[Shape]]:
        """The range's stats and piece tables merged; its shapes, made again here when one of its
        pieces was first counted with another framing than the log's first occurrence of it."""
        st, rs = self.stats, res.stats
        st.lines += rs.lines
        st.calls += rs.calls
        st.blank_lines += rs.blank_lines
        st.companion_lines += rs.companion_lines
        st.incomplete_prompts += rs.incomplete_prompts
        for k, v in rs.skipped.items():
            st.skipped[k] += v
        st.examples = (st.examples + rs.examples)[:MAX_EXAMPLES]
        differ = False
        for f, table in zip(fams, res.tables, strict=True):
            if real[f]._pieces.merge(table):  # a piece in both, counted with another framing
                differ = True
        if not differ:
            for f, n in zip(fams, res.adjusted, strict=True):
                real[f].adjusted_tokens += n
            return res.shapes
        self.reshaped += 1  # every key is in the tables now, counted as the log first counts it
        return [tuple(shape_call(c, real, self.catalog)) for c in res.calls]


def sharded_reader(
    executor: Any,
    paths: Sequence[str],
    *,
    input_format: str,
    strict: bool,
    catalog: Catalog,
    measurers: dict[str, Measurer],
    calibrate: bool,
) -> ShardedReader | None:
    """The reader for ``first_pass`` on ``executor``'s workers, or None when the input cannot be
    read apart (batch files). With ``calibrate``, the family of the log's first call is added to
    ``measurers`` as ``first_pass`` would add it at that call (so the workers measure it too)."""
    workers = max(1, getattr(executor, "units", 4) // 4)
    planned = R.plan(paths, input_format=input_format, workers=workers, map=executor.map)
    if planned is None:
        return None
    files, nominal = planned
    ranges = R.number(executor.map(R.bounds, nominal)) if any(not r.whole for r in nominal) else nominal
    stats = ReadStats(files=[str(p) for p in files])
    for r in ranges:
        stats.formats.setdefault(str(r.path), r.fmt or "unknown")
    if calibrate:
        first = _first_call(ranges, input_format, strict)
        if first is not None and first.usage is not None:
            fam = family_of(catalog, first.model)
            if fam and fam not in measurers:
                measurers[fam] = Measurer(fam)
    sizes = [R.size(r) for r in ranges]
    return ShardedReader(executor, files, ranges, measurers, catalog, input_format, strict, stats, sizes)


def _first_call(ranges: list[R.Range], input_format: str, strict: bool) -> Call | None:
    """The log's first call, read here (usually from the first line)."""
    reader = LogReader([], input_format=input_format, strict=strict)
    for r in ranges:
        for call in reader.read_records(r.path, r.fmt, R.records(r)):
            return call
    return None
