"""The registrar's binding table (RFC 3261 §10.3), sans IO.

``RegistrarCore`` holds the bindings of every extension in memory, applies one
authenticated REGISTER at a time (all-or-nothing), expires bindings, tracks
reachability and derives each extension's aggregated status. It tells the outside
world through two callbacks: ``on_status(number, status, ip)`` when the aggregated
status changes (80-events §4.3 rules) and ``on_dirty(number)`` when an extension's
bindings must be written to the database.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from kilopbx.clock import Clock

REGISTERED: Final = "Registered"
UNREGISTERED: Final = "Unregistered"


@dataclass(slots=True)
class Binding:
    """One registered contact of an extension and the path to reach it."""

    number: str
    uri: str  # Contact URI as the device sent it
    call_id: str
    cseq: int
    expires_at: float  # wall-clock seconds
    transport: str  # where the REGISTER came from (RFC 3581): we send there
    host: str
    port: int
    user_agent: str = ""
    updated_at: float = 0.0
    reachable: bool = True

    def __init__(
        self,
        number: str,
        uri: str,
        call_id: str,
        cseq: int,
        expires_at: float,
        transport: str,
        host: str,
        port: int,
        user_agent: str = "",
        updated_at: float = 0.0,
        reachable: bool = True,
    ) -> None:
        # Written out, not left to @dataclass: its generated __init__ is interpreted
        # Python, which a compiled class pays for at every construction (docs/decisions.md).
        self.number = number
        self.uri = uri
        self.call_id = call_id
        self.cseq = cseq
        self.expires_at = expires_at
        self.transport = transport
        self.host = host
        self.port = port
        self.user_agent = user_agent
        self.updated_at = updated_at
        self.reachable = reachable

    def remaining(self, now: float) -> int:
        return max(0, round(self.expires_at - now))


@dataclass(frozen=True, slots=True)
class ExpiryLimits:
    minimum: int = 60  # shorter non-zero requests get 423 with Min-Expires
    maximum: int = 3600  # longer requests are shortened to this
    default: int = 3600  # when neither the contact nor the request says


@dataclass(slots=True)
class RegisterRequest:
    """What the registrar needs from an authenticated REGISTER."""

    number: str
    call_id: str
    cseq: int
    contacts: list[tuple[str, int | None]]  # (uri, expires parameter)
    wildcard: bool = False
    expires: int | None = None  # Expires header
    transport: str = "udp"
    host: str = ""
    port: int = 0
    user_agent: str = ""

    def __init__(
        self,
        number: str,
        call_id: str,
        cseq: int,
        contacts: list[tuple[str, int | None]],
        wildcard: bool = False,
        expires: int | None = None,
        transport: str = "udp",
        host: str = "",
        port: int = 0,
        user_agent: str = "",
    ) -> None:
        # Written out, not left to @dataclass: its generated __init__ is interpreted
        # Python, which a compiled class pays for at every construction (docs/decisions.md).
        self.number = number
        self.call_id = call_id
        self.cseq = cseq
        self.contacts = contacts
        self.wildcard = wildcard
        self.expires = expires
        self.transport = transport
        self.host = host
        self.port = port
        self.user_agent = user_agent


@dataclass(slots=True)
class RegisterResult:
    status: int
    reason: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)  # current, for the 200

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        bindings: list[Binding] | None = None,
    ) -> None:
        # Written out, not left to @dataclass: its generated __init__ is interpreted
        # Python, which a compiled class pays for at every construction (docs/decisions.md).
        self.status = status
        self.reason = reason
        self.headers = [] if headers is None else headers
        self.bindings = [] if bindings is None else bindings


StatusListener = Callable[[str, str, str | None], None]
DirtyListener = Callable[[str], None]


class RegistrarCore:
    def __init__(
        self,
        clock: Clock,
        limits: ExpiryLimits | None = None,
        *,
        on_status: StatusListener | None = None,
        on_dirty: DirtyListener | None = None,
    ) -> None:
        self._clock = clock
        self.limits = limits or ExpiryLimits()
        self._on_status = on_status or (lambda _n, _s, _i: None)
        self._on_dirty = on_dirty or (lambda _n: None)
        self._bindings: dict[str, list[Binding]] = {}
        self._published: dict[str, tuple[str, str | None]] = {}
        self._heap: list[tuple[float, str]] = []  # (expires_at, number), lazily cleaned

    # -- queries ---------------------------------------------------------------------------

    def clock_now(self) -> float:
        return self._clock.now()

    def bindings(self, number: str) -> list[Binding]:
        return list(self._bindings.get(number, ()))

    def numbers(self) -> list[str]:
        return list(self._bindings)

    def all_bindings(self) -> list[Binding]:
        return [b for items in self._bindings.values() for b in items]

    def registered_ip(self, number: str) -> str | None:
        newest = self._newest_reachable(number)
        return None if newest is None else newest.host

    def is_registered(self, number: str) -> bool:
        return self._newest_reachable(number) is not None

    def count(self) -> int:
        return sum(len(items) for items in self._bindings.values())

    def _newest_reachable(self, number: str) -> Binding | None:
        best: Binding | None = None
        for binding in self._bindings.get(number, ()):
            if binding.reachable and (best is None or binding.updated_at >= best.updated_at):
                best = binding
        return best

    # -- REGISTER --------------------------------------------------------------------------

    def register(self, request: RegisterRequest, max_bindings: int) -> RegisterResult:
        now = self._clock.now()
        number = request.number
        current = self._bindings.get(number, [])
        if request.wildcard:
            return self._unregister_all(request, current, now)
        if not request.contacts:  # a query: list the bindings
            return RegisterResult(200, bindings=list(current))
        updated = {b.uri: b for b in current}
        added: set[str] = set()
        limits = self.limits
        for uri, contact_expires in request.contacts:
            wanted = contact_expires if contact_expires is not None else request.expires
            expires = limits.default if wanted is None else wanted
            if 0 < expires < limits.minimum:
                return RegisterResult(423, headers=[("Min-Expires", str(limits.minimum))])
            expires = min(expires, limits.maximum)
            existing = updated.get(uri)
            if (
                existing is not None
                and existing.call_id == request.call_id
                and request.cseq <= existing.cseq
            ):
                return RegisterResult(500, "Out of Order", headers=[("Retry-After", "1")])
            if expires == 0:
                updated.pop(uri, None)
                added.discard(uri)
                continue
            added.add(uri)
            updated[uri] = Binding(
                number=number,
                uri=uri,
                call_id=request.call_id,
                cseq=request.cseq,
                expires_at=now + expires,
                transport=request.transport,
                host=request.host,
                port=request.port,
                user_agent=request.user_agent,
                updated_at=now,
                reachable=True,
            )
        if len(added) > max_bindings:
            return RegisterResult(403, "Too Many Contacts")
        kept = sorted(updated.values(), key=lambda b: (b.uri in added, b.updated_at))
        del kept[: max(0, len(kept) - max_bindings)]  # replace the oldest devices
        self._replace(number, kept)
        return RegisterResult(200, bindings=list(kept))

    def _unregister_all(
        self, request: RegisterRequest, current: list[Binding], now: float
    ) -> RegisterResult:
        if request.contacts or request.expires != 0:
            return RegisterResult(400, "Wildcard Contact Needs Expires 0")
        for binding in current:
            if binding.call_id == request.call_id and request.cseq <= binding.cseq:
                return RegisterResult(500, "Out of Order", headers=[("Retry-After", "1")])
        self._replace(request.number, [])
        return RegisterResult(200)

    # -- changes from elsewhere ------------------------------------------------------------

    def load(self, bindings: list[Binding]) -> list[str]:
        """Start-up: adopt stored bindings (expired ones are skipped); returns the numbers
        that had a stored binding but lost all of them while the PBX was down."""
        now = self._clock.now()
        seen: set[str] = set()
        for binding in bindings:
            seen.add(binding.number)
            if binding.expires_at <= now:
                continue
            self._bindings.setdefault(binding.number, []).append(binding)
            heapq.heappush(self._heap, (binding.expires_at, binding.number))
        for number in self._bindings:
            ip = self.registered_ip(number)
            if ip is not None:  # unreachable-only extensions stay unregistered
                self._published[number] = (REGISTERED, ip)
        return sorted(seen - set(self._bindings))

    def drop(self, number: str, keep: int = 0) -> None:
        """Remove an extension's bindings, keeping at most ``keep`` newest ones."""
        current = self._bindings.get(number)
        if not current or len(current) <= keep:
            return
        kept = sorted(current, key=lambda b: b.updated_at)[len(current) - keep :] if keep else []
        self._replace(number, kept)

    def set_reachable(self, number: str, uri: str, reachable: bool) -> None:
        for binding in self._bindings.get(number, ()):
            if binding.uri == uri and binding.reachable != reachable:
                binding.reachable = reachable
                self._publish(number)

    def next_expiry(self) -> float | None:
        heap = self._heap
        while heap:
            at, number = heap[0]
            if any(b.expires_at == at for b in self._bindings.get(number, ())):
                return at
            heapq.heappop(heap)
        return None

    def expire(self) -> None:
        """Remove every binding whose time is up."""
        now = self._clock.now()
        heap = self._heap
        touched: set[str] = set()
        while heap and heap[0][0] <= now:
            touched.add(heapq.heappop(heap)[1])
        for number in touched:
            current = self._bindings.get(number, [])
            kept = [b for b in current if b.expires_at > now]
            if len(kept) != len(current):
                self._replace(number, kept)

    # -- internals -------------------------------------------------------------------------

    def _replace(self, number: str, bindings: list[Binding]) -> None:
        old = self._bindings.get(number, [])
        if bindings:
            self._bindings[number] = bindings
            old_expiries = {b.expires_at for b in old}
            for binding in bindings:
                if binding.expires_at not in old_expiries:
                    heapq.heappush(self._heap, (binding.expires_at, number))
        else:
            self._bindings.pop(number, None)
        if len(self._heap) > 4 * len(self._bindings) + 4096:
            self._compact()
        self._on_dirty(number)
        self._publish(number)

    def _compact(self) -> None:
        # refreshes leave superseded expiry entries behind; rebuild from live bindings
        self._heap = [(b.expires_at, b.number) for b in self.all_bindings()]
        heapq.heapify(self._heap)

    def _publish(self, number: str) -> None:
        newest = self._newest_reachable(number)
        state = (UNREGISTERED, None) if newest is None else (REGISTERED, newest.host)
        previous = self._published.get(number, (UNREGISTERED, None))
        if state == previous:
            return
        if state[0] == UNREGISTERED:
            self._published.pop(number, None)
        else:
            self._published[number] = state
        self._on_status(number, state[0], state[1])
