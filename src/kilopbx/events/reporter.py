"""Event reporter: fans bus events out to API sessions and delivers them in order.

HTTP method: one durable queue and one delivery worker per session; sessions that resolve
to the same target URL get the event once, in the newest session's format (§10.2).
Failed deliveries are retried with backoff for as long as the session lives, so nothing is
lost while a receiver is down. TCP method: events go to the connected TCP clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from kilopbx.events.http_post import DeliveryError, post_event
from kilopbx.events.outbox import Outbox
from kilopbx.events.render import EventRenderer
from kilopbx.events.types import Event
from kilopbx.events.versions import EventFormat

if TYPE_CHECKING:
    from kilopbx.events.tcp_server import TcpEventServer

log = logging.getLogger(__name__)

RETRY_START = 1.0


class Session(Protocol):
    """An API session as event delivery sees it (the API's sessions implement it)."""

    @property
    def id(self) -> int: ...
    @property
    def created_at(self) -> float: ...
    @property
    def event_format(self) -> EventFormat: ...
    def target_url(self) -> str: ...


class SessionManager(Protocol):
    def live_sessions(self) -> Sequence[Session]: ...
    def get(self, session_id: int) -> Session | None: ...
    def on_session_end(self, listener: Callable[[Session], None]) -> None: ...


class EventReporter:
    def __init__(
        self,
        outbox: Outbox,
        sessions: SessionManager,
        serial: str,
        *,
        method: str = "HTTP",
        retry_max: float = 30.0,
        tcp_server: TcpEventServer | None = None,
    ) -> None:
        self._outbox = outbox
        self._sessions = sessions
        self._serial = serial
        self._method = method
        self._retry_max = retry_max
        self._tcp = tcp_server
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._wake: dict[int, asyncio.Event] = {}  # new events for an idle worker
        # a failed delivery's backoff ends early only when the session's target moves:
        # new events do not cut it short (they came at every outbox batch, and a dead
        # receiver was then dialled a hundred times a second at 100 calls/s)
        self._retarget: dict[int, asyncio.Event] = {}
        self.renderer = EventRenderer(serial)
        # status-monitor filters (conventions §5): the Pbx answers the extension one from
        # the directory; trunks have no monitor setting yet, so every trunk passes
        self.extension_monitored: Callable[[str], bool] = lambda _number: True
        self.trunk_monitored: Callable[[str], bool] = lambda _name: True
        outbox.on_ready(self._ensure_worker)
        sessions.on_session_end(self._session_ended)

    # -- bus side --------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        if not event.is_monitored(self.extension_monitored, self.trunk_monitored):
            return
        rendered = self.renderer.prepare(event)
        if self._method == "TCP":
            if self._tcp is not None:
                self._tcp.broadcast(rendered)
            return
        for session in self._recipients():
            for text in rendered.texts(session.event_format):
                self._outbox.enqueue(session.id, text)

    def _recipients(self) -> list[Session]:
        newest: dict[str, Session] = {}
        for session in self._sessions.live_sessions():
            url = session.target_url()
            current = newest.get(url)
            if current is None or session.created_at >= current.created_at:
                newest[url] = session
        return list(newest.values())

    # -- session side ----------------------------------------------------------------------

    def start(self) -> None:
        for session_id in list(self._outbox.queues):
            self._ensure_worker(session_id)

    async def stop(self) -> None:
        for task in list(self._workers.values()):
            task.cancel()
        for task in list(self._workers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()

    def session_target_changed(self, session: Session) -> None:
        """heartbeat moved the target: retry at once instead of waiting out the backoff."""
        for events in (self._wake, self._retarget):
            if (event := events.get(session.id)) is not None:
                event.set()

    def _session_ended(self, session: Session) -> None:
        task = self._workers.pop(session.id, None)
        if task is not None:
            task.cancel()
        self._wake.pop(session.id, None)
        self._retarget.pop(session.id, None)
        asyncio.get_running_loop().create_task(self._outbox.discard_session(session.id))

    def _ensure_worker(self, session_id: int) -> None:
        wake = self._wake.setdefault(session_id, asyncio.Event())
        wake.set()
        task = self._workers.get(session_id)
        if task is None or task.done():
            loop = asyncio.get_running_loop()
            self._workers[session_id] = loop.create_task(self._deliver(session_id, wake))

    async def _deliver(self, session_id: int, wake: asyncio.Event) -> None:
        delay = RETRY_START
        while True:
            queue = self._outbox.queues.get(session_id)
            session = self._sessions.get(session_id)
            if session is None:
                # ended while a batch for it was being stored: drop what that batch added
                self._workers.pop(session_id, None)
                self._wake.pop(session_id, None)
                self._retarget.pop(session_id, None)
                await self._outbox.discard_session(session_id)
                return
            if not queue:
                wake.clear()
                await wake.wait()
                continue
            row_id, body = queue[0]
            url = session.target_url()
            try:
                status = await post_event(url, body.encode("utf-8"))
                ok = 200 <= status < 300
                if not ok:
                    log.info("event receiver %s answered %d; will retry", url, status)
            except DeliveryError as exc:
                log.info("event delivery to %s failed (%s); retry in %.0f s", url, exc, delay)
                ok = False
            except Exception:
                # a worker must never die: its session would silently get nothing more
                log.exception("event delivery to %s failed unexpectedly; will retry", url)
                ok = False
            if ok:
                if queue and queue[0][0] == row_id:
                    queue.popleft()
                self._outbox.mark_delivered(row_id)
                delay = RETRY_START
                continue
            retarget = self._retarget.setdefault(session_id, asyncio.Event())
            retarget.clear()
            await _wait_at_most(retarget, delay)
            delay = min(delay * 2, self._retry_max)


async def _wait_at_most(event: asyncio.Event, seconds: float) -> None:
    """``event.wait()`` for at most ``seconds``. Not ``asyncio.wait_for``: on Python 3.11,
    a cancel that arrives while the event is being set can leave wait_for waiting
    forever, and ``stop()`` with it (seen at shutdown while an outbox batch woke the
    worker)."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait((waiter,), timeout=seconds)
    finally:
        waiter.cancel()
