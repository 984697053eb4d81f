"""What `promptcache analyze` can be told: ``AnalyzeOptions``, with the documented defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..simulate.parallel import Executor

DEFAULT_MODELS = ("deepseek-v4-pro", "deepseek-flash")
DEFAULT_COMPARE = ("claude-sonnet-4-5", "gpt-4o")


@dataclass
class AnalyzeOptions:
    """Everything `promptcache analyze` can be told; the defaults are the documented ones."""

    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    compare: list[str] = field(default_factory=lambda: list(DEFAULT_COMPARE))
    at: datetime | None = None
    input_format: str = "auto"
    strict: bool = False
    cache_policy: str | None = None
    cache_params: dict[str, Any] = field(default_factory=dict)
    cache_param_specs: list[str] = field(default_factory=list)  # "key=value" (--cache-param, --ttl), parsed per policy
    # the policies ``cache_params`` were parsed for (the candidates'); None: every model's
    cache_params_policies: tuple[str, ...] | None = None
    sweep: list[str] = field(default_factory=list)  # "key=v1,v2" (--sweep)
    redact: bool = False
    catalog_path: Path | None = None
    quality_critical: list[str] = field(default_factory=list)  # group ids or label substrings kept on Pro
    config_path: Path | None = None  # a pyproject.toml whose [tool.promptcache] is read (quality_critical)
    jobs: int = 1  # worker processes for independent simulations; results are identical for any value
    now: datetime | None = None  # the clock for "current prices" (None: the time of the run); fixed for golden reports
    explain_call: str | None = None  # a request (call id or file:line) to explain in full (``--explain-call``)
    # where the simulations' work units (partitions) run: None in process, forked with ``jobs`` > 1;
    # ``--engine dask`` gives a Dask cluster's (``promptcache.cluster``). Results are identical for any
    executor: Executor | None = None

    def params_for(self, policy: str) -> dict[str, Any]:
        """The ``--cache-param`` / ``--ttl`` values a model simulated with ``policy`` runs with: they
        are given for the candidates' policy (every model's with ``--cache``); a model on another
        policy (a comparison row, the logged Claude model in the recommendation's current mix)
        keeps that policy's own defaults."""
        if self.cache_policy or self.cache_params_policies is None or policy in self.cache_params_policies:
            return self.cache_params
        return {}
