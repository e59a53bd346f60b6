"""A development aid: which objects of a running ``kilopbx serve`` end up as cyclic
garbage (freed only by the cyclic collector, not by reference counting), and which
stay alive. ``bench/cycle_garbage.py`` drives it; see that module's docstring.

Python imports ``sitecustomize`` at start-up from any directory on ``PYTHONPATH``. When
``KILOPBX_CYCLE_GARBAGE`` names a directory and the process is ``kilopbx.cli``, a thread
waits there for two files:

- ``start``: unfreeze the start-up heap (so that nothing is hidden from the collector),
  collect once (what was garbage before does not count), count the live objects by
  kind, then keep whatever the collector finds from now on (``gc.DEBUG_SAVEALL``), and
  write ``started``.
- ``stop`` (its text: the number of calls made in between): collect, and write
  ``report.txt``, every figure per call: the garbage by kind; the objects that are
  in the cycles themselves (the strongly connected components of the garbage: the
  rest is garbage only because a cycle holds it); the references inside those cycles
  as (kind, attribute, kind), of which one per cycle must go; and the growth of the
  live objects by kind (what the calls left alive, caches included).

``KILOPBX_CYCLE_GARBAGE_LINES`` sets the lines per section (60).

A kind is the type's qualified name; for functions, methods, frames and coroutines, the
code's qualified name as well, so that a closure names the function that made it.
Attribute names come from instance dictionaries, ``__slots__`` and mypyc's
``__mypyc_attrs__``; a reference whose name is not found reads ``?``,
one from a container ``[]``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
import time
import traceback
import types
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

FOLDER = os.environ.get("KILOPBX_CYCLE_GARBAGE", "")
POLL = 0.2
SHOWN = int(os.environ.get("KILOPBX_CYCLE_GARBAGE_LINES", "60"))  # lines per section


def kind(obj: object) -> str:
    """The type's qualified name, and for code-carrying objects the code's."""
    if isinstance(obj, types.FunctionType):
        return f"function {obj.__qualname__}"
    if isinstance(obj, types.MethodType):
        return f"method {getattr(obj.__func__, '__qualname__', '?')}"
    if isinstance(obj, types.FrameType):
        return f"frame {obj.f_code.co_qualname}"
    if isinstance(obj, types.CoroutineType | types.GeneratorType):
        return f"{type(obj).__name__} {obj.__qualname__}"
    cls = type(obj)
    module = getattr(cls, "__module__", None)
    module = module.removeprefix("kilopbx.") if isinstance(module, str) else "builtins"
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _attributes(obj: object) -> Iterator[tuple[str, object]]:
    """(name, value) of an object's attributes that can hold references."""
    if isinstance(obj, types.FrameType):
        yield from ((f"local {n}", v) for n, v in obj.f_locals.items())
        return
    if isinstance(obj, types.CellType):
        with contextlib.suppress(ValueError):  # an empty cell
            yield "cell_contents", obj.cell_contents
        return
    if isinstance(obj, types.FunctionType):
        for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or (), strict=False):
            yield f"closure {name}", cell
        return
    if isinstance(obj, types.MethodType):
        yield "__self__", obj.__self__
        return
    if isinstance(obj, BaseException):
        yield from (
            ("__traceback__", obj.__traceback__),
            ("__context__", obj.__context__),
            ("__cause__", obj.__cause__),
        )
    if isinstance(obj, types.TracebackType):
        yield from (("tb_frame", obj.tb_frame), ("tb_next", obj.tb_next))
        return
    names: list[str] = []
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else list(slots)
        names += list(cls.__dict__.get("__mypyc_attrs__", ()))
    for name in dict.fromkeys(names):
        if name != "__dict__":
            with contextlib.suppress(AttributeError):  # a slot not set
                yield name, object.__getattribute__(obj, name)
    own = getattr(obj, "__dict__", None)
    if isinstance(own, dict) and not isinstance(obj, type):
        yield from list(own.items())


