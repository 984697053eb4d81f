"""Issue 10, never leak: hostile text is escaped by every output format, and secrets are masked.

A report is built with a hostile string in every text field (and dict key) and rendered by every
entry of ``report.RENDERERS`` (so formats added later are covered the day they land), and a
hostile log is analyzed end to end. Lint output formats get hostile paths and messages.
"""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from promptcache.model.report import Report, SkippedLine
from promptcache.report import RENDERERS, renderer
from promptcache.secrets import has_unsafe, mask_excerpt, mask_secrets, printable

SCRIPT = "<script>alert(1)</script>"
MARKUP = "[bold]B[/bold][link=https://evil.example]L[/link]"
PIPE = "a|b"
ANSI = "\x1b[31mRED\x1b[0m\x1b]8;;https://evil.example\x07x\x1b]8;;\x07"
RLO = "\u202eevil\u202c"
HOSTILE = f"{SCRIPT} {MARKUP} {PIPE}\nsecond line\r\n{ANSI} {RLO} `tick` **star** &amp; _u_ \x00\x08"

# characters that must never reach any output raw: ESC, BEL, NUL, BS, CR, bidi overrides/isolates
RAW_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")

KEEP = {"layout", "latency_source", "schema_version"}  # Literal/fixed fields: not free text


def _example_report() -> Report:
    from promptcache.analyze.pipeline import analyze

    path = str(resources.files("promptcache").joinpath("data/example.jsonl.gz"))
    return analyze([path])


@pytest.fixture(scope="module")
def example_report() -> Report:
    return _example_report()


def _poison(obj, key=None):
    """A copy of a report (or part of one) with every free-text string and every dict key hostile."""
    from pydantic import BaseModel

    if isinstance(obj, BaseModel):  # Literal fields are a fixed vocabulary, not free text: kept
        return {name: getattr(obj, name) if "Literal" in str(f.annotation) else _poison(getattr(obj, name), name)
                for name, f in type(obj).model_fields.items()}
    if isinstance(obj, dict):
        return {(f"{key}:{HOSTILE}#{i}" if isinstance(k, str) else k): _poison(v, k)
                for i, (k, v) in enumerate(obj.items())}
    if isinstance(obj, list):
        return [_poison(v, key) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_poison(v, key) for v in obj)
    if isinstance(obj, str) and key not in KEEP:
        return f"{key}:{HOSTILE}"
    return obj


@pytest.fixture(scope="module")
def hostile_report(example_report) -> Report:
    data = _poison(example_report)
    rep = Report.model_validate(data)
    # make sure the poison reached fields renderers show
    assert SCRIPT in rep.groups[0].label and SCRIPT in rep.groups[0].breakers[0].samples[0]
    extra = rep.model_copy(update={
        "skipped_examples": [*rep.skipped_examples, SkippedLine(
            path=f"path:{HOSTILE}", line=3, reason=f"reason:{HOSTILE}", message=f"message:{HOSTILE}")],
        "skipped_lines": rep.skipped_lines + 1,
        "partial": True,
    })
    return Report.model_validate(extra.model_dump(mode="python"))


def _render(fmt: str, report: Report) -> str:
    return renderer(fmt)(report, width=400, color=False)


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_no_raw_control_or_bidi_characters(fmt, hostile_report):
    out = _render(fmt, hostile_report)
    bad = sorted({f"U+{ord(c):04X}" for c in RAW_FORBIDDEN.findall(out)})
    assert not bad, f"{fmt}: raw control/bidi characters reach the output: {bad}"


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_hostile_text_is_shown_not_obeyed(fmt, hostile_report):
    out = _render(fmt, hostile_report)
    if fmt in ("json",):
        data = json.loads(out)
        back = Report.model_validate(data)  # a JSON report round-trips exactly
        assert back.groups[0].label == hostile_report.groups[0].label
        assert back.skipped_examples[-1].message == hostile_report.skipped_examples[-1].message
        return
    if fmt in ("html", "htm"):
        assert _only_own_scripts(out), "log text reached the HTML unescaped"
        assert html.escape("<script>alert(1)</script>", quote=False) in out or "&lt;script&gt;" in out
        assert "<a href=\"https://evil.example" not in out
        return
    if fmt in ("markdown", "md"):
        _check_markdown(out)
        return
    # terminal / plain text: rich markup in log text is printed literally, never interpreted
    assert "[bold]B[/bold]" in out, "rich markup in log text was interpreted (or dropped)"
    assert "[link=https://evil.example]" in out
    assert "<script>alert(1)</script>" in out  # plain text needs no HTML escaping
    assert "PARTIAL" in out


def _only_own_scripts(out: str) -> bool:
    """True when every <script> in the page is the renderer's own (none carries log text)."""
    for m in re.finditer(r"<script\b[^>]*>(.*?)</script>", out, re.DOTALL | re.IGNORECASE):
        if "alert(1)" in m.group(1):
            return False
    return True


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def _check_markdown(out: str) -> None:
    assert "<script>" not in out, "raw HTML from the log reaches the Markdown"
    lines = out.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|"):
            block = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                block.append(lines[i])
                i += 1
            widths = {_unescaped_pipes(b) for b in block}
            assert len(widths) == 1, "a table row has a different number of cells (a | or newline leaked):\n" + \
                "\n".join(block)
        else:
            i += 1


