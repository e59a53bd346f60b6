"""Muting a flooding UDP source in the kernel: the BPF program on a real socket, and the
mute's timing (backoff, expiry, limits) with a fake clock."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable

import pytest

from kilopbx.clock import FakeClock
from kilopbx.sip.source_limits import UdpSourceLimiter
from kilopbx.sip.udp_mute import MAX_MUTED, Instruction, KernelMute, drop_sources_program
from tests.harness import HOST

SO_ATTACH_FILTER = 26


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux socket filters")
def test_program_drops_the_muted_sources_in_the_kernel() -> None:
    import ctypes
    import struct

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind((HOST, 0))
    receiver.settimeout(0.5)
    program = drop_sources_program(["127.0.0.3", "127.0.0.9"])
    raw = b"".join(struct.pack("HBBI", *i) for i in program)
    code = ctypes.create_string_buffer(raw, len(raw))
    receiver.setsockopt(
        socket.SOL_SOCKET, SO_ATTACH_FILTER, struct.pack("HL", len(program), ctypes.addressof(code))
    )
    senders = []
    try:
        for source in ("127.0.0.3", "127.0.0.2", "127.0.0.9", "127.0.0.4"):
            sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sender.bind((source, 0))
            sender.sendto(source.encode(), receiver.getsockname())
            senders.append(sender)
        heard = {receiver.recv(64), receiver.recv(64)}
        receiver.settimeout(0.1)
        with pytest.raises(TimeoutError):
            receiver.recv(64)
    finally:
        for sock in [receiver, *senders]:
            sock.close()
    assert heard == {b"127.0.0.2", b"127.0.0.4"}


class Timers:
    def __init__(self) -> None:
        self.pending: list[tuple[float, Callable[[], None]]] = []

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timers:
        self.pending.append((delay, callback))
        return self

    def cancel(self) -> None:
        self.pending.clear()

    def fire(self) -> None:
        _, callback = self.pending.pop()
        callback()


def muted(program: list[Instruction]) -> int:
    return len(program) - 3


def test_mute_backs_off_while_the_flood_goes_on_and_forgets_a_quiet_source() -> None:
    clock, timers = FakeClock(), Timers()
    programs: list[list[Instruction]] = []
    mute = KernelMute(lambda p: programs.append(p) or True, clock.monotonic, timers.call_later)
    limiter = UdpSourceLimiter(clock.monotonic, messages_per_second=10, cpu_share=0)
    limiter.on_volume_drop = mute.mute
    for _ in range(12):
        limiter.admit("10.0.0.1")
    assert mute.muted == ["10.0.0.1"] and timers.pending[0][0] == 1.0
    assert muted(programs[-1]) == 1
    clock.advance(1.0)
    timers.fire()
    assert mute.muted == [] and muted(programs[-1]) == 0
    # heard again: muted again, for longer, once over the limit again
    assert all(limiter.admit("10.0.0.1") for _ in range(10))
    assert mute.muted == []
    assert not limiter.admit("10.0.0.1")
    assert mute.muted == ["10.0.0.1"] and timers.pending[0][0] == 2.0
    clock.advance(2.0)
    timers.fire()
    clock.advance(61.0)  # quiet for a minute: the next mute starts over at 1 s
    for _ in range(12):
        limiter.admit("10.0.0.1")
    assert timers.pending[0][0] == 1.0
    assert mute.mutes == 3


def test_a_forged_burst_does_not_keep_its_victim_muted() -> None:
    clock, timers = FakeClock(), Timers()
    mute = KernelMute(lambda p: True, clock.monotonic, timers.call_later)
    limiter = UdpSourceLimiter(clock.monotonic, messages_per_second=10, cpu_share=0)
    limiter.on_volume_drop = mute.mute
    for _ in range(12):
        limiter.admit("10.0.0.1")
    clock.advance(1.0)
    timers.fire()
    # the real phone retransmits now and then: heard at once, never muted again
    for _ in range(8):
        clock.advance(0.5)
        assert limiter.admit("10.0.0.1")
    assert mute.muted == [] and mute.mutes == 1


def test_mute_is_bounded_ipv4_only_and_gives_up_where_filters_fail() -> None:
    clock, timers = FakeClock(), Timers()
    mute = KernelMute(lambda p: True, clock.monotonic, timers.call_later)
    for n in range(MAX_MUTED + 5):
        mute.mute(f"10.0.{n // 250}.{n % 250}")
    mute.mute("2001:db8::1")
    assert len(mute.muted) == MAX_MUTED
    broken = KernelMute(lambda p: False, clock.monotonic, timers.call_later)
    broken.mute("10.0.0.1")
    assert not broken.enabled and broken.muted == []


def test_program_refuses_too_many_addresses() -> None:
    with pytest.raises(ValueError):
        drop_sources_program([f"10.0.{n // 250}.{n % 250}" for n in range(251)])


def test_a_known_peer_is_never_muted_on_volume() -> None:
    clock, timers = FakeClock(), Timers()
    mute = KernelMute(
        lambda p: True, clock.monotonic, timers.call_later, protected=lambda h: h == "10.0.0.7"
    )
    mute.mute("10.0.0.7")  # a registered phone's or a trunk's address: maybe forged
    mute.mute("10.0.0.8")
    assert mute.muted == ["10.0.0.8"] and mute.mutes == 1
