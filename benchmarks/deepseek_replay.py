"""The DeepSeek simulator alone, on the requests a real ``analyze`` run gives it.

``capture``: runs ``analyze`` with ``DeepSeekCache`` wrapped and pickles each instance's parameters
and request stream (shape, start, end, user), with the block hashes of every piece it saw (the
measurer itself does not pickle). ``replay``: runs the streams again on fresh caches, ``REPS``
times in one process, and prints the least CPU time (``time.process_time``) and a hash of every
outcome (equal hashes: the same outcomes, request by request).

    PYTHONPATH=. python benchmarks/deepseek_replay.py capture OUT.pkl analyze LOG --format json -o /tmp/x.json
    PYTHONPATH=CHECKOUT REPS=5 python benchmarks/deepseek_replay.py replay OUT.pkl

``PYTHONPATH`` names the checkout whose ``promptcache`` runs (the script's own directory is first on
``sys.path``, not the current one); a capture made with one checkout replays on another.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import runpy
import sys
import time
from array import array
from typing import Any

_EMPTY = array("q")


class Blocks:
    """A measurer for the simulator: ``block_tokens`` and ``blocks(key)`` from a captured table."""

    def __init__(self, block_tokens: int, table: dict[int, array]):
        self.block_tokens, self.table = block_tokens, table

    def blocks(self, key: int) -> array:
        return self.table.get(key, _EMPTY)


def capture(out: str, argv: list[str]) -> None:
    from promptcache.simulate import deepseek

    streams: list[tuple[dict[str, Any], list, Any]] = []
    init, request = deepseek.DeepSeekCache.__init__, deepseek.DeepSeekCache.request

    def wrapped_init(self, measurer, **kw):
        init(self, measurer, **kw)
        self._replay_stream = []
        streams.append((kw, self._replay_stream, self))

    def wrapped_request(self, shape, **kw):
        self._replay_stream.append((shape, kw))
        return request(self, shape, **kw)

    deepseek.DeepSeekCache.__init__ = wrapped_init  # type: ignore[method-assign]
    deepseek.DeepSeekCache.request = wrapped_request  # type: ignore[method-assign]
    sys.argv = ["promptcache", *argv]
    try:
        runpy.run_module("promptcache", run_name="__main__")
    except SystemExit:
        pass
    tables: dict[int, tuple[int, dict[int, array]]] = {}
    data = []
    for kw, reqs, sim in streams:
        m = sim.m
        table = tables.setdefault(id(m), (m.block_tokens, {}))[1]
        for shape, _ in reqs:
            keys = list(shape.arrays_read()[0])
            if shape.out_key is not None:
                keys.append(shape.out_key)
            for key in keys:
                if key not in table:
                    table[key] = array("q", m.blocks(key))
        data.append((id(m), kw, reqs))
    with open(out, "wb") as f:
        pickle.dump((tables, data), f, protocol=5)
    print(f"{len(data)} caches, {sum(len(r) for _, _, r in data)} requests -> {out}", file=sys.stderr)


def replay(path: str) -> None:
    from promptcache.simulate.deepseek import DeepSeekCache

    with open(path, "rb") as f:
        tables, data = pickle.load(f)
    best = None
    for _ in range(int(os.environ.get("REPS", "1"))):
        outs = []
        t = time.process_time()
        for mid, kw, reqs in data:
            sim = DeepSeekCache(Blocks(*tables[mid]), **kw)  # type: ignore[arg-type]  # a captured measurer
            outs.append([sim.request(shape, **k) for shape, k in reqs])
        dt = time.process_time() - t
        best = dt if best is None else min(best, dt)
    print(f"{best:.3f} s {hashlib.sha256(repr(outs).encode()).hexdigest()[:16]}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "capture":
        capture(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 3 and sys.argv[1] == "replay":
        replay(sys.argv[2])
    else:
        sys.exit(__doc__)
