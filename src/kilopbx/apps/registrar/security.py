"""Defences of the SIP door: a failure-counting ban list per source IP and the scanner
User-Agent filter.

The ban check runs before a datagram is parsed, so it is one dict lookup; the
counting only happens on the (rare) failure path. Only what the real owner of an
address can do earns a ban (a failed digest answer to a nonce bound to that address,
a scanner over TCP). Volume is the stack's business (``kilopbx.sip.source_limits``):
it drops and never bans, because a UDP source address can be forged and a ban would
lock out whoever really owns it.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable
from typing import Final

log = logging.getLogger(__name__)

# Lower-case fragments of User-Agent / From display names used by SIP scanners.
SCANNER_AGENTS: Final = (
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "vaxsipuseragent",
    "sundayddr",
    "iwar",
    "sip-scan",
    "sipsak",
    "smap",
    "pplsip",
    "sivus",
    "voipbuster",
    "sipscan",
    "siparmyknife",
)


# Searched in the lower-cased text: a case-insensitive alternation costs six times more,
# and it runs on two headers of every request.
_SCANNER_RE: Final = re.compile("|".join(re.escape(name.lower()) for name in SCANNER_AGENTS))


def is_scanner(user_agent: str | None) -> bool:
    return bool(user_agent) and _SCANNER_RE.search(user_agent.lower()) is not None  # type: ignore[union-attr]


class BanList:
    """Counts failures per source IP in a sliding window; ``threshold`` failures within
    ``window`` seconds ban the IP for ``ban_seconds``. Addresses in ``exempt`` (say, the
    PBX's own host) are never banned.

    At most ``max_banned`` bans are held: expired ones are pruned every
    ``PRUNE_INTERVAL`` seconds (on the next ban), and when still
    full the oldest ban makes room, so a flood of sources cannot grow memory unbounded.
    """

    PRUNE_INTERVAL: Final = 60.0

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        threshold: int = 10,
        window: float = 60.0,
        ban_seconds: float = 600.0,
        exempt: frozenset[str] = frozenset(),
        max_tracked: int = 100_000,
        max_banned: int = 100_000,
    ) -> None:
        self._clock = clock
        self.threshold = threshold
        self.window = window
        self.ban_seconds = ban_seconds
        self.exempt = exempt
        self._max_tracked = max_tracked
        self._failures: dict[str, deque[float]] = {}
        self._banned: dict[str, float] = {}  # ip -> ban end (clock seconds), oldest first
        self._max_banned = max(1, max_banned)
        self._next_prune = 0.0

    def is_banned(self, ip: str) -> bool:
        until = self._banned.get(ip)
        if until is None:
            return False
        if self._clock() < until:
            return True
        del self._banned[ip]
        return False

    def allow(self, ip: str) -> bool:
        """The stack's pre-parse hook: False drops the message unread."""
        return not (self._banned and self.is_banned(ip))

    def failed(self, ip: str) -> bool:
        """Record one failure; True when this failure bans the IP."""
        if self.threshold <= 0 or ip in self.exempt:
            return False
        now = self._clock()
        times = self._failures.get(ip)
        if times is None:
            if len(self._failures) >= self._max_tracked:
                self._forget_old(now)
            times = self._failures[ip] = deque()
        times.append(now)
        horizon = now - self.window
        while times and times[0] < horizon:
            times.popleft()
        if len(times) < self.threshold:
            return False
        del self._failures[ip]
        self._ban(ip, now, "repeated failures")
        return True

    def _ban(self, ip: str, now: float, why: str) -> None:
        banned = self._banned
        banned.pop(ip, None)  # a renewed ban moves to the young end
        if now >= self._next_prune or len(banned) >= self._max_banned:
            self._prune(now)
        while len(banned) >= self._max_banned:
            del banned[next(iter(banned))]  # the oldest ban, also the first to end
        banned[ip] = now + self.ban_seconds
        log.warning("SIP: banning %s for %.0f s (%s)", ip, self.ban_seconds, why)

    def _prune(self, now: float) -> None:
        """Drop the bans that have ended."""
        self._next_prune = now + self.PRUNE_INTERVAL
        ended = [ip for ip, until in self._banned.items() if until <= now]
        for ip in ended:
            del self._banned[ip]

    @property
    def banned_count(self) -> int:
        """Entries held, ended or not (ended ones go at the next prune)."""
        return len(self._banned)

    def unban(self, ip: str) -> None:
        self._banned.pop(ip, None)
        self._failures.pop(ip, None)

    def banned(self) -> list[str]:
        now = self._clock()
        return [ip for ip, until in self._banned.items() if until > now]

    def _forget_old(self, now: float) -> None:
        horizon = now - self.window
        stale = [ip for ip, times in self._failures.items() if not times or times[-1] < horizon]
        for ip in stale:
            del self._failures[ip]
        if len(self._failures) >= self._max_tracked:  # still full: drop the oldest half
            for ip in list(self._failures)[: self._max_tracked // 2]:
                del self._failures[ip]
