"""Business hours as data: parsing the text forms and answering "open at this moment?".

Weekly schedule: comma-separated `DAYS HH:MM-HH:MM`, DAYS one day (`mon`) or a span
(`mon-fri`, `fri-mon` wraps round the week); `24:00` ends a day; start before end (an
overnight shift is two entries). Example: `mon-fri 08:00-12:00,mon-fri 13:00-17:30`.

Exceptions (holidays, special hours): comma-separated `DATE[~DATE] [closed|HH:MM-HH:MM]`,
DATE `YYYY-MM-DD`, or `MM-DD` for every year. A date covered by exceptions ignores the
weekly schedule: it is open only in the hours its exceptions give (`closed`, or no
hours, gives none). Example: `12-25 closed,2026-12-24 09:00-12:00`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from kilopbx.core.errors import DomainError

WEEKLY_INVALID = "timeconditions.weekly_invalid"
EXCEPTIONS_INVALID = "timeconditions.exceptions_invalid"

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_ENTRIES = 500
_TIME_RANGE = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")
_FULL_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_YEARLY_DATE = re.compile(r"([0-9]{2})-([0-9]{2})")


@dataclass(frozen=True)
class Minutes:
    """[start, end) in minutes after midnight, 0 <= start < end <= 1440."""

    start: int
    end: int

    def __contains__(self, minute: int) -> bool:
        return self.start <= minute < self.end

    def text(self) -> str:
        return (
            f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"
        )


@dataclass(frozen=True)
class WeeklyRange:
    days: tuple[int, ...]  # 0 = Monday
    hours: Minutes


@dataclass(frozen=True)
class DateException:
    first: tuple[int, int, int]  # (year, month, day); year 0 = every year
    last: tuple[int, int, int]
    hours: Minutes | None  # None: closed all day

    def covers(self, day: dt.date) -> bool:
        if self.first[0] == 0:  # yearly: compare (month, day), spans may wrap the year
            key = (day.month, day.day)
            low, high = self.first[1:], self.last[1:]
            return low <= key <= high if low <= high else key >= low or key <= high
        return self.first <= (day.year, day.month, day.day) <= self.last


@dataclass(frozen=True)
class Schedule:
    weekly: tuple[WeeklyRange, ...]
    exceptions: tuple[DateException, ...]

    def is_open(self, moment: dt.datetime) -> bool:
        """Open at `moment` (a local wall-clock time of the schedule's zone)."""
        day = moment.date()
        minute = moment.hour * 60 + moment.minute
        special = [e for e in self.exceptions if e.covers(day)]
        if special:
            return any(e.hours is not None and minute in e.hours for e in special)
        weekday = day.weekday()
        return any(weekday in r.days and minute in r.hours for r in self.weekly)


def _hours(text: str, reason: str) -> Minutes:
    found = _TIME_RANGE.fullmatch(text)
    if found is None:
        raise DomainError(reason, f"{text!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(part) for part in found.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or h1 > 23 or end > 1440 or start >= end:
        raise DomainError(reason, f"{text!r}: times 00:00-24:00, start before end")
    return Minutes(start, end)


def _day_span(text: str) -> tuple[int, ...]:
    first, _, last = text.partition("-")
    try:
        start = DAYS.index(first)
        stop = DAYS.index(last) if last else start
    except ValueError as exc:
        raise DomainError(WEEKLY_INVALID, f"{text!r}: days are mon..sun") from exc
    return tuple((start + offset) % 7 for offset in range((stop - start) % 7 + 1))


def _entries(text: str, reason: str) -> list[str]:
    items = [" ".join(item.split()).lower() for item in text.split(",") if item.strip()]
    if len(items) > MAX_ENTRIES:
        raise DomainError(reason, f"at most {MAX_ENTRIES} entries")
    return items


def parse_weekly(text: str) -> tuple[tuple[WeeklyRange, ...], str]:
    """The ranges and the canonical text to store."""
    ranges = []
    for item in _entries(text, WEEKLY_INVALID):
        days, _, hours = item.partition(" ")
        ranges.append(WeeklyRange(_day_span(days), _hours(hours, WEEKLY_INVALID)))
    return tuple(ranges), ",".join(_entries(text, WEEKLY_INVALID))


def _date(text: str) -> tuple[int, int, int]:
    full = _FULL_DATE.fullmatch(text)
    yearly = _YEARLY_DATE.fullmatch(text)
    try:
        if full is not None:
            year, month, day = (int(part) for part in full.groups())
            dt.date(year, month, day)
            return year, month, day
        if yearly is not None:
            month, day = (int(part) for part in yearly.groups())
            dt.date(2000, month, day)  # a leap year: 02-29 is allowed
            return 0, month, day
    except ValueError:
        pass
    raise DomainError(EXCEPTIONS_INVALID, f"{text!r} is not YYYY-MM-DD or MM-DD")


def parse_exceptions(text: str) -> tuple[tuple[DateException, ...], str]:
    exceptions = []
    for item in _entries(text, EXCEPTIONS_INVALID):
        dates, _, hours = item.partition(" ")
        first_text, _, last_text = dates.partition("~")
        first = _date(first_text)
        last = _date(last_text) if last_text else first
        if (first[0] == 0) != (last[0] == 0) or (first[0] and last < first):
            raise DomainError(EXCEPTIONS_INVALID, f"{dates!r}: a date span goes forwards")
        span = None if hours in ("", "closed") else _hours(hours, EXCEPTIONS_INVALID)
        exceptions.append(DateException(first, last, span))
    return tuple(exceptions), ",".join(_entries(text, EXCEPTIONS_INVALID))


def parse_schedule(weekly: str, exceptions: str) -> Schedule:
    return Schedule(parse_weekly(weekly)[0], parse_exceptions(exceptions)[0])
