"""Registrar benchmark: digest-authenticated REGISTERs per second, driven by sipp.

Starts a PBX (tests/harness.py), creates 1000 extensions through extension/add, then
plays sipp's REGISTER-401-REGISTER-200 scenario (MD5 digest, users from a CSV) over
UDP on loopback at increasing offered rates, each step for a bounded time. Prints the
successful REGISTERs (200s) per second, failures, sipp's retransmissions, the PBX's
RSS before and after the first 1000 registrations (memory per registration) and its
RSS growth per REGISTER over the rate steps; also, in this process, what the stack
keeps per completed UDP transaction while it waits out Timer J.

    .venv/bin/python bench/bench_register.py            # BENCH_REG_SECONDS=8 per step
    .venv/bin/python bench/bench_register.py --memory   # only the in-process figures
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.sipp.runner import User, run_sipp, write_users
from tests.harness import PbxProcess, free_port

EXTENSIONS = int(os.environ.get("BENCH_REG_EXTENSIONS", "1000"))
SECONDS = float(os.environ.get("BENCH_REG_SECONDS", "8"))
RATES = [int(r) for r in os.environ.get("BENCH_REG_RATES", "500,1000,1500,2000,3000").split(",")]
PASSWORD = "Kx7mPq2wRt9vBn4Z"
FIRST = 3000


def binding_bytes(count: int = 1000) -> float:
    """The registrar's own memory per binding (core table, sans IO), by tracemalloc."""
    import tracemalloc

    from kilopbx.apps.registrar.core import RegisterRequest, RegistrarCore
    from kilopbx.clock import SystemClock

    core = RegistrarCore(SystemClock())
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(count):
        number = str(FIRST + i)
        contact = f"sip:{number}@192.0.2.{i % 250}:{5060 + i};transport=udp"
        request = RegisterRequest(
            number, f"{i:08x}-call@192.0.2.1", 2, [(contact, None)], expires=300,
            host=f"192.0.2.{i % 250}", port=5060 + i, user_agent="Yealink SIP-T46S 66.86.0.15",
        )  # fmt: skip
        core.register(request, 1)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return grown / count


CHALLENGE = (
    'Digest realm="kilopbx", nonce="AAAAZmVvhQ7d1n3Yl7zZ9x2aQk5nRm9vYmFy", '
    'algorithm=MD5, qop="auth"'
)


def _register_datagram(i: int, port: int) -> bytes:
    """A REGISTER like the ones sipp sends in register_auth.xml."""
    number = FIRST + i % 1000
    return (
        f"REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{i}-1-0;rport\r\n"
        f"From: <sip:{number}@127.0.0.1>;tag={4242}-{i}\r\n"
        f"To: <sip:{number}@127.0.0.1>\r\n"
        f"Call-ID: {i}-4242@127.0.0.1\r\n"
        f"CSeq: 1 REGISTER\r\n"
        f"Contact: <sip:{number}@127.0.0.1:{port};transport=UDP>\r\n"
        f"Max-Forwards: 70\r\nExpires: 300\r\nUser-Agent: sipp-kilopbx-test\r\n"
        f"Content-Length: 0\r\n\r\n"
    ).encode()


def completed_transaction_bytes(count: int = 4000) -> tuple[float, int]:
    """Memory the stack keeps per UDP REGISTER transaction answered 401 and waiting out
    Timer J (tracemalloc, gc'd), and the size of the 401 on the wire."""
    import asyncio
    import gc
    import tracemalloc

    import uvloop

    from kilopbx.sip.stack import SipStack
    from kilopbx.sip.transport import Source

    sizes: list[int] = []

    class Challenger:
        async def on_request(self, transaction: Any) -> None:
            response = transaction.respond(401, headers=[("WWW-Authenticate", CHALLENGE)])
            if not sizes:
                sizes.append(len(response.to_bytes()))

    async def run() -> float:
        stack = SipStack(Challenger())
        await stack.start("127.0.0.1", 0)
        port = free_port(udp_too=True)  # nobody listens there: the answers go nowhere
        source = Source("udp", "127.0.0.1", port)
        datagrams = [_register_datagram(i, port) for i in range(count)]
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for data in datagrams:
            stack.datagram_received(data, source)
        for _ in range(20):  # let every handler task finish
            await asyncio.sleep(0.01)
        del data
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        kept = stack.table.server_count
        await stack.stop()
        assert kept == count, f"{kept} of {count} transactions in the table"
        return sum(stat.size_diff for stat in after.compare_to(before, "filename")) / count

    per = uvloop.run(run())
    return per, sizes[0]


