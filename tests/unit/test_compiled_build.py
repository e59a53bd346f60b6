"""The mypyc build: what it compiles follows the rules the compiled code depends on,
and the guard loads the sources whenever the build cannot be trusted."""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import FunctionType, ModuleType

import kilopbx
from kilopbx import compiled

ROOT = Path(__file__).resolve().parents[2]


def compile_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compile_script", ROOT / "scripts/compile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compiled_trees() -> list[tuple[str, ast.Module]]:
    sources = compile_script().hot_sources()
    assert "kilopbx/sip/parser.py" in sources and "kilopbx/apps/registrar/service.py" in sources
    return [(path, ast.parse((ROOT / "src" / path).read_text())) for path in sources]


def own_nodes(function: ast.AST) -> list[ast.AST]:
    """The nodes of a function's body, not of the functions and classes inside it."""
    found, stack = [], list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            found.append(node)
            stack.extend(ast.iter_child_nodes(node))
    return found


def test_no_compiled_module_has_coroutines() -> None:
    coroutine = ast.AsyncFunctionDef | ast.Await | ast.AsyncWith | ast.AsyncFor
    for path, tree in compiled_trees():
        assert not any(isinstance(node, coroutine) for node in ast.walk(tree)), path


def test_except_clauses_of_a_function_name_their_exceptions_apart() -> None:
    """A compiled function's ``except ... as name`` variable takes the first clause's type,
    so a later clause for an unrelated exception raised TypeError instead of answering."""
    for path, tree in compiled_trees():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            seen: dict[str, str] = {}
            for node in own_nodes(function):
                if isinstance(node, ast.ExceptHandler) and node.name and node.type:
                    kind = ast.unparse(node.type)
                    assert seen.setdefault(node.name, kind) == kind, (path, node.lineno)


def test_no_required_keyword_follows_a_defaulted_one() -> None:
    for path, tree in compiled_trees():
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef):
                arguments = function.args
                defaulted = bool(arguments.defaults)
                for default in arguments.kw_defaults:
                    assert not (defaulted and default is None), (path, function.name)
                    defaulted |= default is not None


def test_compiled_dataclass_fields_name_types_known_at_run_time() -> None:
    for path, tree in compiled_trees():
        checking_only: set[str] = set()
        for statement in tree.body:
            if isinstance(statement, ast.If) and "TYPE_CHECKING" in ast.unparse(statement.test):
                for node in ast.walk(statement):
                    if isinstance(node, ast.ImportFrom):
                        checking_only |= {alias.asname or alias.name for alias in node.names}
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                "dataclass" in ast.unparse(decorator) for decorator in node.decorator_list
            ):
                for field in node.body:
                    if isinstance(field, ast.AnnAssign):
                        names = {
                            n.id for n in ast.walk(field.annotation) if isinstance(n, ast.Name)
                        }
                        assert not names & checking_only, (path, node.name, field.lineno)


def test_a_changed_source_is_seen() -> None:
    relative = "kilopbx/sip/parser.py"
    digest = hashlib.sha256((compiled.SRC / relative).read_bytes()).hexdigest()
    assert compiled.stale_sources({relative: digest}) == []
    assert compiled.stale_sources({relative: "0" * 64}) == [relative]
    assert compiled.stale_sources({"kilopbx/sip/gone.py": digest}) == ["kilopbx/sip/gone.py"]


def test_pure_python_is_loaded_when_asked() -> None:
    code = "import kilopbx, kilopbx.sip.parser as p; print(kilopbx.BUILD, p.__file__)"
    env = {**os.environ, compiled.PURE_VARIABLE: "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    build, path = out.stdout.split()
    assert (build, Path(path).suffix) == ("pure", ".py")


def test_the_build_in_use_is_the_one_reported() -> None:
    import kilopbx.sip.parser as parser

    suffix = Path(parser.__file__ or "").suffix
    assert suffix == (".so" if kilopbx.BUILD == "compiled" else ".py")


# Built for every message or transaction step: each writes its __init__ out, because the
# one @dataclass generates is interpreted Python that a compiled class calls through
# tp_init with a tuple of arguments (about a seventh of the REGISTER path's CPU).
HOT_DATACLASSES = [
    ("kilopbx.sip.uri", "SipUri"),
    ("kilopbx.sip.address", "NameAddr"),
    ("kilopbx.sip.via", "Via"),
    ("kilopbx.sip.message", "SipRequest"),
    ("kilopbx.sip.message", "SipResponse"),
    ("kilopbx.sip.digest", "DigestCredentials"),
    ("kilopbx.sip.transaction", "SendMessage"),
    ("kilopbx.sip.transaction", "StartTimer"),
    ("kilopbx.sip.transaction", "CancelTimer"),
    ("kilopbx.apps.registrar.core", "Binding"),
    ("kilopbx.apps.registrar.core", "RegisterRequest"),
    ("kilopbx.apps.registrar.core", "RegisterResult"),
]


def test_hot_dataclasses_are_built_by_compiled_code() -> None:
    for module_name, class_name in HOT_DATACLASSES:
        cls = getattr(importlib.import_module(module_name), class_name)
        source = ROOT / "src" / (module_name.replace(".", "/") + ".py")
        tree = ast.parse(source.read_text())
        written = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and node.name == class_name
            for item in node.body
            if isinstance(item, ast.FunctionDef) and item.name == "__init__"
        ]
        assert written, f"{class_name} leaves its __init__ to @dataclass"
        if kilopbx.BUILD == "compiled":
            assert not isinstance(cls.__init__, FunctionType), class_name
