"""The clock of one leg's session timer (``callee_session.SessionKeeper``), on a
fake dialog and a fake call, with intervals of a few seconds: a refresh at half the
interval when we refresh, the expiry when the peer does not, and a keeper that
stands down once its leg is no longer the call's. Moments are checked as lower
bounds (a timer never fires early), so a loaded machine only makes them later."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from kilopbx.engine.callee_session import KeptLeg, SessionKeeper, caller_session
from kilopbx.engine.session_timer import MIN_SE, CalleeSession, SessionTimer
from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipResponse


class FakeDialog:
    def __init__(self, status: int = 200, *answers: SipResponse) -> None:
        self.ended = False
        self.sent: list[tuple[float, dict[str, str], bytes]] = []
        self.status = status
        self.answers = list(answers)  # the first answers, then ``status``
        self.answered = asyncio.Event()

    async def request(
        self, method: str, *, headers: list[tuple[str, str]], body: bytes = b""
    ) -> SipResponse:
        assert method == "INVITE"
        self.sent.append((asyncio.get_running_loop().time(), dict(headers), body))
        if self.answers:
            return self.answers.pop(0)
        self.answered.set()
        answer = Headers([("Session-Expires", "2;refresher=uac")])  # raised to MIN_SE
        return SipResponse(self.status, "Whatever", answer, b"")


class FakeCall:
    def __init__(self) -> None:
        self.current = True
        self.expired: list[float] = []
        self.gone = asyncio.Event()

    def leg(self) -> KeptLeg:
        loop = asyncio.get_running_loop()
        return KeptLeg("call t", loop.time, lambda: self.current, lambda: b"v=0\r\n", self.end)

    def end(self) -> None:
        self.expired.append(asyncio.get_running_loop().time())
        self.gone.set()


def keeper(call: FakeCall, dialog: FakeDialog, session: CalleeSession) -> SessionKeeper:
    kept = SessionKeeper(call.leg(), "ch1", dialog, session)  # type: ignore[arg-type]
    kept.start()
    return kept


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 10.0))


def test_we_refresh_at_half_the_interval_with_our_sdp() -> None:
    async def test() -> None:
        call, dialog = FakeCall(), FakeDialog()
        started = asyncio.get_running_loop().time()
        kept = keeper(call, dialog, CalleeSession(2, we_refresh=True))
        await dialog.answered.wait()
        await asyncio.sleep(0)  # the refresh task reads the answer
        kept.stop()
        ((at, headers, body),) = dialog.sent
        assert at >= started + 1.0
        assert headers["Session-Expires"] == "2;refresher=uac" and body == b"v=0\r\n"
        assert kept.refreshes == 1 and kept.session == CalleeSession(MIN_SE, True)
        assert call.expired == []

    run(test)


def test_a_peer_that_does_not_refresh_has_the_call_ended() -> None:
    async def test() -> None:
        call, dialog = FakeCall(), FakeDialog()
        started = asyncio.get_running_loop().time()
        keeper(call, dialog, CalleeSession(3, we_refresh=False))  # over at 3 - 1 s
        await call.gone.wait()
        await asyncio.sleep(0.3)
        assert len(call.expired) == 1 and call.expired[0] >= started + 2.0
        assert dialog.sent == []

    run(test)


def test_a_peer_refresh_restarts_the_clock() -> None:
    async def test() -> None:
        call, dialog = FakeCall(), FakeDialog()
        loop = asyncio.get_running_loop()
        kept = keeper(call, dialog, CalleeSession(3, we_refresh=False))
        await asyncio.sleep(1.0)
        refreshed = loop.time()
        assert kept.phone_refreshed() == [("Session-Expires", "3;refresher=uac"),
                                          ("Require", "timer")]  # fmt: skip
        await call.gone.wait()
        assert call.expired[0] >= refreshed + 2.0

    run(test)


def test_a_refresh_answered_422_is_sent_again_at_the_peers_minimum() -> None:
    async def test() -> None:
        small = SipResponse(422, "Too Small", Headers([("Min-SE", "4")]), b"")
        call, dialog = FakeCall(), FakeDialog(200, small)
        kept = keeper(call, dialog, CalleeSession(2, we_refresh=True))
        await dialog.answered.wait()
        kept.stop()
        asked = [headers["Session-Expires"] for _, headers, _ in dialog.sent]
        assert asked == ["2;refresher=uac", "4;refresher=uac"] and call.expired == []

    run(test)


def test_a_refresh_answered_481_ends_the_call() -> None:
    async def test() -> None:
        call, dialog = FakeCall(), FakeDialog(status=481)
        keeper(call, dialog, CalleeSession(2, we_refresh=True))
        await call.gone.wait()
        assert len(dialog.sent) == 1 and len(call.expired) == 1

    run(test)


def test_a_leg_no_longer_the_calls_is_left_alone() -> None:
    async def test() -> None:
        call, dialog = FakeCall(), FakeDialog()
        kept = keeper(call, dialog, CalleeSession(2, we_refresh=True))
        call.current = False  # transferred away, handed over, ended
        await asyncio.sleep(1.5)  # past the refresh that would have been due
        assert (dialog.sent, call.expired) == ([], [])
        assert kept._handle is None  # it stood down rather than re-arming

    run(test)


def test_a_caller_that_named_us_is_refreshed_by_us() -> None:
    assert caller_session(SessionTimer(1800, we_refresh=True)) == CalleeSession(1800, True)
    assert caller_session(SessionTimer(1800)) == CalleeSession(1800, False)
