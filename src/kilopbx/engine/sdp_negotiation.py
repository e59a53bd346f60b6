"""SDP offer/answer (RFC 3264) for one anchored leg, sans IO.

Every call's media goes through a media worker, so each leg negotiates with us, not
with the other phone: we read a phone's offer (or answer) into a ``LegMedia``, pick
the codecs the worker can handle, and write our own SDP with the worker's address and
port. Codecs the caller offered go first in our offer to the callee, so the two legs
share one codec (the worker only rewrites headers) whenever they can; when they share
none, the worker transcodes between PCMU, PCMA and G.722. telephone-event (RFC 4733)
is offered on both legs and passed end to end.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kilopbx.sip.memo import Memo
from kilopbx.sip.sdp import (
    Connection,
    MediaDescription,
    Origin,
    SdpParseError,
    SessionDescription,
    effective_direction,
    parse_sdp,
)

# what the media workers relay and transcode, with their static payload types
AUDIO = {"PCMU": 0, "PCMA": 8, "G722": 9}
TELEPHONE_EVENT = "telephone-event"
DTMF_PAYLOAD = 101  # the dynamic payload type of our own offers
MAX_SDP = 8192  # far above any phone's offer; more is refused unread
HOLD_ANSWER = {"sendonly": "recvonly", "inactive": "inactive", "recvonly": "sendonly"}


class SdpRejected(ValueError):
    """An offer or answer we cannot use: the leg gets 488 Not Acceptable Here."""


@dataclass(frozen=True, slots=True)
class Codec:
    payload_type: int
    name: str  # as the media worker names it: PCMU, PCMA, G722, telephone-event


@dataclass(frozen=True, slots=True)
class LegMedia:
    """What one phone's SDP says about its audio: where to send it and how."""

    host: str
    port: int  # 0: the stream was refused or disabled
    codecs: tuple[Codec, ...]  # usable audio codecs, the phone's preference first
    dtmf: Codec | None  # its telephone-event, if any
    direction: str  # sendrecv, sendonly, recvonly, inactive
    ptime: int | None = None

    @property
    def on_hold(self) -> bool:
        """The phone stopped sending (sendonly or inactive: RFC 3264 §8.4 hold)."""
        return self.direction in ("sendonly", "inactive") or self.host == "0.0.0.0"

    @property
    def names(self) -> frozenset[str]:
        return frozenset(c.name for c in self.codecs)

    def worker_codecs(self, first: Codec | None = None) -> list[tuple[int, str]]:
        """The codec list for the worker's endpoint: ``first`` is what we send."""
        audio = list(self.codecs)
        if first is not None and first in audio:
            audio.remove(first)
            audio.insert(0, first)
        listed = [(c.payload_type, c.name) for c in audio]
        if self.dtmf is not None:
            listed.append((self.dtmf.payload_type, self.dtmf.name))
        return listed


def _canonical_ipv4(text: str) -> str:
    return str(ipaddress.IPv4Address(text))  # ValueError for anything else


# The stdlib parses an address in Python, two SDPs a call; phones repeat theirs.
_ipv4_literal = Memo(_canonical_ipv4)


def read_media(body: bytes) -> LegMedia:
    """The first audio stream of an SDP body; SdpRejected when it offers nothing we
    can relay (no audio, only codecs we lack, an address that is no IPv4 literal)."""
    if not body:
        raise SdpRejected("no SDP")
    if len(body) > MAX_SDP:
        raise SdpRejected("SDP too large")
    try:
        session = parse_sdp(body)
    except (SdpParseError, UnicodeDecodeError) as exc:
        raise SdpRejected(f"unreadable SDP: {exc}") from None
    audio = [m for m in session.media if m.media == "audio"]
    if not audio:
        raise SdpRejected("no audio stream")
    media = audio[0]
    if not media.proto.upper().startswith("RTP/AVP"):
        raise SdpRejected(f"unsupported transport {media.proto[:20]}")
    connection = media.connection or session.connection
    if connection is None:
        raise SdpRejected("no connection address")
    try:
        host = _ipv4_literal(connection.address)
    except ValueError:
        raise SdpRejected("the media address is not an IPv4 address") from None
    if not 0 <= media.port <= 65535:
        raise SdpRejected("bad media port")
    codecs: list[Codec] = []
    dtmf: Codec | None = None
    for rtpmap in media.rtpmaps:
        name = rtpmap.encoding.upper()
        if name in AUDIO and rtpmap.clock_rate == 8000:
            if all(c.name != name for c in codecs):
                codecs.append(Codec(rtpmap.payload_type, name))
        elif rtpmap.encoding.lower() == TELEPHONE_EVENT and rtpmap.clock_rate == 8000:
            dtmf = dtmf or Codec(rtpmap.payload_type, TELEPHONE_EVENT)
    if not codecs and media.port != 0:
        raise SdpRejected("no common codec (PCMU, PCMA or G722)")
    return LegMedia(
        host, media.port, tuple(codecs), dtmf, effective_direction(session, media), media.ptime
    )


def offer_codecs(caller: LegMedia) -> tuple[tuple[Codec, ...], Codec]:
    """What we offer the callee: the caller's codecs first (no transcoding when the
    callee takes one), then every other codec the worker can transcode to."""
    codecs = [Codec(AUDIO[c.name], c.name) for c in caller.codecs]
    codecs += [Codec(pt, name) for name, pt in AUDIO.items() if name not in caller.names]
    return tuple(codecs), Codec(DTMF_PAYLOAD, TELEPHONE_EVENT)


def answer_codec(offer: LegMedia, other: LegMedia | None) -> Codec:
    """The one codec we answer ``offer`` with: the other leg's codec when this phone
    offered it too (the worker only rewrites headers), else the phone's first choice."""
    if other is not None and other.codecs:
        wanted = other.codecs[0].name
        for codec in offer.codecs:
            if codec.name == wanted:
                return codec
    return offer.codecs[0]


def build_sdp(
    *,
    address: str,
    port: int,
    codecs: tuple[Codec, ...],
    dtmf: Codec | None,
    session_id: str,
    version: int,
    direction: str = "sendrecv",
    ptime: int | None = 20,
) -> bytes:
    """Our SDP for one leg: the worker's address and port, the given codecs."""
    formats = [str(c.payload_type) for c in codecs]
    attributes: list[tuple[str, str | None]] = []
    for codec in codecs:
        attributes.append(("rtpmap", f"{codec.payload_type} {codec.name}/8000"))
    if dtmf is not None:
        formats.append(str(dtmf.payload_type))
        attributes.append(("rtpmap", f"{dtmf.payload_type} {TELEPHONE_EVENT}/8000"))
        attributes.append(("fmtp", f"{dtmf.payload_type} 0-16"))
    if ptime:
        attributes.append(("ptime", str(ptime)))
    attributes.append((direction, None))
    media = MediaDescription("audio", port, "RTP/AVP", formats, attributes=attributes)
    session = SessionDescription(
        origin=Origin("KiloPBX", session_id, version, address),
        session_name="KiloPBX",
        connection=Connection(address),
        media=[media],
    )
    return session.to_bytes()
