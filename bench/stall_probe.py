"""How promptly this machine wakes a process at the media workers' priority.

python bench/stall_probe.py SECONDS

Sleeps to a 20 ms clock (as a worker's media tick does) at niceness -5 (the workers'
boost, when permitted) and counts the wake-ups that came over 60 and over 100 ms
late. It does no work of its own, so its stalls are the machine's (other processes,
the hypervisor): read next to a benchmark's gaps, they say how many of those a
quiet machine would not have. Prints one JSON result.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

TICK = 0.020


def probe(seconds: float) -> dict[str, float]:
    with contextlib.suppress(PermissionError):
        os.nice(-5)
    late: list[float] = []
    due = time.monotonic()
    end = due + seconds
    while due < end:
        due += TICK
        time.sleep(max(0.0, due - time.monotonic()))
        lateness = time.monotonic() - due
        late.append(lateness)
        if lateness > TICK:
            due = time.monotonic()  # a stall is counted once, not as many late ticks
    return {
        "ticks": len(late),
        "over_60ms": sum(1 for v in late if v > 0.060),
        "over_100ms": sum(1 for v in late if v > 0.100),
        "max_ms": max(late, default=0.0) * 1000,
    }


if __name__ == "__main__":
    print(json.dumps(probe(float(sys.argv[1]))), flush=True)
