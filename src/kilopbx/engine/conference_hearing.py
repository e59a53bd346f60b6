"""Who hears whom in a call with more than two members, sans IO.

A call's *parties* talk with each other: everyone hears every other party (a
three-way call, or more). A *monitor* is a supervisor attached to one party, the
*agent*, in one of three modes (spec 70 §4 ``call/listen``):

- ``listen``: the monitor hears every party; nobody hears the monitor;
- ``whisper``: the monitor hears every party; only the agent hears the monitor;
- ``barge``: the monitor hears every party and every party hears the monitor.

Monitors also hear the barging monitors (they talk to everyone) but not each other
otherwise. ``hearing`` turns that into the ``members`` map of the media worker's
``mix`` command: for each member the list of members it hears.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LISTEN = "listen"
WHISPER = "whisper"
BARGE = "barge"
MODES = (LISTEN, WHISPER, BARGE)


@dataclass(frozen=True, slots=True)
class Monitoring:
    """A supervisor's place in a call: ``mode`` and the party (``agent``) watched."""

    mode: str
    agent: str


def hearing(parties: Sequence[str], monitors: Mapping[str, Monitoring]) -> dict[str, list[str]]:
    """For every party and monitor, the members it hears (never itself). A monitor
    whose agent is no party (it left) is heard by nobody and hears the parties."""
    for name, monitoring in monitors.items():
        if monitoring.mode not in MODES:
            raise ValueError(f"{name}: unknown monitor mode {monitoring.mode!r}")
        if name in parties:
            raise ValueError(f"{name} is a party and a monitor")
    barging = [m for m, watch in monitors.items() if watch.mode == BARGE]
    heard: dict[str, list[str]] = {}
    for party in parties:
        whisperers = [
            m for m, watch in monitors.items() if watch.mode == WHISPER and watch.agent == party
        ]
        others = [p for p in parties if p != party]
        heard[party] = [*others, *barging, *whisperers]
    for monitor in monitors:
        heard[monitor] = [*parties, *(m for m in barging if m != monitor)]
    return heard


def covers(permitted: str, mode: str) -> bool:
    """Whether an extension's monitor mode setting (``disabled``, ``extensive``,
    ``listen``, ``whisper``, ``barge-in``) allows ``mode``."""
    if permitted == "extensive":
        return mode in MODES
    return {"listen": LISTEN, "whisper": WHISPER, "barge-in": BARGE}.get(permitted) == mode
