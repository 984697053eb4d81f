import pytest

from promptcache.errors import ConfigError
from promptcache.simulate.sweep import parse_params, parse_sweep


def test_ttl_alias_and_durations():
    assert parse_sweep("ttl=5m,1h,6h", "anthropic") == [{"ttl_5m_s": 300}, {"ttl_5m_s": 3600}, {"ttl_5m_s": 21600}]
    assert parse_sweep("ttl=30m", "openai-5.6") == [{"ttl_s": 1800}]
    assert parse_sweep("ttl=1d,inf", "deepseek-v4")[1]["eviction_idle_s"] == float("inf")


def test_combinations_and_base():
    out = parse_sweep(["ttl=5m,10m", "min_tokens=1024,2048"], "openai", base={"overflow_rpm": 0})
    assert len(out) == 4 and all(o["overflow_rpm"] == 0 for o in out)
    assert {(o["idle_s"], o["min_tokens"]) for o in out} == {(300, 1024), (300, 2048), (600, 1024), (600, 2048)}


def test_params():
    assert parse_params(["breakpoints=auto", "lookback_blocks=10", "response_begin_s=0.2"], "anthropic") == {
        "breakpoints": "auto", "lookback_blocks": 10, "response_begin_s": 0.2}


@pytest.mark.parametrize("spec", ["nope=1", "ttl", "ttl=", "ttl=abc", "ttl=-5m"])
def test_errors(spec):
    with pytest.raises(ConfigError):
        parse_sweep(spec, "anthropic")
