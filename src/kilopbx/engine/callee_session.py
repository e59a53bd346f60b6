"""The session timer on one leg of a live call (RFC 4028; the rules are in
``session_timer``, sans IO).

Our INVITE to a callee offers a session interval (``[calls] session_expires``); the
callee's 2xx says who refreshes. Once that callee is the answered party a keeper
watches the leg: when we are the refresher it re-INVITEs the callee (our current
SDP, unchanged) at half the interval (a refresh answered 422 is sent again at the
peer's ``Min-SE``); when the callee is, each of its re-INVITEs or UPDATEs restarts
the clock. A session that expires (not refreshed in time, or a
refresh answered 408 or 481) hangs the call up through the call's own state machine
(``TimerFired("session")``: BYE to both phones, cause ``session_expired``). A caller
whose INVITE named us the refresher (``refresher=uas``) gets the same keeper on its
leg, and so does a caller an application (IVR) answered, until the application
hands it to an ordinary call.

The keeper knows its call only through ``KeptLeg``: the clock, whether the leg is
still the one the call talks to, our SDP for it, and what to do when it expires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kilopbx.engine.b2bua import TimerFired
from kilopbx.engine.session_timer import CalleeSession, SessionTimer, granted, raised_interval
from kilopbx.sip.dialog import DialogError
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.message import SipResponse

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime

log = logging.getLogger(__name__)

RETRY = 5.0  # seconds before a refresh that failed (491, 500...) is tried again
ENDING = frozenset({408, 481})  # §10: a refresh answered so means the session is gone


@dataclass(frozen=True, slots=True)
class KeptLeg:
    """What a keeper needs from the call that owns the leg."""

    name: str  # the call, for the log
    now: Callable[[], float]
    current: Callable[[], bool]  # still the leg the call talks to (not moved, not ended)
    sdp: Callable[[], bytes | None]  # our current SDP toward it
    expire: Callable[[], None]  # the session is over: end the call


class SessionKeeper:
    def __init__(
        self, leg: KeptLeg, channel: str, dialog: SipDialog, session: CalleeSession
    ) -> None:
        self.leg = leg
        self.channel = channel
        self.dialog = dialog
        self.session = session
        self.refreshed_at = leg.now()
        self.refreshes = 0  # refreshes we sent that the peer accepted
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def start(self) -> None:
        self._arm(self.session.deadline(self.refreshed_at))

    def phone_refreshed(self) -> list[tuple[str, str]]:
        """The peer refreshed the session itself (re-INVITE or UPDATE): the clock
        starts again; returns the headers of our 2xx to it."""
        self.refreshed_at = self.leg.now()
        self.start()
        return [] if self.session.we_refresh else self.session.answer_headers()

    def stop(self) -> None:
        self._stopped = True
        if self._handle is not None:
            self._handle.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # -- inside --------------------------------------------------------------------------

    def _arm(self, at: float) -> None:
        if self._stopped:
            return
        if self._handle is not None:
            self._handle.cancel()
        delay = max(0.0, at - self.leg.now())
        self._handle = asyncio.get_running_loop().call_later(delay, self._due)

    def _current(self) -> bool:
        return not self.dialog.ended and self.leg.current()

    def _due(self) -> None:
        self._handle = None
        if self._stopped or not self._current():
            self.stop()
            return
        if self.leg.now() >= self.session.expires_at(self.refreshed_at):
            self._expire()
        elif self.session.we_refresh:
            self._task = asyncio.get_running_loop().create_task(self._refresh())
        else:
            self._arm(self.session.expires_at(self.refreshed_at))

    async def _refresh(self) -> None:
        response: SipResponse | None = None
        try:
            if (sdp := self.leg.sdp()) is not None:
                response = await self.dialog.request(
                    "INVITE",
                    headers=[("Content-Type", "application/sdp"), *self.session.refresh_headers()],
                    body=sdp,
                )
        except DialogError as exc:  # an INVITE of the phone crosses ours, or it left
            log.info("%s: session refresh not sent: %s", self.leg.name, exc)
        if self._stopped or not self._current():
            return
        status = 0 if response is None else response.status
        if response is not None and 200 <= status < 300:
            self.refreshes += 1
            self.refreshed_at = self.leg.now()
            session = granted(response)
            if session is None:  # the peer no longer wants a timer (§7.2)
                self.stop()
                return
            self.session = session
            self.start()
        elif status in ENDING:
            self._expire()
        elif (
            response is not None
            and (wanted := raised_interval(self.session.interval, response)) is not None
        ):  # §7.4: our refresh asked for less than its minimum: ask again
            self.session = replace(self.session, interval=wanted)
            self._arm(self.leg.now())
        else:
            now = self.leg.now()
            self._arm(min(now + RETRY, self.session.expires_at(self.refreshed_at)))

    def _expire(self) -> None:
        log.info("%s: the session of %s expired", self.leg.name, self.channel)
        self.stop()
        self.leg.expire()


def caller_session(timer: SessionTimer) -> CalleeSession:
    """The clock of a caller's session timer: we refresh when it named us, else it
    must, and the session ends ``min(32, interval / 3)`` before the interval (§10)."""
    return CalleeSession(timer.interval, we_refresh=timer.we_refresh)


def _runtime_leg(runtime: CallRuntime, current: Callable[[], bool], channel: str) -> KeptLeg:
    return KeptLeg(
        name=f"call {runtime.call.id}",
        now=runtime.engine.now,
        current=lambda: not runtime.machine.ended and current(),
        sdp=lambda: runtime.leg_sdp(channel),
        expire=lambda: runtime.feed(TimerFired("session")),
    )


def keep_caller_session(runtime: CallRuntime) -> None:
    """The caller was answered (or handed over answered): refresh its session when it
    asked us to, while it is the call's caller with this dialog and keeps its timer (a
    transfer or a conference it left drops the timer)."""
    timer, dialog = runtime.session_timer, runtime.dialog_a
    if runtime.caller_keeper is not None:
        runtime.caller_keeper.stop()
        runtime.caller_keeper = None
    if timer is None or not timer.we_refresh or dialog is None:
        return
    channel = runtime.caller_id

    def current() -> bool:
        kept = runtime.session_timer is not None and runtime.caller_id == channel
        return kept and runtime.dialog_a is dialog

    leg = _runtime_leg(runtime, current, channel)
    runtime.caller_keeper = SessionKeeper(leg, channel, dialog, caller_session(timer))
    runtime.caller_keeper.start()


def keep_callee_session(runtime: CallRuntime, branch: str) -> None:
    """``branch`` answered (or took over the call): watch its session timer, if its
    2xx set one up; a previous callee's keeper is stopped."""
    if runtime.callee_keeper is not None:
        runtime.callee_keeper.stop()
        runtime.callee_keeper = None
    session, dialog = runtime.callee_sessions.get(branch), runtime.dialogs.get(branch)
    if session is None or dialog is None:
        return

    def current() -> bool:
        answered = runtime.call.answered_by
        return answered is not None and answered.id == branch

    leg = _runtime_leg(runtime, current, branch)
    runtime.callee_keeper = SessionKeeper(leg, branch, dialog, session)
    runtime.callee_keeper.start()
