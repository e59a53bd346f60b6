"""Reading the actions a sans-IO transaction machine returns, for the unit tests."""

from __future__ import annotations

from kilopbx.sip.timers import TimerName
from kilopbx.sip.transaction import (
    Action,
    CancelTimer,
    FailureReason,
    StartTimer,
    TransactionFailed,
    TransactionTerminated,
)


def started(actions: list[Action]) -> dict[TimerName, float]:
    return {a.name: a.at for a in actions if isinstance(a, StartTimer)}


def cancelled(actions: list[Action]) -> set[TimerName]:
    return {a.name for a in actions if isinstance(a, CancelTimer)}


def terminated(actions: list[Action]) -> bool:
    return any(isinstance(a, TransactionTerminated) for a in actions)


def failure(actions: list[Action]) -> FailureReason | None:
    for action in actions:
        if isinstance(action, TransactionFailed):
            return action.reason
    return None
