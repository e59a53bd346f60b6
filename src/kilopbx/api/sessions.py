"""API sessions: tokens, sliding idle expiry, persistence across restarts (conventions §8).

Live sessions are held in memory for the per-request token check; every change that
matters after a restart (creation, new tokens, new event target, end) is written through
to the database at once, while the idle timer is written behind in batches.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.api import errors
from kilopbx.api.errors import ApiError
from kilopbx.clock import Clock
from kilopbx.events.versions import EventFormat, event_format_for
from kilopbx.store.system_models import ApiSession

log = logging.getLogger(__name__)

EXPIRED_MEMORY_SECONDS = 24 * 3600
DEFAULT_EVENT_PORT = 8260


def new_token() -> str:
    return secrets.token_hex(16)


@dataclass(eq=False)
class Session:
    id: int
    token: str
    refresh_token: str
    client_ip: str
    port: int
    url: str
    urltag: str
    version: str
    created_at: float
    last_activity: float
    persisted_activity: float

    @property
    def event_format(self) -> EventFormat:
        return event_format_for(self.version)

    def target_url(self) -> str:
        """Where HTTP events for this session go (conventions §10.2)."""
        url = self.url.strip()
        if self.urltag == "1" and url:
            if url.startswith(("http://", "https://")):
                return url
            return "http://" + url
        host = f"[{self.client_ip}]" if ":" in self.client_ip else self.client_ip
        return f"http://{host}:{self.port}/{url.lstrip('/')}"


SessionListener = Callable[[Session], None]


class SessionManager:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        idle_seconds: float,
        max_sessions: int,
    ) -> None:
        self._db = db
        self._clock = clock
        self.idle_seconds = idle_seconds
        self.max_sessions = max_sessions
        self._by_token: dict[str, Session] = {}
        self._by_refresh: dict[str, Session] = {}
        # token or refresh token -> time the session expired (answers 20006 for 24 h)
        self._expired: dict[str, float] = {}
        self._ended_listeners: list[SessionListener] = []

    # -- lifecycle -------------------------------------------------------------------------

    def on_session_end(self, listener: SessionListener) -> None:
        self._ended_listeners.append(listener)

    async def load(self) -> list[Session]:
        """Restore sessions after a start; survivors get a fresh idle window (§8)."""
        now = self._clock.now()
        restored: list[Session] = []
        async with self._db.begin() as db:
            rows = (await db.execute(select(ApiSession))).scalars().all()
            for row in rows:
                if row.expired_at is None and now - row.last_activity <= self.idle_seconds:
                    row.last_activity = now
                    session = _from_row(row)
                    self._index(session)
                    restored.append(session)
                    continue
                ended = row.expired_at or row.last_activity + self.idle_seconds
                if now - ended > EXPIRED_MEMORY_SECONDS:
                    await db.delete(row)
                    continue
                if row.expired_at is None:
                    row.expired_at = ended
                self._expired[row.token] = ended
                self._expired[row.refresh_token] = ended
        return restored

    async def invalidate_all(self) -> None:
        """Credentials changed: every session ends (conventions §5)."""
        for session in list(self._by_token.values()):
            self._unindex(session)
            self._notify_end(session)
        async with self._db.begin() as db:
            await db.execute(delete(ApiSession))
        self._expired.clear()

    # -- the token check -------------------------------------------------------------------

    async def authenticate(self, token: str) -> Session:
        if not token:
            raise ApiError(errors.TOKEN_MISSING)
        session = self._by_token.get(token)
        if session is None:
            raise ApiError(errors.TOKEN_EXPIRED if token in self._expired else errors.NO_SUCH_TOKEN)
        now = self._clock.now()
        if now - session.last_activity > self.idle_seconds:
            await self._expire(session, session.last_activity + self.idle_seconds)
            raise ApiError(errors.TOKEN_EXPIRED)
        session.last_activity = now
        return session

    def live_sessions(self) -> list[Session]:
        now = self._clock.now()
        return [s for s in self._by_token.values() if now - s.last_activity <= self.idle_seconds]

    def get(self, session_id: int) -> Session | None:
        for session in self._by_token.values():
            if session.id == session_id:
                return session
        return None

    # -- changes ---------------------------------------------------------------------------

    async def create(
        self, client_ip: str, *, port: int, url: str, urltag: str, version: str
    ) -> Session:
        now = self._clock.now()
        row = ApiSession(
            token=new_token(),
            refresh_token=new_token(),
            client_ip=client_ip,
            port=port,
            url=url,
            urltag=urltag,
            version=version,
            created_at=now,
            last_activity=now,
        )
        async with self._db.begin() as db:
            db.add(row)
            await db.flush()
        session = _from_row(row)
        self._index(session)
        while len(self._by_token) > self.max_sessions:
            oldest = min(self._by_token.values(), key=lambda s: s.last_activity)
            log.info("session limit reached: evicting the longest idle session %s", oldest.id)
            await self.end(oldest)
        return session

    async def refresh(self, refresh_token: str) -> Session:
        session = self._by_refresh.get(refresh_token)
        if session is None:
            expired = refresh_token in self._expired
            raise ApiError(errors.TOKEN_EXPIRED if expired else errors.NO_SUCH_TOKEN)
        now = self._clock.now()
        if now - session.last_activity > self.idle_seconds:
            await self._expire(session, session.last_activity + self.idle_seconds)
            raise ApiError(errors.TOKEN_EXPIRED)
        token, refresh = new_token(), new_token()
        async with self._db.begin() as db:
            await db.execute(
                update(ApiSession)
                .where(ApiSession.id == session.id)
                .values(token=token, refresh_token=refresh, last_activity=now)
            )
        # swap the credentials with no await in between: the session never looks ended
        # to the event reporter, and a failed commit leaves the old tokens working
        self._unindex(session)
        session.token, session.refresh_token = token, refresh
        session.last_activity = session.persisted_activity = now
        self._index(session)
        return session

    async def save_target(self, session: Session) -> None:
        async with self._db.begin() as db:
            await db.execute(
                update(ApiSession)
                .where(ApiSession.id == session.id)
                .values(
                    client_ip=session.client_ip,
                    port=session.port,
                    url=session.url,
                    urltag=session.urltag,
                    version=session.version,
                    last_activity=session.last_activity,
                )
            )
        session.persisted_activity = session.last_activity

    async def end(self, session: Session) -> None:
        """Logout or eviction: both tokens answer 20004 from now on."""
        self._unindex(session)
        async with self._db.begin() as db:
            await db.execute(delete(ApiSession).where(ApiSession.id == session.id))
        self._notify_end(session)

    async def sweep(self) -> None:
        """Expire idle sessions and write idle timers behind; run periodically."""
        now = self._clock.now()
        for session in list(self._by_token.values()):
            if now - session.last_activity > self.idle_seconds:
                await self._expire(session, session.last_activity + self.idle_seconds)
        dirty = [s for s in self._by_token.values() if s.last_activity != s.persisted_activity]
        if dirty:
            async with self._db.begin() as db:
                for s in dirty:
                    await db.execute(
                        update(ApiSession)
                        .where(ApiSession.id == s.id)
                        .values(last_activity=s.last_activity)
                    )
                    s.persisted_activity = s.last_activity
        for key, ended in list(self._expired.items()):
            if now - ended > EXPIRED_MEMORY_SECONDS:
                del self._expired[key]

    # -- internals -------------------------------------------------------------------------

    async def _expire(self, session: Session, ended: float) -> None:
        self._unindex(session)
        self._expired[session.token] = ended
        self._expired[session.refresh_token] = ended
        async with self._db.begin() as db:
            await db.execute(
                update(ApiSession).where(ApiSession.id == session.id).values(expired_at=ended)
            )
        self._notify_end(session)

    def _index(self, session: Session) -> None:
        self._by_token[session.token] = session
        self._by_refresh[session.refresh_token] = session

    def _unindex(self, session: Session) -> None:
        self._by_token.pop(session.token, None)
        self._by_refresh.pop(session.refresh_token, None)

    def _notify_end(self, session: Session) -> None:
        for listener in self._ended_listeners:
            try:
                listener(session)
            except Exception:
                log.exception("session-end listener failed")


def _from_row(row: ApiSession) -> Session:
    return Session(
        id=row.id,
        token=row.token,
        refresh_token=row.refresh_token,
        client_ip=row.client_ip,
        port=row.port,
        url=row.url,
        urltag=row.urltag,
        version=row.version,
        created_at=row.created_at,
        last_activity=row.last_activity,
        persisted_activity=row.last_activity,
    )
