from __future__ import annotations

from kilopbx.media.stats import ReceiveStats


def _feed(stats: ReceiveStats, seqs: list[int], ssrc: int = 1, jitter_ms: float = 0.0) -> None:
    for i, seq in enumerate(seqs):
        wobble = jitter_ms * 8 * (i % 2)
        stats.update(ssrc, seq, seq * 160, seq * 160 + 1000 + wobble, 160)


def test_loss_counts_the_gaps() -> None:
    stats = ReceiveStats()
    _feed(stats, [1, 2, 3, 5, 6, 9, 10])
    assert stats.expected == 10 and stats.received == 7 and stats.lost == 3
    block = stats.report_block(0, 0)
    assert block is not None
    assert block.cumulative_lost == 3 and block.highest_sequence == 10
    assert block.fraction_lost == (3 << 8) // 10
    _feed(stats, [11, 12])
    second = stats.report_block(0, 0)
    assert second is not None and second.fraction_lost == 0


def test_wrap_counts_a_cycle() -> None:
    stats = ReceiveStats()
    _feed(stats, [65534, 65535, 0, 1])
    assert stats.cycles == 65536 and stats.extended_max == 65537 and stats.lost == 0


def test_jitter_follows_transit_variation() -> None:
    steady = ReceiveStats()
    _feed(steady, list(range(1, 200)))
    assert steady.jitter == 0
    wobbly = ReceiveStats()
    _feed(wobbly, list(range(1, 200)), jitter_ms=4)
    assert 28 < wobbly.jitter <= 32  # converges to the 4 ms (32 ticks) alternation


def test_duplicates_do_not_look_like_loss_and_a_single_jump_is_ignored() -> None:
    stats = ReceiveStats()
    _feed(stats, [1, 2, 2, 3])
    assert stats.lost == -1  # RFC 3550 counts duplicates as received: loss may go negative
    assert not stats.update(1, 40000, 0, 0.0, 160)
    assert stats.max_seq == 3
    assert stats.update(1, 40001, 0, 0.0, 160)  # confirmed by the next one: a new base
    assert stats.max_seq == 40001


def test_new_ssrc_keeps_the_totals() -> None:
    stats = ReceiveStats()
    _feed(stats, [1, 2, 4])
    _feed(stats, [100, 101], ssrc=2)
    assert stats.total_received == 5 and stats.total_lost == 1
    assert stats.report_block(0, 0) is not None


def test_no_block_before_any_packet() -> None:
    assert ReceiveStats().report_block(0, 0) is None
