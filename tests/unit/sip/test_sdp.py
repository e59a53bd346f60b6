"""SDP parsing and serialising with offers shaped like real phones send them."""

from __future__ import annotations

import pytest

from kilopbx.sip.sdp import (
    Connection,
    MediaDescription,
    Origin,
    RtpMap,
    SdpParseError,
    SessionDescription,
    effective_direction,
    parse_sdp,
)

BARESIP_OFFER = (
    "v=0\r\n"
    "o=- 1955283416 3418765339 IN IP4 192.168.1.20\r\n"
    "s=-\r\n"
    "c=IN IP4 192.168.1.20\r\n"
    "t=0 0\r\n"
    "m=audio 10866 RTP/AVP 9 0 8 101\r\n"
    "b=AS:80\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=sendrecv\r\n"
    "a=label:1\r\n"
    "a=rtcp-rsize\r\n"
    "a=ssrc:2546451327 cname:ec7cb4a4-4f02-4a53-a6be-dc6a4c4f1b44\r\n"
    "a=ptime:20\r\n"
)

SIPP_OFFER = (
    "v=0\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\n"
    "s=-\n"
    "c=IN IP4 127.0.0.1\n"
    "t=0 0\n"
    "m=audio 6000 RTP/AVP 0\n"
    "a=rtpmap:0 PCMU/8000\n"
)

LINPHONE_OFFER = (
    "v=0\r\n"
    "o=1001 2381 1077 IN IP6 2001:db8::20\r\n"
    "s=Talk\r\n"
    "c=IN IP6 2001:db8::20\r\n"
    "t=0 0\r\n"
    "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n"
    "a=record:off\r\n"
    "a=sendonly\r\n"
    "m=audio 7078 RTP/AVP 96 97 0 8 101\r\n"
    "a=rtpmap:96 opus/48000/2\r\n"
    "a=fmtp:96 useinbandfec=1\r\n"
    "a=rtpmap:97 speex/16000\r\n"
    "a=fmtp:97 vbr=on\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=rtcp-fb:* trr-int 1000\r\n"
    "a=rtcp-fb:* ccm tmmbr\r\n"
    "m=video 0 RTP/AVP 96\r\n"
)


def test_baresip_offer() -> None:
    session = parse_sdp(BARESIP_OFFER)
    assert session.origin == Origin("-", "1955283416", 3418765339, "192.168.1.20")
    assert session.connection == Connection("192.168.1.20")
    [audio] = session.media
    assert (audio.media, audio.port, audio.proto) == ("audio", 10866, "RTP/AVP")
    assert audio.formats == ["9", "0", "8", "101"]
    assert audio.bandwidths == [("AS", 80)]
    assert [m.encoding for m in audio.rtpmaps] == ["G722", "PCMU", "PCMA", "telephone-event"]
    assert audio.rtpmap(101) == RtpMap(101, "telephone-event", 8000)
    assert audio.fmtp == {"101": "0-15"}
    assert audio.direction == "sendrecv"
    assert audio.ptime == 20
    assert audio.get_attribute("rtcp-rsize") == ""
    assert audio.get_attribute("missing") is None
    assert str(session) == BARESIP_OFFER


def test_sipp_offer_with_lf_only_lines() -> None:
    session = parse_sdp(SIPP_OFFER.encode())
    [audio] = session.media
    assert audio.rtpmaps == [RtpMap(0, "PCMU", 8000)]
    assert effective_direction(session, audio) == "sendrecv"
    assert session.to_bytes() == SIPP_OFFER.replace("\n", "\r\n").encode()


def test_linphone_offer_ipv6_and_session_direction() -> None:
    session = parse_sdp(LINPHONE_OFFER)
    assert session.session_name == "Talk"
    assert session.connection == Connection("2001:db8::20", addrtype="IP6")
    audio, video = session.media
    assert audio.rtpmap(96) == RtpMap(96, "opus", 48000, 2)
    assert audio.fmtp == {"96": "useinbandfec=1", "97": "vbr=on"}
    assert audio.get_attributes("rtcp-fb") == ["* trr-int 1000", "* ccm tmmbr"]
    assert audio.direction is None
    assert effective_direction(session, audio) == "sendonly"
    assert video.port == 0
    assert parse_sdp(str(session)) == session


