"""Issue 10: property-based fuzzing of every reader, the template parsers and the simulators.

* every per-record parser (``PARSERS``) and expander (``EXPANDERS``): on random JSON values and on
  mutations of the fixtures' real records, a parser returns a sane ``Call`` or raises ``LineError``,
  nothing else;
* ``read_logs`` on random files (bytes, lines, containers): never raises, the ledger closes;
  ``strict`` raises only ``LogFormatError`` with a path and line;
* ``lint`` on random template text of every kind: never raises;
* ``analyze`` (tokenize, group, simulate every model's cache, price) on mutated logs: only
  ``PromptCacheError``, and the totals add up.

The number of examples per test is ``PROMPTCACHE_FUZZ_EXAMPLES`` (default 300: a few thousand
cases in all, well under a minute). The long run is documented in docs/security.md.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptcache.errors import LogFormatError, PromptCacheError
from promptcache.model.calls import Call, Segment, is_blocks
from promptcache.read.reader import (
    EXPANDERS,
    PARSER_FACTORIES,
    PARSERS,
    SESSIONS,
    LineError,
    read_logs,
)

EXAMPLES = int(os.environ.get("PROMPTCACHE_FUZZ_EXAMPLES", "300"))
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "formats"
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("PROMPTCACHE_FUZZ_RANDOM") is None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
FEW = settings(FUZZ, max_examples=max(10, EXAMPLES // 10))

KEYS = sorted({
    "messages", "role", "content", "usage", "prompt_tokens", "completion_tokens", "prompt_cache_hit_tokens",
    "prompt_cache_miss_tokens", "prompt_tokens_details", "cached_tokens", "model", "timestamp", "created",
    "created_at", "choices", "message", "tool_calls", "tools", "system", "input", "output", "instructions",
    "request", "response", "body", "custom_id", "params", "result", "type", "text", "cache_control", "ttl",
    "contents", "parts", "usageMetadata", "promptTokenCount", "candidatesTokenCount", "cachedContentTokenCount",
    "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "function",
    "arguments", "name", "id", "hash_ids", "input_length", "output_length", "chat_id", "parent_chat_id", "turn",
    "requests", "block_size", "history", "trajectory", "info", "resourceSpans", "scopeSpans", "spans",
    "attributes", "key", "value", "stringValue", "intValue", "interactions", "uri", "parsed_body", "string",
    "headers", "status_code", "startTime", "endTime", "standard_logging_object", "format", "latency_ms", "user",
    "data", "meta", "startTimeUnixNano", "endTimeUnixNano", "events", "reasoning_content", "thinking",
    "previous_response_id", "cachedContent", "candidates", "modelVersion", "systemInstruction", "source",
    "action", "observation", "segments", "blocks", "tokens", "block_id", "method", "url", "error", "succeeded",
    # issue 19: Claude Code, Codex CLI, Helicone
    "uuid", "parentUuid", "sessionId", "isSidechain", "requestId", "agentId", "leafUuid", "cache_creation",
    "ephemeral_1h_input_tokens", "ephemeral_5m_input_tokens", "payload", "last_token_usage", "total_token_usage",
    "cached_input_tokens", "cache_write_input_tokens", "reasoning_output_tokens", "request_id", "request_body",
    "response_body", "response_status", "prompt_cache_read_tokens", "prompt_cache_write_tokens", "provider",
    "cache_reference_id", "api", "response_stream", "status",
})

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70), st.integers(min_value=-5, max_value=5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.sampled_from(["", "user", "system", "assistant", "tool", "deepseek-v4-pro", "gpt-4o",
                                           "2026-11-16T10:00:00Z", "1763287200", "data: {}\n\ndata: [DONE]", "{", "[]",
                                           "text", "message", "function", "succeeded", "5m", "1h"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=6)),
    max_leaves=30,
)
finite_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=30), st.sampled_from(KEYS)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=5)),
    max_leaves=20,
)


def _samples() -> list[object]:
    """Real records of every fixture (the first few of each file), as decoded objects."""
    out: list[object] = []
    for p in sorted(q for q in FIXTURES.rglob("*") if q.is_file()):
        if p.suffix in (".yaml", ".yml"):
            from promptcache.read.cassettes import load_yaml

            out.append(load_yaml(p.read_bytes()))
            continue
        raw = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
        text = raw.decode("utf-8", "replace").strip()
        if text.startswith("["):
            try:
                out.extend(json.loads(text)[:3])
            except ValueError:
                pass
            continue
        if text.startswith("{") and "\n" in text:
            try:
                out.append(json.loads(text))
                continue
            except ValueError:
                pass
        for line in text.splitlines()[:3]:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


SAMPLES = _samples()


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:8]):
            yield from _paths(v, (*prefix, i))


def _mutate(obj, path, value, delete: bool):
    if not path:
        return value
    obj = copy.deepcopy(obj)
    cur = obj
    for p in path[:-1]:
        cur = cur[p]
    if delete and isinstance(cur, dict):
        cur.pop(path[-1], None)
    elif delete and isinstance(cur, list):
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return obj


@st.composite
def mutated_records(draw, values=json_values):
    rec = draw(st.sampled_from(SAMPLES))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(rec))
        path = draw(st.sampled_from(paths))
        rec = _mutate(rec, path, draw(values), draw(st.booleans()))
    return rec


records = st.one_of(json_values, mutated_records())


def _check_call(call: Call) -> None:
    assert isinstance(call, Call)
    # a block-hash request keeps its blocks compactly (BlockSegments, a read-only sequence of segments)
    assert isinstance(call.model, str) and (isinstance(call.segments, list) or is_blocks(call.segments))
    assert all(isinstance(s, Segment) for s in call.segments[:3])
    u = call.usage
    if u is not None:
        assert 0 <= u.input_tokens and 0 <= u.output_tokens
        if u.cache_read_tokens is not None:
            assert 0 <= u.cache_read_tokens <= u.input_tokens, "a cache hit larger than the prompt"
        assert 0 <= u.cache_write_tokens <= u.input_tokens


# --- per-record parsers and expanders ---------------------------------------------------------------

@pytest.mark.parametrize("fmt", sorted(PARSERS))
@FUZZ
@given(obj=records)
def test_parser_total(fmt, obj):
    parse = PARSER_FACTORIES[fmt]() if fmt in PARSER_FACTORIES else PARSERS[fmt]
    try:
        call = parse(obj, "fuzz.jsonl", 7)
    except LineError as exc:
        assert exc.reason and str(exc)
        return
    _check_call(call)


@pytest.mark.parametrize("fmt", sorted(EXPANDERS))
@FUZZ
@given(obj=records)
def test_expander_total(fmt, obj):
    try:
        units = list(EXPANDERS[fmt](obj, "fuzz.jsonl", 7))
    except LineError:
        return
    for unit, item in units:
        assert isinstance(unit, int)
        if not isinstance(item, LineError):
            _check_call(item)


@pytest.mark.parametrize("fmt", sorted(SESSIONS))
@FUZZ
@given(objs=st.lists(records, max_size=6))
def test_session_reader_total(fmt, objs):
    """A session reader (Claude Code, Codex) fed any records: only calls or LineErrors, one unit per call."""
    session = SESSIONS[fmt]("fuzz.jsonl")
    units = [u for i, obj in enumerate(objs, 1) for u in session.feed(obj, i)] + list(session.finish())
    assert len(units) + session.context_lines <= len(objs) + 1  # one finish() flush at most
    for unit, item in units:
        assert isinstance(unit, int) and 1 <= unit <= len(objs)
        if not isinstance(item, LineError):
            _check_call(item)


# --- whole files through read_logs ------------------------------------------------------------------

_DIR = Path(tempfile.mkdtemp(prefix="promptcache-fuzz-"))

line_bytes = st.one_of(
    finite_json.map(lambda v: orjson.dumps(v)),
    mutated_records(finite_json).map(lambda v: orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS)),
    st.binary(max_size=60),
    st.sampled_from([b"", b"   ", b"\xef\xbb\xbf{}", b"{", b"[", b"]", b"NaN", b'{"a": NaN}', b"\x00", b"\r",
                     b'{"messages": [}', b"\xff\xfe", b"---", b"interactions:", b"- a", b"[" * 50]),
)


@st.composite
def files(draw):
    lines = draw(st.lists(line_bytes, max_size=12))
    sep = draw(st.sampled_from([b"\n", b"\r\n", b",\n"]))
    body = sep.join(lines)
    if draw(st.booleans()):
        body += b"\n"
    container = draw(st.sampled_from(["jsonl", "json-array", "yaml", "raw"]))
    if container == "json-array":
        body = b"[" + body + draw(st.sampled_from([b"]", b"", b"]]", b"}"]))
    suffix = {"jsonl": ".jsonl", "json-array": ".json", "yaml": ".yaml", "raw": draw(st.sampled_from([".jsonl", ".json", ".ndjson"]))}[container]
    if draw(st.booleans()):
        data = gzip.compress(body, mtime=0)
        cut = draw(st.integers(0, len(data)))
        return suffix + ".gz", data[:cut] if draw(st.booleans()) else data
    return suffix, body


def _write(name_data) -> Path:
    suffix, data = name_data
    fd, path = tempfile.mkstemp(suffix=suffix, dir=_DIR)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return Path(path)


@FUZZ
@given(spec=st.lists(files(), min_size=1, max_size=3), fmt=st.sampled_from(["auto", "auto", "auto", *sorted(PARSERS),
                                                                             *sorted(EXPANDERS), *sorted(SESSIONS),
                                                                             "openai-batch"]))
def test_read_logs_never_raises_and_ledger_closes(spec, fmt):
    paths = [_write(s) for s in spec]
    try:
        reader = read_logs(paths, input_format=fmt)
        n = 0
        for call in reader:
            _check_call(call)
            n += 1
        s = reader.stats
        assert n == s.calls
        assert s.lines == s.calls + s.skipped_lines, (s.lines, s.calls, dict(s.skipped))
        assert s.skipped_lines == sum(s.skipped.values())
        assert all(x.line >= 0 for x in s.examples)
        try:
            for _ in read_logs(paths, input_format=fmt, strict=True):
                pass
        except LogFormatError as exc:
            assert exc.path
    finally:
        for p in paths:
            p.unlink()


# --- template parsers ---------------------------------------------------------------------------------

template_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(["{{ x }}", "{% if a %}", "{% endif %}", "{% for i in xs %}", "{% endfor %}", "{#", "#}",
                              "{", "}", "{name}", "{{", "}}", "{{{raw}}}", "{{#list}}", "{{/list}}", "{% raw %}",
                              "{% endraw %}", "---\n", "system: |\n  ", "'''", '"""', "f'", "x = ", "\n", " ",
                              "You are helpful. ", "{{ now() }}", "{% include 'x' %}", "{{ ''.__class__ }}",
                              "\x00", "\ufeff", "# promptcache: ignore[PC101]", "<!-- -->", "{{ a | tojson }}"]),
             max_size=40).map("".join),
)


