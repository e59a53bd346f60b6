"""Trunk runtime benchmark.

1. In this process: the per-call cost of what the call engine asks the trunks'
   runtime (`identify` of a request's source, hit and miss, `claimed`, `targets`)
   with BENCH_TRUNK_LINES trunks (default 512, the default trunk limit).
2. Against a real PBX and sipp as the provider's registrar (UDP, MD5 digest): how
   long BENCH_TRUNKS register trunks (default 200), added through the API, take to
   show `Registered` in `trunk/list`, and the REGISTERs per second that makes.

    .venv/bin/python bench/bench_trunk_runtime.py
"""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.sipp.runner import HERE as SIPP_DIR
from tests.e2e.sipp.runner import SIPP
from tests.harness import HOST, PbxProcess, free_port
from tests.unit.trunks.helpers import config

from kilopbx.apps.trunks.resolver import Record, SipResolver
from kilopbx.apps.trunks.runtime import TrunkRuntime
from kilopbx.engine.trunking import TrunkTarget

LINES = int(os.environ.get("BENCH_TRUNK_LINES", "512"))
TRUNKS = int(os.environ.get("BENCH_TRUNKS", "200"))
ROUNDS = 200_000


class Worker:
    def __init__(self, addresses: frozenset[tuple[str, int]]) -> None:
        self.status = "Registered"
        self.addresses = addresses
        self.preferred: TrunkTarget | None = None

    def start(self) -> None:
        pass

    async def stop(self, *, farewell: bool) -> None:
        pass


async def lookups() -> None:
    async def no_dns(name: str, rdtype: str) -> tuple[list[Record], float]:
        return [], 0.0

    configs = []
    for i in range(LINES):
        host = f"10.{i // 250}.{i % 250}.1"
        kind = "peer" if i % 2 else "register"
        configs.append(config(i + 1, f"T{i}", kind, host=host, port=5060 + i % 7))  # type: ignore[arg-type]

    def make(c: object) -> Worker:
        return Worker(frozenset({(c.host, c.port)}))  # type: ignore[attr-defined]

    async def load() -> list:  # type: ignore[type-arg]
        return configs

    runtime = TrunkRuntime(
        SipResolver(no_dns, time.monotonic), time.monotonic, load=load, make_worker=make
    )  # type: ignore[arg-type]
    await runtime.reload()
    peer, register = configs[-1] if configs[-1].kind == "peer" else configs[-2], configs[0]
    cases = {
        "identify, peer hit": lambda: runtime.identify(peer.host, peer.port),
        "identify, provider hit": lambda: runtime.identify(register.host, 5999),
        "identify, unknown source": lambda: runtime.identify("192.0.2.99", 5060),
        "claimed, unknown host": lambda: runtime.claimed("nobody.example"),
    }
    for name, call in cases.items():
        started = time.perf_counter()
        for _ in range(ROUNDS):
            call()
        print(f"{name:28} {1e6 * (time.perf_counter() - started) / ROUNDS:.2f} µs per call")
    started = time.perf_counter()
    for _ in range(ROUNDS // 10):
        await runtime.targets(peer.name)
    each = 1e6 * (time.perf_counter() - started) / (ROUNDS // 10)
    print(f"{'targets (IP literal)':28} {each:.2f} µs per call")


def registrations(workdir: Path) -> None:
    port = free_port(udp_too=True)
    inf = workdir / "expiry.csv"
    inf.write_text("SEQUENTIAL\n3600\n")
    sipp = subprocess.Popen(
        [SIPP, "-sf", str(SIPP_DIR / "provider_registrar_open.xml"), "-inf", str(inf),
         "-i", HOST, "-p", str(port), "-t", "u1", "-m", "1000000", "-nostdin"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    pbx = PbxProcess(workdir / "pbx", {"KILOPBX_LOG_LEVEL": "WARNING"}).start()
    try:
        token = pbx.login()
        started = time.monotonic()
        for i in range(TRUNKS):
            answer = pbx.api(
                "trunk/add_siptrunk",
                {"trunkname": f"P{i}", "trunktype": "register", "host": HOST, "port": str(port),
                 "domain": "carrier.test", "username": f"acct{i}", "authname": f"acct{i}",
                 "password": "Bench1Secret"},
                token=token,
            )  # fmt: skip
            assert answer["status"] == "Success", answer
        added = time.monotonic() - started
        first = wait_registered(pbx, token, started)
        print(f"{TRUNKS} register trunks added one by one in {added:.2f} s, all Registered "
              f"{first:.2f} s after the first add")  # fmt: skip
        pbx.stop()
        began = time.monotonic()
        pbx.start()  # returns once the API answers
        up = time.monotonic() - began
        token = pbx.login()
        took = wait_registered(pbx, token, began)
        print(f"PBX restart with {TRUNKS} register trunks: API up after {up:.2f} s, "
              f"all Registered {took:.2f} s after the start command")  # fmt: skip
    finally:
        pbx.stop()
        sipp.send_signal(signal.SIGKILL)
        sipp.wait(timeout=10)


def wait_registered(pbx: PbxProcess, token: str, started: float) -> float:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listed = pbx.api("trunk/list", token=token)["trunklist"]
        if sum(1 for t in listed if t["status"] == "Registered") == TRUNKS:
            return time.monotonic() - started
        time.sleep(0.05)
    raise RuntimeError("the trunks did not all register within 120 s")


def main() -> None:
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, {LINES} trunks in memory")
    asyncio.run(lookups())
    with tempfile.TemporaryDirectory() as tmp:
        registrations(Path(tmp))


if __name__ == "__main__":
    main()