def _components(garbage: list[object]) -> list[int]:
    """The strongly connected component of each garbage object (Tarjan's algorithm,
    without recursion): objects of one component with more than one member, or that
    refer to themselves, are the cycles; the rest is garbage only because a cycle
    holds it."""
    index = {id(o): i for i, o in enumerate(garbage)}
    edges = [[index[id(v)] for v in gc.get_referents(o) if id(v) in index] for o in garbage]
    order = [-1] * len(garbage)
    low = [0] * len(garbage)
    component = [-1] * len(garbage)
    stack: list[int] = []
    counter = 0
    for root in range(len(garbage)):
        if order[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                order[node] = low[node] = counter
                counter += 1
                stack.append(node)
            if child < len(edges[node]):
                work.append((node, child + 1))
                target = edges[node][child]
                if order[target] < 0:
                    work.append((target, 0))
                elif component[target] < 0:
                    low[node] = min(low[node], order[target])
                continue
            if low[node] == order[node]:
                while True:
                    member = stack.pop()
                    component[member] = node
                    if member == node:
                        break
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return component


def _cycles(garbage: list[object]) -> tuple[Counter[str], Counter[tuple[str, str, str]]]:
    """The objects in reference cycles by kind, and the references that close them:
    (kind, attribute, kind) for each reference between two objects of one cycle."""
    component = _components(garbage)
    index = {id(o): i for i, o in enumerate(garbage)}
    sizes = Counter(component)
    # instance dictionaries are reported as their owner's attributes
    owned = {
        id(o.__dict__)
        for o in garbage
        if not isinstance(o, type) and isinstance(getattr(o, "__dict__", None), dict)
    }
    members: Counter[str] = Counter()
    edges: Counter[tuple[str, str, str]] = Counter()
    for i, obj in enumerate(garbage):
        if id(obj) in owned:
            continue

        def inside(value: object, i: int = i) -> bool:
            j = index.get(id(value))
            return j is not None and component[j] == component[i] and id(value) not in owned

        named: set[int] = set()
        if not isinstance(obj, list | tuple | set | frozenset | dict):
            for name, value in _attributes(obj):
                if inside(value):
                    named.add(id(value))
                    edges[kind(obj), name, kind(value)] += 1
        for value in gc.get_referents(obj):
            if inside(value) and id(value) not in named:
                label = "[]" if isinstance(obj, list | tuple | set | frozenset | dict) else "?"
                edges[kind(obj), label, kind(value)] += 1
                named.add(id(value))
        if sizes[component[i]] > 1 or named:
            members[kind(obj)] += 1
    return members, edges


def _live(skip: set[int]) -> Counter[str]:
    return Counter(kind(o) for o in gc.get_objects() if id(o) not in skip)


def _table(title: str, counts: Counter[str] | Counter[tuple[str, str, str]], calls: int) -> str:
    lines = [f"{title}: {counts.total() / calls:.1f} per call"]
    for key, n in counts.most_common(SHOWN):
        name = " -> ".join(key) if isinstance(key, tuple) else key
        lines.append(f"  {n / calls:8.2f}  {name}")
    return "\n".join(lines)


def _wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(POLL)


def _watch(folder: Path) -> None:
    try:
        _measure(folder)
    except Exception:  # told to the driver, which waits for the report
        (folder / "report.txt").write_text(traceback.format_exc())


def _measure(folder: Path) -> None:
    _wait_for(folder / "start")
    gc.unfreeze()
    gc.collect()
    gc.garbage.clear()
    before = _live(set())
    gc.set_debug(gc.DEBUG_SAVEALL)
    (folder / "started").write_text("")
    _wait_for(folder / "stop")
    calls = max(1, int((folder / "stop").read_text() or "1"))
    gc.collect()
    garbage = list(gc.garbage)
    gc.set_debug(0)
    gc.garbage.clear()
    ids = {id(o) for o in garbage}
    grown = _live(ids | {id(garbage)})
    grown.subtract(before)
    grown = +grown  # the kinds that grew
    members, edges = _cycles(garbage)
    report = [
        f"calls: {calls}",
        _table("cyclic garbage by kind", Counter(kind(o) for o in garbage), calls),
        _table("objects in reference cycles by kind", members, calls),
        _table("references inside cycles", edges, calls),
        _table("live objects grown by kind", grown, calls),
    ]
    (folder / "report.txt").write_text("\n\n".join(report) + "\n")


if FOLDER and any("kilopbx.cli" in arg for arg in sys.orig_argv):
    threading.Thread(target=_watch, args=(Path(FOLDER),), name="gc-garbage", daemon=True).start()
