"""What a simulated cache did with one request, in tokens."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Outcome:
    """``read + write + uncached == total`` (input tokens): the invariant every policy keeps."""

    read: int
    total: int
    write: int = 0
    write_1h: int = 0

    @property
    def uncached(self) -> int:
        return self.total - self.read - self.write - self.write_1h
