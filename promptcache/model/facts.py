"""The compact per-call record that every stage after reading works on."""

from __future__ import annotations

import operator
from array import array
from bisect import bisect_right
from collections.abc import Callable, Container, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import islice
from types import EllipsisType
from typing import TYPE_CHECKING, Any

from .hints import CacheHints
from .strings import StringTable

# the yes/no facts of a call, as bits of ``CallFacts.flags`` (one int, not five slots)
TIMED, LATENCY_REPORTED, TOOLS, THINKING, BLEND = 1, 2, 4, 8, 16


# the largest start (seconds since the epoch, year 2106) whose UTC datetime a float holds to the
# microsecond both ways: below it half a float's step is under half a microsecond, so
# ``datetime.fromtimestamp(d.timestamp(), UTC) == d`` for any UTC ``d`` from 1970 on (``_own_time``)
_ROUND_TRIP_BELOW = 2.0**32


def _when_of(f: CallFacts) -> datetime:
    w = f._when
    return datetime.fromtimestamp(f.start, UTC) if w is ... else w


# ``CallFacts._common``: one tuple per distinct (tool_calls, task_kinds, tier, list_at, model,
# flags), shared by every call that has it (a log has a few: list_at is None, ``--at`` or the run's
# "now"); past this many, a new combination keeps its own tuple
_COMMON_MAX = 1 << 16
_Common = tuple[int, int, str | None, datetime | None, str, int]
_COMMON: dict[_Common, _Common] = {}


def _tool_calls_of(f: CallFacts) -> int:
    return f._common[0]


def _task_kinds_of(f: CallFacts) -> int:
    return f._common[1]


def _tier_of(f: CallFacts) -> str | None:
    return f._common[2]


def _list_at_of(f: CallFacts) -> datetime | None:
    return f._common[3]


def _model_of(f: CallFacts) -> str:
    return f._common[4]


def _flags_of(f: CallFacts) -> int:
    return f._common[5]


