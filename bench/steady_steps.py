"""The rate ladder shared by the steady-state benchmarks: at each rate every server
still in the race runs one step (Kamailio first, so KiloPBX's row can give the ratio);
a server that fails a step gets BENCH_STEADY_ATTEMPTS tries in all (default 2: on a
shared machine a neighbour's burst can fail a step), and leaves the ladder when none
passes."""

from __future__ import annotations

import os
from collections.abc import Callable

from bench.steady_report import print_rows
from bench.steady_sipp import Step

ATTEMPTS = max(1, int(os.environ.get("BENCH_STEADY_ATTEMPTS", "2")))


def climb(rates: list[int], servers: set[str], step: Callable[[str, int, int], Step]) -> list[Step]:
    """``step(server, rate, attempt)`` runs one step; returns every step run."""
    steps: list[Step] = []
    running = set(servers)
    for rate in rates:
        for name in sorted(running):
            for attempt in range(1, ATTEMPTS + 1):
                result = step(name, rate, attempt)
                steps.append(result)
                print_rows([result], steps, "")
                if result.passed:
                    break
            else:
                running.discard(name)
        if not running:
            break
    return steps
