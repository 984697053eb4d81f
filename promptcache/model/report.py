"""The analysis report: what `promptcache analyze` found, as one versioned pydantic model.

Every renderer (terminal, JSON, Markdown, HTML) is a pure function of this model, and
``promptcache report`` can re-render a saved JSON report without re-analyzing. Money is a Decimal
serialized as a string; ``hit_ratio`` is hit / (hit + miss) input tokens.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, overload

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, PlainSerializer, SkipValidation
from pydantic_core import core_schema

from .findings import FindingEvidence, PartName
from .notes import Baseline, Note, PricesBasis, TokenCounts, Tokenizers, VolumeBasis
from .strings import Coded

SCHEMA_VERSION = "1.1"

Money = Annotated[Decimal, PlainSerializer(lambda d: str(d), return_type=str, when_used="json")]
Layout = Literal["as_logged", "restructured"]  # what the `layout` fields below take
# what a finding rests on (a ``model.findings`` record), kept in memory for the renderer that writes
# its words; not in the JSON, which carries the words (a report read back keeps them)
EvidenceField = Annotated[FindingEvidence | None, SkipValidation, Field(exclude=True)]
Bucket = Literal["minute", "5 minutes", "15 minutes", "hour", "6 hours", "day", "week", "30 days"]  # Timeline.bucket


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Unpriced(_Out):
    """Observed calls left out of the observed cost, per logged model."""

    model: str
    calls: int
    share: float = Field(description="Share of the observed calls (0..1).")
    reason: Literal["unknown_model", "before_first_price"] = Field(
        description="unknown_model: the catalog has no price for it; before_first_price: the call is dated before "
        "the model's first known price."
    )


class Observed(_Out):
    """What the log's own usage fields say (the provider's numbers), for calls that report them."""

    calls: int = Field(description="Calls whose usage reported the cache split.")
    cache_hit_tokens: int
    cache_miss_tokens: int = Field(description="Input tokens neither read from nor written to the cache.")
    cache_write_tokens: int = Field(
        default=0,
        description="Input tokens written to the cache (billed at the "
        "provider's write rate: Anthropic 1.25x / 2x, GPT-5.6+ 1.25x).",
    )
    output_tokens: int
    hit_ratio: float
    cost_usd: Money | None = Field(
        description="The calls that could be priced, at the logged model's rates (see "
        "`unpriced` for the rest); null when none could."
    )
    priced_calls: int | None = Field(default=None, description="Calls in cost_usd (calls minus the unpriced ones).")
    unpriced_models: list[str] = []
    unpriced: list[Unpriced] = Field(default=[], description="Calls not in cost_usd, per model, with their share.")


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
    comparison: bool = Field(
        False,
        description="A comparison row (e.g. Claude, GPT): priced like the candidates but "
        "never recommended; its token counts may be scaled estimates.",
    )
    cache_hit_tokens: int
    cache_miss_tokens: int
    cache_write_tokens: int = 0
    output_tokens: int
    hit_ratio: float
    cost_usd: Money
    cache_storage_usd: Money = Field(
        Decimal(0),
        description="Part of cost_usd paid for keeping explicit caches "
        "(Gemini cachedContent), per hour; not split by group.",
    )
    peak_input_share: float = Field(description="Share of input tokens billed at peak-hour rates.")


class Action(_Out):
    kind: str
    message: Annotated[
        str,
        Field(
            description="The finding and its change, written by the renderer from kind and evidence (in JSON output)."
        ),
    ]
    savings_usd: Money
    groups: list[str] = []
    model: Annotated[
        str, Field(description="The model savings_usd is re-simulated on (the recommended option's main model).")
    ] = ""
    evidence: EvidenceField = None


class Reason(_Out):
    """One reason (or caveat) of the recommendation, as data: the rule it applies, a code naming the
    sentence, and the numbers it cites. ``report.recommendation_text`` writes the sentence."""

    rule: str
    code: Annotated[
        str,
        Field(
            description="Which sentence: e.g. groups_lean_pro, cheapest_allowed, volume (see docs/recommendation.md)."
        ),
    ] = ""
    message: Annotated[
        str,
        Field(
            description="The sentence, written by the renderer from code and evidence "
            "(in JSON output; ignored when a report is read back)."
        ),
    ] = ""
    evidence: dict[str, float | int | str] = {}


class ModelLoad(_Out):
    """One model's share of an option: its calls, and its concurrency against its limit."""

    model: str
    calls: int
    peak_in_flight: int
    limit: int | None
    headroom: int | None = Field(description="limit - peak_in_flight; negative when the option exceeds the limit.")
    seconds_above_limit: float
    requests_delayed: int = Field(0, description="Requests whose first attempt finds the limit reached (HTTP 429).")
    mean_delay_s: float = Field(
        0.0, description="Mean wait of those requests, retried until a slot frees (first come, first served)."
    )
    max_delay_s: float = 0.0


