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
