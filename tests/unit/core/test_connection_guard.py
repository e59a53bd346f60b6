from __future__ import annotations

import pytest

from kilopbx.api.connection_guard import ApiConnectionLimits, ConnectionGuard
from kilopbx.descriptors import MIN_RESERVE, descriptor_budget


class Conn:
    def __init__(self, address: str) -> None:
        self.address = address
        self.accepted_at = self.last_active = 0.0
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


LIMITS = ApiConnectionLimits(
    max_connections=6, max_waiting_per_address=2, grace=1.0, idle_timeout=5, request_timeout=10
)


def make() -> tuple[ConnectionGuard, Clock]:
    clock = Clock()
    return ConnectionGuard(LIMITS, clock), clock


def test_per_address_eviction_waits_for_the_grace_period() -> None:
    guard, clock = make()
    first, second, third = Conn("a"), Conn("a"), Conn("a")
    assert guard.admit(first) and guard.admit(second)
    assert guard.admit(third) and not first.aborted  # a burst: everyone is young
    clock.now += 1.5
    guard.active(first)  # first sent a byte: second is now the most idle
    assert guard.admit(Conn("a"))
    assert second.aborted and not first.aborted and not third.aborted


def test_full_guard_evicts_the_heaviest_address_then_refuses() -> None:
    guard, _clock = make()
    heavy = [Conn("h") for _ in range(4)]
    light = [Conn("l1"), Conn("l2")]
    for conn in [*heavy, *light]:
        assert guard.admit(conn)
    newcomer = Conn("new")
    assert guard.admit(newcomer)
    assert heavy[0].aborted and not any(c.aborted for c in light)
    # served connections are never evicted: when all are served, the newcomer is refused
    for index, conn in enumerate([*heavy[1:], *light, newcomer]):
        guard.attach(conn, index)
        guard.arrived(index)
    assert guard.waiting_count == 0 and guard.open_count == 6
    assert not guard.admit(Conn("late")) and guard.refused == 1
    guard.release(light[0])
    assert guard.admit(Conn("late"))


def test_deadlines_cut_idle_and_slow_requests_only() -> None:
    guard, clock = make()
    silent, trickler, served = Conn("a"), Conn("b"), Conn("c")
    for conn in (silent, trickler, served):
        guard.admit(conn)
    guard.attach(served, "t")
    guard.arrived("t")
    for _ in range(9):
        clock.now += 1
        guard.active(trickler)
        guard.expire()
    assert silent.aborted and not trickler.aborted and not served.aborted
    clock.now += 1.5
    guard.expire()
    assert trickler.aborted and not served.aborted
    assert guard.open_count == 1


@pytest.mark.parametrize("limit", [64, 1024, 20_000, 1 << 20])
def test_descriptor_budget_keeps_a_reserve(limit: int) -> None:
    budget = descriptor_budget(limit, api_wanted=2048, sip_tcp_wanted=4096)
    assert budget.api_connections >= 16 and budget.sip_tcp_connections >= 16
    if limit > 2 * MIN_RESERVE:
        spent = budget.api_connections + budget.sip_tcp_connections
        assert limit - spent >= MIN_RESERVE
    if limit >= 20_000:
        assert (budget.api_connections, budget.sip_tcp_connections) == (2048, 4096)
