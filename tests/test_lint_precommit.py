"""The `.pre-commit-hooks.yaml` hook, run by pre-commit itself against a scratch repository.

The hook repository is a committed copy of this checkout (pre-commit installs hooks from a git
revision); the user repository changes a template and an unrelated text file, and only the
template may reach the linter. Needs `pre-commit` (test extra) and git; skipped otherwise.
"""

from __future__ import annotations

import os
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
