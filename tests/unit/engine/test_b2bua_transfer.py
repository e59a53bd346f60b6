"""Blind transfer in the B2BUA machine: the kept party becomes the calling side of a
new leg in the same call; the other leaves; the call ends answered whatever the
target does."""

from __future__ import annotations

from kilopbx.engine.b2bua import (
    AnswerCaller,
    ArmTimer,
    B2bua,
    BranchAnswered,
    BranchFailed,
    Bye,
    DisarmTimer,
    Finished,
    Hangup,
    RejectCaller,
    SendBye,
    Unreached,
    new_branch,
    new_call,
)
from kilopbx.engine.call_model import ChannelState, Disposition, Role
from kilopbx.engine.call_moves import Park, Parked, Retarget, Ring, Transfer


def talking() -> B2bua:
    call = new_call("c1", "2001", "2002", 100.0)
    b2bua = B2bua(call, ring_timeout=30.0)
    b2bua.ring([new_branch(call, "2002", 0)], 100.0)
    b2bua.handle(BranchAnswered("c1-b0"), 101.0)
    return b2bua


def test_the_caller_kept_rings_the_target_and_talks_to_it() -> None:
    b = talking()
    actions = b.handle(Transfer("c1-a", "2003"), 110.0)
    assert actions == [SendBye("c1-b0"), DisarmTimer("duration"), Retarget("2003", False)]
    assert b.call.caller.state is ChannelState.RINGING  # ALERT while the target rings
    assert b.call.branches["c1-b0"].state is ChannelState.ENDED and not b.answered
    assert b.retarget([new_branch(b.call, "2003", 1)], 110.0) == [ArmTimer("ring", 140.0)]
    assert b.handle(Bye("c1-b0"), 110.1) == []  # the released phone's own BYE: nothing
    actions = b.handle(BranchAnswered("c1-b1"), 112.0)
    assert actions[:2] == [DisarmTimer("ring"), AnswerCaller("c1-b1")]
    assert b.call.answered_at == 101.0  # the first answer is the call's
    assert b.call.caller.state is ChannelState.UP
    actions = b.handle(Bye("c1-b1"), 120.0)
    assert actions[0] == SendBye("c1-a") and Finished(Disposition.ANSWERED, "callee") in actions


def test_the_callee_kept_becomes_the_calling_side() -> None:
    b = talking()
    actions = b.handle(Transfer("c1-b0", "2003", bye_released=False), 110.0)
    assert actions == [DisarmTimer("duration"), DisarmTimer("session"), Retarget("2003", True)]
    call = b.call
    assert call.caller.id == "c1-b0" and call.caller.role is Role.CALLER
    assert call.branches["c1-a"].state is ChannelState.ENDED  # kept for line and events
    assert "c1-b0" not in call.branches
    b.retarget([new_branch(call, "2003", 1)], 110.0)
    assert b.handle(Bye("c1-a"), 110.5) == []
    b.handle(BranchAnswered("c1-b1"), 111.0)
    assert b.call.bridge is not None and b.call.bridge.a == "c1-b0"


def test_a_target_that_fails_ends_the_call_with_a_bye_to_the_kept_party() -> None:
    b = talking()
    b.handle(Transfer("c1-a", "2003"), 110.0)
    b.retarget([new_branch(b.call, "2003", 1)], 110.0)
    actions = b.handle(BranchFailed("c1-b1", 486), 111.0)
    assert actions == [DisarmTimer("ring"), Unreached("busy", 486)]
    actions = b.give_up(486, "busy", 111.0)
    assert actions[:2] == [RejectCaller(486), SendBye("c1-a")]  # a BYE: it talked already
    assert Finished(Disposition.ANSWERED, "busy") in actions


def test_hangup_or_caller_bye_while_the_target_rings() -> None:
    b = talking()
    b.handle(Transfer("c1-a", "2003"), 110.0)
    b.retarget([new_branch(b.call, "2003", 1)], 110.0)
    actions = b.handle(Hangup("api"), 111.0)
    assert SendBye("c1-a") in actions and Finished(Disposition.ANSWERED, "api") in actions
    b = talking()
    b.handle(Transfer("c1-a", "2003"), 110.0)
    b.retarget([new_branch(b.call, "2003", 1)], 110.0)
    actions = b.handle(Bye("c1-a"), 111.0)
    assert Finished(Disposition.ANSWERED, "caller") in actions


def test_transfer_needs_a_bridged_member() -> None:
    call = new_call("c1", "2001", "2002", 100.0)
    b = B2bua(call, ring_timeout=30.0)
    b.ring([new_branch(call, "2002", 0)], 100.0)
    assert b.handle(Transfer("c1-a", "2003"), 101.0) == []  # still ringing
    b = talking()
    assert b.handle(Transfer("nobody", "2003"), 110.0) == []
    b.handle(Bye("c1-a"), 111.0)
    assert b.handle(Transfer("c1-b0", "2003"), 112.0) == []  # ended


def test_park_holds_the_kept_party_and_ring_sends_it_on() -> None:
    b = talking()
    actions = b.handle(Park("c1-b0"), 110.0)
    assert actions == [
        SendBye("c1-a"),
        DisarmTimer("duration"),
        DisarmTimer("session"),
        Parked(True),
    ]
    assert b.call.caller.id == "c1-b0" and b.call.caller.state is ChannelState.HELD
    assert b.handle(Park("c1-b0"), 111.0) == []  # parked already: not bridged
    assert b.handle(Ring("2002"), 113.0) == [Retarget("2002", False)]
    assert b.call.caller.state is ChannelState.RINGING
    retriever = new_branch(b.call, "2003", 5)
    b.call.branches[retriever.id] = retriever
    actions = b.handle(BranchAnswered(retriever.id), 114.0)
    assert AnswerCaller(retriever.id) in actions and b.answered
    assert b.handle(Ring("2002"), 115.0) == []  # answered: nothing to ring


def test_hangup_of_a_parked_call_byes_the_parked_party() -> None:
    b = talking()
    b.handle(Park("c1-a"), 110.0)
    actions = b.handle(Hangup("api"), 111.0)
    assert SendBye("c1-a") in actions and Finished(Disposition.ANSWERED, "api") in actions
