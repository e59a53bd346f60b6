"""Symmetric RTP latching (RFC 4961 practice) that one stray packet cannot steal.

A phone behind NAT announces a private address in its SDP; its packets arrive from
the NAT's public address. The relay therefore learns ("latches") where the peer
really sends from and sends back there. That is also the classic hole: whoever
gets packets to an open RTP port first could take the stream ("RTP bleed"). The
rules here, in order:

1. A packet from exactly the signalled address latches at once: that address came
   through authenticated signalling.
2. Otherwise a source latches only after `needed` consecutive valid packets from the
   same address with one SSRC and sequence numbers going up by one or two. A single
   spoofed or stray datagram never moves the stream.
3. Once latched, packets from anywhere else are dropped and counted, except that the
   signalled address always wins back the stream (rule 1 again), and a new steady
   source may take over only after the latched one has been silent for
   `relatch_after` seconds (a phone that roamed or whose NAT binding changed).
4. Candidates are tracked in a small bounded table, so a flood from many addresses
   costs us a fixed amount of memory.

`reset()` is called on a re-INVITE: the peer may really have moved.
"""

from __future__ import annotations

Address = tuple[str, int]


class Latch:
    __slots__ = (
        "_candidates",
        "address",
        "last_seen",
        "max_candidates",
        "needed",
        "relatch_after",
        "signalled",
    )

    def __init__(
        self,
        signalled: Address | None,
        *,
        needed: int = 3,
        relatch_after: float = 2.0,
        max_candidates: int = 8,
    ) -> None:
        self.signalled = signalled
        self.needed = needed
        self.relatch_after = relatch_after
        self.max_candidates = max_candidates
        self.address: Address | None = None
        self.last_seen = 0.0
        # address -> (ssrc, last sequence number, consecutive count)
        self._candidates: dict[Address, tuple[int, int, int]] = {}

    def reset(self, signalled: Address | None) -> None:
        self.signalled = signalled
        self.address = None
        self._candidates.clear()

    @property
    def send_address(self) -> Address | None:
        """Where we send: the latched source, else what the signalling said."""
        return self.address or self.signalled

    def accept(self, source: Address, ssrc: int, seq: int, now: float) -> bool:
        """Decide whether a valid packet from `source` belongs to this leg's stream."""
        if source == self.address:
            self.last_seen = now
            return True
        if source == self.signalled:
            self._latch(source, now)
            return True
        if self.address is not None and now - self.last_seen < self.relatch_after:
            return False
        previous = self._candidates.get(source)
        if (
            previous is not None
            and previous[0] == ssrc
            and 1 <= ((seq - previous[1]) & 0xFFFF) <= 2
        ):
            count = previous[2] + 1
        else:
            count = 1
        if count >= self.needed:
            self._latch(source, now)
            return True
        if previous is None and len(self._candidates) >= self.max_candidates:
            # forget the oldest candidate: a flood of addresses gets no more memory
            self._candidates.pop(next(iter(self._candidates)))
        self._candidates[source] = (ssrc, seq, count)
        return False

    def _latch(self, source: Address, now: float) -> None:
        self.address = source
        self.last_seen = now
        self._candidates.clear()