@dataclass(init=False, repr=False)
class CallFacts:
    """What later stages need of a call once its text is gone: compact, one per call.

    The five yes/no facts (``timed``, ``latency_reported``, ``tools``, ``thinking``, ``blend``) are
    bits of one small int, ``flags``, read as properties: five slots of 8 bytes (kept for the whole
    run, one record per call) become one. Construction takes them by name or position as before;
    ``dataclasses.replace`` passes ``flags`` on, and a bool passed with it (``replace(f, blend=True)``)
    wins over its bit.

    ``when`` reads as a datetime, not one rebuilt from ``start`` in general: a what-if that moves a
    call in time (``replace(f, start=...)``) keeps its ``when``, an undated call's is the run's
    "now", and the pricing reads it call by call. ``end`` likewise: a moved call's is
    ``t + (end - start)``, not always its own ``start`` plus duration bit for bit.

    Branch factcols: the datetime is not kept where it is the call's own ``start`` (a dated call of
    the log: ``start`` is its ``timestamp()``). Construction stores ``...`` in the slot ``_when``
    when the ``when`` given is a UTC datetime whose ``timestamp()`` is ``start`` exactly (below
    2**32 s, where the float holds it to the microsecond both ways), and ``when`` makes
    ``datetime.fromtimestamp(start, UTC)`` on each read: an equal datetime of the same zone (48
    bytes a dated call less, kept for the whole run). A moved call is made with the ``when`` it
    had and a new ``start``: the two differ, so it keeps that datetime in its slot. Copies
    (``replace(f, user=None)``, a what-if's hints) keep the compact form: their ``when`` is again
    their own start's. ``list_at`` stays a field: None for a dated call without ``--at``
    (``Catalog.bucket`` then takes ``when``), else ``--at`` or the run's "now", one object for all.
    Loops that price many calls read both with ``instants``.

    ``tool_calls``, ``task_kinds``, ``tier``, ``list_at``, ``model`` and ``flags`` take one slot,
    ``_common``: a tuple of the six, one object per distinct combination (``_COMMON``: the same
    objects, not only equal ones), shared by the calls that have it. They are fields still
    (``replace`` passes them, ``==`` compares them), read through properties: five slots (40 bytes a
    call) fewer. None is set after construction (``group`` and ``seq`` are, and stay slots).
    """

    __slots__ = (
        "_common",
        "_when",
        "conversation",
        "end",
        "group",
        "hints",
        "output",
        "reasoning_tokens",
        "seq",
        "start",
        "user",
    )  # fmt: skip

    start: float
    end: float
    # the call's own instant: its hour of the week decides peak or off-peak (a property over ``_when``)
    if TYPE_CHECKING:
        when: datetime
    else:  # a field (``replace`` and ``==`` read it) whose class attribute is the property
        when: datetime = property(_when_of)
    user: str | None
    if TYPE_CHECKING:
        model: str  # as logged
    else:
        model: str = property(_model_of)
    group: str
    output: int
    conversation: str | None
    # tool_calls, task_kinds, list_at and tier: fields read through ``_common`` (one shared tuple)
    if TYPE_CHECKING:
        tool_calls: int
    else:
        tool_calls: int = property(_tool_calls_of)
    reasoning_tokens: int  # usage.completion_tokens_details.reasoning_tokens (0 when not reported)
    if TYPE_CHECKING:
        task_kinds: int  # bitmask of plain-keyword task signals (``workload.TASK_RULES``)
    else:
        task_kinds: int = property(_task_kinds_of)
    hints: CacheHints | None  # the request's cache options, for the policies that read them
    seq: int  # the call's position in the log (what-if changes that move calls in time key on it)
    # the instant whose price list applies: ``--at``, or now for undated calls (None: ``when``'s)
    if TYPE_CHECKING:
        list_at: datetime | None
        tier: str | None  # the service tier the log shows: "batch", "flex", "priority" (None: standard)
    else:
        list_at: datetime | None = property(_list_at_of)
        tier: str | None = property(_tier_of)
    if TYPE_CHECKING:
        flags: int  # TIMED | LATENCY_REPORTED | TOOLS | THINKING | BLEND
    else:
        flags: int = property(_flags_of)

    def __init__(
        self,
        start: float,
        end: float,
        when: datetime,
        user: str | None,
        model: str,
        group: str,
        output: int,
        conversation: str | None,
        timed: bool | None = None,
        latency_reported: bool | None = None,
        tools: bool | None = None,
        thinking: bool | None = None,
        tool_calls: int = 0,
        reasoning_tokens: int = 0,
        task_kinds: int = 0,
        hints: CacheHints | None = None,
        seq: int = -1,
        list_at: datetime | None = None,
        blend: bool | None = None,  # no usable time of day (no timestamp, or relative times): the week's blend
        tier: str | None = None,
        flags: int = 0,
    ) -> None:
        self.start = start
        self.end = end
        self._when: datetime | EllipsisType = ... if _own_time(when, start) else when  # ...: its own start
        self.user = user
        self.group = group
        self.output = output
        self.conversation = conversation
        self.reasoning_tokens = reasoning_tokens
        self.hints = hints
        self.seq = seq
        if not (timed is None and latency_reported is None and tools is None and thinking is None and blend is None):
            for value, bit in (
                (timed, TIMED),
                (latency_reported, LATENCY_REPORTED),
                (tools, TOOLS),
                (thinking, THINKING),
                (blend, BLEND),
            ):
                if value is not None:
                    flags = flags | bit if value else flags & ~bit
        common = (tool_calls, task_kinds, tier, list_at, model, flags)
        got = _COMMON.get(common)
        if (
            got is not None  # equal is not enough: the same objects (an instant's zone, a bool's type)
            and got[3] is list_at
            and got[2] is tier
            and got[4] is model
            and type(got[5]) is type(flags)
            and type(got[0]) is type(tool_calls)
            and type(got[1]) is type(task_kinds)
        ):
            common = got
        elif got is not None or len(_COMMON) < _COMMON_MAX:
            _COMMON[common] = common
        self._common: _Common = common

    def instants(self) -> tuple[datetime, datetime | None]:
        """``when`` and ``list_at`` for ``Catalog.bucket`` (a loop over many calls reads both)."""
        w = self._when
        if w is ...:
            w = datetime.fromtimestamp(self.start, UTC)
        return w, self._common[3]

    def prices_alike(self, other: CallFacts) -> bool:
        """Whether ``when``, ``list_at``, ``blend`` and ``tier`` (what ``Catalog.bucket`` and
        ``variant`` read) equal ``other``'s: the shared tuple compared by identity first, and two
        calls at their own starts by those floats (a start is its datetime's, one to one), so no
        datetime is made for a what-if's unchanged calls (``PriceCodes.patched``)."""
        c, d = self._common, other._common
        if c is not d and (c[3] != d[3] or (c[5] ^ d[5]) & BLEND or c[2] != d[2]):
            return False
        if self._when is ... and other._when is ...:
            return self.start == other.start
        return self.when == other.when

    @property
    def timed(self) -> bool:
        return self._common[5] & TIMED != 0

    @property
    def latency_reported(self) -> bool:
        return self._common[5] & LATENCY_REPORTED != 0

    @property
    def tools(self) -> bool:
        return self._common[5] & TOOLS != 0

    @property
    def thinking(self) -> bool:
        return self._common[5] & THINKING != 0

    @property
    def blend(self) -> bool:
        return self._common[5] & BLEND != 0

    def __repr__(self) -> str:
        names = ("start", "end", "when", "user", "model", "group", "output", "conversation", "timed",
                 "latency_reported", "tools", "thinking", "tool_calls", "reasoning_tokens", "task_kinds",
                 "hints", "seq", "list_at", "blend", "tier")  # fmt: skip
        return f"CallFacts({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"


