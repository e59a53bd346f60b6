"""A REGISTER's 200 goes out only once its bindings are on disk.

The bindings live in memory and reach the database through the write-behind store
(``kilopbx.apps.registrar.store``). Acknowledging before the commit would promise a
phone a registration that a ``kill -9`` can lose, and under a closed-loop REGISTER flood
the commit can lag by seconds: the event loop keeps the GIL and the writer thread
waits for it. So a REGISTER that changes what the database holds (a new contact, a
new path, a removal, or an expiry more than ``refresh_lag`` beyond the stored one) is
answered when the commit of its extension is done; a refresh of an unchanged binding
that the database already covers is answered at once.

The wait is the admission control: a phone's retransmissions are absorbed by its
server transaction, closed-loop clients slow down to what the database can store, and
nothing is acknowledged that is not durable. A REGISTER whose commit takes longer than
``wait_limit`` (the database is locked, broken or full) gets ``503`` with
``Retry-After``; its binding stays in memory and is written when the database allows.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Final, Protocol

from kilopbx.apps.registrar.core import Binding
from kilopbx.apps.registrar.store import BindingStore

MAX_WAITING: Final = 50_000  # REGISTERs held at once; beyond, 503 at once (bounded memory)
RETRY_AFTER: Final = "5"


class Cancellable(Protocol):
    def cancel(self) -> None: ...


CallLater = Callable[[float, Callable[[], None]], Cancellable]
Respond = Callable[[], object]
Refuse = Callable[[int, str, list[tuple[str, str]]], object]


def _loop_call_later(delay: float, callback: Callable[[], None]) -> Cancellable:
    return asyncio.get_running_loop().call_later(delay, callback)


class _Held:
    """One REGISTER waiting for its commit; answered exactly once."""

    __slots__ = ("deadline", "gate", "refuse", "respond")

    def __init__(
        self, gate: DurableAck, respond: Respond, refuse: Callable[[], object], deadline: float
    ) -> None:
        self.gate = gate
        self.respond: Respond | None = respond
        self.refuse: Callable[[], object] | None = refuse
        self.deadline = deadline

    def committed(self) -> None:
        respond, self.respond = self.respond, None
        if respond is None:
            return
        self.refuse = None  # lets go of the transaction while it waits for the sweep
        self.gate.held -= 1
        respond()

    def too_late(self) -> None:
        refuse, self.refuse = self.refuse, None
        if self.respond is None or refuse is None:
            return
        self.respond = None
        self.gate.held -= 1
        self.gate.refused += 1
        refuse()


class DurableAck:
    def __init__(
        self,
        store: BindingStore,
        *,
        wait_limit: float,
        call_later: CallLater | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.wait_limit = wait_limit
        self._call_later = call_later or _loop_call_later
        self._clock = clock
        self.held = 0  # REGISTERs waiting for their commit now
        self.refused = 0  # answered 503 because the commit took too long
        # Every REGISTER held, oldest first (so in deadline order), answered or not: one
        # timer at a time sweeps the front instead of a loop timer per REGISTER.
        self._waiting: deque[_Held] = deque()
        self._sweep_timer: Cancellable | None = None

    def acknowledge(
        self,
        number: str,
        bindings: list[Binding],
        respond: Respond,
        refuse: Refuse,
    ) -> None:
        """``respond()`` sends the prepared 200, now or after the commit; ``refuse(status,
        reason, headers)`` answers instead when the commit does not come in time."""
        if self.store.covers(number, bindings):
            respond()
            return
        headers = [("Retry-After", RETRY_AFTER)]
        if self.store.waiting >= MAX_WAITING:
            self.refused += 1
            refuse(503, "Registration Not Stored", headers)
            return
        held = _Held(
            self,
            respond,
            lambda: refuse(503, "Registration Not Stored", headers),
            self._clock() + self.wait_limit,
        )
        self.held += 1
        self._waiting.append(held)
        if self._sweep_timer is None:
            self._sweep_timer = self._call_later(self.wait_limit, self._sweep)
        self.store.when_committed(number, held.committed)

    def _sweep(self) -> None:
        """Refuse the REGISTERs whose wait is over, forget the answered ones at the front,
        and wake again at the next deadline."""
        self._sweep_timer = None
        waiting = self._waiting
        now = self._clock()
        while waiting and (waiting[0].respond is None or waiting[0].deadline <= now):
            waiting.popleft().too_late()
        if waiting:
            self._sweep_timer = self._call_later(max(0.0, waiting[0].deadline - now), self._sweep)
