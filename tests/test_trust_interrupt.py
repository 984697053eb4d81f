"""Issue 10: Ctrl-C during a long run exits cleanly (130) with what was analyzed so far, marked
PARTIAL in every format, never as if complete, and the partial ledger still closes."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

import promptcache.analyze.pipeline as analysis
import promptcache.analyze.simulations as simulations
import promptcache.read.reader as logs
from promptcache.analyze.pipeline import AnalyzeOptions
from promptcache.cli import analyze_cmd, main
from promptcache.report import RENDERERS, renderer
from promptcache.report.recommendation_text import with_text

N = 2500


@pytest.fixture(scope="module")
def long_log(tmp_path_factory):
    p = tmp_path_factory.mktemp("long") / "calls.jsonl"
    with open(p, "w", encoding="utf-8") as fh:
        for i in range(N):
            if i % 250 == 7:
                fh.write("{truncated\n")  # some skipped lines too
            fh.write(json.dumps({
                "model": "deepseek-v4-pro", "timestamp": f"2026-11-16T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "messages": [{"role": "system", "content": "You are a terse assistant. " * 20},
                             {"role": "user", "content": f"question {i}"}],
                "usage": {"prompt_tokens": 150, "completion_tokens": 3,
                          "prompt_cache_hit_tokens": 128, "prompt_cache_miss_tokens": 22}}) + "\n")
    return p


def _interrupt_at(n_calls: int):
    def progress(n: int, fraction: float | None = None) -> None:
        if n >= n_calls:
            raise KeyboardInterrupt

    return progress


def test_library_returns_a_partial_report(long_log):
    report = analysis.analyze([long_log], AnalyzeOptions(), progress=_interrupt_at(1000))
    assert report.partial
    assert report.calls == 1000  # the progress callback fires every 1000 calls
    assert report.lines_read == report.calls + report.skipped_lines
    assert any("Interrupted" in n for n in with_text(report).assumptions.notes)
    full = analysis.analyze([long_log], AnalyzeOptions())
    assert not full.partial and full.calls == N and full.lines_read == full.calls + full.skipped_lines


def test_interrupt_inside_the_reader_keeps_the_ledger_closed(long_log, monkeypatch):
    """Ctrl-C lands in the middle of parsing a line: that line is not counted as read."""
    real = logs.PARSERS["openai"]
    seen = {"n": 0}

    def parser(*args):
        seen["n"] += 1
        if seen["n"] == 1200:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setitem(logs.PARSERS, "openai", parser)
    report = analysis.analyze([long_log], AnalyzeOptions())
    assert report.partial and 0 < report.calls < N
    assert report.lines_read == report.calls + report.skipped_lines


@contextmanager
def _ctrl_c_progress():
    yield _interrupt_at(1000)


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_cli_prints_partial_and_exits_130(long_log, monkeypatch, capsys, fmt):
    monkeypatch.setattr(analyze_cmd, "_progress", _ctrl_c_progress)
    code = main(["analyze", str(long_log), "--format", fmt])
    out, err = capsys.readouterr()
    assert code == 130, err
    assert "Traceback" not in err and "interrupted" in err.lower() and "PARTIAL" in err
    if fmt == "json":
        data = json.loads(out)
        assert data["partial"] is True and data["calls"] == 1000
        assert data["lines_read"] == data["calls"] + data["skipped_lines"]
    else:
        assert "partial" in out.lower(), f"{fmt}: the report does not say it is partial"
        assert "1,000" in out or "1000" in out


def test_cli_partial_to_a_file(long_log, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(analyze_cmd, "_progress", _ctrl_c_progress)
    out_file = tmp_path / "report.json"
    code = main(["analyze", str(long_log), "-o", str(out_file)])
    _, err = capsys.readouterr()
    assert code == 130 and json.loads(out_file.read_text())["partial"] is True


def test_interrupt_before_any_call(long_log, monkeypatch, capsys):
    def parser(*args):
        raise KeyboardInterrupt

    monkeypatch.setitem(logs.PARSERS, "openai", parser)
    code = main(["analyze", str(long_log)])
    out, err = capsys.readouterr()
    assert code == 130 and ("Interrupted" in err or "Aborted" in err) and "Traceback" not in err
    assert "no call could be analyzed" not in err


def _ctrl_c_on_call(monkeypatch, target: str, n: int) -> None:
    """Ctrl-C on the ``n``-th call (from 1) of ``<target>``, in the analysis module that calls it."""
    module = simulations if hasattr(simulations, target) else analysis
    real = getattr(module, target)
    seen = {"n": 0}

    def wrapped(*a, **k):
        seen["n"] += 1
        if seen["n"] == n:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(module, target, wrapped)


def test_interrupt_in_the_first_simulation(long_log, monkeypatch, capsys):
    """Issue 18, point 6. Was: Ctrl-C during the simulation gave exit 130, "Aborted." and no report.
    Now every call read is reported (groups, observed hit ratio and cost), marked PARTIAL, exit 130."""
    _ctrl_c_on_call(monkeypatch, "simulate_outcomes", 1)
    code = main(["analyze", str(long_log), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 130 and "Traceback" not in err and "PARTIAL" in err
    data = json.loads(out)
    assert data["partial"] is True and data["calls"] == N and data["scenarios"] == []
    assert data["lines_read"] == data["calls"] + data["skipped_lines"]
    assert data["observed"]["calls"] == N and data["groups"]
    note = next(n for n in data["assumptions"]["notes"] if n.startswith("Interrupted during"))
    assert "the simulation of deepseek-v4-pro as logged" in note and "no simulation finished" in note
    assert data["timeline"] is None or data["timeline"]["simulated"] == []  # no series cut short


def test_interrupt_after_one_model(long_log, monkeypatch):
    """The models whose simulation finished keep their rows; the others are named as not simulated."""
    _ctrl_c_on_call(monkeypatch, "simulate_outcomes", 2)  # Pro and Flash share the first simulation
    report = analysis.analyze([long_log], AnalyzeOptions())
    assert report.partial and report.calls == N
    rows = {(s.model, s.layout) for s in report.scenarios}
    assert rows == {("deepseek-v4-pro", "as_logged"), ("deepseek-flash", "as_logged")}
    full = {(s.model, s.layout): s for s in analysis.analyze([long_log], AnalyzeOptions()).scenarios}
    for s in report.scenarios:  # what is shown is exactly what a full run shows
        assert s == full[(s.model, s.layout)]
    note = next(n for n in with_text(report).assumptions.notes if n.startswith("Interrupted during"))
    missing = note.split("not simulated: ")[1]
    assert "claude-sonnet-4-5 as logged" in missing and "gpt-4o as logged" in missing and "no recommendation" in note
    assert "deepseek-v4-pro as logged" not in missing
    assert {x.model for x in report.timeline.simulated} <= {"deepseek-v4-pro", "deepseek-flash"}
    for fmt in RENDERERS:  # every format says PARTIAL and renders without the missing rows
        text = renderer(fmt)(report)
        assert "partial" in text.lower(), fmt
    for fmt in ("markdown", "html"):  # the banner says what was interrupted, not "the calls read so far"
        banner = renderer(fmt)(report).split("Interrupted during", 1)[1][:400]
        assert "not simulated: " in banner and "claude-sonnet-4-5 as logged" in banner


@pytest.mark.parametrize("stage,kept", [("choose", "scenarios"), ("recommend_models", "findings")])
def test_interrupt_in_a_later_stage(long_log, monkeypatch, stage, kept):
    """Ctrl-C in the what-ifs or the recommendation: every finished scenario (and the findings, once
    the what-ifs are done) is kept."""
    if stage == "recommend_models":
        import promptcache.recommend.options as options

        monkeypatch.setattr(options, "recommend_models", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    else:
        monkeypatch.setattr(analysis, "choose", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    log = long_log.parent / "with_breaker.jsonl"
    rows = [json.loads(x) for x in long_log.read_text().splitlines()[:400] if x.startswith("{\"")]
    for i, r in enumerate(rows):  # a timestamp atop the system prompt: a breaker the what-ifs try
        r["messages"][0]["content"] = f"Now: 2026-11-16 {i // 60 % 24:02d}:{i % 60:02d}\n" + r["messages"][0]["content"]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = analysis.analyze([log], AnalyzeOptions())
    assert report.partial and report.calls == len(rows) and report.recommendation is None
    assert {s.layout for s in report.scenarios} >= {"as_logged"} and len(report.scenarios) >= 4
    if kept == "findings":
        assert report.findings and {s.layout for s in report.scenarios} == {"as_logged", "restructured"}
    else:
        assert not report.findings


def test_real_sigint_during_the_simulation_gives_a_partial_report(long_log, tmp_path):
    """The signal itself, not a raised exception: SIGINT delivered to the process in the middle of
    the first simulation (was: exit 130, "Aborted.", no report)."""
    import subprocess
    import sys

    script = (
        "import os, signal, sys\n"
        "import promptcache.analyze.simulations as p\n"
        "real = p.simulate_outcomes\n"
        "def sim(*a, **k):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(*a, **k)\n"
        "p.simulate_outcomes = sim\n"
        "from promptcache.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    out_file = tmp_path / "r.json"
    res = subprocess.run([sys.executable, "-c", script, "analyze", str(long_log), "-o", str(out_file)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 130, res.stderr
    assert "Traceback" not in res.stderr and "Aborted" not in res.stderr and "PARTIAL" in res.stderr
    data = json.loads(out_file.read_text())
    assert data["partial"] is True and data["calls"] == N
    assert f"wrote the JSON report (PARTIAL) to {out_file}" in res.stderr


def test_interrupt_before_reading_says_there_is_nothing_yet(monkeypatch, capsys, long_log):
    import promptcache.analyze.pipeline as p

    monkeypatch.setattr(p, "first_pass", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    code = main(["analyze", str(long_log)])
    out, err = capsys.readouterr()
    assert code == 130 and out == ""
    assert err.startswith("promptcache: Interrupted before any call was read") and "error" not in err


@pytest.mark.parametrize("during", ["what-ifs", "as logged"])
def test_ctrl_c_with_workers(long_log, tmp_path, during):
    """`--jobs 2`: Ctrl-C reaches the whole process group (parent and workers) during the what-ifs,
    or during the simulation as logged (its partitions forked as units of one plan, issue 21).
    The workers leave it to the parent, which reports what was done: no traceback from any worker."""
    import subprocess
    import sys

    log = tmp_path / "breaker.jsonl"
    rows = [json.loads(x) for x in long_log.read_text().splitlines()[:300] if x.startswith('{"')]
    for i, r in enumerate(rows):  # a timestamp atop the system prompt: a breaker, so what-ifs run
        r["messages"][0]["content"] = f"Now: 2026-11-16 {i // 60 % 24:02d}:{i % 60:02d}\n" + r["messages"][0]["content"]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    script = (
        "import os, signal, sys, time\n"
        "import promptcache.simulate.parallel as par\n"
        "real = par.fork_map\n"
        "def fork_map(task, n, *, jobs=1):\n"
        + (
            "    if not sys._getframe(1).f_code.co_filename.endswith('whatif.py'):\n"
            "        return real(task, n, jobs=jobs)\n"  # the simulation as logged: left alone
            if during == "what-ifs"
            else ""
        )
        + "    def ctrl_c(i):\n"
        "        if i == 0:\n"
        "            os.killpg(os.getpgrp(), signal.SIGINT)\n"
        "        time.sleep(2)\n"
        "        return task(i)\n"
        "    return real(ctrl_c, max(n, 2), jobs=jobs)\n"
        "par.fork_map = fork_map\n"
        "from promptcache.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    import os
    import signal

    proc = subprocess.Popen([sys.executable, "-c", script, "analyze", str(log), "--jobs", "2", "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # was: the pool waited forever for its interrupted workers
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: the parent and its workers only
        proc.communicate()
        pytest.fail("analyze --jobs 2 hung after Ctrl-C")
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "PARTIAL" in err, err
    data = json.loads(out)
    assert data["partial"] is True and data["calls"] == len(rows) and data["findings"] == []
    # interrupted in the what-ifs: every model as logged is in; in the first simulation: none yet
    assert {s["layout"] for s in data["scenarios"]} == ({"as_logged"} if during == "what-ifs" else set())


def test_interrupt_while_writing_leaves_no_half_file(long_log, monkeypatch, capsys, tmp_path):
    """Ctrl-C during the write of -o: the file is whole or absent, never half a report."""
    import promptcache.cli.report_cmd as report_cmd

    out_file = tmp_path / "r.json"
    real = report_cmd.os.replace

    def replace(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_cmd.os, "replace", replace)
    code = main(["analyze", str(long_log), "-o", str(out_file)])
    _, err = capsys.readouterr()
    monkeypatch.setattr(report_cmd.os, "replace", real)
    assert code == 130 and not out_file.exists() and list(tmp_path.iterdir()) == []
    assert err.startswith(f"promptcache: Interrupted while writing {out_file}") and "Traceback" not in err


def test_unwritable_output_is_an_error(long_log, capsys, tmp_path):
    code = main(["analyze", str(long_log), "-o", str(tmp_path / "no" / "such" / "dir" / "r.json")])
    _, err = capsys.readouterr()
    assert code == 2 and "cannot write it" in err and "internal error" not in err
