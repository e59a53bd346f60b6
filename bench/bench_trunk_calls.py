"""Calls through trunks (issue 9): what route matching costs per call, and outbound
calls per second through a route and a trunk.

1. Route matching, in this process: a SQLite store with 1000 inbound and 500
   outbound routes (every one a real pattern on one of two trunks), and the
   `CallRouter` the call engine asks. Prints the first (loading) call, then the mean
   and p99 of 20,000 inbound and 20,000 outbound questions whose answer is the last
   route (the whole list is walked), with the rules cached.
2. Outbound calls: `kilopbx serve` with a peer trunk to sipp's built-in UAS, an
   outbound route "9." (strip 1) for every extension, and sipp as extension 2001
   dialling 9<number> with digest (uac_call.xml of the call tests). Each step offers a
   rate for BENCH_TRUNK_SECONDS; calls last BENCH_TRUNK_HOLD_MS. Compare with
   `bench_b2bua.py` (extension to extension).

    .venv/bin/python bench/bench_trunk_calls.py   # BENCH_TRUNK_RATES=10,25,50,100
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.calls.peers import add_extensions, call
from tests.harness import HOST, PbxProcess, free_port

from kilopbx.apps.routes.call_routing import CallRouter
from kilopbx.apps.routes.models import (
    InboundRoute,
    InboundRouteTrunk,
    OutboundRoute,
    OutboundRouteTrunk,
)
from kilopbx.apps.trunks.models import Trunk
from kilopbx.store.database import create_engine, migrate, session_factory, write_transaction

SECONDS = float(os.environ.get("BENCH_TRUNK_SECONDS", "8"))
HOLD_MS = int(os.environ.get("BENCH_TRUNK_HOLD_MS", "1000"))
RATES = [int(r) for r in os.environ.get("BENCH_TRUNK_RATES", "10,25,50,100").split(",")]
QUESTIONS = 20_000
INBOUND, OUTBOUND = 1000, 500


async def route_matching(directory: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{directory / 'routes.db'}")
    await migrate(engine)
    sessions = session_factory(engine)
    async with write_transaction(sessions) as db:
        trunks = [Trunk(name=f"T{i}", kind="peer", host="10.0.0.1", domain="p") for i in (1, 2)]
        db.add_all(trunks)
        await db.flush()
        for i in range(INBOUND):
            route = InboundRoute(
                position=i, name=f"in{i}", did_pattern=f"44{i:04d}XX",
                caller_pattern="0[1-9]XXXXXXXX" if i % 2 else "", dest_type="extension",
                dest="2001",
            )  # fmt: skip
            db.add(route)
            await db.flush()
            db.add(InboundRouteTrunk(route_id=route.id, trunk_id=trunks[i % 2].id, position=0))
        for i in range(OUTBOUND):
            out = OutboundRoute(
                position=i, name=f"out{i}", prefix=f"9{i:03d}X.", strip=1,
                prepend="00", all_extensions=True,
            )  # fmt: skip
            db.add(out)
            await db.flush()
            for position, trunk in enumerate(trunks):
                db.add(OutboundRouteTrunk(route_id=out.id, trunk_id=trunk.id, position=position))
    router = CallRouter(sessions)
    last_in, last_out = INBOUND - 1, OUTBOUND - 1
    did, caller = f"44{last_in:04d}12", "0612345678"
    dialled = f"9{last_out:03d}5551234"
    started = time.perf_counter()
    assert await router.inbound(f"T{last_in % 2 + 1}", did, caller, time.time()) is not None
    first = time.perf_counter() - started
    for name, ask in (
        ("inbound", lambda: router.inbound(f"T{last_in % 2 + 1}", did, caller, time.time())),
        ("outbound", lambda: router.outbound("2001", frozenset(), dialled)),
    ):
        costs = []
        for _ in range(QUESTIONS):
            begin = time.perf_counter()
            answer = await ask()
            costs.append(time.perf_counter() - begin)
            assert answer is not None
        costs.sort()
        print(
            f"{name:>8}: mean {statistics.fmean(costs) * 1e6:7.1f} us, "
            f"p99 {costs[int(len(costs) * 0.99)] * 1e6:7.1f} us "
            f"({QUESTIONS} questions, {INBOUND} inbound / {OUTBOUND} outbound routes)",
            flush=True,
        )
    print(f"first question (loading and compiling every rule): {first * 1000:.0f} ms")
    await engine.dispose()


def _cumulative(output: str, name: str) -> int:
    matches = re.findall(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return int(matches[-1]) if matches else 0


def outbound_calls(work: Path) -> None:
    provider_port = free_port(udp_too=True)
    provider = subprocess.Popen(
        ["sipp", "-sn", "uas", "-aa", "-i", HOST, "-p", str(provider_port), "-t", "u1",
         "-nostdin"],  # not -bg: a daemonised sipp would outlive kill()
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    pbx = PbxProcess(
        work / "pbx",
        {"KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0", "KILOPBX_LOG_LEVEL": "WARNING"},
    ).start()
    try:
        token = pbx.login()
        add_extensions(pbx, token, ("2001",))
        trunk = {"trunkname": "Provider", "trunktype": "peer", "host": HOST,
                 "port": str(provider_port), "domain": "provider.test"}  # fmt: skip
        assert pbx.api("trunk/add_siptrunk", trunk, token=token)["status"] == "Success"
        route = {"name": "Out", "prefix": "9.", "strip": "1", "trunks": "Provider",
                 "extensions": "all"}  # fmt: skip
        assert pbx.api("outroute/add", route, token=token)["status"] == "Success"
        print(f"sipp 2001 -> kilopbx serve -> trunk -> sipp uas, {SECONDS:.0f} s per step, "
              f"{HOLD_MS} ms calls")  # fmt: skip
        print("offered/s  completed/s  successful  failed  run (s)  calls left")
        for rate in RATES:
            calls = int(rate * SECONDS)
            step = work / f"rate-{rate}"
            step.mkdir()
            started = time.monotonic()
            caller = call(
                pbx, "2001", "90612345678", step, talk_ms=HOLD_MS,
                extra=["-m", str(calls), "-r", str(rate), "-l", "2000"],
            )  # fmt: skip
            _code, output = caller.outcome(timeout=SECONDS * 4 + 60)
            elapsed = time.monotonic() - started
            left = pbx.api("call/query", {"type": "outbound"}, token=token)["calls"]
            successful = _cumulative(output, "Successful call")
            print(
                f"{rate:>9}  {successful / elapsed:>11.1f}  {successful:>10}"
                f"  {_cumulative(output, 'Failed call'):>6}  {elapsed:>7.1f}  {len(left):>10}",
                flush=True,
            )
    finally:
        pbx.stop()
        provider.kill()
        provider.wait()


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        asyncio.run(route_matching(work))
        outbound_calls(work)


if __name__ == "__main__":
    main()
