"""Pytest plugin: ``--update-golden`` rewrites the golden files in tests/golden/ instead of comparing.

Load it explicitly (tests/conftest.py is shared and left alone):

    python -m pytest -p tests.conftest_golden --update-golden tests/test_report_golden.py

``PROMPTCACHE_UPDATE_GOLDEN=1`` does the same without the plugin.
"""


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="Rewrite tests/golden/* from the current output instead of comparing.")
