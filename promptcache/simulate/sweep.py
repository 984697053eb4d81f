"""``--sweep`` and ``--cache-param`` parsing, validated against a policy's parameters.

``parse_sweep("ttl=5m,1h,6h", policy)`` gives one override dict per value
(``[{"ttl_5m_s": "5m"}, ...]``); several ``--sweep`` specs multiply out (every combination).
``parse_params(["min_tokens=2048"], policy)`` gives one override dict. Values are durations
("5m", "1h", "300s", "inf"), integers, floats, or words (``breakpoints=auto``). ``ttl`` is an alias
for the policy's main lifetime parameter.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from ..errors import ConfigError
from .engine import seconds
from .policies import policy_params

#: the parameter ``ttl`` means for each rule
TTL_ALIAS = {
    "deepseek-v4-units": "eviction_idle_s",
    "deepseek-legacy-64": "eviction_idle_s",
    "openai-auto": "idle_s",
    "openai-breakpoints": "ttl_s",
    "anthropic-breakpoints": "ttl_5m_s",
    "gemini-implicit": "idle_s",
}
DURATION_SUFFIX = ("_s",)


def _value(key: str, raw: str) -> Any:
    raw = raw.strip()
    if not raw:
        raise ConfigError(f"--cache-param {key}: empty value")
    if key.endswith(DURATION_SUFFIX):
        try:
            v = seconds(raw)
        except ValueError:
            raise ConfigError(f"{key}={raw!r}: not a duration (use e.g. 300, 300s, 5m, 1h, 1d, inf)") from None
        if v < 0:
            raise ConfigError(f"{key}={raw!r}: a duration cannot be negative")
        return v
    for conv in (int, float):
        try:
            return conv(raw)
        except ValueError:
            pass
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    return raw


def _key(key: str, policy: str) -> str:
    params = policy_params(policy)
    key = key.strip()
    if key == "ttl":
        alias = TTL_ALIAS.get(params["rule"])
        if alias is None:
            raise ConfigError(f"cache policy {policy!r} has no TTL to sweep")
        return alias
    if key not in params or key == "rule":
        if key == "scope_by_user":
            return key
        known = ", ".join(sorted(k for k in params if k != "rule"))
        raise ConfigError(f"cache policy {policy!r} has no parameter {key!r}; it has: {known}, ttl")
    return key


def _split(spec: str, what: str) -> tuple[str, str]:
    if "=" not in spec:
        raise ConfigError(f"{what} {spec!r}: expected key=value")
    k, v = spec.split("=", 1)
    return k, v


def parse_params(specs: Iterable[str], policy: str) -> dict[str, Any]:
    """``--cache-param key=value`` (repeatable) -> one override dict."""
    out: dict[str, Any] = {}
    for spec in specs:
        k, v = _split(spec, "--cache-param")
        key = _key(k, policy)
        out[key] = _value(key, v)
    policy_params(policy, out)  # validates
    return out


def parse_sweep(specs: str | Iterable[str], policy: str, base: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """``--sweep key=v1,v2,...`` (repeatable) -> one override dict per combination, on top of ``base``."""
    if isinstance(specs, str):
        specs = [specs]
    axes: list[list[tuple[str, Any]]] = []
    for spec in specs:
        k, vs = _split(spec, "--sweep")
        key = _key(k, policy)
        values = [v for v in vs.split(",") if v.strip()]
        if not values:
            raise ConfigError(f"--sweep {spec!r}: no values")
        axes.append([(key, _value(key, v)) for v in values])
    out = []
    for combo in itertools.product(*axes):
        d = dict(base or {})
        d.update(combo)
        policy_params(policy, d)
        out.append(d)
    return out
