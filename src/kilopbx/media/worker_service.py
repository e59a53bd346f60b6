"""What a media worker does with its sockets: endpoints, bridges, timers, DTMF out.

`WorkerService` executes control commands against its endpoint table and owns the
UDP transports. The per-packet path is `_RtpProtocol.datagram_received`: parse and
decide in the sans-IO `Endpoint`, then one `sendto` on the peer's socket. Every
notification goes through the `notify` callback the control connection provides.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Callable

from ..config import PortRange
from . import control as c
from .codecs import CodecError
from .dtmf import PlannedPacket, plan_digit
from .endpoint import Endpoint, PayloadMap
from .latch import Address
from .ports import PortAllocator
from .rewriter import LOCAL_SOURCE
from .worker_media import MediaApps

log = logging.getLogger(__name__)

TICK = 0.2
BIND_ATTEMPTS = 20
DIGIT_GAP = 0.1
# each send_dtmf alternates between two rewriter source keys, so that the next train
# restarts the stream mapping (sequence and timestamp move on) instead of looking like
# a repeat of the previous one (a phone would drop it as a duplicate event)
DTMF_SOURCES = (LOCAL_SOURCE, -3)


class _Leg:
    """An endpoint with its two sockets; `peer` mirrors `endpoint.peer` for the hot path."""

    __slots__ = ("endpoint", "next_stats", "peer", "rtcp", "rtp", "stats_interval")

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.rtp: asyncio.DatagramTransport | None = None
        self.rtcp: asyncio.DatagramTransport | None = None
        self.peer: _Leg | None = None
        self.stats_interval = 0.0
        self.next_stats = 0.0


class _RtpProtocol(asyncio.DatagramProtocol):
    def __init__(self, service: WorkerService, leg: _Leg) -> None:
        self.service = service
        self.leg = leg

    def datagram_received(self, data: bytes, addr: Address | None) -> None:
        leg = self.leg
        endpoint = leg.endpoint
        # uvloop closes the socket when this raises: a bug must cost a packet, not the call
        try:
            if addr is None:  # uvloop reports some datagrams without a source
                return
            out = endpoint.receive(data, addr[:2], time.monotonic())
            if out is not None:
                peer = leg.peer
                if peer is not None and peer.rtp is not None:
                    peer.rtp.sendto(out[0], out[1])
            if endpoint.digits:
                self.service.report_digits(endpoint)
        except Exception:
            _log_packet_error(endpoint)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a phone that went away: the inactivity timer decides.
        pass


class _RtcpProtocol(asyncio.DatagramProtocol):
    def __init__(self, leg: _Leg) -> None:
        self.leg = leg

    def datagram_received(self, data: bytes, addr: Address | None) -> None:
        try:
            if addr is not None:
                self.leg.endpoint.receive_rtcp(data, addr[:2], time.monotonic())
        except Exception:
            _log_packet_error(self.leg.endpoint)

    def error_received(self, exc: Exception) -> None:
        pass


class WorkerService:
    def __init__(
        self,
        index: int,
        ports: PortRange,
        bind: str,
        notify: Callable[[c.Notification], None],
        rng: random.Random | None = None,
    ) -> None:
        self.index = index
        self.bind = bind
        self.notify = notify
        self._rng = rng or random.SystemRandom()
        self._ports = PortAllocator(ports, self._rng)
        self._legs: dict[str, _Leg] = {}
        self._counter = 0
        self._prefix = f"w{index}p{os.getpid()}e"
        self._tick_handle: asyncio.TimerHandle | None = None
        self._dtmf: dict[str, asyncio.Task[None]] = {}  # digits being sent, per endpoint
        self._dtmf_trains = 0
        self.apps = MediaApps(self._legs, notify, lambda e: self._unbridge(self._legs[e]))

    # ---- life cycle ----------------------------------------------------------------

    def start(self) -> None:
        self._tick_handle = asyncio.get_running_loop().call_later(TICK, self._tick)

    def close(self) -> None:
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        for task in list(self._dtmf.values()):
            task.cancel()
        self.apps.close()
        for endpoint_id in list(self._legs):
            self._drop(endpoint_id)

    # ---- commands ------------------------------------------------------------------

    async def execute(self, command: c.Command) -> c.Answer:
        try:
            return await self._dispatch(command)
        except CodecError as exc:
            return c.failed(command.id, c.BAD_REQUEST, str(exc))
        except KeyError as exc:
            return c.failed(command.id, c.NOT_FOUND, f"no endpoint {exc.args[0]!r} here")

    async def _dispatch(self, command: c.Command) -> c.Answer:
        match command:
            case c.CreateEndpoint():
                return await self._create(command)
            case c.ModifyEndpoint():
                leg = self._legs[command.endpoint]
                leg.endpoint.modify(
                    _payloads(command.codecs) if command.codecs else None,
                    _address(command.remote),
                    command.rtp_timeout,
                )
                if command.muted is not None:
                    leg.endpoint.muted = command.muted
                return c.ok(command.id, endpoint=command.endpoint)
            case c.DeleteEndpoint():
                leg = self._legs[command.endpoint]
                stats = leg.endpoint.stats()
                self._drop(command.endpoint)
                return c.ok(command.id, stats=stats)
            case c.Bridge():
                return self._bridge(command)
            case c.Unbridge():
                self._unbridge(self._legs[command.endpoint])
                return c.ok(command.id)
            case c.Loopback():
                return self._loopback(command)
            case c.SendDtmf():
                return self._send_dtmf(command)
            case c.QueryStats():
                if command.endpoint is not None:
                    return c.ok(
                        command.id, endpoints=[self._legs[command.endpoint].endpoint.stats()]
                    )
                return c.ok(
                    command.id,
                    worker=self.index,
                    pid=os.getpid(),
                    free_ports=self._ports.available,
                    endpoints=[leg.endpoint.stats() for leg in self._legs.values()],
                )
            case c.Play():
                return self.apps.play(command)
            case c.Stop():
                return self.apps.stop(command)
            case c.Record():
                return self.apps.record(command)
            case c.StopRecord():
                return self.apps.stop_record(command)
            case c.RecordJoin():
                return self.apps.record_join(command)
            case c.Mix():
                return self.apps.mix(command)
            case c.Unmix():
                return self.apps.unmix(command)
        raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover

    async def _create(self, command: c.CreateEndpoint) -> c.Answer:
        payloads = _payloads(command.codecs)
        remote = _address(command.remote)
        rtp_sock, rtcp_sock, port = self._bind_pair()
        if rtp_sock is None or rtcp_sock is None:
            return c.failed(command.id, c.NO_PORTS, f"worker {self.index} has no free RTP port")
        self._counter += 1
        endpoint_id = f"{self._prefix}{self._counter}"
        now = time.monotonic()
        endpoint = Endpoint(
            endpoint_id, port, payloads, remote, now=now, rng=self._rng,
            rtp_timeout=command.rtp_timeout, rtcp_interval=command.rtcp_interval,
        )  # fmt: skip
        leg = _Leg(endpoint)
        leg.stats_interval = command.stats_interval
        leg.next_stats = now + command.stats_interval
        loop = asyncio.get_running_loop()
        leg.rtp, _ = await loop.create_datagram_endpoint(
            lambda: _RtpProtocol(self, leg), sock=rtp_sock
        )
        leg.rtcp, _ = await loop.create_datagram_endpoint(
            lambda: _RtcpProtocol(leg), sock=rtcp_sock
        )
        self._legs[endpoint_id] = leg
        return c.ok(command.id, endpoint=endpoint_id, port=port, worker=self.index)

    def _bind_pair(self) -> tuple[socket.socket | None, socket.socket | None, int]:
        for _ in range(BIND_ATTEMPTS):
            port = self._ports.take()
            if port is None:
                break
            try:
                rtp = _udp_socket(self.bind, port)
            except OSError:
                continue  # taken by someone else: leave it out of our pool
            try:
                rtcp = _udp_socket(self.bind, port + 1)
            except OSError:
                rtp.close()
                continue
            return rtp, rtcp, port
        return None, None, 0

    def _drop(self, endpoint_id: str) -> None:
        self.apps.endpoint_deleted(endpoint_id)
        leg = self._legs.pop(endpoint_id)
        sending = self._dtmf.pop(endpoint_id, None)
        if sending is not None:
            sending.cancel()
        self._unbridge(leg)
        for transport in (leg.rtp, leg.rtcp):
            if transport is not None:
                transport.close()
        self._ports.give_back(leg.endpoint.port)

    def _bridge(self, command: c.Bridge) -> c.Answer:
        a, b = self._legs[command.a], self._legs[command.b]
        if a is b:
            return c.failed(command.id, c.BAD_REQUEST, "cannot bridge an endpoint to itself")
        for leg in (a, b):
            if leg.peer is not None and leg.peer not in (a, b):
                self._unbridge(leg)
            self.apps.leave_mix(leg.endpoint.id)  # a bridge takes a leg out of its mix
        a.peer, b.peer = b, a
        a.endpoint.peer, b.endpoint.peer = b.endpoint, a.endpoint
        return c.ok(command.id, a=command.a, b=command.b)

    def _loopback(self, command: c.Loopback) -> c.Answer:
        leg = self._legs[command.endpoint]
        self._unbridge(leg)
        self.apps.leave_mix(leg.endpoint.id)
        leg.peer = leg  # its own peer: every packet goes back where it came from
        leg.endpoint.peer = leg.endpoint
        return c.ok(command.id, endpoint=command.endpoint)

    def _unbridge(self, leg: _Leg) -> None:
        peer = leg.peer
        if peer is not None:
            peer.peer = None
            peer.endpoint.peer = None
        leg.peer = None
        leg.endpoint.peer = None

    # ---- DTMF out ------------------------------------------------------------------

    def _send_dtmf(self, command: c.SendDtmf) -> c.Answer:
        leg = self._legs[command.endpoint]
        event_pt = leg.endpoint.payloads.event_pt
        if event_pt is None:
            return c.failed(command.id, c.CONFLICT, "telephone-event was not negotiated")
        if leg.endpoint.latch.send_address is None:
            return c.failed(command.id, c.CONFLICT, "no address to send to yet")
        if command.endpoint in self._dtmf:
            return c.failed(command.id, c.CONFLICT, "digits are being sent already")
        plan: list[tuple[float, int, PlannedPacket]] = []
        start = 0.0
        for digit in command.digits:
            packets = plan_digit(digit, command.duration_ms)
            plan.extend((start, round(start * 8000), p) for p in packets)
            start += packets[-1].delay + DIGIT_GAP
        leg.endpoint.local_until = time.monotonic() + start
        self._dtmf_trains += 1
        source = DTMF_SOURCES[self._dtmf_trains % 2]
        task = asyncio.get_running_loop().create_task(self._play_dtmf(leg, event_pt, plan, source))
        self._dtmf[command.endpoint] = task
        task.add_done_callback(lambda _: self._dtmf.pop(command.endpoint, None))
        return c.ok(command.id, duration_ms=round(start * 1000))

    async def _play_dtmf(
        self, leg: _Leg, event_pt: int, plan: list[tuple[float, int, PlannedPacket]], source: int
    ) -> None:
        began = time.monotonic()
        for seq, (digit_start, digit_ts, packet) in enumerate(plan):
            wait = began + digit_start + packet.delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if leg.rtp is None or leg.rtp.is_closing():
                return
            out = leg.endpoint.local_packet(
                event_pt, packet.marker, seq, digit_ts, packet.payload, time.monotonic(),
                source=source,
            )  # fmt: skip
            if out is not None:
                leg.rtp.sendto(out[0], out[1])

    # ---- timers and notifications --------------------------------------------------

    def report_digits(self, endpoint: Endpoint) -> None:
        for digit, duration, source in endpoint.digits:
            self.notify(
                c.Notification(
                    event="dtmf",
                    endpoint=endpoint.id,
                    data={"digit": digit, "duration_ms": duration, "source": source},
                )
            )
        endpoint.digits.clear()

    def _tick(self) -> None:
        now = time.monotonic()
        wall = time.time()
        try:
            for leg in list(self._legs.values()):
                self._tick_leg(leg, now, wall)
        finally:
            self._tick_handle = asyncio.get_running_loop().call_later(TICK, self._tick)

    def _tick_leg(self, leg: _Leg, now: float, wall: float) -> None:
        endpoint = leg.endpoint
        if endpoint.check_timeout(now):
            self.notify(
                c.Notification(
                    event="rtp_timeout",
                    endpoint=endpoint.id,
                    data={"silent_seconds": round(now - endpoint.last_rx, 1)},
                )
            )
        if now >= endpoint.next_rtcp and leg.rtcp is not None:
            report = endpoint.rtcp_report(now, wall)
            if report is not None:
                leg.rtcp.sendto(report[0], report[1])
        if leg.stats_interval and now >= leg.next_stats:
            leg.next_stats = now + leg.stats_interval
            self.notify(
                c.Notification(event="endpoint_stats", endpoint=endpoint.id, data=endpoint.stats())
            )


def _log_packet_error(endpoint: Endpoint) -> None:
    endpoint.counters["errors"] += 1
    if endpoint.counters["errors"] == 1:  # once per endpoint: a flood must not flood the log
        log.exception("endpoint %s: packet handling failed", endpoint.id)


def _payloads(codecs: list[c.CodecSpec]) -> PayloadMap:
    return PayloadMap.from_pairs([(spec.pt, spec.name) for spec in codecs])


def _address(remote: c.Remote | None) -> Address | None:
    return None if remote is None else (remote.host, remote.port)


def _udp_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
