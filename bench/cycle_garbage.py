"""A development aid: the cyclic garbage a call leaves in ``kilopbx serve``, by kind.

A call's objects should be freed by reference counting as it ends; those caught in a
reference cycle wait for the cyclic collector, whose collections then cost CPU in
proportion to them (see ``kilopbx.heap``). This runs the call of
``bench_steady_calls.py`` (2001 calls 2002 through the PBX: digest, media endpoints and
a bridge, ringback, CDR, events; 0 seconds long) a few hundred times at a low rate with
the hook in ``bench/gc_garbage/`` loaded into the PBX, waits for the calls' last
transactions to end (64*T1), and prints per call: the garbage by kind, the objects in
the cycles themselves and the references between them (one per cycle must go: the
attribute to clear, the callback to drop, the link to make weak), and the live objects
that grew (what the calls left behind). A call freed by reference counting alone
leaves 0.0 objects of garbage.

    .venv/bin/python bench/cycle_garbage.py
    CYCLE_GARBAGE_CALLS=100 CYCLE_GARBAGE_RATE=20 .venv/bin/python bench/cycle_garbage.py

Run it without ``scripts/compile.py``'s extensions (``--clean``) for the attribute names
of the engine's objects; the counts are the same either way. Registration, the API's
polls for live calls and the start of each sipp add a little to the figures: they are
made once per run, not per call. ``BENCH_KEEP=1`` keeps the working directory (the
PBX's log, sipp's statistics, the report) and names it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.calls.peers import add_extensions

import bench.bench_steady_calls as steady
from bench.steady_servers import KiloPbx

HERE = Path(__file__).resolve().parent
CALLS = int(os.environ.get("CYCLE_GARBAGE_CALLS", "300"))
RATE = int(os.environ.get("CYCLE_GARBAGE_RATE", "30"))
# the calls' last server transactions (the BYE's) wait out Timer J: 64*T1 = 32 s
LINGER = 36.0
TIMEOUT = 120.0


def _await(path: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the PBX's gc_garbage hook did not write {path}")
        time.sleep(0.2)


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="kilopbx-cycle-garbage-"))
    folder = base / "gc"
    folder.mkdir()
    hook = str(HERE / "gc_garbage")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (hook, os.environ.get("PYTHONPATH", "")) if p
    )
    os.environ["KILOPBX_CYCLE_GARBAGE"] = str(folder)
    steady.WARMUP, steady.WINDOW = 1.0, CALLS / RATE - 1.0
    pbx = KiloPbx(base)
    try:
        add_extensions(pbx.pbx, pbx.token, ("2001", "2002"))
        (folder / "start").write_text("")
        _await(folder / "started")
        work = base / "calls"
        work.mkdir()
        step = steady.kilopbx_step(pbx, RATE, work)
        if not step.passed:
            print(f"calls failed ({'; '.join(step.why)}): the figures include them")
        time.sleep(LINGER)
        (folder / "stop").write_text(str(step.successful + step.failed))
        _await(folder / "report.txt")
        print((folder / "report.txt").read_text(), end="")
    finally:
        pbx.stop()
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
