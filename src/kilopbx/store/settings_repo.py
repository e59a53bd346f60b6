"""Generated-once and run-time settings stored in the database."""

from __future__ import annotations

import secrets
import string

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.store.system_models import SystemSetting

_SERIAL_ALPHABET = string.ascii_uppercase + string.digits
_PASSWORD_ALPHABET = string.ascii_letters + string.digits


class SettingsRepo:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, key: str) -> str | None:
        async with self._sessions() as db:
            row = await db.get(SystemSetting, key)
            return None if row is None else row.value

    async def set(self, key: str, value: str) -> None:
        async with self._sessions.begin() as db:
            row = await db.get(SystemSetting, key)
            if row is None:
                db.add(SystemSetting(key=key, value=value))
            else:
                row.value = value

    async def get_or_create(self, key: str, make: str) -> tuple[str, bool]:
        """Return the stored value, storing `make` first if there was none."""
        async with self._sessions.begin() as db:
            row = await db.get(SystemSetting, key)
            if row is not None:
                return row.value, False
            db.add(SystemSetting(key=key, value=make))
            return make, True

    async def all(self) -> dict[str, str]:
        async with self._sessions() as db:
            rows = (await db.execute(select(SystemSetting))).scalars()
            return {r.key: r.value for r in rows}


def new_serial_number() -> str:
    return "KPX" + "".join(secrets.choice(_SERIAL_ALPHABET) for _ in range(9))


def new_api_password() -> str:
    # letters and digits only: the spec restricts API passwords to that alphabet
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(20))
