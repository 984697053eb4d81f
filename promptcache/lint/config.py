"""Settings for ``promptcache lint``: defaults, ``[tool.promptcache.lint]``, then command-line flags.

The table is read from the nearest ``pyproject.toml`` (from the working directory upwards) that
has one, or from ``--config``. Keys may be written with ``-`` or ``_``. Unknown keys are errors,
so a typo never silently disables a rule. ``per-path`` maps a glob (relative to the config
file's directory) to overrides of ``select``, ``ignore``, ``min_static_tokens`` and ``constants``.

```toml
[tool.promptcache.lint]
model = "deepseek-v4-pro"
calls-per-day = 20000
python = true                       # directory walks read .py files too (SDK call sites)
ignore = ["PC103"]
constants = ["WINDOW"]              # names fixed per deployment: treated as static text
[tool.promptcache.lint.per-path."agents/*.yaml"]
min-static-tokens = 256
```
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..knowledge.config import read_toml
from .documents import KINDS
from .rules import ALL_CODES
from .tokens import TOKENIZERS

# Lint defaults for the shortest prefix a provider will cache; DeepSeek documents none beyond
# its old 64-token storage unit, OpenAI and Anthropic cache from 1024 tokens.
DEFAULT_MIN_STATIC_TOKENS = 64
MODEL_MIN_STATIC_TOKENS = {"gpt-4o": 1024, "claude-sonnet-4-5": 1024}
DEFAULT_TURN_KEYS = ("*observation*", "*next_step*", "*format_error*")

_PATH_KEYS = {"select", "ignore", "min_static_tokens", "constants"}
_KEYS = _PATH_KEYS | {
    "model",
    "calls_per_day",
    "tokenizer",
    "turn_keys",
    "kinds",
    "exclude",
    "per_path",
    "python",
    "peak_share",
}


@dataclass(frozen=True)
class PathSettings:
    """The settings that may differ per path."""

    select: tuple[str, ...] | None
    ignore: tuple[str, ...]
    min_static_tokens: int
    constants: frozenset[str]

    def enabled(self, code: str) -> bool:
        """Whether ``code`` is reported; codes match by prefix ("PC1" selects PC101..PC199)."""
        if code == "PC900":
            return True
        if self.select is not None and not any(code.startswith(s) for s in self.select):
            return False
        return not any(code.startswith(s) for s in self.ignore)


@dataclass(frozen=True)
class LintSettings:
    """Everything a lint run needs besides the paths; build with ``load_settings``."""

    root: Path = field(default_factory=Path.cwd)
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    model: str | None = None
    calls_per_day: int | None = None
    min_static_tokens: int | None = None
    tokenizer: str = "approx"
    constants: tuple[str, ...] = ()
    turn_keys: tuple[str, ...] = DEFAULT_TURN_KEYS
    kinds: dict[str, str] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    per_path: dict[str, dict[str, Any]] = field(default_factory=dict)
    python: bool = False  # directory walks also read .py files (SDK call sites, prompt constants)
    peak_share: float | None = None  # the team's share of calls at peak hours (None: the week's share of peak hours)

    def base_min_static_tokens(self) -> int:
        if self.min_static_tokens is not None:
            return self.min_static_tokens
        if self.model is None or self.model.startswith("deepseek"):
            return DEFAULT_MIN_STATIC_TOKENS
        return MODEL_MIN_STATIC_TOKENS.get(self.model, 1024)

    def relative(self, path: Path) -> str:
        """``path`` relative to the config root (posix), for glob matching."""
        resolved = path.resolve()
        try:
            return resolved.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return path.as_posix()

    def excluded(self, rel: str) -> bool:
        return any(fnmatch.fnmatch(rel, pattern) for pattern in self.exclude)

    def for_path(self, rel: str) -> PathSettings:
        """Settings for one file, with every matching ``per-path`` table applied in order."""
        out = PathSettings(self.select, self.ignore, self.base_min_static_tokens(), frozenset(self.constants))
        for pattern, table in self.per_path.items():
            if fnmatch.fnmatch(rel, pattern):
                out = replace(
                    out,
                    select=tuple(table["select"]) if "select" in table else out.select,
                    ignore=out.ignore + tuple(table.get("ignore", ())),
                    min_static_tokens=table.get("min_static_tokens", out.min_static_tokens),
                    constants=out.constants | frozenset(table.get("constants", ())),
                )
        return out


def _find_pyproject(start: Path) -> tuple[Path, dict[str, Any]] | None:
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            table = read_toml(candidate).get("tool", {}).get("promptcache", {}).get("lint")
            if table is not None:
                return candidate, table
    return None


def _normalize(table: dict[str, Any], where: str, allowed: set[str]) -> dict[str, Any]:
    out = {key.replace("-", "_"): value for key, value in table.items()}
    unknown = sorted(set(out) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    for key in ("select", "ignore", "constants", "turn_keys", "exclude"):
        if key in out and not (isinstance(out[key], list) and all(isinstance(v, str) for v in out[key])):
            raise ConfigError(f"{where}: {key} must be a list of strings")
    for key in ("select", "ignore"):
        bad = [c for c in out.get(key, ()) if not any(code.startswith(c) for code in ALL_CODES)]
        if bad:
            raise ConfigError(f"{where}: {key} names unknown code(s) {', '.join(bad)}")
    for key in ("min_static_tokens", "calls_per_day"):
        if key in out and (not isinstance(out[key], int) or isinstance(out[key], bool) or out[key] < 0):
            raise ConfigError(f"{where}: {key} must be a non-negative integer")
    if "peak_share" in out and (
        isinstance(out["peak_share"], bool)
        or not isinstance(out["peak_share"], (int, float))
        or not 0 <= out["peak_share"] <= 1
    ):
        raise ConfigError(f"{where}: peak_share must be a number between 0 and 1 (the share of calls made at peak)")
    if "python" in out and not isinstance(out["python"], bool):
        raise ConfigError(f"{where}: python must be true or false")
    if "tokenizer" in out and out["tokenizer"] not in TOKENIZERS:
        raise ConfigError(f"{where}: tokenizer must be one of {', '.join(TOKENIZERS)}")
    if "kinds" in out:
        if not isinstance(out["kinds"], dict) or any(v not in KINDS for v in out["kinds"].values()):
            raise ConfigError(f"{where}: kinds maps globs to one of {', '.join(KINDS)}")
    return out


def load_settings(config: Path | None = None, cwd: Path | None = None, **overrides: Any) -> LintSettings:
    """Settings from ``config`` (or the nearest pyproject.toml with the table), then ``overrides``.

    ``overrides`` are command-line values; None means "not given" and keeps the configured value.
    """
    cwd = cwd or Path.cwd()
    values: dict[str, Any] = {}
    root, source = cwd, None
    if config is not None:
        data = read_toml(config)
        table = data.get("tool", {}).get("promptcache", {}).get("lint", data if "tool" not in data else {})
        root, source = config.resolve().parent, str(config)
        values = _normalize(table, str(config), _KEYS)
    elif (found := _find_pyproject(cwd)) is not None:
        root, source = found[0].parent, str(found[0])
        values = _normalize(found[1], f"{found[0]} [tool.promptcache.lint]", _KEYS)
    per_path = {
        pattern: _normalize(table, f"{source} per-path {pattern!r}", _PATH_KEYS)
        for pattern, table in values.pop("per_path", {}).items()
    }
    values.update(_normalize({k: v for k, v in overrides.items() if v is not None}, "command line", _KEYS))
    for key in ("select", "ignore", "constants", "turn_keys", "exclude"):
        if key in values:
            values[key] = tuple(values[key])
    return LintSettings(root=root, per_path=per_path, **values)