def _own_time(when: datetime, start: float) -> bool:
    """Whether ``when`` is ``start`` as a UTC datetime, to the microsecond both ways: then
    ``CallFacts`` keeps no datetime and makes ``datetime.fromtimestamp(start, UTC)`` on use."""
    return (
        when is not None
        and when.tzinfo is UTC
        and type(when) is datetime
        and not when.fold  # a fold of 1 (no meaning in UTC) would not come back
        and type(start) is float
        and 0.0 <= start < _ROUND_TRIP_BELOW
        and when.timestamp() == start
    )


def start_order(facts: Sequence[CallFacts]) -> Sequence[int]:
    """The calls' indexes in start-time order (ties in log order). Sorted on the start alone: the
    indexes go in ascending and the sort is stable, so ties stay in log order, as a key of
    ``(start, i)`` would leave them, without a tuple per call while it sorts (~55 bytes a call).

    Of a list of records, a list whose each index is the call's own ``seq`` object where it has
    its index as ``seq``: the order, kept for the whole run, then holds no int of its own (~32
    bytes a call past 256). Of any other sequence (a ``FactTable``, a layout over one), whose
    records hold no int of their own: ``range(n)`` when the calls are in start order already (a
    log written as it ran: nothing kept a call), else an ``array('i')`` (4 bytes a call; ``'q'``
    past 2**31 calls), the starts read from the columns."""
    if isinstance(facts, list):
        ids = [f.seq if f.seq == i else i for i, f in enumerate(facts)]
        ids.sort(key=lambda i: facts[i].start)
        return ids
    n = len(facts)
    tc = "i" if n <= _INT32_LIMIT else "q"
    # a table's own column, a layout's patched copy (``column``); else the starts read once (no
    # record made per call: ``reader``)
    starts = (
        column(facts, "start")
        if getattr(facts, "column", None) is not None
        else list(map(reader(facts, "start"), range(n)))
    )
    if all(map(operator.le, starts, islice(starts, 1, None))):  # no NaN, none before the one ahead: sorted is range(n)
        return range(n)
    order: array | None = None
    if type(starts) is array and starts.typecode == "d" and len(starts) == n:
        # a stable sort in numpy, the same order as Python's stable sort on the same floats (no
        # NaN: it compares unlike them), without a key float and an index int per call
        import numpy as np

        got = np.frombuffer(starts, np.float64)
        if n and not np.isnan(got).any():
            order = array(tc, [0]) * n  # written in place: no copy of the order on the way
            np.frombuffer(order, np.dtype(tc))[:] = np.argsort(got, kind="stable")
    if order is None:
        order = array(tc, sorted(range(n), key=starts.__getitem__))
    return Runs.of(order) or order  # a layout that moved a few calls: a few runs (``Runs``)


