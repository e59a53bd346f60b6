"""What one UDP source address may cost the stack before anything is known about it.

A UDP source address proves nothing (anyone can forge it), so nothing here bans:
over its limits a source's datagrams are dropped unread, and it recovers as soon as
its traffic falls back under them. Two limits, both per source host:

- **messages a second**: a plain count over one-second windows, one dict update per
  datagram. A source still flooding when a window ends is dropped for the whole next
  one too, so a sustained flood is parsed for its first second only and costs a dict
  lookup per datagram after that; a burst that stopped is heard again in the next
  window, a sustained flood one second after it stops. A known peer (``protected``:
  a live registration, a trunk) is never carried over: it is capped per window only,
  so a flood forged in its name does not keep it out past the current second;
- **loop time**: the seconds the stack spent parsing and dispatching the source's
  datagrams, charged after each one and paid back at ``cpu_share`` seconds per
  second (a leaky bucket of ``burst`` seconds). A thousand-Contact REGISTER costs a
  hundred ordinary ones; a message count alone would let it through.

The limiter is sans-IO: the stack passes the clock and measures the cost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

log = logging.getLogger(__name__)

# a second, per source: a thousand phones behind one NAT re-registering at once
DEFAULT_MESSAGES: Final = 3_000
DEFAULT_CPU_SHARE: Final = 0.25  # a quarter of the loop per source: thousands of REGISTERs a second
DEFAULT_BURST: Final = 1.0  # seconds of loop time a quiet source may spend at once (and GC pauses)
MAX_TRACKED: Final = 100_000
# a source dropped this close to the end of a window is taken to be flooding still
FLOOD_STILL_ON: Final = 0.1


class UdpSourceLimiter:
    def __init__(
        self,
        clock: Callable[[], float],
        *,
        messages_per_second: int = DEFAULT_MESSAGES,
        cpu_share: float = DEFAULT_CPU_SHARE,
        burst: float = DEFAULT_BURST,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        """``messages_per_second`` or ``cpu_share`` 0 turns that limit off."""
        self._clock = clock
        self.messages_per_second = messages_per_second
        self.cpu_share = cpu_share
        self.burst = burst
        self._max_tracked = max_tracked
        self._counts: dict[str, int] = {}
        self._flooding: set[str] = set()  # still over the limit when the last window ended
        self._last_drop: dict[str, float] = {}  # host -> when its datagram was last dropped
        self._window_end = 0.0
        # host -> [loop seconds owed, when last settled]
        self._owed: dict[str, list[float]] = {}
        self.dropped_for_volume = 0
        # told of every datagram over the volume limit (kilopbx.sip.udp_mute)
        self.on_volume_drop: Callable[[str], None] | None = None
        # known peers (kilopbx.engine.sip_service): never dropped past the current window
        self.protected: Callable[[str], bool] = lambda _host: False
        self.dropped_for_cost = 0

    def admit(self, host: str) -> bool:
        """Before parsing: False drops the datagram unread."""
        now = self._clock()
        if now >= self._window_end:
            self._new_window(now)
        if self.messages_per_second > 0:
            count = self._counts.get(host, 0) + 1
            self._counts[host] = count
            if count > self.messages_per_second or host in self._flooding:
                self._last_drop[host] = now
                if count == self.messages_per_second + 1 and host not in self._flooding:
                    log.warning(
                        "SIP: over %d datagrams a second from %s, dropping", count - 1, host
                    )
                self.dropped_for_volume += 1
                if count > self.messages_per_second and self.on_volume_drop is not None:
                    self.on_volume_drop(host)
                return False
        owed = self._owed.get(host)
        if owed is not None and self._settle(owed, now) > self.burst:
            self.dropped_for_cost += 1
            return False
        return True

    def charge(self, host: str, seconds: float) -> None:
        """After parsing and dispatching: what that datagram cost the loop."""
        if self.cpu_share <= 0:
            return
        owed = self._owed.get(host)
        if owed is None:
            if len(self._owed) >= self._max_tracked:
                return  # full of forged sources: let the volume limit do the work
            self._owed[host] = [seconds, self._clock()]
            return
        self._settle(owed, self._clock())
        owed[0] += seconds
        if owed[0] > self.burst and owed[0] - seconds <= self.burst:
            log.warning("SIP: %s costs more than its share of the loop, dropping", host)

    def owed(self, host: str) -> float:
        owed = self._owed.get(host)
        return 0.0 if owed is None else self._settle(owed, self._clock())

    def _settle(self, owed: list[float], now: float) -> float:
        paid = (now - owed[1]) * self.cpu_share
        owed[0] = max(0.0, owed[0] - paid)
        owed[1] = now
        return owed[0]

    def _new_window(self, now: float) -> None:
        # dropping until the end of the window that just ended: the flood goes on
        still = self._window_end - FLOOD_STILL_ON
        protected = self.protected
        self._flooding = {
            host for host, at in self._last_drop.items() if at >= still and not protected(host)
        }
        self._last_drop.clear()
        self._counts.clear()
        self._window_end = now + 1.0
        if self._owed:
            # sources that have paid their debt back are forgotten
            settled = [host for host, owed in self._owed.items() if self._settle(owed, now) <= 0]
            for host in settled:
                del self._owed[host]

    @property
    def tracked(self) -> int:
        return len(self._owed)
