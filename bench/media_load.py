"""Helper processes for bench_media.py: the RTP load generator and the floor relay.

python bench/media_load.py generate PAIRS_JSON RATE WARMUP SECONDS
    For each (port_a, port_b) pair on 127.0.0.1, two "phones" send 160-byte RTP at
    RATE packets/s each to their port, and receive what the relay sends back. Each
    packet carries its send time (CLOCK_MONOTONIC ns), so the receiver measures
    transit time through the relay; jitter is RFC 3550 A.8 on those transits, which is
    the jitter the relay (and the loaded machine) added. Prints one JSON result.

python bench/media_load.py floor CALLS
    A minimal uvloop relay with no parsing: 2*CALLS sockets in pairs, each datagram
    forwarded to wherever the other socket of the pair last heard from. Prints its
    port pairs as JSON on the first line, then relays until killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import socket
import struct
import sys
import time
from typing import Any

import uvloop

HOST = "127.0.0.1"
PAYLOAD_PAD = b"\xff" * 152
_HEADER = struct.Struct("!BBHIIQ")  # RTP header, then our send time in the payload


class _Leg(asyncio.DatagramProtocol):
    __slots__ = ("jitter", "last_transit", "max_transit", "received", "sent", "transport", "window")

    def __init__(self, window: list[int]) -> None:
        self.window = window  # [measure start ns, measure end ns], shared
        self.transport: asyncio.DatagramTransport | None = None
        self.sent = 0
        self.received = 0
        self.jitter = 0.0
        self.last_transit: float | None = None
        self.max_transit = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        now = time.monotonic_ns()
        if len(data) != 172 or data[1] != 0:
            return  # the relay's RTCP reports land here too when RTP port + 1 is ours
        (sent_ns,) = struct.unpack_from("!Q", data, 12)
        if not self.window[0] <= sent_ns < self.window[1]:
            return
        transit = (now - sent_ns) / 1e6
        self.received += 1
        if self.last_transit is not None:
            self.jitter += (abs(transit - self.last_transit) - self.jitter) / 16.0
        self.last_transit = transit
        if transit > self.max_transit:
            self.max_transit = transit


async def generate(pairs: list[list[int]], rate: int, warmup: float, seconds: float) -> dict:
    loop = asyncio.get_running_loop()
    window = [1 << 62, 1 << 62]
    legs: list[tuple[_Leg, int]] = []
    for port_a, port_b in pairs:
        for port in (port_a, port_b):
            _, leg = await loop.create_datagram_endpoint(lambda: _Leg(window), local_addr=(HOST, 0))
            legs.append((leg, port))
    # spread the calls over the packet interval instead of one burst per 20 ms
    interval = 1.0 / rate
    slots = 10
    groups = [legs[i::slots] for i in range(slots)]
    start = time.monotonic()
    measure_from = start + warmup
    stop_at = measure_from + seconds
    usage_start = None
    seq = 0
    tick = 0
    lag = 0.0
    while True:
        due = start + tick * interval / slots
        tick += 1
        now = time.monotonic()
        # always yield: a generator catching up without reading would measure itself
        await asyncio.sleep(max(0.0, due - now))
        now = time.monotonic()
        if now >= stop_at:
            break
        if usage_start is not None:
            lag = max(lag, now - due)
        if usage_start is None and now >= measure_from:
            usage_start = (resource.getrusage(resource.RUSAGE_SELF), now)
            window[0] = time.monotonic_ns()
        measuring = usage_start is not None
        group = groups[tick % slots]
        if tick % slots == 0:
            seq += 1
        for ssrc, (leg, port) in enumerate(group):
            packet = _HEADER.pack(0x80, 0, seq & 0xFFFF, seq * 160, ssrc, time.monotonic_ns())
            assert leg.transport is not None
            leg.transport.sendto(packet + PAYLOAD_PAD, (HOST, port))
            if measuring:
                leg.sent += 1
    window[1] = time.monotonic_ns()
    usage_end = resource.getrusage(resource.RUSAGE_SELF)
    measured = time.monotonic() - usage_start[1] if usage_start else 0.0
    await asyncio.sleep(0.5)  # let the last packets arrive
    sent = sum(leg.sent for leg, _ in legs)
    received = sum(leg.received for leg, _ in legs)
    jitters = sorted(leg.jitter for leg, _ in legs)
    cpu = 0.0
    if usage_start:
        before = usage_start[0]
        cpu = (usage_end.ru_utime - before.ru_utime) + (usage_end.ru_stime - before.ru_stime)
    return {
        "sent": sent,
        "received": received,
        "seconds": measured,
        "jitter_mean_ms": sum(jitters) / len(jitters),
        "jitter_p99_ms": jitters[int(len(jitters) * 0.99) - 1] if jitters else 0.0,
        "jitter_max_ms": jitters[-1] if jitters else 0.0,
        "transit_max_ms": max(leg.max_transit for leg, _ in legs),
        "generator_cpu": cpu / measured if measured else 0.0,
        "generator_lag_ms": lag * 1000,
        "silent_legs": sum(1 for leg, _ in legs if leg.received == 0),
    }


class _FloorLeg(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.peer: _FloorLeg | None = None
        self.source: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.source = addr
        peer = self.peer
        if peer is not None and peer.source is not None and peer.transport is not None:
            peer.transport.sendto(data, peer.source)


async def floor(calls: int) -> None:
    loop = asyncio.get_running_loop()
    pairs = []
    for _ in range(calls):
        legs = []
        for _side in range(2):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((HOST, 0))
            _, leg = await loop.create_datagram_endpoint(_FloorLeg, sock=sock)
            legs.append((leg, sock.getsockname()[1]))
        legs[0][0].peer, legs[1][0].peer = legs[1][0], legs[0][0]
        pairs.append([legs[0][1], legs[1][1]])
    print(json.dumps(pairs), flush=True)
    await asyncio.Event().wait()


def main() -> int:
    mode = sys.argv[1]
    if mode == "generate":
        with contextlib.suppress(PermissionError):
            os.nice(-5)  # measure the relay, not how often the generator was descheduled
        pairs = json.loads(sys.argv[2])
        rate, warmup, seconds = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
        print(json.dumps(uvloop.run(generate(pairs, rate, warmup, seconds))), flush=True)
    elif mode == "floor":
        uvloop.run(floor(int(sys.argv[2])))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
