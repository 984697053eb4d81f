"""Token counts across providers, for repricing a log on another provider's model.

Repricing keeps the conversation and its timing and changes the rules, the prices and the token
counts. ``token_translation(source, target, calls)`` decides how the target's counts are had:

- the target family has an exact tokenizer here (``deepseek-v4``, ``o200k``, ``cl100k``): each
  call is counted with it (ratio 1.0) -> label ``counted with <tokenizer>``;
- otherwise (Claude, Gemini: no public tokenizer) the target's counts are the stand-in
  tokenizer's, scaled so that they agree on average with what the log reports:
  ``r = sum(reported input tokens) / sum(stand-in count)`` over the calls whose usage the log
  reports, when the log comes from the target's own provider; for a log from another provider
  the ratio is ``sum(stand-in count) / sum(reported input tokens)`` applied to the reported
  counts -> label ``scaled by r from N reported calls``. With no reported calls the stand-in
  counts are used unscaled and the label says so.

``scale_shape`` applies a ratio to a shape's piece counts (per piece, rounded, O(pieces)).
Breakpoints are translated by the policies themselves (``breakpoints="auto"`` override).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..model.calls import Call
from .shape import Measurer, Shape
from .tokens import get_tokenizer


@dataclass(frozen=True, slots=True)
class TokenTranslation:
    source_family: str
    target_family: str
    method: str  # "counted" | "scaled" | "estimated"
    ratio: float  # multiply the counts named by ``basis`` by this
    basis: str  # "target" (counted with the target tokenizer), "stand-in" or "reported"
    calls: int  # calls the ratio was calibrated on
    label: str


def _exact(family: str) -> bool:
    try:
        return get_tokenizer(family).exact
    except Exception:
        return False


def token_translation(source_family: str, target_family: str, calls: Iterable[Call], *,
                      measurer: Measurer | None = None, limit: int = 200) -> TokenTranslation:
    """How to get the target's token counts for a log written against ``source_family``."""
    if _exact(target_family):
        name = get_tokenizer(target_family).name
        return TokenTranslation(source_family, target_family, "counted", 1.0, "target", 0, f"counted with {name}")
    m = measurer or Measurer(target_family)
    reported = counted = n = 0
    for call in calls:
        if call.usage is None or not call.usage.input_tokens or not call.segments:
            continue
        if call.segments[0].role == "block":
            continue  # a hash trace has no text to count
        reported += call.usage.input_tokens
        counted += m.shape(call, trust_usage=False).total
        n += 1
        if n >= limit:
            break
    stand_in = m.tokenizer_name
    if not n or not counted or not reported:
        return TokenTranslation(source_family, target_family, "estimated", 1.0, "stand-in", 0,
                                f"estimated with {stand_in}, unscaled (no call reports its usage)")
    if source_family == target_family:
        r = reported / counted
        return TokenTranslation(source_family, target_family, "scaled", r, "stand-in", n,
                                f"{stand_in} scaled by {r:.3f} from {n} reported calls")
    r = counted / reported
    return TokenTranslation(source_family, target_family, "scaled", r, "reported", n,
                            f"reported {source_family} counts scaled by {r:.3f} from {n} reported calls "
                            f"({target_family} has no public tokenizer; ratio measured with {stand_in})")


def scale_shape(shape: Shape, ratio: float) -> Shape:
    """A copy of ``shape`` with every piece count multiplied by ``ratio`` (same keys and chain)."""
    if ratio == 1.0:
        return shape
    toks = [int(round(t * ratio)) for t in shape.tokens]
    return Shape(list(shape.keys), toks, shape.roles, shape.indexes, shape.chain, shape.out_key,
                 int(round(shape.out_tokens * ratio)), shape.reported)
