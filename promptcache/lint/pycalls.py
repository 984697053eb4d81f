"""Prompts built in Python code and sent to a model: SDK call sites and LangChain messages.

A call to ``client.chat.completions.create``, ``client.responses.create``,
``client.messages.create`` or ``litellm.completion`` (and their async / ``parse`` variants), or a
LangChain message (``SystemMessage(...)``, ``ChatPromptTemplate.from_messages([...])``), is a prompt:
its messages in order, each content expression cut into static text and dynamic parts. Names are
followed to their assignment in the same function (or the module), ``+`` and ``+=`` concatenate,
``"...".format(x=...)`` fills a template whose fields take the volatility of their arguments.
The module is parsed with ``ast``, never imported or run.

Dynamic parts carry what the rules need: ``datetime.now()``, ``time.time()``, ``uuid4()``,
``random`` (volatile, PC102), ``json.dumps`` without ``sort_keys=True`` (PC105), iteration over a
set (PC107: set order depends on string hashing, which is randomized per process).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import replace

from .builder import PromptBuilder, volatile_word
from .locate import Locator
from .model import Prompt, SegKind

# Dotted call tails that send a prompt to a model, and the keywords that carry it.
_SDK_TAILS = (
    ("chat", "completions", "create"),
    ("chat", "completions", "parse"),
    ("chat", "completions", "stream"),
    ("responses", "create"),
    ("responses", "parse"),
    ("responses", "stream"),
    ("messages", "create"),
    ("messages", "stream"),
    ("litellm", "completion"),
    ("litellm", "acompletion"),
)
_PROMPT_KEYWORDS = ("system", "instructions", "messages", "input")
_LITELLM_FUNCS = frozenset({"completion", "acompletion"})
_LC_MESSAGES = {"SystemMessage": "system", "HumanMessage": "user", "AIMessage": "assistant", "ChatMessage": None}
_LC_TEMPLATES = frozenset({"from_template", "from_messages"})
_ROLE_ALIASES = {"human": "user", "ai": "assistant", "developer": "system"}
_SET_CALLS = frozenset({"set", "frozenset"})
_SET_TYPES = frozenset({"set", "frozenset", "Set", "FrozenSet", "AbstractSet", "MutableSet"})
_RUNNABLE_CALLS = frozenset({"invoke", "ainvoke", "stream", "astream"})
_ORDERING_CALLS = frozenset({"sorted", "min", "max", "len", "sum", "any", "all"})


def _dotted(node: ast.expr) -> tuple[str, ...]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.extend(reversed(_dotted(node.func)))
    return tuple(reversed(parts))


def _char_col(lines: list[str], lineno: int, byte_col: int) -> int:
    return len(lines[lineno - 1].encode("utf-8")[:byte_col].decode("utf-8", "replace")) + 1


class _Scope:
    """Assignments of one function (or the module), to follow a name to its value."""

    def __init__(self, node: ast.AST, parent: _Scope | None):
        self.parent = parent
        self.assigns: dict[str, list[ast.stmt]] = {}
        self.params: dict[str, ast.expr | None] = {}
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs]:
                self.params[arg.arg] = arg.annotation
        for child in _own_nodes(node):
            if isinstance(child, ast.Assign):
                for target in child.targets:
                    if isinstance(target, ast.Name):
                        self.assigns.setdefault(target.id, []).append(child)
            elif (
                isinstance(child, (ast.AnnAssign, ast.AugAssign))
                and isinstance(child.target, ast.Name)
                and child.value is not None
            ):
                self.assigns.setdefault(child.target.id, []).append(child)

    def lookup(self, name: str, before: int) -> tuple[list[ast.stmt], _Scope | None]:
        """The last plain assignment of ``name`` before line ``before`` and the ``+=`` after it;
        an enclosing scope's assignment at any line (it runs before the function is called)."""
        stmts = sorted((s for s in self.assigns.get(name, []) if s.lineno < before), key=lambda s: s.lineno)
        base = next((i for i in range(len(stmts) - 1, -1, -1) if not isinstance(stmts[i], ast.AugAssign)), None)
        if base is not None:
            return stmts[base:], self
        if self.parent is not None:
            return self.parent.lookup(name, 10**9)
        return [], None


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes of a function or module body, not descending into nested functions or classes."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(child))


