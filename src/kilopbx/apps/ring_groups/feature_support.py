"""What every group feature does at start-up besides registering endpoints: join the
number plan, follow extension deletions, and create its default object on first start."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from kilopbx.apps import numberplan
from kilopbx.apps.ring_groups.config_store import config_change
from kilopbx.apps.ring_groups.lookups import all_extension_numbers

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx

log = logging.getLogger(__name__)

ExtensionsDeleted = Callable[[AsyncSession, list[str]], Awaitable[None]]
ExtensionRenumbered = Callable[[AsyncSession, str, str], Awaitable[None]]

EXTENSIONS_FEATURE = "kilopbx.apps.extensions.feature"


def follow_extension_deletions(pbx: Pbx, callback: ExtensionsDeleted) -> bool:
    """Run `callback(db, numbers)` inside every extension deletion's transaction, with
    batches of deleted numbers (clean up with one statement per batch, not per number).
    False (and a warning) when the extensions service offers no such hook."""
    return _register(pbx, "on_extensions_deleted", callback)


def follow_extension_renumbers(pbx: Pbx, callback: ExtensionRenumbered) -> bool:
    """Run `callback(db, old, new)` inside every extension renumbering's transaction."""
    return _register(pbx, "on_extension_renumbered", callback)


def follow_extension_columns(pbx: Pbx, *columns: InstrumentedAttribute[str]) -> None:
    """Rows whose `column` holds an extension number (a member, an agent, an alarm) go
    with a deleted extension and follow a renumbered one."""

    async def deleted(db: AsyncSession, numbers: list[str]) -> None:
        for column in columns:
            await db.execute(delete(column.class_).where(column.in_(numbers)))

    async def renumbered(db: AsyncSession, old: str, new: str) -> None:
        for column in columns:
            await db.execute(update(column.class_).where(column == old).values({column.key: new}))

    follow_extension_deletions(pbx, deleted)
    follow_extension_renumbers(pbx, renumbered)


def _register(pbx: Pbx, hook: str, callback: object) -> bool:
    feature = pbx.features.get(EXTENSIONS_FEATURE)
    register = getattr(getattr(feature, "service", None), hook, None)
    if callable(register):
        register(callback)
        return True
    log.warning("extensions service has no %s hook; references may go stale", hook)
    return False


async def create_once(pbx: Pbx, what: str, create: Callable[[], Awaitable[None]]) -> None:
    """Run `create` on the first start only; an administrator's later deletion sticks."""
    flag = f"defaults_created.{what}"
    if await pbx.settings_repo.get(flag) is not None:
        return
    try:
        await create()
    except Exception:
        log.exception("could not create the default %s", what)
        return
    await pbx.settings_repo.set(flag, "yes")


async def default_members(pbx: Pbx, number: str, count: int) -> list[str] | None:
    """For a default object at `number`: None when the number is taken, else the first
    `count` extensions (in the order they were made) to put in it."""
    async with config_change(pbx.db) as db:
        if await numberplan.number_holder(db, number) is not None:
            return None
        return (await all_extension_numbers(db))[:count]
