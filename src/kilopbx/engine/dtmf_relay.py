"""Key presses between the two phones of a bridged call, whatever form each one uses.

A phone sends its keys as RFC 4733 events, as SIP INFO, or as tones in the audio (no
telephone-event negotiated). The worker relays RFC 4733 events to a leg that
negotiated telephone-event and detects in-band keys on a leg that did not; this
module converts the rest, so the other phone gets each key once in a form it knows:

| key came as | other leg has telephone-event | other leg has not |
| --- | --- | --- |
| RFC 4733 | relayed by the worker already | SIP INFO |
| SIP INFO | RFC 4733, sent by the worker | SIP INFO |
| in-band tones | RFC 4733, sent by the worker | the tones, in the audio |
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from kilopbx.engine.dtmf_info import DTMF_RELAY, info_body
from kilopbx.media.pool import EndpointRef, MediaError
from kilopbx.sip.dialog import DialogError
from kilopbx.sip.dialog_user import SipDialog

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime

log = logging.getLogger(__name__)

RFC4733, INFO, INBAND = "rfc4733", "info", "inband"
BUSY_WAIT = 0.05
BUSY_RETRIES = 100  # 5 s of keys queued behind each other at most
SOURCES = (RFC4733, INFO, INBAND)


def conversion(source: str, other_has_events: bool) -> str | None:
    """How the other phone must get a key that came as ``source``: "rfc4733" (the
    worker sends events), "info" (we send SIP INFO), or None (it has it already)."""
    if other_has_events:
        return None if source == RFC4733 else RFC4733
    return None if source == INBAND else INFO


def relay_digit(
    runtime: CallRuntime, from_caller: bool, digit: str, duration_ms: int, source: str
) -> None:
    """A key pressed by the caller (``from_caller``) or the answered callee of a
    bridged call: make sure the other phone gets it."""
    call = runtime.call
    if runtime.machine.ended or call.bridge is None:
        return  # not talking: nobody to pass the key to
    other = runtime.b if from_caller else runtime.a
    if other is None:
        return
    how = conversion(source, other.dtmf is not None)
    if how == RFC4733:
        runtime._spawn(_send_events(runtime, other.endpoint, digit, duration_ms))
    elif how == INFO:
        dialog = runtime.dialogs.get(call.bridge.b) if from_caller else runtime.dialog_a
        if dialog is not None:
            runtime._spawn(send_info(dialog, digit, duration_ms))


async def _send_events(runtime: CallRuntime, endpoint: EndpointRef, digit: str, ms: int) -> None:
    duration = max(40, min(ms or 100, 5000))
    for _ in range(BUSY_RETRIES):  # the previous key may still be on its way: queue behind it
        try:
            await runtime.engine.media.send_dtmf(endpoint, digit, duration)
            return
        except MediaError as exc:
            if exc.code != "conflict" or "already" not in str(exc.detail):
                log.info("call %s: key %s not sent as RFC 4733: %s", runtime.call.id, digit, exc)
                return
        await asyncio.sleep(BUSY_WAIT)
    log.info(
        "call %s: key %s dropped: the keys before it are still being sent", runtime.call.id, digit
    )


async def send_info(dialog: SipDialog, digit: str, duration_ms: int) -> None:
    with contextlib.suppress(DialogError):
        await dialog.request(
            "INFO",
            headers=[("Content-Type", DTMF_RELAY)],
            body=info_body(digit, max(40, min(duration_ms or 100, 5000))),
        )
