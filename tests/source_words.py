"""Shared by the "no words outside report/" checks (tests/test_findings_text.py for advise/,
tests/test_house_words.py for analyze/ and recommend/): what in a module's syntax tree is a
docstring, so prose in a docstring is never counted as words the code builds."""

from __future__ import annotations

import ast


def docstrings(tree: ast.AST) -> set[int]:
    """``id()`` of every docstring constant in ``tree`` (module, class and function docstrings)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out
