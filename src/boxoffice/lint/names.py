"""An import-linter contract on names, not imports: `core` is mechanism only, so no module of it
may speak of the domain (bookings, payments, seats...).

    [tool.importlinter]
    contract_types = ["forbidden_names: boxoffice.lint.names.ForbiddenNamesContract"]

    [[tool.importlinter.contracts]]
    name = "core is mechanism only: no domain word in its names or strings"
    type = "forbidden_names"
    modules = ["boxoffice.core"]
    words = ["booking", "payment", "seat", ...]

Every module in (or under) `modules` is parsed with `ast`, and the contract breaks when a word
(case-insensitive, anywhere inside) appears in:

- the module's dotted name (`boxoffice.core.seatboard`);
- an identifier: a class, function or argument name, a name read or assigned, an attribute,
  an imported name or its alias, a keyword argument's name;
- a string or bytes constant, f-strings' literal parts included.

`allow` lists fragments that are not the domain although they contain a word (a web
standard's own name, say): they are cut out of a text before it is searched.

Docstrings (and any other string standing alone as a statement) and comments are
documentation, free to give examples: they are not checked. Import-linter only builds the
import graph; the contract finds each module's file through the import system.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output
from importlinter.domain.imports import Module


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    kind: str  # "module name", "identifier", "string"
    text: str
    word: str

    def __str__(self) -> str:
        text = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return f"{self.module}:{self.line}: {self.kind} {text!r} names {self.word!r}"


class ForbiddenNamesContract(Contract):
    """Breaks when a module under `modules` has a forbidden word in its name, an identifier or
    a string constant (see the module's docstring)."""

    type_name = "forbidden_names"

    modules = fields.ListField(subfield=fields.ModuleField())
    words = fields.ListField(subfield=fields.StringField())
    allow = fields.ListField(subfield=fields.StringField(), required=False, default=[])

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        # The fields parsed into lists of strings and of modules (import-linter sets them).
        pattern = words_pattern(cast(list[str], self.words))
        allowed = allowed_pattern(cast(list[str], self.allow))
        violations: list[Violation] = []
        for package in cast(list[Module], self.modules):
            if package.name not in graph.modules:
                raise ValueError(f"Module '{package.name}' does not exist.")
            names = {package.name, *graph.find_descendants(package.name)}
            for name in sorted(names):
                violations.extend(module_violations(name, pattern, allowed))
        return ContractCheck(
            kept=not violations, metadata={"violations": [asdict(v) for v in violations]}
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        for data in check.metadata["violations"]:
            output.print_error(str(Violation(**data)), bold=False)
            output.new_line()


def words_pattern(words: list[str]) -> re.Pattern[str]:
    if not words:
        raise ValueError("a forbidden_names contract needs at least one word")
    return re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)


def allowed_pattern(fragments: list[str]) -> re.Pattern[str] | None:
    if not fragments:
        return None
    return re.compile("|".join(re.escape(f) for f in fragments), re.IGNORECASE)


def module_violations(
    module: str, pattern: re.Pattern[str], allowed: re.Pattern[str] | None = None
) -> list[Violation]:
    """Every forbidden word in one module: its name, then its code in source order."""
    found: list[Violation] = []

    def search(text: str) -> re.Match[str] | None:
        return pattern.search(allowed.sub("\0", text) if allowed else text)

    match = search(module)
    if match:
        found.append(Violation(module, 0, "module name", module, match.group(0).lower()))
    path = source_of(module)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for line, kind, text in _names_and_strings(tree):
        match = search(text)
        if match:
            found.append(Violation(module, line, kind, text, match.group(0).lower()))
    return found


def source_of(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise ValueError(f"no Python source for module {module!r}")
    return Path(spec.origin)


def _documentation(tree: ast.AST) -> set[int]:
    """ids of the string constants that stand alone as statements: docstrings and the like."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def _names_and_strings(tree: ast.AST) -> list[tuple[int, str, str]]:
    """(line, kind, text) of every identifier and string constant outside documentation."""
    skip = _documentation(tree)
    found: list[tuple[int, str, str]] = []

    def add(node: Any, kind: str, text: str | None) -> None:
        if text:
            found.append((getattr(node, "lineno", 0), kind, text))

    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            add(node, "identifier", node.name)
        elif isinstance(node, ast.Name):
            add(node, "identifier", node.id)
        elif isinstance(node, ast.Attribute):
            add(node, "identifier", node.attr)
        elif isinstance(node, ast.arg | ast.keyword):
            add(node, "identifier", node.arg)
        elif isinstance(node, ast.alias):
            add(node, "identifier", node.name)
            add(node, "identifier", node.asname)
        elif isinstance(node, ast.ImportFrom):
            add(node, "identifier", node.module)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            for name in node.names:
                add(node, "identifier", name)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
            add(node, "identifier", node.name)
        elif isinstance(node, ast.MatchMapping):
            add(node, "identifier", node.rest)
        elif isinstance(node, ast.MatchClass):
            for name in node.kwd_attrs:
                add(node, "identifier", name)
        elif isinstance(node, ast.Constant) and id(node) not in skip:
            if isinstance(node.value, str):
                add(node, "string", node.value)
            elif isinstance(node.value, bytes):
                add(node, "string", node.value.decode("latin-1"))
    found.sort(key=lambda item: item[0])
    return found
