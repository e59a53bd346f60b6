"""Connection slots of the API port: what a connection may cost us before its request has
fully arrived.

A connection is *waiting* from accept until its whole request (headers and body) is in;
then it is *served* until it closes. Waiting connections are what silent and trickling
clients hold, so only they are ever evicted, and they are bounded three ways:

- time: a byte at least every ``idle_timeout`` seconds, the whole request within
  ``request_timeout`` of the accept;
- per address: a newcomer beyond ``max_waiting_per_address`` evicts that address's
  least recently active waiting connection once it has been idle for ``grace`` (a
  client that opens a burst of connections writes its requests a moment later);
- in all: beyond ``max_connections`` open connections, the least recently active
  waiting connection of the address holding the most is evicted.

A newcomer is never refused while someone else's waiting connection can make room, so a
flood from a few addresses evicts its own connections first and cannot lock out a client
that sends its request at once. Only when every open connection is being served (or the
descriptor budget is spent) is the newcomer itself closed.

No sockets here: the listener hands in connections with an ``abort()``; time comes from
the injected clock.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

from kilopbx.connection_slots import ConnectionSlots

log = logging.getLogger(__name__)

FIRST_BYTE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class ApiConnectionLimits:
    max_connections: int = 2048  # open API connections, waiting or served (descriptors)
    max_waiting_per_address: int = 32
    grace: float = 1.0
    idle_timeout: float = FIRST_BYTE_TIMEOUT  # silence allowed while the request is incomplete
    request_timeout: float = 10.0  # accept to the last byte of the request

    @classmethod
    def within(
        cls, max_connections: int, *, per_address: int, request_timeout: float
    ) -> ApiConnectionLimits:
        return cls(
            max_connections=max_connections,
            max_waiting_per_address=per_address,
            idle_timeout=min(FIRST_BYTE_TIMEOUT, request_timeout),
            request_timeout=request_timeout,
        )


class GuardedConnection(Protocol):
    address: str
    accepted_at: float
    last_active: float

    def abort(self) -> None:
        """Close at once, unanswered; the listener then calls ``release``."""
        ...


class ConnectionGuard:
    """Admission, eviction and deadlines for the API's connections (shared by the plain
    and the TLS-only listener)."""

    def __init__(self, limits: ApiConnectionLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._waiting: ConnectionSlots[GuardedConnection] = ConnectionSlots()
        self._open: set[GuardedConnection] = set()
        self._by_key: dict[Hashable, GuardedConnection] = {}
        self._key_of: dict[GuardedConnection, Hashable] = {}
        # (request deadline, connection) in accept order, so already sorted by deadline
        self._deadlines: deque[tuple[float, GuardedConnection]] = deque()
        self.evicted = 0
        self.refused = 0
        self.expired = 0

    @property
    def open_count(self) -> int:
        return len(self._open)

    @property
    def waiting_count(self) -> int:
        return len(self._waiting)

    def admit(self, connection: GuardedConnection) -> bool:
        """Take a just-accepted connection, making room if needed; False: close it."""
        limits = self.limits
        address = connection.address
        now = self._clock()
        if self._waiting.count(address) >= limits.max_waiting_per_address:
            oldest = self._waiting.oldest(address)
            if oldest is not None and oldest.last_active <= now - limits.grace:
                self._evict(oldest)
        if len(self._open) >= limits.max_connections:
            self._evict(self._waiting.eviction_candidate())
        if len(self._open) >= limits.max_connections:
            self.refused += 1
            return False
        connection.accepted_at = connection.last_active = now
        self._open.add(connection)
        self._waiting.add(address, connection)
        self._deadlines.append((now + limits.request_timeout, connection))
        return True

    def attach(self, connection: GuardedConnection, key: Hashable) -> None:
        """Name the connection by a key the request handler sees (its transport)."""
        if connection in self._open:
            self._by_key[key] = connection
            self._key_of[connection] = key

    def active(self, connection: GuardedConnection) -> None:
        """Bytes arrived: the connection is not idle."""
        if connection in self._waiting:
            connection.last_active = self._clock()
            self._waiting.touch(connection)

    def arrived(self, key: Hashable) -> None:
        """The request on that connection is fully in: it may no longer be evicted."""
        connection = self._by_key.get(key)
        if connection is not None:
            self._waiting.remove(connection)

    def release(self, connection: GuardedConnection) -> None:
        """The connection is closed (any reason); its slots are free."""
        self._open.discard(connection)
        self._waiting.remove(connection)
        key = self._key_of.pop(connection, None)
        if key is not None:
            self._by_key.pop(key, None)

    def expire(self) -> None:
        """Abort waiting connections past their deadlines; cost O(expired)."""
        now = self._clock()
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, connection = deadlines.popleft()
            if connection in self._waiting:
                self.expired += 1
                self._abort(connection)
        idle_since = now - self.limits.idle_timeout
        while (oldest := self._waiting.oldest()) is not None and oldest.last_active <= idle_since:
            self.expired += 1
            self._abort(oldest)
        # served connections leave their entries behind; keep the queue bounded
        if len(deadlines) > 4 * max(len(self._open), 1024):
            self._deadlines = deque(item for item in deadlines if item[1] in self._waiting)

    def abort_all(self) -> None:
        for connection in list(self._open):
            self._abort(connection)

    def _evict(self, connection: GuardedConnection | None) -> None:
        if connection is not None:
            self.evicted += 1
            self._abort(connection)

    def _abort(self, connection: GuardedConnection) -> None:
        try:
            connection.abort()
        except Exception:  # a close that fails must not keep the slot
            log.exception("closing an API connection failed")
        self.release(connection)
