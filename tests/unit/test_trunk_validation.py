"""Trunk field rules (30-trunks.md) and the KiloPBX trunk settings, without a PBX."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kilopbx.apps.trunks import options, validation
from kilopbx.apps.trunks.validation import DodEntry
from kilopbx.apps.trunks.wire_lists import parse_id_selector, parse_single_id, split_list
from kilopbx.core.errors import DomainError
from tests.unit.wire_errors import wire_errno


def errno_of(call: object, *args: object) -> str:
    with pytest.raises(DomainError) as caught:
        call(*args)  # type: ignore[operator]
    return wire_errno(caught.value)


@pytest.mark.parametrize("name", ["CarrierOne", "HQ-Gateway", "a", "n" * 63, "Über_Trunk.2"])
def test_good_trunk_names(name: str) -> None:
    assert validation.trunk_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "n" * 64, "a b", "a,b", "a`b", "x@y", "a|b", "{x}", "a\x00b", "a\nb", "50%"]
)
def test_bad_trunk_names(name: str) -> None:
    assert errno_of(validation.trunk_name, name) == "10042"


@given(st.text(max_size=80))
def test_trunk_names_never_pass_forbidden_characters(name: str) -> None:
    try:
        validation.trunk_name(name)
    except DomainError as exc:
        assert wire_errno(exc) == "10042"
    else:
        assert 1 <= len(name) <= 63
        assert not set(name) & set(" !$()/#;,[]\"=<>&'`^%@{}|")


@pytest.mark.parametrize(
    "host", ["sip.example.com", "10.0.0.1", "2001:db8::1", "[2001:db8::1]", "localhost", "a-b.c"]
)
def test_good_hosts(host: str) -> None:
    assert validation.host(host) == host


@pytest.mark.parametrize(
    "host", ["", "bad host", "-a.com", "a-.com", "a..b", "h" * 256, "1.2.3.999"]
)
def test_bad_hosts(host: str) -> None:
    assert errno_of(validation.host, host) == "10045"
    assert errno_of(validation.host, host, validation.DOMAIN_INVALID) == "10047"


def test_ports() -> None:
    assert validation.port(None) == 5060
    assert validation.port("") == 5060
    assert validation.port(" 5080 ") == 5080
    for bad in ("0", "65536", "-1", "5o60", "１２３", "123456"):
        assert errno_of(validation.port, bad) == "10046"


def test_credentials_and_from_user() -> None:
    assert validation.username("c2-55120") == "c2-55120"
    assert validation.password("tR7#wq2Lm9") == "tR7#wq2Lm9"
    assert errno_of(validation.username, "") == "10048"
    assert errno_of(validation.auth_name, "a;b") == "10050"
    assert errno_of(validation.password, "p" * 65) == "10052"
    assert validation.from_user("") == ""
    assert errno_of(validation.from_user, "a:b") == "10051"


def test_dod_entries_parse_and_format() -> None:
    text = "4402100-helpdesk-2105, +4402101-billing-2106"
    entries = validation.dod_entries(text)
    assert entries == [
        DodEntry("4402100", "helpdesk", "2105"),
        DodEntry("+4402101", "billing", "2106"),
    ]
    assert validation.format_dod(entries) == "4402100-helpdesk-2105,+4402101-billing-2106"
    assert validation.dod_entries("  ") == []


@pytest.mark.parametrize(
    ("text", "errno"),
    [
        ("4402100-helpdesk", "10059"),
        ("4402100-help-desk-2105", "10059"),
        ("1-a-2105,2-b-2105", "10059"),
        ("44x2-a-2105", "10055"),
        ("+-a-2105", "10055"),
        ("-a-2105", "10056"),
        ("1" * 33 + "-a-2105", "10056"),
        ('1-a"b-2105', "10057"),
        ("1--2105", "10058"),
        ("1-" + "n" * 32 + "-2105", "10058"),
    ],
)
def test_bad_dod_entries(text: str, errno: str) -> None:
    assert errno_of(validation.dod_entries, text) == errno


def test_did_setting() -> None:
    assert validation.did_setting("Support-4402300, Accounts-4402301") == (
        "Support-4402300,Accounts-4402301"
    )
    assert validation.did_setting("") == ""
    assert errno_of(validation.did_setting, "Support") == "10059"
    assert errno_of(validation.did_setting, "Support-44x") == "10059"


def test_id_selectors() -> None:
    assert parse_id_selector("all") is None
    assert parse_id_selector(" ALL ") is None
    assert parse_id_selector("23, 24,23,,x,0,99999999999") == [23, 24]
    assert parse_single_id(" 7 ") == 7
    assert parse_single_id("7,8") is None
    assert parse_single_id("99999999999") is None
    assert split_list(" a , ,b ") == ["a", "b"]


def test_codec_preferences() -> None:
    assert options.codecs("PCMU, g722,alaw") == "ulaw,g722,alaw"
    for bad in ("", " , ", "ulaw,opus", "ulaw,g711u"):
        assert errno_of(options.codecs, bad) == "10910"


def test_other_settings() -> None:
    assert options.transport("TCP") == "tcp"
    assert options.outbound_proxy("proxy.example:5070") == "proxy.example:5070"
    assert options.outbound_proxy("[2001:db8::1]:5061") == "[2001:db8::1]:5061"
    assert options.outbound_proxy("") == ""
    for bad in ("proxy:", "[2001:db8::1", "a b", "p:0"):
        assert errno_of(options.outbound_proxy, bad) == "10912"
    assert options.enabled("yes") is True and options.enabled("0") is False
    assert options.caller_id_number("+44 20".replace(" ", "")) == "+4420"
    assert errno_of(options.caller_id_name, "a\x07") == "10915"
    assert options.max_channels("0") == 0
    assert options.dtmf_mode("RFC2833") == "rfc4733"
    assert options.qualify_seconds("0") == 0
    assert errno_of(options.qualify_seconds, "4") == "10918"
    assert errno_of(options.register_expiry_seconds, "0") == "10919"


def test_identity_headers() -> None:
    assert options.identity_headers("pai,rpid") == "pai,rpid"
    assert options.identity_headers("RPID, PAI") == "pai,rpid"  # stored in one order
    assert options.identity_headers("pai") == "pai"
    assert options.identity_headers("none") == ""
    assert options.identity_headers("") == ""
    for bad in ("xyz", "pai,pai", "pai;rpid", "from", "\x00", "p" * 5000):
        assert errno_of(options.identity_headers, bad) == "10926", bad
