"""One generic test runs every pass/fail case in tests/lint_cases/<CODE>.toml.

Each case is a template file written to a temporary directory and linted with only its rule
selected; fail cases list the exact "line:col" of every finding, pass cases expect none.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from promptcache.lint import lint_paths, load_settings
from promptcache.lint.rules import ALL_CODES

CASES = Path(__file__).parent / "lint_cases"


def _cases() -> list:
    params = []
    for path in sorted(CASES.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for outcome in ("fail", "pass"):
            for case in data.get(outcome, []):
                params.append(pytest.param(data["code"], case, id=f"{data['code']}-{outcome}-{case['name']}"))
    return params


def test_every_rule_has_pass_and_fail_cases() -> None:
    for code in sorted(ALL_CODES):
        data = tomllib.loads((CASES / f"{code}.toml").read_text(encoding="utf-8"))
        assert data["code"] == code
        assert data.get("fail") and data.get("pass"), code


@pytest.mark.parametrize(("code", "case"), _cases())
def test_case(code: str, case: dict, tmp_path: Path) -> None:
    target = tmp_path / case["file"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(case["text"], encoding="utf-8")
    config = {"min_static_tokens": 10, **case.get("config", {})}
    settings = load_settings(None, cwd=tmp_path, select=[code], **config)
    result = lint_paths([str(target)], settings)
    got = [f"{f.line}:{f.col}" for f in result.findings if f.code == code]
    assert got == case.get("expect", []), [f.message for f in result.findings]
    assert all(f.code == code for f in result.findings), result.findings
