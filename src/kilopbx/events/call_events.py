"""Call events in the API 2.0.0 format (80-events §4.4-§4.8), and the
stateless part of their legacy form. The legacy `CallStatus` translation keeps state per
call and lives in `call_events_legacy.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from kilopbx.events.call_events_legacy import party
from kilopbx.events.call_model import CallMember, CallRecord, FailureReason, MemberKind
from kilopbx.events.legacy_report import LegacyReport
from kilopbx.events.types import Event, Monitored, WireBody


def member_body(member: CallMember, *, with_status: bool) -> WireBody:
    """One `members` element: `{"ext" | "inbound" | "outbound": {...}}` in table order."""
    if member.kind is MemberKind.EXTENSION:
        info: WireBody = {"number": member.number, "channelid": member.channel_id}
    else:
        info = {
            "from": member.caller,
            "to": member.callee,
            "trunkname": member.trunk,
            "channelid": member.channel_id,
        }
    if with_status and member.status is not None:
        info["memberstatus"] = member.status.value
    if with_status and member.call_path:
        info["callpath"] = member.call_path
    return {member.kind.value: info}


def _any_monitored(
    members: Sequence[CallMember], extension_monitored: Monitored, trunk_monitored: Monitored
) -> bool:
    """80-events §3: a call event goes out when at least one member is monitored."""
    for member in members:
        if member.kind is MemberKind.EXTENSION:
            if extension_monitored(member.number):
                return True
        elif trunk_monitored(member.trunk):
            return True
    return False


@dataclass(frozen=True)
class CallStatus(Event):
    """A snapshot of every current member of a call, calling side first (§4.4)."""

    name: ClassVar[str] = "CallStatus"
    call_id: str
    members: tuple[CallMember, ...]

    def fields(self) -> WireBody:
        return {
            "callid": self.call_id,
            "members": [member_body(m, with_status=True) for m in self.members],
        }

    def wire_legacy(self) -> list[LegacyReport]:
        # the legacy reports depend on the previous snapshot: see LegacyCallTranslator
        return []

    def is_monitored(self, extension_monitored: Monitored, trunk_monitored: Monitored) -> bool:
        return _any_monitored(self.members, extension_monitored, trunk_monitored)


@dataclass(frozen=True)
class CallFailed(Event):
    """A call attempt could not be connected (§4.8). `caller` placed the call (an `ext`,
    or the `inbound` party of a trunk call); `failed_leg` is the external leg when an
    outbound attempt failed."""

    name: ClassVar[str] = "CallFailed"
    call_id: str
    reason: FailureReason
    caller: CallMember
    failed_leg: CallMember | None = None

    def _members(self) -> list[CallMember]:
        return [self.caller] if self.failed_leg is None else [self.caller, self.failed_leg]

    def wire_v2(self) -> WireBody:
        # the one event whose `callid` comes before `event`
        return {
            "callid": self.call_id,
            "event": self.name,
            "reason": self.reason.value,
            "members": [member_body(m, with_status=False) for m in self._members()],
        }

    def wire_legacy(self) -> list[LegacyReport]:
        # parties stay top-level in L0 and L2: the external leg first, then the caller
        parties = [party(m) for m in reversed(self._members())]
        head = [("reason", self.reason.value), ("callid", self.call_id)]
        return [LegacyReport(self.name, head=head, parties=parties, contained=False)]

    def is_monitored(self, extension_monitored: Monitored, trunk_monitored: Monitored) -> bool:
        return _any_monitored(self._members(), extension_monitored, trunk_monitored)


@dataclass(frozen=True)
class Forward(Event):
    """A call to an extension was diverted by its call forwarding (§4.7); `caller` is the
    calling party (`inbound` whose `to` is the forwarding extension, or an `ext`)."""

    name: ClassVar[str] = "Forward"
    call_id: str
    caller: CallMember
    forwarding_extension: str = ""  # only for the monitor filter; not on the wire

    def fields(self) -> WireBody:
        return {"callid": self.call_id, "members": [member_body(self.caller, with_status=False)]}

    def wire_legacy(self) -> list[LegacyReport]:
        # the legacy format has no forwarding report: a Tranfer with the calling party
        return [
            LegacyReport("Tranfer", head=[("callid", self.call_id)], parties=[party(self.caller)])
        ]

    def is_monitored(self, extension_monitored: Monitored, trunk_monitored: Monitored) -> bool:
        if self.forwarding_extension and extension_monitored(self.forwarding_extension):
            return True
        return _any_monitored([self.caller], extension_monitored, trunk_monitored)


@dataclass(frozen=True)
class Tranfer(Event):
    """An extension user transferred a call from the phone (§4.6; the wire keeps the
    misspelling). `members`: the party transferred first, the transferor last. Not sent
    for transfers made through the API."""

    name: ClassVar[str] = "Tranfer"
    call_id: str
    members: tuple[CallMember, ...]

    def fields(self) -> WireBody:
        return {
            "callid": self.call_id,
            "members": [member_body(m, with_status=False) for m in self.members],
        }

    def wire_legacy(self) -> list[LegacyReport]:
        parties = [party(m) for m in self.members]
        return [LegacyReport("Tranfer", head=[("callid", self.call_id)], parties=parties)]

    def is_monitored(self, extension_monitored: Monitored, trunk_monitored: Monitored) -> bool:
        return _any_monitored(self.members, extension_monitored, trunk_monitored)


@dataclass(frozen=True)
class PlayPromptEnd(Event):
    """A prompt finished playing (80-events §4.10, 81-events-legacy §4.14). Variant A
    (`prompt`): played on request of the API (`call/playprompt`); variant B (`ivr`):
    an IVR's prompt. `members` heard it; never filtered by the status monitor."""

    name: ClassVar[str] = "PlayPromptEnd"
    call_id: str
    members: tuple[CallMember, ...]
    prompt: str = ""  # variant A: the prompt name(s) as the request gave them
    ivr: str = ""  # variant B: the IVR number

    def fields(self) -> WireBody:
        body: WireBody = {
            "callid": self.call_id,
            "members": [member_body(m, with_status=True) for m in self.members],
        }
        if self.ivr:
            body["ivr"] = {"number": self.ivr}
        else:
            body["prompt"] = self.prompt
        return body

    def wire_legacy(self) -> list[LegacyReport]:
        head = [("callid", self.call_id)]
        if self.ivr:
            first = self.members[0] if self.members else None
            tail: list[tuple[str, object]] = [("ivr", {"ivrid": self.ivr})]
            tail.append(("playtonum", _played_to(first) if first is not None else ""))
            parties = [party(m) for m in self.members]
            return [LegacyReport(self.name, head=head, parties=parties, tail=tail)]
        # variant A: an external party is only {"trunkname"} here (§4.14)
        parties = [
            party(m) if m.kind is MemberKind.EXTENSION else (m.kind.value, {"trunkname": m.trunk})
            for m in self.members
        ]
        tail = [("prompt", self.prompt)]
        contained = len(parties) > 1  # one party stays a top-level key in both formats
        return [LegacyReport(self.name, head=head, parties=parties, tail=tail, contained=contained)]


