"""Splicing in the B2BUA machine: a leg that talks already (a consultation's target, a
phone's INVITE with Replaces) takes the place of the kept party's peer at once, in the
same call; the first answer stays the call's."""

from __future__ import annotations

from kilopbx.engine.b2bua import (
    AnswerCaller,
    B2bua,
    BranchAnswered,
    Bye,
    DisarmTimer,
    Finished,
    SendBye,
    new_branch,
    new_call,
)
from kilopbx.engine.call_model import Bridge, ChannelState, Disposition, Role
from kilopbx.engine.call_moves import Splice, Spliced


def talking() -> B2bua:
    call = new_call("c1", "2001", "2002", 100.0)
    b2bua = B2bua(call, ring_timeout=30.0)
    b2bua.ring([new_branch(call, "2002", 0)], 100.0)
    b2bua.handle(BranchAnswered("c1-b0"), 101.0)
    return b2bua


def joining(b: B2bua, number: str = "2003") -> str:
    channel = new_branch(b.call, number, 5, "c1-j")
    b.call.branches[channel.id] = channel
    return channel.id


def test_the_callee_leaves_and_the_joined_leg_talks_to_the_caller() -> None:
    b = talking()
    joined = joining(b)
    actions = b.handle(Splice("c1-a", joined), 110.0)
    assert actions[:3] == [
        SendBye("c1-b0"),
        DisarmTimer("duration"),
        Spliced(joined, "c1-b0", False),
    ]
    assert AnswerCaller(joined) in actions
    call = b.call
    assert call.bridge == Bridge("c1-a", joined) and call.answered_at == 101.0
    assert call.caller.state is ChannelState.UP and call.branches[joined].state is ChannelState.UP
    assert call.branches["c1-b0"].state is ChannelState.ENDED
    assert b.handle(Bye("c1-b0"), 110.5) == []  # the released phone's own BYE: nothing
    ending = b.handle(Bye(joined), 120.0)
    assert ending[0] == SendBye("c1-a") and Finished(Disposition.ANSWERED, "callee") in ending


def test_the_caller_leaves_and_the_callee_becomes_the_calling_side() -> None:
    b = talking()
    joined = joining(b)
    actions = b.handle(Splice("c1-b0", joined, bye_released=False), 110.0)
    assert actions[:3] == [DisarmTimer("duration"), DisarmTimer("session"),
                           Spliced(joined, "c1-a", True)]  # fmt: skip
    call = b.call
    assert call.caller.id == "c1-b0" and call.caller.role is Role.CALLER
    assert call.bridge == Bridge("c1-b0", joined)
    assert call.branches["c1-a"].state is ChannelState.ENDED


def test_a_splice_that_cannot_be_made_changes_nothing() -> None:
    b = talking()
    assert b.handle(Splice("c1-a", "c1-nobody"), 110.0) == []  # no such leg
    joined = joining(b)
    assert b.handle(Splice("c1-x", joined), 110.0) == []  # the kept party is not talking
    assert b.handle(Splice(joined, joined), 110.0) == []
    assert b.call.bridge == Bridge("c1-a", "c1-b0")
    b.handle(Bye("c1-a"), 111.0)
    assert b.handle(Splice("c1-b0", joined), 112.0) == []  # the call has ended
