"""Why a click-to-call ended while the caller's phone rang (``first_leg_outcome``):
the cause, CDR disposition and SIP status the engine reports, as for any callee."""

from __future__ import annotations

import pytest

from kilopbx.engine.call_dial import FirstLegOutcome, first_leg_outcome
from kilopbx.events.call_model import FailureReason


@pytest.mark.parametrize(
    ("statuses", "timed_out", "hung_up", "expected"),
    [
        ([487], True, "", FirstLegOutcome("no_answer", "NO ANSWER", 480)),
        ([486], False, "", FirstLegOutcome("busy", "BUSY", 486)),
        ([600, 480], False, "", FirstLegOutcome("busy", "BUSY", 486)),
        ([480], False, "", FirstLegOutcome("unavailable", "NO ANSWER", 480)),
        ([408, 503], False, "", FirstLegOutcome("unavailable", "NO ANSWER", 408)),
        ([], False, "", FirstLegOutcome("unavailable", "NO ANSWER", 480)),
        ([603], False, "", FirstLegOutcome("failed", "FAILED", 603)),
        ([603, 404, 488], False, "", FirstLegOutcome("failed", "FAILED", 404)),
        ([487, 486], True, "api", FirstLegOutcome("api", "NO ANSWER", 480)),
    ],
    ids=[
        "ring-time-out",
        "declined-busy",
        "busy-everywhere-wins",
        "unavailable",
        "lowest-unavailable",
        "no-answer-at-all",
        "declined-603",
        "lowest-class-wins",
        "hung-up-by-api",
    ],
)
def test_first_leg_outcome(
    statuses: list[int], timed_out: bool, hung_up: str, expected: FirstLegOutcome
) -> None:
    assert first_leg_outcome(statuses, timed_out=timed_out, hung_up=hung_up) == expected


def test_each_outcome_names_the_failure_reason_the_events_use() -> None:
    """The reporter turns a ring time-out into "603 Declined" (its own mapping) and
    the others into the reason of their SIP status."""
    busy = first_leg_outcome([486])
    assert FailureReason.from_sip_status(busy.status) is FailureReason.BUSY_HERE
    declined = first_leg_outcome([603])
    assert FailureReason.from_sip_status(declined.status) is FailureReason.RING_TIMEOUT
