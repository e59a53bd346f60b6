from __future__ import annotations

import itertools

import pytest

from kilopbx.media.dtmf import DigitDetector, DtmfError, build_event, parse_event, plan_digit


def test_event_round_trip() -> None:
    event = parse_event(build_event(11, True, 800, volume=7))
    assert (event.digit, event.end, event.duration, event.volume) == ("#", True, 800, 7)


def test_detector_reports_each_digit_once() -> None:
    detector = DigitDetector()
    assert detector.feed(1, 1000, build_event(5, False, 400)) is None
    found = detector.feed(1, 1000, build_event(5, True, 800))
    assert found is not None and found.digit == "5"
    assert detector.feed(1, 1000, build_event(5, True, 800)) is None  # the repeated ends
    assert detector.feed(1, 2000, build_event(5, True, 800)) is not None  # the next press
    assert detector.feed(1, 3000, b"\x01") is None  # short payload ignored
    assert detector.feed(1, 4000, build_event(16, True, 800)) is None  # flash is not a digit


def test_plan_of_a_digit() -> None:
    packets = plan_digit("7", 120)
    assert packets[0].marker and not any(p.marker for p in packets[1:])
    ends = [parse_event(p.payload) for p in packets if parse_event(p.payload).end]
    assert len(ends) == 3 and all(e.duration == 960 for e in ends)
    assert [p.seq_step for p in packets] == list(range(len(packets)))
    assert all(a.delay <= b.delay for a, b in itertools.pairwise(packets))


@pytest.mark.parametrize(("digit", "ms"), [("x", 100), ("12", 100), ("1", 10), ("1", 60000)])
def test_plan_refuses_bad_input(digit: str, ms: int) -> None:
    with pytest.raises(DtmfError):
        plan_digit(digit, ms)
