"""Members added to a call (``Call.extras``) count for the line status and are
channels of the call; a first caller that left a conference that goes on is free."""

from __future__ import annotations

from kilopbx.engine.call_model import Bridge, Call, Channel, ChannelState, Role, line_status


def conference() -> Call:
    caller = Channel("PJSIP/2001-1", Role.CALLER, "2001", ChannelState.UP)
    callee = Channel("PJSIP/2002-2", Role.CALLEE, "2002", ChannelState.UP)
    call = Call("1.1", caller, "2002", 0.0, branches={callee.id: callee})
    call.bridge = Bridge(caller.id, callee.id)
    return call


def test_an_extra_member_rings_then_is_busy_then_free() -> None:
    call = conference()
    extra = Channel("PJSIP/2003-3", Role.CALLEE, "2003")
    call.extras[extra.id] = extra
    assert extra in call.channels()
    assert line_status([call], "2003") == "Ringing"
    extra.state = ChannelState.UP
    assert line_status([call], "2003") == "Busy"
    extra.state = ChannelState.ENDED
    assert line_status([call], "2003") is None
    assert line_status([call], "2001") == line_status([call], "2002") == "Busy"


def test_a_caller_that_left_the_conference_is_free() -> None:
    call = conference()
    call.caller.state = ChannelState.ENDED
    assert line_status([call], "2001") is None
    assert line_status([call], "2002") == "Busy"
