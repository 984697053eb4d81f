"""``--jobs N`` gives the same results as ``--jobs 1`` (``simulate.parallel.fork_map``), and a
ledger survives the trip back from a worker whole."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from promptcache.advise.breakers import Fix
from promptcache.advise.whatif import Variant, Variants, choose
from promptcache.knowledge.catalog import default_catalog
from promptcache.measure.shape import Measurer
from promptcache.model.facts import CallFacts
from promptcache.model.findings import VolatileValue
from promptcache.model.notes import DropReason
from promptcache.price.ledger import Ledger
from promptcache.price.scenarios import simulate
from promptcache.read.reader import read_logs
from promptcache.simulate.parallel import fork_map
from promptcache.simulate.policies import make_policy

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))


@pytest.fixture(scope="module")
def bench_log(gen_log) -> Path:
    """A small log from the benchmark generator: agent loops, tools, growing sessions."""
    return gen_log("--calls", "300", "--seed", "3", "--templates", "8")


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
        return (simulate(facts, order, lambda _i: e, {"deepseek-v4": shapes}, pol, cat)).state()

    serial = fork_map(task, 4, jobs=1)
    par = fork_map(task, 4, jobs=2)
    assert serial == par
    assert [Ledger.from_state(cat, s).cost() for s in serial] == [Ledger.from_state(cat, s).cost() for s in par]


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


def test_ledger_state_keeps_explicit_cache_storage():
    """Issue 16's latent bug: the fork-safe ledger state dropped ``Ledger.storage``."""
    cat = default_catalog()
    led = Ledger(cat)
    led.add("g1", "deepseek-v4-pro", datetime(2026, 11, 2, 3, tzinfo=UTC), hit=1_000, miss=500, output=20)
    led.storage = Decimal("0.125")
    back = Ledger.from_state(cat, led.state())
    assert back.storage == Decimal("0.125")
    assert back.cost() == led.cost()


def test_fix_alone_saving_excludes_the_storage_bill():
    """A fix that changes nothing saves nothing, on a candidate with a storage bill too (Gemini).

    Before the fix, ``choose`` took every fix-alone ledger through the fork state, which dropped the
    storage: base $X + storage against fix $X gave a "saving" equal to the storage bill."""
    cat = default_catalog()
    when = datetime(2026, 11, 2, 3, tzinfo=UTC)

    def ledger() -> Ledger:
        led = Ledger(cat)
        led.add("g1", "deepseek-v4-pro", when, hit=1_000, miss=500, output=20)
        led.storage = Decimal("0.50")
        return led

    fix = Fix(kind="volatile_value", group="g1", evidence=VolatileValue(0, None, 100, 1), keeps_information=True)
    variants = Variants(combined=Variant(), alone=[Variant()], in_group=[Variant()], groups={"g1": Variant()},
                        facts=[], owner=["g1"])
    plan = choose([fix], variants, lambda _fixes: variants, ["deepseek-v4-pro"], lambda _v, _m: ledger(),
                  {"deepseek-v4-pro": ledger()})
    assert plan.kept == []
    assert plan.dropped == [(fix, DropReason("saves_nothing"))]


def test_a_fix_saving_less_than_the_shown_precision_is_not_reported():
    """Issue 19.6: a finding listed as saving "$0.0000" is noise. A fix that saves $0.00004 on the
    only candidate, alone and with the others, is dropped and says why; one that saves $0.0001 is
    kept. (A fix that saves little alone but much with the others is kept: test_advisor's
    test_several_breakers_combine.)"""
    cat = default_catalog()
    when = datetime(2026, 11, 2, 3, tzinfo=UTC)

    def ledger(storage: str) -> Ledger:
        led = Ledger(cat)
        led.add("g1", "deepseek-v4-pro", when, hit=1_000, miss=500, output=20)
        led.storage = Decimal(storage)
        return led

    fix = Fix(kind="volatile_value", group="g1", evidence=VolatileValue(0, None, 100, 1), keeps_information=True)
    variants = Variants(combined=Variant(), alone=[Variant()], in_group=[Variant()], groups={"g1": Variant()},
                        facts=[], owner=["g1"])
    base = {"deepseek-v4-pro": ledger("0.00004")}  # the fix removes a $0.00004 bill, nothing else
    plan = choose([fix], variants, lambda _f: variants, ["deepseek-v4-pro"], lambda _v, _m: ledger("0"), base)
    assert plan.kept == []
    assert plan.dropped == [(fix, DropReason("saves_little", amount=Decimal("0.00005")))]
    base = {"deepseek-v4-pro": ledger("0.0001")}
    plan = choose([fix], variants, lambda _f: variants, ["deepseek-v4-pro"], lambda _v, _m: ledger("0"), base)
    assert plan.kept == [fix]
