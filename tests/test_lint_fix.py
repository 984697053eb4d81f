"""`promptcache lint --fix` / `--diff`: a move below the static text where it provably keeps meaning,
otherwise the file is left alone and the finding's message says which rewrite to make."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.cli import main
from promptcache.lint.fix import plan_move

STATIC = (
    "Claude enjoys helping humans and sees its role as an intelligent and kind assistant.\n"
    "Claude answers in the language of the user and keeps answers short unless asked otherwise.\n"
)
CLAUDE = "The assistant is Claude, created by Anthropic.\n\nThe current date is {{currentDateTime}}.\n\n" + STATIC
CLAUDE_FIXED = "The assistant is Claude, created by Anthropic.\n\n" + STATIC + "\nThe current date is {{currentDateTime}}.\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompts").mkdir()
    return tmp_path


def _write(repo: Path, name: str, text: str) -> Path:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_fix_moves_the_date_paragraph_below_the_static_text(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(repo, "prompts/claude.md", CLAUDE)
    assert main(["lint", "--min-static-tokens", "10", "prompts"]) == 1
    assert "prompts/claude.md:3:21: PC102" in capsys.readouterr().out
    assert main(["lint", "--min-static-tokens", "10", "--fix", "prompts"]) == 0
    assert path.read_text(encoding="utf-8") == CLAUDE_FIXED
    assert "rewrote 1 file(s)" in capsys.readouterr().err
    # a second run has nothing left to do
    assert main(["lint", "--min-static-tokens", "10", "--fix", "prompts"]) == 0
    assert path.read_text(encoding="utf-8") == CLAUDE_FIXED


def test_diff_previews_without_writing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(repo, "prompts/claude.md", CLAUDE)
    assert main(["lint", "--min-static-tokens", "10", "--diff", "prompts"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("--- a/prompts/claude.md\n+++ b/prompts/claude.md\n")
    assert "-The current date is {{currentDateTime}}.\n" in out
    assert out.endswith("+\n+The current date is {{currentDateTime}}.\n")
    assert path.read_text(encoding="utf-8") == CLAUDE


def test_a_complete_jinja_block_moves(repo: Path) -> None:
    text = "You are a support agent.\n\n{% if user %}\nThe user is {{ user }}.\n{% endif %}\n\n" + STATIC
    path = _write(repo, "p.j2", text)
    assert main(["lint", "--min-static-tokens", "10", "--fix", "p.j2"]) == 0
    assert path.read_text(encoding="utf-8") == "You are a support agent.\n\n" + STATIC + "\n{% if user %}\nThe user is {{ user }}.\n{% endif %}\n"


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("p.j2", "Working in {{ working_dir }}. The files below are the repository.\n\n" + STATIC, "it refers to other text ('below')"),
        ("p.j2", "Context for {{ user }}:\n\n" + STATIC, "it introduces the text after it"),
        ("p.j2", "<events>\n{{ events }}\n</events>\n\nAnalyze these events and write one summary line for each.\n" + STATIC,
         "the text after it refers back to it ('these')"),
        ("p.j2", "{% if user %}\nThe user is {{ user }}.\n\n" + STATIC + "{% endif %}\n", "it splits a template block from its end tag"),
        ("a.j2", "```\nrun {{ cmd }}\n\nthen\n```\n" + STATIC, "it is part of a code block"),
        ("agent.yaml", "agent:\n  system_template: |-\n    Today is {{ date }}.\n\n    " + STATIC.replace("\n", " ") + "\n", "the template is part of a YAML, Python or front-matter file"),
        ("p.prompty", "---\nname: x\n---\nsystem:\nToday is {{ date }}.\n\n" + STATIC, "the template is part of a YAML, Python or front-matter file"),
    ],
)
def test_unprovable_rewrites_leave_the_file_and_say_so(repo: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, reason: str) -> None:
    path = _write(repo, name, text)
    assert main(["lint", "--min-static-tokens", "10", "--fix", name]) == 1
    assert path.read_text(encoding="utf-8") == text
    out = capsys.readouterr().out
    assert f"--fix left the file alone ({reason}): " in out
    assert "below the static text by hand" in out


def test_python_call_site_gets_the_rewrite_in_the_message(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        "from datetime import datetime\nfrom openai import OpenAI\n\nclient = OpenAI()\n"
        "client.chat.completions.create(model='gpt-4o', messages=[{'role': 'system', 'content': "
        "f'Now: {datetime.now()}. You are a support assistant; answer politely and cite the policy.'}])\n"
    )
    path = _write(repo, "app.py", text)
    assert main(["lint", "--min-static-tokens", "10", "--fix", "app.py"]) == 1
    assert path.read_text(encoding="utf-8") == text
    # PC102 (a clock): the rewrite to make is to render it in the last user message
    assert "render the value in the last user message instead" in capsys.readouterr().out


_LINE = st.text(alphabet=st.sampled_from("abc xyz.:{}"), min_size=1, max_size=30).filter(lambda s: s.strip() != "")


@settings(max_examples=200, deadline=None)
@given(paragraphs=st.lists(st.lists(_LINE, min_size=1, max_size=3), min_size=1, max_size=5), line=st.integers(1, 20))
def test_a_move_keeps_every_line(paragraphs: list[list[str]], line: int) -> None:
    """Whatever the text, a planned move only reorders lines: the same lines, each as often."""
    text = "\n\n".join("\n".join(p) for p in paragraphs) + "\n"
    move = plan_move(text, "text", line)
    if move.new_text is not None:
        assert Counter(r for r in move.new_text.splitlines() if r.strip()) == Counter(r for r in text.splitlines() if r.strip())
        assert move.new_text.endswith("\n")


def test_the_date_moves_into_the_last_user_message(repo: Path) -> None:
    """A role-marked template (promptflow style): the date paragraph leaves the system message for
    the end of the last user message; any other per-call paragraph would change speaker, so stays."""
    text = ("# system:\nYou are a support assistant.\n\nThe current date is {{ current_date }}.\n\n" + STATIC
            + "\n# user:\n{{ question }}\n")
    path = _write(repo, "flow.jinja2", text)
    assert main(["lint", "--min-static-tokens", "10", "--fix", "flow.jinja2"]) == 0
    assert path.read_text(encoding="utf-8") == (
        "# system:\nYou are a support assistant.\n\n" + STATIC + "\n# user:\n{{ question }}\n\nThe current date is {{ current_date }}.\n"
    )
    other = text.replace("The current date is {{ current_date }}.", "The customer is {{ customer }}.")
    path.write_text(other, encoding="utf-8")
    assert main(["lint", "--min-static-tokens", "10", "--fix", "flow.jinja2"]) == 1
    assert path.read_text(encoding="utf-8") == other