def test_every_renderer_is_covered():
    assert {"term", "json"} <= set(RENDERERS)


# --- end to end: a hostile log through analyze, every format -----------------------------------

SECRETS = {
    "openai": "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "anthropic": "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz01234",
    "google": "AIzaSyAbCdEfGhIjKlMnOpQrStUvWxYz0123456",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "github_pat": "github_pat_11AbCdEfG0123456789_abcdefghijklmnop",
    "slack": "xoxb-123456789012-abcdefghijklmnop",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlX2hlcmU",
    "email": "jane.doe@customer-corp.example.com",
    "hex": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "base64": "QWxhZGRpbjpvcGVuIHNlc2FtZQ0xMjM0NTY3ODkwYWJjZGVmZ2hpams=",
}


@pytest.mark.parametrize("name,secret", list(SECRETS.items()))
def test_mask_secrets_each_kind(name, secret):
    text = f"config: {secret} end"
    masked = mask_secrets(text)
    assert secret not in masked and masked.startswith("config: ") and masked.endswith(" end")
    # no long piece of the secret survives either
    assert not any(secret[i:i + 12] in masked for i in range(len(secret) - 11))


def test_bearer_token_masked():
    masked = mask_secrets("Authorization: Bearer abc123.def456-ghi789")
    assert "abc123" not in masked and "Bearer" in masked


def test_mask_keeps_ordinary_text():
    text = ("Current date: 2026-11-16. You are Nova, a support assistant for Umbrella Corp; see "
            "/usr/local/lib/python3.11/site-packages/promptcache/segment.py and invoice 35713.")
    assert mask_secrets(text) == text


def test_excerpt_cut_through_a_secret_is_masked_whole():
    secret = SECRETS["openai"]
    text = "x" * 100 + " key=" + secret + " tail"
    at = text.index(secret) + 10  # the excerpt starts in the middle of the key
    out = mask_excerpt(text, at, at + 20)
    assert out.startswith("<openai-key>") and secret[10:20] not in out


def test_printable_shows_controls():
    assert printable("a\x1b[31mb\u202ec") == "a\\x1b[31mb\\u202ec"
    assert printable("a\r\nb\nc", newlines=False) == "a⏎b⏎c"
    assert not has_unsafe(printable(HOSTILE))


@pytest.fixture(scope="module")
def hostile_log(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hostile")
    rows = []
    for i in range(6):
        secretish = " ".join(SECRETS.values())
        rows.append({
            "model": "deepseek-v4-pro",
            "timestamp": f"2026-11-16T10:0{i}:00Z",
            "user": f"{HOSTILE}",
            "conversation_id": f"conv-{i % 2}{ANSI}",
            "messages": [
                {"role": "system", "content": f"{HOSTILE} keys: {secretish} call {i} " + "static " * 40},
                {"role": "user", "content": f"question {i}: {HOSTILE} {secretish}"},
            ],
            "usage": {"prompt_tokens": 500 + i, "completion_tokens": 20,
                      "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 500 + i},
        })
    p = d / "hostile.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"model": "' + SECRETS["openai"] + '", "messages": 3}\n',
                 encoding="utf-8")
    return p


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_hostile_log_end_to_end(fmt, hostile_log, capsys):
    from promptcache.cli import main

    code = main(["analyze", str(hostile_log), "--format", fmt])
    out, err = capsys.readouterr()
    assert code == 0, err
    text = out + err
    for name, secret in SECRETS.items():
        assert secret not in text, f"{fmt}: the {name} secret leaked"
        if fmt == "json":
            assert json.dumps(secret)[1:-1] not in text
    assert not RAW_FORBIDDEN.search(out), f"{fmt}: raw control/bidi characters in the output"


def test_redact_removes_text(hostile_log, capsys):
    from promptcache.cli import main

    code = main(["analyze", str(hostile_log), "--format", "json", "--redact"])
    out, err = capsys.readouterr()
    assert code == 0, err
    for needle in ("question 1", "static static", "<script>", "alert(1)", "[bold]"):
        assert needle not in out


# --- lint output formats ------------------------------------------------------------------------

def _findings():
    from promptcache.lint.model import Finding

    return [Finding(path=f"prompts/{HOSTILE}.j2", line=3, col=1, code="PC101", message=f"message {HOSTILE}",
                    static_tokens=10, monthly_cost_usd="1.00")]


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_lint_formats_escape(fmt):
    from promptcache.lint.output import render

    out = render(_findings(), fmt, "0.0.0")
    bad = sorted({f"U+{ord(c):04X}" for c in RAW_FORBIDDEN.findall(out)})
    assert not bad, f"lint {fmt}: raw control/bidi characters: {bad}"
    if fmt in ("json", "sarif"):
        data = json.loads(out)
        msg = data[0]["message"] if fmt == "json" else data["runs"][0]["results"][0]["message"]["text"]
        assert msg == f"message {HOSTILE}"  # exact data, safely encoded
    elif fmt == "github":
        lines = out.splitlines()
        assert len(lines) == 1 and lines[0].startswith("::warning ")  # newlines cannot inject commands
        assert "\n::" not in out.rstrip("\n")
    else:
        assert len(out.splitlines()) == 1  # one finding, one line


def test_decimal_money_survives_poisoning(hostile_report):
    assert isinstance(hostile_report.scenarios[0].cost_usd, Decimal)
