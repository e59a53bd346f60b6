"""`make bench`: run every benchmark script in this folder and print its figures.

Some scripts run again as named runs with their knobs set (RUNS), after their default
run. Names given on the command line pick what runs: a script's name (with or without
``.py``: its default run) or a named run's, e.g. ``bench/run_all.py peak``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT = 900
# The steady-state runs step through several rates of 100 s each (warm-up + window).
LONG_TIMEOUT = int(os.environ.get("BENCH_STEADY_TIMEOUT", "5400"))

# Named runs: script -> (name, knobs) run after the script's default run.
RUNS: dict[str, list[tuple[str, dict[str, str]]]] = {
    # Issue 12's REGISTER peak: 3000 digest REGISTER/s from 1000 extensions, held past
    # Timer J (40 s warm-up) and measured for 60 s, while 200 anchored calls carry audio
    # and an API client lists the extensions ten times a second. The script prints a
    # PASS/FAIL line against the targets (loss, added jitter, extension/list p99).
    "bench_anchored_calls.py": [
        (
            "peak",
            {
                "BENCH_ANCHORED_CALLS": "200",
                "BENCH_ANCHORED_REGISTER_RATE": "3000",
                "BENCH_ANCHORED_API_RATE": "10",
                "BENCH_ANCHORED_WARMUP": "40",
                "BENCH_ANCHORED_SECONDS": "60",
            },
        )
    ],
    # Issue 12's targets held for five minutes rather than one, Kamailio in the same run:
    # a power cut's re-registration storm or a busy hour lasts minutes, and what a
    # one-minute window hides (memory that keeps growing, CPU that creeps, a binding
    # that lapses) shows only over a longer one.
    "bench_steady_register.py": [
        (
            "register-sustained",
            {"BENCH_STEADY_REGISTER_RATES": "3000", "BENCH_STEADY_SECONDS": "300"},
        )
    ],
    "bench_steady_calls.py": [
        (
            "calls-sustained",
            {"BENCH_STEADY_CALL_RATES": "300", "BENCH_STEADY_SECONDS": "300"},
        )
    ],
}


def planned(wanted: set[str]) -> list[tuple[str, Path, dict[str, str]]]:
    """(title, script, knobs) of every run, in order; only the wanted ones if any."""
    runs = []
    for script in sorted(HERE.glob("bench_*.py")):
        names = {script.name, script.stem}
        runs.append((script.name, script, {}, names))
        for name, knobs in RUNS.get(script.name, []):
            setting = " ".join(f"{k}={v}" for k, v in knobs.items())
            runs.append((f"{script.name} [{name}: {setting}]", script, knobs, {name}))
    return [(title, s, k) for title, s, k, names in runs if not wanted or names & wanted]


def main(argv: list[str]) -> int:
    runs = planned(set(argv))
    if not runs:
        print(f"nothing matches {argv}")
        return 2
    failed = 0
    for title, script, knobs in runs:
        print(f"\n=== {title} ===", flush=True)
        started = time.monotonic()
        limit = LONG_TIMEOUT if script.name.startswith("bench_steady_") else TIMEOUT
        try:
            result = subprocess.run(
                [sys.executable, str(script)], env={**os.environ, **knobs}, timeout=limit,
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            print(f"{title}: timed out after {limit} s")
            failed += 1
            continue
        if result.returncode != 0:
            failed += 1
        print(f"({title} took {time.monotonic() - started:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
