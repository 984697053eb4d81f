"""The HTML report in a real browser (headless Chromium): it renders, nothing from a prompt runs,
and a screenshot comes out. Skipped, with the reason, where no Chromium binary is installed."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from promptcache.report import renderer

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell")


def _browser() -> str | None:
    env = os.environ.get("PROMPTCACHE_CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


BROWSER = _browser()
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium binary found (looked for " + ", ".join(CANDIDATES) + " on PATH and $PROMPTCACHE_CHROMIUM); "
           "install one, e.g. `apt-get install -y chromium`, to run the HTML browser test")

PAYLOAD = "<script>document.title='PWNED';document.body.innerHTML='PWNED'</script><img src=x onerror=\"document.title='PWNED'\">"


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def hostile_html(tmp_path_factory):
    """The HTML report of a log whose prompts carry script and markup."""
    from promptcache.analyze.pipeline import analyze

    d = tmp_path_factory.mktemp("hostile")
    rows = []
    for i in range(8):
        rows.append({"timestamp": f"2026-11-16T10:{i:02d}:00Z", "latency_ms": 2000, "request": {
            "model": "deepseek-v4-pro", "messages": [
                {"role": "system", "content": f"{PAYLOAD}\nTime: 10:{i:02d}:00\n" + "Be brief. " * 60},
                {"role": "user", "content": f"{PAYLOAD} question {i}"}]}})
    log = d / "calls.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    page = d / "report.html"
    page.write_text(renderer("html")(analyze([log])), encoding="utf-8")
    return page


def test_prompt_script_does_not_run(hostile_html, tmp_path):
    res = _chromium(tmp_path, "--dump-dom", hostile_html.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    assert "<title>promptcache report</title>" in dom
    assert "PWNED" not in dom.replace("document.title='PWNED'", "").replace("innerHTML='PWNED'", "")
    assert "<script" not in dom.lower()
    assert "&lt;script&gt;document.title=" in dom  # shown as text
    assert "Cost per candidate model and layout" in dom


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_screenshot_of_example(tmp_path):
    from importlib import resources

    from promptcache.analyze.pipeline import analyze

    path = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
    page = tmp_path / "example.html"
    page.write_text(renderer("html")(analyze([path])), encoding="utf-8")
    shot = tmp_path / "report.png"
    res = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1800", page.as_uri())
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    assert _png_size(shot) == (1200, 1800)
    assert shot.stat().st_size > 50_000  # charts and text, not a blank page