def _played_to(member: CallMember) -> str:
    """`playtonum`: the extension, the `from` of an inbound party, the `to` of an outbound one."""
    if member.kind is MemberKind.EXTENSION:
        return member.number
    return member.caller if member.kind is MemberKind.INBOUND else member.callee


@dataclass(frozen=True)
class NewCdr(Event):
    """One call detail record (§4.5), published once the record is committed."""

    name: ClassVar[str] = "NewCdr"
    record: CallRecord

    @property
    def call_id(self) -> str:
        return self.record.call_id

    def fields(self) -> WireBody:
        r = self.record
        return {
            "callid": r.call_id,
            "timestart": r.start_text,
            "callfrom": r.caller,
            "callto": r.callee,
            "callduraction": str(r.call_seconds),
            "talkduraction": str(r.talk_seconds),
            "srctrunkname": r.source_trunk,
            "dsttrcunkname": r.destination_trunk,
            "pincode": r.pin_code,
            "status": r.disposition.value,
            "type": r.call_type.value,
            "recording": r.recording,
            "didnumber": r.did_number,
            "agentringtime": str(r.queue_wait_seconds or 0),
        }

    def wire_legacy(self) -> list[LegacyReport]:
        """81-events-legacy §4.15: `desttrunkname`, trunk names before the durations,
        empty optional keys left out, `agentringtime` only for queue calls."""
        r = self.record
        head: list[tuple[str, str]] = [
            ("callid", r.call_id),
            ("timestart", r.start_text),
            ("callfrom", r.caller),
            ("callto", r.callee),
        ]
        optional_trunks = [("srctrunkname", r.source_trunk), ("desttrunkname", r.destination_trunk)]
        head += [(key, value) for key, value in optional_trunks if value]
        head += [
            ("callduraction", str(r.call_seconds)),
            ("talkduraction", str(r.talk_seconds)),
            ("status", r.disposition.value),
            ("type", r.call_type.value),
        ]
        optional = [
            ("pincode", r.pin_code),
            ("recording", r.recording),
            ("didnumber", r.did_number),
        ]
        head += [(key, value) for key, value in optional if value]
        if r.queue_wait_seconds is not None:
            head.append(("agentringtime", str(r.queue_wait_seconds)))
        return [LegacyReport(self.name, head=head)]


