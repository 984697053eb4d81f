"""Writes the small files of the bad-input corpus (run from this folder; the files are committed).

Big inputs (the 100 MB single line, the deeply nested document) are generated at test time into a
temporary folder by ``tests/test_trust_bad_inputs.py`` and never committed.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent


def good(i: int) -> dict:
    return {"model": "deepseek-v4-pro", "timestamp": f"2026-11-16T{10 + i // 60:02d}:{i % 60:02d}:00Z",
            "messages": [{"role": "system", "content": "You are a terse assistant. " * 10},
                         {"role": "user", "content": f"question {i}"}],
            "usage": {"prompt_tokens": 80 + i, "completion_tokens": 5,
                      "prompt_cache_hit_tokens": 64, "prompt_cache_miss_tokens": 16 + i}}


def line(obj) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def write(name: str, data: bytes) -> None:
    (HERE / name).write_bytes(data)


def main() -> None:
    g = [line(good(i)) for i in range(4)]
    # a line cut off mid-object (an export interrupted while writing)
    write("truncated_line.jsonl", g[0] + g[1] + g[2][: len(g[2]) // 2] + b"\n" + g[3])
    # the export's last line cut off, no trailing newline
    write("truncated_tail.jsonl", g[0] + g[1] + g[2][:40])
    # a .gz cut in half
    write("truncated.jsonl.gz", gzip.compress(b"".join(line(good(i)) for i in range(200)), mtime=0)[:1500])
    # a gzip file that is not gzip past its magic bytes
    write("corrupt.jsonl.gz", b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4)
    # a JSON array cut short
    write("truncated_array.json", b"[\n" + g[0].rstrip() + b",\n" + g[1].rstrip() + b",\n" + g[2][:60])
    bad_types = [
        {"model": "deepseek-v4-pro", "messages": 3},
        {"model": "deepseek-v4-pro", "messages": [{"role": 1, "content": None}], "usage": "lots"},
        {"model": 12, "messages": [{"role": "user", "content": "hi"}], "usage": {"prompt_tokens": "12", "completion_tokens": 1}},
        {"model": "deepseek-v4-pro", "messages": [{"role": "user", "content": {"nested": [1, 2]}}],
         "usage": {"prompt_tokens": [1], "completion_tokens": {}}},
        {"model": "deepseek-v4-pro", "messages": [{"role": "user", "content": "hi"}], "timestamp": True,
         "usage": {"prompt_tokens": 5, "completion_tokens": 1}},
        {"model": ["a"], "messages": [[["user"]]], "choices": "none"},
        {"messages": [{"role": "user", "content": "hi"}], "usage": {"prompt_tokens": 3, "completion_tokens": 1},
         "latency_ms": "fast"},
        [1, 2, 3],
        "just a string",
        12345,
        None,
        {},
    ]
    write("wrong_types.jsonl", g[0] + b"".join(line(x) for x in bad_types) + g[1])
    neg = good(5)
    neg["usage"]["prompt_tokens"] = -40
    huge = good(6)
    huge["usage"]["prompt_tokens"] = 10**15
    huge2 = good(7)
    huge2["usage"]["completion_tokens"] = 1e300
    frac = good(8)
    frac["usage"]["prompt_tokens"] = 12.5
    write("token_counts.jsonl", g[0] + line(neg) + line(huge) + line(huge2) + line(frac) + g[1]
          + b'{"model": "deepseek-v4-pro", "messages": [{"role": "user", "content": "hi"}], '
            b'"usage": {"prompt_tokens": 123456789012345678901234567890, "completion_tokens": 1}}\n')
    nan = g[0].replace(b'"completion_tokens": 5', b'"completion_tokens": NaN')
    inf = g[0].replace(b'"completion_tokens": 5', b'"completion_tokens": Infinity')
    big = g[0].replace(b'"completion_tokens": 5', b'"completion_tokens": 1e400')
    write("nan.jsonl", g[1] + nan + inf + big + g[2])
    # invalid UTF-8 inside a string, and a lone surrogate escape
    write("invalid_utf8.jsonl", g[0] + g[1].replace(b"question 1", b"question \xff\xfe\xc3(") +
          g[2].replace(b"question 2", b"question \\ud800 alone") + g[3])
    # Latin-1 encoded export (mixed encodings)
    write("latin1.jsonl", g[0] + "caf\u00e9 r\u00e9sum\u00e9".join([g[1].decode()[:60], g[1].decode()[60:]]).encode("latin-1"))
    write("bom.jsonl", b"\xef\xbb\xbf" + g[0] + g[1])
    write("bom_utf16.jsonl", "".join(json.dumps(good(i)) + "\n" for i in range(2)).encode("utf-16"))
    write("crlf.jsonl", b"".join(x.rstrip(b"\n") + b"\r\n" for x in g))
    write("blank_lines.jsonl", b"\n\n   \n\t\r\n")
    write("empty.jsonl", b"")
    write("nested.jsonl", g[0] + b"[" * 5000 + b"]" * 5000 + b"\n" + b'{"a":' * 2000 + b"1" + b"}" * 2000 + b"\n" + g[1])
    write("nul_bytes.jsonl", g[0] + b"\x00" * 64 + b"\n" + g[1].replace(b"question", b"ques\\u0000tion"))
    write("binary.jsonl", bytes((i * 7919 + 13) % 256 for i in range(4096)))
    write("png_named_log.jsonl", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    write("not_a_log.yaml", b"key: [unclosed\n  - : :\n\t\x00")
    write("yaml_aliases.yaml", b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
          b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
          b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
          b"interactions: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n")
    write("unknown_shape.jsonl", line({"foo": 1, "bar": [1, 2]}) + line({"hello": "world"}))
    write("json_scalar.json", b"42\n")
    write("pretty_broken.json", b'{\n  "model": "deepseek-v4-pro",\n  "messages": [\n')
    (HERE / "no_logs").mkdir(exist_ok=True)
    write("no_logs/README.txt", b"This folder has no log files: promptcache must say so, not crash.\n")


if __name__ == "__main__":
    os.chdir(HERE)
    main()
