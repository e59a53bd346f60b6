"""The parser's memos (URIs, host:port, header lookups, nonce MACs, Authorization
parameters) give the same answers as parsing afresh, stay bounded, and never hand
two callers the same mutable object."""

from __future__ import annotations

import gc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kilopbx import heap
from kilopbx.sip import digest
from kilopbx.sip.address import _parse_name_addr, parse_name_addr
from kilopbx.sip.errors import HeaderValueError, UriParseError
from kilopbx.sip.headers import Headers
from kilopbx.sip.memo import MAX_KEY_LENGTH, Memo
from kilopbx.sip.message_reader import parse_head
from kilopbx.sip.nonce import NonceManager, NonceStatus
from kilopbx.sip.uri import SipUri, parse_uri, split_host_port


def test_memo_is_bounded_and_keeps_what_is_met_again() -> None:
    calls: list[str] = []

    def make(text: str) -> str:
        calls.append(text)
        return text.upper()

    memo = Memo(make, size=3)
    assert [memo(t) for t in ("a", "b", "a", "c")] == ["A", "B", "A", "C"]
    assert calls == ["a", "b", "c"] and len(memo) == 3
    memo("d")  # full: a, b, c become the previous generation, d starts the next
    assert len(memo) == 4
    assert memo("a") == "A" and calls[-1] == "d"  # found in the previous one, kept
    memo("e")
    memo("f")  # full again: b and c, not met again, are forgotten
    assert len(memo) == 4
    memo("b")
    assert calls[-1] == "b"
    assert memo("a") == "A" and calls.count("a") == 1


def test_a_flood_of_texts_seen_once_leaves_the_repeated_ones_remembered() -> None:
    calls: list[str] = []

    def make(text: str) -> str:
        calls.append(text)
        return text

    memo = Memo(make, size=100)
    for round_ in range(50):
        memo("<sip:phone@192.0.2.1>")  # a phone's To, in each of its REGISTERs
        for n in range(30):
            memo(f"<sip:phone@192.0.2.1>;tag={round_}-{n}")  # a fresh From tag each time
        assert len(memo) <= 200
    assert calls.count("<sip:phone@192.0.2.1>") == 1


def test_memo_keeps_neither_failures_nor_long_texts() -> None:
    calls: list[str] = []

    def make(text: str) -> int:
        calls.append(text)
        if text == "bad":
            raise ValueError(text)
        return len(text)

    memo = Memo(make)
    for _ in range(2):
        with pytest.raises(ValueError):
            memo("bad")
    long = "x" * (MAX_KEY_LENGTH + 1)
    memo(long)
    memo(long)
    assert calls == ["bad", "bad", long, long] and len(memo) == 0


def test_parsed_uris_are_copies() -> None:
    first = parse_uri("sip:2001@pbx.test:5060;transport=udp")
    assert isinstance(first, SipUri)
    first.params["lr"] = None
    first.headers["x"] = "y"
    second = parse_uri("sip:2001@pbx.test:5060;transport=udp")
    assert isinstance(second, SipUri)
    assert second.params == {"transport": "udp"} and second.headers == {}
    assert second is not first


@pytest.mark.parametrize(
    "text",
    [
        '"Alice" <sip:2001@pbx.test:5060;transport=udp?x=y>;tag=abc',
        "sip:2001@pbx.test;tag=abc",
        "<tel:+1-202-555-0100;ext=1>;tag=t",
        "<urn:service:sos>;x",
    ],
)
def test_parsed_addresses_are_copies_equal_to_a_fresh_parse(text: str) -> None:
    first = parse_name_addr(text)
    assert first == _parse_name_addr(text)
    first.params["tag"] = "changed"
    if not isinstance(first.uri, str) and hasattr(first.uri, "params"):
        first.uri.params["lr"] = None  # type: ignore[union-attr]
    second = parse_name_addr(text)
    assert second == _parse_name_addr(text) and second is not first
    assert second.uri is not first.uri


def test_a_bad_address_fails_every_time() -> None:
    for _ in range(2):
        with pytest.raises(HeaderValueError):
            parse_name_addr("<sip:2001@300.1.1.1>;tag=x")


def test_a_bad_uri_fails_every_time() -> None:
    for _ in range(2):
        with pytest.raises(UriParseError):
            parse_uri("sip:2001@300.1.1.1")
        with pytest.raises(UriParseError):
            split_host_port("host:99999")