class _Emitter:
    """Turns content expressions into segments of one Prompt."""

    def __init__(self, source: str, lines: list[str], constants: frozenset[str], parents: dict[ast.AST, ast.AST]):
        self.source = source
        self.lines = lines
        self.constants = constants
        self.parents = parents
        self.consumed: set[int] = set()  # ids of assignments whose value became part of a call's prompt

    # positions -------------------------------------------------------------------------------
    def _at(self, node: ast.expr) -> tuple[int, int]:
        return node.lineno, _char_col(self.lines, node.lineno, node.col_offset)

    def _brace_at(self, expr: ast.expr) -> tuple[int, int]:
        """The ``{`` that opens an f-string replacement field holding ``expr``."""
        line, col = self._at(expr)
        text = self.lines[line - 1]
        i = col - 2
        while i >= 0 and text[i] in " \t":
            i -= 1
        return (line, i + 1) if i >= 0 and text[i] == "{" else (line, col)

    def _locator(self, node: ast.Constant) -> Locator:
        from .pysource import _constant_locator

        return _constant_locator(self.source, node, self.lines)

    # analysis of one dynamic expression ------------------------------------------------------
    def _is_set(self, node: ast.expr, scope: _Scope, depth: int = 0) -> bool:
        if isinstance(node, (ast.Set, ast.SetComp)):
            return True
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name and name[-1] in _SET_CALLS:
                return True
            if (
                name
                and name[-1] in ("keys", "union", "intersection", "difference", "symmetric_difference")
                and len(name) > 1
            ):
                return name[-1] != "keys"
            if name and name[-1] in ("list", "tuple") and node.args:
                return self._is_set(node.args[0], scope, depth)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor)):
            return self._is_set(node.left, scope, depth) or self._is_set(node.right, scope, depth)
        if isinstance(node, ast.Name) and depth < 4:
            stmts, found = scope.lookup(node.id, node.lineno)
            if (
                stmts
                and found is not None
                and isinstance(stmts[0], (ast.Assign, ast.AnnAssign))
                and stmts[0].value is not None
            ):
                return self._is_set(stmts[0].value, found, depth + 1)
            annotation = scope.params.get(node.id)
            if annotation is not None:  # a parameter annotated set[str] / frozenset / AbstractSet
                root = annotation.value if isinstance(annotation, ast.Subscript) else annotation
                return bool(_dotted(root)) and _dotted(root)[-1] in _SET_TYPES
        return False

    def _unordered(self, expr: ast.expr, scope: _Scope) -> str | None:
        """The set that ``expr`` iterates over, unsorted (``", ".join(set(tags))``), as source text."""
        for node in ast.walk(expr):
            iters: list[ast.expr] = []
            if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.SetComp)):
                iters = [g.iter for g in node.generators]
            elif isinstance(node, ast.Call):
                name = _dotted(node.func)
                if name and name[-1] in _ORDERING_CALLS:
                    continue
                if name and name[-1] in ("join", "list", "tuple", "enumerate", "map", "filter") and node.args:
                    iters = [node.args[-1] if name[-1] in ("map", "filter") else node.args[0]]
            for it in iters:
                parent = self.parents.get(node)
                if isinstance(parent, ast.Call) and _dotted(parent.func)[-1:] == ("sorted",):
                    continue
                if self._is_set(it, scope):
                    return ast.unparse(it)
        return None

    @staticmethod
    def _unsorted_json(expr: ast.expr) -> str | None:
        for call in ast.walk(expr):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "dumps"
                and not any(
                    k.arg == "sort_keys" and isinstance(k.value, ast.Constant) and k.value.value is True
                    for k in call.keywords
                )
            ):
                return "json.dumps(...)" if isinstance(call.func.value, ast.Name) else ".dumps(...)"
        return None

    def _dynamic(
        self, b: PromptBuilder, expr: ast.expr, scope: _Scope, at: tuple[int, int], text: str | None = None
    ) -> None:
        names = [n.id for n in ast.walk(expr) if isinstance(n, ast.Name) and n.id not in self.constants]
        idents = [
            n.id if isinstance(n, ast.Name) else n.attr
            for n in ast.walk(expr)
            if isinstance(n, (ast.Name, ast.Attribute))
        ]
        unordered = self._unordered(expr, scope)
        b.locator = Locator("", at[0], at[1], fixed=True)
        b.dynamic(
            SegKind.VALUE,
            text or "{" + ast.unparse(expr) + "}",
            0,
            names or ["<expression>"],
            volatile=volatile_word(idents),
            unsorted_json=self._unsorted_json(expr),
        )
        if unordered:
            b.prompt.segments[-1] = replace(b.prompt.segments[-1], unordered=unordered)

    # content expressions ---------------------------------------------------------------------
    def emit(self, b: PromptBuilder, expr: ast.expr, scope: _Scope, depth: int = 0, *, template: bool = False) -> None:
        """Append the segments ``expr`` renders to; ``template``: string constants are LangChain
        (``str.format``) templates, not literal text."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str) and template and hasattr(expr, "lineno"):
            from .braces import parse_format

            b.prompt.segments.extend(
                parse_format(expr.value, b.prompt.name, self._locator(expr), self.constants).segments
            )
        elif isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            b.locator = self._locator(expr)
            b.static(expr.value, 0)
        elif isinstance(expr, ast.JoinedStr):
            for part in expr.values:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    b.locator = Locator("", *self._at(expr), fixed=True)
                    b.static(part.value, 0)
                elif isinstance(part, ast.FormattedValue):
                    self._dynamic(b, part.value, scope, self._brace_at(part.value))
        elif isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            self.emit(b, expr.left, scope, depth, template=template)
            self.emit(b, expr.right, scope, depth, template=template)
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "format":
            self._format(b, expr, scope, depth)
        elif isinstance(expr, ast.Name) and depth < 8:
            stmts, found = scope.lookup(expr.id, expr.lineno)
            if not stmts or found is None or expr.id in self.constants:
                if expr.id not in self.constants:
                    self._dynamic(b, expr, scope, self._at(expr))
                return
            for stmt in stmts:
                self.consumed.add(id(stmt))
                value = stmt.value  # type: ignore[attr-defined]  # assigns holds only assignments with a value
                loop = self._enclosing_set_loop(stmt, found)
                if loop is not None:
                    self._dynamic(b, value, found, self._at(value))
                    b.prompt.segments[-1] = replace(b.prompt.segments[-1], unordered=loop)
                else:
                    self.emit(b, value, found, depth + 1, template=template)
        else:
            self._dynamic(b, expr, scope, self._at(expr), "{" + ast.unparse(expr) + "}")

    def _enclosing_set_loop(self, stmt: ast.stmt, scope: _Scope) -> str | None:
        node = self.parents.get(stmt)
        while node is not None and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
            if isinstance(node, (ast.For, ast.AsyncFor)) and self._is_set(node.iter, scope):
                return ast.unparse(node.iter)
            node = self.parents.get(node)
        return None

    def _format(self, b: PromptBuilder, call: ast.Call, scope: _Scope, depth: int) -> None:
        """``"...{x}...".format(x=expr)``: the template's fields take their argument's properties."""
        from .braces import parse_format

        template = call.func.value  # type: ignore[attr-defined]  # the caller matched func as an ast.Attribute
        if isinstance(template, ast.Name):
            stmts, _ = scope.lookup(template.id, template.lineno)
            if len(stmts) == 1 and isinstance(stmts[0], ast.Assign) and isinstance(stmts[0].value, ast.Constant):
                self.consumed.add(id(stmts[0]))
                template = stmts[0].value
        if not (isinstance(template, ast.Constant) and isinstance(template.value, str)):
            self._dynamic(b, call, scope, self._at(call))
            return
        args = {k.arg: k.value for k in call.keywords if k.arg}
        parsed = parse_format(template.value, b.prompt.name, self._locator(template), frozenset())
        positional = iter(call.args)
        for seg in parsed.segments:
            if seg.kind is SegKind.STATIC:
                b.prompt.segments.append(seg)
                continue
            root = seg.names[0]
            arg = args.get(root) if root != "<positional>" else next(positional, None)
            if arg is None and root.isdigit() and int(root) < len(call.args):
                arg = call.args[int(root)]
            if arg is None:
                b.prompt.segments.append(seg)
                continue
            if isinstance(arg, ast.Constant) or root in self.constants:
                b.prompt.segments.append(replace(seg, kind=SegKind.STATIC, names=()))
                continue
            names = (
                tuple(n.id for n in ast.walk(arg) if isinstance(n, ast.Name) and n.id not in self.constants)
                or seg.names
            )
            idents = [
                n.id if isinstance(n, ast.Name) else n.attr
                for n in ast.walk(arg)
                if isinstance(n, (ast.Name, ast.Attribute))
            ]
            b.prompt.segments.append(
                replace(
                    seg,
                    names=names,
                    volatile=seg.volatile or volatile_word(idents),
                    unsorted_json=self._unsorted_json(arg),
                    unordered=self._unordered(arg, scope),
                )
            )


def _role_of(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _ROLE_ALIASES.get(node.value, node.value)
    return None


def _messages(
    em: _Emitter, b: PromptBuilder, expr: ast.expr, scope: _Scope, depth: int = 0, *, template: bool = False
) -> None:
    """Append a message list (dicts, tuples, LangChain messages, ``*history``) to the prompt."""
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        _messages(em, b, expr.left, scope, depth, template=template)
        _messages(em, b, expr.right, scope, depth, template=template)
        return
    if isinstance(expr, ast.Name) and depth < 4:
        stmts, found = scope.lookup(expr.id, expr.lineno)
        if (
            stmts
            and found is not None
            and isinstance(stmts[0], (ast.Assign, ast.AnnAssign))
            and isinstance(stmts[0].value, (ast.List, ast.Tuple))
        ):
            em.consumed.add(id(stmts[0]))
            _messages(em, b, stmts[0].value, found, depth + 1, template=template)
            return
    if not isinstance(expr, (ast.List, ast.Tuple)):
        em.emit(b, expr, scope)
        return
    for item in expr.elts:
        role, content = None, None
        if isinstance(item, ast.Dict):
            fields = {k.value: v for k, v in zip(item.keys, item.values, strict=True) if isinstance(k, ast.Constant)}
            role, content = _role_of(fields.get("role", ast.Constant(None))), fields.get("content")
        elif isinstance(item, ast.Tuple) and len(item.elts) == 2:
            role, content = _role_of(item.elts[0]), item.elts[1]
        elif isinstance(item, ast.Call) and _dotted(item.func)[-1:] and _dotted(item.func)[-1] in _LC_MESSAGES:
            role = _LC_MESSAGES[_dotted(item.func)[-1]]
            content = item.args[0] if item.args else next((k.value for k in item.keywords if k.arg == "content"), None)
        elif isinstance(item, ast.Call) and _dotted(item.func)[-1:] == ("from_template",) and item.args:
            role = {"SystemMessagePromptTemplate": "system", "HumanMessagePromptTemplate": "user"}.get(
                _dotted(item.func)[0]
            )
            content = item.args[0]
        if content is None:
            em.emit(b, item.value if isinstance(item, ast.Starred) else item, scope)
            continue
        line, col = em._at(item if hasattr(item, "lineno") else content)
        if role:
            b.prompt.roles.append((len(b.prompt.segments), role, line, col))
        _content(
            em,
            b,
            content,
            scope,
            template=template and not (isinstance(item, ast.Call) and _dotted(item.func)[-1] in _LC_MESSAGES),
        )


def _content(em: _Emitter, b: PromptBuilder, content: ast.expr, scope: _Scope, *, template: bool = False) -> None:
    """A message's content: a string expression, or a list of parts ``[{"type": "text", "text": ...}]``."""
    if isinstance(content, ast.List):
        for part in content.elts:
            text = None
            if isinstance(part, ast.Dict):
                text = next(
                    (
                        v
                        for k, v in zip(part.keys, part.values, strict=True)
                        if isinstance(k, ast.Constant) and k.value == "text"
                    ),
                    None,
                )
                if text is None:
                    continue  # an image or a document part: no text to place
            em.emit(b, text if text is not None else part, scope)
    else:
        em.emit(b, content, scope, template=template)


