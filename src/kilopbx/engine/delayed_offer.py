"""A caller's INVITE without SDP (delayed offer, RFC 3261 §13.2.1 and RFC 3264).

The callee is rung as usual with our offer of every codec the worker has. When it
answers, the caller gets our anchored media as the *offer* in the 200 (the callee's
codec first, so that the worker only rewrites headers when the caller takes it), and
its *answer* comes in the ACK. Unreliable provisional responses carry no SDP then: an
offer must travel in a reliable message. An ACK without usable SDP ends the call on
both legs (BYE), recorded as failed with the cause ``bad_sdp``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from kilopbx.engine.anchor import remote_fields, specs
from kilopbx.engine.b2bua import Hangup
from kilopbx.engine.sdp_negotiation import (
    AUDIO,
    DTMF_PAYLOAD,
    TELEPHONE_EVENT,
    Codec,
    LegMedia,
    SdpRejected,
    read_media,
)
from kilopbx.media.pool import MediaError
from kilopbx.sip.message import SipRequest

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime

log = logging.getLogger(__name__)

EVERY_CODEC = tuple(Codec(pt, name) for name, pt in AUDIO.items())
DTMF = Codec(DTMF_PAYLOAD, TELEPHONE_EVENT)
BAD_SDP = "bad_sdp"  # the call's cause when the caller's answer is unusable


def without_offer(request: SipRequest) -> bool:
    """An INVITE that leaves the offer to us: no body at all."""
    return not request.body


def stand_in_offer() -> LegMedia:
    """What routing and the callee's offer work from until the caller answers: every
    codec we have, no address yet."""
    return LegMedia("0.0.0.0", 0, EVERY_CODEC, DTMF, "sendrecv")


def our_offer(runtime: CallRuntime) -> bytes:
    """The SDP of the caller's 200: the codec chosen for the callee first, then the
    others (any of them works: the worker transcodes), and telephone-event."""
    anchor = runtime.a
    assert anchor is not None
    first = anchor.codecs[0] if anchor.codecs else EVERY_CODEC[0]
    anchor.codecs = (first, *(c for c in EVERY_CODEC if c.name != first.name))
    anchor.dtmf = DTMF
    return anchor.sdp()


async def take_answer(runtime: CallRuntime, ack: SipRequest) -> None:
    """Point the caller's endpoint at what its ACK answered; a missing or unusable
    answer hangs the call up (BYE to both legs)."""
    anchor = runtime.a
    assert anchor is not None
    try:
        answer = read_media(ack.body)
        if not answer.codecs:
            raise SdpRejected("the answer refused the audio stream")
        unknown = {c.name for c in answer.codecs} - {c.name for c in anchor.codecs}
        if unknown:
            raise SdpRejected("the answer names codecs we did not offer")
    except SdpRejected as exc:
        log.info("call %s: the caller's ACK carries no usable answer: %s", runtime.call.id, exc)
        runtime.final_status = 488
        runtime.feed(Hangup(BAD_SDP, 488))
        return
    runtime.offer = answer
    anchor.codecs, anchor.dtmf = (answer.codecs[0],), answer.dtmf
    fields: dict[str, Any] = {"codecs": specs(answer.worker_codecs())}
    if (remote := remote_fields(answer)) is not None:
        fields["remote"] = remote
    with contextlib.suppress(MediaError):
        await runtime.engine.media.modify_endpoint(anchor.endpoint, **fields)
