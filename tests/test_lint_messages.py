"""Finding messages say what is actually lost (issue 20, point 5).

"Can then never be cached" was wrong for multi-turn agents: SWE-agent renders its instance
template once per conversation and resends the rendering, so `{{problem_statement}}` costs the
static tokens after it on the first call of each conversation and is cached from turn 2 on.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promptcache.lint import lint_paths, load_settings

STATIC = "Explain your reasoning, then run exactly one command per reply, and wait for its output.\n"
CASES = {
    "PC101": ("agent.yaml", "agent:\n  instance_template: |-\n    {{problem_statement}}\n    " + STATIC),
    "PC102": ("system.md", "The current date is {{currentDateTime}}.\n" + STATIC),
    "PC104": ("p.j2", "{% for m in history %}{{ m }}{% endfor %}\n" + STATIC),
    "PC106": ("flow.jinja2", "# system:\nHelp {{ customer }}.\n# user:\n" + STATIC),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_messages_name_the_real_loss(code: str, tmp_path: Path) -> None:
    name, text = CASES[code]
    (tmp_path / name).write_text(text, encoding="utf-8")
    result = lint_paths([str(tmp_path / name)], load_settings(None, cwd=tmp_path, min_static_tokens=10, select=[code]))
    assert [f.code for f in result.findings] == [code]
    message = result.findings[0].message
    assert not re.search(r"\bnever\b", message)
    assert "re-billed uncached" in message
    assert "first call of every conversation" in message