@pytest.fixture(scope="module")
def lint_env():
    from promptcache.lint import load_settings
    from promptcache.lint.tokens import token_counter

    return load_settings(None, cwd=_DIR, min_static_tokens=5), token_counter("approx")


@pytest.mark.parametrize("suffix", [".j2", ".jinja", ".txt", ".mustache", ".hbs", ".yaml", ".prompty", ".py", ".md"])
@FUZZ
@given(text=template_text)
def test_lint_never_raises(suffix, text, lint_env):
    from promptcache.lint.engine import lint_file

    settings_, count = lint_env
    d = _DIR / "prompts"
    d.mkdir(exist_ok=True)
    p = d / f"t{suffix}"
    p.write_bytes(text.encode("utf-8", "surrogatepass"))
    findings = lint_file(p, settings_, count)
    for f in findings:
        assert f.line >= 1 and f.col >= 1 and f.code.startswith("PC")


# --- tokenize, group, simulate and price: analyze on mutated logs ----------------------------------------

good_rows = st.lists(mutated_records(st.one_of(
    st.integers(0, 3000), st.sampled_from(["", "2026-11-16T10:00:00Z", "2026-11-17T10:00:00+08:00", "user", "system"]),
    st.text(max_size=20), st.none())), min_size=1, max_size=8)


@FEW
@given(rows=good_rows)
def test_analyze_on_mutated_logs(rows):
    from promptcache.analyze.pipeline import AnalyzeOptions, analyze

    p = _write((".jsonl", b"".join(orjson.dumps(r, option=orjson.OPT_NON_STR_KEYS) + b"\n" for r in rows
                                   if not isinstance(r, (str, int, float, type(None))))))
    try:
        report = analyze([p], AnalyzeOptions(models=["deepseek-v4-pro", "gpt-4o", "claude-sonnet-4"]))
    except PromptCacheError:
        return
    finally:
        p.unlink()
    assert report.lines_read == report.calls + report.skipped_lines
    assert sum(g.calls for g in report.groups) == report.calls
    assert sum(g.input_tokens for g in report.groups) == report.input_tokens
    for s in report.scenarios:
        assert s.cache_hit_tokens >= 0 and s.cache_miss_tokens >= 0 and s.cost_usd >= 0
        assert 0.0 <= s.hit_ratio <= 1.0
