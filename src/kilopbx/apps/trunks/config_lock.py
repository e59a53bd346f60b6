"""One lock for changes to trunks, routes and time conditions.

These objects refer to each other (routes name trunks, inbound routes use time
conditions), so a change validates against the others and then commits. Holding this
lock from the read to the commit makes each change atomic within the PBX process: two
concurrent updates of one object are applied one after the other, none is lost. Writes
also lock the rows they change (SELECT ... FOR UPDATE) where the database supports it.
"""

from __future__ import annotations

import asyncio
import weakref

_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def routing_config_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _locks.get(loop)
    if lock is None:
        lock = _locks[loop] = asyncio.Lock()
    return lock
