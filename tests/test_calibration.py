from decimal import Decimal

from promptcache.price.calibration import CallRow, calibrate


def test_groups_overall_and_flags():
    rows = [
        CallRow("a", 0, 0, 1000), CallRow("a", 900, 900, 1000, Decimal("0.1"), Decimal("0.1")),
        CallRow("b", 500, 0, 1000),  # warm start
        CallRow("c", 0, 0, 1000), CallRow("c", 800, 0, 1000, gap_s=900, ttl_s=300),
        CallRow("d", 0, 0, 1000), CallRow("d", 0, 900, 1000),
        CallRow("e", 0, 0, 2000), CallRow("e", 1000, 1010, 2000),
    ]
    cal = calibrate(rows)
    g = {x.group: x for x in cal.groups}
    assert not g["a"].flagged and g["a"].error == 0 and g["a"].error_usd == 0
    assert (g["b"].reason, g["c"].reason, g["d"].reason) == ("warm-start", "ttl-gap", "scope-split")
    assert not g["e"].flagged and abs(g["e"].error_pct - 0.25) < 1e-9
    assert cal.flagged == ["b", "c", "d"]
    assert cal.overall.observed == 3200 and cal.overall.simulated == 2810 and cal.overall.calls == 9


def test_unexplained_is_unobservable_rule():
    cal = calibrate([CallRow("x", 0, 0, 1000), CallRow("x", 1000, 500, 1000)])
    assert cal.groups[0].reason == "unobservable-rule"


# -- missed hits (issue 19.2): the provider reported no hit where the simulation read the prefix ------

def test_missed_hits_by_reason():
    """Calls with 0 observed and some simulated reads are listed by the reason given per call;
    a call the provider served (even partly) or the simulation missed too is not a missed hit."""
    rows = [
        CallRow("a", 0, 0, 1000),  # the first call: both miss
        CallRow("a", 0, 900, 1000, Decimal("0.00066"), Decimal("0.0000792"), missed_reason="eviction"),
        CallRow("a", 900, 900, 1000, missed_reason="eviction"),  # served: not missed
        CallRow("a", 0, 600, 1000, Decimal("0.00066"), Decimal("0.0002772"), missed_reason="not-built-yet"),
        CallRow("b", 0, 500, 1000, Decimal("0.00066"), Decimal("0.000319"), missed_reason="routing-overflow"),
        CallRow("b", 100, 500, 1000, missed_reason="routing-overflow"),  # a partial hit is not "no hit"
    ]
    cal = calibrate(rows)
    got = {m.reason: m for m in cal.missed}
    assert [m.reason for m in cal.missed] == ["not-built-yet", "routing-overflow", "eviction"]
    assert (got["eviction"].calls, got["eviction"].tokens, got["eviction"].groups) == (1, 900, ["a"])
    # what each miss cost over its simulated hit: observed minus simulated dollars
    assert got["eviction"].cost_usd == Decimal("0.00066") - Decimal("0.0000792")
    assert (got["not-built-yet"].tokens, got["routing-overflow"].tokens) == (600, 500)
    # the same calls are inside the groups' errors; the breakdown adds nothing to them
    assert cal.overall.error == (900 + 600 + 500 + 400) and cal.overall.observed == 1000


def test_no_missed_hits_when_the_provider_hit_where_the_simulation_did():
    cal = calibrate([CallRow("a", 0, 0, 1000), CallRow("a", 900, 900, 1000), CallRow("a", 950, 900, 1000)])
    assert cal.missed == []


def _deepseek_rows(reported, shapes, questions, system, gaps_s):
    rows = []
    t = 0.0
    for k, (q, s, hit) in enumerate(zip(questions, shapes, reported, strict=True)):
        t += gaps_s[k]
        stamp = f"2026-11-23T20:{int(t) // 60:02d}:{int(t) % 60:02d}Z"  # a Monday evening: off-peak
        rows.append({"timestamp": stamp, "latency_ms": 2000,
                     "request": {"model": "deepseek-v4-pro", "messages": [{"role": "system", "content": system},
                                                                          {"role": "user", "content": q}]},
                     "response": {"model": "deepseek-v4-pro",
                                  "choices": [{"message": {"role": "assistant", "content": "ok"}}],
                                  "usage": {"prompt_tokens": s.total, "completion_tokens": 1,
                                            "prompt_cache_hit_tokens": hit,
                                            "prompt_cache_miss_tokens": s.total - hit}}})
    return rows


