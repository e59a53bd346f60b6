"""The dial-pattern language, route field rules and route matching (31-routes.md)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kilopbx.apps.routes import validation
from kilopbx.apps.routes.matching import (
    Destination,
    InboundRule,
    OutboundRule,
    choose_inbound,
    choose_outbound,
    extension_in_range,
)
from kilopbx.apps.routes.patterns import DialPattern, compile_pattern
from kilopbx.apps.timeconditions.schedule import parse_schedule
from kilopbx.core.errors import DomainError
from tests.unit.wire_errors import wire_errno


def pattern(text: str) -> DialPattern:
    return compile_pattern(text, validation.PREFIX_INVALID)


@pytest.mark.parametrize(
    ("text", "matching", "not_matching", "shortest"),
    [
        ("4402XXX", ["4402000", "4402999"], ["440200", "44020000", "4403000"], 7),
        ("9.", ["90", "9001441632960123"], ["9", "80"], 2),
        ("9!", ["9", "91"], ["8"], 1),
        ("0[1-9]XXXXXXXX", ["0123456789"], ["0023456789"], 10),
        ("[157]Z", ["11", "79"], ["10", "21"], 2),
        ("nxz", ["201", "999"], ["101", "200"], 3),
        ("*97", ["*97"], ["#97"], 3),
        ("+44.", ["+442"], ["442"], 4),
        ("", ["", "anything"], [], 0),
        ("112", ["112"], ["1120"], 3),
    ],
)
def test_patterns(text: str, matching: list[str], not_matching: list[str], shortest: int) -> None:
    compiled = pattern(text)
    assert all(compiled.matches(n) for n in matching)
    assert not any(compiled.matches(n) for n in not_matching)
    assert compiled.min_length == shortest


@pytest.mark.parametrize(
    "text", ["12[3", "9.1", "9!1", "44ab", "[9-1]", "[]", "[1-]", "1" * 65, "9\n"]
)
def test_malformed_patterns(text: str) -> None:
    with pytest.raises(DomainError) as caught:
        pattern(text)
    assert wire_errno(caught.value) == "10075"


@given(st.text(alphabet="0123456789XZN[]-.!*#+ab", max_size=20))
def test_patterns_compile_or_refuse_cleanly(text: str) -> None:
    try:
        compiled = pattern(text)
    except DomainError as exc:
        assert wire_errno(exc) == "10075"
    else:
        assert compiled.min_length <= len(text)


def test_route_field_rules() -> None:
    assert validation.route_name("Main line", "10063") == "Main line"
    for bad in ("", "a,b", "n" * 64, "x\ty"):
        with pytest.raises(DomainError):
            validation.route_name(bad, "10063")
    assert validation.strip_count("", 5) is None
    assert validation.strip_count("2", 5) == 2
    for bad in ("6", "-1", "x", "1000"):
        with pytest.raises(DomainError):
            validation.strip_count(bad, 5)
    assert validation.prepend("+00") == "+00"
    with pytest.raises(DomainError):
        validation.prepend("0a")
    assert validation.extension_range("2000-2999") == ("2000", "2999")
    for bad in ("2000", "2000-299", "3000-2000", "a-b"):
        with pytest.raises(DomainError):
            validation.extension_range(bad)
    assert validation.dest_type("IVR") == "ivr"


def inbound(name: str, did: str = "", caller: str = "", **fields: object) -> InboundRule:
    values: dict[str, object] = {"trunks": frozenset({"T1"}), "dest_type": "hangup", "dest": ""}
    values.update(fields)
    return InboundRule(name=name, did=pattern(did), caller=pattern(caller), **values)  # type: ignore[arg-type]


def test_inbound_matching_is_first_match_in_order() -> None:
    rules = [
        inbound("vip", did="4402XXX", caller="0170.", dest_type="queue", dest="6802"),
        inbound("block", did="4402XXX", dest_type="extension", dest="2105"),
        inbound("range", did="4403XXX", dest_type="extrange", dest="3000-3999"),
        inbound("narrow", did="4404XXX", dest_type="extrange", dest="3000-3099"),
        inbound("other-trunk", trunks=frozenset({"T2"}), dest_type="ivr", dest="7301"),
    ]
    assert choose_inbound(rules, "T1", "4402123", "01701234") == Destination("vip", "queue", "6802")
    assert choose_inbound(rules, "T1", "4402123", "0301234") == Destination(
        "block", "extension", "2105"
    )
    assert choose_inbound(rules, "T1", "4403123", "1") == Destination("range", "extension", "3123")
    assert choose_inbound(rules, "T1", "4404123", "1") is None  # 3123 is outside 3000-3099
    assert choose_inbound(rules, "T2", "999", "1") == Destination("other-trunk", "ivr", "7301")
    assert choose_inbound(rules, "T3", "4402123", "1") is None


def test_extension_ranges() -> None:
    assert extension_in_range("3000-3999", "4403123") == "3123"
    assert extension_in_range("2000-2999", "4403123") is None
    assert extension_in_range("2000-2999", "12") is None


def test_business_hours_choose_the_destination() -> None:
    hours = parse_schedule("mon-fri 08:00-17:00", "12-25 closed")
    monday_morning = dt.datetime(2026, 11, 23, 9, 0)
    rule = inbound(
        "office",
        dest_type="queue",
        dest="6802",
        hours=hours,
        off_hours_dest_type="voicemail",
        off_hours_dest="2105",
        hours_moment=monday_morning,
    )
    assert choose_inbound([rule], "T1", "1", "2") == Destination("office", "queue", "6802")
    night = InboundRule(**{**rule.__dict__, "hours_moment": monday_morning.replace(hour=20)})
    assert choose_inbound([night], "T1", "1", "2") == Destination("office", "voicemail", "2105")


def outbound(name: str, prefix: str, **fields: object) -> OutboundRule:
    values: dict[str, object] = {
        "strip": None,
        "prepend": "",
        "trunks": ("T1", "T2"),
        "all_extensions": False,
        "extensions": frozenset({"2001"}),
        "groups": frozenset(),
    }
    values.update(fields)
    return OutboundRule(name=name, prefix=pattern(prefix), **values)  # type: ignore[arg-type]


def test_outbound_matching_permissions_and_rewriting() -> None:
    rules = [
        outbound("international", "900.", strip=1),
        outbound("group-only", "9.", groups=frozenset({7}), extensions=frozenset(), prepend="0"),
        outbound("everyone", "112", all_extensions=True),
    ]
    choice = choose_outbound(rules, "2001", frozenset(), "9001441632960123")
    assert choice is not None and choice.number == "001441632960123"
    assert choice.trunks == ("T1", "T2")
    # not permitted on the first match: later routes are tried
    later = choose_outbound(rules, "2002", frozenset({7}), "9001441632960123")
    assert later is not None and (later.route, later.number) == ("group-only", "09001441632960123")
    refused = choose_outbound(rules, "2002", frozenset(), "9001441632960123")
    assert refused is not None and not refused.allowed and refused.trunks == ()
    assert choose_outbound(rules, "2002", frozenset(), "555") is None  # no route at all
    assert choose_outbound(rules, "2999", frozenset(), "112") is not None
    restricted = [outbound("night", "9.", caller_pattern=pattern("20XX"))]
    assert choose_outbound(restricted, "2001", frozenset(), "912") is not None
    night = choose_outbound(restricted, "3001", frozenset(), "912")
    assert night is not None and not night.allowed
