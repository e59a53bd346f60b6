"""Validation of extension group and company contact fields (specs 22 and 20)."""

from __future__ import annotations

from typing import Any

import pytest

from kilopbx.apps.contacts import wire as contacts
from kilopbx.apps.extension_groups import wire as groups
from kilopbx.core.errors import DomainError
from tests.unit.wire_errors import wire_errno


def errno_of(fn: Any, *args: Any) -> str:
    with pytest.raises(DomainError) as caught:
        fn(*args)
    return wire_errno(caught.value)


def test_group_names() -> None:
    assert groups.parse_name("  front-desk ") == "front-desk"
    assert groups.parse_name("Ventes & Marketing") == "Ventes & Marketing"
    assert errno_of(groups.parse_name, "  ") == "10004"
    for bad in ("a,b", "a;b", 'a"b', "a'b", "a\\b", "<a>", "x" * 64, "a\nb"):
        assert errno_of(groups.parse_name, bad) == "10017", bad


def test_group_ids() -> None:
    assert groups.parse_ids("all") is None
    assert groups.parse_ids("3, 1,x,3") == [3, 1]
    assert groups.parse_id(" 7 ") == 7
    for bad in ("x", "1,2", "-1", "9999999999"):
        assert errno_of(groups.parse_id, bad) == "10004"


def test_unknown_members_are_reported_under_both_spellings() -> None:
    assert groups.unknown_members_wire([]) == {}
    assert groups.unknown_members_wire(["2499", "2498"]) == {
        "errnum": "2499,2498",
        "errornum": "2499,2498",
    }


def test_contact_fields() -> None:
    body = {"firstname": "Lena", "mobile": 7700900311, "zipcode": 4051.0, "othernum": None}
    assert contacts.parse_contact_fields(body) == {
        "first_name": "Lena",
        "mobile": "7700900311",
        "zip_code": "4051",
        "other_number": "",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mobile", "12a"),
        ("homefax", "1" * 32),
        ("email", "nope"),
        ("city", "x" * 128),
        ("company", "null\x00byte"),
        ("street", ["x"]),
        ("country", False),
    ],
)
def test_contact_field_refusals(field: str, value: Any) -> None:
    assert errno_of(contacts.parse_field, field, value) == "10004"


def test_contact_invariants() -> None:
    good = {"first_name": "A", "last_name": "B", "home_fax": "1"}
    contacts.check_contact(good)
    assert errno_of(contacts.check_contact, {**good, "first_name": ""}) == "10004"
    assert errno_of(contacts.check_contact, {**good, "home_fax": ""}) == "10004"


def test_contact_ids() -> None:
    assert contacts.parse_ids("all") is None
    assert contacts.parse_ids("2,1") == [2, 1]
    for bad in ("x", "1,x", ",", "-3"):
        assert errno_of(contacts.parse_ids, bad) == "10004"
