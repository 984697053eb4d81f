"""A finding's words are written in ``report/``, from data: each kind's ``segment``, ``message`` and
``change`` from frozen evidence (the expected sentences are what the advisor wrote before the
words moved out of it, so the reports stay byte-identical), and a check that ``advise/`` builds no
sentence and formats no number any more."""

import ast
import dataclasses
from pathlib import Path

import pytest
from source_words import docstrings

import promptcache.advise
from promptcache.advise.breakers import KIND_ORDER, Fix
from promptcache.model.findings import (
    EVIDENCE,
    PART_CODES,
    Breakpoints,
    CacheKeyRouting,
    CacheNotReady,
    DynamicBeforeStatic,
    HistoryRewrite,
    ModelSwitch,
    PartName,
    PromptUnderMinimum,
    ToolListChange,
    ToolSerialization,
    TtlTooLong,
    TtlTooShort,
    UnreadWrites,
    UserIdScope,
    VolatileValue,
    WhitespaceDrift,
)
from promptcache.model.report import Action, Finding, Recommendation
from promptcache.report.findings_text import PART_NAMES, WRITERS, finding_text, part_name, with_findings_text

# (kind, evidence, segment, message, change): group "g3"
CASES = [
    (
        'whitespace_drift',
        WhitespaceDrift(variants=3, samples=12, normalized=1),
        'system',
        'g3: the system prompt differs between calls only in trailing spaces, line endings or final newlines (3 variants in 12 samples; 1 once normalized)',
        'strip trailing whitespace and normalize line endings when building the system prompt',
    ),
    (
        'tool_order',
        ToolSerialization(serializations=5, tool_lists=1, samples=12),
        'tools',
        'g3: calls send the same tools in a different order (5 serializations of 1 tool list(s) in 12 samples), so the prefix breaks at the tool list',
        'serialize tools deterministically: sort them by name and dump JSON with sorted keys',
    ),
    (
        'json_key_order',
        ToolSerialization(serializations=12, tool_lists=2, samples=24),
        'tools',
        'g3: calls send the same tool schemas with their JSON keys in a different order (12 serializations of 2 tool list(s) in 24 samples), so the prefix breaks at the tool list',
        'serialize tools deterministically: sort them by name and dump JSON with sorted keys',
    ),
    (
        'dynamic_before_static',
        DynamicBeforeStatic(first_dynamic=0, static_after=2),
        'system message 1',
        'g3: system message 1 changes from call to call but comes before 2 static system message(s)',
        'put the static system messages first and the per-call one after them',
    ),
    (
        'volatile_value',
        VolatileValue(line=0, value='timestamp', static_tokens=4052, lines=1),
        'system (line 1)',
        'g3: system prompt line 1 holds a timestamp that changes on every call, before 4,052 tokens of static instructions',
        'move the changing line(s) to the end of the last user message (the model still reads them)',
    ),
    (
        'volatile_value',
        VolatileValue(line=4, value=None, static_tokens=12345, lines=3),
        'system (line 5)',
        "g3: system prompt line 5 holds per-call text (a name, an id, a user's data) that changes on every call, before 12,345 tokens of static instructions (3 such lines)",
        'move the changing line(s) to the end of the last user message (the model still reads them)',
    ),
    (
        'volatile_value',
        VolatileValue(line=1, value='request_id', static_tokens=980, lines=2),
        'system (line 2)',
        'g3: system prompt line 2 holds a request id that changes on every call, before 980 tokens of static instructions (2 such lines)',
        'move the changing line(s) to the end of the last user message (the model still reads them)',
    ),
    (
        'user_id_scope',
        UserIdScope(),
        'request (user_id)',
        'g3: calls of one template are sent under different `user_id`s; DeepSeek keeps one cache per user_id, so every user pays for the shared static prefix again',
        'send these calls without `user_id` (or one shared id) unless you need per-user cache isolation for privacy',
    ),
    (
        'cache_not_ready',
        CacheNotReady(calls=16, delay_s=2.0, max_wait_s=2.75, mean_wait_s=1.875),
        'timing',
        'g3: 16 calls of cold bursts arrived before DeepSeek had cached the prefix they share (it persists a shared prefix after two requests, usable about 2 s after the second completes), so they paid full price',
        'send the first two calls of a burst and the rest once they have completed (they wait 3 s at most, 1.9 s on average), or keep the cache warm with a request ahead of the burst',
    ),
    (
        'cache_not_ready',
        CacheNotReady(calls=1204, delay_s=0.5, max_wait_s=0.5, mean_wait_s=0.25),
        'timing',
        'g3: 1204 calls of cold bursts arrived before DeepSeek had cached the prefix they share (it persists a shared prefix after two requests, usable about 0.5 s after the second completes), so they paid full price',
        'send the first two calls of a burst and the rest once they have completed (they wait 0 s at most, 0.2 s on average), or keep the cache warm with a request ahead of the burst',
    ),
    (
        'history_rewrite',
        HistoryRewrite(turns=6, earliest=1),
        'message 1 of the history (earliest)',
        "g3: 6 turns rewrote the conversation's earlier messages (edited, truncated or summarized), so each lost the cached prefix of the turn before it",
        'keep the history append-only: add each new turn at the end; summarize only when the savings below say it pays',
    ),
    (
        'breakpoint_missing',
        Breakpoints(calls=39, model='claude-sonnet-4-5', minimum=1024, others=(), affected=39, gained_tokens=104377, spots=('system', 'history')),
        'request (cache_control)',
        'g3: 39 calls carry no cache_control breakpoint, so Anthropic caches nothing for them; with breakpoints where claude-sonnet-4-5 needs them, 39 calls would read ~104,377 more cached tokens',
        'mark cache_control breakpoints in the same places on every call: at the end of the tools and system prompt, and just before the newest user message when examples come before it',
    ),
    (
        'breakpoint_over_limit',
        Breakpoints(calls=40, model='claude-sonnet-4-5', minimum=1024, others=(('breakpoint_missing', 2),), affected=42, gained_tokens=5000, spots=('system', 'history', 'last')),
        'request (cache_control)',
        'g3: 40 calls carry more than four breakpoints: the API rejects such requests, and SDKs that trim them keep the first four (and 2 missing); with breakpoints where claude-sonnet-4-5 needs them, 42 calls would read ~5,000 more cached tokens',
        'mark cache_control breakpoints in the same places on every call: at the end of the tools and system prompt, just before the newest user message, and on the last block (it carries the conversation to the next turn)',
    ),
    (
        'breakpoint_below_minimum',
        Breakpoints(calls=39, model='claude-haiku-4-5', minimum=2048, others=(), affected=39, gained_tokens=80000, spots=('system', 'history')),
        'request (cache_control)',
        "g3: 39 calls put every breakpoint on a prefix shorter than claude-haiku-4-5's 2,048-token minimum, so nothing is written; with breakpoints where claude-haiku-4-5 needs them, 39 calls would read ~80,000 more cached tokens",
        'mark cache_control breakpoints in the same places on every call: at the end of the tools and system prompt, and just before the newest user message when examples come before it',
    ),
    (
        'breakpoint_moving',
        Breakpoints(calls=20, model='claude-sonnet-4-5', minimum=1024, others=(('breakpoint_missing', 3), ('breakpoint_below_minimum', 1)), affected=24, gained_tokens=999, spots=('system', 'history')),
        'request (cache_control)',
        'g3: 20 calls put their breakpoints in different places from call to call, so an entry one call writes is not where the next call looks (and 3 missing, 1 below minimum); with breakpoints where claude-sonnet-4-5 needs them, 24 calls would read ~999 more cached tokens',
        'mark cache_control breakpoints in the same places on every call: at the end of the tools and system prompt, and just before the newest user message when examples come before it',
    ),
    (
        'breakpoint_misplaced',
        Breakpoints(calls=39, model='claude-sonnet-4-5', minimum=1024, others=(), affected=39, gained_tokens=1000000, spots=('system', 'history', 'last')),
        'request (cache_control)',
        'g3: 39 calls put their breakpoints after per-call content, so the entries they write are never read again; with breakpoints where claude-sonnet-4-5 needs them, 39 calls would read ~1,000,000 more cached tokens',
        'mark cache_control breakpoints in the same places on every call: at the end of the tools and system prompt, just before the newest user message, and on the last block (it carries the conversation to the next turn)',
    ),
    (
        'prompt_under_minimum',
        PromptUnderMinimum(near=38, calls=40, mean_tokens=912.5, model='gpt-4o', minimum=1024, system_tokens=850, pad=174),
        'system',
        "g3: 38 of 40 calls send prompts of ~912 tokens, just under gpt-4o's 1,024-token caching minimum, so none of them is cached (the shared system prompt is ~850 tokens)",
        'grow the static system prompt by ~174 tokens (fuller instructions or examples the model can use) so the shared prefix reaches 1,024; the same text is counted as 174 tokens on every candidate',
    ),
    (
        'cache_key_routing',
        CacheKeyRouting(overflowed=6, model='gpt-4o', peak_per_minute=40, keys=1, keyless=True, shared_with=0, rpm=15.0, shards=3),
        'request (prompt_cache_key)',
        'g3: 6 calls overflowed their cache route on gpt-4o and missed (up to 40 calls a minute of this template, no prompt_cache_key, so they are routed by their first ~256 tokens alone; above ~15 a minute per prefix and key OpenAI sends the excess to more machines, each of which misses until it has cached the prefix)',
        'send this template with its own prompt_cache_key, split into 3 keys (e.g. by conversation or user) so each stays under ~15 requests a minute',
    ),
    (
        'cache_key_routing',
        CacheKeyRouting(overflowed=9, model='gpt-4o', peak_per_minute=12, keys=1, keyless=False, shared_with=2, rpm=15.0, shards=1),
        'request (prompt_cache_key)',
        'g3: 9 calls overflowed their cache route on gpt-4o and missed (up to 12 calls a minute of this template, one prompt_cache_key shared with 2 other template(s); above ~15 a minute per prefix and key OpenAI sends the excess to more machines, each of which misses until it has cached the prefix)',
        'send this template with its own prompt_cache_key',
    ),
    (
        'cache_key_routing',
        CacheKeyRouting(overflowed=3, model='gpt-4o', peak_per_minute=30, keys=4, keyless=False, shared_with=0, rpm=15.5, shards=2),
        'request (prompt_cache_key)',
        'g3: 3 calls overflowed their cache route on gpt-4o and missed (up to 30 calls a minute of this template, 4 prompt_cache_keys; above ~15.5 a minute per prefix and key OpenAI sends the excess to more machines, each of which misses until it has cached the prefix)',
        'send this template with its own prompt_cache_key, split into 2 keys (e.g. by conversation or user) so each stays under ~15.5 requests a minute',
    ),
    (
        'tool_list_change',
        ToolListChange(conversations=12, turns=12, calls=12, sizes=(7,)),
        'tools',
        'g3: 12 conversation(s) change their tool list between turns (12 turn(s) send other tools than the turn before, 12 call(s) of this group a shorter list), so each change breaks the cached prefix at its very start, the tool list',
        "send the conversation's full tool list (7 tools) from its first call, in one order, and restrict which tools a turn may call with tool_choice (OpenAI: an allowed_tools tool_choice) instead of changing the list (on Anthropic a tool_choice change keeps the tools and system cache, not the messages')",
    ),
    (
        'tool_list_change',
        ToolListChange(conversations=3, turns=5, calls=4, sizes=(3, 12)),
        'tools',
        'g3: 3 conversation(s) change their tool list between turns (5 turn(s) send other tools than the turn before, 4 call(s) of this group a shorter list), so each change breaks the cached prefix at its very start, the tool list',
        "send the conversation's full tool list (3/12 tools) from its first call, in one order, and restrict which tools a turn may call with tool_choice (OpenAI: an allowed_tools tool_choice) instead of changing the list (on Anthropic a tool_choice change keeps the tools and system cache, not the messages')",
    ),
    (
        'model_switch',
        ModelSwitch(calls=12, conversations=12, moved=(('deepseek-flash', 12),), tokens=123456, kept_on='deepseek-v4-pro'),
        'request (model)',
        "g3: 12 call(s) in 12 conversation(s) switch to another model mid-way (12 to deepseek-flash; 123,456 input tokens); caches are per model, so each switched call misses the prefix the conversation's first model cached",
        'keep each conversation on one model (here: deepseek-v4-pro, which carries most of its input tokens); choose the model per conversation, not per turn',
    ),
    (
        'model_switch',
        ModelSwitch(calls=3, conversations=2, moved=(('a-model', 1), ('b-model', 2)), tokens=900, kept_on='a-model'),
        'request (model)',
        "g3: 3 call(s) in 2 conversation(s) switch to another model mid-way (1 to a-model, 2 to b-model; 900 input tokens); caches are per model, so each switched call misses the prefix the conversation's first model cached",
        'keep each conversation on one model (here: a-model, which carries most of its input tokens); choose the model per conversation, not per turn',
    ),
    (
        'cache_write_unread',
        UnreadWrites(calls=10, writing=10, write_5m=20000, write_1h=0, model='claude-sonnet-4-5', reported=10),
        'request (cache_control)',
        'g3: 10 of 10 calls that wrote to the cache wrote tokens no later call read while they lived (20,000 tokens at the 5-minute write rate, 0 at the 1-hour rate, on claude-sonnet-4-5; as the provider reported them): their premium over sending them uncached bought nothing',
        'mark cache_control only where a later call reads it: at the end of the shared prefix (tools, system prompt, the history), not after per-call content; where the next call comes more than 5 minutes later, use the 1-hour TTL or no breakpoint',
    ),
    (
        'cache_write_unread',
        UnreadWrites(calls=10, writing=12, write_5m=0, write_1h=1500, model='claude-sonnet-4-5', reported=0),
        'request (cache_control)',
        'g3: 10 of 12 calls that wrote to the cache wrote tokens no later call read while they lived (0 tokens at the 5-minute write rate, 1,500 at the 1-hour rate, on claude-sonnet-4-5; as simulated (no usage in the log)): their premium over sending them uncached bought nothing',
        'mark cache_control only where a later call reads it: at the end of the shared prefix (tools, system prompt, the history), not after per-call content; where the next call comes more than 5 minutes later, use the 1-hour TTL or no breakpoint',
    ),
    (
        'cache_write_unread',
        UnreadWrites(calls=10, writing=10, write_5m=2500, write_1h=2500, model='claude-opus-4-1', reported=4),
        'request (cache_control)',
        'g3: 10 of 10 calls that wrote to the cache wrote tokens no later call read while they lived (2,500 tokens at the 5-minute write rate, 2,500 at the 1-hour rate, on claude-opus-4-1; 4 as reported, 6 as simulated): their premium over sending them uncached bought nothing',
        'mark cache_control only where a later call reads it: at the end of the shared prefix (tools, system prompt, the history), not after per-call content; where the next call comes more than 5 minutes later, use the 1-hour TTL or no breakpoint',
    ),
    (
        'ttl_too_short',
        TtlTooShort(gaps=9, within_5m=0, within_1h=9, model='claude-sonnet-4-5'),
        'request (cache_control ttl)',
        "g3: 9 of the 9 gaps between this template's calls are 5 to 60 minutes long, so its 5-minute cache entries expire before the next call, which writes them again (0 gaps are within 5 minutes, 0 longer than an hour)",
        'mark its breakpoints with the 1-hour TTL (cache_control {"type": "ephemeral", "ttl": "1h"}): a write costs 2x instead of 1.25x on claude-sonnet-4-5, and the next call reads it',
    ),
    (
        'ttl_too_short',
        TtlTooShort(gaps=20, within_5m=5, within_1h=12, model='claude-sonnet-4-5'),
        'request (cache_control ttl)',
        "g3: 12 of the 20 gaps between this template's calls are 5 to 60 minutes long, so its 5-minute cache entries expire before the next call, which writes them again (5 gaps are within 5 minutes, 3 longer than an hour)",
        'mark its breakpoints with the 1-hour TTL (cache_control {"type": "ephemeral", "ttl": "1h"}): a write costs 2x instead of 1.25x on claude-sonnet-4-5, and the next call reads it',
    ),
    (
        'ttl_too_long',
        TtlTooLong(gaps=9, within_5m=9, model='claude-sonnet-4-5'),
        'request (cache_control ttl)',
        'g3: its breakpoints ask for the 1-hour TTL, but 9 of the 9 gaps between its calls are within 5 minutes and none is between 5 minutes and an hour: each write pays 2x for a lifetime the next call does not need',
        'use the default 5-minute TTL: a write costs 1.25x instead of 2x on claude-sonnet-4-5, and each read refreshes the entry for another 5 minutes',
    ),

]


