"""`make bench`: run every benchmark script in this folder and print its figures."""

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


def main() -> int:
    scripts = sorted(p for p in HERE.glob("bench_*.py"))
    failed = 0
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        started = time.monotonic()
        limit = LONG_TIMEOUT if script.name.startswith("bench_steady_") else TIMEOUT
        try:
            result = subprocess.run([sys.executable, str(script)], timeout=limit, check=False)
        except subprocess.TimeoutExpired:
            print(f"{script.name}: timed out after {limit} s")
            failed += 1
            continue
        if result.returncode != 0:
            failed += 1
        print(f"({script.name} took {time.monotonic() - started:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
