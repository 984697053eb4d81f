"""`[tool.promptcache] quality_critical`, `--quality-critical`, and the options table."""

from __future__ import annotations

import json
import sys
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from promptcache.cli import main
from promptcache.errors import ConfigError
from promptcache.knowledge.config import find_config, load_settings

sys.path.insert(0, str(Path(__file__).parent))
from recommend_logs import agent_sessions, simple_summaries


def test_settings_from_pyproject(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.promptcache]\nquality-critical = ["g2", " contract review "]\n[tool.promptcache.lint]\nignore = ["PC103"]\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert find_config() == tmp_path / "pyproject.toml"
    s = load_settings(search=True)
    assert s.quality_critical == ("g2", "contract review") and s.source == tmp_path / "pyproject.toml"


def test_settings_defaults_and_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config() is None
    assert load_settings(search=True).quality_critical == ()
    bad = tmp_path / "bad.toml"
    bad.write_text('[tool.promptcache]\nquality_critcal = ["g1"]\n')
    with pytest.raises(ConfigError, match=r"unknown key.*quality_critcal"):
        load_settings(bad)
    bad.write_text('[tool.promptcache]\nquality_critical = "g1"\n')
    with pytest.raises(ConfigError, match="list of group ids"):
        load_settings(bad)


def test_cli_quality_critical_and_options_table(tmp_path, monkeypatch, capsys, write_log):
    monkeypatch.chdir(tmp_path)
    rows = sorted(simple_summaries(20, 1800) + agent_sessions(2, 3, thinking="first"), key=lambda x: x["timestamp"])
    log = write_log(rows)
    code = main(["analyze", str(log), "--format", "json", "--quality-critical", "support ticket"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rec = json.loads(out)["recommendation"]
    assert len(rec["quality_critical"]) == 1
    qc = rec["quality_critical"][0]
    assert next(g for g in rec["workload"]["groups"] if g["group"] == qc)["quality_critical"]
    per_group = next(o for o in rec["options"] if o["name"] == "per_group")
    assert per_group["calls_per_model"]["deepseek-v4-pro"] >= 20
    assert isinstance(per_group["cost_usd"], str) and per_group["load"][0]["headroom"] is not None
    # the same group from pyproject.toml in the working directory
    (tmp_path / "pyproject.toml").write_text(f'[tool.promptcache]\nquality_critical = ["{qc}"]\n')
    code = main(["analyze", str(log), "--format", "json"])
    out, _ = capsys.readouterr()
    assert code == 0 and json.loads(out)["recommendation"]["quality_critical"] == [qc]

    from promptcache.analyze.pipeline import analyze
    from promptcache.report.options_table import render_options

    buf = StringIO()
    render_options(analyze([log]), Console(file=buf, width=160, color_system=None))
    text = buf.getvalue()
    for name in ("all_pro", "all_flash", "per_group", "hybrid_chain", "current_mix"):
        assert name in text
    assert "> " in text and "against the current mix" in text