_INT32_LIMIT = (1 << 31) - 1


class Runs(Sequence[int]):
    """Indexes that come in runs of consecutive ones (``i, i + 1, ...``), kept as each run's first
    index (``first``) and the position in the sequence where it ends (``ends``): two ints a run
    instead of one an index. Read as the array it was made from (``Runs.of``), item by item, by
    slice (an ``array``), in a loop or in numpy (``__array__``). For the start order of a layout
    that moved a few calls in time, and a what-if's re-run calls (partitions of consecutive calls)."""

    __slots__ = ("ends", "first")

    def __init__(self, first: array, ends: array):
        self.first, self.ends = first, ends

    @classmethod
    def of(cls, ints: array) -> Runs | None:
        """``ints`` (an array of indexes) as runs, or None when that would not take fewer bytes
        (more runs than a quarter of the indexes)."""
        import numpy as np

        n = len(ints)
        if n < 8:
            return None
        v = np.frombuffer(ints, np.dtype(f"i{ints.itemsize}"))
        cut = np.flatnonzero(np.diff(v) != 1) + 1  # where a run starts, past the first
        if 4 * (len(cut) + 1) > n:
            return None
        first, ends = array(ints.typecode), array(ints.typecode)
        first.frombytes(np.ascontiguousarray(v[np.r_[0, cut]]).tobytes())
        ends.frombytes(np.r_[cut, n].astype(v.dtype).tobytes())
        return cls(first, ends)

    def __len__(self) -> int:
        return self.ends[-1] if len(self.ends) else 0

    def _run(self, k: int) -> tuple[int, int, int]:
        """Run ``k``'s first index, and its start and end positions in the sequence."""
        begin = self.ends[k - 1] if k else 0
        return self.first[k], begin, self.ends[k]

    def __getitem__(self, i):
        n = len(self)
        if isinstance(i, slice):
            start, stop, step = i.indices(n)
            if step != 1:
                return array(self.first.typecode, (self[j] for j in range(start, stop, step)))
            out = array(self.first.typecode)
            k = bisect_right(self.ends, start)
            while start < stop:
                f, begin, end = self._run(k)
                out.extend(range(f + start - begin, f + min(stop, end) - begin))
                start, k = end, k + 1
            return out
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        f, begin, _ = self._run(bisect_right(self.ends, i))
        return f + i - begin

    def __iter__(self) -> Iterator[int]:
        begin = 0
        for f, end in zip(self.first, self.ends):
            yield from range(f, f + end - begin)
            begin = end

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        import numpy as np

        return np.asarray(self[:], dtype=dtype if dtype is not None else np.dtype(f"i{self.first.itemsize}"))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Runs):
            return self.first == other.first and self.ends == other.ends
        if isinstance(other, Sequence):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal by value, as the array it stands for


def dropped_users(facts: Sequence[CallFacts]) -> Container[str]:
    """The template groups whose calls a layout sends with no user id (the advisor's user-scope
    what-if, ``advise.whatif.Overlay.no_user``): a call of one of them is simulated with
    ``user=None`` while its record keeps the logged user, so the what-if needs no copy of every
    call's facts. Empty for the log's own facts and any plain list."""
    return getattr(facts, "no_user", ())


def facts_at(facts: Sequence[CallFacts], calls: Iterable[int]) -> list[CallFacts]:
    """The facts of ``calls`` as a plain list (a work unit's, sent to another process): where the
    layout drops a call's user (``dropped_users``), a copy without it, so the list needs no override."""
    drop = dropped_users(facts)
    if not drop:
        return [facts[i] for i in calls]
    return [
        replace(f, user=None) if f.user is not None and f.group in drop else f for f in map(facts.__getitem__, calls)
    ]


