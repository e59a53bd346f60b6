"""A peer trunk's worker: OPTIONS keep-alive ("qualify") every `qualify_seconds`.

`ProbeState` (sans IO) turns answers into the trunk's state: `Unknown` before the
first probe, `Registered` while probes are answered (any final response: the peer is
there), `Failure` when one goes unanswered (its retransmissions included). With
`qualify_seconds` 0 there are no probes and the state stays `Unknown`. Either way the
host is resolved again from time to time, so `identify` knows its addresses.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable

from kilopbx.apps.trunks.line_config import TrunkConfig
from kilopbx.apps.trunks.register_client import (
    Resolve,
    SipSender,
    send_with_timeout,
    unanswered,
    uri_host,
)
from kilopbx.apps.trunks.runtime_config import TrunkRuntimeConfig
from kilopbx.engine.trunking import TrunkTarget
from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest
from kilopbx.tasks import cancel_and_wait

log = logging.getLogger(__name__)

UNKNOWN = "Unknown"
UP = "Registered"
DOWN = "Failure"
RESOLVE_EVERY = 300.0  # seconds between resolutions when nothing is probed


class ProbeState:
    def __init__(self, interval: float, now: float) -> None:
        self.interval = interval
        self.status = UNKNOWN
        self.next_at = now  # the first probe at once
        self.misses = 0

    def result(self, answered: bool, now: float) -> bool:
        """Record a probe's outcome; True when the state changed."""
        before = self.status
        self.status = UP if answered else DOWN
        self.misses = 0 if answered else self.misses + 1
        self.next_at = now + self.interval
        return self.status != before


class PeerProbe:
    """A `LineWorker` for one peer trunk."""

    def __init__(
        self,
        config: TrunkConfig,
        sip: SipSender,
        resolve: Resolve,
        settings: TrunkRuntimeConfig,
        clock: Callable[[], float],
        on_addresses: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        self._on_addresses = on_addresses
        self._sip = sip
        self._resolve = resolve
        self._settings = settings
        self._clock = clock
        interval = float(config.qualify_seconds)
        self.state = ProbeState(interval, clock()) if interval > 0 else None
        self._addresses: frozenset[tuple[str, int]] = frozenset()
        self._task: asyncio.Task[None] | None = None
        self._answered: TrunkTarget | None = None
        self.probes = 0

    @property
    def status(self) -> str:
        return UNKNOWN if self.state is None else self.state.status

    @property
    def addresses(self) -> frozenset[tuple[str, int]]:
        return self._addresses

    @property
    def preferred(self) -> TrunkTarget | None:
        return self._answered

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, *, farewell: bool) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            try:
                targets = await self._resolve(self.config)
                addresses = frozenset((t.host, t.port) for t in targets)
                if addresses != self._addresses:
                    self._addresses = addresses
                    self._on_addresses()
                if self.state is None:
                    await asyncio.sleep(RESOLVE_EVERY)
                    continue
                await self._sip.wait_started()
                delay = self.state.next_at - self._clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self._probe(targets)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("trunk %s: keep-alive failed", self.config.name)
                await asyncio.sleep(self._settings.retry_min)

    async def _probe(self, targets: list[TrunkTarget]) -> None:
        assert self.state is not None
        answered = False
        for target in targets:
            self.probes += 1
            response = await send_with_timeout(
                self._sip, self.options_for(target), target, self._settings.request_timeout
            )
            if not self._sip.started:
                return  # shutting down: the stack's 503s say nothing about the peer
            if not unanswered(response):
                answered = True
                self._answered = target
                break
        if self.state.result(answered, self._clock()):
            word = "answers" if answered else "does not answer"
            log.info("trunk %s %s OPTIONS", self.config.name, word)

    def options_for(self, target: TrunkTarget) -> SipRequest:
        local = "kilopbx.invalid"
        headers = Headers(
            [
                ("From", f"<sip:kilopbx@{local}>;tag={secrets.token_hex(6)}"),
                ("To", f"<sip:{uri_host(self.config.sip_domain)}>"),
                ("Call-ID", f"{secrets.token_hex(12)}@kilopbx"),
                ("CSeq", "1 OPTIONS"),
                ("Accept", "application/sdp"),
            ]
        )
        return SipRequest("OPTIONS", f"sip:{uri_host(target.host)}:{target.port}", headers)
