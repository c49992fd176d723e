"""The import rule of docs/architecture.md, checked on the source.

The core (``poa_backend/core``) imports neither app, handlers and receivers never
import each other, and none of them names the other in a string (a dotted path
given to ``import_string``, ``apps.get_model`` or a URLconf is an import too).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Each package and the top-level packages it must never reach.
RULES = {
    "poa_backend/core": {"handlers", "receivers"},
    "handlers": {"receivers"},
    "receivers": {"handlers"},
}


def named_packages(tree: ast.AST) -> list[tuple[int, str]]:
    """Top-level packages the module imports or names in a string (docstrings aside)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module.split(".")[0]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            head = node.value.split(".")[0]
            if head != node.value or node.value.isidentifier():
                found.append((node.lineno, head))
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(RULES))
def test_a_package_never_reaches_the_packages_it_must_not(package):
    assert modules(package), f"{package} has no modules"
    breaches = [
        f"{path.relative_to(ROOT)}:{line} names {name!r}"
        for path in modules(package)
        for line, name in named_packages(ast.parse(path.read_text(), filename=str(path)))
        if name in RULES[package]
    ]
    assert breaches == []


def project_modules_named(tree: ast.AST) -> list[tuple[int, str]]:
    """Modules of the project package (``poa_backend.*`` but the core) imported or named."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.append((node.lineno, node.value))
    return [
        (line, name)
        for line, name in names
        if name.startswith("poa_backend.") and not name.startswith("poa_backend.core")
    ]


@pytest.mark.parametrize("package", sorted(RULES))
def test_plug_ins_and_the_core_use_only_the_core_of_the_project(package):
    """The project package wires the apps together: nothing of it is for them to import.
    (Migrations name models by app label, ``poa_backend.metrictype``: not modules.)"""
    breaches = [
        f"{path.relative_to(ROOT)}:{line} names {name!r}"
        for path in modules(package)
        if "migrations" not in path.parts
        for line, name in project_modules_named(ast.parse(path.read_text(), filename=str(path)))
    ]
    assert breaches == []


def test_the_check_sees_imports_and_dotted_strings():
    source = 'import handlers.rest\nfrom receivers import models\nX = "receivers.dashboard.Receiver"\n'
    assert [name for _, name in named_packages(ast.parse(source))] == ["handlers", "receivers", "receivers"]
    assert named_packages(ast.parse('"""Tell every receivers app."""\nY = "a receivers word"\n')) == []
