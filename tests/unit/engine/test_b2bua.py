"""The B2BUA state machine: every path of a call fed as events, with times passed in."""

from __future__ import annotations

from kilopbx.engine.b2bua import (
    AnswerCaller,
    ArmTimer,
    B2bua,
    BranchAnswered,
    BranchFailed,
    BranchRinging,
    Bye,
    CallerCancelled,
    CancelBranch,
    DisarmTimer,
    Finished,
    Hangup,
    HoldChanged,
    RejectCaller,
    RingCaller,
    SendBye,
    TimerFired,
    Unreached,
    new_branch,
    new_call,
)
from kilopbx.engine.call_model import ChannelState, Disposition, line_status


def machine(
    contacts: int = 1, ring_timeout: float | None = 30.0, max_duration: float | None = None
) -> B2bua:
    call = new_call("c1", "2001", "2002", 100.0)
    b2bua = B2bua(call, ring_timeout=ring_timeout, max_duration=max_duration)
    actions = b2bua.ring([new_branch(call, "2002", i) for i in range(contacts)], 100.0)
    assert actions == ([ArmTimer("ring", 130.0)] if ring_timeout else [])
    return b2bua


def test_ring_answer_and_bye_from_caller() -> None:
    b = machine()
    assert b.handle(BranchRinging("c1-b0", 180, False), 101.0) == [RingCaller(180, None)]
    assert b.handle(BranchRinging("c1-b0", 180, False), 101.5) == []  # one 180 is enough
    actions = b.handle(BranchAnswered("c1-b0"), 105.0)
    assert actions == [DisarmTimer("ring"), AnswerCaller("c1-b0")]
    assert b.call.answered_at == 105.0 and b.call.caller.state is ChannelState.UP
    actions = b.handle(Bye("c1-a"), 110.0)
    assert actions[0] == SendBye("c1-b0")
    assert Finished(Disposition.ANSWERED, "caller") in actions
    assert b.call.ended_at == 110.0 and b.ended


def test_bye_from_callee_hangs_up_caller() -> None:
    b = machine()
    b.handle(BranchAnswered("c1-b0"), 101.0)
    actions = b.handle(Bye("c1-b0"), 102.0)
    assert actions[0] == SendBye("c1-a")
    assert Finished(Disposition.ANSWERED, "callee") in actions


def test_early_media_gives_the_caller_183_with_that_branch() -> None:
    b = machine()
    assert b.handle(BranchRinging("c1-b0", 183, True), 101.0) == [RingCaller(183, "c1-b0")]
    assert b.call.caller.state is ChannelState.EARLY


def test_forking_first_answer_wins_and_the_others_are_cancelled() -> None:
    b = machine(contacts=3)
    actions = b.handle(BranchAnswered("c1-b1"), 102.0)
    assert CancelBranch("c1-b0") in actions and CancelBranch("c1-b2") in actions
    assert AnswerCaller("c1-b1") in actions
    # a second contact whose 200 crossed our CANCEL gets a BYE
    assert b.handle(BranchAnswered("c1-b2"), 102.1) == [SendBye("c1-b2")]
    assert b.handle(BranchFailed("c1-b0", 487), 102.2) == []


def test_caller_cancel_cancels_every_branch() -> None:
    b = machine(contacts=2)
    actions = b.handle(CallerCancelled(), 103.0)
    assert [a for a in actions if isinstance(a, CancelBranch)] == [
        CancelBranch("c1-b0"),
        CancelBranch("c1-b1"),
    ]
    assert Finished(Disposition.NO_ANSWER, "cancel") in actions
    assert not any(isinstance(a, RejectCaller) for a in actions)  # the stack sent 487
    assert b.handle(BranchFailed("c1-b0", 487), 103.1) == []


def test_busy_branch_is_reported_once_all_failed() -> None:
    b = machine(contacts=2)
    assert b.handle(BranchFailed("c1-b0", 486), 101.0) == []
    actions = b.handle(BranchFailed("c1-b1", 480), 101.1)
    assert actions == [DisarmTimer("ring"), Unreached("busy", 486)]
    actions = b.give_up(486, "busy", 101.2)
    assert actions[0] == RejectCaller(486)
    assert Finished(Disposition.BUSY, "busy") in actions


