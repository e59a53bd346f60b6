"""A development aid: the garbage collector's pauses and the heap of a running
``kilopbx serve``, written every 10 s to the file named by ``KILOPBX_GC_WATCH``.

Python imports ``sitecustomize`` at start-up from any directory on ``PYTHONPATH``, so
a benchmark's PBX is watched without a change to KiloPBX itself:

    KILOPBX_GC_WATCH=/tmp/gc.txt PYTHONPATH=bench/gc_watch \\
        BENCH_STEADY_SERVERS=kilopbx BENCH_STEADY_CALL_RATES=200 \\
        .venv/bin/python bench/bench_steady_calls.py

Each line: seconds since start, resident memory, CPU time, the objects the collector
tracks (the frozen start-up heap excluded), the live ``CallRuntime`` objects, and per
generation the collections so far, their total time and the longest one.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

TARGET = os.environ.get("KILOPBX_GC_WATCH", "")
INTERVAL = 10.0


def _resident_mb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1048576


def _watch(path: str) -> None:
    pauses: dict[int, list[float]] = {}  # generation -> [count, total s, longest s]
    started = [0.0]

    def on_collect(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = time.perf_counter() - started[0]
        entry = pauses.setdefault(info["generation"], [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += took
        entry[2] = max(entry[2], took)

    gc.callbacks.append(on_collect)

    def report() -> None:
        begin = time.monotonic()
        with open(path, "w") as out:
            while True:
                time.sleep(INTERVAL)
                kinds = Counter(type(o).__qualname__ for o in gc.get_objects())
                generations = " ".join(
                    f"g{g}: n={int(n)} total={total * 1000:.0f}ms max={most * 1000:.0f}ms"
                    for g, (n, total, most) in sorted(pauses.items())
                )
                out.write(
                    f"t={time.monotonic() - begin:.0f}s rss={_resident_mb()}MB "
                    f"cpu={time.process_time():.1f}s objects={kinds.total()} "
                    f"runtimes={kinds['CallRuntime']} {generations}\n"
                )
                out.flush()

    threading.Thread(target=report, name="gc-watch", daemon=True).start()


if TARGET and any("kilopbx.cli" in arg for arg in sys.orig_argv):
    _watch(TARGET)
