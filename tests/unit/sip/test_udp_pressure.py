"""Muting the top talkers while the UDP receive queue fills: the window, the share, the
pressure signal, known peers and the length of a mute, with a fake clock."""

from __future__ import annotations

import socket
import sys

import pytest

from kilopbx.clock import FakeClock
from kilopbx.sip.udp_pressure import QueueReading, UdpPressure
from tests.harness import HOST

FULL = QueueReading(queued=700, capacity=1000)
EMPTY = QueueReading(queued=0, capacity=1000)


class Queue:
    def __init__(self, reading: QueueReading | None = FULL) -> None:
        self.reading = reading
        self.reads = 0

    def __call__(self) -> QueueReading | None:
        self.reads += 1
        return self.reading


def pressure(
    queue: Queue, clock: FakeClock, known: frozenset[str] = frozenset()
) -> tuple[UdpPressure, list[str]]:
    muted: list[str] = []
    watch = UdpPressure(
        clock.monotonic,
        queue,
        protected=known.__contains__,
        on_mute=muted.append,
        window=512,
        check_every=64,
    )
    return watch, muted


def send(watch: UdpPressure, pattern: list[str], count: int) -> int:
    """``count`` datagrams, sources cycling through ``pattern``; how many were admitted."""
    return sum(watch.admit(pattern[i % len(pattern)]) for i in range(count))


def test_a_flooder_is_muted_under_pressure_and_others_are_not() -> None:
    clock = FakeClock()
    watch, muted = pressure(Queue(), clock)
    # the flooder sends 30 for each datagram of a phone
    pattern = ["10.0.0.9"] * 30 + ["10.0.0.2"]
    admitted = send(watch, pattern, 64)
    assert admitted == 64  # decided at the 64th datagram, dropped from the next one on
    assert muted == ["10.0.0.9"] and watch.muted == ["10.0.0.9"]
    assert not watch.admit("10.0.0.9")
    assert watch.admit("10.0.0.2")
    assert watch.dropped == 1


def test_nothing_is_muted_while_the_queue_keeps_up() -> None:
    clock = FakeClock()
    queue = Queue(EMPTY)
    watch, muted = pressure(queue, clock)
    assert send(watch, ["10.0.0.9"], 5_000) == 5_000
    assert muted == [] and watch.pressed_checks == 0
    # the queue is read once every 64 datagrams, not per datagram
    assert queue.reads == 5_000 // 64
    # at half full it counts as pressure, just under it does not
    queue.reading = QueueReading(queued=499, capacity=1000)
    send(watch, ["10.0.0.9"], 64)
    assert muted == []
    queue.reading = QueueReading(queued=500, capacity=1000)
    send(watch, ["10.0.0.9"], 64)
    assert muted == ["10.0.0.9"]


def test_no_reading_or_an_error_is_no_pressure() -> None:
    clock = FakeClock()
    watch, muted = pressure(Queue(None), clock)
    send(watch, ["10.0.0.9"], 1_000)

    def broken() -> QueueReading | None:
        raise OSError("not a socket")

    other = UdpPressure(clock.monotonic, broken, on_mute=muted.append)
    send(other, ["10.0.0.9"], 1_000)
    assert muted == []
    assert QueueReading(queued=10, capacity=0).pressed is False


def test_the_share_and_minimum_of_the_window_decide_who_is_a_top_talker() -> None:
    clock = FakeClock()
    watch, muted = pressure(Queue(EMPTY), clock)
    # 500 sources with one datagram each and one with 12: nobody has 20 of 512
    send(watch, [f"10.1.{i // 250}.{i % 250}" for i in range(500)] + ["10.0.0.7"] * 12, 512)
    assert watch.top_talkers() == []
    # 26 of 512 (5%) and at least 20: a top talker; 25 is not
    send(watch, ["10.0.0.8"] * 26 + [f"10.2.{i // 250}.{i % 250}" for i in range(486)], 512)
    assert watch.top_talkers() == [("10.0.0.8", 26)]
    send(watch, ["10.0.0.8"] * 25 + [f"10.3.{i // 250}.{i % 250}" for i in range(487)], 512)
    assert watch.top_talkers() == []
    # early on (a window not yet full) the minimum of 20 still holds
    fresh, _ = pressure(Queue(EMPTY), clock)
    send(fresh, ["10.0.0.5"] * 19, 19)
    assert fresh.top_talkers() == []
    fresh.admit("10.0.0.5")
    assert fresh.top_talkers() == [("10.0.0.5", 20)]
    assert muted == []


