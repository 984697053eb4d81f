"""Keys that leave their process are stable: the first pass run under two ``PYTHONHASHSEED`` values
gives the same piece keys, chain keys, output keys and piece tables (what ``--engine dask`` merges
from its workers), while Python's own ``hash`` of a text differs between the two."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

from promptcache.model.keys import text_key

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import hashlib, sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from promptcache.analyze.first_pass import first_pass
from promptcache.knowledge.catalog import load_catalog
from promptcache.measure.shape import Measurer
from promptcache.read.reader import read_logs

root = Path(sys.argv[1])
paths = [Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz"))),
         root / "fixtures/formats/mooncake.jsonl", root / "fixtures/formats/weka_trace.json",
         root / "fixtures/formats/openai_responses.jsonl"]
day = datetime(2026, 11, 1, tzinfo=UTC)
measurers = {f: Measurer(f) for f in ("deepseek-v4", "o200k")}
fp = first_pass(read_logs(paths), catalog=load_catalog(None), measurers=measurers, primary="deepseek-v4",
                at=day, now=day, calibrate=True)
h = hashlib.sha256()
for fam, shapes in fp.shapes.items():
    for s in shapes:
        h.update(repr((fam, list(s.keys), list(s.chain), s.out_key, list(s.tokens))).encode())
for fam, m in measurers.items():
    for k, n, blocks in m._pieces.entries():
        h.update(repr((fam, k, n, list(blocks), list(m.blocks(k)))).encode())
print(len(fp.facts), h.hexdigest(), hash("salted"))
"""


def _run(seed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT)], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return out.stdout.split()


def test_first_pass_keys_equal_under_two_hash_seeds():
    a, b = _run("1"), _run("2")
    assert int(a[0]) > 100  # the example's calls and the traces' were measured
    assert a[:2] == b[:2]  # same shapes and piece tables, key for key
    assert a[2] != b[2]  # while str hashes did differ between the two processes


def test_text_key_is_a_signed_64_bit_digest():
    # blake2b(b"abc", digest_size=8) = 0xd8bb14d833d59559 (little-endian, signed: the array('q') range)
    assert text_key("abc") == int.from_bytes(bytes.fromhex("d8bb14d833d59559"), "little", signed=True)
    assert text_key("abc") != text_key("abc", b"out")
    assert -(2**63) <= text_key("é\ud800") < 2**63  # a lone surrogate still hashes


TEMPLATES = r"""
import hashlib, json, sys
from importlib import resources
from pathlib import Path
from promptcache.model.calls import Call, Segment
from promptcache.read.reader import read_logs
from promptcache.segment.groups import template_key

root = Path(sys.argv[1])
paths = [Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz"))),
         root / "fixtures/formats/anthropic.jsonl", root / "fixtures/formats/openai_responses.jsonl",
         root / "fixtures/formats/mooncake.jsonl"]
calls = list(read_logs(paths))
tools = json.dumps([{"name": "b", "parameters": {}}, {"name": "a", "parameters": {"x": 1}}])
for t in (tools, "not json", ""):
    for first in ("system", "user"):
        calls.append(Call(source="t", line=1, model="gpt-4o",
                          segments=[Segment("tools", t), Segment(first, "Be brief.\nToday is 2026-11-01.")]))
keys = [template_key(c) for c in calls]
print(len(calls), len(set(keys)), hashlib.sha256(repr(keys).encode()).hexdigest(), hash("salted"))
"""


def test_template_keys_equal_under_two_hash_seeds():
    """Template keys (what ranges grouped on Dask workers merge by) are the same in every process."""
    def run(seed):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        return subprocess.run([sys.executable, "-c", TEMPLATES, str(ROOT)], env=env, cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.split()

    a, b = run("1"), run("2")
    assert int(a[0]) > 100 and int(a[1]) > 5  # calls of several templates, tools as JSON and not
    assert a[:3] == b[:3]
    assert a[3] != b[3]  # while str hashes did differ between the two processes


def test_anonymize_with_a_salt_is_the_same_trace_in_every_process(tmp_path):
    """Bug fixed with the stable template keys: a trace keeps each call's template group as a salted
    id of ``template_key``, which was Python's salted ``hash``; so ``anonymize --salt`` wrote other
    template ids in every process. Now two processes write the same trace, byte for byte."""
    example = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"trace{seed}.jsonl"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "promptcache", "anonymize", str(example), "-o", str(out), "--salt", "00ff"],
                       env=env, cwd=ROOT, capture_output=True, check=True)
        outs.append(out.read_bytes())
    assert b'"template":"' in outs[0]  # the template ids are in the trace
    assert outs[0] == outs[1]
