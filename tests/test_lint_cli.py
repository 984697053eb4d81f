"""`promptcache lint` end to end: exit codes, output formats, suppression, configuration, safety."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from promptcache.cli import main

EARLY = "You are {{ name }}.\nAlways answer in English, cite your sources, and keep answers under three paragraphs.\n"


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_exit_codes_and_text_format(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(repo, "clean.j2", "Static instructions.\n{{ q }}")
    _write(repo, "bad.j2", EARLY)
    _write(repo, "broken.j2", "Hello\n{{ name }\n")
    assert main(["lint", "--min-static-tokens", "10", "clean.j2"]) == 0
    assert main(["lint", "--min-static-tokens", "10", "clean.j2", "bad.j2"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("bad.j2:1:9: PC101 per-call value {{ name }} comes before ")
    assert main(["lint", "bad.j2", "broken.j2"]) == 2
    assert "broken.j2:2:1: PC900 template syntax error: unexpected '}'" in capsys.readouterr().out
    assert main(["lint", "missing.j2"]) == 2
    assert "missing.j2: no such file or directory" in capsys.readouterr().err


def test_json_format_is_sorted_and_priced(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(repo, "b.j2", EARLY)
    _write(repo, "a.j2", "Now: {{ now() }}\n" + EARLY)
    code = main(["lint", ".", "--format", "json", "--min-static-tokens", "10", "--model", "deepseek-v4-pro",
                 "--calls-per-day", "10000", "--at", "2026-06-01"])
    assert code == 1
    rows = json.loads(capsys.readouterr().out)
    assert [(r["path"], r["line"], r["col"], r["code"]) for r in rows] == [
        ("a.j2", 1, 6, "PC102"), ("b.j2", 1, 9, "PC101")]
    assert set(rows[0]) == {"path", "line", "col", "code", "message", "static_tokens", "monthly_cost_usd"}
    assert rows[0]["static_tokens"] > 10
    assert float(rows[0]["monthly_cost_usd"]) > 0


def test_calls_per_day_needs_a_model(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(repo, "b.j2", EARLY)
    assert main(["lint", "b.j2", "--calls-per-day", "10"]) == 2
    assert "--calls-per-day needs --model" in capsys.readouterr().err


def test_unknown_model_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(repo, "b.j2", EARLY)
    assert main(["lint", "b.j2", "--min-static-tokens", "10", "--model", "deepseek-v9", "--calls-per-day", "10"]) == 2
    assert "unknown model 'deepseek-v9'" in capsys.readouterr().err


def test_github_format_escapes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(repo, "we,ird:100%.j2", EARLY)
    assert main(["lint", "--format", "github", "--min-static-tokens", "10", "we,ird:100%.j2"]) == 1
    line = capsys.readouterr().out.strip()
    assert line.startswith("::warning file=we%2Cird%3A100%25.j2,line=1,col=9,title=PC101::PC101 per-call value")
    assert "\n" not in line


def test_sarif_format(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(repo, "p/b.j2", EARLY)
    assert main(["lint", "--format", "sarif", "--min-static-tokens", "10", "p/b.j2"]) == 1
    log = json.loads(capsys.readouterr().out)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {"PC101", "PC900"}
    result = run["results"][0]
    assert result["ruleId"] == "PC101"
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "PC101"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "p/b.j2"
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1, "startColumn": 9}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("a.j2", "{# promptcache: ignore[PC101] #}\n" + EARLY),
        ("a.j2", "{# promptcache: ignore-file[PC101] #}\n\n\n" + EARLY),
        ("a.mustache", "{{! promptcache: ignore[PC101] }}\nYou are {{name}}.\nAlways answer in English, cite your sources, and keep answers short.\n"),
        ("prompts/a.md", "<!-- promptcache: ignore[PC101] -->\nYou are {name}.\nAlways answer in English, cite your sources, and keep answers short.\n"),
        ("a.yaml", "agent:\n  # promptcache: ignore[PC101]\n  system_template: |-\n    You are {{name}}.\n    Always answer in English, cite your sources, and keep answers short.\n"),
        ("b.yaml", "agent:\n  system_template: |-  # promptcache: ignore[PC101]\n    You are {{name}}.\n    Always answer in English, cite your sources, and keep answers short.\n"),
    ],
)
def test_inline_suppression(repo: Path, name: str, text: str) -> None:
    _write(repo, name, text)
    assert main(["lint", "--min-static-tokens", "10", name]) == 0


def test_suppression_is_per_code(repo: Path) -> None:
    _write(repo, "a.j2", "{# promptcache: ignore[PC103] #}\n" + EARLY)
    assert main(["lint", "--min-static-tokens", "10", "a.j2"]) == 1


def test_pyproject_configuration(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(repo, "pyproject.toml", """
[tool.promptcache.lint]
min-static-tokens = 10
exclude = ["vendor/*"]
[tool.promptcache.lint.per-path."legacy/*"]
ignore = ["PC101"]
[tool.promptcache.lint.per-path."agents/*"]
constants = ["name"]
""")
    _write(repo, "legacy/a.j2", EARLY)
    _write(repo, "agents/a.j2", EARLY)
    _write(repo, "vendor/a.j2", EARLY)
    _write(repo, "new/a.j2", EARLY)
    assert main(["lint", "."]) == 1
    assert capsys.readouterr().out.splitlines()[0].startswith("new/a.j2:1:9: PC101")
    assert main(["lint", "--ignore", "PC1", "."]) == 0


def test_bad_configuration_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(repo, "pyproject.toml", "[tool.promptcache.lint]\nmin-static-tokenz = 10\n")
    _write(repo, "a.j2", EARLY)
    assert main(["lint", "a.j2"]) == 2
    assert "unknown key(s) min_static_tokenz" in capsys.readouterr().err
    assert main(["lint", "--select", "PC7", "--config", "pyproject.toml", "a.j2"]) == 2
    _write(repo, "pyproject.toml", "[tool.promptcache.lint]\npython = \"yes\"\n")
    assert main(["lint", "a.j2"]) == 2
    assert "python must be true or false" in capsys.readouterr().err


def test_model_sets_minimum_static_tokens(repo: Path) -> None:
    _write(repo, "a.j2", EARLY)
    assert main(["lint", "--model", "deepseek-v4-pro", "a.j2"]) == 0  # ~25 tokens < 64
    _write(repo, "b.j2", "You are {{ name }}.\n" + "Answer carefully and cite sources. " * 40)
    assert main(["lint", "--model", "deepseek-v4-pro", "b.j2"]) == 1  # ~350 tokens >= 64
    assert main(["lint", "--model", "gpt-4o", "b.j2"]) == 0  # < 1024


def test_not_utf8_is_a_read_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "a.j2").write_bytes(b"ok\n\xff\xfe")
    assert main(["lint", "a.j2"]) == 2
    assert "a.j2:2:1: PC900 cannot read file: not UTF-8" in capsys.readouterr().out


def test_templates_are_never_rendered(repo: Path, tmp_path: Path) -> None:
    """Expressions that would read files or reach Python internals if rendered are only parsed."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    _write(repo, "evil.j2", (
        "{{ user }}\n"
        "{{ ''.__class__.__mro__[1].__subclasses__() }}\n"
        f"{{% include '{secret}' %}}\n"
        "{{ cycler.__init__.__globals__.os.system('touch pwned') }}\n"
        "Static text that follows, long enough to be worth caching in every request.\n"
    ))
    result = subprocess.run([sys.executable, "-m", "promptcache", "lint", "--format", "json", "--min-static-tokens", "5", "evil.j2"],
                            capture_output=True, text=True, cwd=repo, check=False)
    assert "TOPSECRET" not in result.stdout + result.stderr
    assert not (repo / "pwned").exists()
    assert result.returncode == 1
    assert [r["code"] for r in json.loads(result.stdout)] == ["PC101"]


