"""Mute the top talkers of the SIP UDP socket while its receive buffer fills up.

The per-source limiter (``kilopbx.sip.source_limits``) mutes a source once it has
read 3,000 of its datagrams in a second. On a starved machine the stack reads fewer
than that while one address's flood overflows the socket's receive buffer, and the
kernel then drops every source's datagrams alike: a phone's REGISTER waits for its
retransmission, or for the next one. Garbage without "SIP/2.0" never reaches the
limiter at all.

``UdpPressure`` sees every datagram first (before any other check) and keeps the
sources of the last ``window`` datagrams in a ring with a count per source. Every
``check_every`` datagrams it asks the socket how full its receive queue is (one
``getsockopt``); at half full or more, each source with at least ``share`` of the
window and at least ``minimum`` datagrams in it is muted: its datagrams are dropped
on arrival, here for ``mute_seconds`` and in the kernel through ``on_mute``
(``kilopbx.sip.udp_mute``), so the queue drains and other sources are heard again.

The queue's fill is the signal, not the kernel's drop counter: datagrams the kernel
filter drops for a mute count as drops too, and would read as pressure for ever.

Mutes are short and are drops, never bans: the source address of a datagram may be
forged. Addresses ``protected`` says are known (a live registration, a configured
trunk) are never muted on volume; the limiter still drops their excess unparsed.

Sans-IO: the clock, the queue reading and the mute are injected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

log = logging.getLogger(__name__)

WINDOW: Final = 512
SHARE: Final = 0.05
MINIMUM: Final = 20
CHECK_EVERY: Final = 64
MUTE_SECONDS: Final = 1.0
PRESSURE_FILL: Final = 0.5  # of the receive buffer in use
SPARED_LOG_INTERVAL: Final = 60.0  # a known address that floods is logged this often at most
MAX_SPARED_LOGGED: Final = 1_024


@dataclass(frozen=True, slots=True)
class QueueReading:
    """The socket's receive queue: bytes in use and the buffer's size (kernel units)."""

    queued: int
    capacity: int

    @property
    def pressed(self) -> bool:
        return self.capacity > 0 and self.queued >= self.capacity * PRESSURE_FILL


class UdpPressure:
    def __init__(
        self,
        clock: Callable[[], float],
        read_queue: Callable[[], QueueReading | None],
        *,
        protected: Callable[[str], bool] = lambda _host: False,
        on_mute: Callable[[str], None] | None = None,
        window: int = WINDOW,
        share: float = SHARE,
        minimum: int = MINIMUM,
        check_every: int = CHECK_EVERY,
        mute_seconds: float = MUTE_SECONDS,
    ) -> None:
        if window <= 0 or check_every <= 0:
            raise ValueError("window and check_every must be positive")
        self._clock = clock
        self._read_queue = read_queue
        self.protected = protected
        self.on_mute = on_mute
        self._ring: list[str | None] = [None] * window
        self._next = 0
        self._filled = 0
        self._counts: dict[str, int] = {}
        self._share = share
        self._minimum = minimum
        self._check_every = check_every
        self._since_check = 0
        self._mute_seconds = mute_seconds
        self._muted: dict[str, float] = {}  # host -> muted until
        self._spared_logged: dict[str, float] = {}
        self.mutes = 0
        self.dropped = 0
        self.pressed_checks = 0

    @property
    def muted(self) -> list[str]:
        return list(self._muted)

    def admit(self, host: str) -> bool:
        """Every datagram, first thing: False drops it (its source is muted)."""
        if self._muted:
            until = self._muted.get(host)
            if until is not None:
                if self._clock() < until:
                    self.dropped += 1
                    return False
                del self._muted[host]
        ring = self._ring
        counts = self._counts
        old = ring[self._next]
        if old is not None:
            left = counts[old] - 1
            if left:
                counts[old] = left
            else:
                del counts[old]
        else:
            self._filled += 1
        ring[self._next] = host
        counts[host] = counts.get(host, 0) + 1
        self._next = (self._next + 1) % len(ring)
        self._since_check += 1
        if self._since_check >= self._check_every:
            self._since_check = 0
            self._check()
        return True

    def top_talkers(self) -> list[tuple[str, int]]:
        """Sources over the share of the window, busiest first."""
        threshold = max(self._minimum, self._share * self._filled)
        found = [(host, count) for host, count in self._counts.items() if count >= threshold]
        found.sort(key=lambda item: -item[1])
        return found

    def _check(self) -> None:
        try:
            reading = self._read_queue()
        except OSError:
            reading = None
        if reading is None or not reading.pressed:
            return
        self.pressed_checks += 1
        now = self._clock()
        for host, count in self.top_talkers():
            if host in self._muted:
                continue
            if self.protected(host):
                self._log_spared(host, count, now)
                continue
            self._mute(host, count, reading, now)

    def _mute(self, host: str, count: int, reading: QueueReading, now: float) -> None:
        self._muted[host] = now + self._mute_seconds
        self.mutes += 1
        log.warning(
            "SIP: UDP receive queue %d%% full, %s sent %d of the last %d datagrams: "
            "dropping its datagrams",
            100 * reading.queued // reading.capacity,
            host,
            count,
            self._filled,
        )
        if self.on_mute is not None:
            self.on_mute(host)

    def _log_spared(self, host: str, count: int, now: float) -> None:
        last = self._spared_logged.get(host)
        if last is not None and now - last < SPARED_LOG_INTERVAL:
            return
        if len(self._spared_logged) >= MAX_SPARED_LOGGED:
            self._spared_logged.clear()
        self._spared_logged[host] = now
        log.warning(
            "SIP: UDP receive queue under pressure; %s sent %d of the last %d datagrams "
            "but is a known peer (registered or a trunk): not muted",
            host,
            count,
            self._filled,
        )
