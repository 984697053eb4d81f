"""``--jobs N``: the parts of ``analyze`` that can run in parallel without changing any result.

Two levers, both exact by construction:

- ``shape_stream`` / ``prefill``: calls are read in batches; before the batch is shaped, every piece
  the measurers have not seen yet is tokenized in one ``Tokenizer.encode_batch`` call (the
  DeepSeek tokenizer runs it on ``jobs`` native threads) and stored exactly as ``Measurer._piece``
  would have stored it (same key, same first-seen framing ``extra``, same block hashes). The
  calls are then shaped in log order by the unchanged ``Measurer.shape``, which only finds cached
  pieces; shapes, counters and therefore the report are identical for any ``jobs`` and batch size.
- ``fork_map``: independent simulations (one per model, layout and what-if variant) run in forked
  worker processes. Forked children inherit the parent's memory *and its str-hash secret*, so
  piece keys (``hash(text)``) and every dict order are the same as in the parent; each task is
  deterministic, so the results equal a serial loop's, returned in task order.

Neither imports anything heavy at module import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from ..model.calls import Call
from ..measure.shape import Measurer
from ..measure.tokens import output_piece, render

T = TypeVar("T")

BATCH = 512  # calls per prefill batch: bounded memory (the batch's text), enough pieces per encode_batch


def set_threads(jobs: int) -> None:
    """Size the tokenizer's native thread pool; must run before the first ``encode_batch``."""
    if jobs and jobs > 0:
        os.environ.setdefault("RAYON_NUM_THREADS", str(jobs))
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "true" if jobs > 1 else "false")


def prefill(measurer: Measurer, calls: Iterable[Call]) -> int:
    """Tokenize, in one batch, the pieces of ``calls`` that ``measurer`` has not seen; returns how many.

    The order of first sight (and so the framing ``extra`` kept with a piece) is the order in which
    ``Measurer.shape`` would meet the pieces: each call's rendered pieces, its generation prompt,
    then its output.
    """
    tk = measurer._tokenizer
    if tk is None:
        return 0
    fam = measurer.family
    gen_extra = 3 if fam != "deepseek-v4" else 0
    known = measurer._pieces
    new: dict[int, tuple[str, int]] = {}
    for call in calls:
        if call.segments and call.segments[0].role == "block":
            continue
        pieces, gen = render(call, fam)
        for text, extra in [(p.text, p.extra) for p in pieces] + [(gen, gen_extra)]:
            k = hash(text)
            if k not in known and k not in new:
                new[k] = (text, extra)
        out = output_piece(call, fam)
        if out:
            k = hash(out)
            if k not in known and k not in new:
                new[k] = (out, 0)
    if not new:
        return 0
    ids = tk.encode_batch([t for t, _ in new.values()])
    for (k, (_, extra)), piece_ids in zip(new.items(), ids):
        measurer._store(k, piece_ids, extra)
    return len(new)


def shape_stream(calls: Iterable[Call], measurers: Sequence[Measurer], *, jobs: int = 1,
                 batch: int = BATCH) -> Iterator[Call]:
    """The calls of ``calls`` in order, each yielded after every measurer has its pieces cached.

    ``jobs <= 1`` is a plain pass-through (no batching, no extra render). Results of
    ``Measurer.shape`` on the yielded calls do not depend on ``jobs`` or ``batch``.
    """
    if jobs <= 1:
        yield from calls
        return
    set_threads(jobs)
    buf: list[Call] = []
    for call in calls:
        buf.append(call)
        if len(buf) >= batch:
            for m in measurers:
                prefill(m, buf)
            yield from buf
            buf = []
    if buf:
        for m in measurers:
            prefill(m, buf)
        yield from buf


# -- independent tasks in forked processes ---------------------------------------------------------

_TASK: Callable[[int], Any] | None = None


def _run(i: int) -> Any:
    assert _TASK is not None
    return _TASK(i)


def fork_map(task: Callable[[int], T], n: int, *, jobs: int = 1) -> list[T]:
    """``[task(i) for i in range(n)]``, in ``jobs`` forked processes when ``jobs > 1``.

    ``task`` may be any closure over the parent's state (shapes, measurers, facts): it is not
    pickled, the children inherit it by ``fork``. Its *result* is pickled back, so return plain
    data (e.g. ``ledger_state(ledger)``), not objects holding lambdas. Falls back to the serial
    loop where ``fork`` is unavailable (Windows, macOS spawn default is avoided on purpose).
    """
    global _TASK
    if jobs <= 1 or n <= 1:
        return [task(i) for i in range(n)]
    import multiprocessing as mp

    try:
        ctx = mp.get_context("fork")
    except ValueError:
        return [task(i) for i in range(n)]
    _TASK = task
    try:
        with ctx.Pool(min(jobs, n)) as pool:
            return pool.map(_run, range(n), chunksize=1)
    finally:
        _TASK = None


def ledger_state(ledger: Any) -> dict:
    """A ``pricing.Ledger``'s token sums as plain picklable data (for ``fork_map`` results)."""
    return {key: (t.hit, t.miss, t.output, t.write_5m, t.write_1h) for key, t in ledger.buckets.items()}


def ledger_from_state(catalog: Any, state: dict) -> Any:
    """The ``pricing.Ledger`` back from ``ledger_state`` (same buckets, same insertion order)."""
    from ..price.ledger import Ledger

    led = Ledger(catalog)
    for key, (hit, miss, output, w5, w1) in state.items():
        led.buckets[key].add(hit, miss, output, w5, w1)
    return led