def _scope_of(node: ast.AST, parents: dict[ast.AST, ast.AST], scopes: dict[int, _Scope]) -> _Scope:
    current = parents.get(node)
    while current is not None and id(current) not in scopes:
        current = parents.get(current)
    return scopes[id(current)] if current is not None else next(iter(scopes.values()))


def _is_prompt_call(call: ast.Call, litellm_names: set[str]) -> str | None:
    """ "sdk" for an SDK call, "lc" for a LangChain message or template, else None."""
    name = _dotted(call.func)
    if not name:
        return None
    if any(name[-len(t) :] == t for t in _SDK_TAILS) or (len(name) == 1 and name[0] in litellm_names):
        return "sdk"
    if name[-1] in _LC_MESSAGES or (name[-1] in _LC_TEMPLATES and len(name) > 1 and name[-2].endswith("Template")):
        return "lc"
    if (
        name[-1] in _RUNNABLE_CALLS
        and call.args
        and isinstance(call.args[0], ast.List)
        and any(
            isinstance(e, ast.Call) and _dotted(e.func)[-1:] and _dotted(e.func)[-1] in _LC_MESSAGES
            for e in call.args[0].elts
        )
    ):
        return "invoke"  # llm.invoke([SystemMessage(...), HumanMessage(...)])
    return None


