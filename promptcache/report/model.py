"""The analysis report: what `promptcache analyze` found, as one versioned pydantic model.

Every renderer (terminal, JSON, Markdown, HTML) is a pure function of this model, and
``promptcache report`` can re-render a saved JSON report without re-analyzing. Money is a Decimal
serialized as a string; ``hit_ratio`` is hit / (hit + miss) input tokens.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


SCHEMA_VERSION = "1.0"

Money = Annotated[Decimal, PlainSerializer(lambda d: str(d), return_type=str, when_used="json")]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Observed(_Out):
    """What the log's own usage fields say (the provider's numbers), for calls that report them."""

    calls: int = Field(description="Calls whose usage reported the cache split.")
    cache_hit_tokens: int
    cache_miss_tokens: int
    output_tokens: int
    hit_ratio: float
    cost_usd: Money | None = Field(description="Priced at the logged model's rates; null when a model is not in the catalog.")
    unpriced_models: list[str] = []


class Breaker(_Out):
    """Where calls of a group first diverge."""

    segment: str = Field(description="tools, system, or 'message N (role)'.")
    token_offset: int = Field(description="Tokens of identical prefix before the divergence.")
    kind: str | None = Field(description="What varies there when recognizable: timestamp, date, uuid, ...")
    samples: list[str] = Field(description="Short excerpts of two calls at the divergence (empty with --redact).")


class Group(_Out):
    id: str
    label: str
    calls: int
    input_tokens: int
    static_prefix_tokens: int
    dynamic_suffix_tokens_mean: float
    breakers: list[Breaker]
    with_tools: int
    response_tool_calls: int
    thinking_calls: int


class Scenario(_Out):
    model: str
    layout: Literal["as_logged", "restructured"]
    cache_hit_tokens: int
    cache_miss_tokens: int
    cache_write_tokens: int = 0
    output_tokens: int
    hit_ratio: float
    cost_usd: Money
    peak_input_share: float = Field(description="Share of input tokens billed at peak-hour rates.")


class Action(_Out):
    kind: str
    message: str
    savings_usd: Money
    groups: list[str] = []


class Reason(_Out):
    rule: str
    message: str
    evidence: dict[str, float | int | str] = {}


class Recommendation(_Out):
    model: str
    layout: Literal["as_logged", "restructured"]
    baseline: str = Field(description="What the savings are measured against.")
    baseline_cost_usd: Money
    cost_usd: Money
    savings_usd: Money
    actions: list[Action]
    reasons: list[Reason]


class Concurrency(_Out):
    peak_in_flight: int
    peak_at: str | None
    latency_source: Literal["reported", "estimated", "mixed", "none"]
    seconds_above_limit: dict[str, float] = Field(description="Per model: seconds with more calls in flight than its limit.")


class Conversation(_Out):
    id: str
    calls: int
    input_tokens: int
    cache_hit_tokens: int
    hit_ratio: float


class SkippedLine(_Out):
    path: str
    line: int
    reason: str
    message: str


class Assumptions(_Out):
    prices: str
    cache_policy: dict[str, dict[str, float | int | str | bool]]
    tokenizer: str
    token_counts: str
    notes: list[str] = []


class Report(_Out):
    schema_version: str = SCHEMA_VERSION
    tool_version: str
    inputs: list[str]
    partial: bool = Field(False, description="True when the run was interrupted: figures cover only what was read.")
    lines_read: int
    calls: int
    skipped_lines: int
    skipped_by_reason: dict[str, int]
    skipped_examples: list[SkippedLine]
    period: tuple[str, str] | None
    tokenizer: str
    input_tokens: int
    reported_calls: int = Field(description="Calls whose token counts come from the provider's usage fields.")
    estimated_calls: int = Field(description="Calls whose token counts promptcache computed.")
    observed: Observed | None
    groups: list[Group]
    scenarios: list[Scenario]
    recommendation: Recommendation | None
    concurrency: Concurrency | None
    conversations: list[Conversation] = []
    assumptions: Assumptions
