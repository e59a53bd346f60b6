from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from kilopbx.media.rewriter import LOCAL_SOURCE, StreamRewriter


def _rewriter() -> StreamRewriter:
    return StreamRewriter(random.Random(7))


def test_first_packet_gets_marker_and_our_random_start() -> None:
    rw = _rewriter()
    start_seq, start_ts = rw.last_seq, rw.last_ts
    seq, ts, marker = rw.rewrite(0xAAAA, 1000, 5000, False, 10.0, 160)
    assert marker
    assert seq == (start_seq + 1) % 65536
    assert ts == start_ts
    seq2, ts2, marker2 = rw.rewrite(0xAAAA, 1001, 5160, False, 10.02, 160)
    assert (seq2, ts2, marker2) == ((seq + 1) % 65536, (ts + 160) % 2**32, False)


def test_source_change_keeps_sequence_and_time_continuous() -> None:
    rw = _rewriter()
    out = [
        rw.rewrite(0xAAAA, 100 + i, 8000 + 160 * i, False, 1.0 + 0.02 * i, 160) for i in range(5)
    ]
    # a re-INVITE: another phone, another SSRC, sequence and timestamp base, 60 ms later
    seq, ts, marker = rw.rewrite(0xBBBB, 40000, 123, False, 1.0 + 0.02 * 4 + 0.06, 160)
    assert marker
    assert seq == (out[-1][0] + 1) % 65536
    assert ts == (out[-1][1] + 480) % 2**32
    assert rw.ssrc == _rewriter().ssrc  # one SSRC for the whole outgoing stream


def test_sequence_jump_in_one_source_is_a_rebase() -> None:
    rw = _rewriter()
    first = rw.rewrite(1, 10, 0, False, 0.0, 160)
    seq, _, marker = rw.rewrite(1, 30000, 160, False, 0.02, 160)
    assert marker and seq == (first[0] + 1) % 65536


def test_reordered_packet_keeps_its_place_without_moving_the_stream() -> None:
    rw = _rewriter()
    a = rw.rewrite(1, 10, 0, False, 0.0, 160)
    c = rw.rewrite(1, 12, 320, False, 0.04, 160)
    b = rw.rewrite(1, 11, 160, False, 0.05, 160)
    assert b[0] == (a[0] + 1) % 65536 and not b[2]
    assert rw.last_seq == c[0]


def test_wrapping_input_sequence_is_continuous() -> None:
    rw = _rewriter()
    outs = [rw.rewrite(1, (65534 + i) % 65536, i * 160, False, i * 0.02, 160)[0] for i in range(4)]
    assert [(o - outs[0]) % 65536 for o in outs] == [0, 1, 2, 3]


def test_local_packets_are_a_source_of_their_own() -> None:
    rw = _rewriter()
    relayed = rw.rewrite(5, 1, 0, False, 0.0, 160)
    local = rw.rewrite(LOCAL_SOURCE, 0, 0, True, 0.1, 4)
    assert local[2] and local[0] == (relayed[0] + 1) % 65536
    assert local[1] == (relayed[1] + 800) % 2**32
    assert rw.current_timestamp(0.2) == (local[1] + 800) % 2**32


@settings(deadline=None)  # CPU time on a shared machine is not the test's subject
@given(
    st.lists(
        st.tuples(
            st.integers(1, 30),  # packets in the run
            st.integers(0, 65535),  # the source's sequence number base
            st.integers(0, 2**32 - 1),  # the source's timestamp base
            st.floats(0.0, 5.0),  # silence before the run, seconds
        ),
        min_size=1,
        max_size=12,
    )
)
def test_any_mix_of_sources_gives_one_continuous_stream(
    runs: list[tuple[int, int, int, float]],
) -> None:
    rw = _rewriter()
    now = 0.0
    outputs: list[tuple[int, int, bool]] = []
    for source, (count, seq_base, ts_base, silence) in enumerate(runs):  # each run a new SSRC
        now += silence
        for i in range(count):
            outputs.append(
                rw.rewrite(
                    source, (seq_base + i) % 65536, (ts_base + 160 * i) % 2**32, False, now, 160
                )
            )
            now += 0.02
    seqs = [seq for seq, _, _ in outputs]
    assert [(s - seqs[0]) % 65536 for s in seqs] == list(range(len(seqs)))
    for (_, ts_a, _), (_, ts_b, marker) in itertools.pairwise(outputs):
        step = (ts_b - ts_a) % 2**32
        assert step == 160 or (marker and 0 < step <= 8000 * 5.1 + 160)