@pytest.mark.parametrize(("kind", "evidence", "segment", "message", "change"), CASES)
def test_each_kind_is_written_from_its_evidence(kind, evidence, segment, message, change):
    assert finding_text(kind, "g3", evidence) == (segment, message, change)


def test_every_kind_has_a_record_a_writer_and_a_case():
    assert set(KIND_ORDER) == set(EVIDENCE) == set(WRITERS) == {c[0] for c in CASES}
    assert all(isinstance(c[1], EVIDENCE[c[0]]) for c in CASES)


PARTS = [
    (PartName("segment", role="tools"), "tools"),
    (PartName("message", role="user"), "user message"),
    (PartName("static_lines", role="system", n=1), "system (1 line)"),
    (PartName("static_lines", role="system", n=120), "system (120 lines)"),
    (PartName("varying_line", role="system", excerpt="Now: 2026-11-23 20:02"), "system: Now: 2026-11-23 20:02"),
    (PartName("varying_line", role="system"), "system: "),  # --redact: no excerpt
    (PartName("run", role="system"), "system"),
    (PartName("run", role="tools", breakpoint=True), "tools [breakpoint]"),
    (PartName("message_run", role="user"), "user message(s)"),
    (PartName("message_run", role="assistant", breakpoint=True), "assistant message(s) [breakpoint]"),
    (PartName("over_limit", n=2), "2 more breakpoint(s): over the limit of four"),
    (PartName("tools_and_system"), "tools and system"),
    (PartName("padding"), "added static instructions or examples"),
    (PartName("messages"), "messages"),
    (PartName("unread_5m"), "written, never read (5 min)"),
    (PartName("unread_1h"), "written, never read (1 h)"),
    (PartName("uncached"), "the same tokens sent uncached"),
    (PartName("tools_as_logged", n=3), "tools (3 as logged)"),
    (PartName("tools_full_list", n=7), "tools (7: the conversation's full list)"),
    (PartName("system_and_messages"), "system and messages"),
    (PartName("switched_turns", models=("a-model", "b-model")), "turns on another model (a-model, b-model)"),
    (PartName("kept_turns", models=("deepseek-v4-pro",)), "the same turns on deepseek-v4-pro"),
]


