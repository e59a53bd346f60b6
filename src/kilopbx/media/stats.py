"""Receive statistics for one leg, as RFC 3550 Appendix A computes them.

A.1 tracks the extended highest sequence number (wraps counted in `cycles`) and
resets on a large jump, A.3 turns that into cumulative and interval loss, A.8 keeps
the interarrival jitter in timestamp units. The state is per source: when the
peer's SSRC changes (a re-INVITE to another phone, a transfer) the counters of the
old source are folded into the leg's totals and a fresh source starts.
"""

from __future__ import annotations

from .rtcp import ReportBlock

MAX_DROPOUT = 3000
MAX_MISORDER = 100
SEQ_MOD = 1 << 16


class ReceiveStats:
    __slots__ = (
        "_bad_seq",
        "_expected_prior",
        "_last_transit",
        "_received_prior",
        "_retired_expected",
        "_retired_received",
        "base_seq",
        "cycles",
        "jitter",
        "max_seq",
        "octets",
        "received",
        "ssrc",
    )

    def __init__(self) -> None:
        self.ssrc: int | None = None
        self._retired_expected = 0
        self._retired_received = 0
        self.octets = 0
        self._reset(0)

    def _reset(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self._bad_seq = SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self._received_prior = 0
        self._expected_prior = 0
        self._last_transit: float | None = None
        self.jitter = 0.0

    def update(self, ssrc: int, seq: int, timestamp: int, arrival: float | None, size: int) -> bool:
        """Count one packet; `arrival` is in timestamp units, None when the packet's timestamp
        says nothing about timing (RFC 4733 events keep the event's start). False for a
        packet A.1 rejects."""
        if ssrc != self.ssrc:
            if self.ssrc is not None:
                self._retired_expected += self.expected
                self._retired_received += self.received
            self.ssrc = ssrc
            self._reset(seq)
        else:
            udelta = (seq - self.max_seq) & 0xFFFF
            if udelta < MAX_DROPOUT:
                if seq < self.max_seq:
                    self.cycles += SEQ_MOD
                self.max_seq = seq
            elif udelta <= SEQ_MOD - MAX_MISORDER:
                # A jump: take it only when the next packet confirms it (A.1), else ignore.
                if seq != self._bad_seq:
                    self._bad_seq = (seq + 1) & 0xFFFF
                    return False
                self._reset(seq)
            # otherwise a duplicate or reordered packet: counted, max_seq unchanged
        self.received += 1
        self.octets += size
        if arrival is None:
            return True
        transit = arrival - timestamp
        if self._last_transit is not None:
            delta = abs(transit - self._last_transit)
            # a jump of the sender's timestamp base is not network jitter
            if delta < 8000 * 10:
                self.jitter += (delta - self.jitter) / 16.0
        self._last_transit = transit
        return True

    def new_talkspurt(self) -> None:
        """Forget the last transit time: the sender's timestamps jumped on purpose."""
        self._last_transit = None

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return 0 if self.ssrc is None else self.extended_max - self.base_seq + 1

    @property
    def lost(self) -> int:
        return self.expected - self.received

    @property
    def total_received(self) -> int:
        return self._retired_received + self.received

    @property
    def total_lost(self) -> int:
        return max(0, self._retired_expected + self.expected - self.total_received)

    def report_block(self, last_sr: int, delay_since_last_sr: int) -> ReportBlock | None:
        """A.3: the block for our next SR/RR, and start a new interval."""
        if self.ssrc is None:
            return None
        expected_interval = self.expected - self._expected_prior
        received_interval = self.received - self._received_prior
        self._expected_prior = self.expected
        self._received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        cumulative = max(-0x800000, min(0x7FFFFF, self.lost))
        return ReportBlock(
            self.ssrc,
            fraction,
            cumulative,
            self.extended_max,
            int(self.jitter),
            last_sr,
            delay_since_last_sr,
        )
