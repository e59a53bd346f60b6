"""Media worker benchmark: concurrent bridged calls, and the relay's cost per packet.

1. Headline: BENCH_MEDIA_CALLS (500) bridged calls in a MediaPool of
   BENCH_MEDIA_WORKERS (default: one per core) worker processes, RTP both ways at 50
   packets/s per direction from a load generator process (bench/media_load.py), over
   loopback, measured for BENCH_MEDIA_SECONDS (60) after BENCH_MEDIA_WARMUP (10) s.
   Meanwhile, unless BENCH_MEDIA_REGISTER_RATE=0, sipp sends 500 authenticated
   REGISTER/s to a `kilopbx serve` on the same machine. Prints loss, the jitter the
   relay added, worker CPU per call (from /proc/<pid>/stat) and the generator's CPU.
2. Relay cost per packet: BENCH_MEDIA_COST_CALLS (200) calls through one KiloPBX
   worker, then through a minimal uvloop relay that forwards without looking at the
   packets (the floor for any Python relay), each measured for 8 s; and through
   rtpengine or rtpproxy if one is installed (not driven yet: reported as absent).

    .venv/bin/python bench/bench_media.py
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import uvloop

from kilopbx.config import PortRange
from kilopbx.media.pool import MediaPool, worker_count

CALLS = int(os.environ.get("BENCH_MEDIA_CALLS", "500"))
SECONDS = float(os.environ.get("BENCH_MEDIA_SECONDS", "60"))
WARMUP = float(os.environ.get("BENCH_MEDIA_WARMUP", "10"))
WORKERS = worker_count(int(os.environ.get("BENCH_MEDIA_WORKERS", "0")))
REGISTER_RATE = int(os.environ.get("BENCH_MEDIA_REGISTER_RATE", "500"))
COST_CALLS = int(os.environ.get("BENCH_MEDIA_COST_CALLS", "200"))
COST_SECONDS = 8.0
RATE = 50
LOAD = str(Path(__file__).resolve().parent / "media_load.py")
TICK = os.sysconf("SC_CLK_TCK")
ULAW = [(0, "PCMU"), (101, "telephone-event")]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def run_generator(pairs: list[list[int]], warmup: float, seconds: float, pids: list[int]):  # type: ignore[no-untyped-def]
    """Drive the load; sample the relay processes' CPU over the measured window."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, LOAD, "generate", json.dumps(pairs), str(RATE), str(warmup), str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.sleep(warmup)
    before = [cpu_seconds(pid) for pid in pids]
    window_start = time.monotonic()
    await asyncio.sleep(seconds)
    after = [cpu_seconds(pid) for pid in pids]
    window_end = time.monotonic()
    out, _ = await asyncio.wait_for(process.communicate(), seconds + 30)
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    result["relay_cpu"] = [(b - a) / seconds for a, b in zip(before, after, strict=True)]
    # when the CPU was read (time.monotonic()), for other clients measured alongside
    result["window"] = (window_start, window_end)
    return result


async def kilopbx_calls(
    workers: int, calls: int, warmup: float, seconds: float
) -> tuple[dict[str, Any], dict[str, int]]:
    low = 22000  # below the ephemeral ports (32768+) the generator binds
    pool = MediaPool(workers, PortRange(low, low + 4 * calls + 1000), bind="127.0.0.1")
    await pool.start()
    try:
        pairs = []
        for _ in range(calls):
            a = await pool.create_endpoint(ULAW)
            b = await pool.create_endpoint(ULAW, near=a)
            await pool.bridge(a, b)
            pairs.append([a.port, b.port])
        pids = [pid for i in range(pool.size) if (pid := pool.pid(i)) is not None]
        result = await run_generator(pairs, warmup, seconds, pids)
        counters: dict[str, int] = {}
        for index in range(pool.size):
            for stats in (await pool.worker_stats(index))["endpoints"]:
                for key in ("packets_received", "packets_sent", "malformed", "stray", "unroutable"):
                    counters[key] = counters.get(key, 0) + stats[key]
        return result, counters
    finally:
        await pool.close()


async def floor_calls(calls: int, warmup: float, seconds: float) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, LOAD, "floor", str(calls), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        pairs = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
        return await run_generator(pairs, warmup, seconds, [process.pid])
    finally:
        process.kill()
        await process.wait()


def describe(name: str, calls: int, result: dict[str, Any]) -> None:
    sent, received = result["sent"], result["received"]
    loss = 100.0 * (sent - received) / sent if sent else 100.0
    relay = sum(result["relay_cpu"])
    per_packet = relay * result["seconds"] / received * 1e6 if received else float("nan")
    print(
        f"{name}: {calls} calls, {sent / result['seconds']:,.0f} packets/s offered, "
        f"loss {loss:.3f} % ({sent - received} of {sent}), added jitter mean "
        f"{result['jitter_mean_ms']:.2f} ms, p99 stream {result['jitter_p99_ms']:.2f} ms, "
        f"worst stream {result['jitter_max_ms']:.2f} ms, max transit "
        f"{result['transit_max_ms']:.1f} ms; relay CPU {relay * 100:.1f} % of a core "
        f"({', '.join(f'{c * 100:.0f} %' for c in result['relay_cpu'])}), "
        f"{relay * 100 / calls:.3f} % of a core per call, {per_packet:.1f} µs per relayed "
        f"packet; generator {result['generator_cpu'] * 100:.0f} % of a core, its send "
        f"schedule late by up to {result['generator_lag_ms']:.1f} ms"
    )
    if result["silent_legs"]:
        print(f"  {result['silent_legs']} legs received nothing")


