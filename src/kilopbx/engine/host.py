"""What the composition root hands every feature: `Feature(host)`.

`kilopbx.pbx.Pbx` is the host in production; a test can hand any object with these
attributes. Features depend on this narrow interface rather than on `Pbx` itself, so no
feature reaches into the process around it (the API, event delivery, listeners), and the
layer contracts hold for type annotations too.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kilopbx.clock import Clock
from kilopbx.config import Settings
from kilopbx.core.registry import Registry
from kilopbx.events.bus import EventBus
from kilopbx.store.settings_repo import SettingsRepo


class Host(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def bus(self) -> EventBus: ...

    @property
    def registry(self) -> Registry:
        """Where features publish and find services (`kilopbx.core.registry`)."""
        ...

    @property
    def db(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def engine(self) -> AsyncEngine: ...

    @property
    def settings_repo(self) -> SettingsRepo: ...
