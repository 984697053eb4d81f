"""Issue 10, never leak: no network access, templates never rendered, user data files never code.

Every command runs in a subprocess whose ``sitecustomize`` makes any network use fail (and records
the attempt): ``socket.connect``/``connect_ex``/``sendto``, ``getaddrinfo``, ``gethostbyname``,
``create_connection``. Each command must still work, and nothing may have been attempted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "formats"

SITECUSTOMIZE = r'''
import os, socket

_LOG = os.environ["PROMPTCACHE_NET_LOG"]


def _deny(what):
    def blocked(*args, **kwargs):
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(f"{what} {args[1:2] if what.startswith('socket.') else args[:1]!r}\n")
        raise OSError(101, f"network disabled by the promptcache no-network test ({what})")
    return blocked


for _name in ("connect", "connect_ex", "sendto", "sendmsg"):
    setattr(socket.socket, _name, _deny(f"socket.{_name}"))
socket.getaddrinfo = _deny("getaddrinfo")
socket.gethostbyname = _deny("gethostbyname")
socket.gethostbyname_ex = _deny("gethostbyname_ex")
socket.create_connection = _deny("create_connection")
'''


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    d = tmp_path_factory.mktemp("nonet")
    (d / "site").mkdir()
    (d / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = d / "attempts.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP", "HTTPS", "ALL_PROXY", "NO_PROXY"))}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(d / "site"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "PROMPTCACHE_NET_LOG": str(log),
        # any library that would try the network anyway gets a dead proxy too
        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
        "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0",  # left at defaults: we check, not configure
        "TIKTOKEN_CACHE_DIR": str(d / "tiktoken-cache"),  # an empty cache: a download would be needed
        "NO_COLOR": "1",
    })
    return d, env, log


def _run(sandbox, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    d, env, log = sandbox
    r = subprocess.run([sys.executable, "-m", "promptcache", *args], capture_output=True, text=True, env=env,
                       cwd=cwd or d, timeout=300)
    assert "Traceback" not in r.stderr, r.stderr
    attempts = log.read_text() if log.exists() else ""
    assert not attempts, f"`promptcache {' '.join(args)}` tried the network:\n{attempts}"
    return r


def test_the_sandbox_blocks(sandbox):
    d, env, log = sandbox
    r = subprocess.run([sys.executable, "-c", "import socket\ntry:\n socket.create_connection(('example.com', 80))\n"
                        "except OSError as e:\n print('blocked', e)"], capture_output=True, text=True, env=env)
    assert "blocked" in r.stdout
    assert log.read_text().startswith("create_connection")
    log.unlink()


def _formats() -> list[str]:
    from promptcache.report import RENDERERS

    return list(RENDERERS)


@pytest.mark.parametrize("fmt", _formats())
def test_analyze_example_every_format(sandbox, fmt):
    r = _run(sandbox, "analyze", "--example", "--format", fmt)
    assert r.returncode == 0, r.stderr
    assert r.stdout


def _fixture_runs() -> list[list[str]]:
    files = sorted(p for p in FIXTURES.iterdir() if p.is_file())
    paired = {"openai_batch_input.jsonl": "openai_batch_output.jsonl",
              "anthropic_batch_requests.jsonl": "anthropic_batch_results.jsonl"}
    runs, used = [], set()
    for p in files:
        if p.name in used:
            continue
        if p.name in paired:
            runs.append([str(p), str(FIXTURES / paired[p.name])])
            used.add(paired[p.name])
        elif p.name not in paired.values():
            runs.append([str(p)])
    return runs


@pytest.mark.parametrize("paths", _fixture_runs(), ids=lambda ps: Path(ps[0]).name)
def test_analyze_each_log_format(sandbox, paths):
    r = _run(sandbox, "analyze", *paths, "--format", "json", "--models", "+gpt-4o,claude-sonnet-4")
    assert r.returncode in (0, 2), r.stderr
    if r.returncode == 0:
        json.loads(r.stdout)


def test_models(sandbox):
    r = _run(sandbox, "models")
    assert r.returncode == 0 and "deepseek" in r.stdout


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_lint(sandbox, fmt, tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "system.j2").write_text(
        "Today is {{ now }}. You are a helpful assistant for {{ company }}.\n" + "Follow the policy. " * 60 + "\n",
        encoding="utf-8")
    r = _run(sandbox, "lint", "--format", fmt, "--model", "deepseek-v4-pro", "--calls-per-day", "1000", "prompts",
             cwd=tmp_path)
    assert r.returncode == 1, r.stderr


def test_report_diff_anonymize(sandbox, tmp_path):
    d, env, log = sandbox
    commands = set(json.loads(subprocess.run(
        [sys.executable, "-c", "import json; from promptcache.cli import _Group; print(json.dumps(list(_Group._commands)))"],
        capture_output=True, text=True, check=True).stdout))
    saved = tmp_path / "a.json"
    r = _run(sandbox, "analyze", "--example", "-o", str(saved), "--format", "json")
    assert r.returncode == 0, r.stderr
    if "report" in commands:
        for fmt in ("term", "markdown", "html", "json"):
            r = _run(sandbox, "report", str(saved), "--format", fmt)
            assert r.returncode == 0, r.stderr
    if "diff" in commands:
        r = _run(sandbox, "diff", str(saved), str(saved))
        assert r.returncode == 0, r.stderr
    if "anonymize" in commands:
        example = str(resources.files("promptcache").joinpath("data/example.jsonl.gz"))
        out = tmp_path / "trace.jsonl"
        r = _run(sandbox, "anonymize", example, "-o", str(out))
        assert r.returncode == 0 and out.exists(), r.stderr
        r = _run(sandbox, "analyze", str(out), "--format", "json")
        assert r.returncode == 0, r.stderr


def test_help_and_errors(sandbox):
    assert _run(sandbox, "--help").returncode == 0
    r = _run(sandbox, "analyze", "no-such-file.jsonl")
    assert r.returncode == 2 and "no such file" in r.stderr


# --- templates are parsed, never rendered -------------------------------------------------------

HOSTILE_TEMPLATE = """{# would run code or read files if it were ever rendered #}
{{ cycler.__init__.__globals__.os.system('touch PWNED_SYSTEM') }}
{{ lipsum.__globals__['os'].popen('touch PWNED_POPEN').read() }}
{{ ''.__class__.__mro__[1].__subclasses__() }}
{% include '/etc/passwd' %}
{% import 'secret_macros.j2' as m %}{{ m.leak() }}
{% set x = namespace(a=self.__init__.__globals__) %}
{{ request.application.__globals__.__builtins__.__import__('os').system('touch PWNED_IMPORT') }}
You are a helpful assistant. Answer briefly and cite sources. """ + "Keep to the policy. " * 40


def test_templates_are_parsed_never_rendered(tmp_path, monkeypatch, capsys):
    import jinja2

    def forbidden(*a, **k):
        raise AssertionError("a template was rendered/compiled/loaded")

    for cls, names in ((jinja2.Template, ("render", "generate", "stream", "render_async", "make_module")),
                       (jinja2.Environment, ("from_string", "get_template", "compile", "select_template"))):
        for name in names:
            monkeypatch.setattr(cls, name, forbidden)
    (tmp_path / "prompts").mkdir()
    for name in ("system.j2", "agent.jinja", "chat.jinja2", "prompt.md"):
        (tmp_path / "prompts" / name).write_text(HOSTILE_TEMPLATE, encoding="utf-8")
    (tmp_path / "prompts" / "secret_macros.j2").write_text("{% macro leak() %}{{ config }}{% endmacro %}")
    monkeypatch.chdir(tmp_path)
    from promptcache.cli import main

    code = main(["lint", "prompts", "--format", "json"])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    assert not list(tmp_path.glob("PWNED*")), "a template was executed"
    assert "root:" not in out  # /etc/passwd was never read
    json.loads(out)


def test_templates_never_rendered_in_a_subprocess(sandbox, tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "system.j2").write_text(HOSTILE_TEMPLATE, encoding="utf-8")
    r = _run(sandbox, "lint", "prompts", cwd=tmp_path)
    assert r.returncode in (0, 1), r.stderr
    assert not list(tmp_path.glob("PWNED*"))
    assert "root:" not in r.stdout


# --- user data files are data -------------------------------------------------------------------

@pytest.mark.parametrize("content", [
    "!!python/object/apply:os.system ['touch PWNED_YAML']\n",
    "__import__('os').system('touch PWNED_EVAL')\n",
    '{"models": [{"id": "x", "__class__": "os.system"}]}',
    '{"models": "not a list"}',
    "",
])
def test_price_file_is_data(tmp_path, content, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prices = tmp_path / "prices.json"
    prices.write_text(content, encoding="utf-8")
    from promptcache.cli import main

    code = main(["analyze", "--example", "--prices", str(prices), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 2 and err.startswith("promptcache: error: ") and "Traceback" not in err
    assert "prices.json" in err
    assert not list(tmp_path.glob("PWNED*"))


def test_lint_config_is_data(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "a.j2").write_text("hello {{ x }}\n", encoding="utf-8")
    cfg = tmp_path / "lint.toml"
    cfg.write_text('[tool.promptcache.lint]\nmin-static-tokens = "__import__(\'os\').system(\'touch PWNED\')"\n')
    from promptcache.cli import main

    code = main(["lint", "prompts", "--config", str(cfg)])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    assert not list(tmp_path.glob("PWNED*"))
