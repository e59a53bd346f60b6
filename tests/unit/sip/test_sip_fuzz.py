"""Property tests: hostile input only ever produces the parsers' own errors."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kilopbx.sip.address import parse_name_addr
from kilopbx.sip.digest import DigestError, parse_authorization, parse_challenge
from kilopbx.sip.errors import HeaderValueError, SipParseError, UriParseError
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.parser import KeepAlivePing, StreamFramer, parse_message
from kilopbx.sip.sdp import SdpParseError, parse_sdp
from kilopbx.sip.uri import parse_any_uri, parse_uri
from kilopbx.sip.via import parse_via

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DATA = Path(__file__).resolve().parents[2] / "vectors" / "rfc4475"
SEEDS = [path.read_bytes() for path in sorted(DATA.glob("*.dat"))]
SDP_SEED = (
    "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1/127\r\nt=0 0\r\n"
    "m=audio 4000/2 RTP/AVP 0 101\r\nb=AS:64\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\na=ptime:20\r\na=sendonly\r\n"
)
SIP_ALPHABET = st.sampled_from(list("sip:@;=?&<>\"\\,/ \t[]:.%0aZ-_*+'~\r\n"))


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few random edits: the inputs that reach deep into the parser."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        if action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 16))]
        elif action == "replace" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        else:
            data[position:position] = data[position : position + draw(st.integers(1, 40))]
    return bytes(data)


def check_parsed(message: SipRequest | SipResponse) -> None:
    """What the parser accepts, the typed views must be able to read."""
    _ = (message.call_id, message.cseq, message.from_, message.to, message.top_via)
    message.to_bytes()


@FUZZ
@given(st.binary(max_size=600))
def test_parse_message_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(SipParseError):
        check_parsed(parse_message(data))


@FUZZ
@given(mutated(SEEDS))
def test_parse_message_mutated_messages(data: bytes) -> None:
    try:
        check_parsed(parse_message(data))
    except SipParseError as error:
        assert error.status in (None, 400, 413, 416, 505)
        assert (error.request is not None) == (error.status is not None)


@FUZZ
@given(mutated(SEEDS), st.lists(st.integers(1, 300), min_size=1, max_size=8))
def test_stream_framer_with_random_chunking(data: bytes, cuts: list[int]) -> None:
    framer = StreamFramer(max_header_bytes=4096, max_body_bytes=4096)
    stream = b"\r\n\r\n" + data + data
    offset = 0
    for cut in cuts * 20:
        if offset >= len(stream):
            break
        for item in framer.feed(stream[offset : offset + cut]):
            assert isinstance(item, SipRequest | SipResponse | SipParseError | KeepAlivePing)
            if isinstance(item, SipRequest | SipResponse):
                check_parsed(item)
        offset += cut
    assert framer.buffered_bytes <= 4096 * 2 + len(stream)


@FUZZ
@given(st.text(SIP_ALPHABET, max_size=60) | st.text(max_size=40))
def test_uri_parsers(text: str) -> None:
    for prefix in ("", "sip:", "sips:", "tel:"):
        try:
            uri = parse_uri(prefix + text)
            assert parse_uri(str(uri)) == uri
        except UriParseError:
            pass
        with contextlib.suppress(UriParseError):
            parse_any_uri(prefix + text)


@FUZZ
@given(st.text(SIP_ALPHABET, max_size=80))
def test_header_value_parsers(text: str) -> None:
    for parse in (parse_name_addr, parse_via):
        with contextlib.suppress(HeaderValueError):
            parse(text)
    for parse_auth in (parse_authorization, parse_challenge):
        with contextlib.suppress(DigestError):
            parse_auth("Digest " + text)


@FUZZ
@given(mutated([SDP_SEED.encode()]) | st.binary(max_size=300))
def test_parse_sdp(data: bytes) -> None:
    try:
        session = parse_sdp(data)
    except SdpParseError:
        return
    for media in session.media:
        _ = (media.rtpmaps, media.fmtp, media.direction, media.ptime)
    parse_sdp(session.to_bytes())
