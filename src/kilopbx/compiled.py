"""Which build of KiloPBX's hot modules runs: the mypyc-compiled one, or the sources.

`scripts/compile.py` (run by `make run` and `make test`) compiles the SIP stack, the call
engine, the registrar and the event rendering to C extensions next to their `.py`
files, and writes ``compiled.json``: the hash of every source it compiled. Python
prefers an extension to a source of the same name, so an edited source would be hidden
by its old build. `guard` (called when the package is imported) prevents that: if any
compiled source changed since, or ``KILOPBX_PURE_PYTHON=1`` is set (profiling with
cProfile, which cannot see into compiled functions), every compiled module is loaded
from its source instead. All of them, not only the edited one: the compiled modules call
each other directly, so one group must be loaded whole or not at all.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).resolve().parent
SRC = PACKAGE.parent
MANIFEST = PACKAGE / "compiled.json"
PURE_VARIABLE = "KILOPBX_PURE_PYTHON"


class SourcesFirst(importlib.abc.MetaPathFinder):
    """Loads the named modules from their `.py` files, whatever else lies beside them."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        base = SRC.joinpath(*fullname.split("."))
        if base.is_dir():
            return importlib.util.spec_from_file_location(
                fullname, base / "__init__.py", submodule_search_locations=[str(base)]
            )
        return importlib.util.spec_from_file_location(fullname, base.with_suffix(".py"))


def _module_name(relative: str) -> str:
    name = relative.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def recorded_sources() -> dict[str, str] | None:
    """The manifest's source → hash map, or None when there is no usable manifest."""
    try:
        sources = json.loads(MANIFEST.read_text())["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return sources if isinstance(sources, dict) else None


def source_hash(path: Path) -> str:
    """What the manifest records of a source (`scripts/compile.py` writes it)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stale_sources(sources: dict[str, str]) -> list[str]:
    """The compiled sources whose text changed since they were compiled."""
    stale = []
    for relative, digest in sources.items():
        try:
            current = source_hash(SRC / relative)
        except OSError:
            current = ""
        if current != digest:
            stale.append(relative)
    return stale


def stray_extensions() -> list[str]:
    """Extensions under the package that no manifest vouches for (an interrupted build)."""
    return [str(path.relative_to(SRC)).split(".", 1)[0] + ".py" for path in PACKAGE.rglob("*.so")]


def guard() -> str:
    """Route imports to the sources when the build cannot be trusted; says which runs."""
    sources = recorded_sources()
    if sources is None:
        strays = stray_extensions()
        if not strays:
            return "pure"
        names, reason = strays, "compiled modules without a manifest"
    elif os.environ.get(PURE_VARIABLE, "") not in ("", "0"):
        names, reason = list(sources), ""
    else:
        stale = stale_sources(sources)
        if not stale:
            return "compiled"
        names, reason = list(sources), f"{stale[0]} changed since it was compiled"
    sys.meta_path.insert(0, SourcesFirst({_module_name(name) for name in names}))
    if reason:
        print(
            f"kilopbx: {reason}; running every compiled module from its source "
            "(slower; `make compile` rebuilds)",
            file=sys.stderr,
        )
    return "pure"


BUILD = guard()
