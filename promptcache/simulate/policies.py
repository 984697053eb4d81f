"""Prompt-cache simulators, one small policy per provider over shared prefix machinery.

``make_policy(model, measurer, policy=None, overrides=None)`` returns an object with
``request(shape, *, start, end, user, call=None) -> Outcome`` for calls fed in start-time order
(``call`` is the ``CacheHints`` of the call the shape came from, ``model.hints.cache_hints(call)``:
breakpoints, ``prompt_cache_key``, retention, ``tool_choice``...; None when the call set no cache
option, and policies then work as if the log carried none).
Which policy a model uses, and its parameters, come from the price catalog (``cache_policy``)
and ``data/cache_rules.json``; ``overrides`` (from ``--cache-param``/``--sweep``) replace
parameters. Parameters that differ per model or changed over time are resolved for the model
here and, when dated, per call by its start time.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..errors import ConfigError
from ..knowledge.cache_rules import default_rules
from ..measure.shape import Measurer, Shape
from ..model.hints import CacheHints
from .anthropic import AnthropicCache
from .deepseek import DeepSeekCache
from .engine import Dated, resolve, seconds
from .gemini import GeminiCache
from .ideal import IdealCache
from .openai import OpenAIAutoCache, OpenAIBreakpointCache
from .outcome import Outcome

GENERIC = {"scope_by_user"}

RULES = {
    "deepseek-v4-units": DeepSeekCache,
    "deepseek-legacy-64": DeepSeekCache,
    "openai-auto": OpenAIAutoCache,
    "openai-breakpoints": OpenAIBreakpointCache,
    "anthropic-breakpoints": AnthropicCache,
    "gemini-implicit": GeminiCache,
    "ideal": IdealCache,
}


class Policy(Protocol):
    def request(
        self, shape: Shape, *, start: float, end: float, user: str | None, call: CacheHints | None = None
    ) -> Outcome: ...


class FootprintPolicy(Policy, Protocol):
    """A policy that declares where each request reads and writes cache state (``DeepSeekCache.footprint``)."""

    def footprint(self, shape: Shape, *, user: str | None, call: CacheHints | None = None) -> tuple: ...


def policy_params(name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A policy's packaged parameters (``rule`` included) with ``overrides`` applied and checked."""
    rules = default_rules().policies.get(name)
    if rules is None:
        raise ConfigError(f"no cache rules named {name!r}; known: {', '.join(sorted(default_rules().policies))}")
    params = {"rule": rules.rule, **rules.params()}
    for k, v in (overrides or {}).items():
        if k == "rule" or (k not in params and k not in GENERIC):
            raise ConfigError(
                f"cache policy {name!r} has no parameter {k!r}; it has: "
                f"{', '.join(sorted(p for p in params if p != 'rule'))}"
            )
        params[k] = v
    return params


class CachedModel(Protocol):
    """What a simulator needs of a model: its cache policy's name, and the ids that dated or
    per-model rule parameters name it by (the catalog's ``ModelEntry`` is one; prices are not)."""

    @property
    def id(self) -> str: ...

    @property
    def aliases(self) -> list[str]: ...

    @property
    def cache_policy(self) -> str: ...


def make_policy(
    model: CachedModel | None, measurer: Measurer, *, policy: str | None = None, overrides: dict[str, Any] | None = None
) -> Policy:
    """The simulator for ``model`` (or the named ``policy``, e.g. ``ideal``), parameters resolved for it."""
    if policy:
        name = policy
    elif model is not None:
        name = model.cache_policy
    else:
        raise ConfigError("make_policy needs a model or a policy name")
    params = policy_params(name, overrides)
    rule = params.pop("rule")
    names = [model.id, *model.aliases] if model is not None else []
    params = {k: resolve(v, names) for k, v in params.items()}
    cls = RULES.get(rule)
    if cls is None:
        raise ConfigError(f"cache policy {name!r} ({rule}) is not simulated")
    if cls is DeepSeekCache:
        return DeepSeekCache(measurer, rule=rule, **params)
    try:
        return cls(measurer, **params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cache policy {name!r}: {exc}") from None


__all__ = [
    "RULES",
    "AnthropicCache",
    "Dated",
    "DeepSeekCache",
    "FootprintPolicy",
    "GeminiCache",
    "IdealCache",
    "OpenAIAutoCache",
    "OpenAIBreakpointCache",
    "Outcome",
    "Policy",
    "make_policy",
    "policy_params",
    "seconds",
]
