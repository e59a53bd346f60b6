"""The parser's shortcuts for the usual case (parameters without quotes, the usual Via)
accept exactly what the full readers accept, and read it the same way."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kilopbx.sip import digest, grammar, via
from kilopbx.sip.digest import DigestError
from kilopbx.sip.errors import HeaderValueError


def outcome(read: object, text: str) -> object:
    try:
        return read(text)  # type: ignore[operator]
    except HeaderValueError:
        return "error"


@settings(max_examples=1000)
@given(st.text(alphabet="ab1;=: \t.[]/-%,", max_size=20))
def test_unquoted_parameters_read_as_the_full_reader_does(raw: str) -> None:
    text = raw.strip(" \t")
    if not text:
        return
    assert outcome(grammar._parse_unquoted_params, text) == outcome(
        grammar._read_unquoted_params, text
    )


@pytest.mark.parametrize(
    "text",
    [
        ";branch=z9hG4bK-1;rport",
        "; lr ; transport = udp",
        ";maddr=[2001:db8::1];x",
        ";;a",
        ";a b=c",
        ";a=",
        "a=b",
        ";a=b;",
    ],
)
def test_unquoted_parameters_examples(text: str) -> None:
    assert outcome(grammar._parse_unquoted_params, text) == outcome(
        grammar._read_unquoted_params, text
    )


_VIA_PIECES = st.sampled_from(
    ["SIP/2.0/", "sip/2.0/", "SIP/3.0/", "UDP", "tcp", " ", "\t", "host", "10.0.0.1", ":",
     "5060", "99999", ";branch=z9hG4bK1", ";rport", ";received=1.2.3.4", "[::1]", "-", ";"]
)  # fmt: skip


@settings(max_examples=1000)
@given(st.lists(_VIA_PIECES, max_size=8).map("".join))
def test_the_usual_via_reads_as_the_full_reader_does(text: str) -> None:
    assert outcome(via.parse_via, text) == outcome(via._parse_any_via, text)


@pytest.mark.parametrize(
    "text",
    [
        "SIP/2.0/UDP 127.0.0.1:25061;branch=z9hG4bK-1-2;rport",
        "SIP/2.0/tcp pbx.example.com;branch=z9hG4bK7",
        "SIP/2.0/UDP host:70000;branch=z9hG4bK7",
        "SIP/2.0/UDP host:5060 ;branch=z9hG4bK7",
        "SIP/2.0/UDP [::1]:5060;branch=z9hG4bK7",
        "SIP/2.0/UDP 1.2.3.4:5060\n",
    ],
)
def test_usual_via_examples(text: str) -> None:
    assert outcome(via.parse_via, text) == outcome(via._parse_any_via, text)


def auth_outcome(read: object, text: str) -> object:
    try:
        return read(text)  # type: ignore[operator]
    except DigestError:
        return "error"


def digest_shortcut(rest: str) -> object:
    """What ``parse_auth_params`` makes of ``rest`` when its shortcut accepts it."""
    plain = digest._plain_params(rest)
    if plain is None or not (plain or not rest.strip(", \t")):
        return "declined"
    return plain


_AUTH_PIECES = st.sampled_from(
    ["username", "Realm", "nc", "=", '"', '"a b"', '"x\\"y"', ",", ", ", " ", "\t", "1001",
     "00000001", "MD5", "\\", "\n", "a=b", "-", ""]
)  # fmt: skip


@settings(max_examples=2000)
@given(st.lists(_AUTH_PIECES, max_size=10).map("".join))
def test_the_usual_authorization_reads_as_the_full_reader_does(rest: str) -> None:
    shortcut = digest_shortcut(rest)
    if shortcut != "declined":
        assert shortcut == auth_outcome(digest._read_auth_params, rest)


@pytest.mark.parametrize(
    "rest",
    [
        'username="1001",realm="kilopbx",nonce="n1",uri="sip:a",response="ab",qop=auth,nc=01',
        'username = "1001" , Realm="r",',
        'a="",b=',
    ],
)
def test_usual_authorization_examples(rest: str) -> None:
    assert digest_shortcut(rest) == auth_outcome(digest._read_auth_params, rest)
