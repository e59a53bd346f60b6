"""Drop a flooding UDP source in the kernel, before it costs the event loop anything.

The per-source limiter (``kilopbx.sip.source_limits``) drops a source's datagrams
beyond its volume limit unparsed, but each one still costs a trip through the event
loop (a system call, a bytes object, a Python callback). One address sending garbage as
fast as a single thread can outruns that, the socket's receive buffer overflows, and
the kernel then drops datagrams of every source alike: a phone's REGISTER among them
waits for its retransmission.

``KernelMute`` keeps a short list of muted IPv4 addresses in a classic BPF socket
filter (``SO_ATTACH_FILTER``), which the kernel runs before it queues a datagram, so a
muted source's datagrams never reach the buffer. A source is muted when the limiter
drops it for volume, for one second at first and twice as long each time it is still
flooding when heard again (up to ``MAX_SECONDS``); a source quiet for a while starts
over at one second. A source heard again starts afresh with the limiter: a flood that
goes on costs one second's allowance of parsed datagrams per mute (then 2, 4, 8 s
apart), and a phone whose address a forged burst used is heard again when its mute
ends. At most ``MAX_MUTED``
addresses are muted at once (a forged-source flood from many addresses is the
limiter's work: each address is cheap to drop there).
Only volume mutes: the address of a datagram can be forged, and a mute is short.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

MAX_MUTED = 64
FIRST_SECONDS = 1.0
MAX_SECONDS = 8.0  # also how long a forged flood can keep its victim out after it ends
FORGET_AFTER = 60.0  # quiet this long after a mute: the next one starts over

# classic BPF (linux/filter.h)
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_RET_K = 0x06
_SKF_NET_OFF = -0x100000  # offsets from the network header: the IPv4 source is at 12
ACCEPT, DROP = 0xFFFFFFFF, 0

Instruction = tuple[int, int, int, int]


def drop_sources_program(hosts: list[str]) -> list[Instruction]:
    """A socket filter that drops datagrams from ``hosts`` (IPv4) and accepts the rest."""
    if len(hosts) > 250:
        raise ValueError("too many addresses for one filter")
    program: list[Instruction] = [(_LD_W_ABS, 0, 0, (_SKF_NET_OFF + 12) & 0xFFFFFFFF)]
    count = len(hosts)
    for index, host in enumerate(hosts):
        address = struct.unpack("!I", socket.inet_aton(host))[0]
        program.append((_JEQ_K, count - index, 0, address))  # equal: jump to DROP
    program.append((_RET_K, 0, 0, ACCEPT))
    program.append((_RET_K, 0, 0, DROP))
    return program


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class KernelMute:
    def __init__(
        self,
        attach: Callable[[list[Instruction]], bool],
        clock: Callable[[], float],
        call_later: Callable[[float, Callable[[], None]], Cancellable],
        *,
        protected: Callable[[str], bool] = lambda _host: False,
    ) -> None:
        """``attach(program)`` installs a filter on the socket (False: not possible);
        ``protected(host)``: a known peer (a live registration, a trunk), never muted."""
        self._attach = attach
        self._protected = protected
        self._clock = clock
        self._call_later = call_later
        self._muted: dict[str, float] = {}  # host -> muted until
        self._history: dict[str, tuple[float, float]] = {}  # host -> (last length, until)
        self._timer: Cancellable | None = None
        self.enabled = True
        self.mutes = 0

    @property
    def muted(self) -> list[str]:
        return list(self._muted)

    def mute(self, host: str) -> None:
        """The limiter dropped a datagram of ``host`` for volume."""
        if not self.enabled or host in self._muted or len(self._muted) >= MAX_MUTED:
            return
        if self._protected(host):
            return  # volume alone never mutes a known peer: its address may be forged
        if ":" in host:
            return  # the filter reads IPv4 headers only
        now = self._clock()
        seconds = FIRST_SECONDS
        previous = self._history.get(host)
        if previous is not None and now - previous[1] < FORGET_AFTER:
            seconds = min(MAX_SECONDS, previous[0] * 2)
        self._muted[host] = now + seconds
        self._history[host] = (seconds, now + seconds)
        if not self._install():
            return
        self.mutes += 1
        log.warning("SIP: %s floods, its UDP datagrams are dropped for %.0f s", host, seconds)
        self._arm()

    def _install(self) -> bool:
        try:
            installed = self._attach(drop_sources_program(sorted(self._muted)))
        except (OSError, ValueError) as exc:
            log.warning("SIP: cannot filter UDP sources in the kernel: %s", exc)
            installed = False
        if not installed:
            self.enabled = False
            self._muted.clear()
        return installed

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._muted:
            delay = max(0.0, min(self._muted.values()) - self._clock())
            self._timer = self._call_later(delay, self._expire)

    def _expire(self) -> None:
        self._timer = None
        now = self._clock()
        for host in [h for h, until in self._muted.items() if until <= now]:
            del self._muted[host]
        for host in [h for h, (_, until) in self._history.items() if now - until > FORGET_AFTER]:
            del self._history[host]
        if self._install():
            self._arm()