# ``FactTable``: a code or count array's next wider type when a value does not fit
_WIDER = {"B": "H", "H": "I", "I": "Q", "b": "h", "h": "i", "i": "q"}


def _widened(a: array, value: int) -> array:
    """``a`` with ``value`` appended, in the next wider type(s) until it fits (``OverflowError``
    past 64 bits: the caller keeps that record whole)."""
    while True:
        a = array(_WIDER[a.typecode], a)
        try:
            a.append(value)
        except OverflowError:
            if a.typecode in ("Q", "q"):
                raise
            continue
        return a


def appended(a: array, value: int) -> array:
    """``a`` with ``value`` appended: ``a`` itself, or, when ``value`` does not fit, a copy in the
    next wider type(s) that holds it (``_widened``: signed 8 bits to 16, 32, 64; ``OverflowError``
    past 64). A count column begun at 8 bits (``array("b")``) so takes the bytes its widest value
    needs: a short chat's token counts 1 or 2 a call where 64-bit arrays took 8."""
    try:
        a.append(value)
    except OverflowError:
        if a.typecode == "q":
            raise
        return _widened(a, value)
    return a


_new = object.__new__


class FactTable(Sequence[CallFacts]):
    """The first pass's ``CallFacts``, a call a row, as typed columns instead of one record object
    per call (~200 bytes a call: the record, its boxed ``start`` and ``end`` and its ``seq``, kept
    for the whole run). ``starts`` and ``ends`` are ``array('d')``; the shared ``_common`` tuple a
    code into the table's distinct tuples (the same objects, so a record read back shares its
    tuple as the appended one did); ``group``, ``user`` and ``conversation`` codes into each
    column's distinct strings (code 0: None; 8 bits, widened to 16, 32, 64 as they grow; the
    conversations' a ``strings.StringTable``, not a ``str`` object each);
    ``output`` and ``reasoning_tokens`` 8-bit arrays (16, 32, 64 as counts need); ``hints``
    and a ``_when`` of its own (an undated call's "now", a moved call's) codes into the objects
    met (code 0: None and ``...``; a run of calls holding the same object, as an undated log's
    "now", one entry); ``seq`` nothing where it is the call's position (the first pass's), else by
    position. A record whose fields do not fit the columns (a start that is not a float, a
    string subclass, a count past 64 bits) is kept whole, by position.

    ``table[i]`` makes a ``CallFacts`` equal to the one appended (slot by slot: the same string,
    tuple, hints and datetime objects; an equal conversation string, made on read), a new object
    on each read (~1 µs): code that compares
    records by identity does not read them from here (``advise.whatif.entry``), and loops over
    every call read fields instead (``reader``, ``column``, ``feed_rows``, ``coded``: no record
    made). A record's fields are read once, when it is appended: a record changed after that is
    not seen (the first pass sets ``group`` and ``seq`` before it appends). Equal (``==``) to the
    list of the records appended, either way round."""

    __slots__ = (
        "_common",
        "_common_code",
        "_commons",
        "_conversation",
        "_conversations",
        "_group",
        "_group_code",
        "_groups",
        "_hint",
        "_hints",
        "_last_conversation",
        "_output",
        "_reasoning",
        "_seq",
        "_user",
        "_user_code",
        "_users",
        "_when",
        "_whens",
        "_whole",
        "ends",
        "starts",
    )  # fmt: skip

    def __init__(self, records: Iterable[CallFacts] = ()) -> None:
        self.starts = array("d")
        self.ends = array("d")
        self._common = array("B")
        self._commons: list[_Common] = []
        self._common_code: dict[int, int] = {}  # id of a tuple in ``_commons`` -> its code
        self._group = array("B")
        self._user = array("B")
        self._conversation = array("B")
        # each string column's distinct strings (code 0: None), and each string's code
        self._groups: list[str | None] = [None]
        self._group_code: dict[str | None, int] = {None: 0}
        self._users: list[str | None] = [None]
        self._user_code: dict[str | None, int] = {None: 0}
        self._conversations = StringTable()  # not a str object each: ~0.4 distinct a call on chats
        self._last_conversation: tuple[int, str | None] = (0, None)  # the last read (a chat's calls in a row)
        self._output = array("b")  # widened as counts need (``appended``)
        self._reasoning = array("b")
        # hints and a ``_when`` of its own: codes into the objects met (code 0: None / ``...``), a
        # run of calls holding the same object one entry (an undated log's "now")
        self._hint = array("B")
        self._hints: list[CacheHints | None] = [None]
        self._when = array("B")
        self._whens: list[datetime | EllipsisType] = [...]
        self._seq: dict[int, int] = {}
        self._whole: dict[int, CallFacts] = {}
        for f in records:
            self.append(f)

    @staticmethod
    def _code(s: str | None, strings: list[str | None], codes: dict[str | None, int]) -> int:
        got = codes.get(s)
        if got is None:
            got = codes[s] = len(strings)
            strings.append(s)
        return got

    def append(self, f: CallFacts) -> None:
        i = len(self.starts)
        start, end, output, reasoning = f.start, f.end, f.output, f.reasoning_tokens
        group, user, conversation = f.group, f.user, f.conversation
        fits = (
            type(start) is float
            and type(end) is float
            and type(output) is int
            and type(reasoning) is int
            and type(f.seq) is int
            and type(group) is str
            and (user is None or type(user) is str)
            and (conversation is None or type(conversation) is str)
            and -(1 << 63) <= output < 1 << 63
            and -(1 << 63) <= reasoning < 1 << 63
        )
        if not fits:  # kept whole; the columns hold placeholders there
            self._whole[i] = f
            start = end = 0.0
            output = reasoning = 0
            group = user = conversation = None  # type: ignore[assignment]
        self.starts.append(start)
        self.ends.append(end)
        c = f._common
        code = self._common_code.get(id(c))
        if code is None:
            code = self._common_code[id(c)] = len(self._commons)
            self._commons.append(c)  # kept: its id stays its own
        self._common = self._put(self._common, code)
        self._group = self._put(self._group, self._code(group, self._groups, self._group_code))
        self._user = self._put(self._user, self._code(user, self._users, self._user_code))
        self._conversation = self._put(self._conversation, self._conversations.code(conversation))
        self._output = self._put(self._output, output)
        self._reasoning = self._put(self._reasoning, reasoning)
        self._hint = self._put(self._hint, self._object_code(f.hints, self._hints))
        self._when = self._put(self._when, self._object_code(f._when, self._whens))
        if f.seq != i or type(f.seq) is not int:
            self._seq[i] = f.seq

    @staticmethod
    def _object_code(obj: object, objects: list) -> int:
        """``obj``'s code among ``objects``: 0 for the column's default (None, ``...``), the last
        one's where it is the same object again, else a new one."""
        if obj is objects[0]:
            return 0
        last = len(objects) - 1
        if obj is objects[last]:
            return last
        objects.append(obj)
        return last + 1

    @staticmethod
    def _put(a: array, value: int) -> array:
        try:
            a.append(value)
        except OverflowError:
            return _widened(a, value)
        return a

    def __len__(self) -> int:
        return len(self.starts)

    def _at(self, i: int) -> int:
        n = len(self.starts)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("fact table index out of range")
        return i

    def __getitem__(self, i):
        if type(i) is not int:
            if isinstance(i, slice):
                return [self[j] for j in range(*i.indices(len(self.starts)))]
            i = operator.index(i)
        if i < 0 or i >= len(self.starts):
            i = self._at(i)
        if self._whole:
            got = self._whole.get(i)
            if got is not None:
                return got
        f = _new(CallFacts)
        f.start = self.starts[i]
        f.end = self.ends[i]
        f._common = self._commons[self._common[i]]
        f._when = self._whens[self._when[i]]
        f.user = self._users[self._user[i]]
        f.group = self._groups[self._group[i]]
        f.output = self._output[i]
        c, last = self._conversation[i], self._last_conversation
        if c != last[0]:
            last = self._last_conversation = (c, self._conversations[c])
        f.conversation = last[1]
        f.reasoning_tokens = self._reasoning[i]
        f.hints = self._hints[self._hint[i]]
        f.seq = self._seq.get(i, i) if self._seq else i
        return f

    def __iter__(self) -> Iterator[CallFacts]:
        if self._whole:
            for i in range(len(self.starts)):
                yield self[i]
            return
        commons, hints, whens, seqs = self._commons, self._hints, self._whens, self._seq
        groups, users, conversations = self._groups, self._users, self._conversations.reader()
        new = _new
        cols = zip(self.starts, self.ends, self._common, self._user, self._group, self._output, self._conversation,
                   self._reasoning, self._hint, self._when)  # fmt: skip
        for i, (start, end, common, user, group, output, conversation, reasoning, hint, when) in enumerate(cols):
            f = new(CallFacts)
            f.start = start
            f.end = end
            f._common = commons[common]
            f._when = whens[when]
            f.user = users[user]
            f.group = groups[group]
            f.output = output
            f.conversation = conversations(conversation)
            f.reasoning_tokens = reasoning
            f.hints = hints[hint]
            f.seq = seqs.get(i, i) if seqs else i
            yield f

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FactTable({list(self)!r})"

    # -- columns: one field of one call, no record made (the loops over every call) ----------------

    def group_at(self, i: int) -> str:
        w = self._whole
        if w and (f := w.get(i)) is not None:
            return f.group
        return self._groups[self._group[i]]  # type: ignore[return-value]

    def user_at(self, i: int) -> str | None:
        w = self._whole
        if w and (f := w.get(i)) is not None:
            return f.user
        return self._users[self._user[i]]

    def feed_rows(self) -> Callable[[int], FeedRow]:
        """``start``, ``end``, ``group``, ``user`` and ``hints`` of call ``i`` (from 0) as
        ``rows(i)``, what a cache simulator is fed (``feed_rows``), from the columns."""
        if self._whole:
            return _record_rows(self)
        starts, ends, group, user, hint = self.starts, self.ends, self._group, self._user, self._hint
        groups, users, hints = self._groups, self._users, self._hints

        def row(i: int) -> FeedRow:
            return starts[i], ends[i], groups[group[i]], users[user[i]], hints[hint[i]]  # type: ignore[return-value]

        return row

    def coded(self, name: str) -> tuple[array, Sequence[str | None]] | None:
        """``group``, ``user`` or ``conversation`` of every call as codes into that column's distinct
        strings (code 0: None), for loops that compare them by code (``advise.whatif._ByGroup``);
        None where a record is kept whole (its field is not in the codes)."""
        if self._whole:
            return None
        return getattr(self, "_" + name), getattr(self, "_" + name + "s")

    def _per_common(self, name: str) -> list[Any] | None:
        """Field ``name`` of each distinct ``_common`` tuple (None: not one of its fields)."""
        k = _COMMON_FIELDS.get(name)
        if k is not None:
            return [c[k] for c in self._commons]
        bit = _FLAG_BITS.get(name)
        if bit is not None:
            return [c[5] & bit != 0 for c in self._commons]
        return None

    def reader(self, name: str) -> Callable[[int], Any]:
        """Field ``name`` of call ``i`` (from 0) as ``reader(i)``, from the columns (any field but
        ``seq``), no record made."""
        if not self._whole:
            if name == "start":
                return self.starts.__getitem__
            if name == "end":
                return self.ends.__getitem__
            if name == "hints":
                hints, hint = self._hints, self._hint
                return lambda i: hints[hint[i]]
            if name == "output":
                return self._output.__getitem__
            if name == "reasoning_tokens":
                return self._reasoning.__getitem__
            if name == "seq":
                seqs = self._seq
                return lambda i: seqs.get(i, i)
            if name == "conversation":
                read, codes = self._conversations.reader(), self._conversation
                return lambda i: read(codes[i])
            if name in ("group", "user"):
                s, codes = getattr(self, "_" + name + "s"), getattr(self, "_" + name)
                return lambda i: s[codes[i]]
            if name == "when":
                starts, whens, when = self.starts, self._whens, self._when
                return lambda i: datetime.fromtimestamp(starts[i], UTC) if (w := whens[when[i]]) is ... else w
            per = self._per_common(name)
            if per is not None:
                code = self._common
                return lambda i: per[code[i]]
        return lambda i: getattr(self[i], name)

    def column(self, name: str) -> Sequence[Any]:
        """Field ``name`` of every call, in order, from the columns where it is one (``starts``,
        ``ends`` and the counts as the table's own arrays: read, never change them)."""
        if not self._whole:
            if name == "start":
                return self.starts
            if name == "end":
                return self.ends
            if name == "output":
                return self._output
            if name == "reasoning_tokens":
                return self._reasoning
            if name == "conversation":
                read = self._conversations.reader()
                return [read(c) for c in self._conversation]
            if name in ("group", "user"):
                s = getattr(self, "_" + name + "s")
                return [s[c] for c in getattr(self, "_" + name)]
            per = self._per_common(name)
            if per is not None:
                return [per[c] for c in self._common]
        return [getattr(f, name) for f in self]