@pytest.mark.parametrize(("part", "name"), PARTS)
def test_each_layout_part_is_named_from_its_code(part, name):
    assert part_name(part) == name


def test_every_part_code_has_a_name_and_a_case():
    assert set(PART_CODES) == set(PART_NAMES) == {p.code for p, _ in PARTS}


def test_a_kind_with_another_kinds_record_is_refused():
    with pytest.raises(TypeError, match="carries VolatileValue"):
        finding_text("volatile_value", "g1", UserIdScope())


def _finding(evidence, **words) -> Finding:
    return Finding(id="F1", kind="volatile_value", group="g1", segment=words.get("segment", ""),
                   message=words.get("message", ""), change=words.get("change", ""), evidence=evidence, calls=3,
                   tokens=30, savings_usd=0, keeps_information=True, samples=[], before=[], after=[], savings=[])


def test_findings_and_actions_get_their_words_and_the_json_keeps_no_evidence(example_report):
    found = example_report.findings[0]
    assert found.evidence is not None and found.message == ""  # the analysis leaves the words to the renderer
    written = with_findings_text(example_report)
    f = written.findings[0]
    assert (f.segment, f.message, f.change) == finding_text(f.kind, f.group, f.evidence)
    [action] = [a for a in written.recommendation.actions if a.kind == f.kind]
    assert action.message == f"{f.message}: {f.change}"
    assert "evidence" not in f.model_dump_json() and "evidence" not in action.model_dump_json()
    assert all(p.name is not None and p.part == part_name(p.name) for p in (*f.before, *f.after))
    assert "name" not in f.before[0].model_dump_json()
    assert with_findings_text(written) == written  # idempotent


