"""The `.pre-commit-hooks.yaml` hook, run by pre-commit itself against a scratch repository.

The hook repository is a committed copy of this checkout (pre-commit installs hooks from a git
revision); the user repository changes a template and an unrelated text file, and only the
template may reach the linter. Needs `pre-commit` (test extra) and git; skipped otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GIT = ["git", "-c", "user.email=test@example.com", "-c", "user.name=test", "-c", "commit.gpgsign=false"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("pre_commit")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path_factory.mktemp("hook")
    for name in ("pyproject.toml", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "promptcache", repo / "promptcache", ignore=shutil.ignore_patterns("__pycache__"))
    readme = ROOT / "README.md"
    (repo / "README.md").write_text(readme.read_text(encoding="utf-8") if readme.exists() else "# promptcache\n", encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "hook")
    return repo


def _try_repo(hook: Path, user: Path, *files: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(hook.parent / "pre-commit-home")}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook), "promptcache-lint", "--files", *files],
        cwd=user, capture_output=True, text=True, env=env, check=False, timeout=600,
    )


def test_hook_lints_changed_templates_only(hook_repo: Path, tmp_path: Path) -> None:
    user = tmp_path / "user"
    (user / "prompts").mkdir(parents=True)
    (user / "prompts" / "system.j2").write_text("You are {{ name }}.\n" + "Answer carefully and cite sources. " * 20 + "\n", encoding="utf-8")
    (user / "notes.txt").write_text("Not a prompt: {name} " + "words " * 100, encoding="utf-8")
    (user / "prompts" / "clean.j2").write_text("Answer carefully and cite sources.\n{{ question }}\n", encoding="utf-8")
    _git(user, "init", "-q")
    _git(user, "add", "-A")

    failing = _try_repo(hook_repo, user, "prompts/system.j2", "notes.txt")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "prompts/system.j2:1:9: PC101" in failing.stdout
    assert "notes.txt" not in failing.stdout.split("promptcache-lint", 1)[-1]

    clean = _try_repo(hook_repo, user, "prompts/clean.j2", "notes.txt")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout


HELM = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-app
spec:
  template:
    metadata:
      labels:
        {{- include "app.labels" . | nindent 8 }}
"""
SYSTEM_MD = (
    "The assistant is Claude, created by Anthropic.\n\nThe current date is {{currentDateTime}}.\n\n"
    + "Claude answers carefully, cites its sources and keeps answers short. " * 20 + "\n"
)


def _user_repo(root: Path) -> Path:
    """A repository with a Helm chart, a Markdown system prompt, and an unrelated YAML file."""
    files = {
        "chart/templates/deployment.yaml": HELM,
        "prompts/system.md": SYSTEM_MD,
        ".github/workflows/ci.yml": "on: push\njobs: {build: {runs-on: '${{ matrix.os }}'}}\n",
        "docs/notes.md": "Write {{ name }} where the user's name goes. " + "words " * 100,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    return root


def test_helm_chart_does_not_block_a_commit(hook_repo: Path, tmp_path: Path) -> None:
    """Issue 20: `name: {{ .Release.Name }}-app` used to give 'PC900 YAML syntax error', exit 2."""
    user = _user_repo(tmp_path / "user")
    clean = _try_repo(hook_repo, user, "chart/templates/deployment.yaml", ".github/workflows/ci.yml", "docs/notes.md")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "PC900" not in clean.stdout

    failing = _try_repo(hook_repo, user, "chart/templates/deployment.yaml", "prompts/system.md")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "prompts/system.md:3:21: PC102" in failing.stdout
    assert "deployment.yaml" not in failing.stdout.split("promptcache-lint", 1)[-1]


def _readme_snippet() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    return next(b for b in blocks if "promptcache-lint" in b)


def test_readme_snippet_works_as_written(hook_repo: Path, tmp_path: Path) -> None:
    """The README's .pre-commit-config.yaml, with only the repository URL replaced, installs and
    runs; `pre-commit autoupdate` (as the README says) pins a commit sha, since there are no tags."""
    snippet = _readme_snippet()
    assert "v0.1.0" not in snippet
    user = _user_repo(tmp_path / "user")
    config = re.sub(r"repo: \S+", f"repo: {hook_repo.as_posix()}", snippet, count=1)
    (user / ".pre-commit-config.yaml").write_text(config, encoding="utf-8")
    env = {**os.environ, "PRE_COMMIT_HOME": str(hook_repo.parent / "pre-commit-home")}

    def pre_commit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=user, capture_output=True,
                              text=True, env=env, check=False, timeout=600)

    updated = pre_commit("autoupdate")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=hook_repo, capture_output=True, text=True, check=True).stdout.strip()
    assert f"rev: {sha}" in (user / ".pre-commit-config.yaml").read_text(encoding="utf-8")

    run = pre_commit("run", "--files", "chart/templates/deployment.yaml", "prompts/system.md", ".github/workflows/ci.yml")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "prompts/system.md:3:21: PC102" in run.stdout
    assert "PC900" not in run.stdout