class Option(_Out):
    """One way to place the calls on models, priced by re-simulating every model's cache over the log."""

    name: str = Field(
        description="all_pro, all_flash, current_mix, per_group, hybrid_chain, or all:<model> for other candidates."
    )
    description: Annotated[
        str, Field(description="What the option does, written by the renderer (in JSON output).")
    ] = ""
    layout: Literal["as_logged", "restructured"]
    feasible: bool = Field(description="False when a model's peak concurrency under this option exceeds its limit.")
    meets_placement: bool = Field(
        description="Serves on Pro every call the workload's signals and the quality-critical setting place there."
    )
    calls: int
    calls_per_model: dict[str, int]
    calls_per_model_order: Annotated[
        list[str],
        Field(
            description="The models of calls_per_model, most calls first (ties in the order the log first used them)."
        ),
    ] = []
    cost_usd: Money = Field(description="At the rates in force at each call's time (or --at).")
    cost_per_1000_calls_usd: Money
    cost_usd_at_current_prices: Money = Field(
        description="At today's price entries, peak hours by each call's time of day."
    )
    cost_per_1000_calls_usd_at_current_prices: Money
    hit_ratio: float
    cache_hit_tokens: int
    cache_miss_tokens: int
    reasoning_on_pro_share: float | None = Field(
        description="Share of the planning and thinking calls of Pro-leaning "
        "groups served on Pro; null when there are none."
    )
    cache_lost_at_switch_tokens: int | None = Field(
        None,
        description="Hybrid only: input tokens that hit the cache in "
        "the all-Flash simulation but miss here because "
        "the chain's earlier calls ran on the other model.",
    )
    cache_lost_at_switch_usd: Money | None = None
    load: list[ModelLoad]
    reasons: list[Reason] = []


class TaskSignal(_Out):
    """Calls whose system prompt or last user message contains a plain keyword of one task kind."""

    kind: str
    calls: int
    keywords: dict[str, int] = Field(description="Keyword -> calls containing it.")


class GroupWorkload(_Out):
    group: str
    calls: int
    with_tools: int
    with_tools_share: float
    calls_with_tool_calls: int
    response_tool_calls: int
    thinking_calls: int = Field(description="Calls in thinking/reasoning mode or reporting reasoning tokens.")
    thinking_share: float
    reasoning_tokens: int
    chain_steps: int = Field(description="Calls that extend an earlier call's prompt or conversation.")
    chains_extended: int = Field(description="First calls that at least one later call extends.")
    output_tokens_mean: float
    task_signals: list[TaskSignal]
    quality_critical: bool
    leans: Literal["pro", "flash"]
    signals: Annotated[
        list[str],
        Field(
            description="What the leaning rests on: agentic_tool_use, reasoning, "
            "quality_critical, no_pro_signal, task_keywords, "
            "multi_step."
        ),
    ] = []
    why: Annotated[
        list[str], Field(description="The signals as sentences, written by the renderer (in JSON output).")
    ] = []


class PriceGapPoint(_Out):
    hit_ratio: float
    cost_per_1000_calls_usd: dict[str, Money]
    pro_over_flash: float | None


class CacheEconomy(_Out):
    input_tokens: int
    static_prefix_tokens: int = Field(
        description="Sum over calls of their group's static prefix: cacheable by any layout."
    )
    static_share: float
    hit_ratio: dict[str, float] = Field(description="Simulated hit ratio per model in the recommended layout.")
    mean_input_tokens: float
    mean_output_tokens: float
    prices_at: str  # written by report.recommendation_text from rates_date
    rates_date: date | None = Field(None, exclude=True)
    price_gap: list[PriceGapPoint] = Field(description="Cost of 1,000 mean calls per model at a range of hit ratios.")


