"""What the call engine tells the event layer about a call: its members and its record,
and the interface it hands finished and unfinished calls to (`CALL_RECORDS`).

Clear Python names and real types; the wire spellings (`memberstatus`, `dsttrcunkname`,
string-typed durations) are made by `call_events.py` and `call_events_legacy.py`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from enum import Enum
from typing import Protocol

from kilopbx.core.registry import Key


class MemberKind(Enum):
    """Who a member of a call is; the value is its key in a `members` element."""

    EXTENSION = "ext"
    INBOUND = "inbound"  # an outside party that reached us through a trunk
    OUTBOUND = "outbound"  # an outside party we called through a trunk


class MemberStatus(Enum):
    """`memberstatus` (80-events §2.4): ALERT/ANSWERED on the calling side, RING/ANSWER
    on the called side."""

    ALERT = "ALERT"
    RING = "RING"
    ANSWERED = "ANSWERED"
    ANSWER = "ANSWER"
    HOLD = "HOLD"
    BYE = "BYE"


class FailureReason(Enum):
    """`CallFailed` reasons, spelled byte-exact as the spec (misspellings included)."""

    NO_PERMISSION = "NO Outbound Restriction"
    CONGESTION = "Circuit/channel congestion"
    DO_NOT_DISTURB = "DND"
    LINE_UNREACHABLE = "Line Unreachable"
    DECLINED_BY_USER = "User Busy"
    GONE = "410 Gone"
    NOT_FOUND = "404 NOT found"
    REQUEST_TIMEOUT = "408 Request Time"
    TEMPORARILY_UNAVAILABLE = "480 Temporatily Unavailable"
    ADDRESS_INCOMPLETE = "484 Address incomplete"
    BUSY_HERE = "486 Busy here"
    RING_TIMEOUT = "603 Declined"

    @classmethod
    def from_sip_status(cls, status: int) -> FailureReason:
        """The reason for a final SIP failure response (80-events §4.8 mapping)."""
        return _SIP_REASONS.get(status, cls.LINE_UNREACHABLE)


_SIP_REASONS = {
    404: FailureReason.NOT_FOUND,
    408: FailureReason.REQUEST_TIMEOUT,
    410: FailureReason.GONE,
    480: FailureReason.TEMPORARILY_UNAVAILABLE,
    484: FailureReason.ADDRESS_INCOMPLETE,
    486: FailureReason.BUSY_HERE,
    503: FailureReason.CONGESTION,
    603: FailureReason.RING_TIMEOUT,
}


class CallDisposition(Enum):
    """CDR `status`: only these four values are ever emitted."""

    ANSWERED = "ANSWERED"
    NO_ANSWER = "NO ANSWER"
    BUSY = "BUSY"
    VOICEMAIL = "VOICEMAIL"


class CallType(Enum):
    INTERNAL = "Internal"
    INBOUND = "Inbound"
    OUTBOUND = "Outbound"


@dataclass(frozen=True)
class CallMember:
    """One leg of a call as events show it.

    `number` is the extension of an EXTENSION member; `caller`/`callee` are the
    `from`/`to` numbers of an INBOUND or OUTBOUND member and `trunk` its trunk name.
    `leg_id` is the legacy `inboundid`/`outboundid` (same form as a call id).
    `status` is None in events that carry no `memberstatus` (`Forward`, `CallFailed`).
    `call_path` is the IVR/queue/group/conference number the member came through.
    """

    kind: MemberKind
    channel_id: str
    status: MemberStatus | None = None
    number: str = ""
    caller: str = ""
    callee: str = ""
    trunk: str = ""
    leg_id: str = ""
    call_path: str = ""

    @classmethod
    def extension(
        cls,
        number: str,
        channel_id: str,
        status: MemberStatus | None = None,
        *,
        call_path: str = "",
    ) -> CallMember:
        return cls(MemberKind.EXTENSION, channel_id, status, number=number, call_path=call_path)

    @classmethod
    def trunk_leg(
        cls,
        kind: MemberKind,
        *,
        caller: str,
        callee: str,
        trunk: str,
        channel_id: str,
        leg_id: str,
        status: MemberStatus | None = None,
        call_path: str = "",
    ) -> CallMember:
        assert kind is not MemberKind.EXTENSION
        return cls(kind, channel_id, status, "", caller, callee, trunk, leg_id, call_path)


@dataclass(frozen=True, kw_only=True)
class CallFacts:
    """What a CDR says about a call from its start on. Times are epoch seconds;
    `answered_at` is None while (or if) nobody answered."""

    call_id: str
    started_at: float
    caller: str
    callee: str
    call_type: CallType
    answered_at: float | None = None
    source_trunk: str = ""
    destination_trunk: str = ""
    pin_code: str = ""
    recording: str = ""
    did_number: str = ""

    @property
    def start_text(self) -> str:
        """`YYYY-MM-DD HH:MM:SS` in the PBX's local time, as the spec writes times."""
        return local_time_text(self.started_at)


@dataclass(frozen=True, kw_only=True)
class OpenCallRecord(CallFacts):
    """A call in progress. The call engine records it when the call starts and again
    when it is answered; `closed()` makes its CDR."""

    def closed(
        self,
        ended_at: float,
        disposition: CallDisposition,
        *,
        queue_wait_seconds: int | None = None,
    ) -> CallRecord:
        facts = {f.name: getattr(self, f.name) for f in fields(CallFacts)}
        return CallRecord(
            **facts,
            ended_at=max(ended_at, self.started_at),
            disposition=disposition,
            queue_wait_seconds=queue_wait_seconds,
        )


@dataclass(frozen=True, kw_only=True)
class CallRecord(CallFacts):
    """One call detail record; `queue_wait_seconds` only for calls that passed a queue."""

    ended_at: float
    disposition: CallDisposition
    queue_wait_seconds: int | None = None

    @property
    def call_seconds(self) -> int:
        return max(0, int(self.ended_at - self.started_at))

    @property
    def talk_seconds(self) -> int:
        if self.answered_at is None:
            return 0
        return max(0, int(self.ended_at - self.answered_at))


def local_time_text(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


class CallRecorder(Protocol):
    """Where the call engine hands its records (the CDR feature provides it): a call in
    progress when it starts and when it is answered, its CDR when it ends. `record`
    commits before it publishes `NewCdr`. Writes land in the order they are handed
    over: each method queues its write before its first suspension, and the engine
    does not wait for one write of a call before handing the next."""

    async def record_open_call(self, call: OpenCallRecord) -> None: ...

    async def record(self, record: CallRecord) -> object: ...


CALL_RECORDS: Key[CallRecorder] = Key("call_records")
