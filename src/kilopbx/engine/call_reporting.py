"""The engine's calls turned into call events and CDRs (``docs/call-events-and-cdr.md``).

``CallReporter`` is the engine's own ``CallObserver``. It publishes a ``CallStatus``
snapshot on the bus at each step of a call (a member seen before and gone now is
listed once more with BYE), ``Forward`` when a forwarding rule diverts the call,
``CallFailed`` for a call that could not be connected (not for a caller who gave
up), and hands the CDR service (``CALL_RECORDS``, looked up at each call because it
may be absent) the open call at its start and answer and the record at its end.
Records of one call are written in order; different calls do not wait for each other.
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
    MemberStatus,
    OpenCallRecord,
)

log = logging.getLogger(__name__)

# (role, channel state) -> memberstatus: the caller hears ringback (ALERT), then has been
# ANSWERED; a callee RINGs, then ANSWERs
_CALLER = {"ringing": MemberStatus.ALERT, "early": MemberStatus.ALERT, "up": MemberStatus.ANSWERED}
_CALLEE = {"ringing": MemberStatus.RING, "early": MemberStatus.RING, "up": MemberStatus.ANSWER}
_CAUSES = {"no_answer": FailureReason.RING_TIMEOUT, "dnd": FailureReason.DO_NOT_DISTURB}
_DISPOSITIONS = {
    "ANSWERED": CallDisposition.ANSWERED,
    "BUSY": CallDisposition.BUSY,
}  # NO ANSWER and FAILED are both "NO ANSWER" on the wire
NOT_FAILURES = frozenset({"cancel", "caller"})  # the caller gave up: no CallFailed


def member_status(member: Member) -> MemberStatus:
    if member.state == "held":
        return MemberStatus.HOLD
    table = _CALLER if member.role == "caller" else _CALLEE
    return table.get(member.state, MemberStatus.BYE)


class CallReporter:
    def __init__(self, bus: EventBus, recorder: Callable[[], CallRecorder | None]) -> None:
        self.bus = bus
        self.recorder = recorder
        self._seen: dict[str, dict[str, Member]] = {}  # call -> members reported, by channel
        self._writes: dict[str, asyncio.Task[None]] = {}  # call -> its last CDR write

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
            self._snapshot(call, ending=True)
        self._seen.pop(call.call_id, None)
        disposition = _DISPOSITIONS.get(call.disposition, CallDisposition.NO_ANSWER)
        ended_at = call.ended_at if call.ended_at is not None else call.started_at
        record = self._open(call).closed(ended_at, disposition)
        self._write(call.call_id, lambda r: r.record(record), last=True)

    # -- inside --------------------------------------------------------------------------

    def _snapshot(self, call: CallRecord, *, ending: bool = False) -> None:
        seen = self._seen.setdefault(call.call_id, {})
        members: list[CallMember] = []
        current = {m.channel_id: m for m in call.members}
        for channel, member in {**seen, **current}.items():
            gone = ending or channel not in current
            status = MemberStatus.BYE if gone else member_status(member)
            members.append(CallMember.extension(member.number, channel, status))
        seen.clear()
        seen.update(current)  # a member reported BYE is not listed again
        if members:
            self.bus.publish(CallStatus(call.call_id, tuple(members)))

    def _caller(self, call: CallRecord) -> CallMember | None:
        for member in call.members:
            if member.role == "caller":
                return CallMember.extension(member.number, member.channel_id)
        return None

    @staticmethod
    def _open(call: CallRecord) -> OpenCallRecord:
        return OpenCallRecord(
            call_id=call.call_id,
            started_at=call.started_at,
            caller=call.caller,
            callee=call.dialled,
            call_type=CallType.INTERNAL,
            answered_at=call.answered_at,
            recording=call.recording,
        )

    def _write(
        self,
        call_id: str,
        write: Callable[[CallRecorder], Coroutine[Any, Any, object]],
        *,
        last: bool = False,
    ) -> None:
        recorder = self.recorder()
        if recorder is None:
            return
        previous = self._writes.get(call_id)

        async def run() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                await write(recorder)
            except Exception:
                log.exception("CDR write for call %s failed", call_id)
            finally:
                if last and self._writes.get(call_id) is task:
                    del self._writes[call_id]

        task = asyncio.get_running_loop().create_task(run())
        self._writes[call_id] = task

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for the CDR writes still running (at shutdown)."""
        if self._writes:
            await asyncio.wait(set(self._writes.values()), timeout=timeout)
