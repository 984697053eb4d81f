"""The measurer's table of distinct pieces: each piece's token count, key and chained block hashes,
with few Python objects per piece.

A chat log brings fresh text with nearly every call (its new user turn, the answer before it), so
on short chats the table grows by about two pieces a call and stays for the whole run. Per piece
it keeps: its key (a list slot and the key object, or 8 bytes: below); its count in a column of
the narrowest array type that holds every count (``COUNT_TYPES``: 16-bit signed, widened to 32
and 64 bits, past those a list, on the first count that does not fit); its place in the index
(below); where its hashes end (``_ends``, 32-bit, widened likewise: a piece's hashes start where
the previous piece's end, or at the base of their chunk when that is later, found by bisecting
the chunks' bases); and 8 bytes a block hash: ~20 bytes a piece besides its hashes. Branch
piececols made the counts a column (they were a list of int objects: the shapes keep counts in
their runs as machine integers, so the table's objects were its own) and replaced three 32-bit
columns (chunk, start, end) by the one of ends. The layout before
(branch fpmem) was a tuple ``(count, key, *hashes)`` with an int object per hash, or ``(count, key,
array('q'))`` with an array of its own for a piece of three blocks or more: ~140 bytes a piece on
short chats besides the dict slot and key; then (branch pieces) these columns with a dict (key ->
piece number) for the index: ~100 bytes a piece, ~60 of them the dict slot and the number's int.

The index (branch piecekeys) is an open-addressing table of piece numbers: ``array('I')`` slots
holding piece number + 1 (0: free), a power of two of them, at most two-thirds full (``LOAD``:
doubled and filled again from ``_keys`` when an add would pass it: 6 to 12 bytes a piece, no int
object per piece; half, before branch piececols, was 8 to 16 bytes for probes measured at 1.30
found / 1.77 not found on the 3,000-call log, against 1.91 / 4.48 at two-thirds on 20,000 short
chats, the worst point).
A key's home slot is its low bits, ``key & mask`` (keys are BLAKE2b digests, ``model.keys``:
uniform; folding the high bits in would cost ~50 ns a lookup for nothing), and a lookup probes
the following slots, comparing the key in ``_keys``, until it finds the key or a free slot
(linear probing: nothing is ever removed, so no tombstones). A lookup costs more than ``dict.get``
(a micro-benchmark on 6,000 pieces: ~380 against ~60 ns for a key not in the table, ``blocks``
making a view ~250 ns more), but the measurer makes few: a new piece's (before its tokenization)
and, on the 3,000-call log, ~16,000 in all against ~240,000 ``blocks`` asks answered from the
views kept.

The key objects the table keeps are worth keeping only while shapes hold key objects (tuples of
ints: then every shape with the piece shares the table's, and the table's cost nothing more). A
table made with ``key_objects=False`` keeps its keys as machine integers (``array('q')``, 8 bytes
instead of a list slot and a ~40-byte int a piece), for shapes that keep theirs as machine integers
too: ``get`` then hands out the caller's own key object the first time a piece is asked for and
that one after.

``get`` keeps its answers (``_asked``: key object and count) for the pieces asked for again, as
``blocks`` keeps its views. In the first pass they are few (the generation prompt, system prompts:
22 pieces on 20,000 short chats, 29 on the 3,000-call log; the measurer takes a conversation's
earlier pieces from its previous call) and asked for about once a call. Others come too (the
pieces of conversations the measurer no longer keeps, the advisor's re-shaped calls: ~730 on 5,000
short chats), so at most ``ASKED_KEPT`` answers are kept (~100 KB).

Block hashes of all pieces live in shared ``array('q')`` chunks of fixed capacity, in the order the
pieces came; a piece's hashes never straddle two chunks. ``blocks`` hands out a memoryview slice of
its chunk (no copy; indexed, measured and iterated like the array it replaced). An array with a
view exported cannot be resized, so a chunk is allocated at its full size and never appended to:
hashes are written into its free tail. A chunk is twice its predecessor's size (``FIRST_CHUNK`` to
``MAX_CHUNK`` hashes), or exactly a piece's when the piece is longer.

A memoryview cannot be pickled: what leaves the process takes copies (``as_array``), and a table
pickles as its columns, its hashes in one array (``__getstate__``).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from typing import Any

FIRST_CHUNK = 1 << 10  # block hashes in the first chunk (8 KB)
MAX_CHUNK = 1 << 15  # and in any later one (256 KB: what the last chunk may leave unused), unless a piece needs more
VIEWS_KEPT = 8192
ASKED_KEPT = 1024  # ``get``'s answers kept for pieces asked for again (cleared when full)
FIRST_SLOTS = 1 << 8  # slots of a new table's index (a power of two; doubled when an add would pass LOAD)
LOAD = (2, 3)  # the index's most pieces per slot (numerator, denominator)
COUNT_TYPES = ("h", "i", "q")  # the counts column, narrowest first (widened on overflow; past the last, a list)
END_TYPES = ("I", "Q")  # the ends column, likewise
_EMPTY = array("q")  # the block hashes of every piece shorter than a block: never appended to
_ZERO_Q = array("q", [0])
_ZERO_I = array("I", [0])


def as_array(blocks: Sequence[int]) -> array:
    """A piece's block hashes as an array of their own (a copy of a table's view: to pickle, or keep
    beyond the table)."""
    if type(blocks) is array:
        return blocks
    if type(blocks) is memoryview:
        out = array("q")
        out.frombytes(blocks.cast("B"))
        return out
    return array("q", blocks)


def column(values: Sequence[int], types: Sequence[str]) -> array | list[int]:
    """``values`` in the narrowest of ``types`` (array type codes) that holds them all, else a list."""
    for t in types:
        try:
            return array(t, values)
        except OverflowError:
            pass
    return list(values)


def _widened(col: array | list[int], value: int, types: Sequence[str]) -> array | list[int]:
    """``col`` with ``value`` appended, in a wider type (``value`` did not fit ``col``'s)."""
    values = list(col)
    values.append(value)
    return column(values, types[types.index(col.typecode) + 1 :] if type(col) is array else ())


class Pieces:
    """Distinct pieces by key: count, key object and block hashes (see the module's docstring)."""

    __slots__ = (
        "_asked",
        "_bases",
        "_chunks",
        "_counts",
        "_ends",
        "_free",
        "_keys",
        "_mask",
        "_nblocks",
        "_objects",
        "_seen",
        "_slots",
        "_top",
        "_views",
    )

    def __init__(self, key_objects: bool = True) -> None:
        # piece number -> its key, in the order pieces came: the key object shapes share, or without
        # ``key_objects`` a machine integer
        self._objects = key_objects
        self._keys: list[int] | array = [] if key_objects else array("q")
        self._asked: dict[int, tuple[int, int]] = {}  # what ``get`` answered for pieces asked for again
        self._counts: array | list[int] = array(COUNT_TYPES[0])  # piece number -> its token count
        self._slots = _ZERO_I * FIRST_SLOTS  # the index: piece number + 1 by key, 0 free
        self._mask = FIRST_SLOTS - 1  # len(_slots) - 1
        # _ends[i + 1]: where piece i's block hashes end, a place in all chunks' capacities end to end;
        # they start where piece i - 1's end, or at their chunk's base when that is later
        self._ends: array | list[int] = array(END_TYPES[0], [0])
        self._chunks: list[array] = []
        self._views: list[memoryview] = []  # one per chunk (``blocks`` slices them)
        self._bases: list[int] = []  # each chunk's first place
        self._top = 0  # the end of the last chunk's capacity
        self._free = 0  # the first unused place of the last chunk
        self._nblocks = 0  # block hashes kept
        self._seen: dict[int, Sequence[int]] = {}  # the views ``blocks`` handed out last, by key

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self._find(key) >= 0

    def __iter__(self) -> Iterator[int]:
        return iter(self._keys)

    def _find(self, key: int) -> int:
        """The piece number of ``key``, -1 for a key not in the table (linear probing from its home
        slot to the first free one)."""
        slots, keys, mask = self._slots, self._keys, self._mask
        h = key & mask
        while i := slots[h]:
            if keys[i - 1] == key:
                return i - 1
            h = (h + 1) & mask
        return -1

    def get(self, key: int) -> tuple[int, int] | None:
        """The piece's key object and count, or None for a piece not in the table. The key object is
        the stored one, or in a table without ``key_objects`` the one of the first ask for the piece
        (kept: ``_asked``)."""
        got = self._asked.get(key)
        if got is not None:
            return got
        i = self._find(key)
        if i < 0:
            return None
        got = (self._keys[i] if self._objects else key), self._counts[i]
        asked = self._asked
        if len(asked) >= ASKED_KEPT:
            asked.clear()
        asked[key] = got
        return got

    def blocks(self, key: int) -> Sequence[int]:
        """Chained block hashes of a piece: ``blocks[j]`` identifies its first (j+1)*block_tokens
        tokens (a memoryview of a chunk; the shared empty array for a piece shorter than a block,
        or one not in the table). The views last handed out are kept (``VIEWS_KEPT``): the
        simulators ask for the same pieces again and again (~250,000 times for ~6,000 pieces on
        the 3,000-call benchmark log), and one dict lookup is cheaper than making a view."""
        v = self._seen.get(key)
        if v is not None:
            return v
        i = self._find(key)
        if i < 0:
            return _EMPTY
        ends = self._ends
        lo, hi = ends[i], ends[i + 1]
        if lo == hi:
            v = _EMPTY
        else:  # as ``_at_blocks``, inlined: a frame less on the simulators' misses
            bases = self._bases
            c = bisect_right(bases, hi - 1) - 1
            base = bases[c]
            v = self._views[c][(lo - base if lo > base else 0) : hi - base]
        seen = self._seen
        if len(seen) >= VIEWS_KEPT:
            seen.clear()
        seen[key] = v
        return v

    def entries(self) -> Iterator[tuple[int, int, Sequence[int]]]:
        """(key object, count, block hashes) of every piece, in the order they came."""
        for i, key in enumerate(self._keys):
            yield key, self._counts[i], self._at_blocks(i)

    def _at_blocks(self, i: int) -> Sequence[int]:
        """Piece ``i``'s block hashes: a view of the chunk holding its last one (a piece never
        straddles two), from its start there."""
        lo, hi = self._ends[i], self._ends[i + 1]
        if lo == hi:
            return _EMPTY
        c = bisect_right(self._bases, hi - 1) - 1
        base = self._bases[c]
        return self._views[c][(lo - base if lo > base else 0) : hi - base]

    def add(self, key: int, count: int, blocks: Sequence[int]) -> None:
        """A piece not in the table yet, its hashes copied into the chunks (``blocks``: any
        sequence of signed 64-bit ints)."""
        n = len(blocks)
        if n:
            at = self._free
            if at + n > self._top:  # a new chunk, its places after the last one's whole capacity
                chunks = self._chunks
                cap = max(n, min(MAX_CHUNK, 2 * len(chunks[-1])) if chunks else FIRST_CHUNK)
                chunk = _ZERO_Q * cap
                chunks.append(chunk)
                self._views.append(memoryview(chunk))
                at = self._top
                self._bases.append(at)
                self._top = at + cap
            lo = at - self._bases[-1]
            src = blocks if isinstance(blocks, array | memoryview) else array("q", blocks)  # 'q' items: copied whole
            self._views[-1][lo : lo + n] = src
            self._free = at + n
            self._nblocks += n
        self._place(key, len(self._keys))
        self._keys.append(key)
        try:
            self._counts.append(count)
        except OverflowError:
            self._counts = _widened(self._counts, count, COUNT_TYPES)
        try:
            self._ends.append(self._free)
        except OverflowError:
            self._ends = _widened(self._ends, self._free, END_TYPES)

    def _place(self, key: int, i: int) -> None:
        """Index piece ``i`` under ``key`` (not in the index yet), doubling the index when it would
        be more than ``LOAD`` full."""
        slots = self._slots
        if LOAD[1] * (i + 1) > LOAD[0] * len(slots):
            slots = self._reindex(2 * len(slots))
        mask = self._mask
        h = key & mask
        while slots[h]:
            h = (h + 1) & mask
        slots[h] = i + 1

    def _reindex(self, size: int) -> array:
        """A new index of ``size`` slots (a power of two) holding every piece of ``_keys``."""
        slots = _ZERO_I * size
        mask = size - 1
        for i, key in enumerate(self._keys, 1):
            h = key & mask
            while slots[h]:
                h = (h + 1) & mask
            slots[h] = i
        self._slots, self._mask = slots, mask
        return slots

    def merge(self, other: Pieces) -> bool:
        """Add ``other``'s pieces missing here, in its order; True when a piece in both has another
        count here (counted with another framing: ``analyze/sharded_read.py``)."""
        differ = False
        find, counts = self._find, self._counts
        for i, key in enumerate(other._keys):
            j = find(key)
            if j < 0:
                self.add(key, other._counts[i], other._at_blocks(i))
                counts = self._counts  # widened, maybe
            elif counts[j] != other._counts[i]:
                differ = True
        return differ

    def block_count(self) -> int:
        """Block hashes kept, all pieces together."""
        return self._nblocks

    def approx_bytes(self) -> int:
        """What the table holds, about (a Dask worker's accounting of what it keeps)."""
        n = len(self._keys)
        per_piece = (48 if self._objects else 8) + 4 + 4  # key (slot and object, or machine int), count, end
        return 64 + 4 * len(self._slots) + per_piece * n + 8 * sum(len(c) for c in self._chunks)

    def __eq__(self, other: object) -> bool:
        """Same pieces (in any order) with the same counts and block hashes."""
        if not isinstance(other, Pieces):
            return NotImplemented
        if len(self) != len(other):
            return False
        find, counts = other._find, other._counts
        for i, key in enumerate(self._keys):  # keys are distinct in each: the same sets when all are in ``other``
            j = find(key)
            if j < 0 or self._counts[i] != counts[j] or self._at_blocks(i) != other._at_blocks(j):  # views: by value
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __getstate__(self) -> tuple[Any, ...]:
        """Its columns, the hashes of all pieces in one array (views do not pickle)."""
        flat = array("q")
        lens = array("I")
        for i in range(len(self._keys)):
            b = self._at_blocks(i)
            lens.append(len(b))
            if len(b):
                flat.frombytes(b.cast("B"))  # type: ignore[attr-defined]  # a memoryview of the chunk
        return array("q", self._keys), self._counts[:], lens, flat, self._objects

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        keys, counts, lens, flat, key_objects = state
        self.__init__(key_objects)  # type: ignore[misc]
        if len(flat):
            self._chunks.append(flat)  # sized exactly: the next piece with blocks starts a chunk
            self._views.append(memoryview(flat))
            self._bases.append(0)
        self._top = self._free = self._nblocks = len(flat)
        ends = [0]
        at = 0
        for n in lens:
            at += n
            ends.append(at)
        self._ends = column(ends, END_TYPES)
        self._counts = column(counts, COUNT_TYPES)
        if key_objects:
            self._keys.extend(keys)
        else:
            self._keys = array("q", keys)
        size = FIRST_SLOTS
        while LOAD[1] * len(keys) > LOAD[0] * size:
            size *= 2
        self._reindex(size)
