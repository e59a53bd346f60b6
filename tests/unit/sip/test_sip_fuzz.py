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


NUMBER_TEMPLATE = (
    "REGISTER sip:pbx.example.com:{uri_port} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.1:{via_port};branch=z9hG4bK-n;rport={rport}\r\n"
    "Max-Forwards: {max_forwards}\r\n"
    "From: <sip:a@example.com>;tag=1\r\n"
    "To: <sip:a@example.com>\r\n"
    "Call-ID: n@example.com\r\n"
    "CSeq: {cseq} REGISTER\r\n"
    "Contact: <sip:a@192.0.2.1:{contact_port}>;expires={contact_expires}\r\n"
    "Expires: {expires}\r\n"
    "RSeq: {rseq}\r\n"
    "Content-Length: {content_length}\r\n\r\n"
)
NUMBER_FIELDS = (
    "uri_port",
    "via_port",
    "rport",
    "max_forwards",
    "cseq",
    "contact_port",
    "contact_expires",
    "expires",
    "rseq",
    "content_length",
)


@st.composite
def long_numbers(draw: st.DrawFn) -> bytes:
    """A valid request with some numeric fields replaced by very long digit strings
    (past the 4300 digits where int() refuses a string)."""
    values = dict.fromkeys(NUMBER_FIELDS, "1")
    values["content_length"] = "0"
    for name in draw(st.sets(st.sampled_from(NUMBER_FIELDS), min_size=1)):
        length = draw(st.sampled_from([11, 20, 4300, 4301, 5000]) | st.integers(1, 6000))
        values[name] = draw(st.sampled_from("0123456789")) * length
    return NUMBER_TEMPLATE.format(**values).encode()


@FUZZ
@given(long_numbers())
def test_parse_message_very_long_numbers(data: bytes) -> None:
    try:
        message = parse_message(data)
    except SipParseError:
        return
    check_parsed(message)
    with contextlib.suppress(HeaderValueError):
        _ = message.expires
    with contextlib.suppress(HeaderValueError):
        _ = message.max_forwards
    with contextlib.suppress(HeaderValueError):
        _ = message.contacts


@FUZZ
@given(st.sampled_from(["0", "9"]), st.integers(4000, 6000))
def test_parse_sdp_very_long_numbers(digit: str, length: int) -> None:
    digits = digit * length
    for old, new in (
        ("o=- 1 2", f"o=- 1 {digits}"),
        ("4000/2", f"{digits}/2"),
        ("AS:64", f"AS:{digits}"),
        ("ptime:20", f"ptime:{digits}"),
        ("AVP 0 101", f"AVP {digits} 101"),
    ):
        with contextlib.suppress(SdpParseError):
            session = parse_sdp(SDP_SEED.replace(old, new).encode())
            for media in session.media:
                _ = (media.rtpmaps, media.fmtp, media.direction, media.ptime)
