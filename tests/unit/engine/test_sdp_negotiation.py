"""SDP offer/answer per leg: reading phones' SDP, choosing codecs, writing ours."""

from __future__ import annotations

import pytest

from kilopbx.engine.sdp_negotiation import (
    Codec,
    SdpRejected,
    answer_codec,
    build_sdp,
    offer_codecs,
    read_media,
)
from kilopbx.sip.sdp import parse_sdp


def sdp(media: str, connection: str = "c=IN IP4 10.0.0.5") -> bytes:
    return f"v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\n{connection}\r\nt=0 0\r\n{media}".encode()


PCMU_PCMA = (
    "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\na=ptime:20\r\n"
)


def test_reads_address_codecs_dtmf_and_direction() -> None:
    media = read_media(sdp(PCMU_PCMA))
    assert (media.host, media.port) == ("10.0.0.5", 4000)
    assert media.codecs == (Codec(0, "PCMU"), Codec(8, "PCMA"))
    assert media.dtmf == Codec(101, "telephone-event")
    assert media.direction == "sendrecv" and not media.on_hold and media.ptime == 20
    assert media.worker_codecs(Codec(8, "PCMA")) == [
        (8, "PCMA"),
        (0, "PCMU"),
        (101, "telephone-event"),
    ]


def test_hold_by_direction_or_null_address() -> None:
    assert read_media(sdp(PCMU_PCMA + "a=sendonly\r\n")).on_hold
    assert read_media(sdp(PCMU_PCMA + "a=inactive\r\n")).on_hold
    assert read_media(sdp(PCMU_PCMA, "c=IN IP4 0.0.0.0")).on_hold
    assert not read_media(sdp(PCMU_PCMA + "a=recvonly\r\n")).on_hold


def test_g722_and_dynamic_names_are_case_insensitive() -> None:
    media = read_media(sdp("m=audio 4000 RTP/AVP 9 96\r\na=rtpmap:96 pcma/8000\r\n"))
    assert media.codecs == (Codec(9, "G722"), Codec(96, "PCMA"))
    assert media.dtmf is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage",
        sdp("m=video 4000 RTP/AVP 96\r\n"),
        sdp("m=audio 4000 RTP/AVP 18 3\r\n"),  # G.729 and GSM only
        sdp("m=audio 4000 RTP/SAVP 0\r\n"),
        sdp("m=audio 4000 RTP/AVP 0\r\n", "c=IN IP6 ::1"),
        sdp("m=audio 4000 RTP/AVP 0\r\n", "c=IN IP4 phone.example"),
        sdp("m=audio 4000 RTP/AVP 0\r\n", ""),  # no c= anywhere
        sdp("m=audio 4000 RTP/AVP 0\r\n" + "a=x:" + "y" * 9000 + "\r\n"),  # oversized
        b"\xff\xfe" * 10,
    ],
)
def test_unusable_sdp_is_rejected(body: bytes) -> None:
    with pytest.raises(SdpRejected):
        read_media(body)


def test_offer_puts_caller_codecs_first_then_transcodable_ones() -> None:
    caller = read_media(sdp("m=audio 4000 RTP/AVP 8\r\n"))
    codecs, dtmf = offer_codecs(caller)
    assert [c.name for c in codecs] == ["PCMA", "PCMU", "G722"]
    assert dtmf == Codec(101, "telephone-event")


def test_answer_prefers_the_other_legs_codec() -> None:
    caller = read_media(sdp(PCMU_PCMA))
    callee = read_media(sdp("m=audio 5000 RTP/AVP 8\r\n"))
    assert answer_codec(caller, callee) == Codec(8, "PCMA")  # no transcoding
    g722 = read_media(sdp("m=audio 5000 RTP/AVP 9\r\n"))
    assert answer_codec(caller, g722) == Codec(0, "PCMU")  # transcoded
    assert answer_codec(caller, None) == Codec(0, "PCMU")


def test_our_sdp_reads_back() -> None:
    body = build_sdp(
        address="192.0.2.1",
        port=20000,
        codecs=(Codec(0, "PCMU"),),
        dtmf=Codec(101, "telephone-event"),
        session_id="42",
        version=2,
        direction="recvonly",
    )
    session = parse_sdp(body)
    assert session.origin.session_version == 2
    media = read_media(body)
    assert (media.host, media.port, media.direction) == ("192.0.2.1", 20000, "recvonly")
    assert media.codecs == (Codec(0, "PCMU"),) and media.dtmf is not None
