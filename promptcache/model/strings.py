"""Distinct strings kept compactly: ``StringTable`` codes each distinct string (code 0: None) and
keeps them as one UTF-8 blob, an array of end offsets and an open-addressing index of codes,
instead of a ``str`` object each (~50 bytes of header) plus a dict entry and a list slot (~120
bytes a distinct string in all, ~50 bytes a call on short chats: conversation ids). A string is
made again on each read (``table[code]``), so callers that only compare strings compare codes.
``Coded`` is a sequence of strings held as codes into a table (4 bytes an item or less).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import overload

_ENC = "utf-8"
_ERR = "surrogatepass"  # any str round-trips, a lone surrogate too


class StringTable(Sequence[str | None]):
    """``code(s)``: ``s``'s code (a new one, ``len(table)`` before, when ``s`` is new); ``table[c]``:
    the string of code ``c`` (a new ``str`` each read, equal to the one coded); ``len(table)``: the
    codes given, None's included. Codes run from 0 (None) in the order the strings were met."""

    __slots__ = ("_blob", "_ends", "_index", "_mask")

    def __init__(self, strings: Iterable[str | None] = ()) -> None:
        self._blob = bytearray()
        self._ends = array("I", [0])  # string of code c (c >= 1): blob[ends[c - 1] : ends[c]] ('Q' past 4 GiB)
        self._index = array("I", bytes(4 * 8))  # slot -> code (0: empty)
        self._mask = 7
        for s in strings:
            self.code(s)

    def code(self, s: str | None) -> int:
        if s is None:
            return 0
        b = s.encode(_ENC, _ERR)
        n = len(b)
        blob, ends, index, mask = self._blob, self._ends, self._index, self._mask
        slot = hash(b) & mask
        while c := index[slot]:
            end = ends[c]
            start = ends[c - 1]
            if end - start == n and blob[start:end] == b:
                return c
            slot = (slot + 1) & mask
        c = len(ends)
        blob += b
        try:
            ends.append(len(blob))
        except OverflowError:
            self._ends = ends = array("Q", ends)
            ends.append(len(blob))
        index[slot] = c
        if 3 * c >= 2 * mask:  # at most two thirds full
            self._grow()
        return c

    def _grow(self) -> None:
        size = 2 * (self._mask + 1)
        while 3 * len(self._ends) >= 2 * size:
            size *= 2
        self._reindex(size)

    def _reindex(self, size: int) -> None:
        index = array("I", bytes(4 * size))
        mask = size - 1
        blob, ends = self._blob, self._ends
        view = memoryview(blob)
        try:
            for c in range(1, len(ends)):
                slot = hash(view[ends[c - 1] : ends[c]].tobytes()) & mask
                while index[slot]:
                    slot = (slot + 1) & mask
                index[slot] = c
        finally:
            view.release()  # else the blob cannot grow
        self._index, self._mask = index, mask

    def get(self, s: str | None) -> int | None:
        """``s``'s code, None when it has none (nothing added)."""
        if s is None:
            return 0
        b = s.encode(_ENC, _ERR)
        n = len(b)
        blob, ends, index, mask = self._blob, self._ends, self._index, self._mask
        slot = hash(b) & mask
        while c := index[slot]:
            if ends[c] - ends[c - 1] == n and blob[ends[c - 1] : ends[c]] == b:
                return c
            slot = (slot + 1) & mask
        return None

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, c: int) -> str | None: ...
    @overload
    def __getitem__(self, c: slice) -> list[str | None]: ...
    def __getitem__(self, c: int | slice) -> str | list[str | None] | None:
        if isinstance(c, slice):
            return [self[k] for k in range(*c.indices(len(self._ends)))]
        ends = self._ends
        if c < 0:
            c += len(ends)
        if c <= 0:
            if c == 0:
                return None
            raise IndexError("string table index out of range")
        return self._blob[ends[c - 1] : ends[c]].decode(_ENC, _ERR)  # IndexError past the end

    def reader(self) -> Callable[[int], str | None]:
        """``table[c]`` as ``read(c)``, for loops over calls: while the code repeats (a
        conversation's calls in a row) the string read last is given again, none made."""
        last: list = [0, None]

        def read(c: int) -> str | None:
            if c == last[0]:
                return last[1]
            ends = self._ends
            got = self._blob[ends[c - 1] : ends[c]].decode(_ENC, _ERR) if c > 0 else self[c]
            last[0], last[1] = c, got
            return got

        return read

    def __iter__(self) -> Iterator[str | None]:
        yield None
        blob, ends = self._blob, self._ends
        for c in range(1, len(ends)):
            yield blob[ends[c - 1] : ends[c]].decode(_ENC, _ERR)

    def __contains__(self, s: object) -> bool:
        return (s is None or type(s) is str) and self.get(s) is not None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StringTable):
            return self._blob == other._blob and self._ends == other._ends
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> tuple[bytes, array]:
        return bytes(self._blob), self._ends  # the index is by this process's ``hash``: made again

    def __setstate__(self, state: tuple[bytes, array]) -> None:
        self._blob, self._ends = bytearray(state[0]), state[1]
        size = 8
        while 3 * len(self._ends) >= 2 * size:
            size *= 2
        self._reindex(size)

    def nbytes(self) -> int:
        """The bytes of the blob, the offsets and the index (buffers only)."""
        return len(self._blob) + self._ends.itemsize * len(self._ends) + 4 * len(self._index)

    def __repr__(self) -> str:
        return f"StringTable({list(self)[1:]!r})"


class Coded(Sequence[str | None]):
    """Strings as codes into a ``StringTable``: ``coded[i]`` is ``table[codes[i]]`` (made on read);
    ``codes`` and ``table`` are shared, not copied: read, never change them."""

    __slots__ = ("codes", "table")

    def __init__(self, codes: Sequence[int], table: StringTable) -> None:
        self.codes, self.table = codes, table

    def __len__(self) -> int:
        return len(self.codes)

    @overload
    def __getitem__(self, i: int) -> str | None: ...
    @overload
    def __getitem__(self, i: slice) -> Coded: ...
    def __getitem__(self, i: int | slice) -> str | Coded | None:
        if isinstance(i, slice):
            return Coded(self.codes[i], self.table)
        return self.table[self.codes[i]]

    def __iter__(self) -> Iterator[str | None]:
        table = self.table
        for c in self.codes:
            yield table[c]

    def keys(self) -> CodeKeys:
        """Each item's code, None for None: equal where the strings are, no string made."""
        return CodeKeys(self.codes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Coded, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Coded({list(self)!r})"


class CodeKeys(Sequence[int | None]):
    """``keys[i]``: ``codes[i]``, None for code 0 (a ``Coded``'s keys, for dicts keyed by them)."""

    __slots__ = ("codes",)

    def __init__(self, codes: Sequence[int]) -> None:
        self.codes = codes

    def __len__(self) -> int:
        return len(self.codes)

    @overload
    def __getitem__(self, i: int) -> int | None: ...
    @overload
    def __getitem__(self, i: slice) -> list[int | None]: ...
    def __getitem__(self, i: int | slice) -> int | list[int | None] | None:
        if isinstance(i, slice):
            return [c or None for c in self.codes[i]]
        return self.codes[i] or None
