"""Transaction timer names and durations (RFC 3261 §17, table 4; RFC 6026 timers L and M).

The state machines never sleep: they ask their driver to start a named timer at an
absolute time on whatever clock the driver feeds them, and the driver calls
``timer_fired(name, now)`` back when it expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class TimerName(StrEnum):
    A = "A"  # INVITE client: request retransmission
    B = "B"  # INVITE client: give up waiting for any response
    D = "D"  # INVITE client: absorb final-response retransmissions
    E = "E"  # non-INVITE client: request retransmission
    F = "F"  # non-INVITE client: give up waiting for a final response
    K = "K"  # non-INVITE client: absorb response retransmissions
    G = "G"  # INVITE server: final non-2xx response retransmission
    H = "H"  # INVITE server: give up waiting for the ACK of a non-2xx
    I = "I"  # noqa: E741  INVITE server: absorb ACK retransmissions
    J = "J"  # non-INVITE server: absorb request retransmissions
    L = "L"  # INVITE server (RFC 6026): absorb INVITE retransmissions after a 2xx
    M = "M"  # INVITE client (RFC 6026): accept 2xx retransmissions from other forks
    TRYING = "Trying"  # server: send 100 Trying if the TU has not answered yet
    RETRANSMIT_2XX = "2xx"  # INVITE server: UAS core 2xx retransmission (§13.3.1.4)
    NO_ANSWER = "no answer"  # INVITE server: the user never sent a final response
    RINGING = "1xx"  # INVITE server: repeat the last provisional response (§13.3.1.1)
    C = "C"  # INVITE client of a B2BUA (§16.6 step 11): ringing too long since the last 1xx


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """Protocol timer values in seconds. Defaults are those recommended by RFC 3261."""

    t1: float = 0.5  # round-trip time estimate
    t2: float = 4.0  # longest retransmission interval for non-INVITE requests and responses
    t4: float = 5.0  # longest time a message stays in the network
    # INVITE servers answer 100 Trying at once by default (0); a positive delay sends it
    # only if the transaction user has not sent a provisional response by then (§17.2.1).
    invite_trying_delay: float = 0.0
    # RFC 4320 §4.1: over UDP a non-INVITE 100 must not come before Timer E reaches T2;
    # None disables the automatic 100 for non-INVITE requests.
    non_invite_trying_delay: float | None = None
    # An INVITE the transaction user has not answered by then gets a 408, so a lost or
    # buggy user cannot keep the caller ringing (and the transaction alive) forever.
    # Longer than the call engine's own Timer C (3 minutes after a provisional).
    invite_answer_limit: float = 300.0
    # §13.3.1.1: a UAS still ringing repeats its provisional response every minute, so
    # that proxies' Timer C (3 minutes) does not cancel the INVITE. None: never.
    provisional_refresh: float | None = 60.0

    @property
    def timeout(self) -> float:
        """64*T1: timers B, F, H, J, L, M."""
        return 64 * self.t1


DEFAULT_TIMERS: Final = TimerConfig()
