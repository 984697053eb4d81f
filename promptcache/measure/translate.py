"""Token counts across providers, for repricing a log on another provider's model.

Repricing keeps the conversation and its timing and changes the rules, the prices and the token
counts. Where the target's tokenizer ships here, calls are counted with it; otherwise (Claude,
Gemini: no public tokenizer) the analysis scales the log's counts by the ratio of a stand-in
tokenizer's counts to the log's own on sampled calls (``analyze.pipeline._comparison_shapes``),
and ``scale_shape`` applies that ratio to a shape's piece counts (per piece, rounded, O(pieces)).
Breakpoints are translated by the policies themselves (``breakpoints="auto"`` override).
"""

from __future__ import annotations

from .shape import Shape


def scale_shape(shape: Shape, ratio: float) -> Shape:
    """A copy of ``shape`` with every piece count multiplied by ``ratio`` (same keys and chain)."""
    if ratio == 1.0:
        return shape
    # a chat shape's arrays made for the copy alone (not kept with the shape; its counts as the run
    # keeps them, ``ChatShape.arrays_read``: they are only read here, each into a new tuple)
    keys, tokens, chain = shape.arrays_read()
    toks = tuple([round(t * ratio) for t in tokens])
    return Shape(
        keys,  # shared: shapes are never changed once made
        toks,
        shape.roles,
        shape.indexes,
        chain,
        shape.out_key,
        round(shape.out_tokens * ratio),
        shape.reported,
    )
