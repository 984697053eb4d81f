"""``--jobs N`` gives the same results as ``--jobs 1`` (promptcache.parallel)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from promptcache.simulate.policies import make_policy
from promptcache.knowledge.catalog import default_catalog
from promptcache.read.reader import read_logs
from promptcache.analyze.parallel import fork_map, ledger_from_state, ledger_state, prefill, shape_stream
from promptcache.model.facts import CallFacts
from promptcache.price.scenarios import simulate
from promptcache.measure.shape import Measurer

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
ROOT = Path(__file__).resolve().parent.parent


def _shapes(paths, jobs: int, batch: int = 64, families=("deepseek-v4",)):
    ms = [Measurer(f) for f in families]
    out = {f: [] for f in families}
    for call in shape_stream(read_logs(paths), ms, jobs=jobs, batch=batch):
        for m in ms:
            out[m.family].append(m.shape(call, trust_usage=True))
    return out, ms


def _state(ms):
    return [(m.reported_calls, m.estimated_calls, m.adjusted_tokens,
             {k: (v[0], v[1].tobytes()) for k, v in m._pieces.items()}) for m in ms]


@pytest.fixture(scope="module")
def bench_log(tmp_path_factory) -> Path:
    """A small log from the benchmark generator: agent loops, tools, growing sessions."""
    p = tmp_path_factory.mktemp("bench") / "log.jsonl"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_log.py"), "--calls", "300", "--seed", "3",
                    "--templates", "8", "-o", str(p)], check=True)
    return p


@pytest.mark.parametrize("batch", [1, 7, 512])
def test_shape_stream_identical_to_serial_on_example(batch):
    serial, ms1 = _shapes([EXAMPLE], jobs=1)
    par, ms2 = _shapes([EXAMPLE], jobs=2, batch=batch)
    assert serial == par
    assert _state(ms1) == _state(ms2)


def test_shape_stream_identical_on_benchmark_log(bench_log):
    serial, ms1 = _shapes([bench_log], jobs=1, families=("deepseek-v4", "cl100k"))
    par, ms2 = _shapes([bench_log], jobs=2, batch=50, families=("deepseek-v4", "cl100k"))
    assert serial == par
    assert _state(ms1) == _state(ms2)


def test_prefill_then_shape_tokenizes_nothing_more(bench_log):
    m = Measurer("deepseek-v4")
    calls = list(read_logs([bench_log]))
    assert prefill(m, calls) > 0
    encode = m._tokenizer._encode
    m._tokenizer._encode = lambda s: pytest.fail("a piece was tokenized after prefill")
    try:
        for c in calls:
            m.shape(c, trust_usage=True)
    finally:
        m._tokenizer._encode = encode
    assert prefill(m, calls) == 0


def test_fork_map_simulations_identical(bench_log):
    cat = default_catalog()
    m = Measurer("deepseek-v4")
    calls = list(read_logs([bench_log]))
    shapes = [m.shape(c, trust_usage=True) for c in calls]
    facts = [CallFacts(start=c.timestamp.timestamp(), end=c.timestamp.timestamp() + 1, when=c.timestamp,
                       user=c.user_id, model=c.model, group=f"g{i % 3}", output=c.usage.output_tokens,
                       conversation=c.conversation_id, timed=True, latency_reported=True) for i, c in enumerate(calls)]
    order = sorted(range(len(facts)), key=lambda i: (facts[i].start, i))
    models = ["deepseek-v4-pro", "deepseek-flash"]

    def task(i):
        e = cat.model(models[i % 2])
        pol = {e.id: make_policy(e, m)}
        return ledger_state(simulate(facts, order, lambda _i: e, {"deepseek-v4": shapes}, pol, cat))

    serial = fork_map(task, 4, jobs=1)
    par = fork_map(task, 4, jobs=2)
    assert serial == par
    assert [ledger_from_state(cat, s).cost() for s in serial] == [ledger_from_state(cat, s).cost() for s in par]


@pytest.mark.skipif(os.environ.get("PROMPTCACHE_SLOW") is None, reason="set PROMPTCACHE_SLOW to run the CLI check")
def test_cli_jobs_identical(bench_log, tmp_path):
    """Once ``analyze --jobs`` exists: the JSON report is byte-identical for --jobs 1 and 2."""
    help_text = subprocess.run([sys.executable, "-m", "promptcache", "analyze", "--help"],
                               capture_output=True, text=True).stdout
    if "--jobs" not in help_text:
        pytest.skip("analyze has no --jobs option yet")
    outs = []
    for jobs in (1, 2):
        o = tmp_path / f"r{jobs}.json"
        subprocess.run([sys.executable, "-m", "promptcache", "analyze", str(bench_log), "--format", "json",
                        "--at", "2026-11-01", "-o", str(o), "--jobs", str(jobs)], check=True)
        outs.append(o.read_bytes())
    assert outs[0] == outs[1]
