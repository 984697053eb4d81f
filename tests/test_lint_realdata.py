"""The linter over every real template in $PROMPTCACHE_REALDATA/templates (see docs/lint.md).

Records the findings per file with default settings (no model: 64-token threshold, approx
token counts), so any change in what real templates produce is a visible diff here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from promptcache.lint import lint_paths, load_settings
from promptcache.lint.documents import kind_for, read_document

EXPECTED = {
    "OpenHands__agenthub__codeact_agent__additional_info.j2": ["1:1 PC101"],
    "OpenHands__agenthub__codeact_agent__in_context_learning_example.j2": [],
    "OpenHands__agenthub__codeact_agent__system_prompt.j2": [],
    "OpenHands__microagent__generate_remember_prompt.j2": ["5:1 PC101"],
    "OpenHands__resolver__resolve__basic-with-tests-conversation-instructions.jinja": ["2:61 PC101"],
    "OpenHands__swe_bench__swe_default.j2": ["2:12 PC101"],
    "OpenHands__swe_bench__swe_gpt4.j2": ["7:78 PC101"],
    "SWE-agent__bash_only.yaml": ["22:7 PC101"],
    "SWE-agent__benchmarks__250225_anthropic_filemap_simple_review.yaml": ["13:7 PC101"],
    "SWE-agent__coding_challenge.yaml": ["8:70 PC101", "36:7 PC101"],
    "SWE-agent__default.yaml": ["10:7 PC101"],
    "SWE-agent__sweagent_0_7__07.yaml": ["7:70 PC101", "35:7 PC101"],
    "langchain__agents__structured_chat__prompt.py": ["5:42 PC101"],
    "langchain__llm_summarization_checker__check_facts.txt": [],
    "langchain__llm_summarization_checker__revise_summary.txt": ["5:1 PC101"],
    "mini-swe-agent__benchmarks__swebench.yaml": ["7:5 PC101"],
    "mini-swe-agent__default.yaml": ["19:30 PC101"],
    "mini-swe-agent__mini.yaml": ["5:30 PC101"],
    "promptflow__chat__chat-math-variant__chat_variant_2.jinja2": [],
    "promptflow__chat__chat-with-wikipedia__extract_query_from_question.jinja2": [],
    "promptflow__chat__promptflow-copilot__check_query_relevance.jinja2": [],
    "promptflow__evaluation__eval-single-turn-metrics-maf__context_recall.jinja2": [],
    "promptflow__evaluation__eval-single-turn-metrics-maf__creativity.jinja2": [],
    "promptflow__prompty__eval-apology__apology.prompty": [],
    "promptflow__standard__autonomous-agent__system_prompt.jinja2": ["1:9 PC101"],
    "promptflow__standard__customer-intent-extraction__user_intent_few_shot.jinja2": ["32:1 PC101"],
    "promptflow__standard__customer-intent-extraction__user_intent_zero_shot.jinja2": ["7:1 PC101"],
    "promptflow__standard__web-classification__classify_with_llm.jinja2": [],
}


@pytest.fixture(scope="module")
def templates(realdata: Path) -> Path:
    return realdata / "templates"


def _findings(paths: list[Path]) -> dict[str, list[str]]:
    result = lint_paths([str(p) for p in paths], load_settings(None, cwd=paths[0].parent))
    out: dict[str, list[str]] = {p.name: [] for p in paths}
    for f in result.findings:
        out[Path(f.path).name].append(f"{f.line}:{f.col} {f.code}")
    return out


def test_findings_on_every_real_template(templates: Path) -> None:
    files = sorted(templates.iterdir())
    assert {p.name for p in files} == set(EXPECTED), "realdata changed: update EXPECTED and docs/lint.md"
    assert _findings(files) == EXPECTED


def test_every_real_template_parses_into_prompts(templates: Path) -> None:
    for path in sorted(templates.iterdir()):
        text = path.read_text(encoding="utf-8")
        doc = read_document(path.name, text, kind_for(path.name, text, {}), frozenset(), ("*observation*",))
        assert doc.prompts and any(p.segments for p in doc.prompts), path.name


def test_literal_braces_are_not_placeholders(templates: Path) -> None:
    """f-string braces in example code, JSON and LaTeX in Jinja files, {{{{ }}}} in str.format text."""
    names = [
        "OpenHands__agenthub__codeact_agent__in_context_learning_example.j2",
        "promptflow__chat__chat-math-variant__chat_variant_2.jinja2",
        "promptflow__prompty__eval-apology__apology.prompty",
        "langchain__agents__structured_chat__prompt.py",
    ]
    for name in names:
        path = templates / name
        text = path.read_text(encoding="utf-8")
        doc = read_document(name, text, kind_for(name, text, {}), frozenset(), ())
        dynamic = [s.text for p in doc.prompts for s in p.segments if s.kind.value != "static"]
        assert not any(("{i}" in d) or ("$JSON_BLOB" in d) or ("Chain of thought" in d) or ('"apology"' in d) for d in dynamic), (name, dynamic)
    prompt_py = templates / "langchain__agents__structured_chat__prompt.py"
    text = prompt_py.read_text(encoding="utf-8")
    doc = read_document(prompt_py.name, text, "python", frozenset(), ())
    assert [s.text for p in doc.prompts for s in p.segments if s.kind.value != "static"] == ["{tool_names}"]


def test_date_at_the_end_is_not_flagged(templates: Path) -> None:
    path = templates / "OpenHands__agenthub__codeact_agent__additional_info.j2"
    text = path.read_text(encoding="utf-8")
    doc = read_document(path.name, text, "jinja", frozenset(), ())
    dated = [s for p in doc.prompts for s in p.segments if s.volatile]
    assert [s.text for s in dated] == ["{% if runtime_info.date %}", "{{ runtime_info.date }}"]
    assert "PC102" not in str(_findings([path]))


def test_fix_on_real_templates_moves_only_what_it_can_prove(templates: Path, tmp_path: Path) -> None:
    """--fix on a copy of every real template: one file is rewritten (promptflow's autonomous agent:
    its `You are {{name}}, {{role}}` paragraph goes below the static evaluation rules); every other
    finding stays, with the reason and the rewrite to make by hand in its message."""
    import shutil

    from promptcache.lint.fix import run_fix

    copy = tmp_path / "templates"
    shutil.copytree(templates, copy)
    for path in copy.iterdir():
        path.chmod(0o644)
    before = {p.name: p.read_text(encoding="utf-8") for p in copy.iterdir()}
    _, result, changed = run_fix([str(copy)], load_settings(None, cwd=copy), write=True)
    after = {p.name: p.read_text(encoding="utf-8") for p in copy.iterdir()}
    assert changed == 1
    assert [n for n in before if before[n] != after[n]] == ["promptflow__standard__autonomous-agent__system_prompt.jinja2"]
    fixed = after["promptflow__standard__autonomous-agent__system_prompt.jinja2"]
    assert fixed.startswith("Performance Evaluation:\n")
    assert fixed.endswith("You are {{name}}, {{role}}\n" + before["promptflow__standard__autonomous-agent__system_prompt.jinja2"].split("\n", 1)[1].split("\n\n", 1)[0] + "\n")
    # a directory walk skips .py files (no `python = true`); every other finding is still there
    assert sorted(Path(f.path).name for f in result.findings) == sorted(
        n for n, hits in EXPECTED.items() for _ in hits
        if n != "promptflow__standard__autonomous-agent__system_prompt.jinja2" and not n.endswith(".py")
    )
    assert all("--fix left the file alone (" in f.message for f in result.findings), [f.message for f in result.findings]