def call_site_prompts(
    tree: ast.Module, source: str, lines: list[str], constants: frozenset[str]
) -> tuple[list[Prompt], set[int]]:
    """One Prompt per SDK call or top-level LangChain message/template in ``tree``, and the ids of
    the assignments they consumed (so the string-constant pass does not report them again)."""
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    scopes: dict[int, _Scope] = {id(tree): _Scope(tree, None)}
    for node in ast.walk(tree):  # parents before children: ast.walk is breadth-first
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scopes[id(node)] = _Scope(node, _scope_of(node, parents, scopes))
    litellm_names = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "litellm"
        for alias in node.names
        if alias.name in _LITELLM_FUNCS
    }
    em = _Emitter(source, lines, constants, parents)
    prompts: list[Prompt] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        what = _is_prompt_call(node, litellm_names)
        if what is None:
            continue
        if what == "lc" and any(
            isinstance(p, ast.Call) and _is_prompt_call(p, litellm_names) for p in _ancestors(node, parents)
        ):
            continue  # a message inside a list passed to another call: part of that prompt
        scope = _scope_of(node, parents, scopes)
        line, col = em._at(node)
        b = PromptBuilder(f"{'.'.join(_dotted(node.func))}() at line {line}", Locator("", line, col, fixed=True))
        if what == "invoke":
            _messages(em, b, node.args[0], scope)
        elif what == "sdk":
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            for key in _PROMPT_KEYWORDS:
                if key in keywords:
                    if key in ("system", "instructions"):
                        b.prompt.roles.append((len(b.prompt.segments), "system", *em._at(keywords[key])))
                    if key in ("messages", "input") and isinstance(
                        keywords[key], (ast.List, ast.Tuple, ast.Name, ast.BinOp)
                    ):
                        _messages(em, b, keywords[key], scope)
                    else:
                        _content(em, b, keywords[key], scope)  # Anthropic's system may be a list of text blocks
        else:
            is_message = _dotted(node.func)[-1] in _LC_MESSAGES
            _messages(em, b, ast.List(elts=[node]) if is_message else _lc_arg(node), scope, template=not is_message)
        if any(s.kind is not SegKind.STATIC for s in b.prompt.segments):
            prompts.append(b.prompt)
    return prompts, em.consumed


def _lc_arg(call: ast.Call) -> ast.expr:
    if not call.args:
        return ast.List(elts=[])
    arg = call.args[0]
    return (
        arg if _dotted(call.func)[-1] == "from_messages" else ast.List(elts=[ast.Tuple(elts=[ast.Constant(None), arg])])
    )


def _ancestors(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> Iterator[ast.AST]:
    current = parents.get(node)
    while current is not None:
        yield current
        current = parents.get(current)
