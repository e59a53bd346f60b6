"""Legacy call reports: party objects, and `CallStatus` snapshots turned into `ALERT`,
`RING`, `ANSWERED`, `ANSWER` and `BYE` reports (81-events-legacy §5).

A 2.0.0 `CallStatus` is a snapshot of every member; a legacy report announces one change
of one party. So the translator remembers, per call, each member's last status and side,
the calling party and the callees that rang and answered. It advances once per published
snapshot, whichever sessions want the legacy format, so a legacy session that logs in
mid-call still gets consistent reports. State is dropped when the call's first `NewCdr`
is rendered, or when a snapshot shows every member gone; at most `MAX_CALLS` calls are
remembered (the oldest is forgotten first), so a call that never ends cannot grow it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kilopbx.events.call_model import CallMember, MemberKind, MemberStatus
from kilopbx.events.legacy_report import LegacyReport

MAX_CALLS = 20_000

CALLING = {MemberStatus.ALERT, MemberStatus.ANSWERED}
CALLED = {MemberStatus.RING, MemberStatus.ANSWER}


def party(member: CallMember) -> tuple[str, dict[str, Any]]:
    """The legacy party object of a member (§2.3): `extid`, or `from`/`to`/`trunk` and
    the leg id; `channelid`, `memberstatus` and `callpath` do not exist here."""
    if member.kind is MemberKind.EXTENSION:
        return "ext", {"extid": member.number}
    leg_key = "inboundid" if member.kind is MemberKind.INBOUND else "outboundid"
    obj = {"from": member.caller, "to": member.callee, "trunk": member.trunk}
    obj[leg_key] = member.leg_id
    return member.kind.value, obj


@dataclass
class _Known:
    member: CallMember
    status: MemberStatus
    calling_side: bool


@dataclass
class _CallState:
    known: dict[str, _Known] = field(default_factory=dict)  # by channel id
    calling: str | None = None  # the current or last calling party
    answered: str | None = None  # the callee that answered most recently
    rang: str | None = None  # the callee that rang most recently


def _side(member: CallMember, status: MemberStatus, previous: _Known | None) -> bool:
    """True for the calling side; HOLD and BYE keep the side the member had."""
    if status in CALLING:
        return True
    if status in CALLED:
        return False
    if previous is not None:
        return previous.calling_side
    return member.kind is MemberKind.INBOUND


class LegacyCallTranslator:
    def __init__(self) -> None:
        self._calls: dict[str, _CallState] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def forget(self, call_id: str) -> None:
        self._calls.pop(call_id, None)

    def translate(self, call_id: str, members: Sequence[CallMember]) -> list[LegacyReport]:
        state = self._calls.get(call_id)
        if state is None:
            if len(self._calls) >= MAX_CALLS:
                self._calls.pop(next(iter(self._calls)))
            state = self._calls[call_id] = _CallState()
        alerts: list[str] = []
        rings: list[str] = []
        answering_callers: list[str] = []
        answering_callees: list[str] = []
        byes: list[str] = []
        for member in members:
            status = member.status
            if status is None:
                continue
            cid = member.channel_id
            previous = state.known.get(cid)
            before = previous.status if previous is not None else None
            calling_side = _side(member, status, previous)
            if status is MemberStatus.BYE and previous is None:
                continue  # left before any snapshot showed it: nothing was announced
            state.known[cid] = _Known(member, status, calling_side)
            if status is MemberStatus.ALERT and before is not MemberStatus.ALERT:
                alerts.append(cid)
            elif status is MemberStatus.ANSWERED and before in (None, MemberStatus.ALERT):
                if before is None:
                    alerts.append(cid)
                answering_callers.append(cid)
            elif status is MemberStatus.RING and before is not MemberStatus.RING:
                rings.append(cid)
            elif status is MemberStatus.ANSWER and before in (None, MemberStatus.RING):
                if before is None:
                    rings.append(cid)
                answering_callees.append(cid)
            elif status is MemberStatus.BYE and before is not MemberStatus.BYE:
                byes.append(cid)
            if calling_side and status is not MemberStatus.BYE:
                state.calling = cid
            if status is MemberStatus.RING:
                state.rang = cid
            if status is MemberStatus.ANSWER:
                state.answered = cid
        reports = [self._report("ALERT", call_id, state, cid, None) for cid in alerts]
        reports += [self._report("RING", call_id, state, cid, state.calling) for cid in rings]
        reports += self._answer_pairs(call_id, state, answering_callers, answering_callees)
        for cid in byes:
            reports.append(self._report("BYE", call_id, state, cid, self._counterpart(state, cid)))
        live = [m for m in members if m.status is not MemberStatus.BYE]
        if members and not live:
            self.forget(call_id)  # the call is torn down
        return reports

    def _answer_pairs(
        self,
        call_id: str,
        state: _CallState,
        callers: list[str],
        callees: list[str],
    ) -> list[LegacyReport]:
        """For each callee that answered: `ANSWERED` [caller, callee], then `ANSWER`
        [callee, caller]. A caller whose answer came without a callee entering ANSWER
        in the same snapshot gets its `ANSWERED` with its counterpart."""
        out: list[LegacyReport] = []
        pending = list(callers)
        for callee in callees:
            caller = state.calling
            if caller in pending:
                pending.remove(caller)
                out.append(self._report("ANSWERED", call_id, state, caller, callee))
            out.append(self._report("ANSWER", call_id, state, callee, caller))
        for caller in pending:
            out.append(
                self._report("ANSWERED", call_id, state, caller, self._counterpart(state, caller))
            )
        return out

    @staticmethod
    def _counterpart(state: _CallState, cid: str) -> str | None:
        """§5.3: a callee's counterpart is the calling party; a calling party's is the
        callee that answered last, else the first callee still ringing, else the last
        callee that rang."""
        known = state.known[cid]
        if not known.calling_side:
            return state.calling
        if state.answered is not None:
            return state.answered
        for other_id, other in state.known.items():
            if not other.calling_side and other.status is MemberStatus.RING:
                return other_id
        return state.rang

    @staticmethod
    def _report(
        action: str, call_id: str, state: _CallState, subject: str, other: str | None
    ) -> LegacyReport:
        chosen = [subject] if other in (None, subject) else [subject, other]
        parties = [party(state.known[cid].member) for cid in chosen if cid in state.known]
        return LegacyReport(action, head=[("callid", call_id)], parties=parties)
