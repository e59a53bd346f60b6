"""Per-source UDP limits: volume and loop time, dropped and never banned."""

from __future__ import annotations

from kilopbx.clock import FakeClock
from kilopbx.sip.source_limits import UdpSourceLimiter


def test_volume_beyond_the_limit_is_dropped_while_the_flood_lasts() -> None:
    clock = FakeClock()
    limiter = UdpSourceLimiter(clock.monotonic, messages_per_second=100, cpu_share=0)
    assert all(limiter.admit("10.0.0.1") for _ in range(100))
    assert not limiter.admit("10.0.0.1")
    assert limiter.admit("10.0.0.2")  # others are not affected
    clock.advance(0.95)
    assert not limiter.admit("10.0.0.1")  # still flooding as the second ends
    clock.advance(0.1)
    # so nothing of it is parsed in the next second
    assert not any(limiter.admit("10.0.0.1") for _ in range(50))
    assert limiter.admit("10.0.0.2")
    clock.advance(1.0)
    assert all(limiter.admit("10.0.0.1") for _ in range(100))  # a quiet second: back
    assert limiter.dropped_for_volume == 52


def test_a_known_peer_is_capped_per_second_but_never_carried_over() -> None:
    """A flood forged in a registered phone's name: its excess is dropped, but each
    new second hears it again (its refresh is not kept out past the flood)."""
    clock = FakeClock()
    limiter = UdpSourceLimiter(clock.monotonic, messages_per_second=100, cpu_share=0)
    limiter.protected = {"10.0.0.1"}.__contains__
    assert all(limiter.admit("10.0.0.1") for _ in range(100))
    assert not limiter.admit("10.0.0.1")
    assert all(limiter.admit("10.0.0.9") for _ in range(100))
    assert not limiter.admit("10.0.0.9")
    clock.advance(0.95)
    assert not limiter.admit("10.0.0.1") and not limiter.admit("10.0.0.9")
    clock.advance(0.1)
    assert limiter.admit("10.0.0.1")  # a new second
    assert not limiter.admit("10.0.0.9")  # an unknown flooder stays out for it


def test_a_short_burst_is_forgotten_when_its_second_ends() -> None:
    clock = FakeClock()
    limiter = UdpSourceLimiter(clock.monotonic, messages_per_second=10, cpu_share=0)
    assert not all(limiter.admit("10.0.0.1") for _ in range(20))  # all within a moment
    clock.advance(1.05)
    assert limiter.admit("10.0.0.1")


def test_expensive_source_is_dropped_until_it_has_paid_back() -> None:
    clock = FakeClock()
    limiter = UdpSourceLimiter(clock.monotonic, messages_per_second=0, cpu_share=0.1, burst=0.5)
    admitted = 0
    for _ in range(100):  # 1/64 s messages at once: 33 go through the 0.5 s burst
        if limiter.admit("10.0.0.1"):
            admitted += 1
            limiter.charge("10.0.0.1", 1 / 64)
    assert admitted == 33
    assert not limiter.admit("10.0.0.1")
    assert limiter.admit("10.0.0.2")
    clock.advance(0.5)  # pays back 0.05 s of its 0.52: under the burst again
    assert limiter.admit("10.0.0.1")
    assert limiter.dropped_for_cost == 68


def test_cheap_traffic_at_a_high_rate_stays_within_its_share() -> None:
    clock = FakeClock()
    limiter = UdpSourceLimiter(clock.monotonic, messages_per_second=10_000, cpu_share=0.1)
    for _ in range(10):  # ten seconds of 1,000 messages a second at 80 us each
        for _ in range(1000):
            assert limiter.admit("10.0.0.1")
            limiter.charge("10.0.0.1", 0.00008)
            clock.advance(0.001)


def test_sources_that_paid_back_are_forgotten_and_the_table_is_bounded() -> None:
    clock = FakeClock()
    limiter = UdpSourceLimiter(clock.monotonic, cpu_share=0.1, max_tracked=100)
    for i in range(300):
        limiter.admit(f"10.0.{i // 256}.{i % 256}")
        limiter.charge(f"10.0.{i // 256}.{i % 256}", 0.001)
    assert limiter.tracked == 100
    clock.advance(2.0)
    limiter.admit("192.0.2.1")  # a new window forgets the settled ones
    assert limiter.tracked == 0


def test_zero_turns_limits_off() -> None:
    clock = FakeClock()
    limiter = UdpSourceLimiter(clock.monotonic, messages_per_second=0, cpu_share=0)
    for _ in range(50_000):
        assert limiter.admit("10.0.0.1")
        limiter.charge("10.0.0.1", 1.0)