class Workload(_Out):
    calls: int
    calls_per_day: float
    calls_per_day_basis: str  # written by report.recommendation_text from basis and span_s
    basis: VolumeBasis | None = Field(None, exclude=True)
    span_s: float | None = Field(None, exclude=True)
    busiest_day_calls: int
    peak_calls_per_minute: int
    peak_minute_at: str | None
    chains: int = Field(description="First calls (calls that extend no earlier call).")
    chain_steps: int
    latency_source: str
    peak_in_flight: int
    groups: list[GroupWorkload]
    cache: CacheEconomy | None = None


class Recommendation(_Out):
    model: str = Field(description="The model serving most calls under the recommended option (see option).")
    layout: Literal["as_logged", "restructured"]
    baseline: str = Field(description="What the savings are measured against.")
    baseline_basis: SkipValidation[Baseline | None] = Field(None, exclude=True)  # baseline as data
    baseline_cost_usd: Money
    cost_usd: Money
    savings_usd: Money
    actions: list[Action]
    reasons: list[Reason]
    option: str | None = Field(None, description="The recommended option's name (see options).")
    options: list[Option] = []
    savings_vs_current_mix_usd: Money | None = Field(
        None, description="Current mix minus the recommended option, same layout, each call at its own time."
    )
    quality_critical: list[str] = Field([], description="Groups kept on Pro by the quality_critical setting.")
    workload: Workload | None = None
    cautions: Annotated[
        list[Reason],
        Field(
            description="What the recommendation cannot know or assumes, as codes with their numbers (rule 'caveat')."
        ),
    ] = []
    caveats: Annotated[
        list[str], Field(description="The cautions as sentences, written by the renderer (in JSON output).")
    ] = []
    pro_model: Annotated[str | None, Field(description="The candidate taken as Pro (its id contains 'pro').")] = None
    flash_model: Annotated[str | None, Field(description="The candidate taken as Flash (its id contains 'flash').")] = (
        None
    )


class Headline(_Out):
    """The three changes the report leads with, each re-simulated over the whole log against the log
    as it was: fix the prompts and stay on the models as logged; switch models and leave the prompts;
    both. Every figure is a simulation (like against like); the provider's own numbers are in
    ``observed``."""

    as_logged_usd: Money | None = Field(
        description="Each call on the model it was logged with, prompts as logged; "
        "null when a logged model is not in the price catalog."
    )
    fix_prompts_usd: Money | None = Field(description="The same models, with every recommended prompt change.")
    switch_models_usd: Money = Field(description="The recommended placement on models, prompts as logged.")
    both_usd: Money = Field(description="The recommended placement with every recommended prompt change.")
    models_as_logged: list[str] = Field(
        description="The models the log's calls ran on (candidates' ids), most calls first."
    )
    models_recommended: list[str] = Field(description="The models of the recommended option, most calls first.")
    as_logged_hit_ratio: float | None = None
    fix_prompts_hit_ratio: float | None = None
    switch_models_hit_ratio: float
    both_hit_ratio: float
    option: str = Field(description="The recommended option (see recommendation.options).")


class Concurrency(_Out):
    peak_in_flight: int
    peak_at: str | None
    latency_source: Literal["reported", "estimated", "mixed", "none"]
    seconds_above_limit: dict[str, float] = Field(
        description="Per model: seconds with more calls in flight than its limit."
    )


class Conversation(_Out):
    id: str
    calls: int
    input_tokens: int
    cache_hit_tokens: int
    hit_ratio: float


def _column(values: Iterable[Any], code: str) -> array:
    """``values`` as an array of type ``code``; an array of that type is kept as is, and for an
    integer ``code`` an array of integers of any width (a narrowed column: ``ConversationRows``)."""
    if isinstance(values, array) and (values.typecode == code or (code in _INTS and values.typecode in _INTS)):
        return values
    try:
        return array(code, values)
    except OverflowError:
        raise ValueError("a conversation's count is out of range (64-bit integers)") from None


#: the typecodes of integer arrays
_INTS = "bBhHiIlLqQ"


def hit_ratio(hit: int, total: int) -> float:
    """A report's hit ratio: ``hit`` of ``total`` input tokens, rounded to 6 digits (0 without input)."""
    return round(hit / total, 6) if total else 0.0


