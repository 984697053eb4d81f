"""Issue 17 (money): each case checked against a hand computation in Decimal, with the arithmetic shown.

Prices per 1M tokens come from promptcache/knowledge/data/prices.json; the figures below restate the ones
each case uses so the arithmetic can be read without it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from promptcache.analyze.pipeline import AnalyzeOptions, analyze
from promptcache.report.recommendation_text import with_text

NOW = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)  # a fixed clock (a Sunday: off-peak for DeepSeek)
M = Decimal(1_000_000)


def _anthropic(model="claude-sonnet-4-5", *, fresh=100, read=2000, w5=600, w1=400, out=50,
               ts="2026-11-23T20:00:00Z", **extra):
    return {"timestamp": ts, **extra,
            "request": {"model": model, "max_tokens": 100,
                        "system": [{"type": "text", "text": "You are terse. " * 50,
                                    "cache_control": {"type": "ephemeral"}}],
                        "messages": [{"role": "user", "content": "Hello there"}]},
            "response": {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
                         "content": [{"type": "text", "text": "Hi."}],
                         "usage": {"input_tokens": fresh, "cache_read_input_tokens": read,
                                   "cache_creation_input_tokens": w5 + w1,
                                   "cache_creation": {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1},
                                   "output_tokens": out}}}


# --- 1. the observed cost bills logged cache writes -------------------------------------------------

def test_observed_cost_bills_anthropic_cache_writes(write_log):
    # One Sonnet 4.5 call: input 100, reads 2,000, writes 1,000 (600 at 5 min, 400 at 1 h), output 50.
    # Sonnet 4.5: input $3, read $0.30 (0.1x), 5 min write $3.75 (1.25x), 1 h write $6 (2x), output $15.
    # 100*3 + 2000*0.3 + 600*3.75 + 400*6 + 50*15 = 300 + 600 + 2250 + 2400 + 750 = 6300 per million
    expect = Decimal(6300) / M
    assert expect == Decimal("0.0063")
    r = analyze([write_log([_anthropic()])], AnalyzeOptions(now=NOW, compare=["claude-sonnet-4-5"]))
    o = r.observed
    assert o.cost_usd == expect  # was 0.004650: the writes billed as plain input
    assert (o.cache_hit_tokens, o.cache_write_tokens, o.cache_miss_tokens, o.output_tokens) == (2000, 1000, 100, 50)
    assert o.hit_ratio == round(2000 / 3100, 6)
    # the calibration's observed side (input only) bills the writes too:
    # 100*3 + 2000*0.3 + 600*3.75 + 400*6 = 300 + 600 + 2250 + 2400 = 5550 per million (was 3100*3 - 2000*2.7 = 3900)
    assert r.calibration is not None and r.calibration.model == "claude-sonnet-4-5"
    assert r.calibration.overall.observed_cost_usd == Decimal(5550) / M


def test_observed_cost_bills_gpt56_cache_writes(write_log):
    # GPT-5.6 Sol at its list price (2026-08-01, before the 2026-08-21 promotion): input $5, cached $0.50,
    # write $6.25 (1.25x), output $30. Prompt 3,000 of which 1,000 cached and 1,500 written; output 100:
    # 500*5 + 1000*0.5 + 1500*6.25 + 100*30 = 2500 + 500 + 9375 + 3000 = 15375 per million
    row = {"timestamp": "2026-08-01T20:00:00Z",
           "request": {"model": "gpt-5.6-sol", "messages": [{"role": "user", "content": "hi " * 50}]},
           "response": {"model": "gpt-5.6-sol", "choices": [{"message": {"role": "assistant", "content": "ok"}}],
                        "usage": {"prompt_tokens": 3000, "completion_tokens": 100,
                                  "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 1500}}}}
    r = analyze([write_log([row])], AnalyzeOptions(now=NOW, compare=[]))
    assert r.observed.cost_usd == Decimal(15375) / M
    assert r.observed.cache_write_tokens == 1500 and r.observed.cache_miss_tokens == 500


# --- 8. --prices merges over the packaged catalog ---------------------------------------------------

def _timed_deepseek(write_log, model="deepseek-v4-pro"):
    # Monday 2026-11-23 20:00 UTC = Tuesday 04:00 Beijing: off-peak
    return write_log([{"timestamp": "2026-11-23T20:00:00Z",
                       "request": {"model": model, "messages": [{"role": "user", "content": "hi"}]},
                       "response": {"choices": [{"message": {"role": "assistant", "content": "ok"}}],
                                    "usage": {"prompt_tokens": 10000, "completion_tokens": 1000,
                                              "prompt_cache_hit_tokens": 6000, "prompt_cache_miss_tokens": 4000}}}])


def test_prices_file_overrides_one_field_and_keeps_the_rest(write_log, tmp_path):
    import json

    from promptcache.knowledge.catalog import load_catalog

    f = tmp_path / "mine.json"
    # one field of the entry in force today (no `start`: the latest entry): Pro's off-peak output
    f.write_text(json.dumps({"models": [{"id": "deepseek-v4-pro", "prices": [{"output": "1.00"}]}]}))
    cat = load_catalog(f)
    when = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    r = cat.price("deepseek-v4-pro", when).rates
    assert (r.input_miss, r.input_hit, r.output) == (Decimal("0.66"), Decimal("0.022"), Decimal("1.00"))
    assert "user price override" in cat.model("deepseek-v4-pro").prices[-1].source
    # the models the file leaves out are still there (was: "unknown model 'deepseek-flash'")
    assert cat.price("deepseek-flash", when).rates.output == Decimal("0.60")
    assert cat.price("claude-sonnet-4-5", when).rates.input_miss == Decimal("3.00")
    # the earlier Pro entries are untouched: 2026-06-01 is still 0.435 / 0.003625 / 0.87
    assert cat.price("deepseek-v4-pro", datetime(2026, 6, 1, tzinfo=UTC)).rates.output == Decimal("0.87")

    # end to end: 4,000 miss, 6,000 hit, 1,000 out on Pro off-peak with the override
    # 4000*0.66 + 6000*0.022 + 1000*1.00 = 2640 + 132 + 1000 = 3772 per million
    rep = analyze([_timed_deepseek(write_log)], AnalyzeOptions(now=NOW, compare=[], catalog_path=f))
    assert rep.observed.cost_usd == Decimal(3772) / M


def test_prices_file_adds_a_model_and_an_entry(tmp_path):
    import json

    from promptcache.knowledge.catalog import load_catalog

    f = tmp_path / "mine.json"
    f.write_text(json.dumps({"models": [
        {"id": "my-model", "provider": "openai", "display_name": "Mine", "tokenizer": "o200k", "cache_policy": "openai",
         "prices": [{"start": None, "input_miss": "1", "input_hit": "0.1", "output": "2", "source": "our contract",
                     "as_of": "2026-11-01"}]},
        {"id": "gpt-4o", "prices": [{"start": "2026-12-01T00:00:00Z", "input_miss": "2.00", "input_hit": "1.00",
                                     "output": "8.00", "as_of": "2026-11-30"}]}]}))
    cat = load_catalog(f)
    assert cat.price("my-model", NOW).rates.output == Decimal(2)
    assert cat.price("gpt-4o", NOW).rates.output == Decimal("10.00")  # before the added entry
    assert cat.price("gpt-4o", datetime(2026, 12, 2, tzinfo=UTC)).rates.output == Decimal("8.00")


def test_prices_file_errors_name_the_file(tmp_path):
    import pytest

    from promptcache.errors import CatalogError
    from promptcache.knowledge.catalog import load_catalog

    f = tmp_path / "bad.json"
    f.write_text('{"models": [{"id": "deepseek-v4-pro", "prices": [{"output": "-1"}]}]}')
    with pytest.raises(CatalogError, match=r"bad\.json"):
        load_catalog(f)
    f.write_text('{"currency": "EUR"}')
    with pytest.raises(CatalogError, match="currency"):
        load_catalog(f)


# --- 9. chatgpt-4o-latest is not gpt-4o -------------------------------------------------------------

def test_chatgpt_4o_latest_has_its_own_price():
    from promptcache.knowledge.catalog import default_catalog

    cat = default_catalog()
    e = cat.model("chatgpt-4o-latest")
    assert e.id == "chatgpt-4o-latest" and e.prices[0].source and e.prices[0].disagreements
    r = cat.price("chatgpt-4o-latest", NOW).rates
    # 1,000 input (none cached) and 200 output: 1000*5 + 200*15 = 8000 per million = $0.008,
    # where gpt-4o's rates gave 1000*2.5 + 200*10 = 4500 per million
    assert (1000 * r.input_miss + 200 * r.output) / M == Decimal("0.008")
    g = cat.price("gpt-4o", NOW).rates
    assert (1000 * g.input_miss + 200 * g.output) / M == Decimal("0.0045")


# --- 4. calls before the catalog, and traces with relative times ------------------------------------

def _ds_row(ts, model="deepseek-v4-pro", prompt=10000, hit=0, out=1000, content="hi"):
    return {"timestamp": ts, "request": {"model": model, "messages": [{"role": "user", "content": content}]},
            "response": {"choices": [{"message": {"role": "assistant", "content": "ok"}}],
                         "usage": {"prompt_tokens": prompt, "completion_tokens": out,
                                   "prompt_cache_hit_tokens": hit, "prompt_cache_miss_tokens": prompt - hit}}}


def test_observed_call_before_its_models_first_price_is_unpriced(write_log):
    # deepseek-v4-pro's first price starts 2026-04-24: a 2025 call of it cannot have been billed at it.
    # The other call (Monday 2026-11-23 20:00 UTC = Tuesday 04:00 Beijing, off-peak): 0.66 miss, 1.98 output
    # 10000*0.66 + 1000*1.98 = 6600 + 1980 = 8580 per million
    p = write_log([_ds_row("2025-06-02T02:00:00Z", content="old"), _ds_row("2026-11-23T20:00:00Z", content="new")])
    r = analyze([p], AnalyzeOptions(now=NOW, compare=[]))
    o = r.observed
    assert o.cost_usd == Decimal(8580) / M and o.priced_calls == 1
    [u] = o.unpriced
    assert (u.model, u.calls, u.share, u.reason) == ("deepseek-v4-pro", 1, 0.5, "before_first_price")
    assert any("before its first known price (2026-04-24)" in n and "50.0%" in n for n in with_text(r).assumptions.notes)


def test_scenario_call_before_the_candidates_first_price_takes_todays_list(write_log):
    # One 2025 call on deepseek-v4-pro, repriced on deepseek-v4-pro: the list in force today (NOW, 2026-11-29)
    # at the call's own hour: Monday 2025-06-02 02:00 UTC = 10:00 Beijing, peak: 1.32 miss, 3.96 output.
    # Cold cache, so all 10,000 input tokens miss: 10000*1.32 + 1000*3.96 = 13200 + 3960 = 17160 per million
    # (was: the 2026-04-24 launch price, 10000*1.74 + 1000*3.48 = 20880 per million)
    r = analyze([write_log([_ds_row("2025-06-02T02:00:00Z")])],
                AnalyzeOptions(models=["deepseek-v4-pro"], compare=[], now=NOW))
    s = next(s for s in r.scenarios if s.layout == "as_logged")
    assert s.cache_hit_tokens == 0 and s.cost_usd == Decimal(17160) / M
    assert s.peak_input_share == 1.0
    assert any("before deepseek-v4-pro's first price (2026-04-24)" in n and "today's price list (2026-11-29)" in n
               for n in with_text(r).assumptions.notes)


def _mooncake(write_log, n_blocks=16, inp=8000, out=800):
    # a content-free trace with relative times (milliseconds from the trace start: 1970 as dates)
    return write_log([{"timestamp": 0, "input_length": inp, "output_length": out, "hash_ids": list(range(n_blocks)),
                       "model": "deepseek-flash"}], name="trace.jsonl")


def test_relative_trace_is_priced_at_todays_list_blended(write_log):
    # deepseek-flash today (2026-09-10 entry): off-peak 0.15 / 0.60, peak 0.30 / 1.20; peak is 35 of the
    # week's 168 hours (Mon-Fri 09-12 and 14-18 Beijing) = 5/24, so the blended rate is off-peak x 29/24:
    # 0.15 x 29/24 = 0.18125 and 0.60 x 29/24 = 0.725; cold cache:
    # 8000*0.18125 + 800*0.725 = 1450 + 580 = 2030 per million
    r = analyze([_mooncake(write_log)], AnalyzeOptions(models=["deepseek-flash"], compare=[], now=NOW))
    s = next(s for s in r.scenarios if s.layout == "as_logged")
    assert s.cost_usd == Decimal(2030) / M
    assert s.peak_input_share == round(5 / 24, 4)
    assert "blended" in with_text(r).assumptions.prices and "today's price list (2026-11-29)" in with_text(r).assumptions.prices
    # with --at 2026-06-01: flash was 0.14 / 0.28 then (no peak pricing): 8000*0.14 + 800*0.28 = 1120 + 224 = 1344
    r2 = analyze([_mooncake(write_log)], AnalyzeOptions(models=["deepseek-flash"], compare=[], now=NOW,
                                                        at=datetime(2026, 6, 1, tzinfo=UTC)))
    s2 = next(s for s in r2.scenarios if s.layout == "as_logged")
    assert s2.cost_usd == Decimal(1344) / M
    assert "the --at price list (2026-06-01)" in with_text(r2).assumptions.prices


def test_unknown_model_does_not_null_the_observed_cost(write_log):
    # 3 calls: 2 deepseek-v4-pro (off-peak, 8580 per million each, as above), 1 of a model nobody prices
    rows = [_ds_row("2026-11-23T20:00:00Z", content="a"), _ds_row("2026-11-23T20:05:00Z", content="b"),
            _ds_row("2026-11-23T20:10:00Z", model="mystery-llm-9", content="c")]
    r = analyze([write_log(rows)], AnalyzeOptions(now=NOW, compare=[]))
    o = r.observed
    assert o.cost_usd == 2 * Decimal(8580) / M and o.priced_calls == 2
    [u] = o.unpriced
    assert (u.model, u.calls, u.share, u.reason) == ("mystery-llm-9", 1, round(1 / 3, 6), "unknown_model")
    assert any("mystery-llm-9 (33.3% of the observed calls)" in n for n in with_text(r).assumptions.notes)


# --- 5. no figure depends on the hour the command runs ----------------------------------------------

def _two_clocks(write_log, rows, **opts):
    """The same analysis with the clock at 06:00Z (DeepSeek peak on a Monday) and 12:00Z (off-peak)."""
    p = write_log(rows)
    at6 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    at12 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    return analyze([p], AnalyzeOptions(now=at6, **opts)), analyze([p], AnalyzeOptions(now=at12, **opts))


def _costs(r):
    return ({(s.model, s.layout): (s.cost_usd, s.peak_input_share) for s in r.scenarios},
            r.observed.cost_usd if r.observed else None,
            r.recommendation.cost_usd if r.recommendation else None, r.period)


def test_at_now_gives_the_same_figures_at_two_hours_and_keeps_the_period(write_log):
    rows = [_ds_row("2026-11-23T02:00:00Z", content="peak call"),  # Monday 10:00 Beijing: peak
            _ds_row("2026-11-23T05:00:00Z", content="lunch call")]  # 13:00 Beijing: off-peak
    a6, a12 = _two_clocks(write_log, rows)
    # "--at now": the price list in force at the instant the command runs, each call at its own hour
    b6 = analyze([write_log(rows)], AnalyzeOptions(now=datetime(2026, 11, 30, 6, tzinfo=UTC),
                                                  at=datetime(2026, 11, 30, 6, tzinfo=UTC)))
    b12 = analyze([write_log(rows)], AnalyzeOptions(now=datetime(2026, 11, 30, 12, tzinfo=UTC),
                                                   at=datetime(2026, 11, 30, 12, tzinfo=UTC)))
    assert _costs(a6) == _costs(a12)
    assert _costs(b6) == _costs(b12)
    assert b6.period == a6.period == ("2026-11-23T02:00:00Z", "2026-11-23T05:00:00Z")
    # Pro, one peak and one off-peak call of 10,000 input (cold, then a hit on the shared prefix or not)
    # and 1,000 output: the observed cost (no hits logged) is
    # peak 10000*1.32 + 1000*3.96 = 17160, off-peak 10000*0.66 + 1000*1.98 = 8580: 25740 per million
    assert b6.observed.cost_usd == Decimal(25740) / M


def test_untimed_calls_are_blended_whatever_the_hour(write_log):
    rows = [{"request": {"model": "deepseek-v4-pro", "messages": [{"role": "user", "content": f"q{i}"}]},
             "response": {"choices": [{"message": {"role": "assistant", "content": "ok"}}],
                          "usage": {"prompt_tokens": 10000, "completion_tokens": 1000,
                                    "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 10000}}}
            for i in range(2)]
    a6, a12 = _two_clocks(write_log, rows)
    assert _costs(a6) == _costs(a12)
    s = next(s for s in a6.scenarios if s.model == "deepseek-v4-pro" and s.layout == "as_logged")
    assert s.peak_input_share == round(5 / 24, 4)  # was 1.0 ("Peak 100%") when run at peak
    # observed, blended Pro: 0.66 x 29/24 = 0.7975 miss, 1.98 x 29/24 = 2.3925 output;
    # 2 x (10000*0.7975 + 1000*2.3925) = 2 x (7975 + 2392.5) = 20735 per million
    assert a6.observed.cost_usd == Decimal(20735) / M
    assert any("blended" in n for n in with_text(a6).assumptions.notes)


def test_lint_monthly_cost_is_the_weeks_blend_not_the_hours():
    from promptcache.lint.cost import CostModel

    # deepseek-v4-pro today: off-peak miss 0.66, hit 0.022; peak twice that. 1,000 static tokens uncached on
    # 1,000 calls a day = 30,000 calls a month. Blended (5/24 of the week at peak): the gap is
    # (0.66 - 0.022) x 29/24 = 0.638 x 29/24 per 1M, so 1000 x 30000 x 0.638 x 29/24 / 1e6 = 23.1275 a month
    # (the peak hour alone gave 38.28 and the off-peak hour 19.14)
    at6 = CostModel("deepseek-v4-pro", 1000, datetime(2026, 11, 30, 6, 0, tzinfo=UTC))
    at12 = CostModel("deepseek-v4-pro", 1000, datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    assert at6.monthly(1000) == at12.monthly(1000)
    assert at6.monthly(1000).quantize(Decimal("0.000001")) == Decimal("23.127500")
    assert "week's blended" in at6.describe() and "20.8%" in at6.describe()
    # the team's own share of peak calls (e.g. half): 0.638 x 1.5 x 30 = 28.71
    team = CostModel("deepseek-v4-pro", 1000, datetime(2026, 11, 30, 6, 0, tzinfo=UTC), peak_share=0.5)
    assert team.monthly(1000) == Decimal("28.71") and "team's" in team.describe()


def test_lint_at_now_and_instants_give_the_same_figures(tmp_path, monkeypatch, capsys):
    import json

    import promptcache.cli.when as when_mod
    from promptcache.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.j2").write_text("You are {{ name }}.\n" + "Always cite the policy section. " * 40 + "\n")

    def run(*at):
        assert main(["lint", "b.j2", "--format", "json", "--min-static-tokens", "10", "--model", "deepseek-v4-pro",
                     "--calls-per-day", "1000", *at]) == 1
        cap = capsys.readouterr()
        return json.loads(cap.out)[0]["monthly_cost_usd"], cap.err

    class Clock(datetime):
        hour = 6

        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 11, 30, cls.hour, 0, tzinfo=tz)

    monkeypatch.setattr(when_mod, "datetime", Clock)
    six, err = run("--at", "now")
    Clock.hour = 12
    noon, _ = run("--at", "now")
    assert six == noon == run("--at", "2026-11-30T06:00Z")[0] == run("--at", "2026-11-30")[0]
    assert "monthly cost at deepseek-v4-pro, price list of 2026-08-16" in err and "blended" in err


def test_models_shows_off_peak_peak_windows_and_sources(capsys, monkeypatch):
    from promptcache.cli import main

    monkeypatch.setenv("COLUMNS", "250")
    assert main(["models", "--at", "2026-11-30T06:00Z"]) == 0
    out6 = capsys.readouterr().out
    assert main(["models", "--at", "2026-11-30T12:00Z"]) == 0
    assert capsys.readouterr().out == out6  # the same list at any hour of the day
    row = next(line for line in out6.splitlines() if line.lstrip("│ ").startswith("deepseek-v4-pro"))
    assert "0.66" in row and "1.32 / 0.044 / 3.96" in row  # off-peak and peak
    assert "Peak windows (deepseek-peak)" in out6 and "20.8% of a week's hours are peak" in out6
    assert "deepseek-v4-pro: https://api-docs.deepseek.com/quick_start/pricing" in out6
    assert "(as of 2026-11-29)" in out6


# --- 2. batch and service tiers ---------------------------------------------------------------------

def test_openai_batch_is_billed_at_half_and_stacks_with_the_cached_rate(write_log):
    # gpt-4o: input 2.50, cached 1.25, output 10.00. Prompt 2,000 of which 1,024 cached, output 100:
    # standard 976*2.5 + 1024*1.25 + 100*10 = 2440 + 1280 + 1000 = 4720 per million; Batch API: half, 2360
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Classify this ticket."}]}
    inp = write_log([{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": body}],
                    name="batch_input.jsonl")
    write_log([{"id": "b1", "custom_id": "r1", "error": None, "response": {"status_code": 200, "body": {
        "id": "c1", "created": 1795000000, "model": "gpt-4o", "service_tier": "default",
        "choices": [{"message": {"role": "assistant", "content": "billing"}}],
        "usage": {"prompt_tokens": 2000, "completion_tokens": 100,
                  "prompt_tokens_details": {"cached_tokens": 1024}}}}}],
        name="batch_output.jsonl")
    r = analyze([inp.parent], AnalyzeOptions(now=NOW, compare=["gpt-4o"]))
    assert r.calls == 1
    assert r.observed.cost_usd == Decimal(2360) / M  # was 0.004720
    assert any("batch tier" in n and "deepseek-v4-pro" in n for n in with_text(r).assumptions.notes)  # DeepSeek has no batch
    gpt = next(s for s in r.scenarios if s.model == "gpt-4o" and s.layout == "as_logged")
    t = gpt.cache_hit_tokens * Decimal("1.25") + gpt.cache_miss_tokens * Decimal("2.50") + gpt.output_tokens * 10
    assert gpt.cost_usd == (t / 2 / M).quantize(Decimal("0.000001"))  # the what-if on gpt-4o is a batch too


def test_anthropic_message_batch_halves_reads_writes_and_output(write_log):
    # The Sonnet call of case 1 (6300 per million at standard rates) as a Message Batches result: 3150
    row = _anthropic()
    req = write_log([{"custom_id": "q1", "params": row["request"]}], name="requests.jsonl")
    write_log([{"custom_id": "q1", "result": {"type": "succeeded", "message": row["response"]}}], name="results.jsonl")
    r = analyze([req.parent], AnalyzeOptions(now=NOW, compare=["claude-sonnet-4-5"]))
    assert r.observed.cost_usd == Decimal(3150) / M


def _openai_tier(write_log, tier, model="gpt-5"):
    return write_log([{"timestamp": "2026-11-23T20:00:00Z",
                       "request": {"model": model, "messages": [{"role": "user", "content": "hi"}],
                                   "service_tier": tier},
                       "response": {"model": model, "service_tier": tier,
                                    "choices": [{"message": {"role": "assistant", "content": "ok"}}],
                                    "usage": {"prompt_tokens": 2000, "completion_tokens": 100,
                                              "prompt_tokens_details": {"cached_tokens": 1200}}}}])


def test_openai_flex_and_priority_service_tiers(write_log):
    # gpt-5 standard: 1.25 input, 0.125 cached, 10 output. Prompt 2,000 (1,200 cached), output 100:
    # standard 800*1.25 + 1200*0.125 + 100*10 = 1000 + 150 + 1000 = 2150 per million
    # flex (Batch rates, caching on top): half = 1075
    r = analyze([_openai_tier(write_log, "flex")], AnalyzeOptions(now=NOW, compare=[]))
    assert r.observed.cost_usd == Decimal(1075) / M
    # priority (OpenAI's priority table for GPT-5: 2.50 / 0.25 / 20.00):
    # 800*2.5 + 1200*0.25 + 100*20 = 2000 + 300 + 2000 = 4300 per million
    r = analyze([_openai_tier(write_log, "priority")], AnalyzeOptions(now=NOW, compare=[]))
    assert r.observed.cost_usd == Decimal(4300) / M
    # "default" is standard
    r = analyze([_openai_tier(write_log, "default")], AnalyzeOptions(now=NOW, compare=[]))
    assert r.observed.cost_usd == Decimal(2150) / M


# --- 3. missing models, dated DeepSeek history, long context -----------------------------------------

def test_a_2025_deepseek_chat_log_is_priced_with_its_dated_history(write_log):
    # each call: 10,000 prompt tokens (6,000 cache hits, 4,000 misses) and 1,000 output
    rows = [
        # V3 list price after the launch promotion, Monday 2025-02-10 (no night discount yet): 0.27 / 0.07 / 1.10
        # 4000*0.27 + 6000*0.07 + 1000*1.10 = 1080 + 420 + 1100 = 2600
        _ds_row("2025-02-10T02:00:00Z", model="deepseek-chat", hit=6000, content="a"),
        # night discount era, 02:00 UTC (standard hours, 00:30-16:30 UTC): the same 2600
        _ds_row("2025-03-03T02:00:00Z", model="deepseek-chat", hit=6000, content="b"),
        # 20:00 UTC (the night window): 50% for V3: 4000*0.135 + 6000*0.035 + 1000*0.55 = 540 + 210 + 550 = 1300
        _ds_row("2025-03-03T20:00:00Z", model="deepseek-chat", hit=6000, content="c"),
        # R1 in standard hours: 4000*0.55 + 6000*0.14 + 1000*2.19 = 2200 + 840 + 2190 = 5230
        _ds_row("2025-03-04T02:00:00Z", model="deepseek-reasoner", hit=6000, content="d"),
        # R1 at night (25% of input, output 0.55): 540 + 210 + 550 = 1300
        _ds_row("2025-03-04T20:00:00Z", model="deepseek-reasoner", hit=6000, content="e"),
        # V3.1 (from 2025-09-05 16:00 UTC): 4000*0.56 + 6000*0.07 + 1000*1.68 = 2240 + 420 + 1680 = 4340
        _ds_row("2025-09-10T02:00:00Z", model="deepseek-chat", hit=6000, content="f"),
        # V3.2 (from 2025-09-29): 4000*0.28 + 6000*0.028 + 1000*0.42 = 1120 + 168 + 420 = 1708
        _ds_row("2025-10-01T02:00:00Z", model="deepseek-reasoner", hit=6000, content="g"),
        # after V4's launch the names resolve to deepseek-v4-flash (from 2026-04-26 12:15 UTC): 0.14 / 0.0028 / 0.28
        # 4000*0.14 + 6000*0.0028 + 1000*0.28 = 560 + 16.8 + 280 = 856.8
        _ds_row("2026-06-01T02:00:00Z", model="deepseek-chat", hit=6000, content="h"),
    ]
    r = analyze([write_log(rows)], AnalyzeOptions(now=NOW, compare=[]))
    total = 2600 + 2600 + 1300 + 5230 + 1300 + 4340 + 1708 + Decimal("856.8")  # = 19934.8 per million
    assert r.observed.unpriced == [] and r.observed.priced_calls == 8
    assert r.observed.cost_usd == (total / M).quantize(Decimal("0.000001"))


def _rates(model, when):
    from promptcache.knowledge.catalog import default_catalog

    return default_catalog().price(model, datetime.fromisoformat(when)).rates


def test_openai_small_and_o_series_models_are_priced():
    # prompt 4,000 (2,000 cached), output 500
    def cost(model, when="2026-11-01T00:00:00+00:00"):
        r = _rates(model, when)
        return (2000 * r.input_miss + 2000 * r.input_hit + 500 * r.output) / M

    assert cost("gpt-4o-mini") == Decimal(750) / M  # 2000*0.15 + 2000*0.075 + 500*0.60 = 300 + 150 + 300
    assert cost("gpt-4.1-nano") == Decimal(450) / M  # 2000*0.10 + 2000*0.025 + 500*0.40 = 200 + 50 + 200
    assert cost("o4-mini") == Decimal(4950) / M  # 2000*1.10 + 2000*0.275 + 500*4.40 = 2200 + 550 + 2200
    assert cost("o3-mini") == Decimal(5500) / M  # 2000*1.10 + 2000*0.55 + 500*4.40 = 2200 + 1100 + 2200
    assert cost("o1") == Decimal(75000) / M  # 2000*15 + 2000*7.5 + 500*60 = 30000 + 15000 + 30000
    # o3 before and after its 2025 price cut: 2000*10 + 2000*2.5 + 500*40 = 45000; 2000*2 + 2000*0.5 + 500*8 = 9000
    assert cost("o3", "2025-05-01T00:00:00+00:00") == Decimal(45000) / M
    assert cost("o3") == Decimal(9000) / M


def test_claude_haiku_is_priced_with_its_cache_write_rates(write_log):
    # the case-1 call on Haiku 4.5: 100*1 + 2000*0.10 + 600*1.25 + 400*2 + 50*5 = 100 + 200 + 750 + 800 + 250 = 2100
    r = analyze([write_log([_anthropic("claude-haiku-4-5-20251001")])], AnalyzeOptions(now=NOW, compare=[]))
    assert r.observed.cost_usd == Decimal(2100) / M
    # Haiku 3.5: 100*0.8 + 2000*0.08 + 600*1 + 400*1.6 + 50*4 = 80 + 160 + 600 + 640 + 200 = 1680
    r = analyze([write_log([_anthropic("claude-3-5-haiku-20241022")])], AnalyzeOptions(now=NOW, compare=[]))
    assert r.observed.cost_usd == Decimal(1680) / M


def test_long_context_prices_the_whole_request_above_the_threshold(write_log):
    # Sonnet 4.5 above 200K input tokens (reads + writes + the rest): $6 input, $0.60 reads, $22.50 output.
    # 1,000 fresh + 200,000 read = 201,000 > 200,000: 1000*6 + 200000*0.6 + 1000*22.5 = 6000 + 120000 + 22500 = 148500
    long = _anthropic(fresh=1000, read=200_000, w5=0, w1=0, out=1000)
    r = analyze([write_log([long])], AnalyzeOptions(now=NOW, compare=[]))
    assert r.observed.cost_usd == Decimal(148500) / M
    # 199,000 read = 200,000 in all, not above: 1000*3 + 199000*0.3 + 1000*15 = 3000 + 59700 + 15000 = 77700
    short = _anthropic(fresh=1000, read=199_000, w5=0, w1=0, out=1000)
    r = analyze([write_log([short])], AnalyzeOptions(now=NOW, compare=[]))
    assert r.observed.cost_usd == Decimal(77700) / M
    # in a Message Batch the 50% applies on top of the long-context rates: 148500 / 2 = 74250
    req = write_log([{"custom_id": "q1", "params": long["request"]}], name="requests.jsonl")
    res = write_log([{"custom_id": "q1", "result": {"type": "succeeded", "message": long["response"]}}],
                    name="results.jsonl")
    r = analyze([req, res], AnalyzeOptions(now=NOW, compare=[]))
    assert r.observed.cost_usd == Decimal(74250) / M


# --- invariants --------------------------------------------------------------------------------------

def test_every_price_tier_and_schedule_has_a_source_and_a_date():
    from promptcache.knowledge.catalog import default_catalog

    cat = default_catalog()
    for m in cat.models:
        for p in m.prices:
            assert p.source and p.as_of, m.id
            for t in p.tiers.values():
                assert t.source and t.as_of, m.id
            if p.long_context is not None:
                assert p.long_context.source and p.long_context.as_of, m.id
    for s in (*cat.schedules.values(), *cat.service_tiers.values()):
        assert s.source and s.as_of


def test_blended_rate_does_not_depend_on_the_hour():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from promptcache.knowledge.catalog import BLEND, default_catalog

    cat = default_catalog()
    day = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday, peak windows in force

    @settings(max_examples=200, deadline=None)
    @given(st.integers(0, 86_399), st.sampled_from(["deepseek-v4-pro", "deepseek-flash", "gpt-4o"]))
    def check(second, model):
        from datetime import timedelta

        at = day + timedelta(seconds=second)
        b = cat.bucket(model, day, list_at=at, blend=True)
        assert b == cat.bucket(model, day, list_at=day, blend=True)
        r = cat.rates(*b)
        entry = cat.model(model).prices[b[1]]
        if entry.peak is not None:
            assert b[2] == BLEND and entry.input_miss < r.input_miss < entry.peak.input_miss

    check()


def test_every_model_the_real_logs_show_is_priced(realdata):
    import re

    from promptcache.knowledge.catalog import default_catalog

    cat = default_catalog()
    names = set()
    for f in realdata.rglob("*"):
        if f.is_file() and f.suffix in (".json", ".jsonl", ".yaml", ".yml", ".traj"):
            names |= set(re.findall(r'"model"\s*:\s*"([^"]+)"', f.read_text(errors="replace")))
    names = {n for n in names if not n.startswith(("trace", "qwen-"))}
    assert names and not [n for n in sorted(names) if cat.find(n) is None]


def test_gpt_5_5_standard_and_priority():
    # prompt 4,000 (2,000 cached), output 500 on GPT-5.5: 2000*5 + 2000*0.5 + 500*30 = 10000 + 1000 + 15000 = 26000;
    # priority 2000*12.5 + 2000*1.25 + 500*75 = 25000 + 2500 + 37500 = 65000
    from promptcache.knowledge.catalog import default_catalog

    cat = default_catalog()
    b = cat.bucket("gpt-5.5", NOW)
    for variant, want in ((b, 26000), (cat.variant(b, "priority"), 65000)):
        r = cat.rates(*variant)
        assert 2000 * r.input_miss + 2000 * r.input_hit + 500 * r.output == want


def test_gpt_5_6_dated_price_changes():
    # Luna: prompt 4,000 (1,000 cached, 1,000 written), output 500.
    # before 2026-07-30: 2000*1.00 + 1000*0.10 + 1000*1.25 + 500*6.00 = 2000 + 100 + 1250 + 3000 = 6350
    # after the cut:     2000*0.20 + 1000*0.02 + 1000*0.25 + 500*1.20 = 400 + 20 + 250 + 600 = 1270
    def cost(when):
        r = _rates("gpt-5.6-luna", when)
        return 2000 * r.input_miss + 1000 * r.input_hit + 1000 * r.cache_write_5m + 500 * r.output

    assert cost("2026-07-01T00:00:00+00:00") == 6350
    assert cost("2026-11-01T00:00:00+00:00") == 1270


def test_lint_takes_the_teams_peak_share_from_the_cli_and_the_config(tmp_path, monkeypatch, capsys):
    """The team's own peak share reaches the monthly cost: ``--peak-share`` or ``[tool.promptcache.lint]``."""
    import json

    from promptcache.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.j2").write_text("You are {{ name }}.\n" + "Always cite the policy section. " * 40 + "\n")
    args = ["lint", "b.j2", "--format", "json", "--min-static-tokens", "10", "--model", "deepseek-v4-pro",
            "--calls-per-day", "1000", "--at", "2026-11-30"]

    def monthly(*extra):
        assert main([*args, *extra]) == 1
        return Decimal(str(json.loads(capsys.readouterr().out)[0]["monthly_cost_usd"]))

    week, half = monthly(), monthly("--peak-share", "0.5")
    # at half the calls in peak hours the gap is (0.66 - 0.022) x 1.5 per 1M, against x 29/24 for the week's blend
    assert abs(half / week - Decimal("1.5") * 24 / 29) < Decimal("0.005")  # both figures are rounded to cents
    (tmp_path / "pyproject.toml").write_text("[tool.promptcache.lint]\npeak_share = 0.5\n")
    assert monthly() == half
    (tmp_path / "pyproject.toml").write_text("[tool.promptcache.lint]\npeak_share = 2\n")
    assert main(args) == 2
    assert "peak_share must be a number between 0 and 1" in capsys.readouterr().err
