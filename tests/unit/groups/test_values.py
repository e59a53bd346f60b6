"""The shared lenient value parsers of the group features."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kilopbx.api.reasons import map_reasons
from kilopbx.apps.ring_groups import values
from kilopbx.core.errors import DomainError
from tests.unit.wire_errors import wire_errno

ERRNO = "10999"
# the parsers raise whatever reason their caller names; these stand for themselves
map_reasons({ERRNO: ERRNO, "1": "1"})


def refused(call: Any, *args: object, errno: str = ERRNO, **options: Any) -> str:
    with pytest.raises(DomainError) as caught:
        call(*args, **options)
    assert wire_errno(caught.value) == errno
    return caught.value.detail or ""


@pytest.mark.parametrize("text", ["1", "6300", " 7301 ", "0000001"])
def test_numbers(text: str) -> None:
    assert values.parse_number(text, ERRNO) == text.strip()


@pytest.mark.parametrize("text", ["", "12345678", "63a0", "６３００", "٦٣٠٠", "-1", "1.5", "*97"])
def test_bad_numbers(text: str) -> None:
    refused(values.parse_number, text, ERRNO)


def test_int_ranges() -> None:
    assert values.parse_int(" 5 ", ERRNO, "f", 1, 10) == 5
    for text in ["0", "11", "", "5.0", "+5", "-1", "1e1", "9" * 20, "٥"]:
        refused(values.parse_int, text, ERRNO, "f", 1, 10)


def test_choices() -> None:
    assert values.parse_choice("60", ERRNO, "f", (0, 15, 60)) == 60
    refused(values.parse_choice, "16", ERRNO, "f", (0, 15, 60))


@pytest.mark.parametrize(("text", "flag"), [("on", True), ("OFF", False), (" On ", True)])
def test_on_off(text: str, flag: bool) -> None:
    assert values.parse_on_off(text, ERRNO, "f") is flag


@pytest.mark.parametrize("text", ["yes", "1", "", "onn", "\x00"])
def test_bad_on_off(text: str) -> None:
    refused(values.parse_on_off, text, ERRNO, "f")


def test_ivr_queue_names() -> None:
    assert values.parse_ivr_queue_name("Main_Menu-2", ERRNO, "f") == "Main_Menu-2"
    for bad in ["", "x" * 32, "two words", "a`b", "a|b", "a{b}", "tab\there", "a@b", "100%"]:
        refused(values.parse_ivr_queue_name, bad, ERRNO, "f")


def test_room_names() -> None:
    assert values.parse_room_name("Board Room (2nd)", ERRNO) == "Board Room (2nd)"
    for bad in ["", " lead", "trail ", "x" * 64, "a&b", "a]b", 'a"b', "a\\b", "new\nline"]:
        refused(values.parse_room_name, bad, ERRNO)


def test_prompts() -> None:
    assert values.parse_prompt("none", ERRNO, "f") == ""
    assert values.parse_prompt("welcome_main.wav", ERRNO, "f") == "welcome_main.wav"
    for bad in ["../x.wav", "a/b.wav", ".hidden", "x" * 65, "a b.wav"]:
        refused(values.parse_prompt, bad, ERRNO, "f")


def test_lists_drop_blanks_empties_and_duplicates() -> None:
    assert values.split_list(" 2101, 2102,,2101 ,") == ["2101", "2102"]
    assert values.parse_number_list("", ERRNO, "f") == []
    refused(values.parse_number_list, "1,2,3", ERRNO, "f", limit=2)
    assert refused(values.parse_number_list, "1,2,3", "1", "f", limit=2, limit_reason=ERRNO)


def test_selectors() -> None:
    assert values.parse_selector("all", ERRNO) is None
    assert values.parse_selector("7301, x ,7302", ERRNO) == ["7301", "7302"]
    refused(values.parse_selector, ",", ERRNO, errno="10004")


def test_text_fields() -> None:
    body = {"n": 7301, "s": "x", "f": 2.0, "b": True, "o": {}, "l": [], "z": None}
    assert values.text_field(body, "n") == "7301"
    assert values.text_field(body, "f") == "2"
    assert values.text_field(body, "missing") is None
    assert values.text_field(body, "z") is None
    for key in ("b", "o", "l"):
        assert values.text_field(body, key) == values.MALFORMED
    assert values.switch_field(body, "b", values.ON_OFF) == "on"
    assert values.switch_field({"b": False}, "b", values.YES_NO) == "no"


@given(st.text(max_size=200))
def test_details_never_carry_control_characters(text: str) -> None:
    shown = values.shown(text)
    assert all(ch.isprintable() for ch in shown)
    assert len(shown) <= 60
