"""The RTP port plan: each worker owns a slice of the range, ports handed out at random.

RTP takes even ports and RTCP the odd port above (RFC 3550 §11), so a slice is a set
of even ports whose +1 is also inside the range. Ports are drawn at random rather
than in order: a predictable next port is what an attacker needs to race a phone
for a fresh endpoint's stream.
"""

from __future__ import annotations

import random

from ..config import PortRange


def split_range(ports: PortRange, count: int) -> list[PortRange]:
    """`count` disjoint slices of the range, each starting on an even port."""
    low = ports.low + (ports.low % 2)
    pairs = (ports.high - low + 1) // 2
    if count < 1 or pairs < count:
        raise ValueError(f"RTP port range {ports} has {pairs} port pairs for {count} workers")
    slices = []
    for index in range(count):
        first = low + 2 * (pairs * index // count)
        last = low + 2 * (pairs * (index + 1) // count) - 1
        slices.append(PortRange(first, last))
    return slices


class PortAllocator:
    def __init__(self, ports: PortRange, rng: random.Random) -> None:
        low = ports.low + (ports.low % 2)
        self._free = list(range(low, ports.high, 2))  # RTP port p, RTCP p + 1 <= high
        self._rng = rng

    @property
    def available(self) -> int:
        return len(self._free)

    def take(self) -> int | None:
        if not self._free:
            return None
        index = self._rng.randrange(len(self._free))
        self._free[index], self._free[-1] = self._free[-1], self._free[index]
        return self._free.pop()

    def give_back(self, port: int) -> None:
        self._free.append(port)