def test_missed_hit_in_a_deepseek_log(write_log):
    """Ten calls of one template 2 minutes apart report exactly the hits the simulation reads,
    except call 6, which reports none: one missed hit, 2 minutes after the previous call (long past
    DeepSeek's build time), so ``eviction``. Its cost: the tokens the simulation read for it, at
    the miss rate instead of the hit rate: tokens x ($0.66 - $0.022) / 1M off-peak on V4 Pro."""
    from promptcache.analyze.pipeline import AnalyzeOptions, analyze
    from promptcache.knowledge.catalog import load_catalog
    from promptcache.measure.shape import Measurer
    from promptcache.model.calls import Call, Segment
    from promptcache.simulate.policies import make_policy

    system = "\n".join(f"Rule {i}: answer in the customer's language and cite section {i}." for i in range(150))
    questions = [f"Question {k}: where is order {1000 + 37 * k}?" for k in range(10)]
    m = Measurer("deepseek-v4")
    shapes = [m.shape(Call("t", 1, "deepseek-v4-pro", [Segment("system", system), Segment("user", q)],
                           output_text="ok"), trust_usage=False) for q in questions]
    sim = make_policy(load_catalog().find("deepseek-v4-pro"), m)
    reads = [sim.request(s, start=120.0 * (k + 1), end=120.0 * (k + 1) + 2, user=None).read
             for k, s in enumerate(shapes)]
    # DeepSeek keeps a shared prefix once two requests have it: calls 0 and 1 miss, the rest read
    # the 2,401-token system prompt (of 2,415)
    assert reads[:2] == [0, 0] and reads[2:] == [2401] * 8
    reported = [0 if k == 6 else x for k, x in enumerate(reads)]
    r = analyze([write_log(_deepseek_rows(reported, shapes, questions, system, [120.0] * 10))],
                AnalyzeOptions(models=["deepseek-v4-pro"], compare=[]))
    [missed] = r.calibration.missed_hits
    assert (missed.reason, missed.calls, missed.tokens, missed.groups) == ("eviction", 1, reads[6], ["g1"])
    # 2,401 x (0.66 - 0.022) / 1M = 2,401 x 0.638 / 1M = $0.001531838, shown to the millionth
    assert missed.cost_usd == Decimal("0.001532")

    clean = analyze([write_log(_deepseek_rows(reads, shapes, questions, system, [120.0] * 10), "clean.jsonl")],
                    AnalyzeOptions(models=["deepseek-v4-pro"], compare=[]))
    assert clean.calibration.missed_hits == []


def test_missed_reason_from_timing():
    """DeepSeek (5 s build time): a call starting within 2 x 5 s of the previous call's end is
    ``not-built-yet``; OpenAI (15 a minute per route): the 16th call within a minute is
    ``routing-overflow``; else ``eviction``."""
    from datetime import UTC, datetime

    from promptcache.analyze.pipeline import _MissedReason
    from promptcache.knowledge.catalog import load_catalog
    from promptcache.model.facts import CallFacts
    from promptcache.simulate.policies import policy_params

    def facts(start, end):
        return CallFacts(start, end, datetime(2026, 11, 23, tzinfo=UTC), None, "m", "g1", 0, None, True, True)

    catalog = load_catalog()
    ds = _MissedReason(policy_params("deepseek-v4"), catalog.find("deepseek-v4-pro"))
    assert [ds(facts(s, e)) for s, e in ((0, 2), (11, 13), (200, 202), (203, 204))] == [
        "eviction", "not-built-yet", "eviction", "not-built-yet"]  # 11 < 2 + 10; 200 > 13 + 10; 203 < 202 + 10
    oa = _MissedReason(policy_params(catalog.find("gpt-4o").cache_policy), catalog.find("gpt-4o"))
    got = [oa(facts(3.0 * k, 3.0 * k + 0.5)) for k in range(17)]  # one every 3 s (response begins at 0.5 s)
    assert got[:15] == ["eviction"] * 15 and got[15:] == ["routing-overflow"] * 2
