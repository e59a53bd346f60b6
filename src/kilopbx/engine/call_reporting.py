"""The engine's calls turned into call events and CDRs (``docs/call-events-and-cdr.md``).

``CallReporter`` is the engine's own ``CallObserver``. It publishes a ``CallStatus``
snapshot on the bus at each step of a call (a member seen before and gone now is
listed once more with BYE), ``Forward`` when a forwarding rule diverts the call,
``CallFailed`` for a call that could not be connected (not for a caller who gave
up), and hands the CDR service (``CALL_RECORDS``, looked up at each call because it
may be absent) the open call at its start and answer and the record at its end.
Each write is handed over at once: the recorder keeps the order of the writes it is
handed (``CALL_RECORDS``), so a call's records land in order without one waiting for
the commit of the one before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from kilopbx.engine.call_observer import CallRecord, Forwarding, Member
from kilopbx.events.bus import EventBus
from kilopbx.events.call_events import CallFailed, CallStatus, Forward
from kilopbx.events.call_model import (
    CallDisposition,
    CallMember,
    CallRecorder,
    CallType,
    FailureReason,
    MemberKind,
    MemberStatus,
    OpenCallRecord,
)

log = logging.getLogger(__name__)

# (role, channel state) -> memberstatus: the caller hears ringback (ALERT), then has been
# ANSWERED; a callee RINGs, then ANSWERs
_CALLER = {"ringing": MemberStatus.ALERT, "early": MemberStatus.ALERT, "up": MemberStatus.ANSWERED}
_CALLEE = {"ringing": MemberStatus.RING, "early": MemberStatus.RING, "up": MemberStatus.ANSWER}
_CAUSES = {
    "no_answer": FailureReason.RING_TIMEOUT,
    "dnd": FailureReason.DO_NOT_DISTURB,
    "not_permitted": FailureReason.NO_PERMISSION,
}
_TYPES = {t.value: t for t in CallType}
_DISPOSITIONS = {
    "ANSWERED": CallDisposition.ANSWERED,
    "BUSY": CallDisposition.BUSY,
}  # NO ANSWER and FAILED are both "NO ANSWER" on the wire
# the caller gave up, or the application refused it (inbound control): no CallFailed
NOT_FAILURES = frozenset({"cancel", "caller", "refused"})
# the causes by which one side left and so ended the call: that side is reported BYE
# before the rest (a PBX-made end, such as the API's, reports everyone BYE at once)
LEAVING = {
    "caller": "caller",
    "cancel": "caller",
    "callee": "callee",
    "busy": "callee",
    "no_answer": "callee",
    "unavailable": "callee",
    "failed": "callee",
}


def member_status(member: Member) -> MemberStatus:
    if member.state == "held":
        return MemberStatus.HOLD
    table = _CALLER if member.role == "caller" else _CALLEE
    return table.get(member.state, MemberStatus.BYE)


def call_member(call: CallRecord, member: Member, status: MemberStatus | None) -> CallMember:
    """An extension, or an outside party on a trunk: the caller of an inbound call
    (from its number to the DID) or the callee of an outbound one (from the caller)."""
    if not member.trunk:
        return CallMember.extension(
            member.number, member.channel_id, status, call_path=member.call_path
        )
    inbound = member.role == "caller"
    return CallMember.trunk_leg(
        MemberKind.INBOUND if inbound else MemberKind.OUTBOUND,
        caller=member.number if inbound else call.caller,
        callee=call.did if inbound else member.number,
        trunk=member.trunk,
        channel_id=member.channel_id,
        leg_id=call.call_id,
        status=status,
        call_path=member.call_path,
    )


class CallReporter:
    def __init__(self, bus: EventBus, recorder: Callable[[], CallRecorder | None]) -> None:
        self.bus = bus
        self.recorder = recorder
        self._seen: dict[str, dict[str, Member]] = {}  # call -> members reported, by channel
        self._writes: set[asyncio.Task[None]] = set()  # CDR writes under way

    # -- CallObserver --------------------------------------------------------------------

    def call_ringing(self, call: CallRecord) -> None:
        if call.call_id not in self._seen:
            self._write(call.call_id, lambda r: r.record_open_call(self._open(call)))
        self._snapshot(call)

    def call_answered(self, call: CallRecord) -> None:
        self._write(call.call_id, lambda r: r.record_open_call(self._open(call)))
        self._snapshot(call)

    def call_changed(self, call: CallRecord) -> None:
        self._snapshot(call)

    def call_forwarded(self, call: CallRecord, forward: Forwarding) -> None:
        caller = self._caller(call)
        if caller is not None:
            self.bus.publish(Forward(call.call_id, caller, forward.from_number))

    def call_ended(self, call: CallRecord) -> None:
        caller = self._caller(call)
        if call.disposition != "ANSWERED" and call.cause not in NOT_FAILURES and caller:
            reason = _CAUSES.get(call.cause) or FailureReason.from_sip_status(call.sip_status)
            self.bus.publish(CallFailed(call.call_id, reason, caller))
        if call.call_id in self._seen:
            self._snapshot(call, ending=True, skip=self._leaving(call))
        self._seen.pop(call.call_id, None)
        disposition = _DISPOSITIONS.get(call.disposition, CallDisposition.NO_ANSWER)
        ended_at = call.ended_at if call.ended_at is not None else call.started_at
        record = self._open(call).closed(ended_at, disposition)
        self._write(call.call_id, lambda r: r.record(record))

    # -- inside --------------------------------------------------------------------------

    def _snapshot(
        self, call: CallRecord, *, ending: bool = False, skip: frozenset[str] = frozenset()
    ) -> None:
        """``skip``: channels already reported BYE (not listed again)."""
        seen = self._seen.setdefault(call.call_id, {})
        members: list[CallMember] = []
        current = {m.channel_id: m for m in call.members if m.channel_id not in skip}
        for channel, member in {**seen, **current}.items():
            gone = ending or channel not in current
            status = MemberStatus.BYE if gone else member_status(member)
            members.append(call_member(call, member, status))
        seen.clear()
        seen.update(current)  # a member reported BYE is not listed again
        if members:
            self.bus.publish(CallStatus(call.call_id, tuple(members)))

    def _leaving(self, call: CallRecord) -> frozenset[str]:
        """When one side's departure ends the call, that side is reported BYE first,
        the others still as they were; the final snapshot then lists them BYE (80 §4.4,
        and the legacy BYE of the party that hung up first, 81 §4.10)."""
        roles = LEAVING.get(call.cause)
        seen = self._seen.get(call.call_id, {})
        if roles is None or len(seen) < 2:
            return frozenset()
        gone = {c for c, m in seen.items() if (m.role == "caller") == (roles == "caller")}
        if not gone or gone == set(seen):
            return frozenset()
        members = [  # a trunk's party stays inbound/outbound in its BYE too
            call_member(call, m, MemberStatus.BYE if c in gone else member_status(m))
            for c, m in seen.items()
        ]
        self.bus.publish(CallStatus(call.call_id, tuple(members)))
        for channel in gone:
            del seen[channel]
        return frozenset(gone)

    def _caller(self, call: CallRecord) -> CallMember | None:
        for member in call.members:
            if member.role == "caller":
                return call_member(call, member, None)
        return None

    @staticmethod
    def _open(call: CallRecord) -> OpenCallRecord:
        return OpenCallRecord(
            call_id=call.call_id,
            started_at=call.started_at,
            caller=call.caller,
            callee=call.dialled,
            call_type=_TYPES.get(call.call_type, CallType.INTERNAL),
            answered_at=call.answered_at,
            source_trunk=call.source_trunk,
            destination_trunk=call.destination_trunk,
            did_number=call.did,
            recording=call.recording,
        )

    def _write(
        self, call_id: str, write: Callable[[CallRecorder], Coroutine[Any, Any, object]]
    ) -> None:
        """Hand one write to the recorder now. Its task starts before any task made
        after it (the loop runs ready tasks in order), and the recorder queues the
        write in that first step, so the writes of a call reach it in the order made."""
        recorder = self.recorder()
        if recorder is None:
            return

        async def run() -> None:
            try:
                await write(recorder)
            except Exception:
                log.exception("CDR write for call %s failed", call_id)

        task = asyncio.get_running_loop().create_task(run())
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for the CDR writes still running (at shutdown)."""
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=timeout)
