"""Calls as the features above the engine see them: ``CallRecord`` snapshots of a live
call, and one for a call refused before it existed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.engine.call_observer import CallRecord, Member
from kilopbx.engine.directory import SipAccount

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime


def record_of(runtime: CallRuntime) -> CallRecord:
    call = runtime.call
    answered = call.answered_by
    state = "ended" if call.disposition else "answered" if answered else "ringing"
    a, b = runtime.a, runtime.b
    return CallRecord(
        call_id=call.id,
        caller=call.caller.number,
        caller_name=runtime.caller_account.display_name,
        dialled=call.callee_number,
        callee=runtime.target.number if runtime.target is not None else "",
        state=state,
        started_at=call.created_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        disposition=call.disposition.value if call.disposition else "",
        cause=call.cause,
        sip_status=runtime.final_status,
        codec_caller=a.codecs[0].name if a is not None and a.codecs else "",
        codec_callee=b.codecs[0].name if b is not None and b.codecs else "",
        members=members_of(runtime),
        **trunk_facts(runtime),
        recording=runtime.media_apps.recording_name,
    )


def trunk_facts(runtime: CallRuntime) -> dict[str, str]:
    """Inbound (the caller's leg came through a trunk) or Outbound (a callee's leg
    goes through one), with the trunk names and the DID."""
    call = runtime.call
    source = call.caller.trunk
    answered = call.answered_by
    legs = [answered] if answered is not None else list(call.branches.values())
    destination = next((c.trunk for c in reversed(legs) if c.trunk), "")
    kind = "Inbound" if source else "Outbound" if destination else "Internal"
    return {
        "call_type": kind,
        "source_trunk": source,
        "destination_trunk": destination,
        "did": runtime.did,
    }


def members_of(runtime: CallRuntime) -> tuple[Member, ...]:
    """The caller (an outside caller with the application number its call came
    through, if any), then the branch that answered or every branch still ringing (each
    with the application number the call came through to reach it, if any), then
    the members added to the call (``call/add_member``, ``call/listen``), then an
    attended transfer's target while it is consulted. A party that left a conference
    that goes on is no longer listed (its last event said BYE)."""
    call = runtime.call
    answered = call.answered_by
    callees = [answered] if answered is not None else call.pending_branches()
    left = runtime.members.left
    others = [*call.extras.values()]
    if runtime.consultation is not None and runtime.consultation.channel.live:
        others.insert(0, runtime.consultation.channel)
    caller = call.caller
    caller_path = runtime.call_path if caller.trunk else ""  # 80 §2.5: external members too
    return (
        *(
            (Member(caller.number, caller.id, caller.role.value, caller.state.value,
                    caller.trunk, caller_path),)
            if caller.id not in left else ()
        ),
        *(
            Member(c.number, c.id, c.role.value, c.state.value, c.trunk, runtime.call_path)
            for c in callees
            if c.id not in left
        ),
        *(
            Member(c.number, c.id, c.role.value, c.state.value, c.trunk)
            for c in others
            if c.id not in left
        ),
    )  # fmt: skip


def refused_record(
    call_id: str, channel_id: str, caller: SipAccount, dialled: str, status: int, now: float
) -> CallRecord:
    """An extension's call refused at the door (404, 488): still a record, with the
    caller as its only member."""
    return CallRecord(
        call_id=call_id,
        caller=caller.number,
        caller_name=caller.display_name,
        dialled=dialled[:32],
        callee="",
        state="ended",
        started_at=now,
        ended_at=now,
        disposition="FAILED",
        cause="rejected",
        sip_status=status,
        members=(Member(caller.number, channel_id, "caller", "ended"),),
    )
