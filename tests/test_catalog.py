"""The price catalog: the issue's figures, the peak windows in Beijing time, holidays, aliases."""

from datetime import datetime
from decimal import Decimal

import pytest

from promptcache.errors import UnknownModelError
from promptcache.knowledge.catalog import default_catalog

cat = default_catalog()


def at(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


@pytest.mark.parametrize("model,when,miss,hit,out,peak", [
    ("deepseek-v4-pro", "2026-06-01T02:00:00Z", "0.435", "0.003625", "0.87", False),
    ("deepseek-v4-flash", "2026-06-01T02:00:00Z", "0.14", "0.0028", "0.28", False),
    ("deepseek-v4-pro", "2026-08-16T15:59:59Z", "0.435", "0.003625", "0.87", False),
    # Monday 2026-08-17: 02:00 UTC = 10:00 Beijing (peak); 05:00 UTC = 13:00 Beijing (lunch, off-peak)
    ("deepseek-v4-pro", "2026-08-17T02:00:00Z", "1.32", "0.044", "3.96", True),
    ("deepseek-v4-pro", "2026-08-17T05:00:00Z", "0.66", "0.022", "1.98", False),
    ("deepseek-v4-flash", "2026-08-17T07:00:00Z", "0.44", "0.014", "1.32", True),
    ("deepseek-flash", "2026-09-11T08:00:00Z", "0.30", "0.006", "1.20", True),
    ("deepseek-flash", "2026-09-11T11:00:00Z", "0.15", "0.003", "0.60", False),
    # Saturday, and a National Day holiday (Thursday 2026-10-01) are off-peak
    ("deepseek-v4-pro", "2026-11-28T02:00:00Z", "0.66", "0.022", "1.98", False),
    ("deepseek-v4-pro", "2026-10-01T02:00:00Z", "0.66", "0.022", "1.98", False),
])
def test_price_in_force(model, when, miss, hit, out, peak):
    p = cat.price(model, at(when))
    assert (p.rates.input_miss, p.rates.input_hit, p.rates.output) == (Decimal(miss), Decimal(hit), Decimal(out))
    assert p.peak is peak


def test_peak_window_edges_are_half_open():
    # 09:00 Beijing starts peak (01:00 UTC); 12:00 ends it (04:00 UTC); 18:00 ends the afternoon (10:00 UTC)
    assert cat.price("deepseek-v4-pro", at("2026-11-30T01:00:00Z")).peak
    assert not cat.price("deepseek-v4-pro", at("2026-11-30T00:59:59Z")).peak
    assert not cat.price("deepseek-v4-pro", at("2026-11-30T04:00:00Z")).peak
    assert cat.price("deepseek-v4-pro", at("2026-11-30T09:59:59Z")).peak
    assert not cat.price("deepseek-v4-pro", at("2026-11-30T10:00:00Z")).peak


def test_alias_resolves_to_the_provider_name():
    assert cat.model("deepseek-v4-flash").id == "deepseek-flash"


def test_unknown_model_suggests_nearest():
    with pytest.raises(UnknownModelError) as e:
        cat.model("deepseek-v4-prp")
    assert "deepseek-v4-pro" in e.value.candidates
    assert "Did you mean" in str(e.value)


def test_every_entry_has_source_and_date():
    for m in cat.models:
        for p in m.prices:
            assert p.source and p.as_of
        assert m.prices, m.id


def test_bucket_and_rates_agree_with_price():
    for when in ("2026-05-01T00:00:00Z", "2026-08-18T02:30:00Z", "2026-09-20T03:00:00Z"):
        b = cat.bucket("deepseek-v4-pro", at(when))
        assert cat.rates(*b) == cat.price("deepseek-v4-pro", at(when)).rates
