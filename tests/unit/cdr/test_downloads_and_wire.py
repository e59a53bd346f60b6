"""One-time download grants and the CDR request/CSV wire helpers."""

from __future__ import annotations

import pytest

from kilopbx.apps.cdr.downloads import LIFETIME, MAX_GRANTS, DownloadGrants
from kilopbx.apps.cdr.wire import (
    csv_header,
    csv_rows,
    parse_allowed_ip,
    parse_numbers,
    parse_window,
)
from kilopbx.clock import FakeClock
from kilopbx.core.errors import DomainError
from kilopbx.events.call_model import CallDisposition
from tests.unit.events.spec_calls import record
from tests.unit.wire_errors import wire_errno

PARAMS = ("2101", "2024-06-20 00:00:00", "2024-06-20 23:59:59")


def test_a_grant_is_used_once_for_its_token_and_parameters() -> None:
    grants = DownloadGrants(FakeClock())
    random = grants.issue("tok", PARAMS, {"127.0.0.1"})
    assert len(random) == 32 and int(random, 16) >= 0
    grant = grants.redeem(random, "tok", PARAMS)
    assert grant is not None and grant.allowed_ips == {"127.0.0.1"}
    assert grants.redeem(random, "tok", PARAMS) is None  # spent
    wrong_token = grants.issue("tok", PARAMS, set())
    assert grants.redeem(wrong_token, "other", PARAMS) is None
    assert grants.redeem(wrong_token, "tok", PARAMS) is None  # a failed try spends it too
    other_params = grants.issue("tok", PARAMS, set())
    assert grants.redeem(other_params, "tok", ("all", *PARAMS[1:])) is None
    assert grants.redeem("é" * 32, "tok", PARAMS) is None


def test_grants_expire_and_are_bounded() -> None:
    clock = FakeClock()
    grants = DownloadGrants(clock)
    old = grants.issue("tok", PARAMS, set())
    clock.advance(LIFETIME)
    assert grants.redeem(old, "tok", PARAMS) is None
    issued = [grants.issue("tok", PARAMS, set()) for _ in range(MAX_GRANTS + 10)]
    assert len(grants._grants) == MAX_GRANTS
    assert grants.redeem(issued[0], "tok", PARAMS) is None  # the oldest made room
    assert grants.redeem(issued[-1], "tok", PARAMS) is not None


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-06-20", "2024-06-20 23:59:59"),
        ("2024-06-20 24:00:00", "2024-06-21 00:00:00"),
        ("2024-13-01 00:00:00", "2024-13-02 00:00:00"),
        ("２０２４-06-20 00:00:00", "2024-06-21 00:00:00"),  # non-ASCII digits
        ("2024-06-21 00:00:00", "2024-06-20 00:00:00"),  # end before start
        ("2023-01-01 00:00:00", "2024-06-20 00:00:00"),  # more than 366 days
        ("x" * 100_000, "2024-06-20 00:00:00"),
    ],
)
def test_bad_windows_answer_20019(start: str, end: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_window(start, end)
    assert wire_errno(caught.value) == "20019"


def test_selectors_and_allowed_ip() -> None:
    assert parse_numbers("all") is None and parse_numbers(" ALL ") is None
    assert parse_numbers(" 3102 , 3107,,3102") == ["3102", "3107"]
    assert parse_allowed_ip(" ") is None and parse_allowed_ip("10.1.2.3") == "10.1.2.3"
    for bad in ("10.1.2", "::1", "10.0.0.1,10.0.0.2", "host.example"):
        with pytest.raises(DomainError) as caught:
            parse_allowed_ip(bad)
        assert wire_errno(caught.value) == "20015"


def test_csv_quotes_only_where_needed(utc: None) -> None:
    nasty = record(
        started_at=1718869200.0,
        ended_at=1718869210.0,
        answered_at=None,
        caller='say "hi", bye',
        callee="6702(2102)",
        disposition=CallDisposition.NO_ANSWER,
        recording="",
        source_trunk="",
        did_number="",
    )
    lines = (csv_header() + csv_rows([nasty], "SN")).decode().split("\r\n")
    assert lines[1] == (
        '1718869200.731,2024-06-20 07:40:00,"say ""hi"", bye",6702(2102),10,0,,,'
        "NO ANSWER,Inbound,,,,SN"
    )