def test_unavailable_and_other_failures() -> None:
    b = machine()
    assert b.handle(BranchFailed("c1-b0", 408), 101.0)[-1] == Unreached("unavailable", 480)
    b = machine(contacts=2)
    b.handle(BranchFailed("c1-b0", 503), 101.0)
    assert b.handle(BranchFailed("c1-b1", 488), 101.0)[-1] == Unreached("failed", 488)


def test_ring_timeout_cancels_then_forwarding_retargets() -> None:
    b = machine()
    actions = b.handle(TimerFired("ring"), 130.0)
    assert actions == [CancelBranch("c1-b0"), Unreached("no_answer", 480)]
    assert b.handle(BranchFailed("c1-b0", 487), 130.1) == []  # the cancelled branch
    forwarded = new_branch(b.call, "2003", 1)
    assert b.retarget([forwarded], 130.2) == [ArmTimer("ring", 160.2)]
    assert b.handle(BranchAnswered("c1-b1"), 131.0)[1] == AnswerCaller("c1-b1")
    assert b.call.answered_by is forwarded


def test_max_duration_hangs_up_both_sides() -> None:
    b = machine(max_duration=60.0)
    actions = b.handle(BranchAnswered("c1-b0"), 110.0)
    assert actions[-1] == ArmTimer("duration", 170.0)
    actions = b.handle(TimerFired("duration"), 170.0)
    assert actions[:2] == [SendBye("c1-a"), SendBye("c1-b0")]
    assert Finished(Disposition.ANSWERED, "max_duration") in actions


def test_hangup_before_answer_rejects_the_caller() -> None:
    b = machine(contacts=2)
    actions = b.handle(Hangup("worker_lost", 503), 101.0)
    assert RejectCaller(503) in actions
    assert CancelBranch("c1-b0") in actions and CancelBranch("c1-b1") in actions
    assert Finished(Disposition.FAILED, "worker_lost") in actions


def test_hold_and_resume_change_only_the_channel_state() -> None:
    b = machine()
    b.handle(BranchAnswered("c1-b0"), 101.0)
    assert b.handle(HoldChanged("c1-a", True), 102.0) == []
    assert b.call.caller.state is ChannelState.HELD
    b.handle(HoldChanged("c1-a", False), 103.0)
    assert b.call.caller.state is ChannelState.UP


def test_nothing_happens_after_the_end_but_late_answers_get_a_bye() -> None:
    b = machine(contacts=2)
    b.handle(CallerCancelled(), 101.0)
    assert b.handle(Bye("c1-a"), 102.0) == []
    assert b.handle(TimerFired("ring"), 130.0) == []
    assert b.handle(BranchAnswered("c1-b1"), 101.1) == [SendBye("c1-b1")]
    assert b.give_up(480, "no_answer", 103.0) == []


def test_bye_in_early_dialog_from_caller_is_a_hang_up() -> None:
    b = machine()
    b.handle(BranchRinging("c1-b0", 180, False), 101.0)
    actions = b.handle(Bye("c1-a"), 102.0)
    assert CancelBranch("c1-b0") in actions
    assert Finished(Disposition.NO_ANSWER, "caller") in actions


def test_unreachable_target_then_forwarded_with_its_own_ring_timeout() -> None:
    call = new_call("c1", "2001", "2002", 100.0)
    b = B2bua(call, ring_timeout=30.0)
    assert b.unreachable("busy", 486) == [DisarmTimer("ring"), Unreached("busy", 486)]
    forwarded = new_branch(call, "2003", 0, "PJSIP/2003-00000001")
    assert b.retarget([forwarded], 101.0, ring_timeout=5.0) == [ArmTimer("ring", 106.0)]
    assert b.handle(BranchAnswered("PJSIP/2003-00000001"), 102.0)[1] == AnswerCaller(
        "PJSIP/2003-00000001"
    )
    assert b.unreachable("busy", 486) == []  # answered: nothing to do


def test_line_status_of_each_party() -> None:
    b = machine(contacts=2)
    calls = [b.call]
    assert line_status(calls, "2001") == "Busy"  # placing a call
    assert line_status(calls, "2002") == "Ringing"
    assert line_status(calls, "2003") is None
    b.handle(BranchAnswered("c1-b0"), 101.0)
    assert line_status(calls, "2002") == "Busy"
    b.handle(Bye("c1-a"), 102.0)
    assert line_status(calls, "2001") is None and line_status(calls, "2002") is None
