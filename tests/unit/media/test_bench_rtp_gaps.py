"""The IVR benchmark's gap counter (`bench/rtp_gaps.py`): what counts as a gap in
the audio a caller receives, and what is only the pause between two prompts."""

from __future__ import annotations

from bench.rtp_gaps import StreamGaps


def stream(packets: list[tuple[int, int, bool, float]]) -> StreamGaps:
    gaps = StreamGaps()
    for seq, ts, marker, arrival in packets:
        gaps.packet(seq, ts, marker, arrival)
    return gaps.finish()


def steady(count: int, *, seq: int = 100, ts: int = 1000, at: float = 0.0) -> list:
    return [(seq + n, ts + 160 * n, n == 0, at + 0.02 * n) for n in range(count)]


def test_a_steady_stream_and_jitter_under_60_ms_have_no_gaps() -> None:
    packets = steady(50)
    packets[10] = (110, 1000 + 1600, False, 0.2 + 0.05)  # 50 ms late, still in time
    gaps = stream(packets)
    assert (gaps.received, gaps.events, gaps.late, gaps.missing) == (50, 0, 0, 0)
    assert abs(gaps.worst_lateness - 0.05) < 1e-9


def test_missing_sequence_numbers_are_one_gap_event() -> None:
    packets = [p for p in steady(50) if not 20 <= p[0] - 100 < 23]
    gaps = stream(packets)
    assert (gaps.missing, gaps.events, gaps.silences) == (3, 1, 0)


def test_a_silence_over_60_ms_and_the_late_packets_after_it() -> None:
    packets = steady(50)
    stalled = [(s, t, m, a + 0.1 if s >= 130 else a) for s, t, m, a in packets]
    gaps = stream(stalled)
    assert (gaps.silences, gaps.events, gaps.missing) == (1, 1, 0)
    assert gaps.late == 20  # every packet after the stall is 100 ms behind its place
    assert abs(gaps.longest_silence - 0.1) < 1e-9  # 120 ms apart: 100 ms with nothing


def test_the_pause_between_two_prompts_is_no_gap() -> None:
    first = steady(50)
    # the next prompt: marked, sequence numbers go on, the timestamp jumps a second
    second = steady(50, seq=150, ts=1000 + 160 * 50 + 8000, at=2.0)
    assert stream(first + second).events == 0
    unmarked = [(s, t, False, a) for s, t, _m, a in second]  # a pause without a marker
    gaps = stream(first + unmarked)
    assert (gaps.events, gaps.late, gaps.spurts) == (0, 0, 2)


def test_duplicates_and_old_packets_are_ignored() -> None:
    packets = steady(20)
    packets.insert(10, packets[9])
    packets.insert(15, packets[3])
    gaps = stream(packets)
    assert (gaps.received, gaps.events) == (20, 0)