class HitRatios(Sequence[float]):
    """``ConversationRows.hit_ratio`` of rows made from their sums: each row's ``hit_ratio(hit,
    input)``, made on read from the two columns (``hit`` and ``input``, shared with the rows)
    instead of a float kept a row (8 bytes). Equal to the list of those floats."""

    __slots__ = ("hit", "input")

    def __init__(self, hit: Sequence[int], input: Sequence[int]) -> None:
        if len(hit) != len(input):
            raise ValueError("hit and input columns of different lengths")
        self.hit, self.input = hit, input

    def __len__(self) -> int:
        return len(self.hit)

    @overload
    def __getitem__(self, i: int) -> float: ...
    @overload
    def __getitem__(self, i: slice) -> HitRatios: ...
    def __getitem__(self, i: int | slice) -> float | HitRatios:
        if isinstance(i, slice):
            return HitRatios(self.hit[i], self.input[i])
        return hit_ratio(self.hit[i], self.input[i])

    def __iter__(self) -> Iterator[float]:
        return map(hit_ratio, self.hit, self.input)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal by value, as the list it stands for

    def __repr__(self) -> str:
        return f"HitRatios({list(self)!r})"


class ConversationRows(Sequence[Conversation]):
    """``Report.conversations``: one row per conversation (~0.4 a call on chat logs), held as columns:
    an id and four numbers a row (~40 bytes; ~13 where the counts are narrowed and the ratio is
    made on read, ``HitRatios``) instead of a pydantic object (~550). A row is a
    ``Conversation`` built on access; the field validates from and serializes to a list of
    ``Conversation``, so the JSON and its schema are those of ``list[Conversation]``
    (``report.as_json`` writes the rows in pieces, never the whole list as one text)."""

    __slots__ = ("cache_hit_tokens", "calls", "hit_ratio", "ids", "input_tokens")

    def __init__(
        self,
        ids: Iterable[str] | Coded = (),
        calls: Iterable[int] = (),
        input_tokens: Iterable[int] = (),
        cache_hit_tokens: Iterable[int] = (),
        hit_ratio: Iterable[float] = (),
    ) -> None:
        """The rows from their columns, in order (arrays of the right type are kept, not copied: the
        counts an array of integers of any width, the ratios ``HitRatios`` or an array of floats)."""
        # ``Coded``: the ids as codes into the run's string table (4 bytes a row), kept as given
        self.ids: list[str] | Coded = ids if isinstance(ids, Coded) else list(ids)
        self.calls = _column(calls, "q")
        self.input_tokens = _column(input_tokens, "q")
        self.cache_hit_tokens = _column(cache_hit_tokens, "q")
        # ``HitRatios``: made on read from the hit and input columns (rows made from sums), kept as given
        self.hit_ratio: array | HitRatios = hit_ratio if isinstance(hit_ratio, HitRatios) else _column(hit_ratio, "d")
        n = len(self.ids)
        if not len(self.calls) == len(self.input_tokens) == len(self.cache_hit_tokens) == len(self.hit_ratio) == n:
            raise ValueError("conversation columns of different lengths")

    @classmethod
    def of(cls, rows: Iterable[Conversation]) -> ConversationRows:
        """The rows of ``rows`` (e.g. a validated list), in their order."""
        if isinstance(rows, ConversationRows):
            return rows
        rows = list(rows)
        return cls(
            [r.id for r in rows],
            [r.calls for r in rows],
            [r.input_tokens for r in rows],
            [r.cache_hit_tokens for r in rows],
            [r.hit_ratio for r in rows],
        )

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, i: int) -> Conversation: ...
    @overload
    def __getitem__(self, i: slice) -> ConversationRows: ...
    def __getitem__(self, i: int | slice) -> Conversation | ConversationRows:
        if isinstance(i, slice):
            return ConversationRows(
                self.ids[i], self.calls[i], self.input_tokens[i], self.cache_hit_tokens[i], self.hit_ratio[i]
            )
        return Conversation(
            id=self.ids[i],  # type: ignore[arg-type]  # a row's id is never None
            calls=self.calls[i],
            input_tokens=self.input_tokens[i],
            cache_hit_tokens=self.cache_hit_tokens[i],
            hit_ratio=self.hit_ratio[i],
        )

    def __iter__(self) -> Iterator[Conversation]:
        for i in range(len(self.ids)):
            yield self[i]

    def tuples(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[str, int, int, int, float]]:
        """Rows ``start:stop`` as (id, calls, input_tokens, cache_hit_tokens, hit_ratio), no object a row."""
        stop = len(self.ids) if stop is None else stop
        return zip(
            self.ids[start:stop],  # type: ignore[arg-type]  # a row's id is never None
            self.calls[start:stop],
            self.input_tokens[start:stop],
            self.cache_hit_tokens[start:stop],
            self.hit_ratio[start:stop],
            strict=True,
        )

    def with_ids(self, fn: Callable[[str], str]) -> ConversationRows:
        """The same rows with ``fn`` applied to every id (the numbers' columns shared, not copied)."""
        ids = [fn(x) for x in self.ids]  # type: ignore[arg-type]  # a row's id is never None
        return ConversationRows(ids, self.calls, self.input_tokens, self.cache_hit_tokens, self.hit_ratio)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ConversationRows):
            return (
                self.ids == other.ids
                and self.calls == other.calls
                and self.input_tokens == other.input_tokens
                and self.cache_hit_tokens == other.cache_hit_tokens
                and self.hit_ratio == other.hit_ratio
            )
        if isinstance(other, list):
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable columns: unhashable, like the list it stands for

    def __repr__(self) -> str:
        return f"ConversationRows({len(self)} rows)"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        rows = handler.generate_schema(list[Conversation])

        def validate(value: Any, inner: core_schema.ValidatorFunctionWrapHandler) -> ConversationRows:
            if isinstance(value, ConversationRows):
                return value
            return cls.of(inner(value))

        return core_schema.no_info_wrap_validator_function(
            validate,
            rows,
            serialization=core_schema.plain_serializer_function_ser_schema(list, return_schema=rows),
        )


