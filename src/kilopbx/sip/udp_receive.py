"""The per-datagram path of the UDP transport: the cheap checks that come before any
parsing, then the hand-over to the stack.

Split out of ``transport_udp`` so that it is compiled (see ``scripts/compile.py``):
the transport is an asyncio protocol with a coroutine, and stays interpreted. The
transport makes this receiver's ``datagram_received`` its own, so the event loop calls
the compiled code directly, once per datagram.
"""

from __future__ import annotations

from typing import Final

from kilopbx.sip.transport import IncomingSink, RateLimitedLog, Source
from kilopbx.sip.udp_pressure import UdpPressure

# Shorter than any request line plus the mandatory headers: not worth parsing.
MIN_MESSAGE_SIZE: Final = 16
# Every request and status line carries the version within its first bytes.
SIP_VERSION: Final = b"SIP/2.0"
START_LINE_WINDOW: Final = 2048


class UdpReceiver:
    def __init__(self, sink: IncomingSink, log: RateLimitedLog) -> None:
        self.sink = sink
        self.log = log
        # sees every datagram first (kilopbx.sip.udp_pressure); set after start
        self.pressure: UdpPressure | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        host, port = addr[0], addr[1]
        try:  # one bad datagram must never take the endpoint down
            pressure = self.pressure
            if pressure is not None and not pressure.admit(host):
                return  # a top talker muted while the receive queue was filling up
            if len(data) < MIN_MESSAGE_SIZE:
                return  # includes the CRLF keep-alives some phones send over UDP
            if data.find(SIP_VERSION, 0, START_LINE_WINDOW) < 0:
                return  # not SIP at all: a garbage flood stops here, before any decoding
            sink = self.sink
            if not sink.allow_source(host):
                return
            sink.datagram_received(data, Source("udp", host, port))
        except Exception:
            self.log.exception("unexpected error handling a datagram from %s:%s", host, port)
