"""The CLI end to end: exit codes, one-sentence errors, the bundled example, JSON output."""

import json

import pytest

from promptcache.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_example_terminal(capsys):
    code, out, err = run(capsys, "analyze", "--example")
    assert code == 0, err
    assert "Recommendation" in out and "deepseek" in out


def test_example_json_validates(capsys):
    import jsonschema

    from promptcache.model.report import Report

    code, out, _ = run(capsys, "analyze", "--example", "--format", "json")
    assert code == 0
    data = json.loads(out)
    jsonschema.validate(data, Report.model_json_schema(mode="serialization"))


def test_published_schema_is_current():
    from pathlib import Path

    from promptcache.model.report import Report

    doc = Path(__file__).resolve().parent.parent / "docs" / "report.schema.json"
    assert json.loads(doc.read_text()) == Report.model_json_schema(mode="serialization"), \
        "regenerate with: python -m promptcache.report.schema > docs/report.schema.json"


@pytest.mark.parametrize("args,needle", [
    (("analyze", "missing.jsonl"), "no such file"),
    (("analyze", "--example", "--models", "deepseek-v4-prp"), "Did you mean: deepseek-v4-pro"),
    (("analyze", "--example", "--at", "yesterday"), "--at 'yesterday'"),
    (("analyze",), "give one or more log files"),
])
def test_errors_are_one_sentence_exit_2(capsys, args, needle):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err


def test_empty_log_and_strict(capsys, write_log):
    code, _, err = run(capsys, "analyze", str(write_log([])))
    assert code == 2 and "no call could be analyzed" in err
    p = write_log([{"model": "deepseek-v4-pro", "messages": [{"role": "user", "content": "hi"}]}, "{bad"])
    code, _, err = run(capsys, "analyze", "--strict", str(p))
    assert code == 2 and "calls.jsonl:2:" in err
    code, out, err = run(capsys, "analyze", "--format", "json", str(p))
    assert code == 0 and json.loads(out)["skipped_lines"] == 1


def test_help_is_fast_path(capsys):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", "import sys, promptcache.cli as c; c.main(['--help']); "
                          "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tokenizers','tiktoken','orjson','promptcache') and 'catalog' in m or m.startswith('tokenizers')))"],
                         capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.strip().endswith("[]")
