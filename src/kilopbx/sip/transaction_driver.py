"""Runs the sans-IO transaction machines on an asyncio loop: carries out their
actions, arms their timers with ``loop.call_at`` and keeps the transaction table.

When a machine reaches a state that bytes alone can finish (see
``transaction_remnant``), the table entry is swapped for the machine's remnant, so
the request, the response and the user's handle can be freed long before the last
timer fires.

Sending is delegated to a callback (the SipStack's transports), so this module
knows nothing of sockets.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any, cast

from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.timers import TimerName
from kilopbx.sip.transaction import (
    Action,
    CancelTimer,
    DeliverRequest,
    DeliverResponse,
    FailureReason,
    SendMessage,
    StartTimer,
    TimerCFired,
    TransactionFailed,
    TransactionTerminated,
)
from kilopbx.sip.transaction_remnant import (
    AcceptedInviteClient,
    ClientEntryRemnant,
    CompletedInviteClient,
    CompletedNonInviteClient,
    Remnant,
    ServerEntryRemnant,
)
from kilopbx.sip.transaction_server import InviteServerTransaction
from kilopbx.sip.transaction_table import TransactionTable
from kilopbx.sip.transaction_user import ClientTransactionHandle, ServerTransactionHandle
from kilopbx.sip.transport import Destination, RateLimitedLog, Source

logger = logging.getLogger(__name__)

Handle = ClientTransactionHandle | ServerTransactionHandle
ClientEntry = ClientTransactionHandle | ClientEntryRemnant
ServerEntry = ServerTransactionHandle | ServerEntryRemnant
# What the table holds and the driver runs: a handle, or the remnant that replaced it.
Entry = ClientEntry | ServerEntry
CLIENT_ENTRIES = (
    ClientTransactionHandle,
    CompletedNonInviteClient,
    CompletedInviteClient,
    AcceptedInviteClient,
)
SendCallback = Callable[[bytes, Destination, Entry | None], None]
AckCallback = Callable[[SipRequest, Source], Any]

# Timers this far out (D, F, H, J, K, L, M and friends; 32 s by default) only bound how
# long state is kept, so they share coarse buckets: a loop timer costs ~600 bytes on
# uvloop, a bucket entry ~60, and the loop's timer heap stays small under load.
COARSE_THRESHOLD = 2.0
COARSE_GRANULARITY = 0.1


class _CoarseEntry:
    __slots__ = ("callback", "cancelled", "handle", "name", "owner", "slot")

    def __init__(
        self,
        callback: Callable[[Entry, TimerName], None],
        handle: Entry,
        name: TimerName,
        owner: CoarseTimers,
        slot: int,
    ) -> None:
        self.callback: Callable[[Entry, TimerName], None] | None = callback
        self.handle: Entry | None = handle
        self.name = name
        self.cancelled = False
        self.owner: CoarseTimers | None = owner
        self.slot = slot

    def cancel(self) -> None:
        # A cancelled entry leaves its bucket at once. Before, it stayed there until the
        # bucket's time: the INVITE server's no-answer guard is 300 s away, so under
        # 200 calls/s some 100,000 dead entries sat in the buckets, each one more
        # object for every full garbage collection (and, before its references were
        # dropped, a flood of unauthenticated INVITEs held ~6.6 KB each for 300 s).
        self.cancelled = True
        self.callback = None
        self.handle = None
        owner = self.owner
        if owner is not None:
            self.owner = None
            owner.discard(self)


class CoarseTimers:
    """Buckets of far-off timers, each bucket one loop timer; never fires early."""

    __slots__ = ("_buckets", "_log", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        # a dict per bucket (entry -> None): ordered like a list, and an entry cancelled
        # long before its time leaves it in O(1)
        self._buckets: dict[int, dict[_CoarseEntry, None]] = {}
        self._log = RateLimitedLog(logger)

    def __len__(self) -> int:
        """Entries waiting in the buckets."""
        return sum(len(bucket) for bucket in self._buckets.values())

    def call_at(
        self,
        when: float,
        callback: Callable[[Entry, TimerName], None],
        handle: Entry,
        name: TimerName,
    ) -> _CoarseEntry:
        slot = int(when / COARSE_GRANULARITY) + 1
        entry = _CoarseEntry(callback, handle, name, self, slot)
        bucket = self._buckets.get(slot)
        if bucket is None:
            bucket = self._buckets[slot] = {}
            self._loop.call_at(slot * COARSE_GRANULARITY, self._fire, slot)
        bucket[entry] = None
        return entry

    def discard(self, entry: _CoarseEntry) -> None:
        bucket = self._buckets.get(entry.slot)
        if bucket is not None:
            bucket.pop(entry, None)

    def _fire(self, slot: int) -> None:
        for entry in self._buckets.pop(slot, {}):
            entry.owner = None
            callback = entry.callback
            if entry.cancelled or callback is None:
                continue
            try:
                callback(cast(Entry, entry.handle), entry.name)
            except Exception:
                # The bucket is already gone: one failure must not strand the other
                # transactions in it (they would never be freed).
                self._log.exception("timer %s failed", entry.name)


class TransactionDriver:
    __slots__ = ("_clock", "_coarse", "_fired", "_loop", "_on_ack", "_send", "table")

    def __init__(
        self,
        send: SendCallback,
        *,
        on_ack: AckCallback | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._send = send
        self._on_ack = on_ack
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._coarse: CoarseTimers | None = None
        # One bound method shared by every timer (each would otherwise carry its own).
        self._fired = self._timer_fired
        self.table: TransactionTable[ClientEntry, ServerEntry] = TransactionTable()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def now(self) -> float:
        """Time as the machines see it: the injected clock, else the loop's."""
        return self._clock() if self._clock is not None else self.loop.time()

    def start_client(self, handle: ClientTransactionHandle) -> None:
        self.table.add_client(handle)
        machine = handle.machine
        assert not isinstance(machine, Remnant)  # only a started machine is ever compacted
        self.apply(handle, machine.start(self.now()))

    def start_server(self, handle: ServerTransactionHandle) -> None:
        self.table.add_server(handle, handle.source.host)
        machine = handle.machine
        assert not isinstance(machine, Remnant)  # only a started machine is ever compacted
        self.apply(handle, machine.start(self.now()))

    def send_server_response(self, handle: ServerTransactionHandle, response: SipResponse) -> None:
        machine = handle.machine
        actions = machine.send_response(response, self.now())
        if isinstance(machine, InviteServerTransaction) and machine.awaiting_ack:
            # The ACK for a 2xx has its own branch; find this transaction by dialog.
            self.table.expect_ack(machine.request, handle)
        self.apply(handle, actions)

    def transport_failed(self, handle: Entry) -> None:
        self.apply(handle, handle.machine.transport_error(self.now()))

    def apply(self, handle: Entry, actions: list[Action]) -> None:
        for action in actions:
            kind = type(action)
            if kind is SendMessage:
                assert isinstance(action, SendMessage)
                self._send(action.data, action.destination, handle)
            elif kind is StartTimer:
                assert isinstance(action, StartTimer)
                self._start_timer(handle, action.name, action.at)
            elif kind is CancelTimer:
                assert isinstance(action, CancelTimer)
                timer = handle.pop_timer(action.name)
                if timer is not None:
                    timer.cancel()
            elif kind is DeliverResponse:
                assert isinstance(action, DeliverResponse)
                if isinstance(handle, ClientTransactionHandle):
                    handle._deliver(action.response)
                elif isinstance(handle, AcceptedInviteClient):
                    user = handle.user() if handle.user is not None else None
                    if isinstance(user, ClientTransactionHandle):
                        user._deliver(action.response)
            elif kind is DeliverRequest:
                assert isinstance(action, DeliverRequest)
                if self._on_ack is not None and isinstance(handle, ServerTransactionHandle):
                    self._on_ack(action.request, handle.source)
            elif kind is TransactionFailed:
                assert isinstance(action, TransactionFailed)
                handle._fail(action.reason)
            elif kind is TimerCFired:
                if isinstance(handle, ClientTransactionHandle):
                    handle._timer_c_fired()
            elif kind is TransactionTerminated:
                self._terminate(handle)
        if actions:
            remnant = handle.machine.compact()
            if remnant is not None:
                self._compact(cast(Handle, handle), remnant)

    def _compact(self, handle: Handle, remnant: ClientEntryRemnant | ServerEntryRemnant) -> None:
        """Put ``remnant`` in the table and on the timers instead of ``handle``.

        The handle keeps working for a user who still holds it (its machine becomes
        the remnant, whose timers it shows); the stack no longer refers to it.
        """
        for name, timer in handle.take_timers():
            if isinstance(timer, _CoarseEntry):
                timer.handle = remnant
            else:  # a loop timer bound to the handle: the same deadline, for the remnant
                when = cast(asyncio.TimerHandle, timer).when()
                timer.cancel()
                timer = self.loop.call_at(when, self._fired, remnant, name)
            remnant.set_timer(name, timer)
        if isinstance(handle, ClientTransactionHandle):
            client = cast(ClientEntryRemnant, remnant)
            if isinstance(client, AcceptedInviteClient):
                client.user = weakref.ref(handle)  # not the call for the rest of Timer M
            self.table.replace_client(handle, client)
            handle.machine = client
        else:
            server = cast(ServerEntryRemnant, remnant)
            self.table.replace_server(handle, server)
            handle.machine = server

    def _start_timer(self, handle: Entry, name: TimerName, at: float) -> None:
        previous = handle.pop_timer(name)
        if previous is not None:
            previous.cancel()
        loop = self.loop
        loop_now = loop.time()
        when = at if self._clock is None else loop_now + max(0.0, at - self._clock())
        if when - loop_now >= COARSE_THRESHOLD:
            if self._coarse is None:
                self._coarse = CoarseTimers(loop)
            handle.set_timer(name, self._coarse.call_at(when, self._fired, handle, name))
        else:
            handle.set_timer(name, loop.call_at(when, self._fired, handle, name))

    def call_later_coarse(
        self, delay: float, callback: Callable[[Entry, TimerName], None], handle: Entry
    ) -> _CoarseEntry:
        """``callback(handle, ...)`` in ``delay`` seconds (at most a bucket late), as a
        bucket entry: ``cancel()`` lets go of ``handle`` at once."""
        if self._coarse is None:
            self._coarse = CoarseTimers(self.loop)
        return self._coarse.call_at(self.loop.time() + delay, callback, handle, TimerName.NO_ANSWER)

    def _timer_fired(self, handle: Entry, name: TimerName) -> None:
        handle.pop_timer(name)
        self.apply(handle, handle.machine.timer_fired(name, self.now()))

    def abandon(self, handle: ClientTransactionHandle) -> None:
        """Stop a non-INVITE client transaction whose user gave up waiting: no more
        retransmissions, a late response matches nothing, and the outcome is a 408.

        A user that sends a new request in place of an unanswered one (a REGISTER
        refresh, an OPTIONS probe) must not leave the old one retransmitting for 32 s
        beside it: RFC 3261 §10.2 allows one REGISTER of a Call-ID at a time, and a
        registrar that keeps one state per Call-ID is confused by the stale copies.
        """
        if handle.done or handle.request.method == "INVITE":
            return  # answered already (the remnant absorbs retransmissions), or an INVITE
        handle._fail(FailureReason.TIMEOUT)
        self._terminate(handle)

    def _terminate(self, handle: Entry) -> None:
        self._cancel_timers(handle)
        if isinstance(handle, CLIENT_ENTRIES):
            self.table.remove_client(handle)
        else:
            self.table.remove_server(handle)

    @staticmethod
    def _cancel_timers(handle: Entry) -> None:
        for _, timer in handle.take_timers():
            timer.cancel()

    def stop(self) -> None:
        """Disarm every timer; pending client transactions end with a 503."""
        for handle in self.table.all_entries():
            self._cancel_timers(handle)
            if isinstance(handle, ClientTransactionHandle):
                handle._fail(FailureReason.TRANSPORT_ERROR)