class RequestDiff(_Out):
    """Where a request's prompt first differs from the nearest earlier prompt."""

    part: str = Field(
        description="The part of the prompt: `tools` or `messages[k]` (k counts parts after the tool list)."
    )
    role: str = Field(description="That part's role in the later prompt; empty when the later prompt ends there.")
    offset: int = Field(description="Characters into that part where the two prompts first differ.")
    before: str = Field(description="The earlier prompt there (an excerpt; empty under --redact).")
    after: str = Field(description="This request's prompt there (an excerpt; empty under --redact).")
    varies: str | None = Field(None, description="What varies there when recognizable: timestamp, date, time, uuid...")
    earlier_call: str = Field(description="The earlier request compared with: its call id, else file:line.")
    same_conversation: bool = Field(
        description="True when the earlier request is the previous call of the conversation."
    )


class WorstRequest(_Out):
    """A request that lost cacheable tokens, with where its prompt first differs from an earlier one."""

    call: str = Field(description="The request: its call id as the log gives it, else file:line.")
    location: str = Field(description="file:line of the request in the input.")
    group: str
    conversation: str | None = None
    model: str = Field(description="The model the hit tokens are simulated on (the model as logged where simulated).")
    input_tokens: int
    hit_tokens: int = Field(description="Tokens read from cache, simulated as logged.")
    hit_tokens_fixed: int = Field(description="Tokens read from cache, simulated with the recommended prompt fixes.")
    lost_tokens: int = Field(description="Cacheable tokens lost: hit_tokens_fixed - hit_tokens.")
    diff: RequestDiff | None = Field(
        None, description="Null when the prompt extends the earlier one whole, or has none."
    )


class SkippedLine(_Out):
    path: str
    line: int
    reason: str
    message: str


class LayoutPart(_Out):
    """One part of a prompt in a before/after layout, in reading order."""

    part: Annotated[str, Field(description="The part's name, written by the renderer (in JSON output).")]
    tokens: int
    static: bool = Field(description="Identical in every sampled call of the group (cacheable).")
    name: Annotated[PartName | None, SkipValidation, Field(exclude=True)] = None  # the name as data


class FixSavings(_Out):
    """A finding's savings on one model, each from re-simulating the whole log."""

    model: str
    alone_usd: Money = Field(description="As logged minus with only this change applied.")
    marginal_usd: Money = Field(description="All recommended changes but this one, minus all of them.")
    cache_hit_tokens_gained: int = Field(description="Extra cache-hit tokens with only this change applied.")


