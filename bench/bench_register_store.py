"""CPU the registrar's write-behind store spends per refreshed binding, in this process.

1000 extensions, one binding each, refreshed in turn at BENCH_STORE_RATE a second (3000:
every binding every third of a second, as in `bench_steady_register.py`) for
BENCH_STORE_SECONDS, each refresh granting 3600 s from now, against a real SQLite file.
The refresh is reported to the store as `kilopbx serve` reports it (`note`, which writes
a refresh only once it runs half the refresh lag ahead of the stored expiry), or, with
BENCH_STORE_EVERY=1, marked for the writer at every refresh as before. What is measured
is the CPU of the whole process (event loop and the writer's thread: `time.process_time`)
over the run, minus the same loop without a store, divided by the refreshes; and the
rows and commits the store wrote.

    .venv/bin/python bench/bench_register_store.py
    BENCH_STORE_EVERY=1 .venv/bin/python bench/bench_register_store.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kilopbx.apps.registrar.core import Binding
from kilopbx.apps.registrar.store import BindingStore
from kilopbx.store.database import create_engine, migrate

USERS = 1000
RATE = int(os.environ.get("BENCH_STORE_RATE", "3000"))
SECONDS = float(os.environ.get("BENCH_STORE_SECONDS", "10"))
EVERY = os.environ.get("BENCH_STORE_EVERY", "") not in ("", "0")
TICK = 0.005  # refreshes are issued in bursts this far apart


def binding(number: str, now: float) -> Binding:
    return Binding(
        number=number,
        uri=f"sip:{number}@127.0.0.1:5070",
        call_id=f"c{now}",
        cseq=1,
        expires_at=now + 3600,
        transport="udp",
        host="127.0.0.1",
        port=5070,
        user_agent="bench",
        updated_at=now,
    )


async def refresh_loop(report: object | None, rows: dict[str, list[Binding]]) -> float:
    """Refresh the bindings at RATE for SECONDS; the process CPU it took."""
    numbers = [str(2000 + i) for i in range(USERS)]
    started_cpu, started = time.process_time(), time.monotonic()
    done = 0
    while (elapsed := time.monotonic() - started) < SECONDS:
        due = int(elapsed * RATE)
        while done < due:
            number = numbers[done % USERS]
            rows[number] = [binding(number, time.time())]
            if report is not None:
                report(number)  # type: ignore[operator]
            done += 1
        await asyncio.sleep(TICK)
    return time.process_time() - started_cpu


async def main() -> None:
    rows: dict[str, list[Binding]] = {}
    idle_cpu = await refresh_loop(None, rows)  # the loop alone, no store
    with tempfile.TemporaryDirectory() as work:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(work) / 'bench.db'}")
        await migrate(engine)
        store = BindingStore(engine, lambda n: list(rows.get(n, ())))
        await store.start()
        for number in rows:  # every binding stored once, as after the first registrations
            store.mark(number)
        await store.flush()
        commits_before = store.commits
        cpu = await refresh_loop(store.mark if EVERY else store.note, rows)
        commits = store.commits - commits_before
        await store.stop()
        await engine.dispose()
    refreshes = int(SECONDS * RATE)
    per_refresh = (cpu - idle_cpu) / refreshes * 1e6
    mode = "marked at every refresh" if EVERY else "note (written past half the lag)"
    print(
        f"{refreshes} refreshes of {USERS} bindings at {RATE}/s, {mode}: "
        f"{per_refresh:.1f} us of process CPU per refresh for the store "
        f"({cpu:.2f} s with the store, {idle_cpu:.2f} s without), "
        f"{commits} commits ({commits / SECONDS:.1f}/s); load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
