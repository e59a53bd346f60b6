"""Compile KiloPBX's hot modules to C extensions with mypyc, in place, next to their sources.

The SIP stack, the call engine, the registrar and the event rendering run for every
message; compiled by mypyc (the strict type hints they already carry are what it needs)
they cost about a third less CPU. The `.py` files stay the source of truth: the built
extensions and a manifest of the sources' hashes (``kilopbx/compiled.json``) are
ignored by git, and `kilopbx.compiled` loads the pure-Python modules instead whenever a
source no longer matches the manifest, so an edit is never hidden by a stale build.

    .venv/bin/python scripts/compile.py           # build what changed (all of the group)
    .venv/bin/python scripts/compile.py --clean   # remove the extensions and the manifest

Without a C compiler or Python's headers it prints why and exits 0: KiloPBX then runs
as pure Python, only slower.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import shutil
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
MANIFEST = SRC / "kilopbx" / "compiled.json"
BUILD = ROOT / "build" / "mypyc"

sys.path.insert(0, str(SRC))
from kilopbx.compiled import source_hash  # noqa: E402 - the guard's own hash of a source

# Globs under src/. Modules whose classes carry pydantic or SQLAlchemy machinery
# (models, wire schemas, endpoints) stay interpreted: mypyc gains nothing there.
HOT = [
    "kilopbx/sip/*.py",
    "kilopbx/engine/*.py",
    "kilopbx/events/*.py",
    "kilopbx/apps/registrar/core.py",
    "kilopbx/apps/registrar/durable_ack.py",
    "kilopbx/apps/registrar/security.py",
    "kilopbx/apps/registrar/service.py",
    "kilopbx/apps/registrar/store.py",
    "kilopbx/apps/registrar/stored_rows.py",
    "kilopbx/apps/registrar/registered_hosts.py",
    "kilopbx/apps/registrar/tcp_trust.py",
    "kilopbx/media/pool.py",
    "kilopbx/clock.py",
    "kilopbx/tasks.py",
]
# Modules a glob above takes that stay interpreted: the socket glue, which tests and
# benchmarks replace with stand-ins (a compiled class cannot be subclassed by them); the
# event dataclasses, whose `ClassVar` names a compiled dataclass would take for fields;
# the start-up-only feature classes; modules with a dataclass whose field's type is
# imported for type checking only (a compiled dataclass needs that type when its module
# starts, which may be before the type's own module finished: a crash at import).
EXCLUDED = {
    "kilopbx/engine/call_park.py",
    "kilopbx/engine/trunk_branch.py",
    "kilopbx/engine/trunk_calls.py",
    "kilopbx/sip/reliable_provisional.py",
    "kilopbx/sip/transport_udp.py",
    "kilopbx/sip/transport_tcp.py",
    "kilopbx/events/types.py",
    "kilopbx/events/call_events.py",
    "kilopbx/engine/calls_feature.py",
    "kilopbx/engine/sip_feature.py",
    "kilopbx/engine/sip_port.py",
}


def hot_sources() -> list[str]:
    """The module paths (relative to src/, sorted) that are compiled."""
    found: set[str] = set()
    for pattern in HOT:
        for path in glob.glob(pattern, root_dir=SRC):
            if path not in EXCLUDED and not has_coroutines(SRC / path):
                found.add(path)
    return sorted(found)


def has_coroutines(path: Path) -> bool:
    """Whether a module defines or awaits coroutines. Those stay interpreted: mypyc's
    coroutines lose track of the exception being handled across an ``await`` in an
    ``except`` or ``finally`` block (seen here: one task's caught `DeliveryError`
    re-raised in another task, and a freed object touched when a start failed)."""
    tree = ast.parse(path.read_bytes())
    coroutine = (ast.AsyncFunctionDef, ast.Await, ast.AsyncWith, ast.AsyncFor)
    return any(isinstance(node, coroutine) for node in ast.walk(tree))


def built_files() -> list[Path]:
    """Every extension mypyc left under src/ (the modules' and the group's shared one)."""
    return [Path(p) for p in glob.glob(str(SRC / "**" / "*.so"), recursive=True)]


def clean() -> None:
    for path in built_files():
        path.unlink()
    MANIFEST.unlink(missing_ok=True)
    shutil.rmtree(BUILD, ignore_errors=True)


def manifest_is_current(sources: list[str]) -> bool:
    try:
        recorded = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return False
    wanted = {path: source_hash(SRC / path) for path in sources}
    return bool(recorded.get("sources") == wanted and recorded.get("python") == _python_tag())


def _python_tag() -> str:
    return str(sysconfig.get_config_var("EXT_SUFFIX"))


def can_build() -> str | None:
    """Why this machine cannot build extensions, or None if it can."""
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not include.exists():
        return f"Python's headers are missing ({include}; Debian: python3-dev)"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler}; Debian: build-essential)"
    try:
        import mypyc.build  # noqa: F401
    except ImportError:
        return "mypyc is not installed (it comes with mypy, in the test extras)"
    return None


def build(sources: list[str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from mypyc.build import mypycify
    from setuptools import Extension, setup
    from setuptools.command.build_ext import build_ext

    jobs = os.cpu_count() or 1

    class ParallelBuildExt(build_ext):  # type: ignore[misc]
        """Compiles the C files of one extension side by side (setuptools' -j only runs
        whole extensions in parallel, and the group's shared one is most of the work)."""

        def build_extension(self, ext: Extension) -> None:
            compiler = self.compiler
            serial = compiler.compile

            def compile_parallel(files: list[str], *args: object, **kwargs: object) -> list[str]:
                with ThreadPoolExecutor(jobs) as pool:
                    parts = pool.map(lambda one: serial([one], *args, **kwargs), files)
                return [obj for part in parts for obj in part]

            compiler.compile = compile_parallel
            try:
                super().build_extension(ext)
            finally:
                compiler.compile = serial

    os.chdir(SRC)
    extensions = mypycify(
        [*sources, "--config-file", str(ROOT / "pyproject.toml")],
        opt_level="3",
        debug_level="0",
        multi_file=True,
        target_dir=str(BUILD / "c"),
    )
    setup(
        name="kilopbx-compiled",
        ext_modules=extensions,
        cmdclass={"build_ext": ParallelBuildExt},
        script_args=[
            "-q",
            "build_ext",
            "--inplace",
            "-j",
            str(jobs),
            "--build-temp",
            str(BUILD / "temp"),
            "--build-lib",
            str(BUILD / "lib"),
        ],
    )


def main(argv: list[str]) -> int:
    if "--clean" in argv:
        clean()
        return 0
    sources = hot_sources()
    if manifest_is_current(sources) and built_files():
        return 0
    reason = can_build()
    if reason is not None:
        print(f"compile: {reason}; KiloPBX runs as pure Python (slower)", file=sys.stderr)
        clean()
        return 0
    clean()
    print(f"compile: building {len(sources)} modules with mypyc (a few minutes)", file=sys.stderr)
    build(sources)
    manifest = {
        "python": _python_tag(),
        "sources": {path: source_hash(SRC / path) for path in sources},
    }
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
