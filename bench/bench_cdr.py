"""CDR and call-event benchmark.

Prints: calls/s through the CDR service with the writes a real call makes (open,
answered, record), one call after the other (a latency figure: each write waits for
its commit, at most one every 10 ms); the CPU per call when calls overlap at
100 calls/s (the writes of many calls then share commits); the µs to render one
`CallStatus` in all three formats (2.0.0, plain and well-formed legacy) including the
legacy translation; and the CDR file export (rows/s, memory growth, longest hold of
the event loop) over `BENCH_CDR_ROWS` stored records. Single process on a temporary
SQLite file (WAL, synchronous=NORMAL, as the service runs); run with the project's venv.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from kilopbx.apps.cdr.export import spool_csv_file
from kilopbx.apps.cdr.service import CdrService
from kilopbx.clock import SystemClock
from kilopbx.events.bus import EventBus
from kilopbx.events.call_events import CallStatus
from kilopbx.events.call_model import (
    CallDisposition,
    CallMember,
    CallType,
    MemberStatus,
    OpenCallRecord,
)
from kilopbx.events.render import EventRenderer
from kilopbx.events.versions import EventFormat
from kilopbx.store.database import create_engine, migrate, session_factory

CALLS = int(os.environ.get("BENCH_CDR_CALLS", "300"))
SNAPSHOTS = int(os.environ.get("BENCH_CDR_SNAPSHOTS", "20000"))
ROWS = int(os.environ.get("BENCH_CDR_ROWS", "200000"))
FIXED_COLUMNS = ("2101", "0612345678", "ANSWERED", "Outbound", "", "carrier-a", "", "", "")


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


async def bench_record(service: CdrService) -> None:
    started = time.perf_counter()
    for n in range(CALLS):
        now = time.time()
        call = OpenCallRecord(
            call_id=f"1.{n}",
            started_at=now,
            caller="2101",
            callee="2102",
            call_type=CallType.INTERNAL,
        )
        await service.record_open_call(call)
        answered = replace(call, answered_at=now)
        await service.record_open_call(answered)
        await service.record(answered.closed(time.time(), CallDisposition.ANSWERED))
    took = time.perf_counter() - started
    print(f"CDR service: {CALLS / took:.0f} calls/s, {took / CALLS * 1000:.1f} ms per call")


async def _one_call(service: CdrService, n: int) -> None:
    now = time.time()
    call = OpenCallRecord(
        call_id=f"4.{n}", started_at=now, caller="2101", callee="2102",
        call_type=CallType.INTERNAL,
    )  # fmt: skip
    await service.record_open_call(call)
    await asyncio.sleep(0.001)
    answered = replace(call, answered_at=now)
    await service.record_open_call(answered)
    await asyncio.sleep(0.001)
    await service.record(answered.closed(time.time(), CallDisposition.ANSWERED))


async def bench_record_cpu(service: CdrService) -> None:
    """CPU per call at 100 calls/s (ten calls every 10 ms, each writing three times):
    the whole process (the writer's thread included) and the event loop's thread,
    the quickest of five rounds of 300 calls."""
    rounds: list[tuple[float, float]] = []
    for r in range(5):
        process, thread = time.process_time(), time.thread_time()
        calls = []
        for k in range(30):
            calls += [
                asyncio.ensure_future(_one_call(service, r * 1000 + k * 10 + j)) for j in range(10)
            ]
            await asyncio.sleep(0.01)
        await asyncio.gather(*calls)
        rounds.append((time.process_time() - process, time.thread_time() - thread))
    best = min(rounds)
    print(
        f"CDR service at 100 calls/s: {best[0] / 300 * 1e6:.0f} µs of process CPU per call"
        f" ({best[1] / 300 * 1e6:.0f} µs on the event loop's thread), quickest of 5 rounds"
    )


def bench_render() -> None:
    renderer = EventRenderer("SN")
    steps = [
        (MemberStatus.ALERT, MemberStatus.RING),
        (MemberStatus.ANSWERED, MemberStatus.ANSWER),
        (MemberStatus.ANSWERED, MemberStatus.BYE),
    ]
    started = time.perf_counter()
    for n in range(SNAPSHOTS // len(steps)):
        for caller, callee in steps:
            members = (
                CallMember.extension("2101", f"PJSIP/2101-{n:08x}", caller),
                CallMember.extension("2102", f"PJSIP/2102-{n:08x}", callee),
            )
            prepared = renderer.prepare(CallStatus(f"2.{n}", members))
            for fmt in EventFormat:
                prepared.texts(fmt)
    took = time.perf_counter() - started
    per = took / (SNAPSHOTS // len(steps) * len(steps)) * 1e6
    print(f"CallStatus in 3 formats: {per:.0f} µs per snapshot")


async def bench_export(path: Path, service: CdrService, directory: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO cdr (call_id, started_at, answered_at, ended_at, caller, callee,"
            " disposition, call_type, source_trunk, destination_trunk, pin_code, recording,"
            " did_number) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            ((f"3.{n}", 1e9 + n, 1e9 + n + 9, 1e9 + n + 90, *FIXED_COLUMNS) for n in range(ROWS)),
        )
    holds: list[float] = []
    peak = [rss_kib()]
    baseline = peak[0]

    async def watch() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            holds.append(time.perf_counter() - before - 0.005)
            peak[0] = max(peak[0], rss_kib())

    watcher = asyncio.get_running_loop().create_task(watch())
    started = time.perf_counter()
    spool = await spool_csv_file(service, None, 0.0, 2e9, "SN", directory)
    took = time.perf_counter() - started
    watcher.cancel()
    size = spool.seek(0, os.SEEK_END)
    spool.close()
    print(
        f"CDR file: {ROWS} rows in {took:.1f} s ({ROWS / took:.0f} rows/s), {size / 1e6:.1f} MB,"
        f" memory +{(peak[0] - baseline) / 1024:.0f} MB,"
        f" longest event-loop hold {max(holds) * 1000:.0f} ms"
    )


async def main() -> None:
    directory = Path(tempfile.mkdtemp(prefix="bench-cdr-"))
    path = directory / "cdr.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate(engine)
        service = CdrService(session_factory(engine), EventBus(), SystemClock())
        await bench_record(service)
        await bench_record_cpu(service)
        bench_render()
        await bench_export(path, service, directory)
    finally:
        await engine.dispose()
        for file in directory.iterdir():
            file.unlink()
        directory.rmdir()


if __name__ == "__main__":
    asyncio.run(main())
