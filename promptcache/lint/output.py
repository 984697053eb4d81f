"""Findings -> text, JSON, GitHub workflow annotations, or SARIF 2.1.0. Pure functions of data.

Each format escapes for its consumer: GitHub commands percent-encode ``%``, CR and LF (and ``:``
and ``,`` in properties), JSON and SARIF go through ``json.dumps`` (stdlib: orjson is not worth
its import time here). Paths in SARIF are relative URIs with ``/`` separators.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import quote

from ..secrets import json_safe, printable
from .model import Finding
from .rules import RULES, describe

FORMATS = ("text", "json", "github", "sarif")


def format_text(findings: Sequence[Finding]) -> str:
    """``path:line:col: CODE message`` per line, with the monthly cost when priced."""
    lines = []
    for f in findings:
        cost = f" (~${f.monthly_cost_usd}/month)" if f.monthly_cost_usd is not None else ""
        lines.append(printable(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}{cost}", newlines=False))
    return "".join(line + "\n" for line in lines)


def format_json(findings: Sequence[Finding]) -> str:
    """A JSON array of ``{path, line, col, code, message, static_tokens, monthly_cost_usd}``."""
    rows = [
        {
            "path": f.path,
            "line": f.line,
            "col": f.col,
            "code": f.code,
            "message": f.message,
            "static_tokens": f.static_tokens,
            "monthly_cost_usd": f.monthly_cost_usd,
        }
        for f in findings
    ]
    return json_safe(json.dumps(rows, ensure_ascii=False, indent=2)) + "\n"


def _gh_data(text: str) -> str:
    text = printable(text)  # no raw ANSI/bidi characters in the workflow log
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(findings: Sequence[Finding]) -> str:
    """``::error``/``::warning`` workflow commands; syntax errors are errors, findings warnings."""
    out = []
    for f in findings:
        level = "error" if f.code == "PC900" else "warning"
        message = f.message + (f" (~${f.monthly_cost_usd}/month)" if f.monthly_cost_usd is not None else "")
        props = f"file={_gh_property(f.path)},line={f.line},col={f.col},title={_gh_property(f.code)}"
        out.append(f"::{level} {props}::{_gh_data(f'{f.code} {message}')}\n")
    return "".join(out)


def format_sarif(findings: Sequence[Finding], version: str) -> str:
    """A SARIF 2.1.0 log with one run; every rule is described so viewers can link its docs."""
    codes = [r.code for r in RULES] + ["PC900", "PC901"]
    rules = []
    for code in codes:
        name, summary = describe(code)
        rules.append(
            {
                "id": code,
                "name": name,
                "shortDescription": {"text": summary},
                "help": {
                    "text": f"docs/rules/{code}.md in the promptcache repository: what it catches, why it costs, the fix."
                },
            }
        )
    index = {code: i for i, code in enumerate(codes)}
    results = []
    for f in findings:
        props: dict[str, int | str] = {"static_tokens": f.static_tokens}
        if f.monthly_cost_usd is not None:
            props["monthly_cost_usd"] = f.monthly_cost_usd
        results.append(
            {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": "error" if f.code == "PC900" else "warning",
                "message": {"text": f.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": quote(f.path.replace("\\", "/")), "uriBaseId": "%SRCROOT%"},
                            "region": {"startLine": f.line, "startColumn": f.col},
                        }
                    }
                ],
                "properties": props,
            }
        )
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "promptcache", "version": version, "rules": rules}},
                "results": results,
            }
        ],
    }
    return json_safe(json.dumps(log, ensure_ascii=False, indent=2)) + "\n"


def render(findings: Sequence[Finding], fmt: str, version: str) -> str:
    """Findings in format ``fmt`` (one of FORMATS)."""
    if fmt == "json":
        return format_json(findings)
    if fmt == "github":
        return format_github(findings)
    if fmt == "sarif":
        return format_sarif(findings, version)
    return format_text(findings)
