"""call/accept_inbound and call/refuse_inbound (spec 70 §3): the application's decision
on a trunk call waiting in the inbound control window (``engine/inbound_window.py``).
A ``call/transfer`` of such a call is handled here too (``transfer_waiting``)."""

from __future__ import annotations

from typing import Any

from kilopbx.api.params import required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.core.errors import DomainError
from kilopbx.engine.calls import CALLS, NO_SUCH_CHANNEL, CallEngine
from kilopbx.engine.inbound_window import WINDOW_CLOSED, Decision

MAX_FIELD = 2048  # no channel id is longer


def _engine(req: Request) -> CallEngine:
    engine = req.pbx.registry.find(CALLS)
    if engine is None:  # a PBX started without the call engine has no channels
        raise DomainError(NO_SUCH_CHANNEL, "the call engine is not running")
    return engine


def _channel(req: Request) -> str:
    channel = required(req.body, "channelid").strip()
    if len(channel) > MAX_FIELD:
        raise DomainError(NO_SUCH_CHANNEL, "no channel has so long an id")
    return channel


@endpoint("call/accept_inbound", needs_body=True)
async def call_accept_inbound(req: Request) -> dict[str, Any]:
    return {"callid": _engine(req).inbound_windows.decide(_channel(req), Decision("accept"))}


@endpoint("call/refuse_inbound", needs_body=True)
async def call_refuse_inbound(req: Request) -> dict[str, Any]:
    return {"callid": _engine(req).inbound_windows.decide(_channel(req), Decision("refuse"))}


@endpoint("call/call/refuse_inbound", needs_body=True)
async def call_call_refuse_inbound(req: Request) -> dict[str, Any]:
    """The reference text's doubled path, kept as an alias."""
    refused: dict[str, Any] = await call_refuse_inbound(req)
    return refused


def transfer_waiting(req: Request, channel: str, number: str) -> dict[str, Any] | None:
    """``call/transfer`` of a call in the window: it goes to extension ``number``;
    None when ``channel`` waits in no window (an ordinary transfer)."""
    engine = req.pbx.registry.find(CALLS)
    if engine is None or not engine.inbound_windows.waiting(channel):
        return None
    return {"callid": engine.inbound_windows.transfer(channel, number)}


map_reasons({WINDOW_CLOSED: "10016"})