def test_the_window_forgets_old_datagrams() -> None:
    clock = FakeClock()
    watch, muted = pressure(Queue(EMPTY), clock)
    send(watch, ["10.0.0.9"], 512)
    assert watch.top_talkers() == [("10.0.0.9", 512)]
    send(watch, [f"10.4.{i // 250}.{i % 250}" for i in range(512)], 512)
    assert watch.top_talkers() == []
    assert muted == []


def test_several_top_talkers_are_muted_at_once() -> None:
    clock = FakeClock()
    watch, muted = pressure(Queue(), clock)
    send(watch, ["10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"], 64)
    assert muted == []  # 16 each: under the minimum of 20
    send(watch, ["10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"], 64)
    assert sorted(muted) == ["10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]


def test_a_known_peer_is_never_muted_on_volume(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    watch, muted = pressure(Queue(), clock, known=frozenset({"10.0.0.9"}))
    pattern = ["10.0.0.9"] * 10 + ["10.0.0.66"] * 10
    assert send(watch, pattern, 6_400) < 6_400
    assert muted == ["10.0.0.66"]
    assert watch.admit("10.0.0.9")
    spared = [r for r in caplog.records if "known peer" in r.getMessage()]
    assert len(spared) == 1  # said once, not at every check
    clock.advance(61)
    send(watch, ["10.0.0.9"], 64)
    assert len([r for r in caplog.records if "known peer" in r.getMessage()]) == 2


def test_a_mute_is_short_and_the_source_is_heard_again() -> None:
    clock = FakeClock()
    queue = Queue()
    watch, muted = pressure(queue, clock)
    send(watch, ["10.0.0.9"], 64)
    assert not watch.admit("10.0.0.9")
    clock.advance(0.99)
    assert not watch.admit("10.0.0.9")
    clock.advance(0.02)
    queue.reading = EMPTY
    assert watch.admit("10.0.0.9")
    assert watch.muted == []
    # still flooding under pressure: muted again (the kernel mute lengthens its own)
    queue.reading = FULL
    send(watch, ["10.0.0.9"], 64)
    assert muted == ["10.0.0.9", "10.0.0.9"] and watch.mutes == 2


def test_bad_sizes_are_refused() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError):
        UdpPressure(clock.monotonic, Queue(), window=0)
    with pytest.raises(ValueError):
        UdpPressure(clock.monotonic, Queue(), check_every=0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_MEMINFO is Linux")
def test_the_socket_reports_its_queue() -> None:
    """The reading the stack uses, on a real socket that nobody reads."""
    import asyncio

    from kilopbx.sip.transport_udp import UdpTransport

    class Sink:
        def allow_source(self, host: str) -> bool:
            return True

        def datagram_received(self, data: bytes, source: object) -> None:
            return None

    async def scenario() -> tuple[QueueReading | None, QueueReading | None]:
        udp = await UdpTransport.listen(Sink(), HOST, 0)  # type: ignore[arg-type]
        try:
            before = udp.receive_queue()
            sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for _ in range(50):
                sender.sendto(b"x" * 200, udp.local_address)
            sender.close()
            after = udp.receive_queue()  # the loop has not run: nothing was read
            return before, after
        finally:
            udp.close()

    before, after = asyncio.run(scenario())
    assert before is not None and after is not None
    assert before.queued == 0 and before.capacity > 0
    assert after.queued >= 50 * 200 and after.capacity == before.capacity
