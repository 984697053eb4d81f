"""Prose prompts: the placeholder syntax is read from the content (issue 20, points 1 and 4)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.lint.documents import kind_for
from promptcache.lint.locate import Locator
from promptcache.lint.model import SegKind
from promptcache.lint.prose import parse_prose, placeholders


@pytest.mark.parametrize(
    ("text", "syntax", "names"),
    [
        ("The current date is {{currentDateTime}}.\n", "double", ["currentDateTime"]),
        ("Hi {{ user.name | title }} and {{{raw}}}", "double", ["user", "raw"]),
        ("Summarize {document} for {reader}.", "single", ["document", "reader"]),
        ('Reply {{"a": 1}} or {question}', "single", ["question"]),  # {{ JSON }} is not a {{name}}
        ("Use {{name}} and {other}", "format", []),  # both styles: str.format, {{ is a literal brace
        ("Hello ${user}, see ${ref.id}", "dollar", ["user", "ref"]),
        ("No placeholders, only `{code}` and B{Decision}.", "none", []),
    ],
)
def test_syntax_is_read_from_the_content(text: str, syntax: str, names: list[str]) -> None:
    got_syntax, spans = placeholders(text)
    assert (got_syntax, [n for _, _, n in spans]) == (syntax, names)


@pytest.mark.parametrize(
    ("path", "text", "kind"),
    [
        ("prompts/a.md", "Hi {{name}}", "text"),
        ("prompts/a.md", "{% if x %}{{ x }}{% endif %}", "jinja"),
        ("prompts/a.md", "Shows Jinja: `{% if x %}` only in code.", "text"),
        ("prompts/a.md", "{{#items}}- {{name}}\n{{/items}}", "mustache"),
        ("prompts/a.txt", "Summarize {document}.", "text"),
    ],
)
def test_kind_of_a_text_file(path: str, text: str, kind: str) -> None:
    assert kind_for(path, text, {}) == kind


_CHUNK = st.sampled_from(["Answer ", "{{name}}", "{x}", "${y}", "`{code}`", "\n", "```\n{f}\n```\n", "B{D}", "{{", "}}", "<a b={c}>", "date ", "{{currentDateTime}}"])


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(_CHUNK, max_size=20))
def test_segments_reproduce_the_text(chunks: list[str]) -> None:
    """Whatever the text, its segments (static and dynamic, in order) are exactly the text."""
    text = "".join(chunks)
    prompt = parse_prose(text, "p", Locator(text), frozenset())
    if prompt is None:
        assert placeholders(text)[0] == "format"
        return
    assert "".join(s.text for s in prompt.segments) == text


@settings(max_examples=200, deadline=None)
@given(body=st.text(alphabet=st.sampled_from("ab {}$`\n"), max_size=40))
def test_nothing_inside_a_code_fence_is_a_placeholder(body: str) -> None:
    """A fence (whose body is not just one placeholder) never yields a dynamic part."""
    body = body.replace("`", "")
    text = "Intro.\n```\nx = 1\n" + body + "\n```\nOutro.\n"
    prompt = parse_prose(text, "p", Locator(text), frozenset())
    if prompt is None:
        return
    fence_start, fence_end = text.index("```"), text.rindex("```") + 3
    starts = [sum(len(s.text) for s in prompt.segments[:i]) for i in range(len(prompt.segments))]
    for seg, start in zip(prompt.segments, starts, strict=True):
        if seg.kind is not SegKind.STATIC:
            assert not fence_start <= start < fence_end, (text, seg)