def test_header_lookups_follow_every_change() -> None:
    headers = Headers([("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("Contact", "<sip:a@b>")])
    assert headers.get("Contact") == "<sip:a@b>" and headers.get("Expires") is None
    headers.add("Expires", "60")
    assert headers.get("Expires") == "60"
    headers.set("Expires", "30")
    assert headers.get("expires") == "30"
    headers.prepend("Via", "SIP/2.0/UDP c;branch=z9hG4bK2")
    assert headers.get("v") == "SIP/2.0/UDP c;branch=z9hG4bK2"
    headers.remove("Contact")
    assert headers.get("m") is None
    copy = headers.copy()
    copy.add("Contact", "<sip:x@y>")
    assert headers.get("Contact") is None and copy.get("Contact") == "<sip:x@y>"


def test_a_remembered_nonce_is_bound_to_its_address() -> None:
    now = [1000.0]
    nonces = NonceManager(b"s" * 32, lifetime=300, clock=lambda: now[0])
    nonce = nonces.issue("10.0.0.5")
    assert nonces.check(nonce, "10.0.0.5") is NonceStatus.VALID
    assert nonces.check(nonce, "10.0.0.6") is NonceStatus.INVALID
    assert nonces.check_count(nonce, 1, "10.0.0.5") is NonceStatus.VALID
    assert nonces.check_count(nonce, 1, "10.0.0.5") is NonceStatus.STALE  # a replay
    now[0] += 301
    assert nonces.check(nonce, "10.0.0.5") is NonceStatus.STALE


def _slow(text: str) -> object:
    saved = digest._plain_params
    digest._plain_params = lambda rest: None  # type: ignore[assignment]
    try:
        return digest.parse_auth_params(text)
    except digest.DigestError as exc:
        return str(exc)
    finally:
        digest._plain_params = saved


def _fast(text: str) -> object:
    try:
        return digest.parse_auth_params(text)
    except digest.DigestError as exc:
        return str(exc)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='aB=",; \t\\x1-', max_size=24))
def test_authorization_shortcut_reads_what_the_full_reader_reads(rest: str) -> None:
    assert _fast("Digest " + rest) == _slow("Digest " + rest)


def test_authorization_shortcut_on_a_real_header() -> None:
    value = (
        'Digest username="user1000",realm="kilopbx",uri="sip:127.0.0.1:5060",'
        'nonce="AAAA",response="0123",algorithm=MD5, qop=auth, nc=00000001, cnonce="6b8b"'
    )
    assert _fast(value) == _slow(value)
    scheme, params = digest.parse_auth_params(value)
    assert (
        scheme == "Digest" and params["nc"] == "00000001" and params["uri"] == "sip:127.0.0.1:5060"
    )


def test_settling_the_heap_freezes_it() -> None:
    threshold = gc.get_threshold()
    try:
        assert heap.settle() > 0
        assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_header_lookups_remember_each_spelling_and_presence() -> None:
    headers = Headers([("Call-ID", "abc@host"), ("Supported", "")])
    assert headers.get("call-id") == headers.get("i") == headers.get("Call-ID") == "abc@host"
    assert "i" in headers and "CALL-ID" in headers
    assert headers.get("Supported") is None and "Supported" in headers  # an empty list line
    assert headers.get("Authorization") is None and "Authorization" not in headers
    headers.add("authorization", "Digest x=1")
    assert "Authorization" in headers and headers.get("Authorization") == "Digest x=1"


_NAMES = ["Via", "v", "Contact", "Supported", "Call-ID", "i", "X-A", "x-a", "Expires"]
_VALUES = ["a", "", "a, b", " ,b", "<sip:a@b>;q=1", "x\x0c", "c ,", '"q,r"']


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(st.sampled_from(_NAMES), st.sampled_from(_VALUES), st.booleans()), max_size=8
    )
)
def test_the_parsers_index_answers_as_a_scan_of_the_lines(
    lines: list[tuple[str, str, bool]],
) -> None:
    text = "OPTIONS sip:a@b SIP/2.0\r\n" + "".join(
        f"{name}: {value}\r\n" + (" folded\r\n" if fold else "") for name, value, fold in lines
    )
    parsed = parse_head(text.rstrip("\r\n").encode()).headers
    scanned = Headers(parsed.items())  # built line by line: no index
    for name in [*_NAMES, "Authorization"]:
        assert parsed.get(name) == scanned.get(name), name
        assert (name in parsed) == (name in scanned), name
        assert parsed.get_all(name) == scanned.get_all(name), name
        assert parsed.get_lines(name) == scanned.get_lines(name), name