def test_a_finding_read_back_keeps_its_words():
    """A saved report carries the words, not the evidence: they are kept as they are."""
    old = _finding(None, segment="system", message="g1: an old sentence", change="an old change")
    rec = Recommendation(model="m", layout="restructured", baseline="b", baseline_cost_usd=1, cost_usd=1,
                         savings_usd=0, reasons=[], actions=[Action(kind="volatile_value", message="kept",
                                                                   savings_usd=0)])
    from promptcache.model.report import Report

    shell = Report.model_construct(findings=[old], recommendation=rec)
    again = with_findings_text(shell)
    assert again.findings[0] == old and again.recommendation.actions[0].message == "kept"
    new = with_findings_text(Report.model_construct(findings=[_finding(VolatileValue(2, "uuid", 1500, 1))],
                                                    recommendation=None))
    assert new.findings[0].message == (
        "g1: system prompt line 3 holds a uuid that changes on every call, before 1,500 tokens of static instructions"
    )


@pytest.fixture(scope="module")
def example_report():
    from importlib import resources

    from promptcache.analyze.pipeline import analyze

    return analyze([Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))])


# --- advise/ returns data -------------------------------------------------------------------------

#: the words still built in advise/, each with why it is still there; an entry no longer found fails
#: the test too, so the list only shrinks (it is empty: why a fix is dropped is a ``DropReason`` now)
STILL_IN_ADVISE: set[str] = set()
WORDS = 4  # a string literal of this many words or more is a sentence (or a part of one)


