"""Issue 18, point 9: the README says how to run the tests that skip by default: the real-data tests
(``PROMPTCACHE_REALDATA``) and the browser test (Chromium), in words that match what the tests do."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_says_how_to_run_the_real_data_tests():
    assert "PROMPTCACHE_REALDATA=" in README
    conftest = (ROOT / "tests" / "conftest.py").read_text(encoding="utf-8")
    assert 'os.environ.get("PROMPTCACHE_REALDATA")' in conftest  # the variable the README names is the one read
    for name in re.findall(r"tests/(test_\w+\.py)", README):
        assert (ROOT / "tests" / name).exists(), f"README names tests/{name}, which does not exist"
    realdata_tests = [p.name for p in (ROOT / "tests").glob("test_*realdata*.py")]
    assert realdata_tests and "tests/*realdata*.py" in README


def test_readme_says_how_to_run_the_browser_test():
    assert "apt-get install -y chromium" in README
    assert "tests/test_report_html_browser.py" in README and "PROMPTCACHE_CHROMIUM" in README
    browser = (ROOT / "tests" / "test_report_html_browser.py").read_text(encoding="utf-8")
    assert "PROMPTCACHE_CHROMIUM" in browser and '"chromium"' in browser
