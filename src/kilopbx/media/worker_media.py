"""The worker's media applications: players (and, later, recorders and mixes) on one clock.

`MediaApps` runs the worker's 20 ms media clock while anything needs it, and carries
out `play` and `stop`. One timer serves every player of the worker: each tick asks
every player for the frames due by now and sends them on the endpoint's socket,
through the endpoint's rewriter, so that the phone sees one continuous stream
whether it hears the far party, a prompt, or a digit. While a player runs on an
endpoint, the relayed audio toward it is held back (the endpoint's `playing` flag).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from . import control as c
from .endpoint import Endpoint
from .player import FRAME_SECONDS, Player
from .sources import SourceCache, SourceError

PLAYER_SOURCE = -2  # the rewriter's source key for played audio (DTMF uses -1)


class LegLike(Protocol):
    endpoint: Endpoint
    rtp: asyncio.DatagramTransport | None


class MediaApps:
    def __init__(
        self, legs: Mapping[str, LegLike], notify: Callable[[c.Notification], None]
    ) -> None:
        self._legs = legs
        self._notify = notify
        self.sources = SourceCache()
        self.players: dict[str, Player] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._next_tick = 0.0

    # ---- commands ------------------------------------------------------------------

    def play(self, command: c.Play) -> c.Answer:
        leg = self._legs[command.endpoint]
        rate = leg.endpoint.payloads.send_codec.sample_rate
        names = [command.source] if isinstance(command.source, str) else command.source
        try:
            items = [self.sources.load(name, rate) for name in names]
        except SourceError as exc:
            return c.failed(command.id, c.NOT_FOUND if exc.missing else c.BAD_REQUEST, str(exc))
        now = time.monotonic()
        self._end(command.endpoint, "replaced")
        player = Player(command.playback, items, rate, loop=command.loop, start=now)
        self.players[command.endpoint] = player
        leg.endpoint.playing = True
        self._run(now)
        seconds = sum(len(item) for item in items) / (2 * rate)
        return c.ok(command.id, playback=command.playback, seconds=round(seconds, 3))

    def stop(self, command: c.Stop) -> c.Answer:
        self._legs[command.endpoint]  # a KeyError answers not_found
        return c.ok(command.id, stopped=self._end(command.endpoint, "stopped"))

    def endpoint_deleted(self, endpoint_id: str) -> None:
        self._end(endpoint_id, "deleted")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.players.clear()

    def _end(self, endpoint_id: str, reason: str) -> bool:
        player = self.players.pop(endpoint_id, None)
        if player is None:
            return False
        leg = self._legs.get(endpoint_id)
        if leg is not None:
            leg.endpoint.playing = False
        self._notify(
            c.Notification(
                event="playback_ended",
                endpoint=endpoint_id,
                data={
                    "playback": player.playback,
                    "reason": reason,
                    "frames": player.frames_sent,
                    "skipped": player.frames_skipped,
                },
            )
        )
        return True

    # ---- the media clock -----------------------------------------------------------

    def _run(self, now: float) -> None:
        if self._handle is None:
            self._next_tick = now
            loop = asyncio.get_running_loop()
            self._handle = loop.call_at(loop.time(), self._tick)

    def _tick(self) -> None:
        self._handle = None
        now = time.monotonic()
        try:
            self.tick(now)
        finally:
            if self.players:
                self._next_tick += FRAME_SECONDS
                if self._next_tick < now - 5 * FRAME_SECONDS:
                    self._next_tick = now  # a long stall: the players catch up by themselves
                loop = asyncio.get_running_loop()
                self._handle = loop.call_at(self._loop_time(loop, now), self._tick)

    def _loop_time(self, loop: asyncio.AbstractEventLoop, now: float) -> float:
        # the loop's clock and time.monotonic() share an origin on Linux, but not by contract
        return loop.time() + max(0.0, self._next_tick - now)

    def tick(self, now: float) -> None:
        """Send every frame due by `now` and end the players that ran out."""
        for endpoint_id, player in list(self.players.items()):
            leg = self._legs.get(endpoint_id)
            if leg is None:
                self.players.pop(endpoint_id, None)
                continue
            endpoint = leg.endpoint
            payloads = endpoint.payloads
            for seq, ts, payload in player.due(now, payloads.send_codec):
                out = endpoint.local_packet(
                    payloads.send_pt, False, seq, ts, payload, now, source=PLAYER_SOURCE
                )
                if out is not None and leg.rtp is not None and not leg.rtp.is_closing():
                    leg.rtp.sendto(out[0], out[1])
            if player.finished and now >= player.next_due - FRAME_SECONDS / 2:
                self._end(endpoint_id, "finished")