def print_transaction_memory() -> None:
    per, size = completed_transaction_bytes()
    print(
        f"stack per completed UDP transaction (Timer J): {per:,.0f} bytes, of which the "
        f"{size}-byte 401 it may resend (tracemalloc)"
    )


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def create_extensions(pbx: PbxProcess, count: int) -> list[User]:
    token = pbx.login()
    # the shipped default extensions would count against the extension capacity
    pbx.api("extension/delete", {"number": "all"}, token=token)
    users = [User(str(FIRST + i), f"u{FIRST + i}", PASSWORD) for i in range(count)]
    refusals: list[str] = []

    def add(user: User) -> None:
        body = {
            "number": user.number,
            "username": f"User {user.number}",
            "registername": user.auth_name,
            "registerpassword": user.password,
        }
        for _attempt in range(5):  # retried: a refusal is printed, not fatal
            _status, headers, payload = pbx.http(
                f"/api/v2.0.0/extension/add?token={token}", body=json.dumps(body).encode()
            )
            if b'"Success"' in payload:
                return
            refusals.append(f"{user.number}: {payload!r} {headers.get('X-KiloPBX-Detail')}")
            time.sleep(0.05)
        raise AssertionError(refusals[-1])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, users))
    if refusals:
        print(f"extension/add refused {len(refusals)} times and succeeded on retry: {refusals[:3]}")
    return users


def main() -> None:
    env = {
        "KILOPBX_SIP_FLOOD_LIMIT": "0",  # one sipp source sends far more than a phone
        "KILOPBX_SIP_MAX_TRANSACTIONS_PER_SOURCE": "0",  # ... and holds the whole table
        "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0",  # sipp does not answer OPTIONS
        "KILOPBX_LOG_LEVEL": "WARNING",
    }
    with tempfile.TemporaryDirectory(prefix="bench-register-") as tmp:
        work = Path(tmp)
        pbx = PbxProcess(work / "pbx", env).start()
        try:
            assert pbx.proc is not None
            pid = pbx.proc.pid
            started = time.monotonic()
            users = create_extensions(pbx, EXTENSIONS)
            print(
                f"conditions: {platform.node()}, {os.cpu_count()} CPUs, Python "
                f"{platform.python_version()}, PBX and sipp on the same host (loopback), "
                f"UDP, MD5 digest (REGISTER, 401, REGISTER, 200), {EXTENSIONS} extensions "
                f"created through extension/add in {time.monotonic() - started:.1f} s, "
                f"Expires 300, SQLite store, qualify off"
            )
            csv = write_users(work / "users.csv", users)
            time.sleep(1.0)
            rss_before = rss_kib(pid)
            first = run_sipp(
                "register_auth.xml",
                csv,
                pbx.sip_port,
                workdir=work / "first",
                calls=EXTENSIONS,
                rate=500,
                local_port=free_port(udp_too=True),
                timeout=60,
            )
            time.sleep(0.5)
            rss_after = rss_kib(pid)
            per = (rss_after - rss_before) * 1024 / max(1, first.successful)
            print(
                f"first registration of {EXTENSIONS}: {first.successful} ok, "
                f"{first.failed} failed; RSS {rss_before / 1024:.1f} MiB -> "
                f"{rss_after / 1024:.1f} MiB, about {per / 1024:.1f} KiB per registration "
                f"(most of it the 2000 server transactions the stack keeps for Timer J, 32 s)"
            )
            print(f"registrar table alone: {binding_bytes():,.0f} bytes per binding (tracemalloc)")
            print_transaction_memory()
            best = 0.0
            for rate in RATES:
                rss_step = rss_kib(pid)
                calls = int(rate * SECONDS)
                result = run_sipp(
                    "register_auth.xml",
                    csv,
                    pbx.sip_port,
                    workdir=work / f"rate{rate}",
                    calls=calls,
                    rate=rate,
                    limit=max(200, rate),
                    local_port=free_port(udp_too=True),
                    timeout=SECONDS * 4 + 10,
                )
                grown = (rss_kib(pid) - rss_step) * 1024 / max(1, result.successful)
                best = max(best, result.rate)
                print(
                    f"offered {rate:>5}/s for {calls} REGISTERs: {result.successful} ok, "
                    f"{result.failed} failed, {result.retransmissions} retransmitted by sipp, "
                    f"{result.elapsed:.1f} s -> "
                    f"{result.rate:,.0f} REGISTER/s (each one 401 + 200: two transactions); "
                    f"RSS {rss_kib(pid) / 1024:.0f} MiB, +{grown / 1024:.1f} KiB per REGISTER"
                )
                if result.failed:
                    answers = Counter(re.findall(r"received '(SIP/2.0 [^\r\n]*)", result.errors))
                    print(f"  unexpected answers (tail of sipp's error log): {dict(answers)}")
                if result.failed > calls * 0.01 or result.rate < rate * 0.8:
                    break
            print(
                f"best: {best:,.0f} authenticated REGISTER/s; RSS now {rss_kib(pid) / 1024:.1f} MiB"
            )
        finally:
            pbx.stop()


if __name__ == "__main__":
    if "--memory" in sys.argv[1:]:
        print_transaction_memory()
    else:
        main()
