"""Failed-login lockout per source IP (conventions §7), kept in the database so that
`kilopbx unlock-ip` from another process lifts a block at once."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.api import errors
from kilopbx.api.errors import ApiError
from kilopbx.clock import Clock
from kilopbx.store.database import write_transaction
from kilopbx.store.system_models import BlockedIp


class LoginLockout:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        max_failures: int,
        block_seconds: float,
    ) -> None:
        self._db = db
        self._clock = clock
        self.max_failures = max_failures
        self.block_seconds = block_seconds

    async def check(self, ip: str) -> None:
        """Raise 20002 while `ip` is blocked; a block that ran out is forgotten."""
        async with self._db.begin() as db:
            row = await db.get(BlockedIp, ip)
            if row is None or row.blocked_until is None:
                return
            if row.blocked_until > self._clock.now():
                raise ApiError(errors.IP_LOCKED)
            await db.delete(row)

    async def failed(self, ip: str) -> None:
        # one atomic upsert under the write lock: concurrent failures all count
        async with write_transaction(self._db) as db:
            await db.execute(_count_failure(db.get_bind().dialect.name, ip))
            row = await db.get(BlockedIp, ip, populate_existing=True)
            if row is not None and row.failures >= self.max_failures:
                row.blocked_until = self._clock.now() + self.block_seconds

    async def succeeded(self, ip: str) -> None:
        async with self._db.begin() as db:
            await db.execute(delete(BlockedIp).where(BlockedIp.ip == ip))

    async def blocked(self) -> list[BlockedIp]:
        now = self._clock.now()
        async with self._db() as db:
            rows = (await db.execute(select(BlockedIp))).scalars().all()
        return [r for r in rows if r.blocked_until is not None and r.blocked_until > now]


def _count_failure(dialect: str, ip: str) -> Any:
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(BlockedIp).values(ip=ip, kind="API-IP", failures=1, blocked_until=None)
    return statement.on_conflict_do_update(
        index_elements=[BlockedIp.ip], set_={"failures": BlockedIp.failures + 1}
    )


async def unlock(db: async_sessionmaker[AsyncSession], ip: str) -> bool:
    """Lift the block on `ip` (administrator action). True if there was one."""
    async with db.begin() as session:
        result = await session.execute(delete(BlockedIp).where(BlockedIp.ip == ip))
        return bool(cast("CursorResult[Any]", result).rowcount)
