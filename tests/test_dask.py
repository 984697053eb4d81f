"""``--engine dask``: the same report on a Dask cluster, a lost worker counted once, and no Dask
anywhere on the default path.

The cluster tests run on a ``LocalCluster`` of 2 worker *processes* (a worker is killed for real in
one of them) and compare the JSON report, byte for byte, with the in-process run's. They are
skipped when ``distributed`` is not installed; ``.ci/run`` installs ``promptcache[dask]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from promptcache.analyze.shuffle import run_shuffled_priced, run_shuffled_rerun
from promptcache.cli import main
from promptcache.price.units import run_priced_unit, run_rerun_unit

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
DAY = datetime(2026, 11, 1, tzinfo=UTC)


def _report(path: Path, executor=None) -> str:
    from promptcache.analyze.options import AnalyzeOptions
    from promptcache.analyze.pipeline import analyze
    from promptcache.report.as_json import render_json

    return render_json(analyze([path], AnalyzeOptions(at=DAY, now=DAY, executor=executor)))


@pytest.fixture(scope="module")
def generated(gen_log) -> Path:
    return gen_log("--calls", "300", "--seed", "21")


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    import logging

    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                 scheduler_port=0, dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cl,
        distributed.Client(cl) as client,
    ):
        yield client


class Counting:
    """Wraps the executor: how many units each whole simulation sent to the cluster, packed on the
    client (``map``) or cut out of the ranges held on the workers (``map_taking``), and the takes."""

    def __init__(self, client):
        from promptcache.cluster.dask_engine import DaskExecutor

        self.inner = DaskExecutor(client, min_rerun=0)  # every what-if's re-run on the workers too
        self.units, self.remote, self.sent, self.fns = self.inner.units, True, [], []
        self.takes = 0

    def imap_kept(self, fn, keep, items):
        return self.inner.imap_kept(fn, keep, items)

    def can_shuffle(self):
        return self.inner.can_shuffle()

    def release(self, futures):
        self.inner.release(futures)

    def map_taking(self, fn, items, take):
        self.sent.append(len(items))
        self.fns.append(fn)
        self.takes += sum(len(wants) for _, wants in items)
        return self.inner.map_taking(fn, items, take)

    def map(self, fn, items):
        if getattr(getattr(fn, "func", fn), "__module__", "") != "promptcache.read.ranges":  # not the read's planning
            self.sent.append(len(items))
            self.fns.append(fn)
        return self.inner.map(fn, items)

    def map_local(self, task, n):
        return self.inner.map_local(task, n)

    def imap(self, fn, items):  # the ranges read apart (streamed in order)
        return self.inner.imap(fn, items)


@pytest.mark.parametrize("log", ["example", "generated"])
def test_report_equal_on_two_workers(cluster, request, log):
    path = EXAMPLE if log == "example" else request.getfixturevalue("generated")
    ex = Counting(cluster)
    assert _report(path, ex) == _report(path)
    # the simulations as logged went to the cluster in several units (a what-if's re-run may be one)
    assert ex.sent and all(n > 1 for n, fn in zip(ex.sent, ex.fns) if fn is run_shuffled_priced)
    assert run_shuffled_priced in ex.fns  # simulated and priced on the workers
    assert run_shuffled_rerun in ex.fns  # the what-ifs re-run and priced on the workers
    # the shuffle: every unit cut out of the ranges held on the workers, none packed on the client
    assert run_priced_unit not in ex.fns and run_rerun_unit not in ex.fns
    assert ex.takes >= 20
    assert sum(cluster.run(lambda dask_worker: len(dask_worker.data)).values()) == 0  # held ranges let go
    ran_on = cluster.run(lambda: os.getpid())
    assert len(ran_on) == 2 and os.getpid() not in ran_on.values()  # two worker processes, not this one


class Reading(Counting):
    """Counting, plus the ranges read on the cluster through ``imap`` (results streamed in order)."""

    def __init__(self, client):
        super().__init__(client)
        self.read = 0
        self.planned: list[int] = []  # the planning maps, then the simulations'

    def imap(self, fn, items):
        self.read += len(items)
        return self.inner.imap(fn, items)

    def imap_kept(self, fn, keep, items):  # read there, and kept there for the simulations
        self.read += len(items)
        return self.inner.imap_kept(fn, keep, items)

    def map(self, fn, items):
        self.planned.append(len(items))
        return self.inner.map(fn, items)


@pytest.mark.parametrize("as_url", [False, True])
def test_read_on_workers_by_byte_range_report_equal(cluster, generated, monkeypatch, as_url):
    """The log cut into ~20 line-aligned byte ranges (and the example, a gzip file read whole), each
    read and measured on a worker, by path or as a file:// URL opened there with fsspec."""
    monkeypatch.setenv("PROMPTCACHE_RANGE_BYTES", str(generated.stat().st_size // 20))
    paths = [generated.as_uri(), EXAMPLE.as_uri()] if as_url else [generated, EXAMPLE]
    ex = Reading(cluster)
    from promptcache.analyze.options import AnalyzeOptions
    from promptcache.analyze.pipeline import analyze
    from promptcache.report.as_json import render_json

    def run(executor=None):
        return render_json(analyze([str(p) for p in paths], AnalyzeOptions(at=DAY, now=DAY, executor=executor)))

    assert run(ex) == run()
    assert ex.read >= 20  # the ranges (and the whole gzip file) went to the workers
    assert run_shuffled_priced in ex.fns and run_priced_unit not in ex.fns and ex.takes >= 20  # cut out there
    assert ex.planned[0] == 2 and ex.planned[1] >= 20  # each file inspected there, each range's cuts moved to line starts


KILL_PLUGIN = "promptcache-kill-once"
KEEPS_PLUGIN = "promptcache-keeps"


def _kill_once(marker: str, prefix: str):
    """A worker plugin: the first worker to start a task whose key starts with ``prefix`` (a priced
    unit, or a take after the reads) dies there (SIGKILL), once per marker file.
    Made here (pickled by value): ``distributed`` is imported only when the cluster tests run."""
    from distributed import WorkerPlugin

    class KillOnce(WorkerPlugin):
        name = KILL_PLUGIN

        def transition(self, key, start, finish, **kwargs):
            if finish == "executing" and str(key).startswith(prefix):
                try:
                    fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    return
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                import signal

                os.kill(os.getpid(), signal.SIGKILL)

    return KillOnce()


def _keeps(log: str):
    """A worker plugin: each held range kept (``promptcache-keep-`` tasks run), one line a run."""
    from distributed import WorkerPlugin

    class Keeps(WorkerPlugin):
        name = KEEPS_PLUGIN

        def transition(self, key, start, finish, **kwargs):
            if finish == "memory" and str(key).startswith("promptcache-keep-"):
                with open(log, "a") as f:
                    f.write(f"{key}\n")

    return Keeps()


@pytest.mark.parametrize("at", ["promptcache-unit-run_shuffled_priced-", "promptcache-take-"])
def test_worker_killed_mid_run_counts_nothing_twice(cluster, generated, tmp_path, monkeypatch, at):
    """A worker process killed as it starts a priced unit, or the first take after the reads (a
    unit's slice cut out of a range held there): Dask runs the unit again on a worker alive, or
    reads and keeps again the ranges lost with the worker; the client writes each unit's outcomes
    in place and reduces one partial ledger per unit, and the report (every figure priced from
    those ledgers) equals the local one."""
    monkeypatch.setenv("PROMPTCACHE_RANGE_BYTES", str(generated.stat().st_size // 6))
    marker, keeps = tmp_path / "killed", tmp_path / "keeps"
    before = set(cluster.run(lambda: os.getpid()).values())
    cluster.register_plugin(_kill_once(str(marker), at))
    cluster.register_plugin(_keeps(str(keeps)))
    ex = Counting(cluster)
    try:
        got = _report(generated, ex)
    finally:
        cluster.unregister_worker_plugin(KILL_PLUGIN)
        cluster.unregister_worker_plugin(KEEPS_PLUGIN)
    assert marker.exists(), "no worker was killed: the test did not test"
    assert run_shuffled_priced in ex.fns and run_priced_unit not in ex.fns
    killed = int(marker.read_text())
    assert killed in before
    cluster.wait_for_workers(2, timeout=60)
    assert killed not in set(cluster.run(lambda: os.getpid()).values())  # the nanny started a new process
    if at == "promptcache-take-":  # the ranges held on the killed worker were kept again elsewhere
        runs = keeps.read_text().split()
        assert len(runs) > len(set(runs)), runs
    assert got == _report(generated)


def test_default_path_imports_no_dask():
    """``analyze`` in process, and with ``--jobs 2``, never imports dask or distributed."""
    code = (
        "import sys\n"
        "from promptcache.cli import main\n"
        f"assert main(['analyze', '--example', '--format', 'json', '-o', {os.devnull!r}, '--jobs', '2']) == 0\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True)


def test_clean_error_without_dask(monkeypatch, capsys):
    """Without Dask installed: one sentence saying what to do, exit 2, no traceback."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    assert main(["analyze", "--example", "--engine", "dask"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'promptcache[dask]'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_scheduler_needs_dask_engine(capsys):
    assert main(["analyze", "--example", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--scheduler needs --engine dask" in capsys.readouterr().err


def test_scheduler_not_answering(capsys):
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        code = main(["analyze", "--example", "--engine", "dask", "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert code == 2
    assert "no Dask scheduler answered" in capsys.readouterr().err


def test_reduced_ledgers_on_two_workers_equal_the_whole_log(cluster):
    """reduce(units) == the whole log's ledger with the units simulated and priced on 2 worker
    processes (the packaged catalog loaded there), on seeded random logs and plans."""
    import random

    from test_price_units import MODELS, _log, _same, _units

    from promptcache.cluster.dask_engine import DaskExecutor
    from promptcache.knowledge.catalog import default_catalog
    from promptcache.measure.shape import Measurer
    from promptcache.price.scenarios import merge_units, price, simulate_outcomes
    from promptcache.price.units import PricedUnit, Pricing, merge_priced
    from promptcache.simulate.partition import PolicySpec

    catalog, measurer, ex = default_catalog(), Measurer("deepseek-v4"), DaskExecutor(cluster)
    for seed in range(4):
        rng = random.Random(seed)
        calls = [(rng.randrange(4), rng.choice([None, "alice", "bob"]), rng.choice(["ok", "And for shoes?"]),
                  rng.choice([0.5, 3.0, 4_000.0, 30_000.0, 90_000.0]), rng.choice(["g1", "g2"]),
                  rng.choice([None, "batch"]), rng.random() < 0.2, rng.randrange(900)) for _ in range(60)]
        facts, order, shapes = _log(measurer, calls)
        spec = PolicySpec(catalog.model(MODELS[0]), None, {})
        whole = simulate_outcomes(facts, order, shapes, spec.make(measurer))
        pricing = Pricing.of(MODELS, DAY, catalog)
        units = [PricedUnit(u, pricing) for u in _units(measurer, facts, order, shapes, spec, 2 + seed)]
        outs, ledgers = merge_priced(len(facts), order, catalog, ex.map(run_priced_unit, units))
        assert len(units) > 1
        assert merge_units(len(facts), outs).read == whole.read
        for m in MODELS:
            _same(ledgers[m].ledger, price(facts, order, m, whole, catalog, fallback=DAY))