def test_lint_path_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from promptcache.cli import main\n"
        "rc = main(['lint', '--min-static-tokens', '5', sys.argv[1]])\n"
        "heavy = sorted(m for m in ('rich', 'pydantic', 'tokenizers', 'tiktoken', 'orjson', 'promptcache.knowledge.catalog') if m in sys.modules)\n"
        "print(rc, heavy)\n"
    )
    template = Path(__file__).parent / "lint_cases" / "PC101.toml"
    out = subprocess.run([sys.executable, "-c", code, str(template)], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]"), out


def test_deepseek_tokenizer_counts_exactly(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tokenizers")
    _write(repo, "a.j2", EARLY)
    assert main(["lint", "--format", "json", "--tokenizer", "deepseek", "--min-static-tokens", "5", "a.j2"]) == 1
    exact = json.loads(capsys.readouterr().out)[0]["static_tokens"]
    assert main(["lint", "--format", "json", "--min-static-tokens", "5", "a.j2"]) == 1
    approx = json.loads(capsys.readouterr().out)[0]["static_tokens"]
    assert exact != approx and abs(exact - approx) <= approx * 0.5


def test_directory_walk_picks_template_files_only(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(repo, "README.md", "Use {name} here.\n" + "Static words. " * 30)
    _write(repo, "src/app.py", "P = 'Hi {name}. ' + 'x'\n")
    _write(repo, "prompts/sys.md", "You are {name}.\n" + "Static words. " * 30)
    _write(repo, ".hidden/a.j2", EARLY)
    assert main(["lint", "--min-static-tokens", "10", "."]) == 1
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == ["prompts/sys.md"]


SDK_APP = '''from datetime import datetime

from openai import OpenAI

client = OpenAI()
log_line = f"{datetime.now()} started the nightly job; see the runbook for what to do when it fails, step by step."


def ask(question):
    return client.chat.completions.create(model="gpt-4o", messages=[
        {"role": "system", "content": f"Now: {datetime.now()}. You are a support assistant; answer politely and cite the policy."},
        {"role": "user", "content": question},
    ])
'''


def test_python_call_sites_in_a_directory_walk(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`promptcache lint src/` reads .py files only when configured (python = true, or --python); then
    only prompts that reach a model (and prompt-named constants), never every f-string in the code."""
    _write(repo, "src/app.py", SDK_APP)
    assert main(["lint", "--min-static-tokens", "10", "src"]) == 0
    assert main(["lint", "--min-static-tokens", "10", "--python", "src"]) == 1
    assert capsys.readouterr().out.splitlines()[0].startswith("src/app.py:11:46: PC102 {datetime.now()} changes on every render")
    _write(repo, "pyproject.toml", "[tool.promptcache.lint]\npython = true\nmin-static-tokens = 10\n")
    assert main(["lint", "src"]) == 1
    assert [line.split(": ")[0] for line in capsys.readouterr().out.splitlines()] == ["src/app.py:11:46"]
    # given explicitly, a .py file is read whole: the log line's f-string counts as a template too
    assert main(["lint", "src/app.py"]) == 1
    assert [line.split(": ")[0] for line in capsys.readouterr().out.splitlines()] == ["src/app.py:6:12", "src/app.py:11:46"]
