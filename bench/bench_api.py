"""API core benchmarks (issue: foundation).

1. deviceinfo/query: requests/s and p50/p99 latency, 50 concurrent clients on loopback,
   one request per TCP connection (the reference client pattern; the PBX closes).
2. Event delivery: ConfigChange events (extension/update) delivered by HTTP POST to a
   local receiver; events/s and delivery latency p50/p99 (from the API answer that caused
   the event to its arrival at the receiver; an upper bound on the PBX's own share).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.harness import PbxProcess, free_port

CLIENTS = 50
REQUESTS = int(os.environ.get("BENCH_API_REQUESTS", "5000"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "1000"))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def deviceinfo_load(pbx: PbxProcess, token: str) -> None:
    url = f"http://127.0.0.1:{pbx.http_port}/api/v2.0.0/deviceinfo/query?token={token}"
    latencies: list[float] = []
    failures = 0
    remaining = REQUESTS
    connector = aiohttp.TCPConnector(limit=CLIENTS, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def client() -> None:
            nonlocal remaining, failures
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                async with http.post(url, data=b"") as resp:
                    body = await resp.json(content_type=None)
                latencies.append(time.perf_counter() - start)
                if body.get("status") != "Success":
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    print(
        f"deviceinfo/query: {len(latencies)} requests, {CLIENTS} concurrent clients, "
        f"new connection each: {len(latencies) / elapsed:,.0f} req/s, "
        f"p50 {pct(latencies, 0.5) * 1000:.1f} ms, p99 {pct(latencies, 0.99) * 1000:.1f} ms, "
        f"failures {failures}"
    )


async def event_load(pbx: PbxProcess) -> None:
    port = free_port()
    arrivals: list[float] = []
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        arrivals.append(time.perf_counter())
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        if len(arrivals) >= EVENTS:
            done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    base = f"http://127.0.0.1:{pbx.http_port}/api/v2.0.0"
    async with aiohttp.ClientSession() as http:
        creds = {"username": "apiuser", "password": _md5("Test1Secret2Pass"), "version": "2.0.0"}
        async with http.post(f"{base}/login", json={**creds, "port": port}) as resp:
            token = (await resp.json(content_type=None))["token"]
        body = {
            "number": "7001",
            "username": "Bench",
            "registername": "bench7001",
            "registerpassword": "Kp7xQm2vLr9tWz4N",
        }
        async with http.post(f"{base}/extension/add?token={token}", json=body) as resp:
            assert (await resp.json(content_type=None))["status"] == "Success"
        await asyncio.sleep(0.5)
        arrivals.clear()
        sent: list[float] = []
        started = time.perf_counter()
        for i in range(EVENTS):
            update = {"number": "7001", "username": f"Bench {i}"}
            async with http.post(f"{base}/extension/update?token={token}", json=update) as resp:
                await resp.read()
            sent.append(time.perf_counter())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 120)
        elapsed = (arrivals[-1] if arrivals else time.perf_counter()) - started
        lat = [a - s for a, s in zip(arrivals, sent, strict=False)]
        print(
            f"event delivery (HTTP, one connection per event): {len(arrivals)}/{EVENTS} events "
            f"in {elapsed:.2f} s = {len(arrivals) / elapsed:,.0f} events/s end to end "
            f"(producer: sequential extension/update calls), latency p50 "
            f"{pct(lat, 0.5) * 1000:.1f} ms, p99 {pct(lat, 0.99) * 1000:.1f} ms"
        )
        # drain: a backlog queued while the receiver was down, delivered in order
        server.close()
        async with http.post(f"{base}/logout?token={token}") as resp:
            await resp.read()
        drain_port = free_port()
        async with http.post(f"{base}/login", json={**creds, "port": drain_port}) as resp:
            token = (await resp.json(content_type=None))["token"]
        for i in range(EVENTS):
            update = {"number": "7001", "username": f"Drain {i}"}
            async with http.post(f"{base}/extension/update?token={token}", json=update) as resp:
                await resp.read()
        arrivals.clear()
        done.clear()
        server = await asyncio.start_server(handle, "127.0.0.1", drain_port)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 120)
        server.close()
    if len(arrivals) > 1:
        span = arrivals[-1] - arrivals[0]
        print(
            f"event delivery, draining a backlog of {EVENTS} (receiver was down): "
            f"{len(arrivals)} delivered at {(len(arrivals) - 1) / span:,.0f} events/s"
        )


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pbx = PbxProcess(Path(tmp) / "bench", {"KILOPBX_LOG_LEVEL": "WARNING"}).start()
        try:
            token = pbx.login()
            cores = os.cpu_count()
            print(f"conditions: {cores} cores, loopback, PBX and load generator on one machine")
            await deviceinfo_load(pbx, token)
            await event_load(pbx)
        finally:
            pbx.stop()


if __name__ == "__main__":
    asyncio.run(main())