def endpoint_logic_cost(count: int = 100_000) -> None:
    """The sans-IO part of relaying, in process: parse, latch, stats, rewrite (or transcode)."""
    import random

    from kilopbx.media.endpoint import Endpoint, PayloadMap
    from kilopbx.media.rtp import build_rtp

    source = PayloadMap.from_pairs(ULAW)
    packets = [
        build_rtp(0, False, i & 0xFFFF, i * 160, 0x1234, b"\xff" * 160) for i in range(count)
    ]
    for target in ("PCMU", "PCMA", "G722"):
        rng = random.Random(1)
        a = Endpoint("a", 1, source, ("127.0.0.1", 5000), now=0.0, rng=rng)
        b_map = PayloadMap.from_pairs(
            [(9 if target == "G722" else 8 if target == "PCMA" else 0, target)]
        )
        b = Endpoint("b", 2, b_map, ("127.0.0.1", 6000), now=0.0, rng=rng)
        a.peer, b.peer = b, a
        started = time.process_time()
        for i, packet in enumerate(packets):
            a.receive(packet, ("127.0.0.1", 5000), i * 0.02)
        per = (time.process_time() - started) / count * 1e6
        how = "header rewrite" if target == "PCMU" else "transcoding"
        print(f"endpoint logic, PCMU -> {target} ({how}), no sockets: {per:.1f} µs per packet")


def start_register_load(rate: int, seconds: float):  # type: ignore[no-untyped-def]
    """A PBX on this machine answering `rate` authenticated REGISTER/s from sipp."""
    if rate <= 0 or not shutil.which("sipp"):
        return None, None, {}
    from tests.e2e.sipp.runner import run_sipp, write_users
    from tests.harness import PbxProcess, free_port

    from bench.bench_register import create_extensions

    work = Path(tempfile.mkdtemp(prefix="bench-media-"))
    env = {
        "KILOPBX_SIP_FLOOD_LIMIT": "0",
        "KILOPBX_SIP_MAX_TRANSACTIONS_PER_SOURCE": "0",
        "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0",
        "KILOPBX_LOG_LEVEL": "WARNING",
        "KILOPBX_MEDIA_WORKERS": "1",
    }
    pbx = PbxProcess(work / "pbx", env).start()
    csv = write_users(work / "users.csv", create_extensions(pbx, 1000))
    outcome: dict[str, Any] = {"work": work}

    def run() -> None:
        outcome["result"] = run_sipp(
            "register_auth.xml", csv, pbx.sip_port, workdir=work / "sipp",
            calls=int(rate * seconds), rate=rate, limit=max(200, rate),
            local_port=free_port(udp_too=True), timeout=seconds * 3 + 30,
        )  # fmt: skip

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return pbx, thread, outcome


def main() -> int:
    print(
        f"conditions: {platform.node()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, uvloop; generator, workers (and PBX + sipp) on the "
        f"same host over loopback; PCMU 20 ms packets (172-byte datagrams), {RATE} packets/s "
        f"per direction; endpoints latch to the generator's ports (no SDP address given)"
    )
    pbx, thread, outcome = start_register_load(REGISTER_RATE, WARMUP + SECONDS + 2)
    try:
        result, counters = uvloop.run(kilopbx_calls(WORKERS, CALLS, WARMUP, SECONDS))
        describe(
            f"KiloPBX, {WORKERS} workers, {SECONDS:.0f} s after {WARMUP:.0f} s warm-up",
            CALLS,
            result,
        )
        print(f"  worker drop counters (warm-up included; latching drops 2 per leg): {counters}")
        if thread is not None:
            thread.join(timeout=SECONDS + 60)
            reg = outcome.get("result")
            if reg is not None:
                print(
                    f"  meanwhile: sipp REGISTER load on a kilopbx serve on this host: "
                    f"{reg.successful} ok, {reg.failed} failed, {reg.rate:,.0f} REGISTER/s"
                )
        else:
            print("  no REGISTER load (BENCH_MEDIA_REGISTER_RATE=0 or no sipp)")
    finally:
        if pbx is not None:
            pbx.stop()
            shutil.rmtree(outcome["work"], ignore_errors=True)
    cost, _ = uvloop.run(kilopbx_calls(1, COST_CALLS, 2.0, COST_SECONDS))
    describe("relay cost, KiloPBX 1 worker", COST_CALLS, cost)
    floor = uvloop.run(floor_calls(COST_CALLS, 2.0, COST_SECONDS))
    describe("relay cost, minimal uvloop relay (floor)", COST_CALLS, floor)
    endpoint_logic_cost()
    for name in ("rtpengine", "rtpproxy"):
        print(f"{name}: {'installed, not driven yet' if shutil.which(name) else 'not installed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
