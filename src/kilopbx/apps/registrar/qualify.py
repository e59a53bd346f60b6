"""OPTIONS keep-alive ("qualify") of registered contacts.

Every ``interval`` seconds each binding gets an OPTIONS along its recorded path
(source transport/host/port of its REGISTER, so NAT pinholes stay open). Any answer
means reachable; no answer (the client transaction's 408) or a transport failure
(503) marks the contact unreachable, which the core folds into the extension's
status. Probes are started from a once-a-second tick, so they spread out the way
the registrations did, and at most ``max_in_flight`` run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable

from kilopbx.apps.registrar.core import Binding, RegistrarCore
from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.transport import Destination

log = logging.getLogger(__name__)

SendRequest = Callable[[SipRequest, Destination], Awaitable[SipResponse]]
NO_ANSWER = frozenset({408, 503})  # what the stack synthesizes for timeout / transport error
TICK = 1.0


class Qualifier:
    def __init__(
        self,
        core: RegistrarCore,
        send: SendRequest,
        local_host: Callable[[], str],
        *,
        interval: float,
        max_in_flight: int = 200,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        self.core = core
        self._send = send
        self._local_host = local_host
        self.interval = interval
        self.max_in_flight = max_in_flight
        self._active = active
        self._last: dict[tuple[str, str], float] = {}  # (number, uri) -> last probe start
        self._in_flight: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self.probes = 0

    def start(self) -> None:
        if self.interval > 0:
            self._loop_task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            try:
                self.tick()
            except Exception:
                log.exception("qualify tick failed")

    def tick(self) -> None:
        now = self.core.clock_now()
        live: set[tuple[str, str]] = set()
        for binding in self.core.all_bindings():
            key = (binding.number, binding.uri)
            live.add(key)
            last = self._last.get(key)
            if last is None:
                self._last[key] = binding.updated_at  # first probe one interval after REGISTER
                continue
            if now - last < self.interval or key in self._in_flight:
                continue
            if len(self._in_flight) >= self.max_in_flight:
                break
            self._last[key] = now
            self._in_flight.add(key)
            task = asyncio.get_running_loop().create_task(self._probe(binding, key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        for key in list(self._last):
            if key not in live:
                del self._last[key]

    def options_for(self, binding: Binding) -> SipRequest:
        host = self._local_host()
        headers = Headers(
            [
                ("From", f"<sip:qualify@{host}>;tag={secrets.token_hex(6)}"),
                ("To", f"<{binding.uri}>"),
                ("Call-ID", f"{secrets.token_hex(12)}@{host}"),
                ("CSeq", "1 OPTIONS"),
                ("Accept", "application/sdp"),
            ]
        )
        return SipRequest("OPTIONS", binding.uri, headers)

    async def _probe(self, binding: Binding, key: tuple[str, str]) -> None:
        try:
            self.probes += 1
            destination = Destination(binding.transport, binding.host, binding.port)
            response = await self._send(self.options_for(binding), destination)
            if not self._active():
                return  # the stack is shutting down: its 503s say nothing about the phone
            reachable = response.status not in NO_ANSWER
            self.core.set_reachable(binding.number, binding.uri, reachable)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("qualify of %s failed", binding.uri)
        finally:
            self._in_flight.discard(key)
