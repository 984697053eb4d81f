"""Settings for ``promptcache analyze`` from ``[tool.promptcache]`` in pyproject.toml.

The table is read from the nearest ``pyproject.toml`` (the working directory, then its parents)
that has a ``[tool.promptcache]`` table, or from an explicit file. Keys may be written with ``-``
or ``_``. Sub-tables (``[tool.promptcache.lint]``, ...) belong to other commands and are skipped;
an unknown plain key is an error, so a typo never silently drops a setting.

```toml
[tool.promptcache]
quality_critical = ["g3", "contract review"]   # group ids, or substrings of group labels
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

KEYS = {"quality_critical"}


@dataclass(frozen=True)
class AnalyzeSettings:
    source: Path | None = None
    quality_critical: tuple[str, ...] = ()


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict; an unreadable or malformed file is a ConfigError naming it."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None


def _table(data: dict[str, Any]) -> dict[str, Any] | None:
    tool = data.get("tool")
    if not isinstance(tool, dict):
        return None
    t = tool.get("promptcache")
    return t if isinstance(t, dict) else None


def find_config(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml at or above ``start`` (default: the working directory) with the table."""
    start = (start or Path.cwd()).resolve()
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file() and _table(read_toml(candidate)) is not None:
            return candidate
    return None


def load_settings(path: Path | None = None, *, search: bool = False) -> AnalyzeSettings:
    """Settings from ``path`` (a pyproject.toml, or any TOML file with ``[tool.promptcache]``), or
    from the nearest pyproject.toml when ``search`` is true; defaults when there is none."""
    if path is None:
        path = find_config() if search else None
        if path is None:
            return AnalyzeSettings()
    table = _table(read_toml(path)) or {}
    values = {k.replace("-", "_"): v for k, v in table.items() if not isinstance(v, dict)}
    unknown = sorted(set(values) - KEYS)
    if unknown:
        raise ConfigError(
            f"{path} [tool.promptcache]: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(KEYS))}"
        )
    qc = values.get("quality_critical", [])
    if not (isinstance(qc, list) and all(isinstance(v, str) and v.strip() for v in qc)):
        raise ConfigError(
            f"{path} [tool.promptcache]: quality_critical must be a list of group ids or label "
            'substrings, e.g. ["g3", "contract review"]'
        )
    return AnalyzeSettings(source=path, quality_critical=tuple(v.strip() for v in qc))
