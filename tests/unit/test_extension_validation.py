"""Validation of extension fields (spec 21), without a PBX."""

from __future__ import annotations

from typing import Any

import pytest

from kilopbx.apps.extensions.passwords import (
    LOGIN_PASSWORD_MIN,
    SIP_PASSWORD_MIN,
    generate_password,
    has_digit_run,
    md5_hex,
    weakness,
)
from kilopbx.apps.extensions.selectors import parse_selector, split_list
from kilopbx.apps.extensions.service import new_extension_values
from kilopbx.apps.extensions.validation import (
    check_record,
    forward_targets,
    login_password_change,
    parse_changes,
    parse_max_duration,
    parse_number,
    required_text,
    text_of,
)
from kilopbx.apps.extensions.wire import max_duration_wire, number_order
from kilopbx.core.errors import DomainError
from tests.unit.wire_errors import wire_errno


def errno_of(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(DomainError) as caught:
        fn(*args, **kwargs)
    return wire_errno(caught.value)


def record(**overrides: Any) -> dict[str, Any]:
    values = new_extension_values("2101")
    values.update(
        display_name="Ana Costa",
        caller_id="2101",
        auth_name="acosta",
        sip_password="Tq7wLp3xVz9bKd4M",
        voicemail_pin="2101",
        login_password_md5="",
    )
    values.update(overrides)
    return values


# -- passwords ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a1b2c3", False), ("x123y", True), ("x987y", True), ("x555y", True), ("x13579", False)],
)
def test_digit_runs(text: str, expected: bool) -> None:
    assert has_digit_run(text) is expected


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Tq7wLp3xVz9bKd4M", None),
        ("Tq7wLp3xVz9bKd4", "shorter"),
        ("tq7wlp3xvz9bkd4m", "upper-case"),
        ("TQ7WLP3XVZ9BKD4M", "lower-case"),
        ("TqxwLpaxVzybKdbM", "digit"),
        ("Tq7wLp3xVz9bKd4M!", "only letters"),
        ("Tq7wLp3xVz9bKd4M<", "only letters"),
        ("Tq7wLp3xVz9bKd4M\u00e9", "only letters"),
        ("Tq7wLp345Vz9bKd4M", "consecutive"),
        ("Tq7wLp4826Vz9bKdM", "extension number"),
        ("Tq7wLpANAcostaKd4M", "user name"),
        ("A" * 40 + "a1" + "b" * 30, "longer"),
    ],
)
def test_strong_sip_password(password: str, reason: str | None) -> None:
    found = weakness(password, min_length=SIP_PASSWORD_MIN, number="4826", username="Acosta")
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found


def test_short_names_are_not_searched_in_passwords() -> None:
    assert weakness("Tq7wLp3xVz9bKd4M", min_length=16, number="7", username="Tq") is None


def test_generated_passwords_pass_the_policy() -> None:
    for _ in range(50):
        password = generate_password(SIP_PASSWORD_MIN, number="1000", username="Extension 1000")
        assert weakness(password, min_length=16, number="1000", username="Extension 1000") is None
        assert len(password) == SIP_PASSWORD_MIN
    assert len(generate_password(LOGIN_PASSWORD_MIN)) == LOGIN_PASSWORD_MIN


def test_login_password_round_trip() -> None:
    stored = md5_hex("Wq8eRt4yUz")
    assert login_password_change(None, stored) is None
    assert login_password_change(stored, stored) is None
    assert login_password_change(stored.upper(), stored) is None
    assert login_password_change("Zx9cVb7nMq", stored) == "Zx9cVb7nMq"


# -- single fields --------------------------------------------------------------------------


def test_text_of_is_lenient_about_scalars() -> None:
    body = {"a": 12, "b": 1.0, "c": True, "d": None, "e": "x"}
    assert [text_of(body, k) for k in "abcde"] == ["12", "1", "1", None, "x"]
    assert text_of(body, "missing") is None
    assert errno_of(text_of, {"a": [1]}, "a") == "10017"
    assert errno_of(text_of, {"a": {"b": 1}}, "a") == "10017"


