"""An outbound route's PIN (31-routes.md, the route's ``pin``): before the call goes
out the PBX answers the caller, asks for the PIN (prompt ``enter-pin``) and reads
keys until ``#``, as many keys as the PIN has, or a pause. The right PIN sends the
call out through the route like any outbound call (on the already answered leg); a
wrong one, or none, is told so (``pin-incorrect``) and hung up: ``CallFailed``
``NO Outbound Restriction`` (the caller may not make this call) and an Outbound CDR.
The PIN is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING

from kilopbx.engine.app_call import AppCall
from kilopbx.engine.applications import AppChannel, Connect, Outcome, Release
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.routing import OutboundChoice
from kilopbx.engine.sdp_negotiation import LegMedia
from kilopbx.engine.session_timer import SessionTimer
from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

ASK = "enter-pin"
WRONG = "pin-incorrect"
FALLBACK = {ASK: "tone:523+659/700,300", WRONG: "tone:congestion/2000"}
WRONG_PIN = "wrong_pin"  # the AppCall cause: CallFailed "NO Outbound Restriction"
FIRST_KEY_SECONDS = 10.0
NEXT_KEY_SECONDS = 5.0
MAX_KEYS = 32


class RoutePin:
    """The application that asks for the PIN; never registered (owns no number)."""

    kind = "route-pin"

    def __init__(self, engine: CallEngine, pin: str) -> None:
        self.engine = engine
        self.pin = pin

    async def owns(self, number: str) -> bool:
        return False

    def _source(self, name: str) -> str:
        sounds = self.engine.sounds()
        found = sounds.prompt(name) if sounds is not None else None
        return found or FALLBACK[name]

    async def run(self, channel: AppChannel, number: str) -> Outcome:
        await channel.play(self._source(ASK))
        entered = await self._keys(channel)
        if hmac.compare_digest(entered.encode(), self.pin.encode()):
            return Connect(number)
        if not channel.hung_up:
            channel.clear_digits()
            await channel.play(self._source(WRONG))
        return Release(WRONG_PIN)

    async def _keys(self, channel: AppChannel) -> str:
        entered = ""
        timeout = FIRST_KEY_SECONDS
        while len(entered) < min(len(self.pin), MAX_KEYS):
            key = await channel.next_digit(timeout)
            if key is None or key == "#":
                break
            entered += key
            timeout = NEXT_KEY_SECONDS
        return entered


async def ask_pin(
    engine: CallEngine,
    transaction: ServerTransactionHandle,
    caller: SipAccount,
    dialled: str,
    offer: LegMedia,
    choice: OutboundChoice,
    timer: SessionTimer | None = None,
) -> None:
    """Answer ``caller``'s call to ``dialled`` and ask for the route's PIN first
    (with the session timer the caller asked for, if any)."""
    call = AppCall(engine, transaction, caller, dialled, offer)
    call.outside, call.timer = choice, timer
    await call.run(RoutePin(engine, choice.pin))
