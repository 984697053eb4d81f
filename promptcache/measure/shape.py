"""A call's prompt as a cache sees it: a chain of hashed pieces with token counts.

``Measurer`` renders a call with its model family's chat template (``tokens.render``), tokenizes
each *distinct* piece once, and gives every call a ``Shape``: piece keys, token counts, and the
chain keys that identify each prefix (``chain[k]`` names everything before piece k, so two calls
share pieces 0..k-1 exactly when their ``chain[k]`` are equal). Inside a piece, prefixes are
compared by chained hashes of fixed token blocks (``block_tokens``), so two different pieces can
still share a partial prefix at block granularity without keeping their tokens in memory.

When a call reports its prompt size and the log's provider uses this family's tokenizer, the
reported total is the truth: the difference from our count is put on the final (generation)
piece and the call is counted as ``reported``; otherwise its counts are ``estimated``.

A chat or agent call replays its conversation's previous request and answer and adds a few
pieces, so a text call's shape is a ``ChatShape``: the first ``n`` positions of its
conversation's *run* (``Measurer._run``: an ``array('q')`` of piece key and chain key per
position and an ``array('i')`` of stored counts, shared by the conversation's calls), plus its own generation piece (key, and
count with the reported total's adjustment on it). A call that continues the run appends its new
pieces (only they are hashed); a call that differs from it before its end (an edited or dropped
turn, a retry with another answer) gets a new run with the common prefix copied: positions once
handed out never change. Memory then grows with distinct positions per conversation, not with
pieces per call (on short chats ~180 bytes a call less than a plain shape's tuples, chain array
and total). ``keys``, ``tokens`` and ``chain`` are ``array('q')`` built on first access and kept
for the last ``LIVE`` shapes, as ``blocks.BlockShape`` does for block traces; a loop that reads
each shape once takes ``ChatShape.arrays()`` (nothing kept), and what needs no array asks the
shape (``total``, ``prefix_tokens``, ``key_at``, ``chain_at``, ``first_key``, ``keys_from``,
``chain_from``). Anything unusual gets the plain ``Shape`` as before: an adjustment that reaches
past the generation piece (a reported total below the other pieces' counts), a call whose
prompt starts with a placeholder (``HIDDEN_PREFIX``), block-hash calls (``_shape_blocks``).
``tests/test_chatshape.py`` checks every field and accessor against the plain shape
(``Measurer.chat_runs = False``). Shapes pickle without their built arrays; shapes pickled
together share their runs (a Dask range's, a unit's slice). The first pass keeps a family's
shapes in a ``ShapeList``: a chat shape as its place in one array of all its runs' positions (the
arena, read from the shape's ``base``) and a packed record (no object, no key ints per call), made
again as an equal ``ChatShape`` when read.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from struct import Struct
from typing import Any

from ..model.calls import HIDDEN_PREFIX, Call, is_blocks
from ..model.keys import text_key
from .delta import BlockDelta, Repeat
from .pieces import Pieces, as_array
from .tokens import get_tokenizer, output_piece, render

ROOT = 0x5EED


@dataclass(slots=True)
class Shape:
    """Prompt pieces in order (the last is the generation prompt) and the output that followed."""

    # Sequences, not lists: ``Measurer.shape`` gives tuples (no list header or growth room: ~100
    # bytes a call of the shapes kept for the whole run), block-hash calls machine-integer arrays
    keys: Sequence[int]  # the measurer's own key objects, shared by every call with the piece
    tokens: Sequence[int]
    roles: Sequence[str]  # a tuple shared by every call with the same roles (``Measurer._same``)
    indexes: Sequence[int]  # likewise
    chain: Sequence[int]  # len(keys) + 1; chain[0] = ROOT; an array('q') from ``chain_of``
    out_key: int | None
    out_tokens: int
    reported: bool
    adjust: int = 0  # tokens added (or removed) to reach the reported total: our framing's error
    # sum(tokens), computed on first use (a block-hash prompt has ~2,000 pieces and its total is
    # asked for several times per simulation); token counts are never changed after a shape is made
    _total: int = field(default=-1, init=False, compare=False, repr=False)

    @property
    def total(self) -> int:
        t = self._total
        if t < 0:
            t = self._total = sum(self.tokens)
        return t

    def arrays_read(self) -> tuple[Sequence[int], Sequence[int], Sequence[int]]:
        """``keys``, ``tokens`` and ``chain``, for a reader that only indexes or sums them (a
        simulation's request, ``scale_shape``): a chat shape makes them for that reader alone."""
        return self.keys, self.tokens, self.chain


class ChatShape(Shape):
    """A text call's shape as the first ``n`` pieces of its conversation's run (``Measurer._run``),
    plus its generation piece (``gen_key``, ``gen_tokens``: the stored count with the reported
    total's adjustment on it). Equal, field by field, to the plain ``Shape`` of the same call.

    The run is two arrays: ``run`` (``array('q')``) holds, per position ``i``, the piece key and
    chain key ``i + 1`` (naming pieces 0..i), ``run[2i]`` and ``run[2i + 1]``, and ``cnt``
    (``array('i')``: 32-bit, 4 bytes a position less than in the 64-bit ``run``; a call with a count
    past that gets a plain shape) its stored token count, ``cnt[i]``, both from position ``base`` on
    (0 for the measurer's shapes; a ``ShapeList``'s arena holds many runs, each from its own base).
    ``keys``, ``tokens`` and ``chain`` are built on first access (``array('q')``, not tuples) and kept
    for the few shapes used last (``_LIVE``), as ``blocks.BlockShape``'s; until then their slots are
    unset and ``__getattr__`` builds them. What needs no array asks the shape directly (``total``,
    ``prefix_tokens``, ``key_at``, ``chain_at``, ``first_key``, ``keys_from``, ``chain_from``)."""

    # and ``_total``, a plain shape's cache: the generation piece's count
    __slots__ = ("base", "cnt", "gen_key", "n", "run")

    def __new__(cls, *args: Any, **fields: Any) -> Any:
        # ``dataclasses.replace`` calls the class with the dataclass fields by name: a copy with
        # fields changed is no prefix of the run any more, so it is a plain ``Shape``
        return Shape(**fields) if fields else object.__new__(cls)

    def __init__(
        self,
        run: array,
        cnt: array,
        n: int,
        gen_key: int,
        gen_tokens: int,
        roles: Sequence[str],
        indexes: Sequence[int],
        out_key: int | None,
        out_tokens: int,
        reported: bool,
        adjust: int,
        base: int = 0,
    ):
        self.run, self.cnt, self.base, self.n, self.gen_key, self._total = run, cnt, base, n, gen_key, gen_tokens
        self.roles, self.indexes = roles, indexes
        self.out_key, self.out_tokens, self.reported, self.adjust = out_key, out_tokens, reported, adjust

    def __getattr__(self, name: str) -> Any:  # only for unset slots: the arrays not built yet
        if name not in _BUILT:
            raise AttributeError(name)
        self.keys, self.tokens, self.chain = self.arrays()  # all three: one build, one forget
        live = _LIVE
        live.append(self)
        if len(live) > LIVE:
            old = live.popleft()
            del old.keys, old.tokens, old.chain
        return getattr(self, name)

    def arrays(self) -> tuple[array, array, array]:
        """New ``keys``, ``tokens`` and ``chain`` arrays (not kept: for a loop that reads each
        shape once, e.g. a simulation's request), all ``array('q')`` as a plain shape's chain."""
        keys, counts, chain = self.arrays_read()
        # 64-bit, as a plain shape's (the run's counts are 32-bit): widened through a list, in C
        # (``array('q', counts)`` converts item by item through the iterator protocol: ~1.5x slower)
        return keys, counts if counts.typecode == "q" else array("q", counts.tolist()), chain

    def arrays_read(self) -> tuple[array, array, array]:
        """``arrays()`` with the token counts as the run keeps them: ``array('i')`` (the generation
        piece's count appended; ``array('q')`` if it does not fit 32 bits). Equal item by item; for
        a reader that only indexes or sums them (the DeepSeek simulator's request): no widening."""
        run, b, gen = self.run, self.base, self.gen_key
        e = b + self.n
        keys = run[2 * b : 2 * e : 2]
        keys.append(gen)
        counts = self.cnt[b:e]
        try:
            counts.append(self._total)
        except OverflowError:  # a reported total's adjustment past 32 bits
            counts = array("q", counts.tolist())
            counts.append(self._total)
        chain = _ROOTS + run[2 * b + 1 : 2 * e : 2]
        chain.append(hash((chain[-1], gen)))
        return keys, counts, chain

    def __getstate__(self) -> tuple[None, dict[str, Any]]:
        """The shape without its built arrays (they are made again where it is unpickled). A shape
        on a packed list's arena (``ShapeList.pack``: ``base`` > 0) takes its own positions only."""
        state = {k: getattr(self, k) for k in _CHAT_STATE}
        b = self.base
        if b:
            e = b + self.n
            state["run"], state["cnt"], state["base"] = self.run[2 * b : 2 * e], self.cnt[b:e], 0
        return None, state

    @property
    def gen_tokens(self) -> int:
        """The generation piece's token count (the reported total's adjustment on it). A chat shape
        keeps it in the slot where a plain shape caches its total (8 bytes a call less)."""
        return self._total

    @property
    def total(self) -> int:
        b = self.base
        return sum(self.cnt[b : b + self.n]) + self._total

    @property
    def first_key(self) -> int:
        """``keys[0]`` without building ``keys``."""
        return self.run[2 * self.base] if self.n else self.gen_key

    def prefix_tokens(self, k: int) -> int:
        """``sum(tokens[:k])`` without building ``tokens``."""
        n, b = self.n, self.base
        if k <= n:
            return sum(self.cnt[b : b + k]) if k > 0 else 0
        return sum(self.cnt[b : b + n]) + self._total

    def key_at(self, i: int) -> int:
        """``keys[i]`` without building ``keys``."""
        n = self.n
        if i < 0:
            i += n + 1
        return self.run[2 * (self.base + i)] if i < n else self.gen_key

    def chain_at(self, i: int) -> int:
        """``chain[i]`` without building ``chain``."""
        n, b = self.n, self.base
        if i < 0:
            i += n + 2
        if i <= n:
            return self.run[2 * (b + i) - 1] if i else ROOT
        return hash((self.run[2 * (b + n) - 1] if n else ROOT, self.gen_key))

    def keys_from(self, lo: int) -> array:
        """``keys[lo:]`` as a new ``array('q')``."""
        b = self.base
        out = self.run[2 * (b + lo) : 2 * (b + self.n) : 2]
        if lo <= self.n:
            out.append(self.gen_key)
        return out

    def chain_from(self, lo: int) -> array:
        """``chain[lo:]`` as a new ``array('q')``."""
        n, b, run = self.n, self.base, self.run
        if lo > n + 1:
            return array("q")
        e = 2 * (b + n)
        out = _ROOTS + run[2 * b + 1 : e : 2] if lo == 0 else run[2 * (b + lo) - 1 : e : 2]
        out.append(hash((run[e - 1] if n else ROOT, self.gen_key)))
        return out if lo <= n else out[-1:]


LIVE = 64  # chat shapes whose arrays stay built
_LIVE: deque[ChatShape] = deque()
_ROOTS = array("q", (ROOT,))  # never changed: ``+`` makes a new array
_BUILT = frozenset(("keys", "tokens", "chain"))
_CHAT_STATE = (
    "run",
    "cnt",
    "base",
    "n",
    "gen_key",
    "_total",
    "roles",
    "indexes",
    "out_key",
    "out_tokens",
    "reported",
    "adjust",
)


_new_shape = object.__new__


class ShapeList(Sequence[Shape]):
    """A family's shapes, one per call, without a Python object per chat call. A chat shape is kept
    as its run (a reference in ``_refs``) and one packed record (``_REC``, 26 bytes: ``n``, a code
    into the distinct forms with two flags in its top bits (reported, no output key), ``adjust``,
    the base of its run in the arena, ``out_key``, ``out_tokens``) in one ``bytearray``. A form
    (``_forms``) is what nearly every call repeats: the roles and indexes objects, the generation
    piece's key and its stored count (``gen_tokens - adjust``: the adjustment is all on the
    generation piece), so ``gen_key`` and ``gen_tokens`` take no bytes of the record (branch
    runcols; before, a 37-byte record held them). Any other shape (plain, ``BlockShape``, a chat
    shape whose counts do not fit 32 bits or whose run holds 65,536 pieces or more) is kept as it
    is, in the run's place in ``_refs``; its record is zeros, and none is written until a chat
    shape follows (a block-trace log has no records at all).

    ``append`` moves the runs of the shapes appended before the last ``PACK_LAG`` into one
    ``array('q')``, the arena (and their counts into one ``array('i')``), ``PACK_EVERY`` shapes at a time (``_pack``), and ``pack()`` (the
    first pass's end) the rest: each run's positions that a shape reads, without the run's array
    header (64 bytes) and growth room (``extend``'s, up to 7 positions' items); the shapes then
    read the arena from their ``base`` (``_refs`` holds 0 for them, and is ``bytes`` of zeros when every shape of
    the list is on the arena: a byte a call instead of a list slot). A shape appended later keeps
    its own run.

    ``shapes[i]`` makes the equal ``ChatShape`` on demand (~0.5 µs: one ``unpack_from``, the
    slots set; ~47 reads a call in a run, one per simulated request or footprint), and the shape
    made last stays (``_made``): ``shapes[i]`` read again in a row is the same object, its arrays
    built once (``ChatShape``'s ``_LIVE`` keeps those of the shapes a caller holds). A longer memo
    does not pay: the passes read every call in turn, so one of 64 shapes met 3 % of the reads on
    the 3k log, for a dict lookup and store on every read. Iteration makes each shape once. What
    is equal to the appended shape is the value, not the object: no caller keys anything by a
    shape's identity. ``tests/test_shapelist.py`` checks it,
    element by element, against the list of the shapes appended, before and after ``pack``."""

    __slots__ = ("_arena", "_cnts", "_codes", "_counts", "_forms", "_last", "_made", "_packed", "_recs", "_refs")

    def __init__(self, shapes: Iterable[Shape] = ()):
        # per call: a chat shape's run (0: on the arena), any other shape itself; after ``pack``, when
        # every shape is on the arena, ``bytes`` of zeros (indexed, sliced and measured alike)
        self._refs: Any = []  # list[Any] | bytes
        self._recs = bytearray()  # per call up to the last chat shape, ``_REC``
        # distinct (roles, indexes, generation key, generation piece's stored count)
        self._forms: list[tuple[Sequence[str], Sequence[int], int, int]] = []
        self._codes: dict[tuple[int, int, int, int], int] = {}  # (ids of the objects, key, count) -> code
        self._arena: Any = None  # ``pack``'s array of keys and chain keys (None before)
        self._counts: Any = None  # and of counts, 32-bit (a position's, at its index in ``_arena`` halved)
        # id of a run in ``_refs`` -> (the run, its counts): the runs not on the arena
        self._cnts: dict[int, tuple[array, array]] = {}
        self._packed = 0  # the shapes before it are packed (or kept as objects)
        self._last, self._made = -1, None  # the position of the chat shape made last, and it
        for s in shapes:
            self.append(s)

    def append(self, s: Shape) -> None:
        refs = self._refs
        if type(refs) is bytes:  # packed, every shape on the arena: a list again
            refs = self._refs = [0] * len(refs)
        if (
            type(s) is not ChatShape
            or s.base
            or not (_I32 <= s.out_tokens < -_I32 and _I32 <= s.adjust < -_I32)
            or s.n > 0xFFFF
        ):
            refs.append(s)
            return
        roles, indexes, gk = s.roles, s.indexes, s.gen_key
        gb = s._total - s.adjust
        code = self._codes.get((id(roles), id(indexes), gk, gb))
        if code is None:
            code = len(self._forms)
            if code > _CODE:
                refs.append(s)
                return
            self._codes[id(roles), id(indexes), gk, gb] = code
            self._forms.append((roles, indexes, gk, gb))
        recs = self._recs
        pad = len(refs) * _SIZE - len(recs)
        if pad:  # other shapes before this one: their records zeros
            recs += bytes(pad)
        out = s.out_key
        run = s.run
        refs.append(run)
        self._cnts[id(run)] = (run, s.cnt)
        if s.reported:
            code |= _REPORTED
        if out is None:
            code |= _NO_OUT
        recs += _REC.pack(s.n, code, s.adjust, 0, 0 if out is None else out, s.out_tokens)
        if len(refs) - self._packed >= PACK_EVERY + PACK_LAG:
            self._pack(len(refs) - PACK_LAG)

    def pack(self) -> None:
        """Move every chat shape's run into the arena (``_pack``), the records sized exactly, and
        ``_refs`` as bytes when every shape is on the arena: the first pass's end."""
        refs = self._refs
        if type(refs) is bytes:
            return
        self._pack(len(refs))
        self._recs = bytearray(self._recs)  # sized exactly (appending left it room to grow)
        if self._arena is not None and all(type(r) is int for r in refs):  # every shape on the arena
            self._refs = bytes(len(refs))  # a byte a call instead of a list slot

    def _pack(self, hi: int) -> None:
        """Move the runs of the chat shapes before ``hi`` not yet packed into the arena (see the
        class): each run's positions up to the longest prompt a shape of these has on it, in order
        of first use, appended to the arena (its sentinel position first, so every shape on it has
        a ``base`` above 0). ``append`` calls it every ``PACK_EVERY`` shapes for those before the
        last ``PACK_LAG``, so a run freed is reused by the runs of the calls that follow (packed at
        the end only, the runs freed stayed free memory: peak RSS unchanged); a run that gets
        positions after its shapes were packed is packed again for the later shapes."""
        refs, recs = self._refs, self._recs
        lo, k = self._packed, min(hi, len(recs) // _SIZE)
        ends: dict[int, int] = {}  # id of a run -> its positions read (then: its base in the arena)
        runs: list[array] = []
        n_at = _N
        for i in range(lo, k):
            r = refs[i]
            if type(r) is array:
                e = n_at(recs, i * _SIZE)[0]
                got = ends.get(id(r))
                if got is None:
                    ends[id(r)] = e
                    runs.append(r)
                elif e > got:
                    ends[id(r)] = e
        if not runs:
            self._packed = max(lo, hi)
            return
        arena, counts, cnts = self._arena, self._counts, self._cnts
        if arena is None:
            arena, counts = array("q", (0, 0)), array("i", (0,))
        if len(counts) + sum(ends.values()) > 0xFFFFFFFF:  # bases past 32 bits: these stay on their runs
            return  # (``_packed`` not moved: none before it is on a run of its own)
        self._packed = max(lo, hi)
        for r in runs:
            e = ends[id(r)]
            ends[id(r)] = len(counts)
            c = cnts[id(r)][1]
            arena += r if 2 * e == len(r) else r[: 2 * e]
            counts += c if e == len(c) else c[:e]
        del runs  # each run goes with its last reference below
        put = _BASE.pack_into
        for i in range(lo, k):
            r = refs[i]
            if type(r) is array:
                put(recs, i * _SIZE + _BASE_AT, ends[id(r)])
                refs[i] = 0
        self._arena, self._counts = arena, counts
        live = {id(r) for r in refs[k:] if type(r) is array}  # runs of shapes after ``k`` stay
        # a new dict: one emptied by ``del`` keeps its table (~150 KB for a window's runs)
        self._cnts = {key: v for key, v in cnts.items() if key in live or key not in ends}
        self._last, self._made = -1, None

    def __getstate__(self) -> dict[str, Any]:
        """The columns without the shape made last (it would pickle a copy of its positions) and
        without the codes' index (keyed by the ids of this process's objects: made again)."""
        state = {k: getattr(self, k) for k in ("_arena", "_counts", "_forms", "_packed", "_recs", "_refs")}
        state["_cnts"] = list(self._cnts.values())  # the runs in ``_refs`` are the same objects: kept so
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)
        self._cnts = {id(r): (r, c) for r, c in state["_cnts"]}
        self._codes = {(id(r), id(x), gk, gb): c for c, (r, x, gk, gb) in enumerate(self._forms)}
        self._last, self._made = -1, None

    def __len__(self) -> int:
        return len(self._refs)

    def __getitem__(self, i, _array=array, _new=_new_shape, _chat=ChatShape):  # constants bound: a call per request
        r = self._refs[i]
        if type(r) is int:  # on the arena
            r, cnt = self._arena, self._counts
        elif type(r) is not _array:
            if type(i) is slice:
                return [self[j] for j in range(*i.indices(len(self._refs)))]
            return r
        else:
            cnt = self._cnts[id(r)][1]
        if i < 0:
            i += len(self._refs)
        if i == self._last:
            return self._made
        # ``_make``, inline
        n, c, adj, b, ok, ot = _unpack(self._recs, i * _SIZE)
        roles, indexes, gk, gb = self._forms[c & _CODE]
        s = _new(_chat)
        s.run, s.cnt, s.base, s.n, s.gen_key, s._total = r, cnt, b, n, gk, gb + adj
        s.roles, s.indexes = roles, indexes
        s.out_key, s.out_tokens, s.reported, s.adjust = None if c & _NO_OUT else ok, ot, c >= _REPORTED, adj
        self._last, self._made = i, s
        return s

    # readers of one field without making the shape (``shapes[i]``, ~0.5 µs): each gives exactly
    # what the shape gives (``tests/test_shapelist.py``), for the passes that read a field of
    # every call (footprints, a what-if's totals)

    def total(self, i: int) -> int:
        """``shapes[i].total``."""
        r = self._refs[i]
        if type(r) is int:  # on the arena
            cnt = self._counts
        elif type(r) is not array:
            return r.total
        else:
            cnt = self._cnts[id(r)][1]
        if i < 0:
            i += len(self._refs)
        n, c, adj, b = _HEAD(self._recs, i * _SIZE)
        return sum(cnt[b : b + n]) + self._forms[c & _CODE][3] + adj

    def first_key(self, i: int) -> int | None:
        """The first piece's key, ``shapes[i].keys[0]`` (None for an empty prompt), without building
        ``keys``."""
        r = self._refs[i]
        if type(r) is int:  # on the arena
            r = self._arena
        elif type(r) is not array:
            return first_key_of(r)
        if i < 0:
            i += len(self._refs)
        n, c, _, b = _HEAD(self._recs, i * _SIZE)
        return r[2 * b] if n else self._forms[c & _CODE][2]

    def out_key(self, i: int) -> int | None:
        """``shapes[i].out_key``."""
        r = self._refs[i]
        if type(r) is not int and type(r) is not array:
            return r.out_key
        if i < 0:
            i += len(self._refs)
        at = i * _SIZE
        return None if _CODE_OF(self._recs, at + _CODE_AT)[0] & _NO_OUT else _OK(self._recs, at + _OK_AT)[0]

    def pieces(self, i: int) -> int:
        """``len(shapes[i].roles)``: the prompt's pieces, its generation piece included."""
        r = self._refs[i]
        if type(r) is not int and type(r) is not array:
            return len(r.roles)
        if i < 0:
            i += len(self._refs)
        return len(self._forms[_CODE_OF(self._recs, i * _SIZE + _CODE_AT)[0] & _CODE][0])

    def lone_out_key(self, i: int) -> int | None:
        """``shapes[i].out_key`` when the prompt is one piece (``pieces(i) == 1``), else None: what
        DeepSeek's footprint asks, in one read."""
        r = self._refs[i]
        if type(r) is not int and type(r) is not array:
            out = r.out_key  # first: a block shape has none, and its roles are not built
            return out if out is not None and len(r.roles) == 1 else None
        if i < 0:
            i += len(self._refs)
        at = i * _SIZE
        recs = self._recs
        c = _CODE_OF(recs, at + _CODE_AT)[0]
        if c & _NO_OUT or len(self._forms[c & _CODE][0]) != 1:
            return None
        return _OK(recs, at + _OK_AT)[0]

    def _make(self, run: array, cnt: array, i: int) -> ChatShape:
        n, c, adj, b, ok, ot = _unpack(self._recs, i * _SIZE)
        roles, indexes, gk, gb = self._forms[c & _CODE]
        s = _new_shape(ChatShape)
        s.run, s.cnt, s.base, s.n, s.gen_key, s._total = run, cnt, b, n, gk, gb + adj
        s.roles, s.indexes = roles, indexes
        s.out_key, s.out_tokens, s.reported, s.adjust = None if c & _NO_OUT else ok, ot, c >= _REPORTED, adj
        return s

    def __iter__(self) -> Iterator[Shape]:
        make, arena, counts, cnts = self._make, self._arena, self._counts, self._cnts
        for i, r in enumerate(self._refs):
            if type(r) is int:
                yield make(arena, counts, i)
            else:
                yield r if type(r) is not array else make(r, cnts[id(r)][1], i)


PACK_EVERY = 4096  # ``ShapeList.append`` packs the runs of this many shapes at a time (``_pack``)
PACK_LAG = 4096  # not those of the shapes appended last (their runs are likely to grow: as ``RUNS``)

# a chat shape's record in ``ShapeList``: n, form code with the flags in its top bits (``_REPORTED``,
# ``_NO_OUT``), adjust, base in the arena (0 before ``pack``), out_key, out_tokens; standard sizes,
# no padding
_REC = Struct("=HIiIqi")
_unpack, _SIZE = _REC.unpack_from, _REC.size
_HEAD = Struct("=HIiI").unpack_from  # n, code, adjust, base
# one field of a record, at its offset (``ShapeList``'s readers)
_N = Struct("=H").unpack_from
_CODE_OF = Struct("=I").unpack_from
_BASE = Struct("=I")
_OK = Struct("=q").unpack_from
_CODE_AT, _BASE_AT, _OK_AT = 2, 10, 14
_REPORTED, _NO_OUT = 1 << 31, 1 << 30
_CODE = _NO_OUT - 1  # the code's bits


def first_key_of(s: Shape) -> int | None:
    """``s.keys[0]``, None for an empty prompt, without building a chat or block shape's keys."""
    if type(s) is ChatShape:
        return s.first_key  # never empty (its generation piece)
    segs = getattr(s, "segs", None)  # a ``blocks.BlockShape``: read in place
    if segs is not None:
        return s.first_key if len(segs) else None  # type: ignore[attr-defined]
    return s.keys[0] if s.keys else None


_I32 = -(2**31)


class Measurer:
    """Tokenizes distinct pieces once per family and shapes calls for the cache simulators."""

    def __init__(self, family: str, *, block_tokens: int = 16):
        self.family = family
        self.block_tokens = block_tokens
        self._tokenizer = None if family == "blocks" else get_tokenizer(family)
        # distinct pieces: count, key object, block hashes (``pieces.Pieces``); ``blocks`` is its
        # ``blocks`` itself (the simulators' hottest loops call it: no frame of the measurer's own)
        self._pieces = Pieces(key_objects=False)
        self.blocks: Callable[[int], Sequence[int]] = self._pieces.blocks
        self._tuples: dict[tuple, tuple] = {}  # role and index sequences, one object each
        self.adjusted_tokens = 0
        # per conversation, its last call's pieces (texts, keys, counts), least recently seen first
        self._recent: dict[tuple, tuple[list[str], list[int], list[int]]] = {}
        # per conversation, the run of its calls' pieces (``ChatShape``), least recently seen first
        self._runs: dict[tuple, tuple[array, array]] = {}  # (keys and chain keys, counts)
        self.chat_runs = True  # False: every text call gets a plain ``Shape`` (the differential tests' reference)
        self.rendered: tuple[Call, list] | None = None  # the last call shaped and its rendered pieces
        self.delta = BlockDelta()  # block-hash prompts: chain keys from each conversation's previous one
        # pieces tokenized before by another measurer of this process (key -> (ids, block hashes)):
        # a Dask worker reads many ranges, each with a fresh table, and the same system prompts
        self.known: dict[int, tuple[int, array]] | None = None

    @property
    def tokenizer_name(self) -> str:
        return self._tokenizer.name if self._tokenizer else "none (block-hash trace)"

    @property
    def exact(self) -> bool:
        return bool(self._tokenizer and self._tokenizer.exact)

    def _piece(self, text: str, extra: int = 0) -> tuple[int, int]:
        """The piece's key and token count. The key returned is the stored one, so the shapes of
        the calls that repeat a piece share one int object (32 bytes a piece a call otherwise); so
        is the count. The key is the text's stable digest (``model.keys``): tables made in two
        processes merge."""
        key = text_key(text)
        got = self._pieces.get(key)
        if got is not None:
            return got
        known = self.known.get(key) if self.known is not None else None
        if known is not None:  # a piece's ids and blocks depend on its text only; its framing is this table's
            count = known[0] + extra
            self._pieces.add(key, count, known[1])
            return key, count
        assert self._tokenizer is not None  # "blocks" measures block traces only: no text reaches here
        ids = self._tokenizer.encode(text)
        count = self._store(key, ids, extra)
        if self.known is not None:
            self.known[key] = (count - extra, as_array(self.blocks(key)))
        return key, count

    def _store(self, key: int, ids: list[int], extra: int) -> int:
        """Remember a distinct piece's count, key and chained block hashes; its count."""
        hs: list[int] = []
        append = hs.append
        h = ROOT  # same seed for every piece, so different pieces with a common start share blocks
        # each full block of ``block_tokens`` ids as a tuple (``zip`` of one iterator, in C), hashed
        # chained: ``(h,) + block`` is ``(h, *ids[i - b : i])``, the same 1 + b items, so the same
        # hash (~20 % faster than slicing the list and unpacking the slice)
        for block in zip(*[iter(ids)] * self.block_tokens):
            h = hash((h,) + block)
            append(h)
        count = len(ids) + extra
        self._pieces.add(key, count, hs)
        return count

    def shape(self, call: Call, *, trust_usage: bool, adjust: int | None = None) -> Shape:
        """The call's shape. With ``trust_usage`` the reported prompt size is the truth; ``adjust``
        instead carries another shape's correction over (a rewritten call keeps its original's
        framing error, so its total moves only by what the rewrite changed)."""
        if call.segments and call.segments[0].role == "block":
            return self._shape_blocks(call)
        pieces, gen = render(call, self.family)
        self.rendered = (call, pieces)
        keys: list[int] = []
        toks: list[int] = []
        # a call replays its conversation's previous request and answer: their pieces' keys and
        # counts are taken where the texts are equal (a comparison instead of a digest of the text)
        conv = (call.source, call.conversation_id)
        texts = [p.text for p in pieces]
        ptexts, pkeys, ptoks = self._recent.pop(conv, _NONE)
        m = min(len(ptexts), len(pieces))
        for i, p in enumerate(pieces):
            if i < m and ptexts[i] == texts[i]:
                k, n = pkeys[i], ptoks[i]
            else:
                k, n = self._piece(p.text, p.extra)
            keys.append(k)
            toks.append(n)
        counts = toks.copy()  # as stored, before the reported total adjusts them
        gk, gn = self._piece(gen, 3 if self.family != "deepseek-v4" else 0)
        if self.family != "deepseek-v4":
            gn = 3  # OpenAI: every reply is primed with <|start|>assistant<|message|>
        keys.append(gk)
        toks.append(gn)
        reported = False
        diff = 0
        if adjust is not None:
            diff = adjust
            if diff:
                _absorb(toks, diff, _hidden_piece(call, pieces))
            reported = trust_usage
        elif trust_usage and call.usage is not None:
            diff = call.usage.input_tokens - sum(toks)
            if diff:
                self.adjusted_tokens += abs(diff)
                _absorb(toks, diff, _hidden_piece(call, pieces))
            reported = True
        out = output_piece(call, self.family)
        out_key, out_tokens = None, 0
        if out:  # same key as the identical assistant turn a next request would replay
            out_key, out_tokens = self._piece(out)
        elif call.usage and call.usage.output_tokens:
            out_key, out_tokens = text_key(call.call_id, b"out"), call.usage.output_tokens
        n = len(counts)
        roles = self._same((*(p.role for p in pieces), "generation"))
        indexes = self._same((*(p.index for p in pieces), -1))
        # the usual case: the adjustment, if any, is all on the generation piece (toks[:n] are the
        # stored counts) and no placeholder part hides the prompt's start: a prefix of the run
        chat = self.chat_runs and (not diff or toks[:n] == counts) and not _hidden(call)
        run = self._run(conv, keys[:n], counts) if chat else None  # before ``_remember`` extends ``counts``
        self._remember(conv, texts, keys, counts, out, out_key, out_tokens)
        if run is not None:
            return ChatShape(*run, n, gk, toks[n], roles, indexes, out_key, out_tokens, reported, diff)
        return Shape(tuple(keys), tuple(toks), roles, indexes, chain_of(keys), out_key, out_tokens, reported, diff)

    def _run(self, conv: tuple, keys: list[int], counts: list[int]) -> tuple[array, array] | None:
        """The conversation's run, holding the call's pieces as its first ``len(keys)`` positions:
        extended in place when the call continues it (or left as it is when the call is a prefix
        of it), a new run with the common prefix copied when the call differs from it before its
        end (positions once handed out never change). A run is two arrays: per position its key
        and chain key (``array('q')``, interleaved) and its count (``array('i')``); None for a
        call with a count past 32 bits (it gets a plain shape)."""
        try:
            cn = array("i", counts)
        except OverflowError:
            return None
        runs = self._runs
        got: tuple[array, array] | None = runs.pop(conv, None)
        n = len(keys)
        fresh = True  # a run made here (sized exactly: ``extend`` leaves room to grow)
        if got is None:
            run, cnt, shared = _EMPTY_RUN, _EMPTY_COUNTS, 0
        else:
            run, cnt = got
            end = len(cnt)
            m = n if n < end else end
            ks = array("q", keys[:m]) if m < n else array("q", keys)
            if run[0 : 2 * m : 2] == ks and cnt[:m] == cn[:m]:
                shared = m
            else:
                shared = 0
                while shared < m and run[2 * shared] == keys[shared] and cnt[shared] == counts[shared]:
                    shared += 1
            if (shared < end and shared < n) or not end:
                # a new run: the old one stays with the shapes that hold it (the shared empty run
                # of a call with no pieces but its generation piece is never extended)
                run, cnt = run[: 2 * shared], cnt[:shared]
            else:
                fresh = False
        if shared < n:
            h = run[-1] if shared else ROOT
            new: list[int] = []
            for i in range(shared, n):
                k = keys[i]
                h = hash((h, k))
                new += (k, h)
            if fresh:
                run, cnt = run + array("q", new), cnt + cn[shared:]
            else:
                run.extend(new)
                cnt.extend(cn[shared:])
        if fresh or got is None:
            got = (run, cnt)  # else the conversation's pair as it was (its arrays extended in place)
        runs[conv] = got
        if len(runs) > RUNS:
            del runs[next(iter(runs))]  # the conversation seen least recently
        return got

    def end_runs(self) -> None:
        """Continue no run: the first pass has packed its shapes' runs (``ShapeList.pack``), so the
        runs kept here would be held twice. A later call of a conversation starts a new run (its
        shape is equal: positions are hashed alike from ``ROOT``)."""
        self._runs.clear()

    def _remember(
        self, conv: tuple, texts: list[str], keys: list[int], counts: list[int], out: str, out_key, out_tokens: int
    ) -> None:
        """Keep a call's piece texts, keys and stored counts (``_piece``'s: a text's count is the one
        it was first stored with), its answer after them, for its conversation's next call; for
        the ``RECENT_CONVERSATIONS`` conversations seen last (speed only: a miss digests the text)."""
        n = len(counts)
        keys = keys[:n]
        if out:
            texts.append(out)
            keys.append(out_key)
            counts.append(out_tokens)
        recent = self._recent
        recent[conv] = (texts, keys, counts)
        if len(recent) > RECENT_CONVERSATIONS:
            del recent[next(iter(recent))]  # the conversation seen least recently

    def _same(self, seq: tuple) -> tuple:
        """One shared tuple per distinct sequence: most calls repeat a few role and index patterns
        (two lists of their own were ~300 bytes a call)."""
        return self._tuples.setdefault(seq, seq)

    def _shape_blocks(self, call: Call) -> Shape:
        """A block-hash call: one piece per block. The reader's compact form becomes a
        ``blocks.BlockShape`` (a prefix of its conversation's run: no array of its own); a plain
        list of block segments gets keys as machine integers, chain keys from the conversation's
        previous request (``delta.BlockDelta``: only new blocks are hashed), roles and indexes as
        O(1) sequences."""
        segs = call.segments
        if is_blocks(segs):  # the reader's compact form: a prefix of a run shared with the conversation
            from .blocks import BlockShape

            return BlockShape(segs, call.usage.output_tokens if call.usage else 0)
        ids = [s.block_id or 0 for s in segs]
        toks = [s.block_tokens for s in segs]
        out_tokens = call.usage.output_tokens if call.usage else 0
        n = len(ids)
        try:
            keys = array("q", ids)
        except OverflowError:  # ids past 64 bits (an anonymized trace from elsewhere): the plain way
            return Shape(ids, toks, Repeat("block", n), range(n), chain_of(ids), None, out_tokens, True)
        chain = self.delta.chain((call.source, call.conversation_id), keys, ROOT)
        return Shape(keys, toks, Repeat("block", n), range(n), chain, None, out_tokens, True)


_EMPTY_RUN = array("q")  # no run yet (never extended: ``_run`` makes a new one)
_EMPTY_COUNTS = array("i")  # likewise
_NONE: tuple = ((), (), ())  # no previous call of the conversation kept
RECENT_CONVERSATIONS = 64  # conversations whose last call's pieces ``Measurer`` keeps (``_remember``)
RUNS = 4096  # conversations whose run ``Measurer`` continues (``_run``; a run dropped is started again)


def chain_of(keys: Sequence[int]) -> array:
    """Chain keys of a prompt: ``chain[k]`` identifies pieces 0..k-1. Kept as machine integers
    (8 bytes each instead of an int object and a pointer: shapes are most of what stays per call)."""
    hs = [ROOT]
    h = ROOT
    for k in keys:
        h = hash((h, k))
        hs.append(h)
    return array("q", hs)  # sized exactly (appending to an array leaves it room to grow)


def _hidden(call: Call) -> bool:
    """Whether the call starts with a placeholder segment (``HIDDEN_PREFIX``)."""
    return bool(call.segments) and call.segments[0].name == HIDDEN_PREFIX


def _hidden_piece(call: Call, pieces: Sequence) -> int | None:
    """The piece of a leading placeholder segment (``HIDDEN_PREFIX``), if the call has one."""
    if not call.segments or call.segments[0].name != HIDDEN_PREFIX:
        return None
    return next((k for k, p in enumerate(pieces) if p.index == 0), None)


def _absorb(toks: list[int], diff: int, at: int | None = None) -> None:
    """Put the difference between reported and counted tokens on the last pieces, never below zero
    (a missing part, ``at``: on that piece instead, where the unrecorded prompt is)."""
    i = len(toks) - 1
    if diff > 0:
        toks[i if at is None else at] += diff
        return
    need = -diff
    while need and i >= 0:
        take = min(need, toks[i])
        toks[i] -= take
        need -= take
        i -= 1
