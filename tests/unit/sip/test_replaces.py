"""The Replaces header (RFC 3891 §6), from an INVITE and from a Refer-To URI, with
malformed and hostile values refused."""

from __future__ import annotations

import pytest

from kilopbx.sip.dialog import DialogId
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.replaces import (
    Replaces,
    parse_replaces,
    request_replaces,
    uri_header,
    uri_replaces,
)
from kilopbx.sip.uri import parse_uri


def test_the_rfc_example_and_its_dialog() -> None:
    value = "425928@bobster.example.org;to-tag=7743;from-tag=6472"
    replaces = parse_replaces(value)
    assert replaces == Replaces("425928@bobster.example.org", "7743", "6472")
    assert replaces.dialog_id() == DialogId("425928@bobster.example.org", "7743", "6472")
    assert str(replaces) == value


def test_early_only_order_case_and_spaces() -> None:
    replaces = parse_replaces(" abc ; From-Tag=f1 ;early-only; TO-TAG=t1;x=y ")
    assert replaces == Replaces("abc", "t1", "f1", early_only=True)


@pytest.mark.parametrize(
    "value",
    [
        "",
        ";to-tag=a;from-tag=b",  # no Call-ID
        "abc",  # no tags
        "abc;to-tag=a",  # no from-tag
        "abc;from-tag=b",
        "abc;to-tag=;from-tag=b",
        "abc;to-tag=a;from-tag=b;to-tag=c",  # twice
        "abc;to-tag=a;from-tag=b;early-only=yes",
        "a b;to-tag=a;from-tag=b",  # a space in the Call-ID
        "abc;to-tag=a b;from-tag=b",
        "abc;to-tag=a;from-tag=b;;",
        'abc;to-tag="a";from-tag=b',
        "abc@@d;to-tag=a;from-tag=b",
        "x" * 2000 + ";to-tag=a;from-tag=b",  # oversized
        "abc;to-tag=a\x00;from-tag=b",
    ],
)
def test_malformed_values_are_refused(value: str) -> None:
    with pytest.raises(HeaderValueError):
        parse_replaces(value)


def test_a_request_has_none_or_exactly_one() -> None:
    assert request_replaces([]) is None
    assert request_replaces(["c;to-tag=a;from-tag=b"]) == Replaces("c", "a", "b")
    with pytest.raises(HeaderValueError):
        request_replaces(["c;to-tag=a;from-tag=b", "d;to-tag=a;from-tag=b"])
    with pytest.raises(HeaderValueError):
        request_replaces(["c;to-tag=a;from-tag=b, d;to-tag=a;from-tag=b"])


def test_from_a_refer_to_uri_escaped_both_ways() -> None:
    uri = parse_uri("sip:2003@pbx.example?Replaces=12%40host%3Bto-tag%3Dt9%3Bfrom-tag%3Df8")
    assert uri_replaces(uri.headers) == Replaces("12@host", "t9", "f8")
    lower = parse_uri("sip:2003@pbx.example?replaces=12%3bto-tag%3dt9%3bfrom-tag%3df8&x=1")
    assert uri_replaces(lower.headers) == Replaces("12", "t9", "f8")
    assert uri_replaces(parse_uri("sip:2003@pbx.example").headers) is None
    with pytest.raises(HeaderValueError):
        uri_replaces(parse_uri("sip:2003@pbx.example?Replaces=12%3Bto-tag%3Dt9").headers)


def test_written_for_a_uri_and_read_back() -> None:
    replaces = Replaces("a1@h", "t", "f", early_only=True)
    header = uri_header(replaces)
    assert ";" not in header and "=" not in header.partition("=")[2]
    uri = parse_uri(f"sip:2003@pbx.example?{header}")
    assert uri_replaces(uri.headers) == replaces
