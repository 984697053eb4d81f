"""Python call sites (issue 20, point 2): any combination of the shapes SDK code uses is read
without an exception, and every finding points at a real line and column of the module."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.lint import load_settings
from promptcache.lint.engine import lint_text
from promptcache.lint.tokens import token_counter

_EXPR = st.sampled_from([
    '"You are a support assistant; answer politely and cite the policy section you used."',
    'f"Now: {datetime.now()}. You are a support assistant; answer politely and cite the policy."',
    '"Tags: " + ", ".join(set(tags)) + ". Answer in English and keep it short, always."',
    '"Request {rid}. Answer in English and keep it short.".format(rid=uuid.uuid4())',
    "TEMPLATE.format(**kwargs)", "question", "system", "None", "f'{json.dumps(d)} tail text here'",
    '[{"type": "text", "text": f"{user} then static text that follows."}]',
])
_MESSAGE = st.one_of(
    st.builds(lambda r, e: f'{{"role": "{r}", "content": {e}}}', st.sampled_from(["system", "user", "assistant", "developer"]), _EXPR),
    st.builds(lambda r, e: f'("{r}", {e})', st.sampled_from(["system", "human", "ai"]), _EXPR),
    st.builds(lambda c, e: f"{c}({e})", st.sampled_from(["SystemMessage", "HumanMessage", "AIMessage"]), _EXPR),
    st.just("*history"),
)
_CALL = st.one_of(
    st.builds(lambda ms: f"client.chat.completions.create(model='m', messages=[{', '.join(ms)}])", st.lists(_MESSAGE, max_size=4)),
    st.builds(lambda e, ms: f"client.messages.create(model='m', system={e}, messages=[{', '.join(ms)}])", _EXPR, st.lists(_MESSAGE, max_size=3)),
    st.builds(lambda e, f: f"client.responses.create(model='m', instructions={e}, input={f})", _EXPR, _EXPR),
    st.builds(lambda ms: f"litellm.completion(model='m', messages=[{', '.join(ms)}])", st.lists(_MESSAGE, max_size=3)),
    st.builds(lambda ms: f"ChatPromptTemplate.from_messages([{', '.join(ms)}])", st.lists(_MESSAGE, max_size=3)),
    st.builds(lambda ms: f"llm.invoke([{', '.join(ms)}])", st.lists(_MESSAGE, min_size=1, max_size=3)),
)


@settings(max_examples=300, deadline=None)
@given(pre=st.lists(st.sampled_from([
    'system = f"Today is {date.today()}. Follow the house style guide."', "system += ' more static text'",
    "tags = {a, b}", "for t in tags:\n        system += t", 'TEMPLATE = "Hi {name}. Static text follows here."',
]), max_size=4), call=_CALL)
def test_call_sites_never_raise_and_point_inside_the_file(pre: list[str], call: str) -> None:
    body = "".join(f"    {line}\n" for line in pre)
    source = f"def handler(question, tags, history, d, user, kwargs):\n    system = 'x'\n{body}    return {call}\n"
    settings_ = load_settings(None, cwd=Path("."), min_static_tokens=5)
    findings = lint_text(Path("app.py"), source, settings_, token_counter("approx"))
    lines = source.splitlines()
    for f in findings:
        assert f.code != "PC900", (source, f)
        assert 1 <= f.line <= len(lines) and 1 <= f.col <= len(lines[f.line - 1]) + 1, (source, f)