class Finding(_Out):
    """A cache breaker found in the log, the concrete change, and what it saves."""

    id: str
    kind: str
    group: str
    segment: Annotated[str, Field(description="Where the breaker is, written by the renderer (in JSON output).")]
    message: Annotated[
        str, Field(description="What breaks, written by the renderer from kind and evidence (in JSON output).")
    ]
    change: Annotated[str, Field(description="The change that removes it, written by the renderer (in JSON output).")]
    evidence: EvidenceField = None
    calls: int = Field(description="Calls of the group the change applies to.")
    tokens: int = Field(description="Input tokens of those calls.")
    savings_usd: Money = Field(description="Savings alone on savings_model (re-simulated).")
    savings_model: Annotated[
        str,
        Field(
            description="The model savings_usd is on: the model the log's calls ran "
            "on when it is a candidate, else the recommended one."
        ),
    ] = ""
    best_model: str = Field(
        "",
        description="The candidate model this change saves most on (a breakpoint or "
        "prompt_cache_key fix saves only on the provider that reads it).",
    )
    best_savings_usd: Money = Field(Decimal(0), description="Savings alone on best_model (re-simulated).")
    keeps_information: bool = Field(
        description="True when the model still sees everything after the change (moved, "
        "reordered or re-serialized, nothing removed)."
    )
    samples: list[str] = Field(
        description="Short, masked excerpts of two calls where they differ (empty with --redact)."
    )
    before: list[LayoutPart]
    after: list[LayoutPart]
    savings: list[FixSavings]


class CalibrationRow(_Out):
    """Simulated cache reads next to the provider's reported ones, for one group or overall."""

    group: str
    calls: int
    input_tokens: int
    observed_hit_tokens: int
    simulated_hit_tokens: int
    error_tokens: int = Field(description="Simulated minus observed cache-hit tokens.")
    error_pct: float = Field(description="The error as a share of the input tokens, in percent.")
    observed_cost_usd: Money
    simulated_cost_usd: Money
    error_usd: Money
    flagged: bool = Field(description="Off by more than the tolerance.")
    reason: str = Field(
        description="The likeliest reason when flagged: warm-start, ttl-gap, scope-split, unobservable-rule."
    )
    detail: str


class FitPoint(_Out):
    """One setting of the fitted cache-rule parameters, against the provider's reported hits."""

    params: dict[str, str]
    error_tokens: int = Field(
        description="Sum over the calls reporting cache usage of |simulated - observed| cache-hit tokens."
    )
    error_pct: float = Field(description="error_tokens as a share of those calls' input tokens, in percent.")


class Fit(_Out):
    """Unpublished cache-rule parameters (the policy's ``fit`` grid in cache_rules.json) fitted to the
    provider's reported cache hits. Every figure of the report uses ``assumed``."""

    model: str
    policy: str
    calls: int = Field(description="Calls whose reported cache usage the fit is measured on.")
    assumed: FitPoint = Field(description="The values the simulation used (packaged defaults or --cache-param).")
    fitted: FitPoint = Field(description="The grid point closest to the reported hits (the first of equals).")
    grid: list[FitPoint] = Field(description="Every grid point tried, in order.")


class MissedHits(_Out):
    """Calls whose prefix the simulation found cached while the provider reported no cached token,
    for one likeliest reason (already inside the groups' errors: a breakdown, not an addition)."""

    reason: Literal["not-built-yet", "routing-overflow", "eviction"]
    calls: int
    tokens: int = Field(description="Cached tokens the simulation read for these calls and the provider did not.")
    cost_usd: Money = Field(description="What these calls cost as reported minus as simulated.")
    groups: list[str]


class Calibration(_Out):
    """How close the simulation of the logged model comes to what the provider billed."""

    model: str
    tolerance_pct: float
    overall: CalibrationRow
    groups: list[CalibrationRow]
    missed_hits: list[MissedHits] = Field(
        default_factory=list,
        description=("Calls the simulation served from the cache and the provider did not, by likeliest reason."),
    )
    fit: Fit | None = Field(
        None,
        description="Unpublished parameters fitted to the reported hits (null when "
        "the policy has none to fit, or --cache-param set them).",
    )