@dataclass(frozen=True)
class Dtmf(Event):
    """A key an application (IVR menu, prompt) collected from a member (§4.9): `digit`
    is the key, `position` its place in the current input (from 0), `entered` every
    key of the current input so far, this one included."""

    name: ClassVar[str] = "DTMF"
    call_id: str
    member: CallMember
    digit: str
    position: int
    entered: str

    def fields(self) -> WireBody:
        return {
            "callid": self.call_id,
            "members": [member_body(self.member, with_status=True)],
            "info": self.digit,
            "flag": str(self.position),
            "infos": self.entered,
        }

    def wire_legacy(self) -> list[LegacyReport]:
        # 81-events-legacy §4.13: the party in the container, then info, flag, infos
        tail = [("info", self.digit), ("flag", str(self.position)), ("infos", self.entered)]
        return [
            LegacyReport(
                self.name, head=[("callid", self.call_id)], parties=[party(self.member)], tail=tail
            )
        ]

    def is_monitored(self, extension_monitored: Monitored, trunk_monitored: Monitored) -> bool:
        return _any_monitored([self.member], extension_monitored, trunk_monitored)


# -- inbound call control (80-events §4.1, §4.2, §5; 81-events-legacy §4.4, §4.5) ----------


@dataclass(frozen=True)
class InboundWaiting(Event):
    """`Invite`: the call waits in the control window for accept / refuse."""

    name: ClassVar[str] = "Invite"
    call_id: str
    caller: CallMember  # the inbound party, without status

    def fields(self) -> WireBody:
        return {"callid": self.call_id, "members": [member_body(self.caller, with_status=False)]}

    def wire_legacy(self) -> list[LegacyReport]:
        return [
            LegacyReport(self.name, head=[("callid", self.call_id)], parties=[party(self.caller)])
        ]

    def is_monitored(self, extension_monitored: Monitored, trunk_monitored: Monitored) -> bool:
        # the decision is the application's to make: never filtered away
        return True


@dataclass(frozen=True)
class InboundRouted(InboundWaiting):
    """`Incoming`: the controlled call leaves the window towards its destination."""

    name: ClassVar[str] = "Incoming"