def words_built(source: str) -> list[str]:
    """What a module's code does to write words: number formats, finding words, sentences."""
    tree = ast.parse(source)
    docs = docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            found.append(f"line {node.lineno}: a number format `{ast.unparse(node)}`")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            found.append(f"line {node.lineno}: str.format")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "format":
            found.append(f"line {node.lineno}: format()")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
            found.append(f"line {node.lineno}: %-formatting")
        elif isinstance(node, ast.keyword) and node.arg in ("message", "change", "segment"):
            found.append(f"line {node.lineno}: a finding's words ({node.arg}=)")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docs
            and len(node.value.split()) >= WORDS
            and node.value not in STILL_IN_ADVISE
        ):
            found.append(f"line {node.lineno}: a sentence {node.value!r}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and "$" in node.value
            and node.value not in STILL_IN_ADVISE
        ):
            found.append(f"line {node.lineno}: a dollar amount {node.value!r}")
    return found


@pytest.mark.parametrize(
    "source",
    [
        'x = f"{n:,} tokens"',
        'x = f"${cost:.4f}"',
        'x = "{:,}".format(n)',
        'Fix(kind="k", group=g, message=m)',
        'why = "calls of one template are sent under different ids"',
        'x = "%d calls" % n',
    ],
)
def test_the_check_finds_words_built(source):
    assert words_built(source)


def test_advise_builds_no_words():
    """Domain code returns data (issue 16): no module of advise/ formats a number or writes a
    finding's words; what remains is listed above, with why."""
    seen: set[str] = set()
    found = []
    for path in sorted(Path(promptcache.advise.__file__).parent.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        found += [f"{path.name} {x}" for x in words_built(source)]
        seen |= {n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant)}
    assert found == []
    assert STILL_IN_ADVISE <= seen, f"no longer in advise/, drop from the list: {STILL_IN_ADVISE - seen}"
    assert not {f.name for f in dataclasses.fields(Fix)} & {"message", "change", "segment"}
