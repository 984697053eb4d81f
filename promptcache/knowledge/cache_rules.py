"""Cache-rule parameters as packaged data (``data/cache_rules.json``), validated, with sources.

Rules carry no prices (those live in the price catalog): only how tokens behave, i.e. unit sizes,
delays, eviction, scopes. Anything the provider does not publish is an assumption listed under
``unknowns`` and can be overridden (and swept) from the command line.
"""

from __future__ import annotations

import functools
import json
from datetime import date
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import CatalogError


class PolicyRules(BaseModel):
    """One policy's parameters; extra keys are the policy's own numeric parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    rule: str
    description: str
    scope: str
    source: str
    as_of: date
    unknowns: list[str] = []
    #: unpublished parameters and the values ``analyze`` tries when a log reports cache hits (a grid,
    #: every combination): the one closest to the reported hits is shown next to the assumed one
    fit: dict[str, list[Any]] = {}

    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int
    policies: dict[str, PolicyRules]


@functools.cache
def default_rules() -> RulesFile:
    text = resources.files("promptcache.knowledge").joinpath("data/cache_rules.json").read_text(encoding="utf-8")
    try:
        return RulesFile.model_validate(json.loads(text))
    except ValueError as exc:
        raise CatalogError(f"promptcache/knowledge/data/cache_rules.json: invalid: {exc}") from None
