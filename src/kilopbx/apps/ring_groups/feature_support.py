"""What the group features do at start-up besides registering endpoints and following
extensions: create their default object on the first start only."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from kilopbx.apps.numberplan import NUMBERS
from kilopbx.apps.ring_groups.config_store import config_change
from kilopbx.apps.ring_groups.lookups import all_extension_numbers

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

log = logging.getLogger(__name__)


async def create_once(pbx: Host, what: str, create: Callable[[], Awaitable[None]]) -> None:
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


async def default_members(pbx: Host, number: str, count: int) -> list[str] | None:
    """For a default object at `number`: None when the number is taken, else the first
    `count` extensions (in the order they were made) to put in it."""
    async with config_change(pbx.db) as db:
        if await pbx.registry.get(NUMBERS).holder(db, number) is not None:
            return None
        return (await all_extension_numbers(db))[:count]