def test_static_payload_types_without_rtpmap() -> None:
    session = parse_sdp("v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nt=0 0\nm=audio 5004 RTP/AVP 0 8 18\n")
    assert [(m.payload_type, m.encoding) for m in session.media[0].rtpmaps] == [
        (0, "PCMU"),
        (8, "PCMA"),
        (18, "G729"),
    ]


def test_unknown_and_tolerated_lines() -> None:
    session = parse_sdp(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nt=0 0\r\ny=session-extra\r\n"
        "m=audio 5004/2 RTP/AVP 0\r\nq=media-extra\r\na=ptime:20.0\r\n\r\n\r\n"
    )
    assert session.session_name == "-"  # missing s= tolerated
    assert session.other_lines == [("y", "session-extra")]
    media = session.media[0]
    assert media.port_count == 2 and media.ptime == 20
    assert media.other_lines == [("q", "media-extra")]
    assert "q=media-extra\r\n" in str(session)


def test_multicast_connection_and_repeat_times() -> None:
    session = parse_sdp(
        "v=0\no=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\ns=SDP Seminar\n"
        "i=A Seminar\nu=http://www.example.com/seminars/sdp.pdf\ne=j.doe@example.com (Jane)\n"
        "c=IN IP4 224.2.17.12/127\nt=2873397496 2873404696\nr=7d 1h 0 25h\na=recvonly\n"
        "m=audio 49170 RTP/AVP 0\nm=video 51372 RTP/AVP 99\na=rtpmap:99 h263-1998/90000\n"
    )
    assert session.connection == Connection("224.2.17.12", ttl=127)
    assert session.timings[0].repeats == ["7d 1h 0 25h"]
    assert session.emails == ["j.doe@example.com (Jane)"]
    assert effective_direction(session, session.media[1]) == "recvonly"
    assert parse_sdp(str(session)) == session


def test_set_direction_replaces_the_old_one() -> None:
    media = MediaDescription("audio", 4000, "RTP/AVP", ["0"], attributes=[("sendrecv", None)])
    media.set_direction("inactive")
    assert media.direction == "inactive"
    assert media.attributes == [("inactive", None)]
    with pytest.raises(ValueError):
        media.set_direction("sideways")


def test_building_an_answer_from_scratch() -> None:
    media = MediaDescription("audio", 30000, "RTP/AVP", ["0", "101"])
    media.attributes += [("rtpmap", "0 PCMU/8000"), ("rtpmap", "101 telephone-event/8000")]
    media.set_direction("sendrecv")
    answer = SessionDescription(
        Origin("kilopbx", "42", 1, "192.0.2.10"),
        connection=Connection("192.0.2.10"),
        media=[media],
    )
    assert answer.to_bytes() == (
        b"v=0\r\no=kilopbx 42 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
        b"m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "v=1\no=- 1 1 IN IP4 1.2.3.4\n",
        "v=0\ns=-\n",
        "v=0\no=- 1 x IN IP4 1.2.3.4\n",
        "v=0\no=- 1 1 IN IP4 1.2.3.4\nthis is not sdp\n",
        "v=0\no=- 1 1 IN IP4 1.2.3.4\nm=audio port RTP/AVP 0\n",
        "v=0\no=- 1 1 IN IP4 1.2.3.4\nm=audio 70000 RTP/AVP 0\n",
        "v=0\no=- 1 1 IN IP4 1.2.3.4\nc=IN IP4\n",
        "v=0\no=- 1 1 IN IP4 1.2.3.4\nb=AS\n",
        "v=0\no=- 1 1 IN IP4 1.2.3.4\nt=0\n",
    ],
)
def test_malformed_sdp_raises_sdp_parse_error(text: str) -> None:
    with pytest.raises(SdpParseError):
        parse_sdp(text)
