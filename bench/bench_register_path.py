"""CPU per registration of the REGISTER path alone, in this process, without sockets.

The SIP service (stack, transactions, timers) and the registrar's handler (digest,
nonces, bindings) of `kilopbx serve`, with 1000 accounts, take the datagrams sipp's
digest scenario sends: REGISTER, (401), REGISTER with Authorization, (200). The UDP
transport is a stub that keeps the last datagram sent, so what is measured is Python's
share of a registration: parsing, header views, digest, transactions and their Timer J
remnants, timer bookkeeping, the answers' serialisation, garbage collection. System
calls, the event loop's own work and the database writes (another thread) are not
in it. CPU time of this thread (time.thread_time), so other processes on the machine
barely move it.

    .venv/bin/python bench/bench_register_path.py            # BENCH_PATH_REGISTRATIONS=30000
    .venv/bin/python bench/bench_register_path.py --profile  # cProfile, top functions
    BENCH_PATH_HELD=1 .venv/bin/python bench/bench_register_path.py

With BENCH_PATH_HELD=1 every 200 waits for its commit as in `kilopbx serve` (the
registrar's durable acknowledgement), with a stand-in for the database that commits
every ``COMMIT_EVERY`` registrations (ten: 1000 REGISTER/s in 10 ms batches); what is
measured is then also the holding, the guard timers and the answers sent from the
commit callback, not the database.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kilopbx.apps.registrar.config import RegistrarConfig
from kilopbx.apps.registrar.core import Binding, RegistrarCore
from kilopbx.apps.registrar.durable_ack import DurableAck
from kilopbx.apps.registrar.security import BanList
from kilopbx.apps.registrar.service import RegisterHandler
from kilopbx.clock import SystemClock
from kilopbx.engine.directory import AccountDirectory, SipAccount
from kilopbx.engine.sip_service import SipService
from kilopbx.heap import settle
from kilopbx.sip.digest import NonceManager, build_authorization, parse_challenge
from kilopbx.sip.transport import IncomingSink, Source
from kilopbx.sip.transport_udp import UdpTransport

REGISTRATIONS = int(os.environ.get("BENCH_PATH_REGISTRATIONS", "30000"))
USERS = 1000
ROUND = 1000
HELD = os.environ.get("BENCH_PATH_HELD", "") not in ("", "0")
COMMIT_EVERY = 10
PEER = Source("udp", "127.0.0.1", 25061)


class StubUdp(UdpTransport):
    """Stands in for the UDP transport: keeps what would have been sent. A subclass, so
    that the stack's slot for it takes it also when the stack is compiled (mypyc checks
    the type of what is assigned)."""

    def __init__(self, sink: IncomingSink) -> None:
        super().__init__(sink)
        self.last = b""
        self.sent = 0
        self.ok = 0  # 200s sent

    def send(self, data: bytes, host: str, port: int) -> bool:
        self.last = data
        self.sent += 1
        self.ok += data.startswith(b"SIP/2.0 200")
        return True


class StandInStore:
    """What DurableAck needs of the binding store: nothing is ever covered, and a
    commit (``commit()``) calls back whoever waited."""

    def __init__(self) -> None:
        self.waiting = 0
        self._callbacks: list[Callable[[], None]] = []

    def covers(self, number: str, bindings: list[Binding]) -> bool:
        return False

    def when_committed(self, number: str, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)
        self.waiting += 1

    def commit(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        self.waiting = 0
        for callback in callbacks:
            callback()


def build() -> tuple[SipService, StubUdp, StandInStore | None]:
    clock = SystemClock()
    config = RegistrarConfig()
    directory = AccountDirectory()
    directory.load(
        [SipAccount(str(21000 + i), f"user{1000 + i}", f"Pw{i:04d}xYz-Bench") for i in range(USERS)]
    )
    store = StandInStore() if HELD else None
    durable = None if store is None else DurableAck(store, wait_limit=config.commit_wait)  # type: ignore[arg-type]
    handler = RegisterHandler(
        RegistrarCore(clock, config.limits),
        directory,
        config,
        NonceManager(b"k" * 32, lifetime=config.nonce_lifetime, clock=clock.now),
        BanList(clock.monotonic, threshold=5, window=60, ban_seconds=600),
        durable=durable,
    )
    service = SipService(max_transactions=1_000_000, max_transactions_per_source=0)
    service.register_method("REGISTER", handler, stateless=handler.answer_statelessly)
    service.add_request_inspector(handler.inspect)
    stub = StubUdp(service.stack)
    service.stack._udp = stub
    return service, stub, store


def register_datagram(n: int, cseq: int, authorization: str | None) -> bytes:
    user = f"user{1000 + n % USERS}"
    lines = [
        "REGISTER sip:127.0.0.1:5060 SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:25061;branch=z9hG4bK-{n}-{cseq}",
        "Max-Forwards: 70",
        f"From: <sip:{user}@127.0.0.1>;tag=4242-{n}",
        f"To: <sip:{user}@127.0.0.1>",
        f"Call-ID: {n}-4242@127.0.0.1",
        f"CSeq: {cseq} REGISTER",
        f"Contact: <sip:{user}@127.0.0.1:25061>",
        "Expires: 3600",
    ]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    lines += ["User-Agent: kilopbx-bench", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def header(response: bytes, name: str) -> str:
    for line in response.decode().split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} in {response[:200]!r}")


def inputs(service: SipService, stub: StubUdp, count: int) -> list[tuple[bytes, bytes]]:
    """The two REGISTERs of each registration, prepared beforehand (the client's work:
    sipp computes the digest, not the server)."""
    pairs = []
    for n in range(count):
        first = register_datagram(n, 1, None)
        service.stack.datagram_received(first, PEER)
        challenge = parse_challenge(header(stub.last, "WWW-Authenticate"))
        i = n % USERS
        auth = build_authorization(
            challenge, method="REGISTER", uri="sip:127.0.0.1:5060",
            username=f"user{1000 + i}", password=f"Pw{i:04d}xYz-Bench",
        )  # fmt: skip
        pairs.append((first, register_datagram(n, 2, auth)))
    return pairs


async def measure(profile: bool) -> None:
    service, stub, store = build()
    pairs = inputs(service, stub, REGISTRATIONS)
    if os.environ.get("BENCH_PATH_GC", "settle") == "settle":
        settle()  # as `kilopbx serve` does once started
    receive = service.stack.datagram_received
    profiler = cProfile.Profile() if profile else None
    stub.ok = 0
    rounds: list[float] = []  # CPU per registration in each round of ROUND
    started = round_started = time.thread_time()
    if profiler is not None:
        profiler.enable()
    for i, (first, second) in enumerate(pairs):
        receive(first, PEER)
        receive(second, PEER)
        if store is not None and i % COMMIT_EVERY == COMMIT_EVERY - 1:
            store.commit()
        if i % 100 == 99:
            await asyncio.sleep(0)  # timers and tasks run, as between datagrams
        if i % ROUND == ROUND - 1:
            now = time.thread_time()
            rounds.append((now - round_started) / ROUND)
            round_started = now
    if profiler is not None:
        profiler.disable()
    used = time.thread_time() - started
    if store is not None:
        store.commit()
    ok = stub.ok
    # The quickest round is the least disturbed by other processes (caches, steal).
    print(
        f"{REGISTRATIONS} registrations ({ok} answered 200{', held for commits' if HELD else ''}), "
        "1000 users: "
        f"{1e6 * used / REGISTRATIONS:.0f} us of CPU per registration (4 messages) on "
        f"average, {1e6 * min(rounds, default=0):.0f} us in the quickest round of {ROUND}; "
        f"gc counts {gc.get_count()}, {gc.get_freeze_count()} objects frozen"
    )
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)


def main() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(measure("--profile" in sys.argv))
        return
    uvloop.run(measure("--profile" in sys.argv))


if __name__ == "__main__":
    main()
