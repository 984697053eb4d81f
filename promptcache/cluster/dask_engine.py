"""``--engine dask``: the first pass's reading and the simulations' work units on Dask distributed.

``start(scheduler, workers)`` connects to a running scheduler (``--scheduler ADDRESS``) or starts a
``distributed.LocalCluster`` of ``workers`` processes on this machine (one thread each, listening on
127.0.0.1 only), and yields a ``DaskExecutor``. What runs where:

* **reading** (``imap_kept``, ``analyze/sharded_read.py``): one task per file or byte range reads
  and measures it on a worker; its result (calls, shapes, piece tables, groups) comes back to the
  client, which merges the ranges in log order; a second task per range, on the worker that
  holds the result, **keeps** the range's shapes and piece tables there (a future the client
  holds, ``analyze/shuffle.py``'s ``HeldRanges``) for the simulations;
* **the shuffle by partition key** (``map_taking``): each simulation's partitions are planned into
  units (``WorkPlan``: about four per worker thread, the largest partitions first); for each unit
  and each held range with calls in it, a **take** task cuts that unit's slice (shapes, the piece
  table they read) out of the held range where it is held; the unit's task gets its slices from
  those workers (Dask moves them worker to worker), with only a small part from the client (the
  calls' indexes, facts, the policy spec, how to price, and the shapes the client alone has: a
  what-if's changed calls, ranges shaped again on the client), simulates the unit in time order
  by a fresh policy and prices it; its outcomes and partial ledgers (token sums per bucket) come
  back, the client writes the outcomes in place and reduces the ledgers, one result per unit: a
  unit run again (a worker lost mid-run, its task rescheduled by Dask) replaces its result, it is
  never added twice. A held range lost with its worker is computed again by Dask from its read
  task. A what-if re-simulating at least ``MIN_RERUN`` calls sends them as units too;
* ``map`` sends self-contained units (``simulate.partition.Unit``: facts, shapes, piece table)
  when no range is held (the log read on the client: batch files) or a simulation reads shapes
  the workers do not hold (a family measured on the client only).

What stays on the client: the rest of the first pass (facts, template groups and the advisor's
evidence merged, the observed bill), pricing the what-ifs (from the merged outcomes: the calls a
change does not reach keep their outcomes, which only the client holds), what-ifs re-running fewer
than ``MIN_RERUN`` calls, the recommendation's mixed-model options (``recommend.options``: several
caches over one log), and the report. ``release`` lets go of the held ranges at the end of a run.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from ..errors import ConfigError

T = TypeVar("T")

#: units planned per worker thread: small enough to balance, large enough to amortize a task
UNITS_PER_THREAD = 4
#: a what-if re-running fewer calls than this re-simulates them on the client; more go to the
#: workers as units. Chosen, not tuned: 500 calls are 30-60 ms of simulation at the 65-125 µs a
#: call ``benchmarks/bench_dask.py`` measured; a unit's round trip on a loaded local cluster costs
#: more than that, so a small re-run stays here
MIN_RERUN = 500

INSTALL = (
    "--engine dask needs Dask, which is not installed: pip install 'promptcache[dask]' "
    "(dask and distributed), or leave out --engine dask to analyze on this machine"
)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError(INSTALL) from None
    return distributed


class DaskExecutor:
    """A ``simulate.parallel.Executor`` whose units run as tasks of one Dask client."""

    remote = True

    def __init__(self, client: Any, min_rerun: int = MIN_RERUN):
        self.client = client
        self.min_rerun = min_rerun
        threads = sum(client.nthreads().values()) or 1
        self.units = max(2, UNITS_PER_THREAD * threads)
        self.pid = os.getpid()
        self._run = uuid.uuid4().hex[:8]
        self._next = itertools.count()

    def map_local(self, task: Callable[[int], T], n: int) -> list[T]:
        return [task(i) for i in range(n)]

    def map(self, fn: Callable[[Any], T], items: list[Any]) -> list[T]:
        """``[fn(x) for x in items]`` on the cluster, in order. Each item travels inside its task
        (not scattered to one worker), so the scheduler can run it again elsewhere when the worker
        holding it is lost."""
        if os.getpid() != self.pid:  # a forked copy of this process cannot use the parent's client
            return [fn(x) for x in items]
        name = getattr(fn, "__name__", "task")  # run_priced_unit, run_unit: what the dashboard shows
        keys = [f"promptcache-unit-{name}-{self._run}-{next(self._next)}" for _ in items]
        with warnings.catch_warnings():  # units are data, sent once: "large object in task graph" is expected
            warnings.filterwarnings("ignore", message=".*[Ll]arge object.*")
            warnings.filterwarnings("ignore", message=".*[Ss]ending large graph.*")
            futures = self.client.map(fn, items, key=keys, pure=False)
        try:
            return list(self.client.gather(futures))
        finally:
            for f in futures:
                f.release()

    def imap(self, fn: Callable[[Any], T], items: list[Any]) -> Iterator[T]:
        """``fn(x)`` for each item on the cluster, yielded in order: at most ``units`` tasks are out
        at once and each result is let go once yielded, so neither the workers nor this client
        hold more than that many (the ranges read apart, ``analyze/sharded_read.py``)."""
        if os.getpid() != self.pid:
            yield from (fn(x) for x in items)
            return
        out: collections.deque[Any] = collections.deque()
        todo = iter(items)
        try:
            while True:
                while len(out) < self.units and (x := next(todo, _END)) is not _END:
                    key = f"promptcache-read-{self._run}-{next(self._next)}"
                    with warnings.catch_warnings():  # a task carries its range's plan and the price catalog
                        warnings.filterwarnings("ignore", message=".*[Ll]arge object.*")
                        out.append(self.client.submit(fn, x, key=key, pure=False))
                if not out:
                    return
                f = out.popleft()
                try:
                    yield f.result()
                finally:
                    f.release()
        finally:
            for f in out:
                f.release()

    def can_shuffle(self) -> bool:
        """Whether units may be cut out of held ranges (``map_taking``): this process holds the client."""
        return os.getpid() == self.pid

    def imap_kept(self, fn: Callable[[Any], T], keep: Callable[[T], Any], items: list[Any]) -> Iterator[tuple[T, Any]]:
        """``imap``, and with each result a future of ``keep(result)``, computed where the result
        is (on the worker that read it) and held there until ``release``d: the reader's task is
        let go once its result is yielded, but Dask keeps its recipe, so a held result lost with
        its worker is computed again (read again, kept again) when a task needs it."""
        out: collections.deque[tuple[Any, Any]] = collections.deque()
        todo = iter(items)
        try:
            while True:
                while len(out) < self.units and (x := next(todo, _END)) is not _END:
                    n = next(self._next)
                    with warnings.catch_warnings():
                        warnings.filterwarnings("ignore", message=".*[Ll]arge object.*")
                        f = self.client.submit(fn, x, key=f"promptcache-read-{self._run}-{n}", pure=False)
                        k = self.client.submit(keep, f, key=f"promptcache-keep-{self._run}-{n}", pure=False)
                    out.append((f, k))
                if not out:
                    return
                f, k = out.popleft()
                try:
                    got = f.result()
                except BaseException:
                    k.release()
                    raise
                try:
                    yield got, k
                finally:
                    f.release()
        finally:
            for f, k in out:
                f.release()
                k.release()

    def map_taking(
        self, fn: Callable[..., T], items: list[tuple[Any, list[tuple[Any, Any]]]], take: Callable
    ) -> list[T]:
        """``[fn(part, *slices) for part, takes in items]`` on the cluster, in order, where each of
        ``slices`` is ``take(held, want)`` for a ``(held, want)`` of ``takes``, computed where
        ``held`` is (the shuffle: a unit's slices cut out of the held ranges on their workers
        and sent from there to the unit's worker). Each part travels inside its task."""
        name = getattr(fn, "__name__", "task")
        futures, takes = [], []
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ll]arge object.*")
            warnings.filterwarnings("ignore", message=".*[Ss]ending large graph.*")
            for part, wants in items:
                got = [
                    self.client.submit(
                        take, held, want, key=f"promptcache-take-{self._run}-{next(self._next)}", pure=False
                    )
                    for held, want in wants
                ]
                takes.extend(got)
                key = f"promptcache-unit-{name}-{self._run}-{next(self._next)}"
                futures.append(self.client.submit(fn, part, *got, key=key, pure=False))
        try:
            return list(self.client.gather(futures))
        finally:
            for f in (*futures, *takes):
                f.release()

    def release(self, futures: Iterable[Any]) -> None:
        """Let go of held futures (``imap_kept``'s): their data leaves the workers."""
        for f in futures:
            if f is not None:
                f.release()


_END = object()


@contextlib.contextmanager
def start(scheduler: str | None, workers: int) -> Iterator[DaskExecutor]:
    """A ``DaskExecutor`` on the scheduler at ``scheduler``, or on a ``LocalCluster`` of
    ``workers`` worker processes started here and closed on exit."""
    distributed = _distributed()
    if scheduler:
        try:
            client = distributed.Client(scheduler)  # waits distributed.comm.timeouts.connect (30 s)
        except OSError as exc:
            raise ConfigError(
                f"--scheduler {scheduler}: no Dask scheduler answered ({exc}); start one "
                "(dask scheduler) or leave out --scheduler to start a local cluster"
            ) from None
        with client:
            yield DaskExecutor(client)
        return
    with local_cluster(workers) as cluster, distributed.Client(cluster) as client:
        yield DaskExecutor(client)


def local_cluster(workers: int) -> Any:
    """A ``distributed.LocalCluster`` of ``workers`` processes on this machine: one thread each,
    every port on 127.0.0.1 only (the scheduler, the dashboard), its INFO lines silenced."""
    import logging

    return _distributed().LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
    )
