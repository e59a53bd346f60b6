"""Business hours: parsing the weekly schedule and the date exceptions, and answering
"open at this moment?"."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kilopbx.apps.timeconditions.models import TimeCondition
from kilopbx.apps.timeconditions.schedule import parse_exceptions, parse_schedule, parse_weekly
from kilopbx.apps.timeconditions.service import condition_name, is_open, local_moment, time_zone
from kilopbx.core.errors import DomainError
from tests.unit.wire_errors import wire_errno

OFFICE = parse_schedule(
    "mon-fri 08:00-12:00, mon-fri 13:00-17:30, sat 09:00-12:00",
    "12-25 closed, 12-31~01-01, 2026-12-24 09:00-12:00, 2026-08-03~2026-08-14 closed",
)


def at(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-23 07:59", False),  # Monday before opening
        ("2026-11-23 08:00", True),  # start is inside
        ("2026-11-23 11:59", True),
        ("2026-11-23 12:00", False),  # end is outside (lunch)
        ("2026-11-23 17:29", True),
        ("2026-11-23 17:30", False),
        ("2026-11-28 10:00", True),  # Saturday morning
        ("2026-11-29 10:00", False),  # Sunday
        ("2026-12-25 10:00", False),  # yearly holiday
        ("2027-12-25 10:00", False),  # ... every year
        ("2026-12-31 10:00", False),  # yearly span across new year
        ("2027-01-01 10:00", False),
        ("2027-01-04 10:00", True),
        ("2026-12-24 10:00", True),  # special hours replace the weekly ones
        ("2026-12-24 14:00", False),
        ("2026-08-10 10:00", False),  # summer closure
        ("2026-08-17 10:00", True),
    ],
)
def test_office_hours(moment: str, expected: bool) -> None:
    assert OFFICE.is_open(at(moment)) is expected


def test_day_spans_wrap_round_the_week_and_24_00_ends_a_day() -> None:
    weekend = parse_schedule("fri-mon 00:00-24:00", "")
    assert [weekend.is_open(at(f"2026-11-{day} 23:59")) for day in range(23, 30)] == [
        True,
        False,
        False,
        False,
        True,
        True,
        True,
    ]


def test_canonical_text_is_stored() -> None:
    assert parse_weekly("  MON-Fri   08:00-17:00 ,, sat 09:00-12:00")[1] == (
        "mon-fri 08:00-17:00,sat 09:00-12:00"
    )
    assert parse_exceptions("12-25 CLOSED")[1] == "12-25 closed"
    assert parse_weekly("")[0] == ()


@pytest.mark.parametrize(
    "text",
    [
        "mon 17:00-08:00",
        "mon 08:00-08:00",
        "mon 24:00-24:30",
        "mon 08:60-09:00",
        "xyz 08:00-09:00",
        "mon",
        "mon 8:00-9:00",
        "mon-fri",
    ],
)
def test_bad_weekly_schedules(text: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_weekly(text)
    assert wire_errno(caught.value) == "10902"


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30",
        "13-01",
        "2026-12-31~2026-12-01",
        "12-24~2026-12-26",
        "2026-12-24 9-12",
        "yesterday",
    ],
)
def test_bad_exceptions(text: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_exceptions(text)
    assert wire_errno(caught.value) == "10903"


def test_leap_day_is_a_valid_yearly_date() -> None:
    schedule = parse_schedule("mon-sun 00:00-24:00", "02-29 closed")
    assert not schedule.is_open(at("2028-02-29 10:00"))
    assert schedule.is_open(at("2027-02-28 10:00"))


def test_names_and_zones() -> None:
    assert condition_name("Office hours") == "Office hours"
    for bad in ("", "a,b", "n" * 64):
        with pytest.raises(DomainError):
            condition_name(bad)
    assert time_zone("Europe/Berlin") == "Europe/Berlin"
    assert time_zone("") == ""
    with pytest.raises(DomainError):
        time_zone("../../etc/passwd")


def test_zone_decides_the_wall_clock() -> None:
    condition = TimeCondition(
        name="Tokyo", timezone="Asia/Tokyo", weekly="mon-fri 09:00-18:00", exceptions=""
    )
    # 2026-11-23 01:00 UTC is Monday 10:00 in Tokyo
    epoch = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC).timestamp()
    assert local_moment(condition, epoch).hour == 10
    assert is_open(condition, epoch)
    assert not is_open(condition, epoch + 12 * 3600)


@given(st.integers(0, 6), st.integers(0, 1439))
def test_a_full_week_is_always_open(day: int, minute: int) -> None:
    always = parse_schedule("mon-sun 00:00-24:00", "")
    moment = dt.datetime(2026, 11, 23 + day, minute // 60, minute % 60)
    assert always.is_open(moment)
