"""House (issue 16): "Data out, words in report/". The analysis (``analyze/``) and the model choice
(``recommend/``) return codes and numbers; sentences and number formats are written in ``report/``.

This reads the source of those packages and fails on any prose built or held there: an f-string or a
``str.format``/``%`` template with words in it, or a string constant of four words or more (not a
docstring). What stays is listed below, each with its reason: error messages (an exception carries
its own sentence to the CLI), and labels that are data (keyword rule names, a parameter's value).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from source_words import docstrings

ROOT = Path(__file__).resolve().parent.parent / "promptcache"
PACKAGES = ("analyze", "recommend")
WORDS = re.compile(r"[A-Za-z]{2,}[ ,;:]+[A-Za-z]")  # two words: in a template, prose
SENTENCE = re.compile(r"[A-Za-z']+(?:[ ,:;()]+[A-Za-z']+){3,}")  # four words: in a constant, prose

# (file, function or assignment the text is in, how the text starts): why it stays
ALLOWED: dict[tuple[str, str, str], str] = {
    ("analyze/pipeline.py", "analyze", " line(s) skipped"): "EmptyLogError's message: the skipped lines",
    ("analyze/pipeline.py", "_empty_advice", ": "): "advice appended to the EmptyLogError message",
    ("analyze/pipeline.py", "_policy_info", "per group: "): "a cache-policy parameter's value, as the JSON shows it",
    ("recommend/workload.py", "TASK_RULES", ""): "keyword rule labels: the evidence's keys, data",
}


def prose(source: str) -> list[tuple[str, str, int]]:
    """(enclosing function or assigned name, the text, line) of each piece of prose in ``source``,
    except in a ``raise`` statement."""
    tree = ast.parse(source)
    docs = docstrings(tree)
    found: list[tuple[str, str, int]] = []

    def visit(node: ast.AST, where: str) -> None:
        if isinstance(node, ast.Raise):
            return  # an error's own message
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            where = node.name
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and where == "":
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            where = ",".join(t.id for t in targets if isinstance(t, ast.Name))
        if isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            found.extend((where, p, node.lineno) for p in parts if WORDS.search(p))
            return
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant)
            and isinstance(node.func.value.value, str)
            and WORDS.search(node.func.value.value)
        ) or (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
            and WORDS.search(node.left.value)
        ):
            template = node.func.value if isinstance(node, ast.Call) else node.left  # type: ignore[attr-defined]
            found.append((where, template.value, node.lineno))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if SENTENCE.search(node.value):
                found.append((where, node.value, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, where)

    visit(tree, "")
    return found


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).glob("*.py"))


def _allowed(rel: str, where: str, text: str) -> tuple[str, str, str] | None:
    return next((k for k in ALLOWED if k[0] == rel and k[1] == where and text.startswith(k[2])), None)


def test_analyze_and_recommend_build_no_sentences():
    bad, used = [], set()
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        for where, text, line in prose(path.read_text(encoding="utf-8")):
            key = _allowed(rel, where, text)
            if key is None:
                bad.append(f"{rel}:{line} ({where}): {text[:70]!r}")
            else:
                used.add(key)
    assert not bad, "prose outside report/ (write it in report/ from data):\n" + "\n".join(bad)
    assert used == set(ALLOWED), f"allowed but no longer there (remove): {set(ALLOWED) - used}"


@pytest.mark.parametrize("source,where", [
    ('def f(n):\n    notes.append(f"{n} call(s) had no timestamp")\n', "f"),
    ('def f(n):\n    return "{} calls a day".format(n)\n', "f"),
    ('def f(n):\n    return "%d calls a day" % n\n', "f"),
    ('def f():\n    out.append("Interrupted: the figures cover only the calls read")\n', "f"),
    ('BASIS = "calls in the log (no timestamps)"\n', "BASIS"),
    ('class V:\n    def g(self, span):\n        return f"projected from a {span:.1f} h log"\n', "g"),
])
def test_the_check_finds_prose(source, where):
    """The scanner is not blind: each way of building a sentence above is found, where it is."""
    got = prose(source)
    assert got and got[0][0] == where


@pytest.mark.parametrize("source", [
    'def f(x):\n    """A docstring is prose, and fine."""\n    raise ValueError(f"--at {x}: there is no price for that date")\n',
    'def f(key):\n    return f"{key[0]}/{key[1]}"\n',
    'def f(call):\n    return f"{call.source}:{call.line}"\n',
    'KIND = "cache_write_unread"\n',
])
def test_the_check_lets_data_and_errors_be(source):
    assert prose(source) == []
