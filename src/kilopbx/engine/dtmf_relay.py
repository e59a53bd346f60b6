"""Key presses between the two phones of a bridged call, whatever form each one uses.

A phone sends its keys as RFC 4733 events, as SIP INFO, or as tones in the audio (no
telephone-event negotiated). The worker relays RFC 4733 events to a leg that
negotiated telephone-event and detects in-band keys on a leg that did not; this
module converts the rest, so the other phone gets each key once in a form it knows:

| key came as | other leg has telephone-event | other leg has not |
| --- | --- | --- |
| RFC 4733 | relayed by the worker already | SIP INFO, else tones |
| SIP INFO | RFC 4733, sent by the worker | SIP INFO, else tones |
| in-band tones | RFC 4733, sent by the worker | the tones, in the audio |

"Else tones": a phone that answers our INFO 405, 415 or 501 takes no keys by INFO;
the key is then played to it as its DTMF tone pair (the worker's player, which holds
back the other phone's audio meanwhile), and so is every later key of the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from kilopbx.engine.anchor import Anchor
from kilopbx.engine.dtmf_info import DTMF_RELAY, info_body
from kilopbx.media.inband_dtmf import HIGH, KEYS, LOW
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
INFO_REFUSED = frozenset({405, 415, 501})  # the phone takes no DTMF by INFO
TONE_GAP_MS = 60
TONE_WAIT = 6.0  # the longest one key's tone may take to play


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
    elif how == INFO and other.info_refused:
        runtime._spawn(_play_tones(runtime, other, digit, duration_ms))
    elif how == INFO:
        dialog = runtime.dialogs.get(call.bridge.b) if from_caller else runtime.dialog_a
        if dialog is not None:
            runtime._spawn(_info_or_tones(runtime, dialog, other, digit, duration_ms))


async def _info_or_tones(
    runtime: CallRuntime, dialog: SipDialog, other: Anchor, digit: str, duration_ms: int
) -> None:
    if await send_info(dialog, digit, duration_ms) in INFO_REFUSED:
        log.info("call %s: the phone refuses INFO keys: tones from now on", runtime.call.id)
        other.info_refused = True
        await _play_tones(runtime, other, digit, duration_ms)


def tone_source(digit: str, duration_ms: int) -> str | None:
    """The worker source that plays ``digit``'s DTMF pair, or None for no key."""
    row = next((i for i, keys in enumerate(KEYS) if digit.upper() in keys), None)
    if row is None or len(digit) != 1:
        return None
    low, high = LOW[row], HIGH[KEYS[row].index(digit.upper())]
    on = max(40, min(duration_ms or 100, 5000))
    return f"tone:{low:g}+{high:g}/{on},{TONE_GAP_MS}"


async def _play_tones(runtime: CallRuntime, other: Anchor, digit: str, duration_ms: int) -> None:
    source = tone_source(digit, duration_ms)
    if source is None:
        return
    if other.key_tones is None:
        other.key_tones = asyncio.Lock()
    async with other.key_tones:  # keys in the order they came, never over each other
        try:
            playback = await runtime.engine.media.play(other.endpoint, source)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(playback.ended), TONE_WAIT)
        except MediaError as exc:
            log.info("call %s: key %s not played as tones: %s", runtime.call.id, digit, exc)


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


async def send_info(dialog: SipDialog, digit: str, duration_ms: int) -> int | None:
    """Send the key as SIP INFO; the phone's answer (None: the dialog has ended)."""
    with contextlib.suppress(DialogError):
        response = await dialog.request(
            "INFO",
            headers=[("Content-Type", DTMF_RELAY)],
            body=info_body(digit, max(40, min(duration_ms or 100, 5000))),
        )
        return response.status
    return None
