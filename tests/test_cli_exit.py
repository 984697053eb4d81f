"""The process's entry (``promptcache.cli.run``): the command's work, then an exit that skips the
collector's walk over what is still alive (``gc.freeze``), with the same output and exit code."""

from __future__ import annotations

import subprocess
import sys


def _py(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)


def test_run_exits_with_mains_code_frozen_and_atexit_runs() -> None:
    code = (
        "import atexit, gc\n"
        "from promptcache import cli\n"
        "cli.main = lambda: 3\n"
        "atexit.register(lambda: print('atexit', gc.get_freeze_count() > 0, flush=True))\n"
        "cli.run()\n"
    )
    got = _py(code)
    assert got.returncode == 3, got.stderr
    assert got.stdout.strip() == "atexit True"


def test_main_freezes_nothing() -> None:
    # tests and embedders call ``main``: their collector must keep walking their objects
    code = (
        "import gc\n"
        "from promptcache.cli import main\n"
        "rc = main(['analyze', '--example', '--format', 'json', '-o', '/dev/null'])\n"
        "print(rc, gc.get_freeze_count())\n"
    )
    got = _py(code)
    assert got.stdout.split() == ["0", "0"], got.stderr


def test_module_entry_writes_what_main_writes() -> None:
    # the JSON report on stdout through ``python -m promptcache`` (``run``: frozen, then exit) is
    # byte for byte the one ``main`` writes with a plain exit: nothing is lost at exit
    args = ["analyze", "--example", "--format", "json"]
    via_run = subprocess.run([sys.executable, "-m", "promptcache", *args], capture_output=True, check=False)
    plain = _py("import sys\nfrom promptcache.cli import main\nsys.exit(main(sys.argv[1:]))\n", *args)
    assert via_run.returncode == plain.returncode == 0
    assert via_run.stdout.decode() == plain.stdout
    assert via_run.stdout.startswith(b"{")
