"""Issue 10, accounting that closes, on every fixture and the bundled example:

* lines read = calls analyzed + lines skipped, and the skipped lines add up by reason;
* per-group calls and input tokens add up to the report's totals;
* in every simulated scenario, per-group tokens and dollars add up to the scenario's totals, and
  the scenario's hit + miss + write tokens are the input tokens of its tokenizer family.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

import promptcache.analyze.pipeline as analysis
import promptcache.analyze.simulations as simulations
from promptcache.analyze.pipeline import AnalyzeOptions
from promptcache.errors import EmptyLogError
from promptcache.price.ledger import usd
from promptcache.read.reader import read_logs

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "formats"
EXAMPLE = str(resources.files("promptcache").joinpath("data/example.jsonl.gz"))
PAIRED = {"openai_batch_input.jsonl": "openai_batch_output.jsonl",
          "anthropic_batch_requests.jsonl": "anthropic_batch_results.jsonl"}


def _runs() -> list[list[str]]:
    runs = [[EXAMPLE]]
    for p in sorted(FIXTURES.rglob("*")):
        if not p.is_file() or p.name in PAIRED.values():
            continue
        runs.append([str(p), str(p.parent / PAIRED[p.name])] if p.name in PAIRED else [str(p)])
    runs.append([str(FIXTURES)])  # the whole folder in one run, mixed formats
    return runs


RUNS = _runs()
IDS = [Path(r[0]).name for r in RUNS]


@pytest.mark.parametrize("paths", RUNS, ids=IDS)
def test_reader_ledger_closes(paths):
    reader = read_logs(paths)
    n = sum(1 for _ in reader)
    s = reader.stats
    assert n == s.calls
    assert s.lines == s.calls + s.skipped_lines, (s.lines, s.calls, dict(s.skipped))
    assert s.skipped_lines == sum(s.skipped.values())
    assert all(v > 0 for v in s.skipped.values())


@pytest.mark.parametrize("paths", RUNS, ids=IDS)
def test_report_totals_add_up(paths, monkeypatch):
    ledgers = []
    real = simulations.price

    def spy(*args, **kwargs):
        ledger = real(*args, **kwargs)
        ledgers.append(ledger)
        return ledger

    monkeypatch.setattr(simulations, "price", spy)
    run = simulations.Simulations.run  # ledgers reduced from work units or derived from a base's, not priced whole

    def run_spy(self, *args, **kwargs):
        ledger = run(self, *args, **kwargs)
        ledgers.append(ledger)
        return ledger

    monkeypatch.setattr(simulations.Simulations, "run", run_spy)
    try:
        report = analysis.analyze(paths, AnalyzeOptions(models=["deepseek-v4-pro", "deepseek-flash", "gpt-4o",
                                                                "claude-sonnet-4"]))
    except EmptyLogError:
        pytest.skip("no analyzable call in this fixture alone")

    # lines
    assert report.lines_read == report.calls + report.skipped_lines
    assert report.skipped_lines == sum(report.skipped_by_reason.values())
    assert not report.partial

    # groups -> totals
    assert sum(g.calls for g in report.groups) == report.calls
    assert sum(g.input_tokens for g in report.groups) == report.input_tokens
    assert report.reported_calls + report.estimated_calls == report.calls
    for g in report.groups:
        assert g.static_prefix_tokens >= 0 and g.calls > 0

    # every simulated ledger: per-group tokens and dollars add up to its totals
    assert ledgers, "no simulation ran"
    for ledger in ledgers:
        total_t = ledger.tokens()
        parts = defaultdict(int)
        cost = Decimal(0)
        for gid in ledger.groups():
            t = ledger.tokens(gid)
            for k in ("hit", "miss", "write_5m", "write_1h", "output"):
                parts[k] += getattr(t, k)
            cost += ledger.cost(gid)
        assert dict(parts) == {k: getattr(total_t, k) for k in parts}
        assert cost == ledger.cost()
        group_ids = {g.id for g in report.groups}
        assert ledger.groups() <= group_ids | {"all"}

    # every scenario the report shows matches one simulated ledger exactly (tokens and dollars)
    for s in report.scenarios:
        match = [lg for lg in ledgers
                 if lg.tokens().hit == s.cache_hit_tokens and lg.tokens().miss == s.cache_miss_tokens
                 and Decimal(usd(lg.cost())) == s.cost_usd]
        assert match, f"scenario {s.model}/{s.layout} does not add up to any simulated ledger"
        t = match[0].tokens()
        assert s.cache_write_tokens == t.write_5m + t.write_1h and s.output_tokens == t.output
        if t.input:
            assert abs(s.hit_ratio - round(t.hit / t.input, 6)) < 1e-6

    # the primary model's as-logged input is the report's input tokens
    first = report.scenarios[0]
    assert first.cache_hit_tokens + first.cache_miss_tokens + first.cache_write_tokens == report.input_tokens

    if report.observed is not None:
        o = report.observed
        assert o.calls <= report.calls
        assert o.cache_hit_tokens >= 0 and o.cache_miss_tokens >= 0


def test_example_reads_every_line():
    reader = read_logs([EXAMPLE])
    assert sum(1 for _ in reader) == reader.stats.lines == 505 and not reader.stats.skipped
