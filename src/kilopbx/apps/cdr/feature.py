"""CDR feature: closes the calls a crash cut off, keeps open calls stamped, serves the
CDR download endpoints. The call engine hands its records to `service`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from kilopbx.apps.cdr import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.cdr.downloads import DownloadGrants
from kilopbx.apps.cdr.service import SEEN_INTERVAL, CdrService

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx

log = logging.getLogger(__name__)


class Feature:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.service = CdrService(pbx.db, pbx.bus, pbx.clock)
        self.grants = DownloadGrants(pbx.clock)
        self._stamper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.service.close_open_calls_on_start()
        self._stamper = asyncio.get_running_loop().create_task(self._stamp_open_calls())

    async def stop(self) -> None:
        if self._stamper is not None:
            self._stamper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stamper
        with contextlib.suppress(Exception):
            await self.service.keep_alive()

    async def _stamp_open_calls(self) -> None:
        while True:
            await asyncio.sleep(SEEN_INTERVAL)
            try:
                await self.service.keep_alive()
            except Exception:
                log.exception("could not stamp the open calls")
