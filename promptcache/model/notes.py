"""The report's notes as data: one record per kind of note, a code and its typed parameters.

``analyze`` builds these (``Report.assumptions.note_records``) and never a sentence;
``report.notes_text`` writes each one (one function per code, every number format there) into
``assumptions.notes``, the strings a JSON report carries. A report read back from JSON has the
strings only, and keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal, get_args

Layout = Literal["as_logged", "restructured"]


@dataclass(frozen=True)
class PriceList:
    """The price list a call without a date is priced at: ``--at``'s when given, else today's."""

    at: datetime | None  # --at
    today: datetime


@dataclass(frozen=True)
class UntimedCalls:
    code: ClassVar[str] = "untimed_calls"
    calls: int
    prices: PriceList


@dataclass(frozen=True)
class RelativeTimes:
    code: ClassVar[str] = "relative_times"
    calls: int
    prices: PriceList


@dataclass(frozen=True)
class ReadingInterrupted:
    code: ClassVar[str] = "reading_interrupted"


@dataclass(frozen=True)
class BlockHashTrace:
    code: ClassVar[str] = "block_hash_trace"


@dataclass(frozen=True)
class IncompletePrompts:
    code: ClassVar[str] = "incomplete_prompts"
    calls: int


@dataclass(frozen=True)
class BeforeFirstPrice:
    """Calls dated before a candidate's first known price: priced at today's list."""

    code: ClassVar[str] = "before_first_price"
    calls: int
    model: str
    first_price: datetime
    today: datetime


@dataclass(frozen=True)
class ServiceTier:
    code: ClassVar[str] = "service_tier"
    calls: int
    tier: str
    unpublished: tuple[str, ...]  # models that publish no rates for the tier (priced at standard rates)


@dataclass(frozen=True)
class ObservedUnpriced:
    """Observed calls of a model the catalog does not know: left out of the observed cost."""

    code: ClassVar[str] = "observed_unpriced"
    calls: int
    model: str
    observed_calls: int


@dataclass(frozen=True)
class ObservedBeforeFirstPrice:
    code: ClassVar[str] = "observed_before_first_price"
    calls: int
    model: str
    observed_calls: int
    first_price: datetime


#: why the advisor did not keep a fix it found (``DropReason.code``)
DropCode = Literal[
    "costs_more",  # alone, it costs more on ``models``
    "costs_more_together",  # with the other kept fixes, the combination costs more on ``models``
    "saves_nothing",  # alone, it saves nothing on any candidate model
    "saves_little",  # less than ``amount`` on every candidate model, alone and with the others
    "no_shared_prefix",  # a model switch: the switched calls share no cached prefix with ``models[0]``'s turns
    "switch_costs_more",  # a model switch: keeping the conversations on ``models[0]`` costs more than reads save
    "saves_little_logged",  # a model switch: saves less than ``amount`` on the logged models
]


@dataclass(frozen=True)
class DropReason:
    """Why a found fix is not recommended, as data: ``report.notes_text`` writes the words."""

    code: DropCode
    models: tuple[str, ...] = ()
    amount: Decimal | None = None  # the smallest saving a report shows (USD)


@dataclass(frozen=True)
class BreakerNotRecommended:
    """A breaker found whose fix was not kept, and the advisor's reason."""

    code: ClassVar[str] = "breaker_not_recommended"
    group: str
    kind: str
    why: DropReason


@dataclass(frozen=True)
class BreakerNotReported:
    """A breaker found on the logged models only and not reported; ``why`` is the advisor's reason."""

    code: ClassVar[str] = "breaker_not_reported"
    group: str
    kind: str
    why: DropReason | None  # None: the group's recommended changes already remove them


@dataclass(frozen=True)
class BreakpointsUnread:
    """The log carries cache_control breakpoints and no candidate reads them."""

    code: ClassVar[str] = "breakpoints_unread"


@dataclass(frozen=True)
class BreakpointsPlaced:
    """A model that caches at breakpoints, on a log without them: placed at the latest user message."""

    code: ClassVar[str] = "breakpoints_placed"
    model: str


@dataclass(frozen=True)
class BreakpointsPerGroup:
    """The breakpoints each template group was given, per layout, on a model that needs them."""

    code: ClassVar[str] = "breakpoints_per_group"
    model: str
    # (layout, ((group, mode), ...)); a mode is auto (5 min), auto-1h (1 h) or logged (none)
    layouts: tuple[tuple[Layout, tuple[tuple[str, str], ...]], ...]


@dataclass(frozen=True)
class NoCalibration:
    code: ClassVar[str] = "no_calibration"
    model: str  # the logged model, neither a candidate nor a comparison


Step = Literal["preparation", "simulation", "breakers", "recommendation", "calibration"]


@dataclass(frozen=True)
class Stage:
    """A step of the analysis (what an interrupt cut short); a simulation names its model and layout."""

    step: Step
    model: str | None = None
    layout: Layout | None = None


@dataclass(frozen=True)
class AnalysisInterrupted:
    code: ClassVar[str] = "analysis_interrupted"
    stage: Stage
    simulated: bool  # some scenario finished
    missing: tuple[tuple[str, Layout], ...]  # (model, layout) not simulated
    findings: bool  # the what-ifs ran
    recommendation: bool


Note = (
    UntimedCalls
    | RelativeTimes
    | ReadingInterrupted
    | BlockHashTrace
    | IncompletePrompts
    | BeforeFirstPrice
    | ServiceTier
    | ObservedUnpriced
    | ObservedBeforeFirstPrice
    | BreakerNotRecommended
    | BreakerNotReported
    | BreakpointsUnread
    | BreakpointsPlaced
    | BreakpointsPerGroup
    | NoCalibration
    | AnalysisInterrupted
)
NOTE_TYPES: tuple[type, ...] = get_args(Note)


# --- the other words of the report, as data (each written by report/) ---------------------------

VolumeBasis = Literal["no_timestamps", "mean_over_days", "projected", "too_short"]  # Workload.calls_per_day_basis


@dataclass(frozen=True)
class PricesBasis:
    """Which price list and which hour priced the calls (``Assumptions.prices``)."""

    at: datetime | None  # --at
    blended: int  # calls without a date: at the week's blended peak/off-peak rate
    today: datetime


@dataclass(frozen=True)
class TokenCounts:
    """Where the prompt sizes come from (``Assumptions.token_counts``)."""

    reported: int  # calls with the provider's reported prompt size
    calls: int
    adjusted: int  # tokens of framing difference reconciled to the reported totals


@dataclass(frozen=True)
class ComparisonCounts:
    """How a comparison model's token counts were found: counted with its own family's tokenizer,
    the primary's counts scaled by a ratio measured on sampled calls, or unscaled (no text)."""

    model: str
    kind: Literal["counted", "scaled", "unscaled"]
    tokenizer: str  # counted: the tokenizer's name; scaled: the stand-in's
    primary: str  # the family whose counts are scaled
    ratio: float = 1.0
    samples: int = 0


@dataclass(frozen=True)
class Tokenizers:
    """The tokenizers the run counted with (``Assumptions.tokenizer``)."""

    names: tuple[str, ...]  # the candidates', in order
    comparisons: tuple[ComparisonCounts, ...]


@dataclass(frozen=True)
class Baseline:
    """What the recommendation's savings are measured against (``Recommendation.baseline``)."""

    kind: Literal["observed", "logged", "first_candidate"]
    model: str = ""  # logged, first_candidate: the model simulated as logged
    logged: str = ""  # first_candidate: the logged model, not a candidate
