"""``--jobs N``: independent simulations in forked worker processes, with results equal to a serial loop's.

``fork_map`` runs independent tasks (one per model, layout and what-if variant). Forked children
inherit the parent's memory *and its str-hash secret*, so piece keys (``hash(text)``) and every
dict order are the same as in the parent; each task is deterministic, so the results equal a
serial loop's, returned in task order. Imports nothing heavy at module import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


_TASK: Callable[[int], Any] | None = None


def _run(i: int) -> Any:
    assert _TASK is not None
    return _TASK(i)


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool and reports what was done (no
    traceback from every worker)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def fork_map(task: Callable[[int], T], n: int, *, jobs: int = 1) -> list[T]:
    """``[task(i) for i in range(n)]``, in ``jobs`` forked processes when ``jobs > 1``.

    ``task`` may be any closure over the parent's state (shapes, measurers, facts): it is not
    pickled, the children inherit it by ``fork``. Its *result* is pickled back, so return plain
    data (e.g. ``Ledger.state()``), not objects holding lambdas. Falls back to the serial
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
    import signal

    _TASK = task
    try:
        # workers are forked with Ctrl-C already ignored (a SIGINT that reached a worker before its
        # initializer ran printed that worker's traceback); the parent restores its own handler at once
        before = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            pool = ctx.Pool(min(jobs, n), initializer=_ignore_sigint)
        finally:
            signal.signal(signal.SIGINT, before)
        with pool:
            return pool.map(_run, range(n), chunksize=1)
    finally:
        _TASK = None


# -- one plan, three paths: where a ``WorkPlan``'s units run ----------------------------------------


class Executor(Protocol):
    """Where the work units of a ``simulate.partition.WorkPlan`` run.

    ``units``: how many units to plan for (1: the whole log through one policy, as a plain
    simulation). ``remote``: units go to other processes or machines that share nothing with this
    one, so each is sent self-contained (``partition.Unit``, run by ``partition.run_unit``);
    otherwise ``map_local`` runs closures over this process's state (in it, or in forked copies).
    """

    units: int
    remote: bool

    def map_local(self, task: Callable[[int], T], n: int) -> list[T]: ...

    def map(self, fn: Callable[[Any], T], items: list[Any]) -> list[T]: ...


class InProcess:
    """The default: every unit here, one after another (one unit: the whole log)."""

    remote = False

    def __init__(self, units: int = 1):
        self.units = units
        self.pid = os.getpid()  # a forked copy (a what-if worker of ``fork_map``) runs its units itself

    def map_local(self, task: Callable[[int], T], n: int) -> list[T]:
        return [task(i) for i in range(n)]

    def map(self, fn: Callable[[Any], T], items: list[Any]) -> list[T]:
        return [fn(x) for x in items]


class Forked(InProcess):
    """``--jobs N``: the units in ``N`` forked processes (``fork_map``)."""

    def __init__(self, jobs: int):
        super().__init__(units=jobs)
        self.jobs = jobs

    def forks(self) -> bool:
        """Whether this process forks the units: not a forked worker, which cannot fork again
        (a what-if worker of ``fork_map`` runs its units itself)."""
        import multiprocessing as mp

        return os.getpid() == self.pid and not mp.current_process().daemon

    def map_local(self, task: Callable[[int], T], n: int) -> list[T]:
        if not self.forks():
            return [task(i) for i in range(n)]
        return fork_map(task, n, jobs=self.jobs)
