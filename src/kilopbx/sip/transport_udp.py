"""SIP over UDP: one datagram endpoint; every datagram is a whole message (§18.1.1)."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import socket
import struct
import sys
from typing import cast

from kilopbx.sip.transport import IncomingSink, RateLimitedLog
from kilopbx.sip.udp_pressure import QueueReading, UdpPressure
from kilopbx.sip.udp_receive import UdpReceiver

logger = logging.getLogger(__name__)

SO_ATTACH_FILTER = 26  # linux/filter.h; not in the socket module
SO_MEMINFO = 55  # asm-generic/socket.h: u32 counters, SK_MEMINFO_RMEM_ALLOC first
_MEMINFO_BYTES = 8  # SK_MEMINFO_RMEM_ALLOC and SK_MEMINFO_RCVBUF


class UdpTransport(asyncio.DatagramProtocol):
    def __init__(self, sink: IncomingSink) -> None:
        self._sink = sink
        self._transport: asyncio.DatagramTransport | None = None
        self._log = RateLimitedLog(logger)
        self._receiver = UdpReceiver(sink, self._log)
        if type(self).datagram_received is UdpTransport.datagram_received:
            # The event loop looks the method up on the instance at each datagram: it
            # finds the compiled receiver's, one interpreted call fewer per datagram.
            self.datagram_received = self._receiver.datagram_received  # type: ignore[method-assign]

    @property
    def pressure(self) -> UdpPressure | None:
        """Sees every datagram first (kilopbx.sip.udp_pressure); set after start."""
        return self._receiver.pressure

    @pressure.setter
    def pressure(self, pressure: UdpPressure | None) -> None:
        self._receiver.pressure = pressure

    @classmethod
    async def listen(cls, sink: IncomingSink, host: str, port: int) -> UdpTransport:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: cls(sink), local_addr=(host, port)
        )
        protocol._transport = transport  # uvloop reports connection_made a turn later
        return protocol

    @property
    def local_address(self) -> tuple[str, int]:
        assert self._transport is not None
        host, port = self._transport.get_extra_info("sockname")[:2]
        return host, port

    @property
    def receive_buffer(self) -> int | None:
        """The socket's SO_RCVBUF as the kernel reports it (Linux doubles the request)."""
        sock = self._socket()
        return None if sock is None else int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))

    def set_receive_buffer(self, size: int) -> None:
        """Room for bursts before the kernel drops datagrams; capped by net.core.rmem_max."""
        sock = self._socket()
        if sock is None:
            return
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        except OSError as exc:
            logger.warning("cannot set the SIP UDP receive buffer to %s bytes: %s", size, exc)

    def receive_queue(self) -> QueueReading | None:
        """How full the socket's receive queue is (SO_MEMINFO; None off Linux)."""
        sock = self._socket()
        if sock is None or not sys.platform.startswith("linux"):
            return None
        raw = sock.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, _MEMINFO_BYTES)
        if len(raw) < _MEMINFO_BYTES:
            return None
        queued, capacity = struct.unpack("II", raw[:_MEMINFO_BYTES])
        return QueueReading(queued, capacity)

    def attach_filter(self, program: list[tuple[int, int, int, int]]) -> bool:
        """Install a classic BPF socket filter (``kilopbx.sip.udp_mute``); False where
        the platform or the socket (IPv6) cannot take it."""
        sock = self._socket()
        if sock is None or sock.family != socket.AF_INET or not sys.platform.startswith("linux"):
            return False
        raw = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
        code = ctypes.create_string_buffer(raw, len(raw))
        fprog = struct.pack("HL", len(program), ctypes.addressof(code))
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        return True

    def _socket(self) -> socket.socket | None:
        if self._transport is None:
            return None
        sock: socket.socket | None = self._transport.get_extra_info("socket")
        return sock

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.DatagramTransport: no isinstance here.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._receiver.datagram_received(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and friends: the transaction timers deal with the loss.
        self._log.debug("UDP error: %s", exc)

    def send(self, data: bytes, host: str, port: int) -> bool:
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        if not 0 < port <= 65535:
            # The stdlib loop treats sendto's OverflowError as fatal and closes the
            # listener for good; uvloop raises or drops. Refuse it here on both.
            self._log.debug("UDP send to %s:%s refused: bad port", host, port)
            return False
        try:
            transport.sendto(data, (host, port))
        except (OSError, ValueError) as exc:
            self._log.debug("UDP send to %s:%s failed: %s", host, port, exc)
            return False
        except Exception:  # one bad destination must never take the endpoint down
            self._log.exception("UDP send to %s:%s failed", host, port)
            return False
        return True

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