class SweepRow(_Out):
    """One cache-rule parameter setting (``--sweep``), re-simulated."""

    params: dict[str, str]
    model: str
    layout: Literal["as_logged", "restructured"]
    hit_ratio: float
    cost_usd: Money


class Assumptions(_Out):
    prices: str
    cache_policy: dict[str, dict[str, float | int | str | bool]]
    tokenizer: str
    token_counts: str
    # prices, tokenizer and token_counts as data (not in the JSON), written by report.notes_text
    prices_basis: SkipValidation[PricesBasis | None] = Field(None, exclude=True)
    tokenizers: SkipValidation[Tokenizers | None] = Field(None, exclude=True)
    token_count_basis: SkipValidation[TokenCounts | None] = Field(None, exclude=True)
    notes: list[str] = []
    # the notes as data, written into ``notes`` by report.notes_text (not in the JSON: a report read back keeps
    # the strings); SkipValidation: the records are built by analyze, never parsed
    note_records: SkipValidation[list[Note]] = Field(default_factory=list, exclude=True)


class SimulatedSeries(_Out):
    """One scenario's simulated hit ratio per timeline bucket."""

    model: str
    layout: Literal["as_logged", "restructured"]
    hit_ratio: list[float | None] = Field(description="Per bucket; null where the bucket has no input tokens.")


class GroupCache(_Out):
    """Cache hits of one template group under one source (observed usage or a simulated scenario)."""

    group: str
    source: str = Field(description="'observed', or 'model/layout' for a simulated scenario.")
    hit_tokens: int
    input_tokens: int


class Timeline(_Out):
    """Per-bucket series for charts: calls, hit ratios (observed and simulated), concurrency.

    Buckets are equal spans from ``start`` (hour or day, or finer for short logs), at most ~200.
    Only calls with a timestamp are counted.
    """

    bucket: Literal["minute", "5 minutes", "15 minutes", "hour", "6 hours", "day", "week", "30 days"]
    bucket_seconds: int
    starts: list[str] = Field(description="ISO start time of each bucket.")
    calls: list[int]
    observed_hit_ratio: list[float | None] = Field(
        description="From the provider's usage; null where no call in the bucket reports it."
    )
    simulated: list[SimulatedSeries]
    max_in_flight: list[int] = Field(description="Most calls in flight at once within each bucket.")
    limits: dict[str, int] = Field({}, description="Per model: its concurrency limit, where known.")
    group_cache: list[GroupCache] = Field(
        [], description="Per template group: cached vs total input tokens, observed and per scenario."
    )


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
    block_trace: bool = Field(False, exclude=True)  # tokenizer: none (a block-hash trace), written by report/
    input_tokens: int
    reported_calls: int = Field(description="Calls whose token counts come from the provider's usage fields.")
    estimated_calls: int = Field(description="Calls whose token counts promptcache computed.")
    observed: Observed | None
    groups: list[Group]
    scenarios: list[Scenario]
    recommendation: Recommendation | None
    headline: Annotated[
        Headline | None,
        Field(
            description="Fix the prompts, switch models, or both, each "
            "re-simulated against the log as logged (null without a "
            "recommendation)."
        ),
    ] = None
    concurrency: Concurrency | None
    conversations: ConversationRows = ConversationRows()
    findings: list[Finding] = Field([], description="Cache breakers with their fixes, largest savings first.")
    worst_requests: Annotated[
        list[WorstRequest],
        Field(
            description="The requests that lost the most cacheable "
            "tokens to prompt changes, most first, each with its "
            "first difference."
        ),
    ] = []
    explained_call: Annotated[WorstRequest | None, Field(description="The request asked for with --explain-call.")] = (
        None
    )
    calibration: Calibration | None = Field(
        None, description="Simulated vs observed cache reads (when the log reports them)."
    )
    sweep: list[SweepRow] = Field([], description="Costs under each --sweep setting of the cache rules.")
    input_formats: dict[str, str] = Field({}, description="The format each input file was read as.")
    logged_models: Annotated[
        dict[str, int], Field(description="Calls per model as logged (the catalog's id where known), most calls first.")
    ] = {}
    assumptions: Assumptions
    timeline: Timeline | None = Field(
        None, description="Series over time for the HTML charts (null when no call has a timestamp)."
    )