def test_required_text() -> None:
    assert required_text({"number": 2101}, "number") == "2101"
    for body in ({}, {"number": ""}, {"number": "  "}, {"number": None}, {"number": [1]}):
        assert errno_of(required_text, body, "number") == "10004"


@pytest.mark.parametrize("text", ["1", "2101", "1234567", " 2101 "])
def test_good_numbers(text: str) -> None:
    assert parse_number("number", text) == text.strip()


@pytest.mark.parametrize("text", ["", "12345678", "12a", "-1", "1.5", "２１０１", "1 2"])
def test_bad_numbers(text: str) -> None:
    assert errno_of(parse_number, "number", text) == "10017"


def test_parse_changes_maps_wire_names_to_model_values() -> None:
    body = {
        "username": "Ana",
        "maxregistrations": 3,
        "dnd": "ON",
        "hasvoicemail": False,
        "atransferto": "mobile  number",
        "monitormode": "Disable",
        "maxduration": "Unlimited",
        "ringtimeout": "45",
        "language": "ignored",
        "status": "ignored",
        "unknownfield": [1, 2],
    }
    assert parse_changes(body) == {
        "display_name": "Ana",
        "max_registrations": 3,
        "do_not_disturb": True,
        "voicemail_enabled": False,
        "always_forward_to": "mobile",
        "monitor_mode": "disabled",
        "max_call_seconds": 0,
        "ring_timeout": 45,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "a.b"),
        ("username", "x" * 64),
        ("username", "line\nbreak"),
        ("registername", "with space"),
        ("maxregistrations", "6"),
        ("maxregistrations", "99999999999999999999"),
        ("email", "a@b@c"),
        ("email", "semi;colon@example.com"),
        ("mobile", "+44"),
        ("vmsecret", "1" * 64),
        ("dnd", "enabled"),
        ("btransferto", "Queue"),
        ("ringtimeout", "0"),
        ("maxduration", "86401"),
        ("monitormode", "Barge"),
        ("enablevmtoemail", "yes"),
    ],
)
def test_parse_changes_refuses(field: str, value: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_changes({field: value})
    assert wire_errno(caught.value) == "10017"
    assert caught.value.detail is not None and caught.value.detail.startswith(field)


def test_max_duration_round_trip() -> None:
    for wire in ("Follow System", "Unlimited", "600"):
        assert max_duration_wire(parse_max_duration("maxduration", wire)) == wire


# -- whole record ---------------------------------------------------------------------------


def test_default_record_is_valid() -> None:
    check_record(record(), new_login_password=None)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"always_forward_to": "custom"}, "atransfernum"),
        ({"busy_forward_to": "extension"}, "btransferext"),
        ({"no_answer_forward_to": "extension", "no_answer_forward_extension": "2101"}, "ntrans"),
        ({"busy_forward_to": "mobile"}, "mobile"),
        ({"mobility_enabled": True}, "mobile"),
        ({"ring_mobile_simultaneously": True}, "mobile"),
        ({"voicemail_to_email": "custom"}, "email"),
        ({"sip_password": "weak"}, "registerpassword"),
    ],
)
def test_record_inconsistencies(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(DomainError) as caught:
        check_record(record(**overrides), new_login_password=None)
    assert wire_errno(caught.value) == "10017"
    assert caught.value.detail is not None and caught.value.detail.startswith(field)


def test_new_login_password_is_checked() -> None:
    assert errno_of(check_record, record(), new_login_password="short") == "10017"
    check_record(record(), new_login_password="Wq8eRt4yUz")


def test_forward_targets() -> None:
    values = record(busy_forward_to="extension", busy_forward_extension="2102")
    assert forward_targets(values) == {"btransferext": "2102"}


# -- selectors and order ----------------------------------------------------------------------


def test_selectors() -> None:
    assert parse_selector("all") is None
    assert parse_selector(" ALL ") is None
    assert parse_selector("2101, 2102 ,2101,,") == ["2101", "2102"]
    assert split_list("") == []


def test_numeric_order() -> None:
    numbers = ["1000", "99", "007", "7", "10"]
    assert sorted(numbers, key=number_order) == ["007", "7", "10", "99", "1000"]
