"""One outgoing RTP stream under our own SSRC, continuous whatever feeds it.

A phone plays a stream by its SSRC, sequence numbers and timestamps. When the far
leg changes source (a re-INVITE, a transfer, a prompt we play in between) a naive
relay would hand the phone a new SSRC or a jump in sequence numbers, and many
phones answer that with a click, a burst of "loss" or a jitter-buffer reset. So the
relay sends every stream as its own source: one random SSRC per outgoing stream,
sequence numbers that only ever go up by one, timestamps that advance by the real
time elapsed, and the marker bit on the first packet after any change of source
(RFC 3551 §4.1: the marker starts a talk spurt, which is what a source change is to
the phone's jitter buffer).
"""

from __future__ import annotations

import random

from .rtp import SEQ_MOD, TS_MOD

# A jump larger than this in the incoming sequence is a new source, not loss (RFC 3550 A.1).
MAX_DROPOUT = 3000
MAX_MISORDER = 100
LOCAL_SOURCE = -1  # the source key of packets the worker makes itself (DTMF, prompts)


class StreamRewriter:
    __slots__ = (
        "_last_in_seq",
        "_last_time",
        "_seq_offset",
        "_source",
        "_ts_offset",
        "clock_rate",
        "last_seq",
        "last_ts",
        "octets",
        "packets",
        "ssrc",
    )

    def __init__(self, rng: random.Random, clock_rate: int = 8000) -> None:
        self.ssrc = rng.getrandbits(32)
        self.clock_rate = clock_rate
        # RFC 3550 §5.1: random initial sequence number and timestamp.
        self.last_seq = rng.getrandbits(16)
        self.last_ts = rng.getrandbits(32)
        self._last_time: float | None = None
        self._source: int | None = None
        self._last_in_seq = 0
        self._seq_offset = 0
        self._ts_offset = 0
        self.packets = 0
        self.octets = 0

    def rewrite(
        self, source: int, seq: int, timestamp: int, marker: bool, now: float, size: int
    ) -> tuple[int, int, bool]:
        """Map an incoming (source, seq, timestamp, marker) to what we send."""
        if source != self._source or self._jumped(seq):
            self._rebase(source, seq, timestamp, now)
            marker = True
        out_seq = (seq + self._seq_offset) % SEQ_MOD
        out_ts = (timestamp + self._ts_offset) % TS_MOD
        delta = (seq - self._last_in_seq) & 0xFFFF
        if delta and delta < 0x8000:
            self._last_in_seq = seq
            self.last_seq = out_seq
            self.last_ts = out_ts
            self._last_time = now
        self.packets += 1
        self.octets += size
        return out_seq, out_ts, marker

    def _jumped(self, seq: int) -> bool:
        delta = (seq - self._last_in_seq) & 0xFFFF
        if delta < 0x8000:
            return delta > MAX_DROPOUT
        return SEQ_MOD - delta > MAX_MISORDER

    def _rebase(self, source: int, seq: int, timestamp: int, now: float) -> None:
        next_seq = (self.last_seq + 1) % SEQ_MOD
        if self._last_time is None:
            next_ts = self.last_ts
        else:
            # advance by the time that really passed, so the phone's playout stays in step
            elapsed = max(now - self._last_time, 0.0)
            next_ts = (self.last_ts + max(1, round(elapsed * self.clock_rate))) % TS_MOD
        self._source = source
        self._seq_offset = (next_seq - seq) % SEQ_MOD
        self._ts_offset = (next_ts - timestamp) % TS_MOD
        # make the first packet of the new source count as "newer"
        self._last_in_seq = (seq - 1) % SEQ_MOD

    def current_timestamp(self, now: float) -> int:
        """The timestamp a packet we make ourselves at `now` should carry."""
        if self._last_time is None:
            return self.last_ts
        elapsed = max(now - self._last_time, 0.0)
        return (self.last_ts + round(elapsed * self.clock_rate)) % TS_MOD
