"""Issue 10, never crash, never lose: every file of the bad-input corpus gives a clear message with
file and line, the right exit code and no traceback, and every line read is accounted for.

The corpus is ``tests/bad_inputs/`` (small files, written by ``make_corpus.py``); the big inputs (a
100 MB single line, a deeply nested document, a file with no newline at all) are generated here
into a temporary folder.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from promptcache.cli import main
from promptcache.errors import LogFormatError, PromptCacheError
from promptcache.read.reader import MAX_LINE_BYTES, read_logs

CORPUS = Path(__file__).resolve().parent / "bad_inputs"

#: file -> (exit code, skip reasons expected (reason -> count, or None to not check), a needle in the output)
EXPECTED: dict[str, tuple[int, dict[str, int] | None, str]] = {
    "truncated_line.jsonl": (0, {"not_json": 1}, "truncated_line.jsonl:3:"),
    "truncated_tail.jsonl": (0, {"not_json": 1}, "truncated_tail.jsonl:3:"),
    "truncated.jsonl.gz": (0, {"unreadable": 1}, "truncated.jsonl.gz:97: file stops being readable"),
    "corrupt.jsonl.gz": (2, {"unreadable": 1}, "corrupt.jsonl.gz:1: file stops being readable"),
    "truncated_array.json": (0, {"not_json": 1}, "truncated_array.json:4: the JSON array is malformed"),
    "wrong_types.jsonl": (0, None, "wrong_types.jsonl:2:"),
    "token_counts.jsonl": (0, {"bad_usage": 5}, "token_counts.jsonl:2: `usage.prompt_tokens` is negative"),
    "nan.jsonl": (0, {"not_json": 3}, "nan.jsonl:2: not valid JSON"),
    "invalid_utf8.jsonl": (0, {"not_json": 2}, "invalid_utf8.jsonl:2: not valid JSON"),
    "latin1.jsonl": (0, {"not_json": 1}, "latin1.jsonl:2:"),
    "bom.jsonl": (0, {}, ""),
    "crlf.jsonl": (0, {}, ""),
    "bom_utf16.jsonl": (2, None, "bom_utf16.jsonl:1:"),
    "blank_lines.jsonl": (2, {}, "no call could be analyzed in"),
    "empty.jsonl": (2, {}, "(0 line(s) read)"),
    "nested.jsonl": (0, {"not_json": 2}, "nested.jsonl:2: not valid JSON"),
    "nul_bytes.jsonl": (0, {"not_json": 1}, "nul_bytes.jsonl:2:"),
    "binary.jsonl": (2, None, "binary.jsonl:1: not valid JSON"),
    "png_named_log.jsonl": (2, None, "png_named_log.jsonl:1:"),
    "not_a_log.yaml": (2, {"not_yaml": 1}, "not_a_log.yaml:1: not valid YAML"),
    "yaml_aliases.yaml": (2, None, "yaml_aliases.yaml:1:"),
    "unknown_shape.jsonl": (2, {"unknown_format": 2}, "unknown_shape.jsonl:1: a record in no known shape"),
    "json_scalar.json": (2, {"unknown_format": 1}, "json_scalar.json:1:"),
    "pretty_broken.json": (2, None, "pretty_broken.json:1:"),
    "no_logs": (2, None, "directory holds no log files"),
}


def _generated(tmp: Path) -> dict[str, tuple[int, dict[str, int] | None, str]]:
    """Big bad inputs, written at test time (never committed)."""
    good = (CORPUS / "bom.jsonl").read_bytes()[3:]
    with open(tmp / "huge_line.jsonl", "wb") as fh:  # a 100 MB single line between two good ones
        first, second = good.splitlines(keepends=True)
        fh.write(first)
        fh.write(b'{"model": "deepseek-v4-pro", "messages": [{"role": "user", "content": "')
        block = b"lorem ipsum " * 87381  # ~1 MB
        fh.writelines(block for _ in range(100))
        fh.write(b'"}]}\n')
        fh.write(second)
    with open(tmp / "no_newline.jsonl", "wb") as fh:  # 70 MB and not one newline (a binary dump)
        chunk = bytes(range(11, 256)) * 4096
        fh.writelines(chunk for _ in range(70 * (1 << 20) // len(chunk) + 1))
    (tmp / "deep_array.json").write_bytes(b"[" * 200_000 + b"]" * 200_000)
    (tmp / "deep_in_record.json").write_bytes(b'[{"messages": ' + b"[" * 200_000 + b"]" * 200_000 + b"}]")
    (tmp / "deep.yaml").write_bytes(b"interactions: " + b"[" * 20_000 + b"]" * 20_000 + b"\n")
    (tmp / "gz_of_garbage.jsonl.gz").write_bytes(gzip.compress(bytes(range(256)) * 64))
    (tmp / "gz_empty.jsonl.gz").write_bytes(gzip.compress(b""))
    return {
        "huge_line.jsonl": (0, {"too_large": 1}, "huge_line.jsonl:2: the line is 105 MB"),
        "no_newline.jsonl": (2, {"too_large": 1}, "no_newline.jsonl:1: the line is"),
        "deep_array.json": (2, {"not_json": 1}, "deep_array.json:1:"),
        "deep_in_record.json": (2, {"not_json": 1}, "deep_in_record.json:1:"),
        "deep.yaml": (2, {"not_yaml": 1}, "deep.yaml:1: not valid YAML"),
        "gz_of_garbage.jsonl.gz": (2, None, "gz_of_garbage.jsonl.gz:1:"),
        "gz_empty.jsonl.gz": (2, {}, "(0 line(s) read)"),
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("big_bad_inputs")
    return tmp, _generated(tmp)


def _cases():
    for name in EXPECTED:
        yield pytest.param(name, id=name)


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _check(capsys, path: Path, expected) -> None:
    code, want_skips, needle = expected
    rc, out, err = _run(capsys, "analyze", str(path), "--format", "json")
    assert "Traceback" not in out + err
    assert rc == code, f"{path.name}: exit {rc}, expected {code}\n{err}"
    if rc == 0:
        report = json.loads(out)
        # the ledger closes: every line read is a call or a skipped line, by reason
        assert report["lines_read"] == report["calls"] + report["skipped_lines"]
        assert sum(report["skipped_by_reason"].values()) == report["skipped_lines"]
        if want_skips is not None:
            assert report["skipped_by_reason"] == want_skips
        shown = "\n".join(f"{Path(x['path']).name}:{x['line']}: {x['message']}" for x in report["skipped_examples"])
        for x in report["skipped_examples"]:
            assert x["line"] >= 1 and Path(x["path"]).name == path.name
        assert needle in shown, f"{path.name}: {needle!r} not among the skipped lines shown:\n{shown}"
        # and the terminal report says the same
        rc2, text, err2 = _run(capsys, "analyze", str(path))
        assert rc2 == 0 and "Traceback" not in text + err2
        if report["skipped_lines"]:
            assert f"skipped {report['skipped_examples'][0]['path']}:{report['skipped_examples'][0]['line']}:" in text
    else:
        assert out == ""
        assert err.startswith("promptcache: error: ") and err.count("\n") == 1, err
        assert needle in err.replace(str(path.parent) + "/", ""), f"{path.name}: {needle!r} not in {err!r}"


@pytest.mark.parametrize("name", list(_cases()))
def test_corpus_file(name, capsys):
    _check(capsys, CORPUS / name, EXPECTED[name])


@pytest.mark.parametrize("name", ["huge_line.jsonl", "no_newline.jsonl", "deep_array.json", "deep_in_record.json",
                                  "deep.yaml", "gz_of_garbage.jsonl.gz", "gz_empty.jsonl.gz"])
def test_generated_file(name, generated, capsys):
    tmp, expected = generated
    _check(capsys, tmp / name, expected[name])


def test_corpus_is_complete():
    """Every file of the corpus has an expectation (a new bad input cannot be added untested)."""
    present = {p.name for p in CORPUS.iterdir() if p.name not in ("make_corpus.py", "__pycache__")}
    assert present == set(EXPECTED)


def test_whole_corpus_at_once(capsys, generated):
    """All the bad files in one run: the good lines among them are analyzed, nothing is lost."""
    tmp, _ = generated
    files = [str(p) for p in sorted(CORPUS.iterdir()) if p.is_file() and p.name != "make_corpus.py"]
    files += [str(tmp / "huge_line.jsonl"), str(tmp / "deep_array.json")]
    rc, out, err = _run(capsys, "analyze", *files, "--format", "json")
    assert rc == 0 and "Traceback" not in err
    report = json.loads(out)
    assert report["lines_read"] == report["calls"] + report["skipped_lines"] > 0
    reader = read_logs(files)
    calls = sum(1 for _ in reader)
    s = reader.stats
    assert s.lines == s.calls + s.skipped_lines == report["lines_read"] and calls == s.calls == report["calls"]


@pytest.mark.parametrize("name", [n for n, (code, skips, _) in EXPECTED.items() if skips and code == 0])
def test_strict_stops_at_the_first_bad_line(name, capsys):
    rc, out, err = _run(capsys, "analyze", "--strict", str(CORPUS / name))
    assert rc == 2 and "Traceback" not in err
    assert re.search(re.escape(name) + r":\d+: ", err), err
    assert "drop --strict" in err


@pytest.mark.parametrize("name", [n for n in EXPECTED if n != "no_logs"])
def test_reader_api_never_raises_unexpected(name):
    """The library: iterating never raises anything but a PromptCacheError; the ledger closes."""
    reader = read_logs([CORPUS / name])
    n = 0
    for _ in reader:
        n += 1
    s = reader.stats
    assert s.lines == s.calls + s.skipped_lines and n == s.calls
    try:
        for _ in read_logs([CORPUS / name], strict=True):
            pass
    except LogFormatError as exc:
        assert exc.path and exc.line and exc.line >= 1
    except PromptCacheError:
        pytest.fail("strict mode should raise LogFormatError with a path and line")


def test_no_traceback_without_debug_but_with_it(capsys, monkeypatch):
    """An unforeseen error is one line (internal error, exit 2); --debug shows the traceback."""
    import promptcache.analyze.pipeline as analysis

    def boom(*a, **k):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(analysis, "analyze", boom)
    rc, out, err = _run(capsys, "analyze", "--example")
    assert rc == 2 and "Traceback" not in err
    assert err.startswith("promptcache: internal error: RuntimeError: simulated bug")
    with pytest.raises(RuntimeError):
        main(["--debug", "analyze", "--example"])


def test_subprocess_exit_codes_and_no_traceback(tmp_path):
    """The real console entry point, as a user runs it."""
    r = subprocess.run([sys.executable, "-m", "promptcache", "analyze", str(CORPUS / "corrupt.jsonl.gz")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "corrupt.jsonl.gz:1:" in r.stderr
    r = subprocess.run([sys.executable, "-m", "promptcache", "analyze", str(CORPUS / "truncated_line.jsonl")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert "truncated_line.jsonl:3:" in r.stdout


def test_line_limit_is_sane():
    assert 16 << 20 <= MAX_LINE_BYTES <= 1 << 30
