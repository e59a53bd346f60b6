from __future__ import annotations

from kilopbx.media.latch import Latch

PHONE = ("192.0.2.10", 4000)
NAT = ("198.51.100.7", 61000)
ATTACKER = ("203.0.113.66", 5004)


def test_signalled_address_latches_at_once() -> None:
    latch = Latch(PHONE)
    assert latch.send_address == PHONE
    assert latch.accept(PHONE, 1, 1, 0.0)
    assert latch.address == PHONE


def test_nat_source_latches_after_three_steady_packets() -> None:
    latch = Latch(PHONE)
    assert not latch.accept(NAT, 9, 100, 0.0)
    assert not latch.accept(NAT, 9, 101, 0.02)
    assert latch.accept(NAT, 9, 102, 0.04)
    assert latch.send_address == NAT


def test_one_stray_packet_never_steals_and_interleaving_does_not_help() -> None:
    latch = Latch(None)
    for i in range(3):
        latch.accept(NAT, 9, 100 + i, 0.02 * i)
    assert latch.address == NAT
    for i in range(50):  # a steady attacker while the phone keeps talking
        assert not latch.accept(ATTACKER, 5, i, 0.1 + 0.02 * i)
        assert latch.accept(NAT, 9, 103 + i, 0.1 + 0.02 * i)
    assert latch.address == NAT


def test_inconsistent_candidate_never_latches() -> None:
    latch = Latch(None)
    for i in range(20):  # random SSRCs / sequence numbers: a spray, not a stream
        assert not latch.accept(ATTACKER, i, i * 1000, 0.01 * i)
    assert latch.address is None


def test_relatch_only_after_silence_and_signalled_wins_back() -> None:
    latch = Latch(PHONE, relatch_after=2.0)
    for i in range(3):
        latch.accept(NAT, 9, i, 0.0)
    assert latch.address == NAT
    for i in range(3):
        latch.accept(ATTACKER, 5, i, 1.0)
    assert latch.address == NAT
    for i in range(3):
        latch.accept(ATTACKER, 5, 10 + i, 2.5)
    assert latch.address == ATTACKER  # NAT silent for 2.5 s: a roaming phone may move
    assert latch.accept(PHONE, 1, 1, 2.6)
    assert latch.address == PHONE


def test_candidate_table_is_bounded() -> None:
    latch = Latch(None, max_candidates=4)
    for i in range(1000):
        latch.accept((f"10.0.{i // 250}.{i % 250}", 1000), 1, 1, 0.0)
    assert len(latch._candidates) == 4


def test_reset_forgets_the_latched_source() -> None:
    latch = Latch(PHONE)
    latch.accept(PHONE, 1, 1, 0.0)
    latch.reset(NAT)
    assert latch.address is None and latch.send_address == NAT