# ``CallFacts._common``'s fields by position, and the flags read from its last
_COMMON_FIELDS = {"tool_calls": 0, "task_kinds": 1, "tier": 2, "list_at": 3, "model": 4, "flags": 5}
_FLAG_BITS = {
    "timed": TIMED,
    "latency_reported": LATENCY_REPORTED,
    "tools": TOOLS,
    "thinking": THINKING,
    "blend": BLEND,
}


FeedRow = tuple[float, float, str, str | None, CacheHints | None]


def reader(facts: Sequence[CallFacts], name: str) -> Callable[[int], Any]:
    """Field ``name`` of call ``i`` (from 0) of ``facts`` as ``reader(i)``: a ``FactTable``'s (or a
    layout's over one: ``advise.whatif.Overlay``) from its columns, no record made; any other
    sequence's from its records."""
    own = getattr(facts, "reader", None)
    if own is not None:
        return own(name)
    return lambda i: getattr(facts[i], name)


def conversation_keys(facts: Sequence[CallFacts]) -> Callable[[int], Hashable | None]:
    """Call ``i``'s conversation as ``keys(i)``, a key equal to another call's where their
    conversation strings are equal (None: none), for loops that key dicts by it: a
    ``FactTable``'s codes (no string made per call, an int kept per key), else the strings."""
    coded = getattr(facts, "coded", None)
    got = coded("conversation") if coded is not None else None
    if got is None:
        return reader(facts, "conversation")
    codes = got[0]
    return lambda i: codes[i] or None


def column(facts: Sequence[CallFacts], name: str) -> Sequence[Any]:
    """Field ``name`` of every call of ``facts``, in order: a ``FactTable``'s from its columns (its
    own arrays for ``start``, ``end`` and the counts: read, never change them), any other
    sequence's from its records."""
    own = getattr(facts, "column", None)
    if own is not None:
        return own(name)
    return [getattr(f, name) for f in facts]


def feed_rows(facts: Sequence[CallFacts]) -> Callable[[int], FeedRow]:
    """``start``, ``end``, ``group``, ``user`` and ``hints`` of call ``i`` (from 0) as
    ``rows(i)``: what the loops that feed a cache simulator read of every call, from a
    ``FactTable``'s columns (or a layout's over one), else from the records."""
    own = getattr(facts, "feed_rows", None)
    if own is not None:
        return own()
    return _record_rows(facts)


def _record_rows(facts: Sequence[CallFacts]) -> Callable[[int], FeedRow]:
    def row(i: int) -> FeedRow:
        f = facts[i]
        return f.start, f.end, f.group, f.user, f.hints

    return row
